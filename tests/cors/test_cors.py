"""CORS (H: CORS Issues): preflights and real requests against the API, from allowed and hostile origins.

CORS applies when the API is called cross-origin: api.cors declares origins other than the site's own
(web.url's scheme, host and port). A same-origin API is not applicable for the rules about allowed
origins (CORS-01, CORS-02, CORS-05, CORS-06); the refusals (CORS-03, CORS-04) are probed wherever
api.cors is declared.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from fixtures.check import (
    Ask,
    EnvironmentModel,
    Exchange,
    Need,
    Probe,
    acao_grants,
    check,
    cross_origins,
    development_origins,
    fail_on,
    is_development_origin,
    not_applicable,
    origin_of,
    site_origin,
)

ACAO = "Access-Control-Allow-Origin"
ACAC = "Access-Control-Allow-Credentials"
ACAM = "Access-Control-Allow-Methods"
ACAH = "Access-Control-Allow-Headers"
# CORS-safelisted methods: they never need a preflight on their own.
SIMPLE_METHODS = ("GET", "HEAD", "POST")
# The origin that stands for "any other site" when a check needs one.
EVIL = "https://evil.example"
SAME_ORIGIN = "the API is called same-origin, where CORS does not apply"


@dataclass(frozen=True)
class Target:
    url: str
    allowed: tuple[str, ...]  # api.cors.allowed_origins, as declared
    cross: tuple[str, ...]  # of those, the origins other than the site's own
    site: str | None  # the site's own origin (web.url's; api.url's without a web section)
    method: str  # Access-Control-Request-Method of the preflight
    headers: tuple[str, ...]  # Access-Control-Request-Headers of the preflight
    credentials: bool


def _target(need: Need, env: EnvironmentModel) -> Target:
    """The API as CORS sees it; not applicable when api.cors is not declared (a same-origin API)."""
    need("api.url")
    target = _target_of(env)
    if target is None:
        not_applicable(f"api.cors is not declared: {SAME_ORIGIN}", key="api.cors")
    return target


def _target_of(env: EnvironmentModel) -> Target | None:
    cors = env.lookup("api.cors")
    if cors is None or env.api is None:
        return None
    api_url = env.api.url.rstrip("/")
    path = cors.path if not cors.path or cors.path.startswith("/") else "/" + cors.path
    methods = [m.upper() for m in cors.methods]
    method = "POST" if "POST" in methods else next((m for m in methods if m not in SIMPLE_METHODS), "POST")
    site = site_origin(env)
    return Target(
        url=api_url + path,
        allowed=tuple(cors.allowed_origins),
        cross=tuple(cross_origins(cors.allowed_origins, site)),
        site=origin_of(site) if site else None,
        method=method,
        headers=tuple(h.strip().lower() for h in cors.headers),
        credentials=cors.credentials,
    )


def _cross_origin(need: Need, env: EnvironmentModel) -> tuple[Target, str]:
    """The target and its first cross-origin caller; not applicable when the API is called same-origin."""
    target = _target(need, env)
    if not target.cross:
        declared = f"lists only the site's own origin ({target.site})" if target.allowed else "lists no origin"
        not_applicable(f"api.cors.allowed_origins {declared}: {SAME_ORIGIN}", key="api.cors.allowed_origins")
    return target, target.cross[0]


def _preflight_headers(target: Target, origin: str) -> dict[str, str]:
    headers = {"Origin": origin, "Access-Control-Request-Method": target.method}
    if target.headers:
        headers["Access-Control-Request-Headers"] = ",".join(target.headers)
    return headers


def _preflight(probe: Probe, target: Target, origin: str) -> Exchange:
    return probe.fetch("OPTIONS", target.url, _preflight_headers(target, origin))


def _actual(probe: Probe, target: Target, origin: str) -> Exchange:
    return probe.get(target.url, headers={"Origin": origin})


def prefetch(env: EnvironmentModel, inputs: Any) -> list[Ask]:
    """The preflights and GETs the selected CORS checks make: from the first cross-origin caller, from
    hostile origins, and CORS-04's first stage."""
    target = _target_of(env)
    if target is None:
        return []
    origins: list[str] = []
    if target.cross and any(inputs(f"CORS-0{n}") is not None for n in (1, 2, 5, 6)):
        origins += [target.cross[0], EVIL]
    if inputs("CORS-02") is not None or inputs("CORS-03") is not None:
        origins += [origin for origin, _ in _hostile_origins(target)]
    asks = [Ask("OPTIONS", target.url, tuple(_preflight_headers(target, o).items())) for o in dict.fromkeys(origins)]
    asks += [Ask("GET", target.url, (("Origin", o),)) for o in dict.fromkeys(origins)]
    sweep = inputs("CORS-04")
    if env.production and sweep is not None and not sweep["full_sweep"]:
        hosts, ports = list(sweep["dev_hosts"]), [int(port) for port in sweep["dev_ports"]]
        first = development_origins(("http",), hosts, ports) + list(sweep["dev_origins"])
        asks += [Ask("OPTIONS", target.url, tuple(_preflight_headers(target, o).items())) for o in first]
    return asks


