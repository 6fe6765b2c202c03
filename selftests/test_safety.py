"""Do no harm: the suite's database session cannot write, has its timeouts, and a DB run changes nothing."""

from __future__ import annotations

import re
from typing import Any

import pytest

from fixtures.database import Database
from selftests.harness import LOCAL, Stack


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
    assert session.setting("idle_in_transaction_session_timeout") == "4s"
    assert session.setting("application_name") == "preflight"


def test_a_slow_statement_is_cancelled(session: Database) -> None:
    with pytest.raises(pytest.fail.Exception, match="statement timeout"):
        session.rows("SELECT pg_sleep(30)")


def test_probe_reads_defaults_then_stays_read_only(session: Database) -> None:
    session.connect()
    assert session.default_read_only == "off"
    assert session.in_recovery is False
    assert session.setting("default_transaction_read_only") == "on"
    with pytest.raises(pytest.fail.Exception, match="read-only transaction"):
        session.rows("INSERT INTO login_attempts (email, ip, succeeded) VALUES ('x', 'y', true)")


SNAPSHOT_TABLES = """
SELECT format('%I.%I', n.nspname, c.relname) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND n.nspname NOT LIKE 'pg\\_to%' ORDER BY 1
"""
SNAPSHOT_SCHEMA = """
SELECT md5(string_agg(x, '|' ORDER BY x)) FROM (
  SELECT format('%s %s %s', c.oid::regclass, c.relkind, c.relnatts) AS x FROM pg_class c
    JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname NOT IN ('pg_catalog', 'information_schema')
  UNION ALL SELECT pg_get_constraintdef(oid) || conname FROM pg_constraint
  UNION ALL SELECT pg_get_indexdef(indexrelid) || indisvalid FROM pg_index
  UNION ALL SELECT array_to_string(setconfig, ',') FROM pg_db_role_setting
  UNION ALL SELECT extname || extversion FROM pg_extension) s
"""


def _snapshot(admin: Any) -> dict[str, str]:
    """A checksum of every application table's rows, and of the schema and settings."""
    tables = [row[0] for row in admin.execute(SNAPSHOT_TABLES).fetchall()]
    sums = {"schema": admin.execute(SNAPSHOT_SCHEMA).fetchone()[0]}
    for table in tables:
        query = f"SELECT md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')) FROM {table} t"
        sums[table] = admin.execute(query).fetchone()[0]
    return sums


READ_ONLY_STATEMENT = re.compile(r"^\s*(SELECT|SHOW|SET|BEGIN|COMMIT|ROLLBACK)\b", re.IGNORECASE)


def test_a_full_db_run_changes_nothing(stack: Stack) -> None:
    """The DB and POOL checks leave the good database as they found it, and send only reads,
    all through one session."""
    with stack.sandbox.superuser("good") as admin:
        admin.execute("SELECT pg_stat_statements_reset()")
        before = _snapshot(admin)
        run = stack.run(LOCAL, "db-safety", "tests/db", "tests/pool")
        after = _snapshot(admin)
        statements = admin.execute(
            "SELECT s.query, s.calls FROM pg_stat_statements s JOIN pg_roles r ON r.oid = s.userid"
            " WHERE r.rolname = 'app' AND s.dbid = (SELECT oid FROM pg_database WHERE datname = current_database())"
        ).fetchall()
    assert run.rc == 0, run.out[-3000:]
    assert len(before) > 5, before  # the guide's tables were there to compare
    assert after == before
    writes = [query for query, _ in statements if not READ_ONLY_STATEMENT.match(query)]
    assert not writes, f"the suite sent statements that are not reads: {writes}"
    probes = [calls for query, calls in statements if "pg_is_in_recovery()" in query]
    assert probes == [1], f"expected one session for the whole run (one connect probe), got {probes}"


def test_mail_checks_send_no_message(stack: Stack) -> None:
    """MAIL-01..04 talk to the sandbox's Postfix (MAIL-04 logs in) and QUIT: its log shows each session's commands,
    none of them MAIL, RCPT, DATA or BDAT, and its queue holds no message."""
    mta = stack.sandbox.mta("good")
    assert mta is not None, "the sandbox runs no mail server (Postfix needs root)"
    seen = mta.log.read_text() if mta.log.exists() else ""
    run = stack.run(LOCAL, "mail-safety", "--intrusive", "-k", "MAIL-01 or MAIL-02 or MAIL-03 or MAIL-04")
    outcomes = {c["id"]: c["outcome"] for c in run.document["checks"]}
    assert outcomes == dict.fromkeys(["MAIL-01", "MAIL-02", "MAIL-03", "MAIL-04"], "passed"), run.out[-3000:]
    log = mta.log.read_text()[len(seen) :]
    # Postfix logs every session's commands when it ends: "disconnect from ... ehlo=2 starttls=1 auth=1 quit=1".
    sessions = re.findall(r"disconnect from \S+ (.*)", log)
    assert len(sessions) >= 5, log  # two ports for MAIL-01 and MAIL-02, one each for MAIL-03 and MAIL-04
    assert any("auth=1" in commands for commands in sessions), log  # MAIL-04 logged in
    for commands in sessions:
        assert not re.search(r"\b(mail|rcpt|data|bdat)=", commands), f"a message was begun: {commands}"
    assert mta.queued() == [], "the mail queue is not empty"
