"""What both Django apps' settings share (sandbox.django_api, sandbox.django_site): the settings file, the
database, logging. Imported only by those settings modules."""

from __future__ import annotations

import json
import os
from typing import Any
from urllib.parse import unquote, urlsplit

from sandbox.settings import SETTINGS_ENV, app_settings


def load() -> dict[str, Any]:
    path = os.environ.get(SETTINGS_ENV)
    if not path:
        raise RuntimeError(f"{SETTINGS_ENV} must name the app settings file (JSON)")
    with open(path) as handle:
        return app_settings(json.load(handle))


def database(url: str, pool: dict[str, Any], port: int | None, options: dict[str, Any]) -> dict[str, Any]:
    parts = urlsplit(url)
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": parts.path.lstrip("/"),
        "USER": unquote(parts.username or ""),
        "PASSWORD": unquote(parts.password or ""),
        "HOST": parts.hostname or "",
        "PORT": str(port or parts.port or 5432),
        # Django has no pool: one persistent connection per thread, closed after CONN_MAX_AGE.
        "CONN_MAX_AGE": pool["recycle"],
        "CONN_HEALTH_CHECKS": pool["pre_ping"],
        "OPTIONS": {"connect_timeout": 5, "application_name": "preflight-sandbox-app", **options},
    }


def web_settings(sandbox: dict[str, Any]) -> dict[str, Any]:
    """Behind nginx: the proxy headers it sets (trust_proxy), the security headers it owns (Django's copies
    would be sent twice, one with a different Referrer-Policy), and the session and CSRF cookies."""
    cookies = sandbox["cookies"]
    found: dict[str, Any] = {
        "SECURE_CONTENT_TYPE_NOSNIFF": False,
        "SECURE_REFERRER_POLICY": None,
        "SECURE_CROSS_ORIGIN_OPENER_POLICY": None,
        "SESSION_ENGINE": "django.contrib.sessions.backends.db",
        "SESSION_COOKIE_NAME": "sessionid",
        "SESSION_COOKIE_SECURE": cookies["session_secure"],
        "SESSION_COOKIE_HTTPONLY": cookies["session_httponly"],
        "SESSION_COOKIE_SAMESITE": cookies["session_samesite"],
        "SESSION_COOKIE_AGE": int(cookies["session_days"] * 24 * 3600),
        "CSRF_COOKIE_NAME": "csrftoken",
        "CSRF_COOKIE_SECURE": cookies["csrf_secure"],
        "CSRF_COOKIE_SAMESITE": cookies["csrf_samesite"],
    }
    if sandbox["trust_proxy"]:
        # nginx terminates TLS and says so; the Host it forwards carries the public port.
        found.update(SECURE_PROXY_SSL_HEADER=("HTTP_X_FORWARDED_PROTO", "https"), USE_X_FORWARDED_HOST=True)
    return found


LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["stderr"], "level": "INFO"},
    "loggers": {"django.request": {"handlers": ["stderr"], "level": "ERROR", "propagate": False}},
}