def _value(exchange: Exchange, name: str) -> str:
    return (exchange.header(name) or "").strip()


def _tokens(value: str | None) -> set[str]:
    return {t.strip().lower() for t in (value or "").split(",") if t.strip()}


def _credentialed(exchange: Exchange) -> bool:
    return _value(exchange, ACAC).lower() == "true"


def _shown(value: str) -> str:
    return value if value else "(none)"


def _hostile_origins(target: Target) -> list[tuple[str, str]]:
    """(origin, why it is hostile): nuclei cors-misconfig's reflection, prefix, suffix, scheme and null cases,
    derived from the allowed origins (from the site's own when none is declared)."""
    found: list[tuple[str, str]] = [(EVIL, "")]
    bases = target.allowed or ((target.site,) if target.site else ())
    for origin in bases:
        parts = urlsplit(origin)
        host = parts.hostname or ""
        found.append((f"https://{host}.evil.example", " (an allowed host as a subdomain of another site)"))
        found.append((f"https://evil{host}", " (another site whose name ends in an allowed host)"))
        if parts.scheme == "https":
            found.append((f"http://{parts.netloc}", " (the plain-http twin of an allowed origin)"))
    found.append(("null", " (sandboxed iframes and file: pages send it)"))
    friendly = {origin_of(o) for o in target.allowed} | {target.site}
    unique: dict[str, str] = {}
    for origin, why in found:
        if origin == "null" or origin_of(origin) not in friendly:
            unique.setdefault(origin, why)
    return list(unique.items())


def _which(exchanges: Iterable[Exchange]) -> str:
    return " and ".join(f"{e.method} ({e.status})" for e in exchanges)


# --- checks ---------------------------------------------------------------------------------------


