"""COOK: the cookies the application sets after the configured login (or landing) request."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any, NamedTuple
from urllib.parse import urlsplit

from fixtures.check import (
    Ask,
    CookieNames,
    EnvironmentModel,
    Exchange,
    Need,
    Probe,
    Session,
    SetCookie,
    UserSession,
    blocked_by,
    check,
    fail,
    fail_on,
    http_date,
    http_twin,
    login_body,
    not_applicable,
    parse_set_cookie,
    site_url,
)

# A cookie whose name says it carries a login is treated as a session cookie even when unlisted.
SENSITIVE_NAME = re.compile(r"sess|login|remember", re.IGNORECASE)
REDIRECTS = (301, 302, 307, 308)
SAMESITE_VALUES = ("strict", "lax", "none")
DAY = 86400.0


# A NamedTuple, not a dataclass: fixtures.catalogue executes check modules outside sys.modules.
class Source(NamedTuple):
    """The request whose Set-Cookie headers are checked: the declared login, or the landing GET."""

    method: str
    url: str
    headers: dict[str, str]
    body: bytes | None
    kind: str  # "login" or "landing"

    def __str__(self) -> str:
        return f"{self.method} {self.url}"


def _source(need: Need, env: EnvironmentModel) -> Source:
    """session.login (without its CSRF pair, which only the run's login reads), else session.landing."""
    spec: Session = need("session")
    if spec.login is not None:
        headers, body = login_body(spec.login)
        return Source(spec.login.method, site_url(env, spec.login.path), headers, body, "login")
    landing = need("session.landing")
    return Source("GET", site_url(env, landing), {}, None, "landing")


def prefetch(env: EnvironmentModel, inputs: Any) -> list[Ask]:
    """COOK-05's request to the plain-HTTP origin (the other checks read the run's own login)."""
    selected = inputs("COOK-05")
    spec = env.session
    if selected is None or spec is None or (spec.login is None and not spec.landing):
        return []
    if spec.login is not None:
        headers, body = login_body(spec.login)
        method, url = spec.login.method, site_url(env, spec.login.path)
    else:
        headers, body, method, url = {}, None, "GET", site_url(env, str(spec.landing))
    if urlsplit(url).scheme != "http":
        url = http_twin(url, selected.get("http_url") or env.lookup("web.http_url"), "COOK-05")
    return [Ask(method, url, tuple(headers.items()), body)]


def _response_time(exchange: Exchange) -> dt.datetime:
    date = exchange.header("date")
    return (http_date(date) if date else None) or dt.datetime.now(dt.UTC)


def _cookies_of(exchange: Exchange) -> list[SetCookie]:
    """The cookies an answer sets, leaving out the headers that only delete one."""
    now = _response_time(exchange)
    parsed = (parse_set_cookie(header) for header in exchange.set_cookies)
    return [cookie for cookie in parsed if cookie is not None and not cookie.deletes(now)]


def _observed(
    need: Need, env: EnvironmentModel, probe: Probe, request: Any
) -> tuple[Source, Exchange, list[SetCookie]]:
    """The exchange whose cookies are checked and the cookies set on the way: the run's login (its
    login page included), or the landing GET. A login that failed blocks the check (AUTH-06)."""
    source = _source(need, env)
    if source.kind == "login":
        user: UserSession = request.getfixturevalue("session")
        assert user.login is not None
        exchanges = [e for e in (user.page, user.login) if e is not None]
        exchange = user.login
    else:
        exchange = probe.get(source.url)
        if exchange.status >= 400:
            fail(f"{source} answered {exchange.status}: the landing request failed, no cookie to check")
        exchanges = [exchange]
    cookies = {c.name: c for e in exchanges for c in _cookies_of(e)}
    if not cookies:
        fail(f"no cookie was set by {source}: nothing to check")
    return source, exchange, list(cookies.values())


def _roles(config: CookieNames) -> dict[str, str]:
    return {**{name: "remember" for name in config.remember}, **{name: "session" for name in config.session}}


def _sensitive_role(name: str, roles: dict[str, str]) -> str | None:
    if name in roles:
        return roles[name]
    return "session" if SENSITIVE_NAME.search(name) else None


@check(
    "COOK-01",
    severity="high",
    guide=["V: SSL/HTTPS Issues", "V: Session Expires Too Quickly"],
    references=["Mozilla Observatory: cookies", "Django check --deploy W010/W016", "RFC 6265 section 4.1.2.5"],
    standards=["ASVS:V3.4.1", "RFC:6265", "Mozilla:Cookies", "Django:security.W012", "Django:security.W016"],
)
def test_cookies_are_secure(need: Need, env: EnvironmentModel, probe: Probe, request: Any) -> None:
    """Every cookie set over HTTPS has Secure.

    Rationale: a cookie without Secure is also sent on any plain http:// request to the same host:
    a link, an image, a mistyped URL, or an attacker who injects one on an open Wi-Fi. The session
    then travels in clear text and can be replayed, which is why the V guide's SSL/HTTPS fix sets
    SESSION_COOKIE_SECURE = True. A site served over HTTPS has no reason to set any cookie without it.

    Fix: Flask: SESSION_COOKIE_SECURE = True and REMEMBER_COOKIE_SECURE = True, and secure=True on
    every response.set_cookie(). Django: SESSION_COOKIE_SECURE = True and CSRF_COOKIE_SECURE = True.
    Behind nginx, pass X-Forwarded-Proto and trust it (ProxyFix, SECURE_PROXY_SSL_HEADER) so the app
    knows the request was HTTPS; as a stopgap, nginx `proxy_cookie_flags ~ secure` adds the flag.
    """
    source, _, cookies = _observed(need, env, probe, request)
    if urlsplit(source.url).scheme != "https":
        not_applicable(f"{source.url} is plain http: no cookie is set over HTTPS (see COOK-05)")
    problems = [
        f"cookie {cookie.name!r} is set over HTTPS without Secure by {source}: "
        "browsers will also send it over plain http://"
        for cookie in cookies
        if not cookie.secure
    ]
    fail_on(list(dict.fromkeys(problems)))


@check(
    "COOK-02",
    severity="high",
    guide=["H: Authentication Issues", "V: Session Expires Too Quickly"],
    references=["Mozilla Observatory: cookies", "Django check --deploy W013", "OWASP Session Management Cheat Sheet"],
    standards=["ASVS:V3.4.2", "RFC:6265", "Mozilla:Cookies", "Django:security.W015"],
)
def test_session_cookies_are_httponly(need: Need, env: EnvironmentModel, probe: Probe, request: Any) -> None:
    """Session cookies are HttpOnly.

    Rationale: a session or remember-me cookie readable from JavaScript turns any script injection
    (a stored XSS, a compromised third-party bundle) into account takeover: the script posts
    document.cookie to its owner, who is then logged in as the user until the session expires.
    The configured session and remember cookies, and any cookie whose name says sess, login or
    remember, must be HttpOnly. A configured cookie that the login no longer sets means the
    environment's cookie names drifted from the application, and the check cannot vouch for it.

    Fix: Flask: SESSION_COOKIE_HTTPONLY = True (the default; do not turn it off) and
    REMEMBER_COOKIE_HTTPONLY = True, httponly=True on response.set_cookie(). Django:
    SESSION_COOKIE_HTTPONLY = True. Only the CSRF cookie the SPA reads may stay readable. When the
    application renamed its cookies, update session.cookies.session / session.cookies.remember.
    """
    source, _, cookies = _observed(need, env, probe, request)
    config: CookieNames = need("session").cookies
    roles = _roles(config)
    if not roles and not any(SENSITIVE_NAME.search(cookie.name) for cookie in cookies):
        need("session.cookies.session")
    seen = {cookie.name for cookie in cookies}
    problems = [
        f"configured {role} cookie {name!r} was not set by {source} (it set: {', '.join(sorted(seen))}): "
        f"session.cookies.{role} no longer matches the application"
        for name, role in roles.items()
        if name not in seen
    ]
    for cookie in cookies:
        role = _sensitive_role(cookie.name, roles)
        if role and not cookie.httponly:
            problems.append(
                f"{role} cookie {cookie.name!r} is set without HttpOnly by {source}: any script on the page can read it"
            )
    fail_on(list(dict.fromkeys(problems)))


@check(
    "COOK-03",
    severity="medium",
    guide=["H: Authentication Issues", "V: SSL/HTTPS Issues"],
    references=["Mozilla Observatory: cookies", "RFC 6265bis SameSite", "OWASP CSRF Prevention Cheat Sheet"],
    standards=["ASVS:V3.4.3", "Mozilla:Cookies"],
)
def test_samesite_is_set_and_sane(need: Need, env: EnvironmentModel, probe: Probe, request: Any) -> None:
    """SameSite is set and sane.

    Rationale: SameSite decides whether the browser attaches a cookie to requests started by other
    sites, the basis of CSRF. Without it, browsers disagree (Chrome assumes Lax, older Safari and
    Firefox send it everywhere), so the same login behaves differently per user. SameSite=None
    without Secure is rejected outright by current browsers: users are logged out straight after
    logging in. The CSRF cookie in particular must carry SameSite.

    Fix: Flask: SESSION_COOKIE_SAMESITE = "Lax" and REMEMBER_COOKIE_SAMESITE = "Lax", samesite="Lax"
    on response.set_cookie(). Django: SESSION_COOKIE_SAMESITE = "Lax" and CSRF_COOKIE_SAMESITE = "Lax".
    Use "None" only for a cookie that must cross sites, and then always with Secure.
    """
    source, _, cookies = _observed(need, env, probe, request)
    config: CookieNames = need("session").cookies
    csrf = set(config.csrf)
    seen = {cookie.name for cookie in cookies}
    problems = [
        f"configured csrf cookie {name!r} was not set by {source} (it set: {', '.join(sorted(seen))}): "
        "session.cookies.csrf no longer matches the application"
        for name in config.csrf
        if name not in seen
    ]
    for cookie in cookies:
        label = f"{'csrf cookie' if cookie.name in csrf else 'cookie'} {cookie.name!r}"
        samesite = cookie.samesite
        if samesite is None:
            problems.append(f"{label} has no SameSite attribute ({source}): expected Strict or Lax")
        elif samesite.lower() not in SAMESITE_VALUES:
            problems.append(f"{label} has an invalid SameSite={samesite!r} ({source}): expected Strict, Lax or None")
        elif samesite.lower() == "none" and not cookie.secure:
            problems.append(f"{label} is SameSite=None without Secure ({source}): browsers reject it")
    fail_on(list(dict.fromkeys(problems)))


def _lifetime_source(cookie: SetCookie, dated: bool) -> str:
    max_age = cookie.attributes.get("max-age")
    if isinstance(max_age, str) and re.fullmatch(r"-?\d+", max_age):
        return f"Max-Age={max_age}"
    return f"Expires={cookie.attributes.get('expires')} minus {'the response Date' if dated else 'now'}"


@check(
    "COOK-04",
    severity="medium",
    guide="V: Session Expires Too Quickly",
    inputs={"session_max_days": 7, "remember_max_days": 30, "skew_seconds": 60},
    references=["OWASP Session Management Cheat Sheet", "Flask PERMANENT_SESSION_LIFETIME, REMEMBER_COOKIE_DURATION"],
    standards=["ASVS:V3.3.2", "Mozilla:Cookies"],
)
def test_cookie_lifetimes_are_inside_policy(
    need: Need, env: EnvironmentModel, probe: Probe, request: Any, inputs: dict[str, Any]
) -> None:
    """Session lifetimes are inside policy.

    Rationale: the V guide settles the trade-off behind "users are logged out frequently": the
    session lives 7 days (PERMANENT_SESSION_LIFETIME) and the remember-me cookie 30 days
    (REMEMBER_COOKIE_DURATION). A longer-lived cookie keeps a stolen or shared-computer session
    valid for weeks or a year. The lifetime is read from Max-Age, else Expires minus the response's
    Date header; a cookie with neither ends with the browser session and passes. skew_seconds
    absorbs the one-second resolution of the dates and app/proxy clock differences.

    Fix: Flask: PERMANENT_SESSION_LIFETIME = timedelta(days=7) and REMEMBER_COOKIE_DURATION =
    timedelta(days=30) (the max_age of any hand-set remember cookie likewise). Django:
    SESSION_COOKIE_AGE = 7 * 24 * 3600. When policy differs, set inputs.COOK-04.session_max_days
    and remember_max_days in the environment instead.
    """
    source, exchange, cookies = _observed(need, env, probe, request)
    config: CookieNames = need("session").cookies
    limits = {
        **{name: ("remember", float(inputs["remember_max_days"])) for name in config.remember},
        **{name: ("session", float(inputs["session_max_days"])) for name in config.session},
    }
    if not limits:
        need("session.cookies.session")
    dated = bool(exchange.header("date") and http_date(exchange.header("date") or ""))
    now = _response_time(exchange)
    checked = [cookie for cookie in cookies if cookie.name in limits]
    if not checked:
        blocked_by(
            "COOK-02",
            f"none of the configured session or remember cookies ({', '.join(limits)}) was set by {source}: "
            "nothing to check",
        )
    problems = []
    for cookie in checked:
        role, max_days = limits[cookie.name]
        lifetime = cookie.max_age_seconds(now)
        if lifetime is not None and lifetime > max_days * DAY + float(inputs["skew_seconds"]):
            problems.append(
                f"{role} cookie {cookie.name!r} lives {lifetime / DAY:.1f} days ({_lifetime_source(cookie, dated)}), "
                f"over the {max_days:g}-day limit (inputs.COOK-04.{role}_max_days)"
            )
    fail_on(list(dict.fromkeys(problems)))


@check(
    "COOK-05",
    severity="high",
    guide=["V: SSL/HTTPS Issues", "H: Authentication Issues"],
    inputs={"http_url": None},
    references=["Mozilla Observatory: redirection", "Django check --deploy W008 (SECURE_SSL_REDIRECT)"],
    standards=["ASVS:V9.1.1", "Mozilla:HTTP Redirections"],
)
def test_no_session_cookie_over_plain_http(
    need: Need, env: EnvironmentModel, probe: Probe, inputs: dict[str, Any]
) -> None:
    """No session cookie over plain HTTP.

    Rationale: the same login sent to the http:// address must be answered with a redirect to
    https:// and nothing else. When the plain-HTTP listener serves the application instead, a
    user who typed the bare host name logs in in clear text and the session cookie is handed out
    over the wire, where anyone on the path can copy it; Secure on the cookie does not help, the
    value is already in the response. The plain-HTTP origin is inputs.COOK-05.http_url, else
    port 80 of the login URL's host.

    Fix: make the port-80 server block only redirect: nginx `server { listen 80; return 301
    https://$host$request_uri; }` with no location that proxies to the application. Django:
    SECURE_SSL_REDIRECT = True; Flask: redirect in a before_request hook or with Flask-Talisman
    (force_https=True). Add HSTS so browsers stop trying http:// at all.
    """
    source = _source(need, env)
    roles = _roles(need("session").cookies)
    target = (
        source.url
        if urlsplit(source.url).scheme == "http"
        else http_twin(source.url, inputs.get("http_url") or env.lookup("web.http_url"), "COOK-05")
    )
    exchange = probe.fetch(source.method, target, source.headers, source.body)
    problems = []
    for cookie in _cookies_of(exchange):
        role = _sensitive_role(cookie.name, roles)
        if role:
            problems.append(
                f"{target} answered {exchange.status} and set {role} cookie {cookie.name!r} over plain HTTP"
            )
    location = exchange.header("location") or ""
    if exchange.status not in REDIRECTS:
        problems.append(
            f"{target} answered {exchange.status} to {source.method} instead of a redirect to https:// "
            f"(expected {', '.join(str(s) for s in REDIRECTS)})"
        )
    elif not location.lower().startswith("https://"):
        problems.append(
            f"{target} answered {exchange.status} with a redirect to {location or '(no Location header)'}, "
            "not to https://"
        )
    fail_on(list(dict.fromkeys(problems)))
