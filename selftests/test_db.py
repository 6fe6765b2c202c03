"""DB checks on the good stack with other declarations: each declared expectation is really compared."""

from __future__ import annotations

import re

from selftests.harness import LOCAL, Stack, write_env


def test_declared_expectations_are_compared(stack: Stack) -> None:
    """Declarations the good database does not meet fail, naming what was declared."""
    env = write_env(
        stack.folder / "db-declarations.yml",
        {
            "extends": str(LOCAL),
            "name": "db-declarations",
            "database": {
                "migrations": {"head": "0002_guide_tables", "alembic": str(LOCAL.parent / "../sandbox/migrations")},
                "indexes": ["public.idx_payments_due_date", "idx_nowhere"],
                "unique": ["nosuch(email)", "users(email)", "properties(lower(status))"],
                "relations": ["payments.property_id -> properties.id"],
            },
            "inputs": {"DB-01": {"eol_warning_days": 100000}},
        },
    )
    run = stack.run(env, "db-declarations", "tests/db")
    assert re.search(
        r"the declared head 0002_guide_tables is not the head of .*migrations \(0003_guide_indexes\)",
        run.record("DB-02")["message"],
    )
    assert "alembic_version on" in run.record("DB-02")["message"]
    assert "end of life" in run.record("DB-01")["message"]
    assert run.record("DB-07")["message"].count("does not exist") == 1  # idx_nowhere; the qualified name exists
    integrity = run.record("DB-09")["message"]
    assert "table nosuch does not exist" in integrity
    assert "users(email)" not in integrity  # the UNIQUE constraint on email counts
    assert re.search(r"no valid unique index or constraint on properties\(lower\(status\)\)", integrity)
    assert re.search(r"properties\(lower\(status\)\) on .*: 1 value\(s\) occur more than once", integrity)
    assert "orphaned" not in integrity


def test_django_migrations_and_not_production(stack: Stack) -> None:
    """Django migrations are read from django_migrations; SQLite outside production is allowed."""
    env = write_env(
        stack.folder / "db-django.yml",
        {
            "extends": str(LOCAL),
            "name": "db-django",
            "production": False,
            "database": {"migrations": {"django": ["properties.0001_initial"]}},
        },
    )
    run = stack.run(env, "db-django", "tests/db", "-k", "DB-02 or DB-11 or DB-12")
    assert "has no django_migrations table" in run.record("DB-02")["message"]
    assert run.record("DB-11")["outcome"] == "not applicable"
    assert run.record("DB-12")["outcome"] == "not applicable"
