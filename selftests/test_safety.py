"""Do no harm: the suite's database session cannot write, and has its timeouts."""

from __future__ import annotations

import pytest

from fixtures.database import Database
from selftests.harness import Stack


@pytest.fixture
def session(stack: Stack):
    dsn = stack.sandbox.variables("good")["SANDBOX_DATABASE_URL"]
    database = Database(dsn=dsn, timeout=2.0, redact=lambda text: text.replace(dsn, "<dsn>"))
    yield database
    database.close()


@pytest.mark.parametrize(
    "statement",
    ["CREATE TABLE preflight_probe (id int)", "UPDATE users SET email = email", "DELETE FROM users"],
)
def test_writes_are_refused(session: Database, statement: str) -> None:
    with pytest.raises(pytest.fail.Exception, match="read-only transaction"):
        session.rows(statement)
    # The users table is still there and unchanged.
    assert session.value("SELECT count(*) FROM users") >= 1


def test_session_settings(session: Database) -> None:
    assert session.setting("default_transaction_read_only") == "on"
    assert session.setting("statement_timeout") == "2s"
    assert session.setting("lock_timeout") == "2s"
    assert session.setting("application_name") == "preflight"


def test_a_slow_statement_is_cancelled(session: Database) -> None:
    with pytest.raises(pytest.fail.Exception, match="statement timeout"):
        session.rows("SELECT pg_sleep(30)")
