"""HDR: security headers on the SPA shell and the API's answers (Observatory; h5bp; Django check --deploy)."""

from __future__ import annotations

import re
from typing import Any

from fixtures.check import Ask, EnvironmentModel, Exchange, Need, Probe, api_answer_url, check, fail_on

CSP = "Content-Security-Policy"
# A version after a product token: nginx/1.22.1, Apache/2.4.57 (Debian), gunicorn/21.2.0, PHP/8.2.
VERSION = re.compile(r"[A-Za-z][\w.-]*/v?\d+(\.\d+)*|\b\d+\.\d+(\.\d+)*\b")
# nginx's own error pages end with a <center>nginx/1.22.1</center> line when server_tokens is on.
BANNER_IN_PAGE = re.compile(r"<center>\s*([A-Za-z][\w.-]*/\d+(\.\d+)*)", re.IGNORECASE)


def _shell(need: Need, probe: Probe) -> tuple[str, Exchange]:
    url = need("web.url").rstrip("/") + "/"
    return url, probe.get(url)


def _api(env: EnvironmentModel, probe: Probe) -> tuple[str, Exchange] | None:
    """The API's health answer (else its base URL), through the same cache as the other checks."""
    url = api_answer_url(env)
    return (url, probe.get(url)) if url else None


def prefetch(env: EnvironmentModel, inputs: Any) -> list[Ask]:
    """The shell, the API's answer, and HDR-05's missing asset."""
    if env.web is None or not any(inputs(f"HDR-0{n}") is not None for n in range(1, 6)):
        return []
    urls = [env.web.url.rstrip("/") + "/", api_answer_url(env)]
    if inputs("HDR-05") is not None:
        urls.append(_missing_asset(env))
    return [Ask("GET", url) for url in urls if url]


def _missing_asset(env: EnvironmentModel) -> str:
    """A missing asset: nginx's own 404 page (the SPA fallback does not cover asset prefixes)."""
    prefixes = env.lookup("web.asset_prefixes") or ["/"]
    return env.web.url.rstrip("/") + "/" + prefixes[0].strip("/") + "/preflight-missing.js"


def _answers(need: Need, env: EnvironmentModel, probe: Probe) -> list[tuple[str, Exchange]]:
    answers = [_shell(need, probe)]
    api = _api(env, probe)
    if api and api[0] != answers[0][0]:
        answers.append(api)
    return answers


def _values(exchange: Exchange, name: str) -> list[str]:
    """Every value of a header (requests folds repeated headers into one comma-separated value)."""
    value = exchange.header(name)
    return [v.strip() for v in value.split(",")] if value else []


def _policy(value: str) -> dict[str, list[str]]:
    """CSP directives: name -> source list (the first occurrence of a directive wins)."""
    directives: dict[str, list[str]] = {}
    for part in value.split(";"):
        tokens = part.split()
        if tokens:
            directives.setdefault(tokens[0].lower(), [t.lower() for t in tokens[1:]])
    return directives


def _csp(exchange: Exchange) -> str | None:
    # Several CSP headers all apply; requests joins them with ", " (a comma never occurs inside one).
    return exchange.header(CSP)


@check(
    "HDR-01",
    severity="medium",
    guide=["H: Security Issues"],
    references=["Mozilla Observatory: X-Content-Type-Options", "h5bp server-configs-nginx", "Django W006"],
    standards=["ASVS:V14.4.4", "Mozilla:X-Content-Type-Options", "Django:security.W006"],
)
def test_nosniff(need: Need, probe: Probe, env: EnvironmentModel) -> None:
    """Answers carry X-Content-Type-Options: nosniff.

    Rationale: without it browsers guess a response's type from its content, so a JSON answer or
    an uploaded file that looks like HTML or script can be run as such (content sniffing turns a
    harmless upload into stored XSS). The SPA shell and the API's answers must carry
    `X-Content-Type-Options: nosniff`.

    Fix: nginx `add_header X-Content-Type-Options "nosniff" always;` in the server block and in
    every location that has its own add_header (or one included snippet). Django:
    SECURE_CONTENT_TYPE_NOSNIFF = True (the default).
    """
    problems = []
    for url, answer in _answers(need, env, probe):
        values = _values(answer, "x-content-type-options")
        if not values:
            problems.append(f"{url} ({answer.status}) has no X-Content-Type-Options header (expected nosniff)")
        elif values[0].lower() != "nosniff":
            problems.append(f"{url}: X-Content-Type-Options is {values[0]!r}; expected nosniff")
    fail_on(problems)


@check(
    "HDR-02",
    severity="medium",
    guide=["H: Security Issues"],
    references=["Mozilla Observatory: X-Frame-Options", "OWASP Clickjacking Defense", "Django W002"],
    standards=["ASVS:V14.4.7", "Mozilla:X-Frame-Options", "Django:security.W002"],
)
def test_framing_is_controlled(need: Need, probe: Probe) -> None:
    """Framing is controlled.

    Rationale: a page that any site may put in an invisible iframe can be clickjacked: the user
    believes they click on the attacker's page and in fact confirm a payment or change their email
    in the framed app. The shell must carry X-Frame-Options DENY or SAMEORIGIN, or a
    Content-Security-Policy with frame-ancestors (which supersedes it).

    Fix: nginx `add_header X-Frame-Options "DENY" always;` and `frame-ancestors 'none'` (or 'self')
    in the CSP. Django: XFrameOptionsMiddleware with X_FRAME_OPTIONS = "DENY".
    """
    url, shell = _shell(need, probe)
    frame_options = _values(shell, "x-frame-options")
    policy = _policy(_csp(shell) or "")
    if "frame-ancestors" in policy:
        return
    if not frame_options:
        fail_on(
            [
                f"{url} has neither X-Frame-Options nor a CSP frame-ancestors directive: any site can frame it "
                "(expected X-Frame-Options DENY or SAMEORIGIN)"
            ]
        )
    if frame_options[0].upper() not in ("DENY", "SAMEORIGIN"):
        fail_on([f"{url}: X-Frame-Options is {frame_options[0]!r} (ignored by browsers); expected DENY or SAMEORIGIN"])


