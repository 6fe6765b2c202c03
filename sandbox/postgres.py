"""A private PostgreSQL cluster: initdb into a temp dir, role `app`, database `app` built by the
Alembic migrations in sandbox/migrations, seed rows (the smoke user among them), pg_stat_statements.

Twins about data get a database of their own, cloned from `app` (clone_app) and changed by the
twin's data part (prepare); twins about server settings get a cluster of their own (sandbox.plan)."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import threading
import time
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from sandbox.parts import DataPart
from sandbox.proc import (
    HOST,
    Process,
    SandboxError,
    Supervisor,
    as_unprivileged,
    free_port,
    is_root,
    unprivileged_ids,
)

APP_ROLE = "app"
APP_DATABASE = "app"
# The Django API's own database in the same cluster, created empty: `manage.py migrate` builds it.
DJANGO_DATABASE = "app_django"
# The Django site's (sandbox.django_site): created and migrated by its release step.
SITE_DATABASE = "site_django"

BASE_SETTINGS: dict[str, str] = {
    "listen_addresses": f"'{HOST}'",
    "password_encryption": "'scram-sha-256'",
    # Room for the pools of every twin instance (Flask and Django) that shares the good cluster in
    # the self-tests, plus the suite; twins about the connection budget bring a cluster of their own.
    "max_connections": "1000",
    "shared_buffers": "'32MB'",
    "log_line_prefix": "'%m [%p] %q%u@%d '",
    # The VeriHome guide's slow-query diagnosis reads pg_stat_statements (DB-05, DB-06).
    "shared_preload_libraries": "'pg_stat_statements'",
}

HBA = """\
# Setup over the private socket; the application and the suite log in over TCP with a password.
local all all trust
host  all all 127.0.0.1/32 scram-sha-256
"""

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
# Alembic's `context` is module state: one migration run at a time in this process.
_ALEMBIC = threading.Lock()

# Rows for the guide's tables, after the smoke user (id 1). Enough login_attempts to be a
# "large table" for DB-10; two of ten sessions have expired (DB-13 allows some).
SEED = """\
INSERT INTO users (email, password_hash, role) VALUES
    ('owner@preflight.test', '!', 'user'), ('tenant@preflight.test', '!', 'user'),
    ('admin@preflight.test', '!', 'admin'), ('former@preflight.test', '!', 'user');
INSERT INTO properties (id, owner_id, title, description, city, status, price_per_month) VALUES
    (42, 2, 'Sunny two-bedroom flat', 'Balcony, river view', 'Lisbon', 'available', 1450),
    (43, 2, 'Loft near the river', 'Open plan, bright', 'Porto', 'available', 1180),
    (44, 2, 'Family house with garden', 'Three bedrooms', 'Braga', 'rented', 1720);
SELECT setval(pg_get_serial_sequence('properties', 'id'), 44);
INSERT INTO payments (user_id, property_id, amount_cents, status, due_date, stripe_payment_intent) VALUES
    (3, 44, 172000, 'paid', current_date - 30, 'pi_preflight_1'),
    (3, 44, 172000, 'pending', current_date + 1, 'pi_preflight_2');
INSERT INTO messages (conversation_id, sender_id, body) VALUES
    (1, 3, 'Is the flat still available?'), (1, 2, 'Yes, visits on Saturday.'),
    (2, 5, 'Please close my account.'), (2, 4, 'Done.');
INSERT INTO user_sessions (user_id, session_key, expires_at)
    SELECT 1 + g % 3, md5('session-' || g), now() + (g - 3) * interval '1 day' FROM generate_series(1, 10) g;
INSERT INTO login_attempts (user_id, email, ip, succeeded, attempted_at)
    SELECT CASE WHEN g % 10 = 0 THEN NULL ELSE 1 + g % 4 END, 'user' || g % 4 || '@preflight.test',
           '198.51.100.' || g % 250, g % 7 <> 0, now() - g * interval '1 minute'
    FROM generate_series(1, 12000) g;
"""


def alembic_config(connection: Any = None) -> Any:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def migrate(creator: Any, revision: str = "head", *, down: bool = False) -> None:
    """Run the sandbox's Alembic migrations (upgrade, or downgrade to `revision`) on a database."""
    import sqlalchemy as sa
    from alembic import command

    engine = sa.create_engine("postgresql+psycopg://", creator=creator, poolclass=sa.pool.NullPool)
    try:
        with _ALEMBIC, engine.connect() as connection:
            config = alembic_config(connection)
            if down:
                command.downgrade(config, revision)
            else:
                command.upgrade(config, revision)
            connection.commit()
    finally:
        engine.dispose()


def pg_bin(tool: str) -> str:
    """Debian keeps the server tools per major version; the newest installed wins."""
    installed = sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: int(p.parent.name), reverse=True)
    for directory in installed:
        if (directory / tool).exists():
            return str(directory / tool)
    found = shutil.which(tool)
    if found is None:
        raise SandboxError(f"PostgreSQL tool {tool} not found (looked in /usr/lib/postgresql/*/bin and PATH)")
    return found


