"""Twins only the Django API can express (frameworks=("django",))."""

from __future__ import annotations

from sandbox.twins.model import Twin, V

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
        django_migrate_to=("verihome", "0002_seed_properties"),
        frameworks=("django",),
    ),
]
