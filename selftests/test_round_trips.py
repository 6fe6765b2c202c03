"""Probe early, all at once: the DB, POOL and RDS checks cost a few round trips, with the same verdicts.

The statements and commands the checks declare go in one pipeline per session (Database.round_trips,
Instance.round_trips, printed by bench.counter); an error in a pipeline belongs to the check that
reads that statement; each check's evidence still lists its own statements and commands.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import pytest

from fixtures.database import Database
from selftests.conftest import selected_instances
from selftests.harness import LOCAL, Run, Stack, twin_env, write_env


def _bench(run: Run) -> dict[str, int]:
    found = re.search(r"^BENCH (.*)$", run.out, re.M)
    assert found, run.out[-3000:]
    return {key: int(value) for key, value in (pair.split("=") for pair in found.group(1).split())}


def _outcomes(run: Run) -> dict[str, str]:
    return {c["id"]: c["outcome"] for c in run.document["checks"]}


@pytest.fixture
def session(stack: Stack) -> Iterator[Database]:
    dsn = stack.sandbox.variables("good")["SANDBOX_DATABASE_URL"]
    database = Database(dsn=dsn, timeout=1.0, redact=lambda text: text.replace(dsn, "<dsn>"))
    yield database
    database.close()


def test_a_failed_statement_fails_only_its_reader(session: Database) -> None:
    """A missing table, a write and a statement past its timeout each fail alone; the statements
    around them are answered, read-only, and the session stays read-only."""
    read_only = "SELECT current_setting('transaction_read_only')"
    session.plan(
        [
            ("SELECT count(*) FROM users", ()),
            ("SELECT * FROM preflight_nosuch", ()),
            (read_only, ()),
            ("CREATE TABLE preflight_probe (id int)", ()),
            ("SELECT pg_sleep(30)", ()),
            ("SELECT %s::int + 1", (41,)),
        ]
    )
    assert session.value("SELECT count(*) FROM users") >= 1
    # The setup, then one pipeline and one more after each of the three failures.
    assert session.round_trips == 5, session.queries
    with pytest.raises(pytest.fail.Exception, match='relation "preflight_nosuch" does not exist'):
        session.rows("SELECT * FROM preflight_nosuch")
    assert session.value(read_only) == "on"
    with pytest.raises(pytest.fail.Exception, match="read-only transaction"):
        session.rows("CREATE TABLE preflight_probe (id int)")
    with pytest.raises(pytest.fail.Exception, match="statement timeout"):
        session.rows("SELECT pg_sleep(30)")
    assert session.value("SELECT %s::int + 1", (41,)) == 42
    assert session.round_trips == 5, "every answer came from the pipelines"
    assert session.setting("default_transaction_read_only") == "on"
    assert session.value("SELECT to_regclass('preflight_probe')") is None


def test_each_statement_is_its_own_read_only_transaction(session: Database) -> None:
    """Statements in one pipeline do not share a transaction: a statement's locks end with it."""
    locks = (
        "SELECT count(*), current_setting('transaction_read_only') FROM pg_locks"
        " WHERE relation = 'users'::regclass AND pid = pg_backend_pid()"
    )
    session.plan([("SELECT count(*) FROM users", ()), (locks, ())])
    assert session.value("SELECT count(*) FROM users") >= 1
    assert session.rows(locks) == [(0, "on")]
    assert session.round_trips == 2


def test_a_failure_at_the_end_of_a_pipeline_leaves_no_open_transaction(session: Database) -> None:
    session.plan([("SELECT 1", ()), ("SELECT * FROM preflight_nosuch", ())])
    assert session.value("SELECT 1") == 1
    assert session.round_trips == 3  # the setup, the pipeline, the ROLLBACK of the failed statement
    assert session.conn is not None and session.conn.info.transaction_status.name == "IDLE"


