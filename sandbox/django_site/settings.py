"""Django settings of the server-rendered site, built from the sandbox's app settings (sandbox.parts.AppSettings
with the twin's overrides): the same keys mean the same as for the API (sandbox/API.md)."""

from __future__ import annotations

from sandbox.django_common import LOGGING as LOGGING  # a setting: Django reads it here
from sandbox.django_common import database, load, web_settings
from sandbox.sites import FRONTEND

SANDBOX = load()

SECRET_KEY: str = SANDBOX["secret_key"]
DEBUG: bool = SANDBOX["debug"]
ALLOWED_HOSTS = ["localhost", "127.0.0.1", "[::1]", ".preflight.test"]
ROOT_URLCONF = "sandbox.django_site.urls"
WSGI_APPLICATION = "sandbox.django_site.wsgi.application"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
USE_TZ = True
TIME_ZONE = "UTC"

INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "django.contrib.sessions",
    "django.contrib.staticfiles",
    "sandbox.django_site.apps.SiteConfig",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
]

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
            ]
        },
    }
]

DATABASES = {
    "default": database(SANDBOX["database_url"], SANDBOX["pool"], SANDBOX["database_port"], SANDBOX["database_options"])
}

# Collected by `collectstatic` into the folder nginx serves under /static/; templates name the hashed
# copies through staticfiles.json ({% static %}).
STATIC_URL = "/static/"
STATIC_ROOT = SANDBOX["static_root"]
STATICFILES_DIRS = [FRONTEND]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.ManifestStaticFilesStorage"},
}

LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/dashboard/"
LOGOUT_REDIRECT_URL = "/"

# Behind nginx: proxy headers, security headers and the session and CSRF cookies (django_common).
globals().update(web_settings(SANDBOX))

# Not Django settings: pages that forgot @login_required (a twin's), the health view's answer.
UNPROTECTED_PAGES: list[str] = SANDBOX["site"]["unprotected"]
