"""NGX: nginx's configuration as deployed on the web hosts (testinfra), checked and parsed (crossplane)."""

from __future__ import annotations

import re
import shlex
from typing import Any
from urllib.parse import urlsplit

import pytest

from fixtures.check import (
    ConfigError,
    Directive,
    EnvironmentModel,
    Host,
    Need,
    Nginx,
    blocked_by,
    check,
    effective,
    fail,
    fail_on,
    host_name,
    http_block,
    location_label,
    match_location,
    on_hosts,
    parse_dump,
    run,
    server_label,
    servers,
    site_url,
)

# Directives that hand a request to something other than the file system.
HANDLERS = ("proxy_pass", "fastcgi_pass", "uwsgi_pass", "grpc_pass", "scgi_pass", "return")
# A timestamped nginx log line: keep only "[level] message".
LOG_PREFIX = re.compile(r"^\d{4}/\d\d/\d\d \d\d:\d\d:\d\d (\[\w+\]) \d+#\d+: ")


def _nginx(env: EnvironmentModel) -> Nginx:
    return env.nginx or Nginx()


def _errors(output: str) -> str:
    lines = [LOG_PREFIX.sub(r"\1 ", line.strip()) for line in output.splitlines() if line.strip()]
    important = [line for line in lines if line.startswith(("[emerg]", "[crit]", "[alert]"))] or lines[-2:]
    return "; ".join(important[:3]) or "(no output)"


@pytest.fixture(scope="session")
def nginx_dumps() -> dict[tuple[str, str], tuple[int, str, str]]:
    """`nginx -T` output per (host, command): NGX-02..04 read the config once per host."""
    return {}


def _config(host: Host, env: EnvironmentModel, dumps: dict[tuple[str, str], tuple[int, str, str]]) -> Directive:
    """The configuration nginx would load from nginx.conf (`nginx -T`), parsed; fails when unreadable."""
    nginx = _nginx(env)
    command = [*shlex.split(nginx.binary), "-T", "-c", nginx.conf]
    key = (host_name(host), shlex.join(command))
    if key not in dumps:
        result = run(host, command)
        dumps[key] = (result.rc, result.stdout, result.stderr)
    rc, stdout, stderr = dumps[key]
    where = f"host {key[0]}: `{key[1]}`"
    if rc != 0:
        blocked_by("NGX-01", f"{where} failed (exit {rc}): {_errors(stderr or stdout)}; the config cannot be read")
    try:
        return parse_dump(stdout, nginx.conf)
    except ConfigError as exc:
        fail(f"{where}: the dumped config could not be parsed: {exc}")
    raise AssertionError("unreachable")


def _serving(root: Directive) -> list[Directive]:
    """Server blocks that serve requests (not bare redirects): those with a location."""
    return [server for server in servers(root) if server.children("location")]


def _handled(chain: list[Directive]) -> bool:
    return any(d.name in HANDLERS for level in chain for d in level.block or ())


@on_hosts("web")
@check(
    "NGX-01",
    severity="high",
    guide=["H: Load Balancer Issues", "H: DDoS Attacks"],
    references=["nginx -t"],
)
def test_config_is_valid(host: Host, env: EnvironmentModel) -> None:
    """The nginx configuration on disk is valid.

    Rationale: nginx keeps serving the configuration it loaded at its last start or reload, so a
    config file edited and never tested breaks nothing until the next `nginx -s reload`, restart,
    reboot or package upgrade, and then takes the site down, usually in the middle of an unrelated
    deploy. The H guide's first step for a load balancer problem is `nginx -t`; it must pass on
    every web host, for the config file the environment names.

    Fix: run `nginx -t` after every edit and before every reload (`nginx -t && nginx -s reload`),
    fix the error it names, and make config deploys fail when it fails.
    """
    nginx = _nginx(env)
    command = [*shlex.split(nginx.binary), "-t", "-c", nginx.conf]
    result = run(host, command)
    if result.rc != 0:
        fail(
            f"host {host_name(host)}: `{shlex.join(command)}` failed (exit {result.rc}): "
            f"{_errors(result.stderr or result.stdout)}; the running nginx still serves the config it loaded "
            "before, and the next reload or restart will fail"
        )


