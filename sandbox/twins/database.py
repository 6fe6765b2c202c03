"""Twins for the DB checks.

Twins that change data get a database of their own in one shared extra cluster, cloned from the
migrated and seeded `app` database (sandbox.postgres); the wraparound twin needs a cluster of its own.
"""

from __future__ import annotations

from sandbox.twins.model import H, Twin, V

TWINS = [
    Twin(
        name="pg-unreachable",
        description="DATABASE_URL points at a port where no PostgreSQL listens (127.0.0.1:9): every "
        "query fails with 'could not connect to server'.",
        guide=f"{V}: Database Connection Refused",
        breaks={"DB-01": r"database unreachable at 127\.0\.0\.1:9/app: .*(refused|connect)"},
        env={"database": {"dsn": "${PREFLIGHT_TWIN_UNREACHABLE_DSN:-postgresql://app@127.0.0.1:9/app}"}},
    ),
    Twin(
        name="pg-migration-behind",
        description="The last Alembic migration (0003_guide_indexes) was rolled back (alembic downgrade "
        "0002_guide_tables) and not applied again: the schema is behind the code.",
        guide=f"{V}: Migration Errors",
        breaks={
            "DB-02": r"alembic_version on .* is 0002_guide_tables; expected the head 0003_guide_indexes "
            r"\(computed from \.\./sandbox/migrations\)",
        },
        data={"alembic_revision": "0002_guide_tables"},
    ),
    Twin(
        name="alembic-two-heads",
        description="A branch migration (0003_payment_reminders) was merged next to 0003_guide_indexes "
        "without `alembic merge heads`: the migrations folder has two heads and `flask db upgrade` refuses.",
        guide=f"{V}: Migration Errors",
        breaks={
            "DB-02": r"migrations_two_heads has 2 heads \(0003_guide_indexes, 0003_payment_reminders\); "
            r"expected a single head",
        },
        env={"database": {"migrations": {"alembic": "../sandbox/migrations_two_heads"}}},
        frameworks=("flask",),  # Alembic: the Flask API's migrations
    ),
    Twin(
        name="pg-read-only",
        description="The guide's corruption procedure set default_transaction_read_only = on for the "
        "database and its last step (re-enable writes) was never run.",
        guide=f"{H}: Database Corruption",
        breaks={
            "DB-03": r"new sessions on .* are read-only: default_transaction_read_only = on "
            r"\(set for twin_pg_read_only, every role\)",
        },
        data={"sql": ("ALTER DATABASE {database} SET default_transaction_read_only = on",)},
    ),
    Twin(
        name="pg-standby",
        description="The DSN points at a server in recovery: restored from a backup (or the old replica "
        "after a failover) with standby.signal still in place and never promoted. It answers reads and "
        "refuses every write.",
        guide=f"{H}: Database Corruption",
        breaks={"DB-03": r"127\.0\.0\.1:\d+/app is in recovery \(a standby, or a restore in progress\)"},
        postgres={"standby": True},
        # Django's release step (manage.py migrate) cannot run on a standby; the server is the same for both.
        frameworks=("flask",),
    ),
    Twin(
        name="pg-idle-in-transaction",
        description="A worker locked a session row (SELECT ... FOR UPDATE) and never committed: the "
        "session stays idle in transaction for the whole run. The twin lowers DB-04's 1 h "
        "threshold to 1 s (an input) so that a run need not wait an hour.",
        guide=f"{H}: Too Many Connections",
        breaks={
            "DB-04": r"session \d+ \(app, application_name 'preflight-sandbox-hold'\) .* is idle in transaction "
            r"in a transaction open for \d+ s; expected at most 1 s",
        },
        data={"hold_transaction": "SELECT id FROM user_sessions WHERE id = 1 FOR UPDATE"},
        env={"inputs": {"DB-04": {"max_seconds": 1}}},
    ),
    Twin(
        name="pg-no-pg-stat-statements",
        description="pg_stat_statements is preloaded but the extension was never created in the "
        "application's database: the guide's slow-query diagnosis has nothing to read.",
        guide=f"{H}: Slow Queries",
        breaks={
            "DB-05": r"the extension pg_stat_statements is not installed in .*/twin_pg_no_pg_stat_statements",
        },
        blocked={"DB-06": "DB-05"},
        data={"sql": ("DROP EXTENSION pg_stat_statements",)},
    ),
    Twin(
        name="pg-slow-statement",
        description="A report query took 1.2 s (pg_sleep stands in for its work) and is recorded in "
        "pg_stat_statements with a mean time above the guide's 1000 ms.",
        guide=f"{H}: Database Performance",
        breaks={"DB-06": r"mean \d{4,} ms over 1 call\(s\) on .*SELECT pg_sleep\(\$1\).*expected at most 1000 ms"},
        # As the application's role, so that the suite's role (the same) may read the statement text.
        data={"sql": ("SET ROLE app", "SELECT pg_sleep(1.2)", "RESET ROLE")},
    ),
    Twin(
        name="pg-missing-index",
        description="idx_payments_due_date, one of the guide's indexes, was dropped: pending payments "
        "by due date are found by a sequential scan.",
        guide=f"{H}: Add Missing Indexes",
        breaks={"DB-07": r"index idx_payments_due_date does not exist on .*/twin_pg_missing_index"},
        data={"sql": ("DROP INDEX idx_payments_due_date",)},
    ),
    Twin(
        name="pg-invalid-index",
        description="CREATE UNIQUE INDEX CONCURRENTLY on payments.stripe_payment_intent failed on a "
        "duplicate value and left an INVALID index behind.",
        guide=f"{H}: Add Missing Indexes",
        breaks={
            "DB-07": r"index public\.uq_payments_stripe_payment_intent on payments is INVALID .*"
            r"\(a failed CREATE INDEX CONCURRENTLY\?\)",
        },
        data={
            "sql": (
                "INSERT INTO payments (user_id, property_id, amount_cents, status, due_date, stripe_payment_intent)"
                " VALUES (3, 44, 172000, 'paid', current_date - 30, 'pi_preflight_1')",
            ),
            "sql_failing": (
                "CREATE UNIQUE INDEX CONCURRENTLY uq_payments_stripe_payment_intent"
                " ON payments (stripe_payment_intent)",
            ),
        },
    ),
    Twin(
        name="pg-unindexed-foreign-key",
        description="The index on payments.user_id was dropped: deleting a user scans all payments under lock.",
        guide=f"{H}: Add Missing Indexes",
        breaks={
            "DB-08": r"foreign key payments_user_id_fkey on payments \(user_id\) -> users has no index "
            r"starting with \(user_id\)",
        },
        data={"sql": ("DROP INDEX idx_payments_user_id",)},
    ),
    Twin(
        name="pg-duplicate-emails",
        description="The unique index on lower(email) is missing and two accounts differ only in "
        "case (owner@ and Owner@): the case-insensitive login picks either.",
        guide=f"{H}: Fix Duplicate Data",
        breaks={
            "DB-09": r"no valid unique index or constraint on users\(lower\(email\)\).*"
            r"users\(lower\(email\)\) on .*: 1 value\(s\) occur more than once \(up to 2 rows each\)",
        },
        data={
            "sql": (
                "DROP INDEX uq_users_email_lower",
                "INSERT INTO users (email, password_hash) VALUES ('Owner@preflight.test', '!')",
            )
        },
    ),
    Twin(
        name="pg-orphaned-rows",
        description="A migration dropped the foreign key of messages.sender_id, then an account was "
        "deleted: its messages point at no user.",
        guide=f"{H}: Fix Orphaned Records",
        breaks={
            "DB-09": r"messages\.sender_id -> users\.id on .*: 1 orphaned row\(s\) in messages point at no users row",
        },
        data={
            "sql": (
                "ALTER TABLE messages DROP CONSTRAINT messages_sender_id_fkey",
                "DELETE FROM users WHERE email = 'former@preflight.test'",
            )
        },
    ),
    Twin(
        name="pg-not-valid-constraint",
        description="CHECK (amount_cents > 0) was added NOT VALID to avoid a long lock and never "
        "validated; a zero payment already violates it.",
        guide=f"{H}: Data Integrity Issues",
        breaks={
            "DB-09": r"CHECK constraint payments_amount_positive on payments is NOT VALID .*: existing rows were "
            r"never checked",
        },
        data={
            "sql": (
                "INSERT INTO payments (user_id, property_id, amount_cents, status, due_date)"
                " VALUES (3, 44, 0, 'pending', current_date + 30)",
                "ALTER TABLE payments ADD CONSTRAINT payments_amount_positive CHECK (amount_cents > 0) NOT VALID",
            )
        },
    ),
    Twin(
        name="pg-stale-statistics",
        description="property_views, 20 000 rows bulk-loaded (CREATE TABLE AS) with autovacuum "
        "disabled for the table, was never analyzed.",
        guide=f"{H}: Query Optimization",
        breaks={
            "DB-10": r"table public\.property_views on .* \(20000 rows\) was never analyzed; expected within 48 h",
        },
        data={
            "sql": (
                "CREATE TABLE property_views WITH (autovacuum_enabled = off) AS"
                " SELECT g AS id, 42 + g % 3 AS property_id, now() - g * interval '1 second' AS viewed_at"
                " FROM generate_series(1, 20000) g",
            )
        },
    ),
    Twin(
        name="pg-log-statement-all",
        description="log_statement = 'all', turned on during an incident as the guide suggests, was "
        "never turned off (here for the database).",
        guide=f"{H}: SQL Injection Attempts",
        breaks={"DB-11": r"log_statement = all on .*/twin_pg_log_statement_all; expected none, ddl or mod"},
        data={"sql": ("ALTER DATABASE {database} SET log_statement = 'all'",)},
    ),
    Twin(
        name="sqlite-in-production",
        description="The production DATABASE_URL is a SQLite file (the development default).",
        guide=f"{V}: SQLite Lock Errors",
        breaks={"DB-12": r"database\.dsn is a SQLite URL \(file /srv/app/instance/app\.db\): SQLite in production"},
        env={"database": {"dsn": "${PREFLIGHT_TWIN_SQLITE_DSN:-sqlite:////srv/app/instance/app.db}"}},
    ),
    Twin(
        name="pg-expired-sessions",
        description="No cleanup job: 12 000 expired rows sit in user_sessions, the oldest a month old.",
        guide=f"{H}: Session Issues",
        breaks={
            "DB-13": r"more than 10000 expired rows in user_sessions on .* \(expires_at < now\(\), the oldest "
            r"\d{4}-\d\d-\d\d",
        },
        data={
            "sql": (
                "INSERT INTO user_sessions (user_id, session_key, created_at, expires_at)"
                " SELECT 1 + g % 3, md5('expired-' || g), now() - interval '31 days' + g * interval '3 minutes',"
                " now() - interval '30 days' + g * interval '3 minutes' FROM generate_series(1, 12000) g",
            )
        },
    ),
    Twin(
        name="pg-near-wraparound",
        description="The cluster is 1.2 billion transactions past its oldest unfrozen row (pg_resetwal -x "
        "on the stopped cluster, as its documentation describes) and autovacuum_freeze_max_age is at "
        "its 2 billion maximum, so no anti-wraparound vacuum has started.",
        guide=f"{H}: Database Corruption",
        breaks={
            "DB-14": r"database \w+ on .*: age\(datfrozenxid\) = 1\d{9} transactions, 5\d\.\d% of the 2\^31 "
            r"wraparound limit",
        },
        postgres={"settings": {"autovacuum_freeze_max_age": 2_000_000_000}, "next_xid": 1_200_000_000},
    ),
]
