"""Twins only the Django API can express (frameworks=("django",))."""

from __future__ import annotations

from sandbox.twins.model import H, Twin, V

TWINS = [
    Twin(
        name="django-migrate-behind",
        description="After a failed deploy someone ran `manage.py migrate verihome 0002_seed_properties` and "
        "kept the new code: verihome.0003_guide_indexes is unapplied, the guide's message and search indexes gone.",
        guide=f"{V}: Migration Errors",
        breaks={
            "DB-02": r"1 expected Django migration\(s\) are not applied on .*: verihome\.0003_guide_indexes",
            "DB-07": r"idx_messages_conversation_created",
        },
        data={"django_migrate_to": ("verihome", "0002_seed_properties")},
        frameworks=("django",),
    ),
    Twin(
        name="django-guide-max-conns",
        description="The H guide's Django settings were copied verbatim: OPTIONS {'MAX_CONNS': 20} reaches "
        "psycopg, which refuses the unknown option, so no request can open a database connection.",
        guide=f"{H}: Connection Pool Configuration",
        breaks={
            "APP-01": r"api health https://localhost:\d+/api/health answered 503 application/json",
        },
        app={"database_options": {"MAX_CONNS": 20}},
        frameworks=("django",),
    ),
    Twin(
        name="django-webhook-csrf",
        description="The Stripe webhook view lacks @csrf_exempt: Django's CsrfViewMiddleware answers every "
        "delivery 403 before the signature is even looked at.",
        guide=f"{H}: Webhook Issues",
        breaks={
            "HOOK-01": r"answered 403: a CSRF failure, so no delivery reaches the handler",
            "HOOK-05": r"rejected a genuine 'ping' event: answered 403 .*a CSRF failure",
        },
        app={"webhook": {"csrf_exempt": False}},
        frameworks=("django",),
    ),
]
