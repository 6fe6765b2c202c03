"""UI (H: Runtime JavaScript Errors): the single-page app, loaded and run by a real browser."""

from __future__ import annotations

import re
from typing import Any

from fixtures.check import (
    Environment,
    EnvironmentModel,
    Need,
    browser,
    ca_bundle,
    check,
    early_or_now,
    fail,
    fail_on,
    start_early,
)

# Lines kept per kind of problem and page: enough to name the failure, short enough to read.
MAX_LINES = 5


def _problems(seen: browser.PageVisit, root_selector: str, ignore: list[re.Pattern[str]]) -> list[str]:
    where = seen.url
    if seen.load_error:
        return [f"{where} did not load: {seen.load_error}"]
    problems = []
    kinds = [
        ("uncaught exception", seen.page_errors),
        ("console error", seen.console_errors),
        ("request", seen.failed_requests),
        ("error answer", seen.error_responses),
        ("still pending", seen.pending),
    ]
    for label, found in kinds:
        lines = [line for line in found if not any(pattern.search(line) for pattern in ignore)]
        for line in lines[:MAX_LINES]:
            problems.append(f"{where}: {label}: {line}")
        if len(lines) > MAX_LINES:
            problems.append(f"{where}: ... and {len(lines) - MAX_LINES} more of kind {label!r}")
    if not seen.root_found:
        problems.insert(0, f"{where}: no element matches {root_selector} (ui.root_selector): nothing rendered")
    elif not seen.rendered:
        problems.insert(0, f"{where}: {root_selector} is empty after the page settled: a white screen")
    return problems


@check(
    "UI-01",
    severity="critical",
    guide=["H: Runtime JavaScript Errors", "H: CORS Issues", "H: Application Not Loading"],
    # render_wait: seconds the root may take to get content once the network is idle.
    # ignore: regexes; console errors, exceptions and failed requests matching one are not counted
    # (third-party noise you have accepted). Empty by default: every error counts.
    inputs={"render_wait": 3.0, "ignore": []},
    references=["Playwright: page events console, pageerror, requestfailed"],
)
def test_spa_renders(need: Need, env: EnvironmentModel, inputs: dict[str, Any], env_file: Environment) -> None:
    """The SPA renders in a real browser.

    Rationale: every HTTP-level check can pass while users see a white screen: a bundle that
    throws at start-up, an API base URL that points at a retired host, or an API whose CORS
    refuses the exact origin the browser sends (scheme, host and a non-default port). Only a
    browser runs the JavaScript and enforces CORS. Headless Chromium loads `/` and the deep
    links in `ui.routes`, waits for the network to settle and for the app's root element to have
    content, and fails on any uncaught exception, console error, failed request or API answer of
    4xx/5xx. A white screen means the app is down for every user. Inputs: `render_wait`, seconds
    the root may take to fill once the network is idle; `ignore`, regexes of errors you accept
    (third-party noise), none by default.

    Fix: read the browser's console: fix the exception the bundle throws (and wrap the app in an
    error boundary so one component cannot blank the page); point the SPA's API URL (build-time
    `REACT_APP_API_URL`/`VITE_API_URL`, or the runtime config the shell carries) at the live API;
    allow the SPA's exact origin in the API's CORS settings (Flask-CORS `origins`,
    django-cors-headers `CORS_ALLOWED_ORIGINS`, including the port when it is not 443), with
    credentials if the SPA sends cookies; and allow the API in the CSP's `connect-src`.
    """
    ui = need("ui")
    try:
        ignore = [re.compile(pattern) for pattern in inputs["ignore"]]
    except (re.error, TypeError) as exc:
        fail(f"inputs.UI-01.ignore: not a list of regexes ({exc})")
    if ui.url is None:
        need("web.url")
    key, work = _visits(env, env_file, inputs)
    visits, unavailable = early_or_now(key, work)
    if unavailable:  # outside the except block: one line, no chained traceback
        fail(f"UI-01 cannot run: {unavailable}")
    problems = [line for seen in visits for line in _problems(seen, ui.root_selector, ignore)]
    fail_on(
        problems,
        f"headless Chromium, expected {ui.root_selector} to render with no uncaught exception, "
        "console error or failed API call:",
    )


def prefetch(env: EnvironmentModel, inputs: Any, env_file: Environment) -> list[Any]:
    """The browser starts with the run: UI-01's visits go on in a thread of their own while the other
    checks run, and the check reads what they saw."""
    selected = inputs("UI-01")
    if env.ui is not None and selected is not None and (env.ui.url or env.web):
        start_early(*_visits(env, env_file, selected), name="preflight-browser")
    return []


def _visits(env: EnvironmentModel, env_file: Environment, inputs: dict[str, Any]) -> tuple[str, Any]:
    """(what is visited, as a key; the visit itself)."""
    ui = env.ui
    base = (ui.url or env.web.url).rstrip("/")
    urls = [base + route for route in ui.routes]
    api = (env.api.url,) if env.api and env.api.url else ()
    settle = float(inputs["render_wait"])
    key = repr((urls, ui.model_dump(), api, settle, str(env_file.path)))
    return key, lambda: _visit(urls, ui, env, env_file, api, settle)


def _visit(
    urls: list[str], ui: Any, env: EnvironmentModel, env_file: Environment, api: tuple[str, ...], settle: float
) -> tuple[list[browser.PageVisit], str]:
    """Each page as the browser saw it, or why the browser could not start."""
    try:
        with browser.chromium(
            ui.browser,
            ca_bundle=ca_bundle(env_file),
            verify=env.tls.verify,
            resolve=ui.resolve,
            resolve_only=ui.resolve_only,
            timeout=ui.timeout,
        ) as context:
            visits = browser.visit_all(
                context, urls, root_selector=ui.root_selector, timeout=ui.timeout, api=api, settle=settle
            )
    except browser.BrowserUnavailable as exc:
        return [], str(exc)
    return visits, ""
