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


LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["stderr"], "level": "INFO"},
    "loggers": {"django.request": {"handlers": ["stderr"], "level": "ERROR", "propagate": False}},
}
