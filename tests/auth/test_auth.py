"""AUTH: the API's authentication, probed from outside: open routes, forged JWTs, the auth service, login limits."""

from __future__ import annotations

import base64
import secrets
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from fixtures.check import (
    LIMITED,
    Ask,
    Burst,
    EnvironmentModel,
    Exchange,
    HttpCache,
    Login,
    LoginFailed,
    Need,
    Probe,
    UserSession,
    burst,
    check,
    early_or_now,
    fail,
    fail_on,
    join_url,
    login_body,
    login_paths,
    not_applicable,
    read_csrf,
    site_url,
)

REDIRECTS = (301, 302, 303, 307, 308)


def _claims(token: str) -> dict[str, Any]:
    import jwt

    return jwt.decode(token, options={"verify_signature": False, "verify_exp": False})


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _jwt(session: UserSession) -> str:
    """The session's token, which must be a JWT for these checks."""
    token = session.token
    if not token or token.count(".") != 2:
        not_applicable("the session's token is not a JWT (header.payload.signature)", key="session.token")
    return token


def prefetch(env: EnvironmentModel, inputs: Any) -> list[Ask]:
    """AUTH-01's anonymous requests and AUTH-03's health URL (the rest needs the session or a burst)."""
    asks: list[Ask] = []
    if inputs("AUTH-01") is not None:
        routes = env.api.auth.protected if env.api and env.api.auth else []
        asks += [Ask("GET", join_url(env.api.url, route)) for route in routes] if env.api else []
        asks += [Ask("GET", site_url(env, page)) for page in (env.web.pages if env.web else [])]
    health = env.lookup("api.auth.health")
    if inputs("AUTH-03") is not None and health:
        asks.append(Ask("GET", join_url(env.api.url, health)))
    return asks


@check(
    "AUTH-01",
    severity="critical",
    guide=["H: Authentication Bypass", "H: Authentication Issues"],
    references=["OWASP API Security Top 10: API2 Broken Authentication"],
    standards=["ASVS:V4.1.3"],
)
def test_protected_routes_reject_anonymous_callers(need: Need, probe: Probe, env: EnvironmentModel) -> None:
    """Protected routes reject anonymous callers.

    Rationale: a view whose login decorator was forgotten, or a route added to the API without
    being added to the authentication layer, serves its data to anyone who knows the URL: the
    H guide's "unauthorized access" under Authentication Bypass. Each protected API route
    (api.auth.protected), called with no cookie and no Authorization header, must answer 401 or
    403. Each login-gated page (web.pages) must answer 401 or 403 or redirect to the declared
    login page (web.login_page, or the session's login page).

    Fix: protect the route in the application (Flask: @login_required or a before_request check
    that covers it; Django: @login_required or LoginRequiredMixin on views, and permission_classes =
    [IsAuthenticated] in Django REST framework), and list every private route under
    api.auth.protected and every private page under web.pages so this check keeps covering it.
    """
    routes = [(join_url(env.api.url, r), False) for r in env.api.auth.protected] if env.api and env.api.auth else []
    routes += [(site_url(env, page), True) for page in (env.web.pages if env.web else [])]
    if not routes:
        need("api.auth.protected")
    login_pages = login_paths(env)
    problems = []
    for url, page in routes:
        exchange = probe.get(url)
        if exchange.status in (401, 403):
            continue
        location = exchange.header("location") or ""
        if page and exchange.status in REDIRECTS and urlsplit(location).path in login_pages:
            continue
        problems.append(_anonymous_problem(url, exchange, page, login_pages))
    fail_on(problems)


def _anonymous_problem(url: str, exchange: Exchange, page: bool, login_pages: set[str]) -> str:
    expected = "401 or 403" + (f", or a redirect to the login page ({', '.join(sorted(login_pages))})" if page else "")
    if 200 <= exchange.status < 300:
        return (
            f"GET {url} answered {exchange.status} {exchange.content_type or ''} without credentials: "
            f"the {'page' if page else 'route'} is open to anonymous callers; expected {expected}"
        )
    if exchange.status in REDIRECTS:
        where = exchange.header("location") or "(no Location)"
        if page and not login_pages:
            return f"GET {url} redirected to {where}: declare web.login_page so the redirect can be told apart"
        return f"GET {url} answered {exchange.status} to {where} without credentials; expected {expected}"
    return f"GET {url} answered {exchange.status} without credentials; expected {expected}"


