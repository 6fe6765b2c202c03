"""APP: application health, speed, debug mode, exposed files, the clock, and API error pages."""

from __future__ import annotations

import datetime as dt
import json
import re
import statistics
from typing import Any
from urllib.parse import urlsplit

from fixtures.check import (
    Ask,
    EnvironmentModel,
    Exchange,
    HttpCache,
    Need,
    Probe,
    api_answer_url,
    blocked_by,
    check,
    fail_on,
    http_date,
    join_url,
)

# A route no API has: APP-03 and APP-06 share its answer.
UNKNOWN_ROUTE = "/preflight-no-such-route"
# What debug error pages contain: Werkzeug's debugger, Django's technical 404/500, a Python traceback.
DEBUG_MARKERS = {
    "Werkzeug Debugger": "the Werkzeug debugger",
    "__debugger__": "the Werkzeug debugger",
    "Traceback (most recent call last)": "a Python traceback",
    "URLconf defined": "Django's technical 404 page",
    "DEBUG = True": "Django's debug page",
}
# The shapes of exposed files, to say what was found without printing it.
SHAPES = [
    (re.compile(r"^\s*[A-Z][A-Z0-9_]*\s*=", re.MULTILINE), "KEY=value lines (an env file)"),
    (re.compile(r"^\s*\[core\]|repositoryformatversion|^ref: refs/", re.MULTILINE), "git metadata"),
    (re.compile(r"Active connections:"), "nginx stub_status counters"),
    (re.compile(r"^# (HELP|TYPE) ", re.MULTILINE), "Prometheus metrics"),
    (re.compile(r"CREATE TABLE|INSERT INTO|database dump", re.IGNORECASE), "an SQL dump"),
]


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def _answer(exchange: Exchange) -> str:
    return f"{exchange.status} {exchange.content_type or '(no content type)'}"


def _is_json(exchange: Exchange) -> bool:
    if not (exchange.content_type == "application/json" or exchange.content_type.endswith("+json")):
        return False
    try:
        json.loads(exchange.text)
    except ValueError:
        return False
    return True


def _snippet(exchange: Exchange, limit: int = 120) -> str:
    text = " ".join(exchange.text.split())
    return text[:limit] + ("..." if len(text) > limit else "")


def _shell_body(need: Need, probe: Probe) -> bytes:
    """The SPA shell: what the try_files fallback answers for any unknown path."""
    return probe.get(need("web.url").rstrip("/") + "/").body


@check(
    "APP-01",
    severity="critical",
    guide=["H: Quick Reference", "H: Application Not Loading", "H: API Endpoint Failures"],
    inputs={"budget_seconds": 5.0},
)
def test_health_endpoints_are_up(need: Need, probe: Probe, env: EnvironmentModel, inputs: dict[str, Any]) -> None:
    """Health endpoints are up.

    Rationale: `curl -f https://verihome.com/health` and `curl -f https://api.verihome.com/v1/health`
    are the guide's first commands when the application is not loading. The web health URL
    (web.health) and the API health URL (api.health) must answer 200 within
    inputs.APP-01.budget_seconds (an up-or-down budget, as a load balancer's health check would
    allow; APP-02 holds the latency budgets), and the API's must be JSON. A 503 from the API's
    health usually says which dependency is down (the database, Redis).

    Fix: start or roll back what is down (the guide's Application Not Loading steps: containers,
    recent deployments, the load balancer, DNS); for a 503 from the API, follow its body (e.g.
    "database": "error": DATABASE_URL, PostgreSQL reachability, the pool).
    """
    targets = []
    web_health, api_health = env.lookup("web.health"), env.lookup("api.health")
    if web_health:
        targets.append(("web", join_url(need("web.url"), web_health)))
    if api_health:
        targets.append(("api", join_url(need("api.url"), api_health)))
    if not targets:
        need("api.health")
    budget = float(inputs["budget_seconds"])
    problems = []
    for role, url in targets:
        answer = probe.get(url)
        if answer.status != 200:
            body = f": {_snippet(answer)}" if answer.body else ""
            problems.append(f"{role} health {url} answered {_answer(answer)}{body}; expected 200")
            continue
        if answer.elapsed > budget:
            problems.append(
                f"{role} health {url} took {answer.elapsed:.2f} s, over the {budget:g} s budget "
                "(inputs.APP-01.budget_seconds)"
            )
        if role == "api" and not _is_json(answer):
            problems.append(f"api health {url} answered {_answer(answer)}; expected JSON")
    fail_on(problems)


