"""CORS (H: CORS Issues): preflights and real requests against the API, from allowed and hostile origins."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from fixtures.check import check, fail_on, not_applicable

ACAO = "Access-Control-Allow-Origin"
ACAC = "Access-Control-Allow-Credentials"
ACAM = "Access-Control-Allow-Methods"
ACAH = "Access-Control-Allow-Headers"
# CORS-safelisted methods: they never need a preflight on their own.
SIMPLE_METHODS = ("GET", "HEAD", "POST")
# The origin that stands for "any other site" when a check needs one.
EVIL = "https://evil.example"


@dataclass(frozen=True)
class Target:
    url: str
    origin: str  # the first allowed origin
    allowed: tuple[str, ...]
    method: str  # Access-Control-Request-Method of the preflight
    headers: tuple[str, ...]  # Access-Control-Request-Headers of the preflight
    credentials: bool


def _target(need) -> Target:
    api_url = need("api.url").rstrip("/")
    cors = need("api.cors")
    allowed = tuple(need("api.cors.allowed_origins"))
    path = cors.path if not cors.path or cors.path.startswith("/") else "/" + cors.path
    methods = [m.upper() for m in cors.methods]
    method = "POST" if "POST" in methods else next((m for m in methods if m not in SIMPLE_METHODS), "POST")
    return Target(
        url=api_url + path,
        origin=allowed[0],
        allowed=allowed,
        method=method,
        headers=tuple(h.strip().lower() for h in cors.headers),
        credentials=cors.credentials,
    )


def _preflight(probe, target: Target, origin: str):
    headers = {"Origin": origin, "Access-Control-Request-Method": target.method}
    if target.headers:
        headers["Access-Control-Request-Headers"] = ",".join(target.headers)
    return probe.fetch("OPTIONS", target.url, headers)


def _actual(probe, target: Target, origin: str):
    return probe.get(target.url, headers={"Origin": origin})


def _value(exchange, name: str) -> str:
    return (exchange.header(name) or "").strip()


def _tokens(value: str | None) -> set[str]:
    return {t.strip().lower() for t in (value or "").split(",") if t.strip()}


def _credentialed(exchange) -> bool:
    return _value(exchange, ACAC).lower() == "true"


def _shown(value: str) -> str:
    return value if value else "(none)"


def _hostile_origins(allowed: tuple[str, ...]) -> list[tuple[str, str]]:
    """(origin, why it is hostile): nuclei cors-misconfig's reflection, prefix, suffix, scheme and null cases."""
    found: list[tuple[str, str]] = [(EVIL, "")]
    for origin in allowed:
        parts = urlsplit(origin)
        host = parts.hostname or ""
        found.append((f"https://{host}.evil.example", " (an allowed host as a subdomain of another site)"))
        found.append((f"https://evil{host}", " (another site whose name ends in an allowed host)"))
        if parts.scheme == "https":
            found.append((f"http://{parts.netloc}", " (the plain-http twin of an allowed origin)"))
    found.append(("null", " (sandboxed iframes and file: pages send it)"))
    allowed_lower = {o.lower() for o in allowed}
    unique: dict[str, str] = {}
    for origin, why in found:
        if origin.lower() not in allowed_lower:
            unique.setdefault(origin, why)
    return list(unique.items())


def _which(exchanges) -> str:
    return " and ".join(f"{e.method} ({e.status})" for e in exchanges)


# --- checks ---------------------------------------------------------------------------------------


