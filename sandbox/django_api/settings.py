"""Django settings built from the sandbox's app settings (sandbox.settings.DEFAULT_SETTINGS + the twin's).

The JSON file named by SANDBOX_APP_SETTINGS is the one the Flask app reads; each setting maps to
the Django (or django-cors-headers) setting that expresses the same thing.
"""

from __future__ import annotations

import re
from typing import Any

from sandbox.django_common import LOGGING as LOGGING  # a setting: Django reads it here
from sandbox.django_common import database, load, web_settings

# A plain scheme://host[:port] is an exact origin; anything else is a pattern, as Flask-CORS reads it.
_EXACT_ORIGIN = re.compile(r"^https?://[A-Za-z0-9.-]+(:\d+)?$")


def _origins(cors: dict[str, Any]) -> tuple[list[str], list[str | re.Pattern[str]]]:
    """(CORS_ALLOWED_ORIGINS, CORS_ALLOWED_ORIGIN_REGEXES); one string (a twin's ".*") is used alone."""
    if isinstance(cors["origins"], str):
        return [], [cors["origins"]]
    exact = [o for o in cors["origins"] if _EXACT_ORIGIN.match(o)]
    patterns: list[str | re.Pattern[str]] = [o for o in cors["origins"] if o not in exact]
    return exact, [*patterns, *(re.compile(p, re.IGNORECASE) for p in cors["origin_regexes"])]


SANDBOX = load()
_cookies = SANDBOX["cookies"]
_cors = SANDBOX["cors"]

SECRET_KEY: str = SANDBOX["secret_key"]
# debug: Django's technical 404 and 500 pages (settings, URLconf, tracebacks) instead of handler404/500.
DEBUG: bool = SANDBOX["debug"]
ALLOWED_HOSTS = ["localhost", "127.0.0.1", "[::1]", ".preflight.test"]
ROOT_URLCONF = "sandbox.django_api.urls"
WSGI_APPLICATION = "sandbox.django_api.wsgi.application"
AUTH_USER_MODEL = "verihome.User"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
USE_TZ = True
TIME_ZONE = "UTC"

INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "django.contrib.sessions",
    "corsheaders",
    "sandbox.django_api.apps.VeriHomeConfig",
]

MIDDLEWARE = [
    "sandbox.django_api.middleware.MetricsMiddleware",
    *(["corsheaders.middleware.CorsMiddleware"] if _cors["enabled"] else []),
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "sandbox.django_api.middleware.ApiAuthMiddleware",
    *(["sandbox.django_api.middleware.InternalTracebackMiddleware"] if SANDBOX["error_tracebacks"] else []),
]
# error_tracebacks: the middleware above shows tracebacks to these callers; nginx connects from 127.0.0.1.
INTERNAL_IPS = ["127.0.0.1"] if SANDBOX["error_tracebacks"] else []

# database_port: a twin's wrong port (the health view then answers 503).
DATABASES = {
    "default": database(SANDBOX["database_url"], SANDBOX["pool"], SANDBOX["database_port"], SANDBOX["database_options"])
}

# Behind nginx: proxy headers, security headers and the session and CSRF cookies (django_common).
globals().update(web_settings(SANDBOX))
# The SPA reads it and echoes it in X-CSRFToken.
CSRF_COOKIE_HTTPONLY = False
CSRF_TRUSTED_ORIGINS = [o for o in _origins(_cors)[0] if o.startswith("https://")]
if SANDBOX["json_errors"]:
    CSRF_FAILURE_VIEW = "sandbox.django_api.views.csrf_failure"

# Not a Django setting: the remember-me cookie the login view sets by hand, like Flask-Login's.
REMEMBER_COOKIE = {
    "name": "remember_token",
    "max_age": int(_cookies["remember_days"] * 24 * 3600),
    "secure": _cookies["remember_secure"],
    "httponly": _cookies["remember_httponly"],
    "samesite": _cookies["remember_samesite"],
}

CORS_URLS_REGEX = r"^/api/.*$"
CORS_ALLOWED_ORIGINS, CORS_ALLOWED_ORIGIN_REGEXES = _origins(_cors)
CORS_ALLOW_CREDENTIALS: bool = _cors["supports_credentials"]
CORS_ALLOW_HEADERS: list[str] = list(_cors["allow_headers"])
CORS_ALLOW_METHODS: list[str] = list(_cors["methods"])
CORS_PREFLIGHT_MAX_AGE: int = _cors["max_age"]

WEBHOOK = {**SANDBOX["webhook"], "secret": SANDBOX["webhook_secret"]}
# Not Django settings: the JWT verifier and the paths that need a user (sandbox/API.md, `auth`).
API_AUTH: dict[str, Any] = SANDBOX["auth"]
JSON_ERRORS: bool = SANDBOX["json_errors"]
SLOW_QUERY_SECONDS: float = SANDBOX["slow_query_seconds"]
