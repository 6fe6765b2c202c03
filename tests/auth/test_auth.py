"""AUTH: the API's authentication, probed from outside: open routes, forged JWTs, the auth service, login limits."""

from __future__ import annotations

import base64
import json
import secrets
import time
from typing import Any

from fixtures.check import (
    LIMITED,
    Exchange,
    HttpCache,
    Need,
    Probe,
    TokenRequest,
    burst,
    check,
    fail,
    fail_on,
    join_url,
)

JSON = {"Content-Type": "application/json"}
# Keys under which token endpoints commonly return the access token.
TOKEN_KEYS = ("access", "access_token", "token", "jwt")


def _token_exchange(need: Need, probe: Probe) -> tuple[str, Exchange]:
    request: TokenRequest = need("api.auth.token")
    url = join_url(need("api.url"), request.path)
    # A deterministic body: AUTH-02 and AUTH-05 share the one cached exchange.
    body = json.dumps(request.json_body, sort_keys=True, separators=(",", ":")).encode()
    return url, probe.fetch("POST", url, JSON, body)


def _issued_token(need: Need, probe: Probe) -> tuple[str, str]:
    """(token URL, access token) issued for the smoke credentials; fails when none is issued."""
    url, exchange = _token_exchange(need, probe)
    if exchange.status != 200:
        fail(
            f"POST {url} answered {exchange.status}, expected 200 with a token: the smoke credentials "
            "(api.auth.token.json) are wrong or the token endpoint is broken"
        )
    try:
        document = json.loads(exchange.text)
    except ValueError:
        document = None
    token = next((document[k] for k in TOKEN_KEYS if isinstance(document, dict) and document.get(k)), None)
    if not isinstance(token, str) or token.count(".") != 2:
        fail(f"POST {url} answered 200 but its JSON has no JWT under {', '.join(TOKEN_KEYS)}")
    return url, token


def _claims(token: str) -> dict[str, Any]:
    import jwt

    return jwt.decode(token, options={"verify_signature": False, "verify_exp": False})


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _bearer(probe: Probe, url: str, token: str) -> Exchange:
    return probe.get(url, headers={"Authorization": f"Bearer {token}"})


@check(
    "AUTH-01",
    severity="critical",
    guide=["H: Authentication Bypass", "H: Authentication Issues"],
    references=["OWASP API Security Top 10: API2 Broken Authentication"],
)
def test_protected_routes_reject_anonymous_callers(need: Need, probe: Probe) -> None:
    """Protected routes reject anonymous callers.

    Rationale: a view whose login decorator was forgotten, or a route added to the API without
    being added to the authentication layer, serves its data to anyone who knows the URL: the
    H guide's "unauthorized access" under Authentication Bypass. Each configured protected route,
    called with no cookie and no Authorization header, must answer 401 or 403.

    Fix: protect the route in the application (Flask: @login_required or a before_request check
    that covers it; Django REST framework: permission_classes = [IsAuthenticated], or a default
    permission class in settings), and list every private route under api.auth.protected so this
    check keeps covering it.
    """
    api_url: str = need("api.url")
    routes: list[str] = need("api.auth.protected")
    problems = []
    for route in routes:
        url = join_url(api_url, route)
        exchange = probe.get(url)
        if exchange.status in (401, 403):
            continue
        if 200 <= exchange.status < 300:
            problems.append(
                f"GET {url} answered {exchange.status} {exchange.content_type or ''} without credentials: "
                "the route is open to anonymous callers; expected 401 or 403"
            )
        else:
            problems.append(f"GET {url} answered {exchange.status} without credentials; expected 401 or 403")
    fail_on(problems)