@check(
    "CORS-01",
    severity="high",
    guide=["H: CORS Issues", "H: CORS Configuration"],
)
def test_allowed_origin_passes_preflight(need, probe) -> None:
    """An allowed origin passes the preflight.

    Rationale: before a cross-origin POST with Authorization, Content-Type: application/json or
    X-CSRFToken, the browser sends an OPTIONS preflight. If the answer is not 2xx, does not name
    the page's origin exactly in Access-Control-Allow-Origin, or leaves out the method or one of
    the headers, the browser blocks the call ("Preflight request failures", "CORS policy errors
    in browser") and the SPA cannot write anything.

    Fix: list the SPA's origins, methods and headers in the API's CORS settings: Flask-CORS
    `CORS(app, resources={r"/api/*": {"origins": [...]}}, methods=[...], allow_headers=["authorization",
    "content-type", "x-csrftoken"])`, django-cors-headers `CORS_ALLOWED_ORIGINS` and
    `CORS_ALLOW_HEADERS = (*default_headers, "x-csrftoken")`. Do not answer OPTIONS in nginx with
    a fixed wildcard.
    """
    target = _target(need)
    answer = _preflight(probe, target, target.origin)
    where = f"OPTIONS {target.url} with Origin: {target.origin}"
    problems = []
    if not 200 <= answer.status < 300:
        problems.append(f"{where} answered {answer.status}; expected 2xx for an allowed origin's preflight")
    acao = _value(answer, ACAO)
    if acao != target.origin:
        problems.append(f"{ACAO} is {_shown(acao)!s}; expected exactly {target.origin} ({where})")
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
)
def test_credentials_never_with_wildcard(need, probe) -> None:
    """Credentials are never combined with a wildcard origin.

    Rationale: a SPA that authenticates with cookies needs `Access-Control-Allow-Credentials:
    true` on the preflight, or the browser drops its credentialed calls ("Cross-origin request
    blocked"). The quick fix people copy, `Access-Control-Allow-Origin: *` plus
    `Access-Control-Allow-Credentials: true`, is rejected by browsers and usually replaces a
    working allow-list; the next "fix" is to reflect any origin, which hands every logged-in
    user's data to any site.

    Fix: send the exact origin from an allow-list with credentials: Flask-CORS
    `CORS(app, origins=[...], supports_credentials=True)`, django-cors-headers
    `CORS_ALLOWED_ORIGINS = [...]` with `CORS_ALLOW_CREDENTIALS = True`. Remove nginx
    `add_header Access-Control-Allow-Origin *` snippets from API locations.
    """
    target = _target(need)
    preflight = _preflight(probe, target, target.origin)
    problems = []
    if target.credentials and _value(preflight, ACAC) != "true":
        problems.append(
            f"the preflight for {target.origin} carries {ACAC}: {_shown(_value(preflight, ACAC))}; expected true "
            "(api.cors.credentials is set: without it browsers drop the SPA's credentialed calls)"
        )
    observed = [(target.origin, preflight), (target.origin, _actual(probe, target, target.origin))]
    for origin, _ in _hostile_origins(target.allowed):
        observed += [(origin, _preflight(probe, target, origin)), (origin, _actual(probe, target, origin))]
    bad = [(origin, e) for origin, e in observed if _value(e, ACAO) == "*" and _credentialed(e)]
    if bad:
        origins = list(dict.fromkeys(origin for origin, _ in bad))
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
)
def test_hostile_origins_are_refused(need, probe) -> None:
    """Hostile origins are refused.

    Rationale: an API that echoes any Origin (or matches it with an unanchored pattern) into
    Access-Control-Allow-Origin, with credentials, lets any web page a logged-in user visits read
    their data through the API. The usual causes are "fixes" for CORS errors: reflecting the
    Origin header, a regex like `https://.*example\\.com.*`, allowing `null`, or allowing the
    http:// twin of the real origin.

    Fix: an exact allow-list of scheme://host[:port] strings: Flask-CORS `origins=["https://app.example.com"]`
    (a regex only with `^...$` anchors and escaped dots), django-cors-headers `CORS_ALLOWED_ORIGINS`
    (and `CORS_ALLOWED_ORIGIN_REGEXES` only anchored); never `CORS_ALLOW_ALL_ORIGINS = True` or
    `origins="*"` with credentials, and never `null`.
    """
    target = _target(need)
    problems = []
    for origin, why in _hostile_origins(target.allowed):
        answers = [_preflight(probe, target, origin), _actual(probe, target, origin)]
        echoed = [e for e in answers if _value(e, ACAO).lower() == origin.lower()]
        wildcard = [e for e in answers if _value(e, ACAO) == "*" and _credentialed(e)]
        if echoed:
            creds = f" with credentials ({ACAC}: true)" if any(_credentialed(e) for e in echoed) else ""
            problems.append(f"{origin}{why} was echoed in {ACAO} by {_which(echoed)}{creds}")
        elif wildcard:
            problems.append(f"{origin}{why} got {ACAO}: * with {ACAC}: true by {_which(wildcard)}")
    fail_on(problems, intro=f"{target.url} allows origins that are not in api.cors.allowed_origins:")


