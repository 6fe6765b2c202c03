"""Twins for the COOK checks."""

from __future__ import annotations

from sandbox.twins.model import H, Twin, V

TWINS = [
    Twin(
        name="cookie-not-secure",
        description="SESSION_COOKIE_SECURE = False and the remember cookie lacks Secure: "
        "session cookies can leak over plain HTTP.",
        guide=f"{V}: SSL/HTTPS Issues",
        breaks={
            "COOK-01": r"cookie 'session(id)?' is set over HTTPS without Secure",
        },
        app={"cookies": {"session_secure": False, "remember_secure": False}},
    ),
    Twin(
        name="cookie-not-httponly",
        description="SESSION_COOKIE_HTTPONLY = False and the remember cookie lacks HttpOnly: "
        "any injected script can read the session.",
        guide=f"{H}: Authentication Issues",
        breaks={
            "COOK-02": r"session cookie 'session(id)?' is set without HttpOnly",
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
        name="cookie-csrf-not-secure",
        description="CSRF_COOKIE_SECURE = False (Django check --deploy W016): the csrftoken cookie also "
        "travels over plain http://, where it can be read and replayed with a forged form.",
        guide=f"{V}: SSL/HTTPS Issues",
        breaks={
            "COOK-01": r"cookie 'csrftoken' is set over HTTPS without Secure",
        },
        app={"cookies": {"csrf_secure": False}},
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
            "COOK-03": r"cookie 'session(id)?' is SameSite=None without Secure.*"
            r"|csrf cookie 'csrftoken' has no SameSite",
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
        name="cookie-session-two-weeks",
        description="The session lifetime was left at Django's default SESSION_COOKIE_AGE = 1209600 "
        "(two weeks; Flask: PERMANENT_SESSION_LIFETIME = 14 days) instead of the 7-day policy.",
        guide=f"{V}: Session Expires Too Quickly",
        breaks={
            "COOK-04": r"session cookie 'session(id)?' lives 14\.0 days .*over the 7-day limit",
        },
        app={"cookies": {"session_days": 14}},
    ),
    Twin(
        name="http-no-redirect",
        description="The plain-HTTP listener serves the site and proxies /api/ instead of "
        "redirecting: a login over http:// sets the session cookie in clear text.",
        guide=f"{V}: SSL/HTTPS Issues",
        breaks={
            "COOK-05": r"answered 200 and set session cookie 'session(id)?' over plain HTTP",
            "TLS-01": r"http://localhost:\d+/ answered 200 instead of redirecting to https://",
        },
        nginx={"http_redirect": False},
    ),
]