@check(
    "APP-02",
    severity="medium",
    guide=["H: Slow Performance", "H: Performance Complaints", "V: Slow Page Loads"],
    inputs={"samples": 3, "page_budget_seconds": 5.0, "api_budget_seconds": 2.0, "api_paths": []},
)
def test_response_time_budgets(
    need: Need, probe: Probe, http_cache: HttpCache, env: EnvironmentModel, inputs: dict[str, Any]
) -> None:
    """Pages and the API answer within their time budgets.

    Rationale: the guide's budget is pages within 5 s and API calls within 2 s; past that users
    leave and clients time out. Each page (web.url and web.spa_routes) and API URL (api.health,
    api.cors.path and inputs.APP-02.api_paths under api.url) is fetched inputs.APP-02.samples
    times and the median is compared with inputs.APP-02.page_budget_seconds and
    api_budget_seconds, so that one slow sample does not fail the gate. The samples are taken once
    the run's early probes are answered: each URL's one after another, the URLs side by side.

    Fix: find where the time goes (the guide's Slow Performance steps: slow queries in
    pg_stat_statements, N+1 queries, missing indexes, CPU and memory on the hosts) and fix it:
    eager loading, an index, caching, more workers.
    """
    need("web.url")
    pages, apis = _timed(env, inputs)
    samples = max(1, int(inputs["samples"]))
    # Timed alone, one after another: the samples never share the server with the run's prefetch.
    http_cache.quiet()
    # Each URL's samples one after another, the URLs side by side: a few round trips at any distance.
    http_cache.prefetch([_samples(url, 1, samples) for url in dict.fromkeys(pages + apis)])
    problems = []
    for kind, urls, budget_key in (("page", pages, "page_budget_seconds"), ("API", apis, "api_budget_seconds")):
        budget = float(inputs[budget_key])
        for url in dict.fromkeys(urls):
            # A distinct header per sample: each sample is its own request, not the cached one.
            answers = [probe.get(url, headers={"X-Preflight-Sample": str(n)}) for n in range(1, samples + 1)]
            times = [a.elapsed for a in answers]
            median = statistics.median(times)
            if median > budget:
                shown = ", ".join(f"{t:.2f}" for t in times)
                problems.append(
                    f"{kind} {url}: median {median:.2f} s over {samples} samples ({shown} s), over the "
                    f"{budget:g} s budget (inputs.APP-02.{budget_key}); status {answers[-1].status}"
                )
    fail_on(problems)


def _debug_markers(exchange: Exchange) -> list[str]:
    return sorted({meaning for marker, meaning in DEBUG_MARKERS.items() if marker in exchange.text})


def _leaks_in_the_run(http_cache: HttpCache, own: list[Exchange]) -> list[str]:
    """The error answers (4xx, 5xx) other checks received that show a debugger or a traceback, once per
    method and URL."""
    seen = {(e.method, e.url) for e in own}
    problems = []
    for exchange, asker in http_cache.answers():
        where = (exchange.method, exchange.url)
        if exchange.status < 400 or where in seen:
            continue
        found = _debug_markers(exchange)
        if found:
            seen.add(where)
            sender = f" (sent by {asker})" if asker else ""
            problems.append(
                f"{exchange.method} {exchange.url}{sender} answered {_answer(exchange)} showing "
                f"{' and '.join(found)}: debug mode is on"
            )
    return problems


