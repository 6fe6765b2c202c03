"""SPA: nginx serving the single-page app (H: Frontend Issues, Routing Issues; V: Static Files Not Loading)."""

from __future__ import annotations

import datetime as dt
import re
import secrets
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urljoin, urlsplit

from fixtures.check import (
    Ask,
    EnvironmentModel,
    Exchange,
    Probe,
    UserSession,
    blocked_by,
    check,
    fail_on,
    http_date,
    not_applicable,
    site_url,
)

# One random name per run (per xdist worker): a cached "missing" probe never hits a real file.
RUN_TOKEN = secrets.token_hex(8)

SCRIPT_TYPES = ("application/javascript", "text/javascript")
STYLE_TYPES = ("text/css",)
# Cache-Control directives that make a browser revalidate the shell (h5bp: "expires epoch" on HTML).
REVALIDATE = ("no-cache", "no-store", "must-revalidate")  # or max-age=0
# An absolute development URL baked into a bundle: a loopback host followed by a port or /api.
DEV_URL = re.compile(
    r"\bhttps?://(?:localhost|127\.0\.0\.1|0\.0\.0\.0|\[::1\])(?::\d+|/api)[^\s\"'`<>)\\]*",
    re.IGNORECASE,
)
SOURCE_MAP_COMMENT = re.compile(r"[/][/*][#@]\s*sourceMappingURL=([^\s*]+)")
# A content hash in a file name: `main.3f9a1c77.js`, `style.3f9a1c77d2e4.css` (Django's manifest
# storage), `index-DiwrgTda.js` (Vite), or a version in the query (`app.js?v=3f9a1c77`).
HASH_PART = re.compile(r"[.\-_]([A-Za-z0-9_]{8,})(?=\.(?:min\.)?(?:m?js|css)$)")
HASH_QUERY = re.compile(r"[?&](?:v|ver|version|h|hash)=[A-Za-z0-9_.\-]{6,}")
REDIRECTS = (301, 302, 303, 307, 308)


# --- helpers --------------------------------------------------------------------------------------


def _base(web_url: str) -> str:
    return web_url.rstrip("/")


def _dir(prefix: str) -> str:
    return prefix if prefix.endswith("/") else prefix + "/"