@check(
    "CORS-01",
    severity="high",
    guide=["H: CORS Issues", "H: CORS Configuration"],
)
def test_allowed_origin_passes_preflight(need: Need, probe: Probe, env: EnvironmentModel) -> None:
    """An allowed origin passes the preflight.

    Rationale: before a cross-origin POST with Authorization, Content-Type: application/json or
    X-CSRFToken, the browser sends an OPTIONS preflight. If the answer is not 2xx, does not name
    the page's origin exactly in Access-Control-Allow-Origin (or `*`, which serves a call without
    credentials), or leaves out the method or one of the headers, the browser blocks the call
    ("Preflight request failures", "CORS policy errors in browser") and the SPA cannot write
    anything. The origin probed is the first of api.cors.allowed_origins other than the site's
    own; an API called only from its own origin is not applicable.

    Fix: list the SPA's origins, methods and headers in the API's CORS settings: Flask-CORS
    `CORS(app, resources={r"/api/*": {"origins": [...]}}, methods=[...], allow_headers=["authorization",
    "content-type", "x-csrftoken"])`, django-cors-headers `CORS_ALLOWED_ORIGINS` and
    `CORS_ALLOW_HEADERS = (*default_headers, "x-csrftoken")`. Do not answer OPTIONS in nginx with
    a fixed wildcard.
    """
    target, origin = _cross_origin(need, env)
    answer = _preflight(probe, target, origin)
    where = f"OPTIONS {target.url} with Origin: {origin}"
    problems = []
    if not 200 <= answer.status < 300:
        problems.append(f"{where} answered {answer.status}; expected 2xx for an allowed origin's preflight")
    acao = _value(answer, ACAO)
    if not acao_grants(acao, origin, target.credentials):
        expected = f"exactly {origin}" + ("" if target.credentials else " (or *)")
        note = " (with credentials, browsers refuse *)" if acao == "*" else ""
        problems.append(f"{ACAO} is {_shown(acao)}; expected {expected}{note} ({where})")
    methods = {m.upper() for m in _tokens(answer.header(ACAM))}
    wildcard = "*" in methods and not target.credentials
    if target.method not in methods and not wildcard:
        note = " ('*' does not count with credentials)" if "*" in methods else ""
        problems.append(f"{ACAM} ({_shown(_value(answer, ACAM))}) does not cover {target.method}{note}")
    allowed_headers = _tokens(answer.header(ACAH))
    missing = [
        h
        for h in target.headers
        # '*' never covers Authorization, and covers nothing on a credentialed request (Fetch standard).
        if h not in allowed_headers and not ("*" in allowed_headers and not target.credentials and h != "authorization")
    ]
    if missing:
        problems.append(f"{ACAH} ({_shown(_value(answer, ACAH))}) lacks {', '.join(missing)}")
    fail_on(problems)


@check(
    "CORS-02",
    severity="critical",
    guide=["H: CORS Issues", "H: CORS Configuration"],
    references=["Mozilla HTTP Observatory"],
    standards=["ASVS:V14.5.3", "Mozilla:Cross-origin Resource Sharing"],
)
def test_credentials_never_with_wildcard(need: Need, probe: Probe, env: EnvironmentModel) -> None:
    """Credentials are never combined with a wildcard origin.

    Rationale: a SPA that authenticates with cookies needs `Access-Control-Allow-Credentials:
    true` on the preflight, or the browser drops its credentialed calls ("Cross-origin request
    blocked"). The quick fix people copy, `Access-Control-Allow-Origin: *` plus
    `Access-Control-Allow-Credentials: true`, is rejected by browsers and usually replaces a
    working allow-list; the next "fix" is to reflect any origin, which hands every logged-in
    user's data to any site. Not applicable to an API called only from the site's own origin.

    Fix: send the exact origin from an allow-list with credentials: Flask-CORS
    `CORS(app, origins=[...], supports_credentials=True)`, django-cors-headers
    `CORS_ALLOWED_ORIGINS = [...]` with `CORS_ALLOW_CREDENTIALS = True`. Remove nginx
    `add_header Access-Control-Allow-Origin *` snippets from API locations.
    """
    target, origin = _cross_origin(need, env)
    preflight = _preflight(probe, target, origin)
    problems = []
    if target.credentials and _value(preflight, ACAC) != "true":
        problems.append(
            f"the preflight for {origin} carries {ACAC}: {_shown(_value(preflight, ACAC))}; expected true "
            "(api.cors.credentials is set: without it browsers drop the SPA's credentialed calls)"
        )
    observed = [(origin, preflight), (origin, _actual(probe, target, origin))]
    for hostile, _ in _hostile_origins(target):
        observed += [(hostile, _preflight(probe, target, hostile)), (hostile, _actual(probe, target, hostile))]
    bad = [(o, e) for o, e in observed if _value(e, ACAO) == "*" and _credentialed(e)]
    if bad:
        origins = list(dict.fromkeys(o for o, _ in bad))
        methods = " and ".join(dict.fromkeys(e.method for _, e in bad))
        problems.append(
            f"{ACAO}: * together with {ACAC}: true (a wildcard with credentials) on {len(bad)} {methods} "
            f"response(s) to {target.url}, for Origin {', '.join(origins)}"
        )
    fail_on(problems)