def _samples(url: str, n: int, samples: int) -> Ask:
    """APP-02's n-th sample of url, followed by the next once it is answered."""
    follow = (lambda _answer: [_samples(url, n + 1, samples)]) if n < samples else None
    return Ask("GET", url, (("X-Preflight-Sample", str(n)),), then=follow)


def _timed(env: EnvironmentModel, inputs: dict[str, Any]) -> tuple[list[str], list[str]]:
    """APP-02's (page URLs, API URLs)."""
    web_url = env.web.url.rstrip("/") if env.web else ""
    pages = [web_url + "/"] + [web_url + route for route in env.lookup("web.spa_routes") or []]
    apis: list[str] = []
    api_url = env.lookup("api.url")
    if api_url:
        paths = [env.lookup("api.health"), env.lookup("api.cors.path"), *inputs["api_paths"]]
        apis = list(dict.fromkeys(join_url(api_url, p) for p in paths if p))
    return pages, apis


def _debug_urls(env: EnvironmentModel) -> tuple[list[str], str]:
    """(APP-03's own URLs, the console under api.url or ""): the API's, or a site's with no API."""
    api_url = (env.lookup("api.url") or "").rstrip("/")
    if api_url:
        console_under_api = api_url + "/console"
        return list(dict.fromkeys([api_url + UNKNOWN_ROUTE, _origin(api_url) + "/console", console_under_api])), (
            console_under_api
        )
    # A site with no API: the unknown page and the console of the application that renders it.
    web_url = (env.lookup("web.url") or "").rstrip("/")
    return ([web_url + UNKNOWN_ROUTE, _origin(web_url) + "/console"] if web_url else []), ""


def prefetch(env: EnvironmentModel, inputs: Any) -> list[Ask]:
    """What the selected APP checks ask: health URLs, the timing samples, the debug and exposure probes,
    the Date probes and the unknown API route."""
    web_url, api_url = env.lookup("web.url"), env.lookup("api.url")
    asks: list[Ask] = []
    if inputs("APP-01") is not None:
        asks += [
            Ask("GET", join_url(b, h))
            for b, h in ((web_url, env.lookup("web.health")), (api_url, env.lookup("api.health")))
            if b and h
        ]
    if inputs("APP-03") is not None:
        asks += [Ask("GET", url) for url in _debug_urls(env)[0]]
    exposed = inputs("APP-04")
    if exposed is not None and web_url:
        origins = dict.fromkeys(_origin(u) for u in (web_url, api_url) if u)
        asks += [Ask("GET", web_url.rstrip("/") + "/")] + [
            Ask("GET", join_url(o, p)) for o in origins for p in exposed["paths"]
        ]
    if inputs("APP-05") is not None and web_url:
        asks += [
            Ask("GET", u, (("Cache-Control", "no-cache"),))
            for u in (web_url.rstrip("/") + "/", api_answer_url(env))
            if u
        ]
    if inputs("APP-06") is not None and api_url:
        asks.append(Ask("GET", api_url.rstrip("/") + UNKNOWN_ROUTE))
    return asks