@check(
    "HDR-03",
    severity="medium",
    guide=["H: Security Issues"],
    references=["Mozilla Observatory: Content Security Policy", "CSP Level 3"],
    standards=["ASVS:V14.4.3", "Mozilla:Content Security Policy"],
)
def test_content_security_policy(need: Need, probe: Probe) -> None:
    """A Content-Security-Policy restricts scripts.

    Rationale: the CSP is what stops an injected script (a stored XSS, a tampered third-party
    bundle) from running. It must be present on the shell, and its script-src (or default-src,
    which script-src falls back to) must not allow 'unsafe-eval' (eval and new Function turn
    injected strings into code), nor 'unsafe-inline' unless a nonce or hash is also given (then
    CSP2+ browsers ignore 'unsafe-inline'). A Report-Only policy enforces nothing.

    Fix: nginx `add_header Content-Security-Policy "default-src 'self'; script-src 'self'; ...;
    frame-ancestors 'none'" always;`. Build the SPA without eval (no `devtool: eval` source maps,
    no runtime template compilation) and move inline scripts into files, or give them a nonce.
    """
    url, shell = _shell(need, probe)
    value = _csp(shell)
    if not value:
        only_report = shell.header("content-security-policy-report-only")
        note = " (there is only a Report-Only policy, which enforces nothing)" if only_report else ""
        fail_on([f"{url} ({shell.status}) has no Content-Security-Policy header{note}"])
    problems = []
    for policy_text in value.split(","):
        policy = _policy(policy_text)
        name = "script-src" if "script-src" in policy else "default-src" if "default-src" in policy else None
        if name is None:
            problems.append(
                f"{url}: the Content-Security-Policy sets neither script-src nor default-src: scripts are unrestricted"
            )
            continue
        sources = policy[name]
        if "'unsafe-eval'" in sources:
            problems.append(f"{url}: CSP {name} allows 'unsafe-eval' ({name} {' '.join(sources)})")
        hashed = any(s.startswith(("'nonce-", "'sha256-", "'sha384-", "'sha512-")) for s in sources)
        if "'unsafe-inline'" in sources and not hashed:
            problems.append(
                f"{url}: CSP {name} allows 'unsafe-inline' without a nonce or hash ({name} {' '.join(sources)})"
            )
    fail_on(list(dict.fromkeys(problems)))


@check(
    "HDR-04",
    severity="low",
    guide=["H: Security Issues"],
    inputs={"allowed": ["no-referrer", "same-origin", "strict-origin", "strict-origin-when-cross-origin"]},
    references=["Mozilla Observatory: Referrer Policy", "Django W022 (SECURE_REFERRER_POLICY)"],
    standards=["ASVS:V14.4.6", "Mozilla:Referrer Policy", "Django:security.W022"],
)
def test_referrer_policy(need: Need, probe: Probe, inputs: dict[str, Any]) -> None:
    """Referrer-Policy keeps paths and queries on the site.

    Rationale: the full URL of a page (ids, search terms, reset tokens in a query string) goes to
    every other site it links to or loads from, unless a Referrer-Policy stops it; unsafe-url and
    no-referrer-when-downgrade send it, and over http:// too. The shell's policy must be one of
    inputs.HDR-04.allowed (browsers apply the last value they understand).

    Fix: nginx `add_header Referrer-Policy "strict-origin-when-cross-origin" always;`. Django:
    SECURE_REFERRER_POLICY = "strict-origin-when-cross-origin" (or "same-origin").
    """
    url, shell = _shell(need, probe)
    allowed = [a.lower() for a in inputs["allowed"]]
    values = [v.lower() for v in _values(shell, "referrer-policy")]
    if not values:
        fail_on([f"{url} ({shell.status}) has no Referrer-Policy header (expected one of {', '.join(allowed)})"])
    effective = values[-1]
    if effective not in allowed:
        fail_on(
            [f"{url}: Referrer-Policy is {effective!r}; expected one of {', '.join(allowed)} (inputs.HDR-04.allowed)"]
        )


@check(
    "HDR-05",
    severity="low",
    guide=["H: Security Issues"],
    references=["nginx server_tokens", "Mozilla Observatory"],
    standards=["ASVS:V14.3.3"],
)
def test_no_version_banner(need: Need, probe: Probe, env: EnvironmentModel) -> None:
    """No version banner.

    Rationale: a Server header such as nginx/1.22.1 (or an X-Powered-By) tells a scanner which
    known vulnerabilities to try, and error pages repeat it. The shell, the API's answer and a
    404 page (a missing file under the first of web.asset_prefixes) must name no version.

    Fix: nginx `server_tokens off;` in the http block. Drop X-Powered-By where a framework adds it
    (`proxy_hide_header X-Powered-By;`).
    """
    answers = _answers(need, env, probe)
    missing = _missing_asset(env)
    answers.append((missing, probe.get(missing)))
    problems = []
    for url, answer in answers:
        for header in ("server", "x-powered-by"):
            value = answer.header(header) or ""
            if VERSION.search(value):
                problems.append(f"{url}: the {header.title()} header names a version ({value!r}); expected none")
        if answer.status >= 400 and answer.content_type == "text/html":
            banner = BANNER_IN_PAGE.search(answer.text)
            if banner:
                problems.append(f"{url}: the {answer.status} error page names a version ({banner.group(1)!r})")
    fail_on(list(dict.fromkeys(problems)))