@check(
    "AUTH-02",
    severity="critical",
    guide=["H: Authentication Bypass", "H: JWT Token Issues"],
    inputs={"expired_by_seconds": 3600},
    references=["RFC 8725 JSON Web Token Best Current Practices", "PyJWT: decode(algorithms=...)"],
    standards=["ASVS:V3.5.3", "RFC:8725", "RFC:7519"],
)
def test_forged_tokens_are_rejected(
    need: Need, probe: Probe, http_cache: HttpCache, env: EnvironmentModel, request: Any, inputs: dict[str, Any]
) -> None:
    """Forged and expired tokens are rejected.

    Rationale: a JWT verifier that accepts `alg: none`, that decodes without verifying the
    signature (PyJWT's verify_signature=False, jsonwebtoken's decode instead of verify), or that
    ignores `exp` lets anyone mint a token for any user, or keeps a stolen token valid forever:
    the H guide's JWT validation failures under Authentication Bypass. This applies where the API
    takes tokens (session.token). Against the first route of api.auth.protected, the session's
    genuine token must be accepted in the declared header and scheme (session.token.header and
    scheme: `Authorization: Bearer`, `Token`, `JWT`, ...), and an unsigned `alg: none` token, the
    genuine token with a tampered signature, and (when api.auth.secret is configured) a correctly
    signed token that expired an hour ago must each answer 401.

    Fix: decode with an explicit allow-list of algorithms (PyJWT: jwt.decode(token, key,
    algorithms=["HS256"]); never "none", never options={"verify_signature": False} or
    {"verify_exp": False}), require exp, and keep a small leeway for clock skew only.
    """
    api_url: str = need("api.url")
    routes: list[str] = need("api.auth.protected")
    if env.session is None or env.session.token is None:
        not_applicable("the API takes no tokens here: session.token is not declared", key="session.token")
    spec = env.session.token
    session: UserSession = request.getfixturevalue("session")
    genuine = _jwt(session)
    target = join_url(api_url, routes[0])
    scheme = f"{spec.header}: {spec.scheme} <token>".replace("  ", " ")
    forged = _forgeries(_claims(genuine), genuine, env.lookup("api.auth.secret"), int(inputs["expired_by_seconds"]))
    # The genuine token and the forgeries side by side: one round trip at any distance.
    tokens = [genuine, *(token for _, token in forged)]
    http_cache.prefetch([Ask("GET", target, tuple(spec.authorization(token).items())) for token in tokens])
    accepted = probe.get(target, headers=spec.authorization(genuine))
    if accepted.status == 401:
        fail(
            f"GET {target} with the session's genuine token ({scheme}) answered 401: the API does not accept "
            "tokens this way, so forged ones cannot be told apart (check session.token.scheme and header)"
        )
    problems = []
    for what, token in forged:
        exchange = probe.get(target, headers=spec.authorization(token))
        if exchange.status == 401:
            continue
        verdict = ": accepted" if 200 <= exchange.status < 300 else ""
        problems.append(
            f"GET {target} with a forged token, {what}, answered {exchange.status}{verdict}; expected 401 "
            f"(sent as {scheme})"
        )
    fail_on(problems)


def _forgeries(claims: dict[str, Any], genuine: str | None, secret: str | None, ago: int) -> list[tuple[str, str]]:
    """(what, token): unsigned, tampered, and (with the signing secret) expired but correctly signed."""
    import jwt

    now = int(time.time())
    forged: list[tuple[str, str]] = [
        ("alg none (an unsigned token)", jwt.encode({**claims, "iat": now, "exp": now + 600}, None, algorithm="none")),
    ]
    if genuine is not None:
        head, body, signature = genuine.split(".")
        size = len(base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4))) or 32
        tampered = f"{head}.{body}.{_b64(secrets.token_bytes(size))}"
        forged.append(("a tampered signature (genuine claims, random signature)", tampered))
    else:
        tampered = jwt.encode(claims, secrets.token_urlsafe(32), algorithm="HS256")
        forged.append(("a tampered signature (signed with another key)", tampered))
    if secret:
        algorithm = jwt.get_unverified_header(genuine)["alg"] if genuine else "HS256"
        if not algorithm.startswith("HS"):
            algorithm = "HS256"
        expired = {**claims, "iat": now - ago - 900, "exp": now - ago}
        forged.append(
            (f"an expired exp ({ago} s ago, correctly signed)", jwt.encode(expired, secret, algorithm=algorithm))
        )
    return forged