@check(
    "APP-03",
    severity="critical",
    guide=["V: Debug Mode", "V: Application Won't Start"],
    phase="review",
    standards=["ASVS:V14.3.2", "ASVS:V7.4.1", "Django:security.W018"],
)
def test_debug_mode_is_off(need: Need, probe: Probe, env: EnvironmentModel, http_cache: HttpCache) -> None:
    """Debug mode is off.

    Rationale: `flask run --debug` and FLASK_DEBUG=1 (V: Debug Mode) put the Werkzeug debugger in
    front of the app: error pages show the source and local variables, and its console runs any
    Python code on the server (guarded by a PIN that leaks through the same pages). Django's DEBUG =
    True prints settings and URLconfs on every 404 and 500. The API's answer to an unknown route
    (the site's, when there is no api.url) must show none of these markers, and `/console` (at the
    API host's root and under api.url) must not serve the debugger; under api.url it must answer
    404. A debug page often shows only on the error that one path produces (a webhook that crashes
    without its signature header, behind error handlers that answer a clean JSON 404), so every 4xx
    and 5xx answer that any check of the run received is read too: this check runs after the others (before the bursts),
    and the message names the request (method, URL, and the check that sent it). It reads the
    answers of its own process: under xdist (-n) that is the checks of its worker, and a run of
    APP-03 alone (-k) sees only its own probes.

    Fix: never run the development server or debug mode in production: FLASK_DEBUG unset or 0,
    app.run(debug=False), no DebuggedApplication in the WSGI entry point (not even with
    evalex=False); Django DEBUG = False, and no technical_500_response for "internal" callers
    (behind a proxy, INTERNAL_IPS matches every request). Serve the app with gunicorn, and let
    unexpected errors answer a plain 500 that is logged, not shown.
    """
    if not env.lookup("api.url"):
        need("web.url")
    urls, console_under_api = _debug_urls(env)
    problems = []
    own = []
    for url in urls:
        answer = probe.get(url)
        own.append(answer)
        found = _debug_markers(answer)
        if found:
            problems.append(f"GET {url} answered {_answer(answer)} showing {' and '.join(found)}: debug mode is on")
        elif url == console_under_api and answer.status != 404:
            problems.append(f"GET {url} answered {_answer(answer)}; expected 404")
    fail_on(problems + _leaks_in_the_run(http_cache, own))


@check(
    "APP-04",
    severity="critical",
    guide=["H: Security Issues", "H: Data Breach Response"],
    inputs={
        "paths": [
            "/.env",
            "/.env.production",
            "/.git/config",
            "/.git/HEAD",
            "/nginx_status",
            "/server-status",
            "/metrics",
            "/index.html.bak",
            "/index.html~",
            "/backup.sql",
            "/dump.sql",
            "/db.sqlite3",
        ]
    },
    references=["nuclei exposures templates"],
    standards=["ASVS:V12.5.1", "ASVS:V4.3.2"],
)
def test_nothing_sensitive_is_exposed(need: Need, probe: Probe, env: EnvironmentModel, inputs: dict[str, Any]) -> None:
    """Nothing sensitive is exposed.

    Rationale: a deploy that copies a working tree into the web root publishes `.env` (the secret
    key, database and Stripe credentials), `.git/` (the whole source history) and editor or
    database backups; a status page left public (`/nginx_status`, `/metrics`) maps the
    infrastructure for an attacker. Each of inputs.APP-04.paths, at the root of the web and API
    hosts, must not answer 200 with content; the SPA shell (the try_files fallback) does not
    count. What was found is described by its shape; its content is never printed.

    Fix: deploy build output only (never the repository), delete the files found, and deny them in
    nginx: `location ~ /\\.(?!well-known/) { deny all; }`, `location ~ \\.(bak|sql|sqlite3|swp)$|~$ {
    deny all; }`; restrict stub_status and /metrics to the monitoring network (`allow 10.0.0.0/8;
    deny all;`). Rotate every secret that was in an exposed .env.
    """
    web_url = need("web.url")
    shell = _shell_body(need, probe)
    origins = list(dict.fromkeys(_origin(u) for u in (web_url, env.lookup("api.url")) if u))
    problems = []
    for origin in origins:
        for path in inputs["paths"]:
            url = join_url(origin, path)
            answer = probe.get(url)
            if answer.status != 200 or not answer.body.strip() or answer.body == shell:
                continue
            shapes = [meaning for pattern, meaning in SHAPES if pattern.search(answer.text)]
            what = f": {', '.join(shapes)}" if shapes else ""
            problems.append(f"{url} is served ({answer.status}, {len(answer.body)} bytes, {answer.content_type}){what}")
    fail_on(problems)


