"""A private PostgreSQL 15 cluster: initdb into a temp dir, role `app`, database `app`, smoke user."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import time
from pathlib import Path

import psycopg
from psycopg import sql

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

BASE_SETTINGS: dict[str, str] = {
    "listen_addresses": f"'{HOST}'",
    "password_encryption": "'scram-sha-256'",
    # Room for every twin's gunicorn workers that share the good cluster, plus the suite.
    "max_connections": "200",
    "shared_buffers": "'32MB'",
    "log_line_prefix": "'%m [%p] %q%u@%d '",
}

HBA = """\
# Setup over the private socket; the application and the suite log in over TCP with a password.
local all all trust
host  all all 127.0.0.1/32 scram-sha-256
"""

SCHEMA = """\
CREATE TABLE users (
    id serial PRIMARY KEY,
    email text NOT NULL UNIQUE,
    password_hash text NOT NULL
)
"""


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
        self.port = 0
        self.max_connections = 0
        self.process: Process | None = None
        self._held: list[psycopg.Connection] = []

    @property
    def database_url(self) -> str:
        return f"postgresql://{APP_ROLE}:{self.password}@{HOST}:{self.port}/{APP_DATABASE}"

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
        self._configure()

        def launch() -> Process:
            self.port = free_port()
            argv = as_unprivileged([pg_bin("postgres"), "-D", str(self.data), "-p", str(self.port)])
            # SIGINT is PostgreSQL's fast shutdown: it does not wait for clients to disconnect.
            return self.supervisor.spawn(
                f"postgres '{self.name}'", argv, self.log, env=self._env(), cwd=self.home, stop_signal=signal.SIGINT
            )

        self.process = self.supervisor.spawn_retrying(
            launch, lambda proc: proc.wait_until(self._ready, deadline, "accepting connections")
        )
        self._create_app_database()

    def _create_app_database(self) -> None:
        email, password_hash = self.smoke_user
        with self._local() as conn:
            conn.execute(
                sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(sql.Identifier(APP_ROLE), sql.Literal(self.password))
            )
            conn.execute(
                sql.SQL("CREATE DATABASE {} OWNER {}").format(sql.Identifier(APP_DATABASE), sql.Identifier(APP_ROLE))
            )
            self.max_connections = int(conn.execute("SHOW max_connections").fetchone()[0])
        with self._local(dbname=APP_DATABASE, user=APP_ROLE) as conn:
            conn.execute(SCHEMA)
            conn.execute("INSERT INTO users (email, password_hash) VALUES (%s, %s)", (email, password_hash))

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