@check(
    "CORS-03",
    severity="critical",
    guide="H: CORS Issues",
    references=["nuclei cors-misconfig", "Mozilla HTTP Observatory"],
    standards=["ASVS:V14.5.3", "Mozilla:Cross-origin Resource Sharing"],
)
def test_hostile_origins_are_refused(need: Need, probe: Probe, env: EnvironmentModel) -> None:
    """Hostile origins are refused.

    Rationale: an API that echoes any Origin (or matches it with an unanchored pattern) into
    Access-Control-Allow-Origin, with credentials, lets any web page a logged-in user visits read
    their data through the API. The usual causes are "fixes" for CORS errors: reflecting the
    Origin header, a regex like `https://.*example\\.com.*`, allowing `null`, or allowing the
    http:// twin of the real origin. This runs wherever api.cors is declared, also when it lists
    no origin other than the site's own: a same-origin API whose CORS layer reflects origins
    exposes its logged-in users just the same. The hostile origins are derived from the allowed
    ones, or from the site's own origin when none is declared.

    Fix: an exact allow-list of scheme://host[:port] strings: Flask-CORS `origins=["https://app.example.com"]`
    (a regex only with `^...$` anchors and escaped dots), django-cors-headers `CORS_ALLOWED_ORIGINS`
    (and `CORS_ALLOWED_ORIGIN_REGEXES` only anchored); never `CORS_ALLOW_ALL_ORIGINS = True` or
    `origins="*"` with credentials, and never `null`. An API that only its own site calls needs no
    CORS at all: remove the CORS layer.
    """
    target = _target(need, env)
    problems = []
    for origin, why in _hostile_origins(target):
        answers = [_preflight(probe, target, origin), _actual(probe, target, origin)]
        echoed = [e for e in answers if _value(e, ACAO).lower() == origin.lower()]
        wildcard = [e for e in answers if _value(e, ACAO) == "*" and _credentialed(e)]
        if echoed:
            creds = f" with credentials ({ACAC}: true)" if any(_credentialed(e) for e in echoed) else ""
            problems.append(f"{origin}{why} was echoed in {ACAO} by {_which(echoed)}{creds}")
        elif wildcard:
            problems.append(f"{origin}{why} got {ACAO}: * with {ACAC}: true by {_which(wildcard)}")
    fail_on(problems, intro=f"{target.url} allows origins that are not in api.cors.allowed_origins:")


DEV_PORTS = [3000, 3001, 4000, 4100, 4200, 5000, 5173, 8000, 8080]