@check(
    "AUTH-03",
    severity="high",
    guide=["H: Authentication Issues", "V: Login Fails with Correct Credentials"],
)
def test_auth_service_is_up(need: Need, probe: Probe) -> None:
    """The auth service is up.

    Rationale: "users cannot log in" starts, in the H guide's diagnosis, with the auth service's
    own health URL (`curl -f https://api.../v1/auth/health`). It must answer 200 from the service
    itself: a 5xx, a 404 from a proxy that does not route it, or a 200 HTML page from the SPA
    fallback all mean that logins are failing or about to.

    Fix: route the auth paths to the API in nginx (a `location /api/` or `location /api/auth/`
    with proxy_pass, ahead of the SPA's `location /`), and make the health view check what the
    auth service needs (its signing key, its user store).
    """
    url = join_url(need("api.url"), need("api.auth.health"))
    exchange = probe.get(url)
    if exchange.status != 200:
        fail(f"GET {url} answered {exchange.status}; expected 200 from the auth service")
    if exchange.content_type == "text/html":
        fail(
            f"GET {url} answered 200 text/html, an HTML page, not the auth service: the SPA fallback or "
            "another location answers the auth health URL"
        )


@check(
    "AUTH-04",
    severity="high",
    guide=["H: DDoS Attacks", "H: Authentication Bypass"],
    inputs={"attempts": 40, "concurrency": 8, "per_second": 30, "source_address": None, "recovery_seconds": 15},
    intrusive=True,
    phase="burst",
    references=["nginx limit_req (zone=login)", "OWASP Authentication Cheat Sheet: login throttling"],
    standards=["ASVS:V2.2.1"],
)
def test_login_is_rate_limited(
    need: Need, env: EnvironmentModel, http_cache: HttpCache, inputs: dict[str, Any]
) -> None:
    """Login is rate limited.

    Rationale: without a limit on the login endpoint an attacker can try passwords as fast as the
    server answers (the H guide's "suspicious login attempts", more than 10 failures an hour from
    one address). The declared login (session.login) is sent as the real one is sent (the JSON body
    in its own shape, or the form with a CSRF pair read from the login page), with made-up
    credentials. The first answer shows what a failed login looks like here (401, or the form
    again); a 400, a 403 (a CSRF rejection) or a 5xx is not a failed login, and the check says so.
    Then up to `attempts` such logins, over enough connections to send `per_second` a second at the
    measured round trip (`concurrency` at least), must end in 429. The burst
    stops at the first 429 and waits, up to `recovery_seconds`, until logins are served again; it
    runs after every check that needs the session. `source_address` sends it from another local
    address of the runner.

    Fix: in nginx, `limit_req_zone $binary_remote_addr zone=login:10m rate=1r/s;` at http level,
    `limit_req zone=login burst=5 nodelay;` in the login (and token) locations, and
    `limit_req_status 429;` (the default answer is 503).
    """
    login: Login = need("session.login")
    result = early_or_now(*_login_burst(env, login, inputs, http_cache))
    if result.statuses[LIMITED]:
        return
    status = next(iter(result.statuses))
    # A login that hashes passwords slows down under the burst until it stops answering: not limited either.
    stopped = (
        f", then {result.error}: the logins overloaded the server instead of being limited" if result.error else ""
    )
    fail(
        f"{result.summary()}: none answered 429 after {result.statuses[status]} failed logins (a failed login "
        f"answers {status} here){stopped}; expected the login rate limit (nginx limit_req zone=login with "
        "limit_req_status 429)"
    )


def bursts(env: EnvironmentModel, inputs: Any, http_cache: HttpCache) -> list[tuple[str, Callable[[], Burst]]]:
    """AUTH-04's burst, started with the burst phase (fixtures.early)."""
    selected, login = inputs("AUTH-04"), env.lookup("session.login")
    return [_login_burst(env, login, selected, http_cache)] if selected is not None and login is not None else []


def _login_burst(
    env: EnvironmentModel, login: Login, inputs: dict[str, Any], http_cache: HttpCache
) -> tuple[str, Callable[[], Burst]]:
    """(key, work): AUTH-04's burst of logins with made-up credentials."""
    url = site_url(env, login.path)

    def work() -> Burst:
        headers, body = _wrong_login(http_cache, env, login)
        return burst(
            http_cache,
            login.method,
            url,
            count=int(inputs["attempts"]),
            concurrency=int(inputs["concurrency"]),
            per_second=float(inputs["per_second"]),
            headers=headers,
            body=body,
            source_address=inputs["source_address"],
            recover_within=float(inputs["recovery_seconds"]),
            first=_a_failed_login,
        )

    return f"AUTH-04 {login.method} {url} {sorted(inputs.items())!r}", work