@on_hosts("web")
@check(
    "NGX-02",
    severity="high",
    guide=["H: SPA Routing with nginx", "H: Routing Issues"],
    shapes=["spa"],
    inputs={"shell": "/index.html"},
    references=["crossplane"],
)
def test_spa_fallback_is_configured(
    host: Host, env: EnvironmentModel, need: Need, inputs: dict[str, Any], nginx_dumps: Any
) -> None:
    """The SPA fallback is in the config, and asset locations have none.

    Rationale: a single-page app's deep links only exist in the browser; nginx must answer them
    with the shell (`try_files $uri $uri/ /index.html` in `location /`, the H guide's fix for
    "404 errors on refresh"). The same fallback in an asset location answers a missing script
    with HTML, and the browser fails on "Unexpected token <" instead of a clear 404. In every
    server that serves files, `location /` must end its try_files with the shell, and the
    location that serves each of web.asset_prefixes must not fall back to an HTML file.

    Fix: `location / { try_files $uri $uri/ /index.html; }`, and a separate
    `location /static/ { try_files $uri =404; expires 30d; }` for the hashed assets.
    """
    need("web.url")
    shell: str = inputs["shell"]
    root = _config(host, env, nginx_dumps)
    problems = []
    spa_servers = []
    for server in _serving(root):
        chain = match_location(server, "/")
        if not chain or chain[-1].args not in (("/",), ("^~", "/")) or _handled(chain):
            continue
        spa_servers.append(server)
        try_files = effective([server, *chain], "try_files")
        last = try_files[0].args[-1] if try_files and try_files[0].args else ""
        if last != shell:
            shown = try_files[0].label() if try_files else "no try_files"
            problems.append(
                f"{server_label(server)}: `location /` ({chain[-1].where}) has {shown}; expected a try_files "
                f"ending in {shell}: deep links answer 404"
            )
        swallowed: dict[str, list[str]] = {}
        for prefix in env.web.asset_prefixes if env.web else []:
            uri = prefix.rstrip("/") + "/preflight-missing" + (".css" if "css" in prefix else ".js")
            assets = match_location(server, uri)
            fallback = effective([server, *assets], "try_files")
            if assets and not _handled(assets) and fallback and fallback[0].args[-1].endswith(".html"):
                where = f"{location_label(assets)} with {fallback[0].label()}"
                swallowed.setdefault(where, []).append(uri)
        for where, uris in swallowed.items():
            problems.append(
                f"{server_label(server)}: {', '.join(uris)} {'is' if len(uris) == 1 else 'are'} served by {where}: "
                "a missing asset is answered with HTML, not 404"
            )
    if not spa_servers:
        problems.append("no server block has a `location /` that serves files: the SPA fallback is missing")
    fail_on(problems)


def _uris(env: EnvironmentModel) -> tuple[list[str], list[str]]:
    """(API URIs, login URIs) as nginx sees them: the API's configured routes under api.url's path, and
    the session's login and token paths on the site."""
    base = urlsplit(env.api.url).path.rstrip("/") if env.api else None
    api_paths: list[str | None] = [env.api.health if env.api else None]
    auth = env.api.auth if env.api else None
    if auth is not None:
        api_paths += auth.protected
    login = env.session.login if env.session else None
    token = env.session.token if env.session else None
    login_urls = [login.path if login else None, token.request.path if token and token.request else None]
    api = [] if base is None else [base + "/" + p.lstrip("/") for p in api_paths if p]
    logins = [urlsplit(site_url(env, p)).path for p in login_urls if p]
    return list(dict.fromkeys(api)), list(dict.fromkeys(logins))


@on_hosts("web")
@check(
    "NGX-03",
    severity="medium",
    guide=["H: DDoS Attacks", "H: API Rate Limiting"],
    references=["nginx limit_req_zone, limit_req", "crossplane"],
    standards=["ASVS:V11.1.4", "ASVS:V2.2.1"],
)
def test_rate_limit_zones_are_applied(host: Host, env: EnvironmentModel, need: Need, nginx_dumps: Any) -> None:
    """Rate-limit zones are defined and applied to the API and login locations.

    Rationale: `limit_req_zone` only reserves memory; nothing is limited until a `limit_req`
    names the zone in the location that serves the request (or above it). A zone defined and never
    applied, or applied to `location /api/` but not to the exact login location that wins for
    /api/auth/login, looks configured and limits nothing (H: DDoS Attacks). Each configured API
    path (api.health, api.auth.protected) and login path (session.login, session.token.request) must be
    served by a location under a `limit_req` whose zone is defined.

    Fix: `limit_req_zone $binary_remote_addr zone=api:10m rate=10r/s;` and `zone=login ...
    rate=1r/s` at http level; `limit_req zone=api burst=20 nodelay;` in the API location and
    `limit_req zone=login burst=5 nodelay;` in every login location; `limit_req_status 429;`.
    """
    api_uris, login_uris = _uris(env)
    if not api_uris and not login_uris:
        need("api.health")
    root = _config(host, env, nginx_dumps)
    http = http_block(root)
    zones = {
        arg.split("=", 1)[1].split(":")[0]
        for d in (http.children("limit_req_zone") if http else [])
        for arg in d.args
        if arg.startswith("zone=")
    }
    problems = []
    if not zones:
        problems.append("no limit_req_zone is defined in the http block: nothing can be rate limited")
    for kind, uris in (("the API", api_uris), ("login", login_uris)):
        for uri in uris:
            routed = False
            for server in _serving(root):
                chain = match_location(server, uri)
                if not chain:
                    continue
                routed = True
                limits = effective([http, server, *chain] if http else [server, *chain], "limit_req")
                applied = [arg.split("=", 1)[1] for d in limits for arg in d.args if arg.startswith("zone=")]
                if not limits:
                    problems.append(
                        f"{server_label(server)}: {uri} is served by {location_label(chain)} with no limit_req: "
                        f"{kind} is not rate limited"
                    )
                elif not set(applied) & zones:
                    problems.append(
                        f"{server_label(server)}: {uri} is served by {location_label(chain)} whose limit_req names "
                        f"zone {', '.join(applied) or '(none)'}, which no limit_req_zone defines"
                    )
            if not routed:
                problems.append(f"no server block has a location for {uri}: cannot tell whether it is rate limited")
    fail_on(list(dict.fromkeys(problems)))


