"""The sandbox API in Django (VeriHome's back end): the same contract as sandbox.app (see sandbox/API.md).

gunicorn loads ``sandbox.django_api.wsgi:application`` with DJANGO_SETTINGS_MODULE set to
``sandbox.django_api.settings``, which builds Django's settings from the same JSON file as the
Flask app (SANDBOX_APP_SETTINGS).
"""


def preload() -> None:
    """Import what every Django app process needs before settings exist (the launcher shares it by fork)."""
    import corsheaders.middleware  # noqa: F401
    import django.contrib.auth.hashers  # noqa: F401
    import django.contrib.sessions.backends.db  # noqa: F401
    import django.core.handlers.wsgi  # noqa: F401
    import django.db.backends.postgresql.base  # noqa: F401
    import django.http  # noqa: F401
    import django.urls  # noqa: F401
    import jwt  # noqa: F401
    import stripe  # noqa: F401