@check(
    "CORS-04",
    severity="high",
    guide=["H: CORS Configuration", "H: CORS Issues"],
    inputs={
        "dev_ports": DEV_PORTS,
        "dev_hosts": ["localhost", "127.0.0.1"],
        "more_dev_hosts": ["0.0.0.0", "[::1]"],
        "dev_origins": [],
        "full_sweep": False,
        "exempt": [],
    },
    standards=["ASVS:V14.5.3", "Mozilla:Cross-origin Resource Sharing"],
)
def test_no_development_origins_in_production(
    need: Need, probe: Probe, env: EnvironmentModel, inputs: dict[str, Any]
) -> None:
    """No development origins in production.

    Rationale: the guide's own CORS settings carry `"http://localhost:3000",  # Development only`.
    Left in the production list, any process a user runs on that port (a dev server, a local
    tool, malware) can call the production API with the user's cookies, over plain HTTP. In an
    environment marked production, no origin on localhost, 127.0.0.1, 0.0.0.0 or [::1] may be
    allowed, over http or https: neither one that api.cors.allowed_origins declares nor one the
    API answers for. The API is asked with one OPTIONS preflight per origin, in two stages, so
    that a good API costs few requests and does not trip its own rate limit: first http on
    inputs.CORS-04.dev_hosts at each of inputs.CORS-04.dev_ports (the ports dev servers print:
    CRA and Next 3000, Angular 4200, Vite 5173, Django 8000, webpack 8080, ...), the declared
    development origins and inputs.CORS-04.dev_origins; then, for each port found allowed, the
    same port on inputs.CORS-04.more_dev_hosts and over https, to name the whole leftover list
    (not when every first-stage origin is allowed: that is a pattern or reflection).
    inputs.CORS-04.full_sweep asks every host and scheme at every port at once (72 preflights,
    which can trip the API's rate limit: a 429 fails the check as throttled). It runs wherever
    api.cors is declared, for a same-origin API too. A Capacitor or Ionic app calls from https://localhost
    or http://localhost on phones in production: list that origin under inputs.CORS-04.exempt.

    Fix: build the allow-list per environment: django-cors-headers `CORS_ALLOWED_ORIGINS` from
    an environment variable, with localhost only in development settings; Flask-CORS
    `origins=app.config["CORS_ORIGINS"]` with a production config that lists only the public
    origins.
    """
    if not env.production:
        not_applicable("production is not set (development origins are allowed outside production)")
    target = _target(need, env)
    exempt = {origin_of(o) for o in inputs["exempt"]}
    # The site's own origin is not a leftover, even on localhost (the sandbox): its calls are same-origin.
    declared = [o for o in target.cross if is_development_origin(o) and origin_of(o) not in exempt]
    problems = [f"{o} is listed in api.cors.allowed_origins of a production environment" for o in declared]
    echoed, everything = _sweep(probe, target, inputs, [*declared, *inputs["dev_origins"]])
    echoed = {o: e for o, e in echoed.items() if origin_of(o) not in exempt}
    fail_on(problems + _allowed_lines(echoed, everything))


def _sweep(probe: Probe, target: Target, inputs: dict[str, Any], extra: list[str]) -> tuple[dict[str, Exchange], bool]:
    """CORS-04's two stages: (the development origins the API allows, with their preflight; whether it
    allowed every first-stage origin)."""
    ports = [int(port) for port in inputs["dev_ports"]]
    hosts, every_host = list(inputs["dev_hosts"]), [*inputs["dev_hosts"], *inputs["more_dev_hosts"]]
    if inputs["full_sweep"]:
        first = development_origins(("http", "https"), every_host, ports)
    else:
        first = development_origins(("http",), hosts, ports)
    first = list(dict.fromkeys([*first, *extra]))
    echoed = _echoes(probe, target, first)
    everything = len(first) > 1 and len(echoed) == len(first)
    if echoed and not everything:
        found = sorted({port for port in map(_port, echoed) if port is not None})
        echoed |= _echoes(probe, target, development_origins(("http", "https"), every_host, found))
    return echoed, everything


def _port(origin: str) -> int | None:
    try:
        return urlsplit(origin).port
    except ValueError:
        return None


def _echoes(probe: Probe, target: Target, origins: Iterable[str]) -> dict[str, Exchange]:
    """Of `origins`, those whose preflight echoes them in ACAO, with that answer."""
    echoed: dict[str, Exchange] = {}
    for origin in dict.fromkeys(origins):
        answer = _preflight(probe, target, origin)
        if _value(answer, ACAO).lower() == origin.lower():
            echoed[origin] = answer
    return echoed


def _allowed_lines(echoed: dict[str, Exchange], everything: bool) -> list[str]:
    """One line per allowed development origin; one in all when every origin probed was allowed."""
    lines = [
        f"{origin} is allowed in production: echoed in {ACAO} by {_which([answer])}"
        + (f" with credentials ({ACAC}: true)" if _credentialed(answer) else "")
        + " ('Development only')"
        for origin, answer in echoed.items()
    ]
    if everything:
        others = len(lines) - 1
        return [f"{lines[0]}, and so are the {others} other development origins probed: a pattern or reflection"]
    return lines


