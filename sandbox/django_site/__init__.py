"""The sandbox's server-rendered Django site (VeriHome's web app): templates, a form login with Django's
session and CSRF cookies, login-gated pages, and static files collected by ManifestStaticFilesStorage
that nginx serves. No API of its own. sandbox/API.md, "The sites", says what it answers.

gunicorn loads ``sandbox.django_site.wsgi:application`` with DJANGO_SETTINGS_MODULE set to
``sandbox.django_site.settings``, which reads the same settings file as the other apps.
"""


def preload() -> None:
    """Import what its processes need before settings exist (the launcher shares it by fork)."""
    import django.contrib.auth.decorators  # noqa: F401
    import django.contrib.staticfiles.storage  # noqa: F401
    import django.template.backends.django  # noqa: F401
    import django.template.loader_tags  # noqa: F401