def test_db_and_redis_cost_a_few_round_trips(stack: Stack) -> None:
    """The good stack: the session's setup and one pipeline for PostgreSQL, one pipeline per Redis
    instance; each check's evidence lists what it read, and only that."""
    seen = stack.folder / "round-trips-evidence.json"
    run = stack.run(
        LOCAL,
        "round-trips",
        *("tests/db", "tests/pool", "tests/redis", "-p", "bench.counter", "-p", "selftests.evidence_plugin"),
        extra_env={"SELFTEST_EVIDENCE": str(seen)},
    )
    assert run.rc == 0, run.out[-3000:]
    counts = _bench(run)
    assert counts["db_round_trips"] == 2, counts
    assert counts["redis_round_trips"] == 2, counts  # main and cache
    evidence = json.loads(seen.read_text())
    expected = {
        "DB-01": ["server_version_num"],
        "DB-03": ["pg_is_in_recovery()"],
        "DB-04": ["pg_stat_activity"],
        "DB-06": ["pg_extension", "pg_stat_statements"],
        "DB-09": ["pg_constraint", "unnest(", "user_sessions", "payments"],
        "DB-13": ["user_sessions"],
        "POOL-02": ["pg_stat_activity", "reserved_connections"],
        "POOL-03": ["idle_session_timeout"],
        "RDS-01": ["PING"],
        "POOL-01": ["('max_connections',)", "('superuser_reserved_connections',)"],
        "RDS-04": ["LLEN email_queue", "LLEN email_retry_queue"],
    }
    for check_id, parts in expected.items():
        for part in parts:
            assert part in evidence[check_id], f"{check_id}: {part!r} not in its evidence:\n{evidence[check_id]}"
    assert evidence["DB-01"].count("\n") == 0, evidence["DB-01"]  # its one statement, no one else's
    assert "PING" not in evidence["RDS-04"] and "LLEN" not in evidence["RDS-01"]


def test_a_statement_that_fails_in_the_pipeline_fails_its_check_alone(stack: Stack) -> None:
    """DB-13's sessions table does not exist: its statement fails in the pipeline, DB-13 fails naming
    it, every other check passes as on the good stack, at the cost of one more round trip."""
    env = write_env(
        stack.folder / "db-missing-sessions.yml",
        {
            "extends": str(LOCAL),
            "name": "db-missing-sessions",
            "database": {"sessions": {"table": "preflight_sessions", "expires_column": "expires_at"}},
        },
    )
    run = stack.run(env, "db-missing-sessions", "tests/db", "tests/pool", "-p", "bench.counter")
    outcomes = _outcomes(run)
    assert outcomes.pop("DB-13") == "failed", run.out[-3000:]
    assert 'relation "preflight_sessions" does not exist' in run.record("DB-13")["message"]
    assert set(outcomes.values()) <= {"passed", "not applicable"}, outcomes
    assert _bench(run)["db_round_trips"] == 3


def test_missing_pg_stat_statements_blocks_only_db06(request: pytest.FixtureRequest, stack: Stack) -> None:
    """The twin pg-no-pg-stat-statements: DB-06's statement fails in the pipeline; DB-05 reports the
    missing extension, DB-06 is blocked by it, and the other checks pass."""
    twins = {twin.name: twin for twin, framework in selected_instances(request.config) if framework == "flask"}
    if "pg-no-pg-stat-statements" not in twins:
        pytest.skip("the twin pg-no-pg-stat-statements is not selected by --twins")
    env = twin_env(stack.folder, twins["pg-no-pg-stat-statements"])
    run = stack.run(env, "round-trips-no-pgss", "tests/db", "tests/pool")
    outcomes = _outcomes(run)
    assert outcomes.pop("DB-05") == "failed" and outcomes.pop("DB-06") == "blocked", run.out[-3000:]
    assert run.record("DB-06")["blocked_by"] == "DB-05"
    assert set(outcomes.values()) <= {"passed", "not applicable"}, outcomes