@check(
    "CORS-05",
    severity="medium",
    guide="H: CORS Issues",
    standards=["RFC:9110"],
)
def test_responses_vary_by_origin(need: Need, probe: Probe, env: EnvironmentModel) -> None:
    """CORS responses vary by origin.

    Rationale: when Access-Control-Allow-Origin depends on the request's Origin, a browser cache,
    CDN or proxy that stores the answer for one origin serves it to another unless the response
    says `Vary: Origin`. Users then see intermittent "CORS policy errors in browser" that no one
    can reproduce, depending on which origin warmed the cache. Not applicable to an API called only
    from the site's own origin.

    Fix: send `Vary: Origin` on every response whose CORS headers depend on Origin: Flask-CORS
    does with `vary_header=True` (the default), django-cors-headers always does; in nginx add
    `add_header Vary Origin always;` next to any `$http_origin`-based header.
    """
    target, origin = _cross_origin(need, env)
    pairs = [
        ("OPTIONS", _preflight(probe, target, origin), _preflight(probe, target, EVIL)),
        ("GET", _actual(probe, target, origin), _actual(probe, target, EVIL)),
    ]
    problems = []
    for method, allowed, hostile in pairs:
        mine, theirs = _value(allowed, ACAO), _value(hostile, ACAO)
        if mine == theirs:
            continue  # the same answer for every origin: caching it is harmless
        sides = [(origin, allowed, mine, EVIL, theirs), (EVIL, hostile, theirs, origin, mine)]
        for sender, answer, value, other, other_value in sides:
            if not value or value == "*":
                continue
            vary = _tokens(answer.header("vary"))
            if "origin" not in vary and "*" not in vary:
                problems.append(
                    f"{method} {target.url} with Origin: {sender} answers {ACAO}: {value} ({other} gets "
                    f"{_shown(other_value)}), but Vary lacks Origin (Vary: {_shown(_value(answer, 'vary'))})"
                )
    fail_on(problems)


@check(
    "CORS-06",
    severity="high",
    guide="H: CORS Issues",
)
def test_actual_requests_carry_cors(need: Need, probe: Probe, env: EnvironmentModel) -> None:
    """Actual requests carry the same CORS headers as their preflight.

    Rationale: the preflight only asks for permission; the browser checks Access-Control-Allow-Origin
    (and Allow-Credentials) again on the real response. When nginx answers OPTIONS itself but the
    application sends no CORS headers, or the two disagree, the preflight passes and the real
    call is still "blocked by CORS policy", which is hard to see with curl alone. Not applicable
    to an API called only from the site's own origin.

    Fix: let one layer own CORS. Either the application (Flask-CORS or django-cors-headers, which
    answer both OPTIONS and the real request) with no CORS in nginx, or nginx with the same
    `add_header Access-Control-Allow-Origin $cors_origin always;` and Allow-Credentials on every
    API response, not only inside `if ($request_method = OPTIONS)`.
    """
    target, origin = _cross_origin(need, env)
    preflight = _preflight(probe, target, origin)
    actual = _actual(probe, target, origin)
    where = f"GET {target.url} with Origin: {origin}"
    before, after = _value(preflight, ACAO), _value(actual, ACAO)
    if not before:
        fail_on([f"the preflight for {origin} carries no {ACAO}, so there is nothing to compare (see CORS-01)"])
    problems = []
    if after != before:
        problems.append(
            f"{where} ({actual.status}) carries {ACAO}: {_shown(after)}, but its preflight answered {before}: "
            "the browser blocks the real response"
        )
    if _value(actual, ACAC) != _value(preflight, ACAC):
        problems.append(
            f"{where} ({actual.status}) carries {ACAC}: {_shown(_value(actual, ACAC))}, but its preflight answered "
            f"{_shown(_value(preflight, ACAC))}"
        )
    fail_on(problems)
