"""The API application's settings: the defaults of the good stack, and how a twin overrides them.

Kept apart from sandbox.app so that the sandbox itself need not import Flask and stripe.
"""

from __future__ import annotations

import copy
from typing import Any

# gunicorn's app factory reads the JSON settings file named by this variable.
SETTINGS_ENV = "SANDBOX_APP_SETTINGS"

DEFAULT_SETTINGS: dict[str, Any] = {
    "secret_key": None,
    "database_url": None,
    "webhook_secret": None,
    "pool": {"size": 5, "max_overflow": 5, "timeout": 10, "recycle": 1800, "pre_ping": True},
    "cors": {
        "enabled": True,
        # Two origins, as in the VeriHome guide; it also makes Flask-CORS send Vary: Origin.
        "origins": ["https://app.preflight.test", "https://www.preflight.test"],
        # Anchored regexes, also allowed (django-cors-headers CORS_ALLOWED_ORIGIN_REGEXES). A browser's
        # Origin carries a non-default port, and the sandbox serves the SPA on a random one (UI-01).
        "origin_regexes": [r"^https://app\.preflight\.test:\d+$"],
        "supports_credentials": True,
        "allow_headers": ["authorization", "content-type", "x-csrftoken"],
        "methods": ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"],
        "max_age": 600,
        "vary_header": True,
    },
    "cookies": {
        "session_secure": True,
        "session_httponly": True,
        "session_samesite": "Lax",
        "session_days": 7,
        "remember_secure": True,
        "remember_httponly": True,
        "remember_samesite": "Lax",
        "remember_days": 30,
        "csrf_secure": True,
        "csrf_samesite": "Lax",
    },
    # Behind nginx: trust X-Forwarded-Proto/Host/For from one proxy (werkzeug ProxyFix, and gunicorn's
    # forwarded_allow_ips). False: the app believes it is served over http:// on nginx's Host and
    # builds http:// URLs.
    "trust_proxy": True,
    # True: the Werkzeug debugger (DebuggedApplication, evalex=True): tracebacks in error pages and
    # an interactive console at <API prefix>/console.
    "debug": False,
    # False: errors are Flask's default HTML pages instead of JSON.
    "json_errors": True,
    # Seconds of `SELECT pg_sleep(...)` in GET /api/v1/properties: a slow query on the listing.
    "slow_query_seconds": 0,
    # A port to connect to instead of the database's: DATABASE_URL names a port nothing listens on.
    "database_port": None,
    # Extra options for the database driver (SQLAlchemy connect_args, Django DATABASES OPTIONS). The H
    # guide's Django example adds {"MAX_CONNS": 20}, which psycopg refuses: no connection can be opened.
    "database_options": {},
    "webhook": {
        "path": "/webhooks/stripe/",
        # "signature" (stripe.Webhook.construct_event), "none", "header-presence",
        # or "no-tolerance" (HMAC checked, timestamp not).
        "verify": "signature",
        # "environment": the endpoint secret the environment declares; "stale": another whsec_.
        "secret": "environment",
        # Django: the view is @csrf_exempt (Stripe sends no CSRF token). Flask has no CSRF protection
        # in front of its views, so there it changes nothing.
        "csrf_exempt": True,
    },
    "auth": {
        # Lifetime of the access JWT issued by POST /api/auth/token (exp - iat), minutes.
        "access_minutes": 15,
        # The `alg` values the Bearer verifier accepts; "none" accepts unsigned tokens.
        "algorithms": ["HS256"],
        "verify_signature": True,
        "verify_exp": True,
        # Routes that answer 401 without the session cookie or a valid Bearer JWT.
        "protected": ["/api/v1/account", "/api/v1/payments"],
    },
}


def merge(base: dict[str, Any], override: dict[str, Any], where: str = "") -> dict[str, Any]:
    """Deep-merge override into a copy of base; an unknown key is an error (catches typos)."""
    merged = copy.deepcopy(base)
    for key, value in override.items():
        if key not in merged:
            raise KeyError(f"unknown setting {where}{key}")
        # An empty dict by default (database_options) is a free-form map: the override replaces it.
        if isinstance(merged[key], dict) and isinstance(value, dict) and merged[key]:
            merged[key] = merge(merged[key], value, f"{where}{key}.")
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def app_settings(override: dict[str, Any]) -> dict[str, Any]:
    """What an API (Flask or Django) runs with: DEFAULT_SETTINGS merged with the settings file's.

    The stack writes secret_key, database_url and webhook_secret into every settings file.
    """
    cfg = merge(DEFAULT_SETTINGS, override)
    for required in ("secret_key", "database_url", "webhook_secret"):
        if not cfg[required]:
            raise ValueError(f"setting {required} is required")
    return cfg