def _a_failed_login(first: Burst) -> None:
    """The burst's first answer, to a login with made-up credentials: a 400, 403 or 5xx is not a failed login
    (and a 429 ends the burst as limited)."""
    if first.error:
        fail(f"the login burst could not start: {first.error}")
    status = next(iter(first.statuses))
    if status in (400, 403) or status >= 500:
        fail(
            f"{first.method} {first.url} with made-up credentials answered {status}, which is not a failed login "
            f"({'a CSRF rejection or a refused request' if status in (400, 403) else 'a server error'}): "
            "the burst would not test the login's limit; check session.login (its body shape, its csrf field)"
        )


def _wrong_login(cache: HttpCache, env: EnvironmentModel, login: Login) -> tuple[dict[str, str], Any]:
    """The login's headers and a body factory: the declared shape with every value made up (a fresh
    CSRF pair for a form)."""
    headers: dict[str, str] = {}
    fields: dict[str, str] = {}
    if login.csrf is not None:
        try:
            form = read_csrf(cache, env, login, fresh=True)
        except LoginFailed as exc:
            fail(f"the login form could not be read for the burst: {exc}")
        headers, fields = form.headers, form.fields

    def body(index: int) -> bytes | None:
        wrong = login.model_copy(update={"json_body": _made_up(login.json_body), "form": _made_up(login.form)})
        return login_body(wrong, fields)[1]

    return {**headers, **login_body(login)[0]}, body


def _made_up(node: Any) -> Any:
    """The same shape with every string replaced: an address where there was one, else a random word."""
    if isinstance(node, dict):
        return {key: _made_up(value) for key, value in node.items()}
    if isinstance(node, list):
        return [_made_up(value) for value in node]
    if isinstance(node, str):
        if "@" in node:
            return f"preflight-burst-{secrets.token_hex(4)}@invalid.example"
        return secrets.token_urlsafe(12)
    return node


@check(
    "AUTH-05",
    severity="medium",
    guide=["H: JWT Token Issues", "V: Session Expires Too Quickly"],
    inputs={"max_minutes": 60},
    references=["OWASP JSON Web Token Cheat Sheet: token lifetime"],
)
def test_token_lifetime_is_inside_policy(
    need: Need, env: EnvironmentModel, request: Any, inputs: dict[str, Any]
) -> None:
    """Issued access tokens live no longer than the policy.

    Rationale: an access JWT cannot be revoked before its exp; a token that lives a week (or has
    no exp at all) turns any leak (a log line, a browser extension, a shared screenshot) into a
    week of access, and a rotated secret is the only way out (the H guide's "refresh JWT secret
    if compromised"). The token the session obtained (session.token: from its own request, or at
    session.token.at in the login's answer) must have exp - iat within `max_minutes`.

    Fix: issue short-lived access tokens (SIMPLE_JWT ACCESS_TOKEN_LIFETIME or
    JWT_ACCESS_TOKEN_EXPIRES of 5 to 60 minutes) and renew them with a refresh token.
    """
    need("session.token")
    session: UserSession = request.getfixturevalue("session")
    token = _jwt(session)
    claims = _claims(token)
    limit = float(inputs["max_minutes"])
    exp = claims.get("exp")
    where = "the session's token"
    if not isinstance(exp, int | float):
        fail(f"{where} has no exp claim: it never expires; expected at most {limit:g} minutes")
    iat = claims.get("iat")
    start = iat if isinstance(iat, int | float) else time.time()
    minutes = (exp - start) / 60
    if minutes > limit:
        fail(
            f"{where} lives {minutes:.0f} minutes (exp - iat); the policy allows {limit:g} minutes "
            "(inputs.AUTH-05.max_minutes)"
        )


@check(
    "AUTH-06",
    severity="high",
    guide=["V: Login Fails with Correct Credentials", "H: Authentication Issues"],
)
def test_declared_login_works(login_attempt: UserSession | LoginFailed, evidence: Any) -> None:
    """The declared login works.

    Rationale: the smoke user's login (session:) is what every check of a logged-in page, a
    session cookie or a token stands on. When it fails ("Login Fails with Correct Credentials":
    wrong credentials, a CSRF field that moved, a login throttled by its own rate limit, a token
    no longer where it was), this check fails once and names what the login answered; the checks
    that needed the session are blocked by it instead of failing again.

    Fix: make the declared login match the application: session.login (its path, JSON shape or
    form fields, csrf.field), session.token (request, at, scheme), and the smoke user's
    credentials in the variables the file names. A 429 means the runner's address was throttled.
    """
    if isinstance(login_attempt, LoginFailed):
        fail(str(login_attempt))
    evidence.add(login_attempt.describe(), key="session")