@check(
    "AUTH-02",
    severity="critical",
    guide=["H: Authentication Bypass", "H: JWT Token Issues"],
    inputs={"expired_by_seconds": 3600},
    references=["RFC 8725 JSON Web Token Best Current Practices", "PyJWT: decode(algorithms=...)"],
)
def test_forged_tokens_are_rejected(need: Need, probe: Probe, inputs: dict[str, Any]) -> None:
    """Forged and expired tokens are rejected.

    Rationale: a JWT verifier that accepts `alg: none`, that decodes without verifying the
    signature (PyJWT's verify_signature=False, jsonwebtoken's decode instead of verify), or that
    ignores `exp` lets anyone mint a token for any user, or keeps a stolen token valid forever:
    the H guide's JWT validation failures under Authentication Bypass. Against the first route of
    api.auth.protected, a genuine token from api.auth.token must be accepted, and an unsigned
    `alg: none` token, the genuine token with a tampered signature, and (when api.auth.secret is
    configured) a correctly signed token that expired an hour ago must each answer 401. Without
    api.auth.token the forgeries carry made-up claims.

    Fix: decode with an explicit allow-list of algorithms (PyJWT: jwt.decode(token, key,
    algorithms=["HS256"]); never "none", never options={"verify_signature": False} or
    {"verify_exp": False}), require exp, and keep a small leeway for clock skew only.
    """
    api_url: str = need("api.url")
    routes: list[str] = need("api.auth.protected")
    target = join_url(api_url, routes[0])
    now = int(time.time())
    genuine: str | None = None
    if need("api.auth").token is not None:
        _, genuine = _issued_token(need, probe)
        claims = _claims(genuine)
        accepted = _bearer(probe, target, genuine)
        if accepted.status == 401:
            fail(
                f"GET {target} with the genuine token from api.auth.token answered 401: Bearer tokens are not "
                "accepted here at all, so forged ones cannot be told apart (is the route protected by JWT?)"
            )
    else:
        claims = {"sub": "1", "iat": now, "exp": now + 600}

    problems = []
    for what, token in _forgeries(claims, genuine, need("api.auth").secret, int(inputs["expired_by_seconds"])):
        exchange = _bearer(probe, target, token)
        if exchange.status == 401:
            continue
        verdict = ": accepted" if 200 <= exchange.status < 300 else ""
        problems.append(f"GET {target} with a forged token, {what}, answered {exchange.status}{verdict}; expected 401")
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
    inputs={"attempts": 40, "concurrency": 8, "source_address": None, "recovery_seconds": 15},
    intrusive=True,
    references=["nginx limit_req (zone=login)", "OWASP Authentication Cheat Sheet: login throttling"],
)
def test_login_is_rate_limited(need: Need, http_cache: HttpCache, inputs: dict[str, Any]) -> None:
    """Login is rate limited.

    Rationale: without a limit on the login endpoint an attacker can try passwords as fast as the
    server answers (the H guide's "suspicious login attempts", more than 10 failures an hour from
    one address). Up to `attempts` logins with a made-up address and a wrong password, sent over
    `concurrency` connections (a login that hashes passwords for a second would otherwise never
    outrun the limit it is meant to test), must end in 429 (nginx `limit_req zone=login`,
    `limit_req_status 429`). The burst stops at the first 429 and then waits, up to
    `recovery_seconds`, until logins are served again. `source_address` sends it from another
    local address of the runner, so the rest of the run is not throttled.

    Fix: in nginx, `limit_req_zone $binary_remote_addr zone=login:10m rate=1r/s;` at http level,
    `limit_req zone=login burst=5 nodelay;` in the login (and token) locations, and
    `limit_req_status 429;` (the default answer is 503).
    """
    url = join_url(need("api.url"), need("api.auth.login"))
    attempts = int(inputs["attempts"])

    def body(index: int) -> bytes:
        email = f"preflight-burst-{secrets.token_hex(4)}@invalid.example"
        return json.dumps({"email": email, "password": secrets.token_urlsafe(12)}).encode()

    result = burst(
        http_cache,
        "POST",
        url,
        count=attempts,
        headers=JSON,
        body=body,
        concurrency=int(inputs["concurrency"]),
        source_address=inputs["source_address"],
        recover_within=float(inputs["recovery_seconds"]),
    )
    if result.error:
        fail(f"the login burst could not complete: {result.error} ({result.summary()})")
    if result.statuses[LIMITED]:
        return
    fail(
        f"{result.summary()}: none answered 429 after {attempts} failed logins; expected the login rate limit "
        "(nginx limit_req zone=login with limit_req_status 429)"
    )


@check(
    "AUTH-05",
    severity="medium",
    guide=["H: JWT Token Issues", "V: Session Expires Too Quickly"],
    inputs={"max_minutes": 60},
    references=["OWASP JSON Web Token Cheat Sheet: token lifetime"],
)
def test_token_lifetime_is_inside_policy(need: Need, probe: Probe, inputs: dict[str, Any]) -> None:
    """Issued access tokens live no longer than the policy.

    Rationale: an access JWT cannot be revoked before its exp; a token that lives a week (or has
    no exp at all) turns any leak (a log line, a browser extension, a shared screenshot) into a
    week of access, and a rotated secret is the only way out (the H guide's "refresh JWT secret
    if compromised"). A token issued for the smoke credentials must have exp - iat within
    `max_minutes`.

    Fix: issue short-lived access tokens (SIMPLE_JWT ACCESS_TOKEN_LIFETIME or
    JWT_ACCESS_TOKEN_EXPIRES of 5 to 60 minutes) and renew them with a refresh token.
    """
    url, token = _issued_token(need, probe)
    claims = _claims(token)
    limit = float(inputs["max_minutes"])
    exp = claims.get("exp")
    if not isinstance(exp, int | float):
        fail(f"the token issued by POST {url} has no exp claim: it never expires; expected at most {limit:g} minutes")
    iat = claims.get("iat")
    start = iat if isinstance(iat, int | float) else time.time()
    minutes = (exp - start) / 60
    if minutes > limit:
        fail(
            f"the token issued by POST {url} lives {minutes:.0f} minutes (exp - iat); the policy allows "
            f"{limit:g} minutes (inputs.AUTH-05.max_minutes)"
        )