@check(
    "CORS-04",
    severity="high",
    guide=["H: CORS Configuration", "H: CORS Issues"],
    inputs={"dev_origins": ["http://localhost:3000", "http://127.0.0.1:3000"]},
)
def test_no_development_origins_in_production(need, probe, env, inputs) -> None:
    """No development origins in production.

    Rationale: the guide's own CORS settings carry `"http://localhost:3000",  # Development only`.
    Left in the production list, any process a user runs on port 3000 (a dev server, a local
    tool, malware) can call the production API with the user's cookies, over plain HTTP.

    Fix: build the allow-list per environment: django-cors-headers `CORS_ALLOWED_ORIGINS` from
    an environment variable, with localhost only in development settings; Flask-CORS
    `origins=app.config["CORS_ORIGINS"]` with a production config that lists only the public
    origins.
    """
    if not env.production:
        not_applicable("production is not set (development origins are allowed outside production)")
    target = _target(need)
    problems = []
    for origin in inputs["dev_origins"]:
        if origin.lower() in {o.lower() for o in target.allowed}:
            problems.append(f"{origin} is listed in api.cors.allowed_origins of a production environment")
        answers = [_preflight(probe, target, origin), _actual(probe, target, origin)]
        echoed = [e for e in answers if _value(e, ACAO).lower() == origin.lower()]
        if echoed:
            creds = f" with credentials ({ACAC}: true)" if any(_credentialed(e) for e in echoed) else ""
            problems.append(
                f"{origin} is allowed in production: echoed in {ACAO} by {_which(echoed)}{creds} ('Development only')"
            )
    fail_on(problems)


@check(
    "CORS-05",
    severity="medium",
    guide="H: CORS Issues",
)
def test_responses_vary_by_origin(need, probe) -> None:
    """CORS responses vary by origin.

    Rationale: when Access-Control-Allow-Origin depends on the request's Origin, a browser cache,
    CDN or proxy that stores the answer for one origin serves it to another unless the response
    says `Vary: Origin`. Users then see intermittent "CORS policy errors in browser" that no one
    can reproduce, depending on which origin warmed the cache.

    Fix: send `Vary: Origin` on every response whose CORS headers depend on Origin: Flask-CORS
    does with `vary_header=True` (the default), django-cors-headers always does; in nginx add
    `add_header Vary Origin always;` next to any `$http_origin`-based header.
    """
    target = _target(need)
    pairs = [
        ("OPTIONS", _preflight(probe, target, target.origin), _preflight(probe, target, EVIL)),
        ("GET", _actual(probe, target, target.origin), _actual(probe, target, EVIL)),
    ]
    problems = []
    for method, allowed, hostile in pairs:
        mine, theirs = _value(allowed, ACAO), _value(hostile, ACAO)
        if mine == theirs:
            continue  # the same answer for every origin: caching it is harmless
        sides = [(target.origin, allowed, mine, EVIL, theirs), (EVIL, hostile, theirs, target.origin, mine)]
        for origin, answer, value, other, other_value in sides:
            if not value or value == "*":
                continue
            vary = _tokens(answer.header("vary"))
            if "origin" not in vary and "*" not in vary:
                problems.append(
                    f"{method} {target.url} with Origin: {origin} answers {ACAO}: {value} ({other} gets "
                    f"{_shown(other_value)}), but Vary lacks Origin (Vary: {_shown(_value(answer, 'vary'))})"
                )
    fail_on(problems)


@check(
    "CORS-06",
    severity="high",
    guide="H: CORS Issues",
)
def test_actual_requests_carry_cors(need, probe) -> None:
    """Actual requests carry the same CORS headers as their preflight.

    Rationale: the preflight only asks for permission; the browser checks Access-Control-Allow-Origin
    (and Allow-Credentials) again on the real response. When nginx answers OPTIONS itself but the
    application sends no CORS headers, or the two disagree, the preflight passes and the real
    call is still "blocked by CORS policy", which is hard to see with curl alone.

    Fix: let one layer own CORS. Either the application (Flask-CORS or django-cors-headers, which
    answer both OPTIONS and the real request) with no CORS in nginx, or nginx with the same
    `add_header Access-Control-Allow-Origin $cors_origin always;` and Allow-Credentials on every
    API response, not only inside `if ($request_method = OPTIONS)`.
    """
    target = _target(need)
    preflight = _preflight(probe, target, target.origin)
    actual = _actual(probe, target, target.origin)
    where = f"GET {target.url} with Origin: {target.origin}"
    before, after = _value(preflight, ACAO), _value(actual, ACAO)
    if not before:
        fail_on([f"the preflight for {target.origin} carries no {ACAO}, so there is nothing to compare (see CORS-01)"])
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
