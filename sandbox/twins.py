"""The twins: the good stack and its named misconfigurations.

A twin is a small override of the good stack's nginx knobs (sandbox.nginx.DEFAULT_KNOBS), app
settings (sandbox.settings.DEFAULT_SETTINGS) or postgresql.conf. `breaks` maps each check the twin
must fail to a regex its failure message must match. `env` is deep-merged into the environment
file by the self-tests, for twins whose misconfiguration is in the declared configuration;
`${VAR}` placeholders in it are left for the environment loader.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

H = "001_78cd32186fd6cabf.txt"  # VeriHome guide
V = "000_58cfc3a4ec8581b0.txt"  # Verso-Backend guide


@dataclass(frozen=True)
class Twin:
    name: str
    description: str
    guide: str
    breaks: dict[str, str]
    nginx: dict[str, Any] = field(default_factory=dict)
    app: dict[str, Any] = field(default_factory=dict)
    postgres: dict[str, str] = field(default_factory=dict)
    hold_connections: int = 0
    env: dict[str, Any] = field(default_factory=dict)


_TWINS = [
    Twin(
        name="good",
        description="The reference deployment: every check passes.",
        guide="",
        breaks={},
    ),
    # --- SPA -------------------------------------------------------------------------------
    Twin(
        name="spa-no-fallback",
        description="nginx `location /` lacks the try_files fallback to /index.html: deep links "
        "and refreshes answer 404.",
        guide=f"{H}: Routing Issues",
        breaks={
            "SPA-01": r"/properties/42 answered 404",
        },
        nginx={"spa_fallback": False},
    ),
    Twin(
        name="spa-assets-fallback",
        description="The /static/ location falls back to /index.html: a missing asset answers "
        "200 text/html instead of 404.",
        guide=f"{H}: Routing Issues",
        breaks={
            "SPA-02": r"answered 200 text/html \(the app shell\): the SPA fallback swallows missing assets",
        },
        nginx={"assets_fallback": True},
    ),
    Twin(
        name="spa-shell-cached",
        description="index.html is served with `expires 30d`: browsers keep an old shell that "
        "names bundles a deploy has removed.",
        guide=f"{V}: Static Files Not Loading",
        breaks={
            "SPA-03": r"sends Cache-Control: max-age=2592000",
        },
        nginx={"shell_cache_control": None, "shell_expires": "30d"},
    ),
    Twin(
        name="spa-shell-no-cache-header",
        description="index.html is served with no Cache-Control at all: browsers cache it "
        "heuristically from Last-Modified and keep an old shell after a deploy.",
        guide=f"{V}: Static Files Not Loading",
        breaks={
            "SPA-03": r"expected Cache-Control no-cache",
        },
        nginx={"shell_cache_control": None},
    ),
    Twin(
        name="spa-assets-short-cache",
        description="Hashed assets are cached for one hour (`expires 1h`) instead of 30 days.",
        guide=f"{V}: Static Files Not Loading",
        breaks={
            "SPA-04": r"is cached for 1 hour \(Cache-Control: max-age=3600\)",
        },
        nginx={"assets_expires": "1h", "assets_cache_control": None},
    ),
    Twin(
        name="spa-assets-wrong-type",
        description="mime.types is not included: JS and CSS are served as "
        "application/octet-stream (and so are not gzipped either).",
        guide=f"{V}: Static Files Not Loading",
        breaks={
            "SPA-04": r"served with Content-Type application/octet-stream",
            "SPA-05": r"Content-Encoding \(none\)",
        },
        nginx={"mime_types": False},
    ),
    Twin(
        name="spa-no-gzip",
        description="gzip is off: JS, CSS and HTML go out uncompressed.",
        guide=f"{H}: Slow Performance",
        breaks={
            "SPA-05": r"Content-Encoding \(none\) to Accept-Encoding: gzip, br",
        },
        nginx={"gzip": False},
    ),
    Twin(
        name="spa-dev-build",
        description="The development build was deployed: the bundle calls "
        "http://localhost:5000/api and its source map is public.",
        guide=f"{H}: Build Failures",
        breaks={
            "SPA-06": r"references http://localhost:5000/api.*\.map is served",
        },
        nginx={"build": "dev"},
    ),
    Twin(
        name="spa-api-swallowed",
        description="nginx proxies only /api/v1/, /api/health and /api/auth/: any other /api "
        "path falls into the SPA fallback and answers 200 with the HTML shell.",
        guide=f"{H}: Routing Issues",
        breaks={
            "SPA-07": r"answered 200 text/html \(the app shell\): the SPA fallback swallows unknown API paths",
        },
        nginx={"api_locations": ["/api/v1/", "= /api/health", "/api/auth/"]},
    ),
    # --- CORS ------------------------------------------------------------------------------
    Twin(
        name="cors-reflect-any",
        description="CORS reflects any Origin together with Allow-Credentials "
        "(Flask-CORS origins=r'.*', supports_credentials=True).",
        guide=f"{H}: CORS Issues",
        breaks={
            "CORS-03": r"https://evil\.example was echoed in Access-Control-Allow-Origin",
            "CORS-04": r"http://localhost:3000 is allowed in production",
        },
        app={"cors": {"origins": r".*"}},
    ),
    Twin(
        name="cors-unanchored-regex",
        description="The allowed-origin regex is unanchored (https://.*app\\.preflight\\.test.*): "
        "https://app.preflight.test.evil.example is allowed.",
        guide=f"{H}: CORS Issues",
        breaks={
            "CORS-03": r"https://app\.preflight\.test\.evil\.example .*was echoed",
        },
        app={"cors": {"origins": [r"https://.*app\.preflight\.test.*"]}},
    ),
    Twin(
        name="cors-wildcard-credentials",
        description="An nginx snippet sends Access-Control-Allow-Origin * with "
        "Allow-Credentials true on /api/, hiding the app's own CORS headers.",
        guide=f"{H}: CORS Issues",
        breaks={
            "CORS-01": r"Access-Control-Allow-Origin is \*; expected exactly https://app\.preflight\.test",
            "CORS-02": r"Access-Control-Allow-Origin: \* together with Access-Control-Allow-Credentials: true",
            "CORS-03": r"got Access-Control-Allow-Origin: \* with Access-Control-Allow-Credentials: true",
        },
        nginx={"cors": "wildcard-credentials"},
    ),
    Twin(
        name="cors-no-credentials",
        description="CORS is configured without credentials: the SPA's cookie-authenticated "
        "calls are blocked (no Access-Control-Allow-Credentials).",
        guide=f"{H}: CORS Configuration",
        breaks={
            "CORS-02": r"carries Access-Control-Allow-Credentials: \(none\); expected true",
        },
        app={"cors": {"supports_credentials": False}},
    ),
    Twin(
        name="cors-missing-header",
        description="CORS allow_headers lacks x-csrftoken: preflights for the SPA's writes fail.",
        guide=f"{H}: CORS Configuration",
        breaks={
            "CORS-01": r"Access-Control-Allow-Headers \(.*\) lacks x-csrftoken",
        },
        app={"cors": {"allow_headers": ["authorization", "content-type"]}},
    ),
    Twin(
        name="cors-dev-origins",
        description="The 'Development only' origins http://localhost:3000 and "
        "http://127.0.0.1:3000 were left in the production CORS list.",
        guide=f"{H}: CORS Configuration",
        breaks={
            "CORS-04": r"http://localhost:3000 is allowed in production",
        },
        app={
            "cors": {
                "origins": [
                    "https://app.preflight.test",
                    "https://www.preflight.test",
                    "http://localhost:3000",
                    "http://127.0.0.1:3000",
                ]
            }
        },
    ),
    Twin(
        name="cors-no-vary",
        description="CORS answers depend on Origin but carry no Vary: Origin "
        "(Flask-CORS vary_header=False): shared caches mix up origins.",
        guide=f"{H}: CORS Issues",
        breaks={
            "CORS-05": r"Vary lacks Origin",
        },
        app={"cors": {"vary_header": False}},
    ),
    Twin(
        name="cors-preflight-only",
        description="nginx answers the OPTIONS preflight itself while the app has no CORS: "
        "the real GET carries no Access-Control-Allow-Origin.",
        guide=f"{H}: CORS Issues",
        breaks={
            "CORS-06": r"carries Access-Control-Allow-Origin: \(none\), but its preflight answered",
        },
        nginx={"cors": "preflight-only"},
        app={"cors": {"enabled": False}},
    ),
    # --- COOK ------------------------------------------------------------------------------
    Twin(
        name="cookie-not-secure",
        description="SESSION_COOKIE_SECURE = False and the remember cookie lacks Secure: "
        "session cookies can leak over plain HTTP.",
        guide=f"{V}: SSL/HTTPS Issues",
        breaks={
            "COOK-01": r"cookie 'session' is set over HTTPS without Secure",
        },
        app={"cookies": {"session_secure": False, "remember_secure": False}},
    ),
    Twin(
        name="cookie-not-httponly",
        description="SESSION_COOKIE_HTTPONLY = False and the remember cookie lacks HttpOnly: "
        "any injected script can read the session.",
        guide=f"{H}: Authentication Issues",
        breaks={
            "COOK-02": r"session cookie 'session' is set without HttpOnly",
        },
        app={"cookies": {"session_httponly": False, "remember_httponly": False}},
    ),
    Twin(
        name="cookie-remember-not-httponly",
        description="Only the remember-me cookie lacks HttpOnly (REMEMBER_COOKIE_HTTPONLY left "
        "off): a script can steal a 30-day login.",
        guide=f"{V}: Session Expires Too Quickly",
        breaks={
            "COOK-02": r"remember cookie 'remember_token' is set without HttpOnly",
        },
        app={"cookies": {"remember_httponly": False}},
    ),
    Twin(
        name="cookie-csrf-no-samesite",
        description="The csrftoken cookie is set without SameSite (CSRF_COOKIE_SAMESITE = None).",
        guide=f"{H}: Authentication Issues",
        breaks={
            "COOK-03": r"csrf cookie 'csrftoken' has no SameSite",
        },
        app={"cookies": {"csrf_samesite": None}},
    ),
    Twin(
        name="cookie-samesite-none-insecure",
        description="The session cookie is SameSite=None without Secure, and the csrftoken cookie has no SameSite.",
        guide=f"{H}: Authentication Issues",
        breaks={
            "COOK-03": r"cookie 'session' is SameSite=None without Secure.*|csrf cookie 'csrftoken' has no SameSite",
            "COOK-01": r"without Secure",
        },
        app={"cookies": {"session_samesite": "None", "session_secure": False, "csrf_samesite": None}},
    ),
    Twin(
        name="cookie-long-lived",
        description="PERMANENT_SESSION_LIFETIME is 31 days and the remember cookie lives a year.",
        guide=f"{V}: Session Expires Too Quickly",
        breaks={
            "COOK-04": r"remember cookie 'remember_token' lives 365\.0 days",
        },
        app={"cookies": {"session_days": 31, "remember_days": 365}},
    ),
    Twin(
        name="http-no-redirect",
        description="The plain-HTTP listener serves the site and proxies /api/ instead of "
        "redirecting: a login over http:// sets the session cookie in clear text.",
        guide=f"{V}: SSL/HTTPS Issues",
        breaks={
            "COOK-05": r"answered 200 and set session cookie 'session' over plain HTTP",
        },
        nginx={"http_redirect": False},
    ),
    # --- POOL ------------------------------------------------------------------------------
    Twin(
        name="pg-small-max-connections",
        description="PostgreSQL max_connections = 20: 17 usable slots for pools that may open "
        "2 x (5 + 5) = 20 connections.",
        guide=f"{H}: Too Many Connections",
        breaks={
            "POOL-01": r"can open 20 connections .* but the server allows max_connections 20",
        },
        postgres={"max_connections": "20"},
    ),
    Twin(
        name="pg-connections-exhausted",
        description="Other clients hold 32 of 37 usable connections (max_connections = 40): "
        "the next pool overflow gets 'too many connections'.",
        guide=f"{V}: Database Connection Pool Exhausted",
        breaks={
            "POOL-02": r"client connections are open .* the limit is 80%",
        },
        postgres={"max_connections": "40"},
        hold_connections=32,
    ),
    Twin(
        name="pg-idle-session-timeout",
        description="PostgreSQL idle_session_timeout = 10min is shorter than pool_recycle "
        "(1800 s): the server drops pooled connections before the pool recycles them.",
        guide=f"{H}: Connection Pool Configuration",
        breaks={
            "POOL-03": r"pool_recycle 1800 s is not shorter than the server's idle_session_timeout \(600 s\)",
        },
        postgres={"idle_session_timeout": "'10min'"},
    ),
    Twin(
        name="pool-timeout-too-long",
        description="SQLALCHEMY_POOL_TIMEOUT = 60 s exceeds the 30 s gunicorn timeout: workers "
        "are killed while they wait for a connection instead of failing fast.",
        guide=f"{V}: Database Connection Pool Exhausted",
        breaks={
            "POOL-04": r"pool_timeout 60 s is not between 0 and the request timeout 30 s",
        },
        app={"pool": {"timeout": 60}},
        env={"database": {"pool": {"timeout": 60}}},
    ),
    Twin(
        name="pool-guide-numbers-on-a-fleet",
        description="The guide's SQLALCHEMY_POOL_SIZE = 10 and MAX_OVERFLOW = 20 copied to 12 "
        "gunicorn workers: 360 connections against a server that allows 197.",
        guide=f"{V}: Database Connection Pool Exhausted",
        breaks={
            "POOL-01": r"can open 360 connections .* but the server allows max_connections 200",
        },
        app={"pool": {"size": 10, "max_overflow": 20}},
        env={"database": {"pool": {"processes": 12, "size": 10, "max_overflow": 20}}},
    ),
    Twin(
        name="pool-behind-short-proxy-timeout",
        description="A proxy between the app and PostgreSQL (PgBouncer's server_idle_timeout, a "
        "cloud load balancer) closes idle connections after 300 s; pool_recycle is 1800 s.",
        guide=f"{H}: Connection Pool Configuration",
        breaks={
            "POOL-03": r"pool_recycle 1800 s is not shorter than the proxy idle timeout \(300 s\)",
        },
        env={"database": {"proxy_idle_timeout": 300}},
    ),
    Twin(
        name="pool-timeout-zero",
        description="pool_timeout = 0: every request that finds the pool busy fails at once "
        "instead of waiting a moment for a connection.",
        guide=f"{V}: Database Connection Pool Exhausted",
        breaks={
            "POOL-04": r"pool_timeout 0 s is not between 0 and the request timeout 30 s",
        },
        app={"pool": {"timeout": 0}},
        env={"database": {"pool": {"timeout": 0}}},
    ),
    # --- HOOK ------------------------------------------------------------------------------
    Twin(
        name="hook-unverified",
        description="The Stripe webhook view parses the JSON and answers 200 without verifying any signature.",
        guide=f"{H}: Webhook Issues",
        breaks={
            "HOOK-02": r"answered 200: the endpoint accepted an unsigned event",
            "HOOK-03": r"accepted a forged event",
            "HOOK-04": r"accepted a replayed event signed 301 s ago",
        },
        app={"webhook": {"verify": "none"}},
    ),
    Twin(
        name="hook-header-presence-only",
        description="The webhook view only checks that a Stripe-Signature header is present.",
        guide=f"{H}: Webhook Issues",
        breaks={
            "HOOK-03": r"accepted a forged event",
            "HOOK-04": r"accepted a replayed event signed 301 s ago",
        },
        app={"webhook": {"verify": "header-presence"}},
    ),
    Twin(
        name="hook-no-tolerance",
        description="The webhook view checks the HMAC but not the timestamp (tolerance=None): "
        "a captured event can be replayed forever.",
        guide=f"{H}: Webhook Issues",
        breaks={
            "HOOK-04": r"accepted a replayed event signed 301 s ago",
        },
        app={"webhook": {"verify": "no-tolerance"}},
    ),
    Twin(
        name="hook-secret-mismatch",
        description="The app verifies with a different whsec_ secret than the endpoint's: "
        "genuine Stripe events get 400 (webhook secret mismatch).",
        guide=f"{V}: Stripe Webhook Errors",
        breaks={
            "HOOK-05": r"rejected a genuine 'ping' event .*answered 400.*secret mismatch",
        },
        app={"webhook": {"secret": "stale"}},
    ),
    Twin(
        name="hook-path-mismatch",
        description="The app registers /webhooks/stripe without the trailing slash the Stripe "
        "endpoint uses: every delivery answers 404.",
        guide=f"{V}: Stripe Webhook Errors",
        breaks={
            "HOOK-01": r"answered 404: no route for the webhook URL",
            "HOOK-05": r"answered 404",
        },
        app={"webhook": {"path": "/webhooks/stripe"}},
    ),
    Twin(
        name="hook-plain-http",
        description="The Stripe endpoint is registered with an http:// URL.",
        guide=f"{H}: Payment Gateway Failures",
        breaks={
            "HOOK-06": r"webhooks\.stripe\.url is http://.*must use https://",
            "HOOK-01": r"redirect to https://",
        },
        env={"webhooks": {"stripe": {"url": "http://localhost:${SANDBOX_HTTP_PORT}/webhooks/stripe/"}}},
    ),
]

TWINS: dict[str, Twin] = {twin.name: twin for twin in _TWINS}
