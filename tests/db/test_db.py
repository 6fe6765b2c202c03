"""DB: the PostgreSQL server and the application's schema and data, through one read-only session."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fixtures.check import (
    Database,
    Environment,
    EnvironmentModel,
    Statement,
    alembic_heads,
    blocked_by,
    check,
    early_or_now,
    end_of_life,
    fail_on,
    not_applicable,
    prefetch_sql,
    relation,
    start_early,
    unique_key,
)

WRAPAROUND = 2**31
# Schemas that belong to PostgreSQL itself, not to the application.
USER_SCHEMAS = "n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_to%%'"


def _ident(name: str) -> Any:
    from psycopg import sql

    return sql.Identifier(*name.split("."))


def _normal(expression: str) -> str:
    # Casts PostgreSQL adds for display (Django's EmailField is varchar: lower(email::text)) are not part of the key.
    return re.sub(r"::\w+(\(\d+\))?", "", expression.replace('"', "").replace(" ", "").lower())


VERSION = "SELECT 1, current_setting('server_version_num')::int, current_setting('server_version')"


@check(
    "DB-01",
    severity="critical",
    guide=["V: Database Connection Refused", "H: Connection Failures"],
    inputs={"eol_warning_days": 0},
    references=["https://www.postgresql.org/support/versioning/"],
    standards=["ASVS:V14.2.1"],
)
@prefetch_sql(lambda env, inputs: [(VERSION, ())])
def test_database_reachable(db, env, inputs) -> None:
    """The database is reachable and its PostgreSQL version is supported.

    The API answers nothing useful without its database: every request that touches it fails with
    "could not connect to server". A major version past its end of life gets no more security or
    data-corruption fixes.

    Fix: check that PostgreSQL runs and listens where the DSN points (`pg_isready`, `psql
    $DATABASE_URL -c "SELECT 1"`), the firewall and pg_hba.conf; plan the upgrade of an
    end-of-life major version (pg_upgrade, or a logical dump and restore).
    """
    one, number, version = db.rows(VERSION)[0]
    problems = [] if one == 1 else [f"SELECT 1 on {db.where} answered {one!r}"]
    major = number // 10000
    eol = end_of_life(major)
    today = dt.datetime.now(dt.UTC).date()
    if eol is not None and eol - dt.timedelta(days=inputs["eol_warning_days"]) <= today:
        problems.append(
            f"PostgreSQL {version} on {db.where}: major version {major} reaches or reached its end of life on {eol}; "
            f"expected a supported major version"
        )
    fail_on(problems)


MIGRATION_TABLES = "SELECT to_regclass('alembic_version') IS NOT NULL, to_regclass('django_migrations') IS NOT NULL"
ALEMBIC_VERSION = "SELECT version_num FROM alembic_version"
DJANGO_APPLIED = "SELECT app || '.' || name FROM django_migrations"


def _migration_reads(env: EnvironmentModel, inputs: dict[str, Any]) -> list[Statement]:
    declared = env.database.migrations if env.database else None
    if declared is None:
        return []
    reads: list[Statement] = [(MIGRATION_TABLES, ())]
    if declared.head or declared.alembic:
        reads.append((ALEMBIC_VERSION, ()))
    if declared.django:
        reads.append((DJANGO_APPLIED, ()))
    return reads


def prefetch(env: EnvironmentModel, inputs: Any, env_file: Environment) -> list[Any]:
    """DB-02's Alembic heads are read now, in the background (importing Alembic and reading the folder take
    a quarter of a second)."""
    folder = env.lookup("database.migrations.alembic")
    if inputs("DB-02") is not None and folder:
        start_early(*_heads(env_file.resolve(folder)))
    return []


def _heads(folder: Path) -> tuple[str, Callable[[], list[str]]]:
    return f"DB-02 {folder}", lambda: alembic_heads(folder)


@check(
    "DB-02",
    severity="high",
    guide=["V: Migration Errors", 'V: "Table already exists" Error'],
    references=["alembic: ScriptDirectory.get_heads", "django: showmigrations"],
)
@prefetch_sql(_migration_reads)
def test_migrations_at_head(need, db, env_file) -> None:
    """Migrations are at head.

    Code deployed ahead of its schema fails at the first query that names a new column or table;
    two Alembic heads mean two branches of migrations that `flask db upgrade` refuses to apply.

    Fix: run the migrations as a deploy step (`flask db upgrade` / `alembic upgrade head`,
    `python manage.py migrate`) before the new code takes traffic; merge divergent heads with
    `alembic merge heads`.
    """
    declared = need("database.migrations")
    if not (declared.head or declared.alembic or declared.django):
        not_applicable(
            "database.migrations declares no head, alembic folder or django migrations", key="database.migrations"
        )
    problems: list[str] = []
    expected = declared.head
    if declared.alembic:
        folder = env_file.resolve(declared.alembic)
        try:
            heads = early_or_now(*_heads(folder))
        except Exception as exc:  # alembic raises CommandError and others for a broken folder
            heads = []
            problems.append(f"database.migrations.alembic: {folder} is not an Alembic migrations folder: {exc}")
        if len(heads) > 1:
            problems.append(f"{folder} has {len(heads)} heads ({', '.join(heads)}); expected a single head")
        if len(heads) == 1:
            if declared.head and declared.head != heads[0]:
                problems.append(f"the declared head {declared.head} is not the head of {folder} ({heads[0]})")
            expected = expected or heads[0]
    has_alembic, has_django = db.rows(MIGRATION_TABLES)[0]
    if expected:
        source = f"computed from {declared.alembic}" if not declared.head else "declared"
        if not has_alembic:
            problems.append(f"{db.where} has no alembic_version table: no migration was ever applied (head {expected})")
        else:
            current = sorted(row[0] for row in db.rows(ALEMBIC_VERSION))
            if current != [expected]:
                shown = ", ".join(current) or "empty"
                problems.append(f"alembic_version on {db.where} is {shown}; expected the head {expected} ({source})")
    if declared.django:
        if not has_django:
            problems.append(f"{db.where} has no django_migrations table: no Django migration was ever applied")
        else:
            applied = {row[0] for row in db.rows(DJANGO_APPLIED)}
            missing = [name for name in declared.django if name not in applied]
            if missing:
                problems.append(
                    f"{len(missing)} expected Django migration(s) are not applied on {db.where}: {', '.join(missing)}"
                )
    fail_on(problems)


@check(
    "DB-03",
    severity="critical",
    guide=["H: Database Corruption"],
)
def test_database_writable(db) -> None:
    """The database accepts writes.

    The guide's corruption procedure switches the database to read-only (ALTER DATABASE ... SET
    default_transaction_read_only = on) and re-enables writes as its last step; when that step is
    forgotten, or the DSN points at a standby, every sign-up, payment and login record fails with
    "cannot execute ... in a read-only transaction".

    Fix: ALTER DATABASE <db> SET default_transaction_read_only = off (or RESET it, also for roles:
    ALTER ROLE ... RESET default_transaction_read_only); point the DSN at the primary.
    """
    default_read_only, in_recovery = db.session_defaults()
    problems = []
    if default_read_only == "on":
        rows = db.rows(
            "SELECT coalesce(d.datname, 'every database'), coalesce(r.rolname, 'every role')"
            " FROM pg_db_role_setting s LEFT JOIN pg_database d ON d.oid = s.setdatabase"
            " LEFT JOIN pg_roles r ON r.oid = s.setrole"
            " WHERE 'default_transaction_read_only=on' = ANY(s.setconfig)"
            " AND s.setdatabase IN (0, (SELECT oid FROM pg_database WHERE datname = current_database()))"
            " AND s.setrole IN (0, (SELECT oid FROM pg_roles WHERE rolname = current_user))"
        )
        where = "; ".join(f"set for {database}, {role}" for database, role in rows) or "set in the server configuration"
        problems.append(
            f"new sessions on {db.where} are read-only: default_transaction_read_only = on ({where}); expected off"
        )
    if in_recovery:
        problems.append(f"{db.where} is in recovery (a standby, or a restore in progress): it refuses every write")
    fail_on(problems)


LONG_TRANSACTIONS = (
    "SELECT pid, usename, application_name, state, extract(epoch FROM now() - xact_start)::bigint"
    " FROM pg_stat_activity WHERE datname = current_database() AND backend_type = 'client backend'"
    " AND pid <> pg_backend_pid()"
    " AND (state IS NULL OR now() - xact_start > make_interval(secs => %s)) ORDER BY xact_start"
)


@check(
    "DB-04",
    severity="medium",
    guide=["H: Too Many Connections"],
    inputs={"max_seconds": 3600},
    references=["check_postgres: txn_idle, txn_time"],
)
@prefetch_sql(lambda env, inputs: [(LONG_TRANSACTIONS, (inputs["max_seconds"],))])
def test_no_long_transactions(db, inputs) -> None:
    """No transaction stays open for long.

    A session idle in transaction (or running one transaction) for an hour holds its locks and
    its snapshot: vacuum cannot remove dead rows, tables bloat, and a migration or any writer
    waiting for its locks queues every request behind it. It also holds a connection slot.

    Fix: find the client (application_name, client_addr in pg_stat_activity) and make it commit
    or roll back; end it with pg_terminate_backend(pid); set idle_in_transaction_session_timeout.
    """
    rows = db.rows(LONG_TRANSACTIONS, (inputs["max_seconds"],))
    limit = inputs["max_seconds"]
    problems = [
        f"session {pid} ({user}, application_name {app!r}) on {db.where} is {state} in a transaction open for "
        f"{age} s; expected at most {limit} s"
        for pid, user, app, state, age in rows
        if state is not None
    ]
    hidden = [row for row in rows if row[3] is None]
    if hidden:
        problems.append(
            f"{len(hidden)} session(s) of other roles on {db.where} are hidden from this role: grant it pg_monitor"
        )
    fail_on(problems)


EXTENSIONS = "SELECT extname, extversion FROM pg_extension"
SLOW_STATEMENTS = (
    "SELECT round(mean_exec_time)::bigint, calls, left(regexp_replace(query, '\\s+', ' ', 'g'), 120)"
    " FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())"
    " AND mean_exec_time > %s AND calls >= %s ORDER BY mean_exec_time DESC LIMIT 5"
)


def _extensions(db: Any) -> dict[str, str]:
    return dict(db.rows(EXTENSIONS, shared=True))


@check(
    "DB-05",
    severity="low",
    guide=["H: Slow Queries", "H: Database Performance"],
)
@prefetch_sql(lambda env, inputs: [(EXTENSIONS, ())])
def test_pg_stat_statements_installed(db) -> None:
    """pg_stat_statements is installed.

    The guide diagnoses slow queries from pg_stat_statements; without it there is no record of
    which statements take the time, and DB-06 cannot look.

    Fix: add pg_stat_statements to shared_preload_libraries (a restart), then CREATE EXTENSION
    pg_stat_statements in the application's database.
    """
    if "pg_stat_statements" not in _extensions(db):
        # Only roles with pg_read_all_settings see this setting; pg_settings then has no row.
        preload = db.value("SELECT setting FROM pg_settings WHERE name = 'shared_preload_libraries'")
        shown = f"shared_preload_libraries = {preload!r}" if preload is not None else "shared_preload_libraries hidden"
        fail_on(
            [
                f"the extension pg_stat_statements is not installed in {db.where} ({shown}); "
                f"expected CREATE EXTENSION pg_stat_statements"
            ]
        )


@check(
    "DB-06",
    severity="medium",
    guide=["H: Database Performance", "H: Slow Queries"],
    inputs={"max_mean_ms": 1000, "min_calls": 1},
)
# When pg_stat_statements is missing, the second statement fails in the pipeline; DB-06 never reads it.
@prefetch_sql(lambda env, inputs: [(EXTENSIONS, ()), (SLOW_STATEMENTS, (inputs["max_mean_ms"], inputs["min_calls"]))])
def test_no_slow_statements(db, inputs) -> None:
    """No statement is slow on average.

    A statement whose mean time exceeds a second holds a worker and a pooled connection for that
    long on every call: pages time out and pools run dry under load.

    Fix: EXPLAIN (ANALYZE, BUFFERS) the statement, add the missing index or rewrite the query;
    then pg_stat_statements_reset() to start measuring afresh.
    """
    if "pg_stat_statements" not in _extensions(db):
        blocked_by("DB-05", f"pg_stat_statements is not installed in {db.where}: statement times cannot be read")
    rows = db.rows(SLOW_STATEMENTS, (inputs["max_mean_ms"], inputs["min_calls"]))
    fail_on(
        [
            f"mean {mean} ms over {calls} call(s) on {db.where}: {query or '<insufficient privilege>'}"
            f" (expected at most {inputs['max_mean_ms']} ms)"
            for mean, calls, query in rows
        ]
    )


INDEXES = (
    "SELECT n.nspname, c.relname, t.relname, i.indisvalid AND i.indisready FROM pg_index i"
    " JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_class t ON t.oid = i.indrelid"
    f" JOIN pg_namespace n ON n.oid = c.relnamespace WHERE {USER_SCHEMAS}"
)


@check(
    "DB-07",
    severity="medium",
    guide=["H: Add Missing Indexes", "H: Slow Queries"],
)
@prefetch_sql(lambda env, inputs: [(INDEXES, ())])
def test_indexes_exist_and_valid(db, env) -> None:
    """The expected indexes exist, and no index is invalid.

    A missing index turns the guide's hot queries (properties by city and status, pending
    payments by due date, a conversation's messages) into sequential scans. A CREATE INDEX
    CONCURRENTLY that failed leaves an INVALID index: it is maintained on every write but never
    used, and a unique one does not protect what it was meant to.

    Fix: create the missing index (CREATE INDEX CONCURRENTLY as in the guide); for an invalid one,
    DROP INDEX CONCURRENTLY it, fix the cause (duplicates, a timeout) and build it again, or
    REINDEX INDEX CONCURRENTLY.
    """
    rows = db.rows(INDEXES)
    names = {name for _, name, _, _ in rows} | {f"{schema}.{name}" for schema, name, _, _ in rows}
    problems = [f"index {name} does not exist on {db.where}" for name in env.database.indexes if name not in names]
    problems += [
        f"index {schema}.{name} on {table} is INVALID on {db.where} (a failed CREATE INDEX CONCURRENTLY?); "
        f"expected every index valid"
        for schema, name, table, valid in rows
        if not valid
    ]
    fail_on(problems)


UNINDEXED_FOREIGN_KEYS = (
    "SELECT c.conrelid::regclass::text, c.conname, c.confrelid::regclass::text,"
    " array(SELECT a.attname::text FROM unnest(c.conkey) k JOIN pg_attribute a"
    "       ON a.attrelid = c.conrelid AND a.attnum = k)"
    " FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace"
    f" WHERE c.contype = 'f' AND {USER_SCHEMAS}"
    " AND NOT EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.conrelid AND i.indpred IS NULL"
    "   AND (string_to_array(i.indkey::text, ' ')::int2[])[1:cardinality(c.conkey)] @> c.conkey"
    "   AND (string_to_array(i.indkey::text, ' ')::int2[])[1:cardinality(c.conkey)] <@ c.conkey)"
    " ORDER BY 1, 2"
)


@check(
    "DB-08",
    severity="medium",
    guide=["H: Add Missing Indexes", "H: Slow Queries"],
    references=["postgres-checkup: H003 non-indexed foreign keys"],
)
@prefetch_sql(lambda env, inputs: [(UNINDEXED_FOREIGN_KEYS, ())])
def test_foreign_keys_indexed(db) -> None:
    """Every foreign key has an index on its columns.

    Without one, each delete or key update on the parent scans the whole child table under lock
    (deleting a user scans all of payments), and joins from parent to child cannot use an index.

    Fix: CREATE INDEX CONCURRENTLY ON child (fk_column[, ...]); the index must start with the
    foreign key's columns.
    """
    rows = db.rows(UNINDEXED_FOREIGN_KEYS)
    fail_on(
        [
            f"foreign key {name} on {table} ({', '.join(columns)}) -> {parent} has no index starting with "
            f"({', '.join(columns)}) on {db.where}"
            for table, name, parent, columns in rows
        ]
    )


UNIQUE_INDEXES = (
    "SELECT t.name, to_regclass(t.name) IS NOT NULL, array(SELECT pg_get_indexdef(i.indexrelid, k, true)"
    "   FROM generate_series(1, i.indnkeyatts) k)"
    " FROM unnest(%s::text[]) t(name) LEFT JOIN pg_index i ON i.indrelid = to_regclass(t.name)"
    "   AND i.indisunique AND i.indisvalid AND i.indpred IS NULL"
)
NOT_VALID = (
    "SELECT coalesce(nullif(c.conrelid, 0)::regclass::text, c.contypid::regtype::text), c.conname, c.contype"
    " FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace"
    f" WHERE NOT c.convalidated AND {USER_SCHEMAS} ORDER BY 1, 2"
)


def _integrity_reads(env: EnvironmentModel, inputs: dict[str, Any]) -> list[Statement]:
    """Every statement DB-09 sends; a duplicate count on a table that does not exist fails in the pipeline,
    and DB-09, which finds the table absent, never reads it."""
    if env.database is None:
        return []
    keys = {key: unique_key(key) for key in env.database.unique}
    reads: list[Statement] = [(NOT_VALID, ())]
    if keys:
        reads.append((UNIQUE_INDEXES, (_tables(keys),)))
        reads += [(_duplicates(table, parts), ()) for table, parts in keys.values()]
    reads += [_orphans_statement(item, inputs["max_orphans"]) for item in env.database.relations]
    return reads


@check(
    "DB-09",
    severity="high",
    guide=["H: Data Integrity Issues", "H: Fix Duplicate Data", "H: Fix Orphaned Records"],
    inputs={"max_orphans": 0},
)
@prefetch_sql(_integrity_reads)
def test_integrity_holds(db, env, inputs) -> None:
    """Integrity holds: unique keys without duplicates, no orphans, every constraint validated.

    Two accounts whose emails differ only in case make a case-insensitive login pick either one;
    rows pointing at deleted parents break pages and reports that join them; a NOT VALID
    constraint was never checked against the rows already there.

    Fix: merge or remove duplicates, then add the unique index (CREATE UNIQUE INDEX CONCURRENTLY
    ... (lower(email))); delete or re-parent orphans and add the foreign key; run ALTER TABLE ...
    VALIDATE CONSTRAINT for each NOT VALID constraint.
    """
    database = env.database
    fail_on(
        _unique_problems(db, database.unique) + _orphans(db, database.relations, inputs["max_orphans"]) + _not_valid(db)
    )


def _tables(keys: dict[str, tuple[str, Any]]) -> list[str]:
    return sorted({table for table, _ in keys.values()})


def _unique_indexes(db: Any, tables: list[str]) -> tuple[dict[str, list[set[str]]], set[str]]:
    """(the normalised key expressions of each table's valid unique indexes, the tables that do not exist)."""
    existing: dict[str, list[set[str]]] = {table: [] for table in tables}
    absent: set[str] = set()
    for table, present, exprs in db.rows(UNIQUE_INDEXES, (tables,)):
        if not present:
            absent.add(table)
        elif exprs:
            existing[table].append({_normal(e) for e in exprs})
    return existing, absent


def _duplicates(table: str, parts: Any) -> Any:
    """The statement that counts the values of a unique key held by more than one row."""
    from psycopg import sql

    exprs = [sql.SQL("lower({})").format(sql.Identifier(c)) if lower else sql.Identifier(c) for c, lower in parts]
    not_null = sql.SQL(" AND ").join(sql.SQL("{} IS NOT NULL").format(sql.Identifier(c)) for c, _ in parts)
    return sql.SQL(
        "SELECT count(*), coalesce(max(n), 0) FROM (SELECT count(*) n FROM {} WHERE {} GROUP BY {}"
        " HAVING count(*) > 1) d"
    ).format(_ident(table), not_null, sql.SQL(", ").join(exprs))


def _unique_problems(db: Any, declared: list[str]) -> list[str]:
    keys = {key: unique_key(key) for key in declared}
    if not keys:
        return []
    existing, absent = _unique_indexes(db, _tables(keys))
    problems = [f"table {table} does not exist on {db.where}" for table in sorted(absent)]
    for key, (table, parts) in keys.items():
        if table in absent:
            continue
        wanted = {f"lower({column})" if lower else column for column, lower in parts}
        if wanted not in existing[table]:
            problems.append(f"no valid unique index or constraint on {key} on {db.where}")
        groups, most = db.rows(_duplicates(table, parts))[0]
        if groups:
            problems.append(
                f"{key} on {db.where}: {groups} value(s) occur more than once (up to {most} rows each); expected none"
            )
    return problems


def _orphans_statement(item: str, max_orphans: int) -> Statement:
    """The statement that counts (up to max_orphans + 1000) the rows of a relation's child with no parent."""
    from psycopg import sql

    child, column, parent, parent_column = relation(item)
    statement = sql.SQL(
        "SELECT count(*) FROM (SELECT 1 FROM {} c WHERE c.{} IS NOT NULL AND NOT EXISTS"
        " (SELECT 1 FROM {} p WHERE p.{} = c.{}) LIMIT %s) o"
    ).format(
        _ident(child),
        sql.Identifier(column),
        _ident(parent),
        sql.Identifier(parent_column),
        sql.Identifier(column),
    )
    return statement, (max_orphans + 1000,)


def _orphans(db: Any, relations: list[str], max_orphans: int) -> list[str]:
    problems = []
    for item in relations:
        child, _, parent, _ = relation(item)
        statement, (limit,) = _orphans_statement(item, max_orphans)
        orphans = db.value(statement, (limit,))
        if orphans > max_orphans:
            shown = f"at least {orphans}" if orphans == limit else str(orphans)
            problems.append(
                f"{item} on {db.where}: {shown} orphaned row(s) in {child} point at no {parent} row; "
                f"expected at most {max_orphans}"
            )
    return problems


CONSTRAINT_KINDS = {"c": "CHECK", "f": "FOREIGN KEY", "n": "NOT NULL"}


def _not_valid(db: Any) -> list[str]:
    return [
        f"{CONSTRAINT_KINDS.get(kind, kind)} constraint {name} on {owner} is NOT VALID on {db.where}: existing rows "
        "were never checked"
        for owner, name, kind in db.rows(NOT_VALID)
    ]


STALE_STATISTICS = (
    "SELECT s.schemaname || '.' || s.relname, greatest(s.n_live_tup, c.reltuples)::bigint,"
    " greatest(s.last_analyze, s.last_autoanalyze)"
    " FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid"
    " WHERE greatest(s.n_live_tup, c.reltuples) >= %s AND (greatest(s.last_analyze, s.last_autoanalyze) IS NULL"
    "   OR greatest(s.last_analyze, s.last_autoanalyze) < now() - make_interval(hours => %s)) ORDER BY 2 DESC"
)


@check(
    "DB-10",
    severity="medium",
    guide=["H: Query Optimization", "H: Slow Queries"],
    inputs={"min_rows": 10000, "max_age_hours": 48},
)
@prefetch_sql(lambda env, inputs: [(STALE_STATISTICS, (inputs["min_rows"], inputs["max_age_hours"]))])
def test_statistics_fresh(db, inputs) -> None:
    """Large tables have fresh planner statistics.

    The planner estimates row counts from ANALYZE's statistics. A large table never analyzed, or
    not for days while it changed, gets plans built on guesses: sequential scans and nested loops
    where an index scan was due.

    Fix: ANALYZE the table (the guide's Query Optimization); check that autovacuum is on and not
    disabled for the table (ALTER TABLE ... RESET (autovacuum_enabled)), and run ANALYZE after
    bulk loads and restores.
    """
    rows = db.rows(STALE_STATISTICS, (inputs["min_rows"], inputs["max_age_hours"]))
    fail_on(
        [
            f"table {table} on {db.where} ({count} rows) was "
            + (f"last analyzed at {last:%Y-%m-%d %H:%M} UTC" if last else "never analyzed")
            + f"; expected within {inputs['max_age_hours']} h"
            for table, count, last in rows
        ]
    )


@check(
    "DB-11",
    severity="medium",
    guide=["H: SQL Injection Attempts"],
    standards=["ASVS:V7.1.1", "ASVS:V7.1.2"],
)
@prefetch_sql(lambda env, inputs: [Database.setting_read("log_statement")] if env.production else [])
def test_statement_logging_sane(db, env) -> None:
    """Statement logging is not left at `all` in production.

    The guide turns on log_statement = 'all' temporarily during an incident. Left on, every
    statement goes to the server log with its literal values (password hashes, tokens, personal
    data) and the log volume slows the server.

    Fix: ALTER SYSTEM RESET log_statement (or ALTER DATABASE/ROLE ... RESET log_statement) and
    SELECT pg_reload_conf(); use 'ddl' or 'mod', or log_min_duration_statement, for routine logging.
    """
    if not env.production:
        not_applicable("production is false in the environment: verbose logging is allowed outside production")
    value = db.setting("log_statement")
    if value == "all":
        fail_on([f"log_statement = all on {db.where}; expected none, ddl or mod in production"])


@check(
    "DB-12",
    severity="high",
    guide=["V: SQLite Lock Errors"],
)
def test_no_sqlite_in_production(need, env) -> None:
    """Production does not run on SQLite.

    SQLite locks the whole database file for each write: concurrent gunicorn workers get
    "database is locked", and the file lives on one host's disk.

    Fix: point DATABASE_URL (SQLALCHEMY_DATABASE_URI, Django's DATABASES) at PostgreSQL.
    """
    dsn = need("database.dsn")
    if not env.production:
        not_applicable("production is false in the environment: SQLite is allowed outside production")
    if dsn.startswith("sqlite"):
        # The whole DSN is redacted as a secret; its file path is not one.
        path = dsn.partition("://")[2][1:] or ":memory:"  # sqlite:///relative.db, sqlite:////absolute.db
        fail_on([f"database.dsn is a SQLite URL (file {path}): SQLite in production; expected postgresql://"])


def _expired_sessions(env: EnvironmentModel, inputs: dict[str, Any]) -> list[Statement]:
    """The statement DB-13 sends: how many expired rows (up to max_expired_rows + 1), and the oldest."""
    from psycopg import sql

    sessions = env.database.sessions if env.database else None
    if sessions is None:
        return []
    statement = sql.SQL(
        "SELECT (SELECT count(*) FROM (SELECT 1 FROM {t} WHERE {c} < now() LIMIT %s) e),"
        " (SELECT min({c}) FROM {t} WHERE {c} < now())"
    ).format(t=_ident(sessions.table), c=sql.Identifier(sessions.expires_column))
    return [(statement, (inputs["max_expired_rows"] + 1,))]


@check(
    "DB-13",
    severity="low",
    guide=["H: Session Issues"],
    inputs={"max_expired_rows": 10000},
)
@prefetch_sql(_expired_sessions)
def test_expired_sessions_cleaned(need, db, env, inputs) -> None:
    """Expired sessions are cleaned up.

    Without a cleanup job, expired rows pile up in the sessions table: it and its indexes grow
    without bound, and every session lookup and vacuum pays for rows nobody can use.

    Fix: schedule the guide's DELETE FROM user_sessions WHERE expires_at < NOW() (Django:
    `manage.py clearsessions`) daily, in batches on a large backlog.
    """
    sessions = need("database.sessions")
    limit = inputs["max_expired_rows"]
    count, oldest = db.rows(*_expired_sessions(env, inputs)[0])[0]
    if count > limit:
        fail_on(
            [
                f"more than {limit} expired rows in {sessions.table} on {db.where} ({sessions.expires_column} < now(),"
                f" the oldest {oldest:%Y-%m-%d %H:%M} UTC); expected at most {limit}"
            ]
        )


OLDEST_XID = (
    "SELECT datname, age(datfrozenxid), current_setting('autovacuum_freeze_max_age')"
    " FROM pg_database ORDER BY 2 DESC LIMIT 1"
)


@check(
    "DB-14",
    severity="high",
    guide=["H: Database Corruption"],
    inputs={"max_percent": 50},
    references=["https://www.postgresql.org/docs/current/routine-vacuuming.html#VACUUM-FOR-WRAPAROUND"],
)
@prefetch_sql(lambda env, inputs: [(OLDEST_XID, ())])
def test_wraparound_far(db, inputs) -> None:
    """Transaction id wraparound is far away.

    PostgreSQL must freeze old rows before the transaction counter wraps (2^31 transactions
    after the oldest unfrozen one); close to that it refuses every write until a VACUUM FREEZE
    finishes, an outage of hours on a large database.

    Fix: find the oldest databases and tables (age(datfrozenxid), age(relfrozenxid)), end
    long transactions and stale replication slots that hold the horizon back, and run VACUUM
    (FREEZE, VERBOSE) on them; keep autovacuum_freeze_max_age at its default (200 million).
    """
    name, age, freeze_max = db.rows(OLDEST_XID)[0]
    percent = age * 100 / WRAPAROUND
    if percent > inputs["max_percent"]:
        fail_on(
            [
                f"database {name} on {db.where.rsplit('/', 1)[0]}: age(datfrozenxid) = {age} transactions, "
                f"{percent:.1f}% of the 2^31 wraparound limit (expected at most {inputs['max_percent']}%; "
                f"autovacuum_freeze_max_age = {freeze_max})"
            ]
        )
