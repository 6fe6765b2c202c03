"""The API application's settings, as the apps read them: the good stack's defaults (sandbox.parts.AppSettings)
with the settings file's overrides.

Kept apart from sandbox.app so that the sandbox itself need not import Flask and stripe.
"""

from __future__ import annotations

from typing import Any

from sandbox.parts import AppSettings

# gunicorn's app factory reads the JSON settings file named by this variable.
SETTINGS_ENV = "SANDBOX_APP_SETTINGS"


def app_settings(override: dict[str, Any]) -> dict[str, Any]:
    """What an API (Flask or Django) runs with: the defaults, deep-merged with the settings file's.

    The stack writes secret_key, database_url and webhook_secret into every settings file.
    """
    cfg = AppSettings.model_validate(override).model_dump()
    for required in ("secret_key", "database_url", "webhook_secret"):
        if not cfg[required]:
            raise ValueError(f"setting {required} is required")
    return cfg
