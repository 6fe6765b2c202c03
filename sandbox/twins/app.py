"""Twins for the APP checks."""

from __future__ import annotations

from sandbox.twins.model import H, Twin, V

TWINS = [
    Twin(
        name="api-database-unreachable",
        description="DATABASE_URL names a port where no PostgreSQL listens: the API starts, and its "
        "health answers 503.",
        guide=f"{H}: Application Not Loading",
        breaks={
            "APP-01": r"api health https://localhost:\d+/api/health answered 503 application/json: "
            r"\{.*\"database\": ?\"error\"",
        },
        app={"database_port": 1},
    ),
    Twin(
        name="api-slow-listing",
        description="The listing runs a slow query (SELECT pg_sleep(2.5)): every GET /api/v1/properties "
        "takes over 2.5 s (V: Slow Page Loads, N+1 queries).",
        guide=f"{V}: Slow Page Loads",
        breaks={
            "APP-02": r"API https://localhost:\d+/api/v1/properties: median 2\.\d+ s over 3 samples .* "
            r"over the 2 s budget",
        },
        app={"slow_query_seconds": 2.5},
        # A cluster of its own: its pg_sleep must not land in the good stack's pg_stat_statements (DB-06).
        postgres={"settings": {"log_min_duration_statement": "1s"}},
    ),
    Twin(
        name="app-debug-on",
        description="Debug mode left on: the app runs behind Werkzeug's DebuggedApplication (evalex=True), "
        "as `flask run --debug` does; its console is reachable through nginx's API location.",
        guide=f"{V}: Debug Mode",
        breaks={
            # Flask shows its console; Django's DEBUG shows its technical 404 on the unknown route.
            "APP-03": r"https://localhost:\d+/api/\S+ answered \d+ text/html showing "
            r"(.* and )?(the Werkzeug debugger|Django's technical 404 page).*: debug mode is on",
        },
        app={"debug": True},
    ),
    Twin(
        name="app-debug-on-webhook-error",
        description="Tracebacks are shown for unhandled errors only (Flask: werkzeug's DebuggedApplication "
        "with evalex=False, 'no console, so safe'; Django: technical_500_response for INTERNAL_IPS, which "
        "behind nginx is every caller), and the webhook reads Stripe-Signature with a lookup that raises "
        "when it is missing: a POST without the header shows the traceback page, while unknown routes "
        "still answer a clean JSON 404 and no console is reachable.",
        guide=f"{V}: Debug Mode",
        breaks={
            "APP-03": r"POST https://localhost:\d+/webhooks/stripe/ \(sent by HOOK-0[12]\) answered 500 text/html "
            r"showing .*(the Werkzeug debugger|Django's debug page).*: debug mode is on",
            "HOOK-01": r"POST https://localhost:\d+/webhooks/stripe/ answered 500: the handler crashes",
            "HOOK-02": r"with no Stripe-Signature header answered 500, expected a 4xx rejection",
        },
        app={"error_tracebacks": True, "webhook": {"missing_signature": "crash"}},
    ),
    Twin(
        name="web-leftovers-exposed",
        description="A manual deploy copied .env, .git/, index.html.bak and a dump.sql into the web root, "
        "the dotfile deny rule was lost, and stub_status is public.",
        guide=f"{H}: Security Issues",
        breaks={
            "APP-04": r"/\.env is served \(200, \d+ bytes, \S+\): KEY=value lines.*"
            r"/\.git/config is served .*git metadata.*/nginx_status is served .*stub_status.*"
            r"/dump\.sql is served .*an SQL dump",
        },
        nginx={"deny_dotfiles": False, "leftovers": True, "stub_status": True},
    ),
    Twin(
        name="clock-behind",
        description="The web host's clock is five minutes slow (NTP off): nginx runs under Debian's "
        "libfaketime with FAKETIME=-5m, so its Date header is five minutes behind UTC.",
        guide=f"{V}: MFA Not Working",
        breaks={
            "APP-05": r"Date .* is 3\d\d s behind this runner's UTC clock",
        },
        nginx={"clock_offset": "-5m"},
    ),
    Twin(
        name="api-html-errors",
        description="The API has no JSON error handlers: an unknown route answers Flask's default HTML 404 page.",
        guide=f"{H}: API Endpoint Failures",
        breaks={
            "APP-06": r"/api/preflight-no-such-route answered 404 text/html: an HTML page; expected a JSON error body",
        },
        app={"json_errors": False},
    ),
]