def _walk_headers(block: Directive, inherited: dict[str, Directive], security: set[str], problems: list[str]) -> None:
    for child in block.block or ():
        if child.name not in ("server", "location", "if", "limit_except"):
            continue
        own = [d for d in child.children("add_header") if d.args]
        headers = inherited
        if own:
            names = {d.args[0].lower() for d in own}
            dropped = [d for name, d in inherited.items() if name in security and name not in names]
            if dropped:
                problems.append(
                    f"{child.label()} sets add_header {', '.join(d.args[0] for d in own)} and so drops "
                    f"{', '.join(d.args[0] for d in dropped)} (set at {dropped[0].where}): add_header in a child "
                    "block replaces all of its parent's"
                )
            headers = {d.args[0].lower(): d for d in own}
        _walk_headers(child, headers, security, problems)


def _locations(block: Directive) -> list[Directive]:
    found = []
    for child in block.block or ():
        if child.name == "location":
            found.append(child)
        if child.block:
            found.extend(_locations(child))
    return found


@on_hosts("web")
@check(
    "NGX-04",
    severity="medium",
    guide=["H: Load Balancer Issues", "H: Slow Performance"],
    inputs={
        "security_headers": [
            "Strict-Transport-Security",
            "Content-Security-Policy",
            "X-Content-Type-Options",
            "X-Frame-Options",
            "Referrer-Policy",
            "Permissions-Policy",
        ]
    },
    references=["h5bp server-configs-nginx", "nginx add_header inheritance", "crossplane"],
    standards=["ASVS:V14.3.3", "CIS-NGINX:2.5.1"],
)
def test_config_is_hardened(host: Host, env: EnvironmentModel, inputs: dict[str, Any], nginx_dumps: Any) -> None:
    """nginx is hardened: no version banner, gzip on, no dropped security headers, no alias traversal.

    Rationale: four configuration mistakes that no request to the home page shows. `server_tokens`
    is on by default and names the nginx version in every Server header and error page. gzip is
    off by default and every script and stylesheet goes out at full size (H: Slow Performance).
    An `add_header` in a location silently discards every add_header of the server above it, so
    one `add_header Cache-Control` strips HSTS, CSP and nosniff from that location's answers. A
    location without a trailing slash whose alias has one (`location /files { alias
    /srv/files/; }`) serves /files../ from the alias's parent folder (alias traversal).

    Fix: `server_tokens off;` and `gzip on;` (with gzip_types for text, CSS, JS, JSON, SVG) at
    http level; repeat the security headers in every block that has its own add_header (an
    include file makes it one line); give the location and its alias the same trailing slash
    (`location /files/ { alias /srv/files/; }`).
    """
    root = _config(host, env, nginx_dumps)
    http = http_block(root)
    problems: list[str] = []
    for server in _serving(root):
        levels = [http, server] if http else [server]
        for name, wanted, why in (
            ("server_tokens", "off", "the Server header and error pages name the nginx version"),
            ("gzip", "on", "text responses go out uncompressed"),
        ):
            found = effective(levels, name)
            value = found[-1].args[0] if found and found[-1].args else ("on" if name == "server_tokens" else "off")
            if value != wanted:
                at = found[-1].where if found else "nginx's default"
                problems.append(f"{server_label(server)}: {name} is {value} ({at}); expected {wanted}: {why}")
    security = {h.lower() for h in inputs["security_headers"]}
    if http is not None:
        top = {d.args[0].lower(): d for d in http.children("add_header") if d.args}
        _walk_headers(http, top, security, problems)
    for location in _locations(root):
        args = location.args
        path = args[-1] if args and args[0] in ("^~",) else (args[0] if args else "")
        alias = location.first("alias")
        if args and args[0] in ("=", "~", "~*") or not path or alias is None or not alias.args:
            continue
        if not path.endswith("/") and alias.args[0].endswith("/"):
            problems.append(
                f"{location.label()} has {alias.label()}: {path}../ reaches the parent of {alias.args[0]} "
                "(alias traversal); end the location with / as well"
            )
    fail_on(problems)