class Cluster:
    """One cluster. Data and socket live under `home` (short path); the log lives in `log`."""

    def __init__(
        self,
        name: str,
        supervisor: Supervisor,
        home: Path,
        log: Path,
        *,
        password: str,
        settings: dict[str, str],
        smoke_user: tuple[str, str],
        next_xid: int = 0,
        django: bool = False,
        standby: bool = False,
    ) -> None:
        self.name = name
        self.supervisor = supervisor
        self.home = home
        self.data = home / "data"
        self.sockets = home / "run"
        self.log = log
        self.password = password
        self.settings = {**BASE_SETTINGS, **settings}
        self.smoke_user = smoke_user
        self.django = django
        self.standby = standby
        self.port = 0
        self.max_connections = 0
        self.process: Process | None = None
        self._held: list[psycopg.Connection] = []
        self.next_xid = next_xid
        self._clone_lock = threading.Lock()

    @property
    def database_url(self) -> str:
        return self.url(APP_DATABASE)

    def url(self, database: str) -> str:
        return f"postgresql://{APP_ROLE}:{self.password}@{HOST}:{self.port}/{database}"

    def _env(self) -> dict[str, str]:
        return {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "LC_ALL": "C",
            "LANG": "C",
            "HOME": str(self.home),
            "TZ": "UTC",
        }

    def _prepare_dirs(self) -> None:
        self.home.mkdir(parents=True)
        self.sockets.mkdir()
        for path in (self.home, self.sockets):
            path.chmod(0o700)
            if is_root():
                os.chown(path, *unprivileged_ids())

    def _initdb(self, deadline: float) -> None:
        options = ["-U", "postgres", "-A", "trust", "-E", "UTF8", "--locale=C", "--no-sync", "--no-instructions"]
        argv = as_unprivileged([pg_bin("initdb"), "-D", str(self.data), *options])
        initdb = self.supervisor.spawn(
            f"initdb for postgres '{self.name}'", argv, self.log, env=self._env(), cwd=self.home
        )
        if not initdb.wait(deadline - time.monotonic()):
            initdb.kill_group()
            initdb.wait(5)
            raise initdb.fail("did not finish in time")
        if initdb.returncode() != 0:
            raise initdb.fail(f"failed with status {initdb.returncode()}")

    def _reset_xid(self, deadline: float) -> None:
        """Move the stopped cluster's next transaction id forward with pg_resetwal -x, creating
        the pg_xact segment that holds it, as the pg_resetwal documentation describes."""
        segment = self.data / "pg_xact" / f"{self.next_xid // 1048576:04X}"
        segment.write_bytes(bytes(32 * 8192))  # 32 pages of 8 kB: 1048576 transactions
        if is_root():
            os.chown(segment, *unprivileged_ids())
        argv = as_unprivileged([pg_bin("pg_resetwal"), "-x", str(self.next_xid), "-D", str(self.data)])
        reset = self.supervisor.spawn(f"pg_resetwal for postgres '{self.name}'", argv, self.log, env=self._env())
        if not reset.wait(deadline - time.monotonic()):
            reset.kill_group()
            raise reset.fail("did not finish in time")
        if reset.returncode() != 0:
            raise reset.fail(f"failed with status {reset.returncode()}")

    def _configure(self) -> None:
        lines = [f"{key} = {value}" for key, value in self.settings.items()]
        lines.append(f"unix_socket_directories = '{self.sockets}'")
        with open(self.data / "postgresql.conf", "a") as conf:
            conf.write("\n# preflight sandbox\n" + "\n".join(lines) + "\n")
        hba = self.data / "pg_hba.conf"
        hba.write_text(HBA)
        if is_root():
            os.chown(hba, *unprivileged_ids())
        with open(self.log, "a") as log:
            log.write(f"# preflight sandbox settings for '{self.name}': {lines}\n")

    def _local(self, dbname: str = "postgres", user: str = "postgres") -> psycopg.Connection:
        """A connection over the private socket (trust), for setup and readiness."""
        return psycopg.connect(
            host=str(self.sockets), port=self.port, user=user, dbname=dbname, connect_timeout=2, autocommit=True
        )

    def _ready(self) -> bool:
        with self._local() as conn:
            conn.execute("SELECT 1")
        return True

    def start(self, deadline: float) -> None:
        self._prepare_dirs()
        self._initdb(deadline)
        if self.next_xid:
            self._reset_xid(deadline)
        self._configure()

        def launch() -> Process:
            self.port = free_port()
            argv = as_unprivileged([pg_bin("postgres"), "-D", str(self.data), "-p", str(self.port)])
            # SIGINT is PostgreSQL's fast shutdown: it does not wait for clients to disconnect.
            return self.supervisor.spawn(
                f"postgres '{self.name}'", argv, self.log, env=self._env(), cwd=self.home, stop_signal=signal.SIGINT
            )

        def ready(proc: Process) -> None:
            proc.wait_until(self._ready, deadline, "accepting connections")

        self.process = self.supervisor.spawn_retrying(launch, ready)
        self._create_app_database()
        if self.standby:
            # Restarted with standby.signal and no primary: in recovery for good, read-only.
            self.process.signal(signal.SIGINT)
            if not self.process.wait(deadline - time.monotonic()):
                raise self.process.fail("did not stop for its restart as a standby")
            signal_file = self.data / "standby.signal"
            signal_file.touch()
            if is_root():
                os.chown(signal_file, *unprivileged_ids())
            self.process = self.supervisor.spawn_retrying(launch, ready)

    def _create_app_database(self) -> None:
        email, password_hash = self.smoke_user
        with self._local() as conn:
            conn.execute(
                sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(sql.Identifier(APP_ROLE), sql.Literal(self.password))
            )
            conn.execute(
                sql.SQL("CREATE DATABASE {} OWNER {}").format(sql.Identifier(APP_DATABASE), sql.Identifier(APP_ROLE))
            )
            if self.django:
                conn.execute(
                    sql.SQL("CREATE DATABASE {} OWNER {}").format(
                        sql.Identifier(DJANGO_DATABASE), sql.Identifier(APP_ROLE)
                    )
                )
            self.max_connections = int(conn.execute("SHOW max_connections").fetchone()[0])
        with self._local(dbname=APP_DATABASE) as conn:
            conn.execute("CREATE EXTENSION pg_stat_statements")
        if self.django:
            with self._local(dbname=DJANGO_DATABASE) as conn:
                conn.execute("CREATE EXTENSION pg_stat_statements")
        migrate(lambda: self._connect(APP_DATABASE, APP_ROLE))
        with self._connect(APP_DATABASE, APP_ROLE) as conn:
            conn.execute("INSERT INTO users (email, password_hash) VALUES (%s, %s)", (email, password_hash))
            conn.execute(SEED)
            conn.commit()
            conn.autocommit = True
            conn.execute("ANALYZE")
        self.forget_setup_statements(APP_DATABASE)

    def forget_setup_statements(self, database: str) -> None:
        """Drop one database's pg_stat_statements entries after its setup (migrations, seed rows,
        ANALYZE, Django's migrate): that is not the workload DB-06 judges. Other databases keep theirs."""
        with self._local(dbname=database) as conn:
            conn.execute(
                "SELECT pg_stat_statements_reset(0, (SELECT oid FROM pg_database WHERE datname = %s), 0)", (database,)
            )

    def admin(self, dbname: str = APP_DATABASE) -> psycopg.Connection:
        """A superuser connection (autocommit) over the private socket: for self-tests, never the suite."""
        return self._local(dbname=dbname)

    def _connect(self, dbname: str, user: str = "postgres") -> psycopg.Connection:
        """Like _local, but in transactions (for SQLAlchemy and bulk rows)."""
        return psycopg.connect(host=str(self.sockets), port=self.port, user=user, dbname=dbname, connect_timeout=5)

    def create_django_database(self, name: str) -> None:
        """An empty database for a Django twin's own migrations (with pg_stat_statements, like app_django)."""
        with self._local() as conn:
            conn.execute(sql.SQL("CREATE DATABASE {} OWNER {}").format(sql.Identifier(name), sql.Identifier(APP_ROLE)))
        with self._local(dbname=name) as conn:
            conn.execute("CREATE EXTENSION pg_stat_statements")

    def clone_app(self, name: str) -> None:
        """A database of a twin's own, copied from the migrated and seeded `app`."""
        with self._clone_lock, self._local() as conn:
            conn.execute(
                sql.SQL("CREATE DATABASE {} TEMPLATE {} OWNER {}").format(
                    sql.Identifier(name), sql.Identifier(APP_DATABASE), sql.Identifier(APP_ROLE)
                )
            )
        with self._local(dbname=name) as conn:
            conn.execute("ANALYZE")  # statistics are per database: the copy starts without them

    def prepare(self, database: str, data: DataPart) -> None:
        """Apply a twin's data changes: an Alembic downgrade, its SQL (as the superuser; {database}
        names its database), the statements that must fail, and a held transaction."""
        if data.alembic_revision:
            migrate(lambda: self._connect(database, APP_ROLE), data.alembic_revision, down=True)
        ident = f'"{database}"'  # sandbox.plan.database_name() or APP_DATABASE: no quoting needed beyond this
        with self._local(dbname=database) as conn:
            for statement in data.sql:
                conn.execute(statement.replace("{database}", ident))
            for statement in data.sql_failing:
                try:
                    conn.execute(statement.replace("{database}", ident))
                except psycopg.Error:
                    continue
                raise SandboxError(f"{statement!r} was expected to fail but succeeded")
        if data.hold_transaction:
            held = psycopg.connect(self.url(database), connect_timeout=5, application_name="preflight-sandbox-hold")
            held.execute(data.hold_transaction)  # psycopg opens a transaction; it stays open, idle
            self._held.append(held)

    def hold_connections(self, count: int) -> None:
        """Open and keep idle application connections, like other clients of a busy server."""
        for _ in range(count):
            self._held.append(
                psycopg.connect(self.database_url, connect_timeout=5, application_name="preflight-sandbox-hold")
            )

    def release_connections(self) -> None:
        while self._held:
            with contextlib.suppress(Exception):
                self._held.pop().close()