@check(
    "APP-05",
    severity="high",
    guide=["V: MFA Not Working", "H: JWT Token Issues"],
    inputs={"max_skew_seconds": 30},
    standards=["ASVS:V7.3.4"],
)
def test_clocks_agree(need: Need, probe: Probe, env: EnvironmentModel, inputs: dict[str, Any]) -> None:
    """The servers' clocks agree with UTC.

    Rationale: TOTP codes are valid for 30 s windows and JWTs carry iat/exp: a server whose clock
    is off rejects valid MFA codes ("Server time must be accurate (within 30 seconds)", V: MFA Not
    Working) and issues tokens that are already expired or not yet valid. The Date header of the
    web and API answers must be within inputs.APP-05.max_skew_seconds of this runner's clock
    (which is assumed to be synchronized), allowing for the time the request took.

    Fix: synchronize the hosts' clocks: `timedatectl set-ntp true` (systemd-timesyncd) or chrony,
    check `timedatectl status` says "System clock synchronized: yes"; in containers the host's
    clock is the one to fix.
    """
    urls = [need("web.url").rstrip("/") + "/"]
    api = api_answer_url(env)
    if api:
        urls.append(api)
    allowed = float(inputs["max_skew_seconds"])
    problems = []
    for url in dict.fromkeys(urls):
        # A request of its own (not another check's answer) that asks for no cache; sent early (prefetch),
        # so the runner's clock is read at the times the exchange itself recorded.
        answer = probe.get(url, headers={"Cache-Control": "no-cache"})
        before, after = answer.sent_at, answer.sent_at + answer.elapsed
        date = http_date(answer.header("date"))
        if date is None:
            problems.append(f"{url} answered without a valid Date header ({answer.header('date')!r})")
            continue
        middle = dt.datetime.fromtimestamp((before + after) / 2, dt.UTC)
        skew = (date - middle).total_seconds()
        # Date has a one-second resolution and was taken some time during the exchange.
        slack = 1.0 + (after - before) / 2
        if abs(skew) > allowed + slack:
            side = "behind" if skew < 0 else "ahead of"
            problems.append(
                f"{url}: Date {answer.header('date')} is {abs(skew):.0f} s {side} this runner's UTC clock "
                f"({middle:%H:%M:%S}); expected within {allowed:g} s (inputs.APP-05.max_skew_seconds)"
            )
    fail_on(problems)


@check(
    "APP-06",
    severity="medium",
    guide=["H: API Endpoint Failures"],
)
def test_api_errors_are_json(need: Need, probe: Probe) -> None:
    """API errors are JSON.

    Rationale: the SPA and API clients parse every answer as JSON; an HTML error page (the
    framework's default 404, or the SPA shell from an nginx fallback) makes them fail with a
    parse error instead of showing the error, and default error pages leak the framework. An
    unknown route under api.url must answer 404 with a JSON body.

    Fix: register JSON error handlers: Flask `@app.errorhandler(HTTPException)` returning
    jsonify(...); Django REST framework's exception handler and handler404/handler500 views that
    return JsonResponse; in nginx, no try_files fallback in the API's location.
    """
    url = need("api.url").rstrip("/") + UNKNOWN_ROUTE
    answer = probe.get(url)
    problems = []
    if answer.status != 404:
        problems.append(f"{url} answered {_answer(answer)}; expected 404 for an unknown API route")
    if not _is_json(answer):
        kind = "an HTML page" if answer.content_type == "text/html" else "not JSON"
        problems.append(f"{url} answered {_answer(answer)}: {kind}; expected a JSON error body")
    if not problems:
        return
    if answer.status == 200 and answer.body == _shell_body(need, probe):
        blocked_by("SPA-07", f"{url} answered the SPA shell: the web server's fallback swallows the API")
    fail_on(problems)