def _path(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def _origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    port = parts.port or {"http": 80, "https": 443}.get(parts.scheme, 0)
    return parts.scheme.lower(), f"{(parts.hostname or '').lower()}:{port}"


def _normalized(html: str) -> str:
    return " ".join(html.split())


def _answer(exchange) -> str:
    return f"{exchange.status} {exchange.content_type or '(no content type)'}"


class _ShellAssets(HTMLParser):
    """The scripts and stylesheets a shell references, in document order."""

    def __init__(self) -> None:
        super().__init__()
        self.scripts: list[str] = []
        self.styles: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attr = {k.lower(): (v or "").strip() for k, v in attrs}
        if tag == "script" and attr.get("src"):
            self.scripts.append(attr["src"])
        elif tag == "link" and attr.get("href"):
            rel = attr.get("rel", "").lower().split()
            kind = attr.get("as", "").lower()
            if "stylesheet" in rel or ("preload" in rel and kind == "style"):
                self.styles.append(attr["href"])
            elif "modulepreload" in rel or ("preload" in rel and kind == "script"):
                self.scripts.append(attr["href"])


def _references(html: str) -> tuple[list[str], list[str]]:
    parser = _ShellAssets()
    parser.feed(html)
    parser.close()
    return parser.scripts, parser.styles


def _same_origin_assets(shell_url: str, html: str) -> tuple[list[str], list[str]]:
    """Absolute URLs of the same-origin scripts and stylesheets index.html references, deduplicated."""
    home = _origin(shell_url)
    scripts, styles = _references(html)

    def keep(refs: list[str]) -> list[str]:
        urls: list[str] = []
        for ref in refs:
            url = urljoin(shell_url, ref).split("#")[0]
            if url.startswith(("http://", "https://")) and _origin(url) == home and url not in urls:
                urls.append(url)
        return urls

    return keep(scripts), keep(styles)


def _shell(probe, base: str):
    """GET / and require the HTML shell: SPA-01 starts from it (and fails when it is missing)."""
    shell = probe.get(base + "/")
    if shell.status != 200 or shell.content_type != "text/html":
        fail_on([f"/ answered {_answer(shell)}; expected 200 text/html (the app shell, index.html)"])
    return shell


def _is_page(exchange: Exchange) -> bool:
    return exchange.status == 200 and exchange.content_type == "text/html"


def _pages(env: EnvironmentModel, probe: Probe, request: Any) -> list[Exchange]:
    """The HTML pages whose assets are checked. spa: the shell at / (blocked by SPA-01 without it).
    server: / when it is a page, and the login-gated pages (web.pages) through the run's session."""
    base = _base(env.web.url)
    if env.web.kind == "spa":
        shell = probe.get(base + "/")
        if not _is_page(shell):
            blocked_by("SPA-01", f"/ answered {_answer(shell)}, not the app shell, so its assets cannot be listed")
        return [shell]
    landing = probe.get(base + "/")
    pages = [landing] if _is_page(landing) else []
    if env.web.pages:
        if env.session is None or env.session.login is None:
            if pages:
                return pages
            not_applicable(
                f"/ answered {_answer(landing)} and the pages in web.pages are behind a login, but no session is "
                "declared (session.login): their assets cannot be listed",
                key="session.login",
            )
        session: UserSession = request.getfixturevalue("session")
        for path in env.web.pages:
            page = probe.get(site_url(env, path), headers=session.headers())
            if _is_page(page):
                pages.append(page)
    if not pages:
        fail_on(
            [
                f"/ answered {_answer(landing)} and no logged-in page (web.pages) answered 200 text/html: "
                "there is no page whose assets could be checked"
            ]
        )
    return pages


def _assets(pages: list[Exchange]) -> tuple[list[str], list[str]]:
    """The same-origin scripts and stylesheets the pages reference, deduplicated, in order."""
    scripts: list[str] = []
    styles: list[str] = []
    for page in pages:
        found = _same_origin_assets(page.url, page.text)
        scripts += [u for u in found[0] if u not in scripts]
        styles += [u for u in found[1] if u not in styles]
    return scripts, styles


def _hashed(url: str) -> bool:
    """Whether the asset's name (or its query) carries a content hash: mixed letters and digits, or mixed case."""
    if HASH_QUERY.search(url):
        return True
    name = urlsplit(url).path.rsplit("/", 1)[-1]
    for match in HASH_PART.finditer(name):
        token = match.group(1)
        hexish = re.fullmatch(r"[0-9a-f]+", token) and re.search(r"\d", token)
        mixed = re.search(r"[a-z]", token) and re.search(r"[A-Z]", token)
        if hexish or mixed:
            return True
    return False


def _validator(exchange: Exchange) -> bool:
    return bool(exchange.header("etag") or exchange.header("last-modified"))


def _directives(cache_control: str) -> dict[str, str]:
    found: dict[str, str] = {}
    for item in cache_control.split(","):
        name, _, value = item.strip().partition("=")
        if name:
            name = name.strip().lower()
            value = value.strip().strip('"')
            # Several Cache-Control headers (expires + add_header): keep the shortest max-age.
            if name in found and name in ("max-age", "s-maxage") and found[name].isdigit() and value.isdigit():
                value = str(min(int(found[name]), int(value)))
            found[name] = value
    return found


def _lifetime(exchange) -> tuple[float | None, str]:
    """Seconds a browser may reuse the response without asking (None: unknown), and what said so."""
    cc = exchange.header("cache-control") or ""
    directives = _directives(cc)
    if "no-store" in directives or "no-cache" in directives:
        return 0.0, f"Cache-Control: {cc}"
    max_age = directives.get("max-age")
    if max_age is not None:
        return (float(max_age) if max_age.isdigit() else 0.0), f"Cache-Control: {cc}"
    expires = exchange.header("expires")
    if expires is not None:
        until = http_date(expires)
        now = http_date(exchange.header("date")) or dt.datetime.now(dt.UTC)
        seconds = (until - now).total_seconds() if until else 0.0
        return max(seconds, 0.0), f"Expires: {expires}" + (f", Cache-Control: {cc}" if cc else "")
    return None, f"Cache-Control: {cc}" if cc else "no Cache-Control and no Expires"


def _human(seconds: float) -> str:
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size:
            count = round(seconds / size, 1)
            return f"{count:g} {unit}{'' if count == 1 else 's'}"
    return f"{seconds:g} seconds"


def _looks_like_source_map(exchange) -> bool:
    """A 200 that is really a source map (not an HTML fallback page)."""
    if exchange.status != 200 or exchange.content_type == "text/html":
        return False
    head = exchange.body.lstrip()[:4096]
    return head.startswith((b"{", b")]}")) or b'"mappings"' in head


def prefetch(env: EnvironmentModel, inputs: Any) -> list[Ask]:
    """What the selected SPA checks ask: the shell or landing page and the deep links, the made-up assets
    and API path, the logged-in pages; once a page is here, the assets it references (SPA-04/05/06)."""
    if env.web is None:
        return []
    base = _base(env.web.url)
    assets = any(inputs(c) is not None for c in ("SPA-04", "SPA-05", "SPA-06"))
    compressed = inputs("SPA-05")
    smallest = int(compressed["min_bytes"]) if compressed is not None else None
    follow = (lambda page: _asset_asks(page, smallest)) if assets else None
    asks = [Ask("GET", base + "/", then=follow)]
    if env.web.kind == "spa":
        asks += [Ask("GET", base + route) for route in env.web.spa_routes]
    elif assets and env.session is not None and env.session.login is not None:
        asks += [Ask("GET", site_url(env, page), logged_in=True, then=follow) for page in env.web.pages]
    if inputs("SPA-02") is not None:
        asks += [Ask("GET", base + _missing_asset(prefix)) for prefix in env.web.asset_prefixes]
    if inputs("SPA-07") is not None and env.web.api_prefix:
        asks.append(Ask("GET", base + f"{_dir(env.web.api_prefix)}preflight-missing-{RUN_TOKEN}"))
    return asks


def _asset_asks(page: Exchange, smallest: int | None) -> list[Ask]:
    """A page's assets as SPA-04/05/06 ask for them: plain, then compressed when SPA-05 will ask (over
    min_bytes), and their source maps."""
    if not _is_page(page):
        return []
    scripts, styles = _same_origin_assets(page.url, page.text)
    asks = _compressed(page, smallest)
    for url in scripts + styles:
        asks += [Ask("GET", url, then=lambda asset: _compressed(asset, smallest)), Ask("GET", url + ".map")]
    return asks


def _compressed(answer: Exchange, smallest: int | None) -> list[Ask]:
    if smallest is None or answer.status != 200 or len(answer.body) <= smallest:
        return []
    return [Ask("GET", answer.url, (*answer.request_headers, ("Accept-Encoding", "gzip, br")))]


def _missing_asset(prefix: str) -> str:
    ext = ".css" if "css" in prefix.lower() else ".js"
    return f"{_dir(prefix)}missing-{RUN_TOKEN}{ext}"


# --- checks ---------------------------------------------------------------------------------------


@check(
    "SPA-01",
    severity="high",
    guide="H: Routing Issues",
    shapes=["spa"],
    references=["h5bp server-configs-nginx"],
)
def test_deep_links_serve_the_shell(need, probe) -> None:
    """Deep links serve the app shell.

    Rationale: the router of a single-page app lives in the browser. When a user refreshes
    /properties/42 or follows a shared link, nginx receives that path; without a fallback to
    index.html it answers 404 ("404 errors on refresh", "Navigation not working"). Every
    client-side route must answer 200 text/html with the same shell as /, so the bundle boots and
    renders the route itself.

    Fix: in nginx, `location / { try_files $uri $uri/ /index.html; }` (H: SPA Routing with nginx).
    Keep the API and static locations separate so the fallback only covers client routes.
    """
    base = _base(need("web.url"))
    routes = need("web.spa_routes")
    shell = _shell(probe, base)
    shell_refs = _references(shell.text)
    problems = []
    for route in routes:
        page = probe.get(base + route)
        if page.status != 200 or page.content_type != "text/html":
            location = page.header("location")
            moved = f" (Location: {location})" if location else ""
            problems.append(
                f"{route} answered {_answer(page)}{moved}; expected 200 with the app shell "
                "(try_files $uri $uri/ /index.html)"
            )
        elif _normalized(page.text) != _normalized(shell.text) and (
            _references(page.text) != shell_refs or not any(shell_refs)
        ):
            scripts, styles = _references(page.text)
            problems.append(
                f"{route} answered 200 text/html but not the shell served at / "
                f"(scripts {scripts or 'none'}, stylesheets {styles or 'none'}; "
                f"the shell has {shell_refs[0] or 'none'} and {shell_refs[1] or 'none'})"
            )
    fail_on(problems)


@check(
    "SPA-02",
    severity="medium",
    guide=["H: Routing Issues", "V: Static Files Not Loading"],
)
def test_missing_asset_is_a_404(need, probe) -> None:
    """A missing asset is a real 404.

    Rationale: when the SPA fallback also covers /static/, a bundle that a deploy removed answers
    200 with the HTML shell. The browser then parses HTML as JavaScript ("Unexpected token '<'")
    and shows a white screen instead of a clear "CSS/JS files return 404" in the network tab, and
    caches and CDNs may store the HTML under the asset's long-lived name.

    Fix: give the asset prefixes their own location without the fallback, e.g.
    `location /static/ { try_files $uri =404; expires 30d; }` next to
    `location / { try_files $uri $uri/ /index.html; }`.
    """
    base = _base(need("web.url"))
    prefixes = need("web.asset_prefixes")
    problems = []
    for prefix in prefixes:
        path = _missing_asset(prefix)
        answer = probe.get(base + path)
        if answer.status == 404:
            continue
        if answer.status == 200 and answer.content_type == "text/html":
            problems.append(
                f"{path} answered 200 text/html (the app shell): the SPA fallback swallows missing assets; "
                f"expected 404 (try_files $uri =404 in the {prefix} location)"
            )
        else:
            problems.append(f"{path} answered {_answer(answer)}; expected 404 for an asset that does not exist")
    fail_on(problems)


@check(
    "SPA-03",
    severity="medium",
    shapes=["spa"],
    guide=["V: Static Files Not Loading", "H: Frontend Issues"],
    references=["h5bp server-configs-nginx"],
)
def test_shell_is_not_cached(need, probe, env) -> None:
    """The shell is not cached.

    Rationale: index.html names the content-hashed bundles of the current build. When browsers
    or proxies keep an old copy (for example because `expires 30d` also covers the shell), the
    next deploy removes the bundles it names and users get a white screen or "CSS/JS files
    return 404" until the cache expires. The shell must be revalidated on every visit; the
    hashed assets carry the long cache lifetime instead.

    Fix: in nginx, `location = /index.html { add_header Cache-Control "no-cache" always; }` (or
    h5bp's `expires epoch;` for text/html), and do not put `expires` on `location /`. Deep links
    reach the shell through try_files, so they inherit it.
    """
    base = _base(need("web.url"))
    routes = env.web.spa_routes  # optional here: / alone is worth checking
    problems = []
    for path in ["/", *routes]:
        page = probe.get(base + path)
        if path != "/" and (page.status != 200 or page.content_type != "text/html"):
            continue  # not the shell: SPA-01 reports it
        cc = page.header("cache-control") or ""
        directives = _directives(cc)
        if any(d in directives for d in REVALIDATE) or directives.get("max-age") == "0":
            continue
        expires = page.header("expires")
        until = http_date(expires)
        now = http_date(page.header("date")) or dt.datetime.now(dt.UTC)
        if "max-age" not in directives and (until is not None and until <= now or expires in ("0", "-1")):
            continue
        observed = f"Cache-Control: {cc}" if cc else "no Cache-Control"
        if expires:
            observed += f", Expires: {expires}"
        problems.append(
            f"{path} ({_answer(page)}) sends {observed}; expected Cache-Control no-cache, no-store, "
            "max-age=0 or must-revalidate on the HTML shell"
        )
    fail_on(problems)


@check(
    "SPA-04",
    severity="medium",
    guide="V: Static Files Not Loading",
    inputs={"min_max_age_days": 30},
)
def test_hashed_assets_are_cached_long(need, probe, env, request, inputs) -> None:
    """Hashed assets are cached for a long time, unhashed ones are revalidated.

    Rationale: every script and stylesheet the shell (or, on a server-rendered site, the landing
    page and the logged-in pages of web.pages) references must load ("CSS/JS files return 404" is
    the symptom when they do not), with the content type browsers require (a script served as
    application/octet-stream or text/plain is refused under X-Content-Type-Options: nosniff).
    Assets whose names carry a content hash (`main.3f9a1c77.js`) get a long cache lifetime: a new
    build gets a new name, so a long max-age costs nothing. An unhashed asset (`style.css`) keeps
    its name across deploys: cached for 30 days, users run old CSS against new pages for a month,
    so it must carry a validator (ETag or Last-Modified) and a short lifetime instead.

    Fix: in nginx, `include /etc/nginx/mime.types;` in the http block; for the build's hashed
    output `location /static/ { try_files $uri =404; expires 30d; add_header Cache-Control "public,
    immutable"; }` (V: `expires 30d`); for unhashed files a short `expires` (or none) and nginx's
    default ETag and Last-Modified. Better: hash every asset name (Django's
    ManifestStaticFilesStorage, webpack's [contenthash], Vite's default build).
    """
    need("web.url")
    days = float(inputs["min_max_age_days"])
    scripts, styles = _assets(_pages(env, probe, request))
    if not scripts and not styles:
        fail_on(
            ["the pages reference no same-origin <script src> or <link rel=stylesheet>; cannot check asset caching"]
        )
    problems = []
    for url, types in [(u, SCRIPT_TYPES) for u in scripts] + [(u, STYLE_TYPES) for u in styles]:
        asset = probe.get(url)
        problems += _asset_problems(_path(url), asset, types, days)
    fail_on(problems)


def _asset_problems(path: str, asset: Exchange, types: tuple[str, ...], days: float) -> list[str]:
    if asset.status != 200:
        return [f"{path} (referenced by the page) answered {_answer(asset)}; expected 200"]
    problems = []
    if asset.content_type not in types:
        problems.append(
            f"{path} is served with Content-Type {asset.content_type or '(none)'}; expected "
            f"{' or '.join(types)} (include mime.types)"
        )
    seconds, observed = _lifetime(asset)
    cached = "not given a cache lifetime" if seconds is None else f"cached for {_human(seconds)}"
    if _hashed(path):
        if seconds is None or seconds < days * 86400:
            problems.append(f"{path} is {cached} ({observed}); expected max-age >= {days:g} days (expires 30d)")
    elif seconds is not None and seconds >= days * 86400:
        problems.append(
            f"{path} has no content hash in its name and is {cached} ({observed}): after a deploy browsers keep "
            f"the old file; expected less than {days:g} days and a validator (ETag or Last-Modified), or a hashed name"
        )
    elif not _validator(asset):
        problems.append(
            f"{path} has no content hash in its name and no validator (no ETag, no Last-Modified): browsers cannot "
            "revalidate it cheaply; expected ETag or Last-Modified"
        )
    return problems


@check(
    "SPA-05",
    severity="low",
    guide=["H: Slow Performance", "H: Frontend Issues"],
    inputs={"min_bytes": 1024},
    references=["h5bp server-configs-nginx"],
)
def test_text_assets_are_compressed(need, probe, env, request, inputs) -> None:
    """Text assets are compressed.

    Rationale: JavaScript, CSS and HTML shrink to a fraction with gzip or brotli. Sent
    uncompressed, the first load of the app is several times slower on mobile networks ("Slow
    page load times"), and the bundle is usually the largest thing the page downloads.

    Fix: in nginx, `gzip on; gzip_vary on; gzip_proxied any; gzip_min_length 1024;` and
    `gzip_types text/css application/javascript text/javascript application/json image/svg+xml;`
    (h5bp's compression.conf; text/html is always included). The types only match when the
    assets carry the right Content-Type, so `include mime.types;` too.
    """
    need("web.url")
    min_bytes = int(inputs["min_bytes"])
    pages = _pages(env, probe, request)
    scripts, styles = _assets(pages)
    sent = {page.url: dict(page.request_headers) for page in pages}
    raw: list[tuple[str, int, Exchange, str]] = []
    compressed: set[str] = set()
    problems = []
    for url in [*sent, *scripts, *styles]:
        path = _path(url)
        plain = probe.get(url, headers=sent.get(url))
        if plain.status != 200:
            problems.append(f"{path} answered {_answer(plain)}; expected 200 to check its compression")
            continue
        size = len(plain.body)  # decoded length: requests undoes gzip transparently
        if size <= min_bytes:
            continue
        answer = probe.get(url, headers={**sent.get(url, {}), "Accept-Encoding": "gzip, br"})
        encoding = (answer.header("content-encoding") or "").strip().lower()
        if encoding in ("gzip", "br"):
            compressed.add(answer.content_type)
        else:
            raw.append((path, size, answer, encoding))
    for path, size, answer, encoding in raw:
        hint = " (gzip works for other types: add this one to gzip_types)" if compressed else ""
        problems.append(
            f"{path} ({size} bytes, {answer.content_type or 'no content type'}) came back with "
            f"Content-Encoding {encoding or '(none)'} to Accept-Encoding: gzip, br; expected gzip or br "
            f"compression{hint}"
        )
    fail_on(problems)


@check(
    "SPA-06",
    severity="low",
    guide=["H: Build Failures", "H: Frontend Issues"],
    standards=["ASVS:V12.5.1"],
)
def test_no_development_leftovers(need, probe, env, request) -> None:
    """No development leftovers in the deployed bundle.

    Rationale: a development build deployed by mistake calls the API at http://localhost:5000
    (every API call fails for users with a CORS or connection error, and the page renders blank)
    and publishes its source maps, which hand out the original source, comments and internal
    endpoint names to anyone. The source maps are looked for anonymously next to every script and
    stylesheet the pages reference (on a server-rendered site, the logged-in pages too: a map
    behind a login page is still public when the static files are not). The bundle's API URLs are
    read on single-page apps (web.kind spa), whose bundle is the whole client.

    Fix: deploy the output of the production build (`npm run build` with NODE_ENV=production and
    the API URL set to the relative /api or the public API origin), build without source maps
    (`GENERATE_SOURCEMAP=false` for Create React App, `build.sourcemap: false` for Vite) or upload
    them to the error tracker only, and deny them in nginx: `location ~* \\.map$ { return 404; }`.
    """
    base = _base(need("web.url"))
    scripts, styles = _assets(_pages(env, probe, request))
    if not scripts and not styles:
        fail_on(["the pages reference no same-origin script or stylesheet; cannot inspect the bundle"])
    # The deployment's own origins are not leftovers (the sandbox itself runs on https://localhost:<port>).
    own = {_origin(base)} | ({_origin(env.api.url)} if env.api else set())
    problems: list[str] = []
    maps: dict[str, str] = {}
    for url in scripts:
        bundle = probe.get(url)
        if bundle.status != 200:
            problems.append(f"{_path(url)} (referenced by the page) answered {_answer(bundle)}; expected 200")
            continue
        if env.web.kind == "spa":
            problems += _dev_urls(_path(url), bundle, own)
        problems += _map_targets(url, bundle, maps)
    for url in styles:
        maps.setdefault(url + ".map", f"{_path(url)}.map")
    for url, label in maps.items():
        if _origin(url) != _origin(base):
            continue
        answer = probe.get(url)
        if _looks_like_source_map(answer):
            problems.append(
                f"{label} is served ({_answer(answer)}, {len(answer.body)} bytes) without a login: the source map "
                "is public"
            )
    fail_on(problems)


def _dev_urls(path: str, bundle: Exchange, own: set[tuple[str, str]]) -> list[str]:
    leaked = sorted({m.group(0) for m in DEV_URL.finditer(bundle.text) if _origin(m.group(0)) not in own})
    if not leaked:
        return []
    return [f"{path} references {', '.join(leaked[:5])}: a development API URL baked into the deployed bundle"]


def _map_targets(url: str, bundle: Exchange, maps: dict[str, str]) -> list[str]:
    """Adds the source maps a script names (or would have, next to it) to maps; an inline map is a problem."""
    path = _path(url)
    maps.setdefault(url + ".map", f"{path}.map")
    problems = []
    named = SOURCE_MAP_COMMENT.findall(bundle.text[-2048:])
    for target in named + [v for v in (bundle.header("sourcemap"), bundle.header("x-sourcemap")) if v]:
        if target.startswith("data:"):
            problems.append(f"{path} embeds an inline source map (sourceMappingURL=data:...)")
        else:
            maps.setdefault(urljoin(url, target).split("#")[0], f"{_path(urljoin(url, target))} (sourceMappingURL)")
    return problems


@check(
    "SPA-07",
    severity="high",
    guide="H: Routing Issues",
)
def test_fallback_does_not_swallow_the_api(need, probe) -> None:
    """The SPA fallback does not swallow the API.

    Rationale: when only some API paths are proxied, every other /api path falls into
    `try_files ... /index.html` and answers 200 with the HTML shell. Clients then fail with
    "Unexpected token '<' in JSON" instead of a 404, monitoring sees 200s, and an endpoint that
    lost its proxy location looks alive ("Malformed responses").

    Fix: proxy the whole prefix to the API, `location /api/ { proxy_pass http://app; }`, so the
    application answers unknown API paths with 404 (or 401/405); never let the SPA fallback
    cover the API prefix.
    """
    base = _base(need("web.url"))
    prefix = _dir(need("web.api_prefix"))
    path = f"{prefix}preflight-missing-{RUN_TOKEN}"
    answer = probe.get(base + path)
    if answer.status in (404, 401, 405):
        return
    if answer.status == 200 and answer.content_type == "text/html":
        fail_on(
            [
                f"{path} answered 200 text/html (the app shell): the SPA fallback swallows unknown API paths; "
                "expected 404 (or 401/405) from the API"
            ]
        )
    fail_on([f"{path} answered {_answer(answer)}; expected 404 (or 401/405) for an unknown API path"])
