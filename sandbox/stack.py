"""Start and stop the sandbox: shared parts once, then nginx + gunicorn for each twin, in parallel."""

from __future__ import annotations

import atexit
import concurrent.futures as cf
import contextlib
import os
import secrets
import shutil
import ssl
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

from werkzeug.security import generate_password_hash

from sandbox import spa
from sandbox.appserver import AppServer, migrate_django, python_env
from sandbox.launcher import Launcher
from sandbox.nginx import Nginx, knobs_for, nginx_binary
from sandbox.postgres import APP_DATABASE, DJANGO_DATABASE, Cluster
from sandbox.proc import Process, SandboxError, Supervisor, is_root
from sandbox.redis_server import CACHE_SEED, CACHE_SETTINGS, QUEUE_SEED, RedisServer, RedisTls
from sandbox.settings import DEFAULT_SETTINGS, merge
from sandbox.state import write_state
from sandbox.tls import Certificates, make_certificates
from sandbox.twins import Twin, resolve
from sandbox.variables import VARIABLES

__all__ = ["Sandbox", "SandboxError", "start", "DEFAULT_TIMEOUT"]

# A hang guard for the whole start, not a speed target: every twin under both frameworks (~170
# instances, each Django cluster migrated first) took 71 s on two busy cores.
DEFAULT_TIMEOUT = 150.0
GOOD = "good"
# The cluster shared by the twins that change only data (a database each).
DATA = "data-twins"
LOGIN_EMAIL = "smoke@preflight.test"

T = TypeVar("T")


@dataclass
class _RunningTwin:
    twin: Twin
    framework: str
    name: str  # the instance: `<twin>`, or `<twin>@django`
    cluster: Cluster
    app: AppServer
    nginx: Nginx
    processes: tuple[Process, ...] = ()
    secret_key: str = ""
    database: str = APP_DATABASE  # the API's: `app` (or a data twin's clone) for Flask, `app_django` for Django


class Sandbox:
    """A running sandbox. Create it with start(); stop() it (or use it as a context manager)."""

    def __init__(self, workdir: Path, *, owns_workdir: bool) -> None:
        self.workdir = workdir
        self._owns_workdir = owns_workdir
        self._supervisor = Supervisor()
        self._stop_lock = threading.Lock()
        self._stopped = False
        self._twins: dict[str, _RunningTwin] = {}
        self._order: list[str] = []
        self._clusters: dict[str, Cluster] = {}
        # The queue and session store (one per twin with Redis settings of its own) and the cache.
        self._redis: dict[str, RedisServer] = {}
        cache = workdir / "redis" / "cache"
        self._redis_cache = RedisServer(
            cache, cache.with_suffix(".log"), CACHE_SETTINGS, CACHE_SEED, "redis-server cache"
        )
        self._pg_home: Path | None = None
        self._certs: Certificates | None = None
        self.webhook_secret = "whsec_" + secrets.token_urlsafe(24)
        self.login_email = LOGIN_EMAIL
        self.login_password = secrets.token_urlsafe(18)
        # Seconds from the start of start() until each part was ready: where startup time goes.
        self.timings: dict[str, float] = {}
        self._began = time.monotonic()

    # --- public interface --------------------------------------------------------------------

    @property
    def twins(self) -> list[str]:
        """The running instances (`<twin>`, `<twin>@django`), in the order they were asked for."""
        return [name for name in self._order if name in self._twins]

    def variables(self, twin: str = GOOD) -> dict[str, str]:
        running = self._running(twin)
        assert self._certs is not None
        values = {
            "SANDBOX_HTTPS_PORT": str(running.nginx.https_port),
            "SANDBOX_HTTP_PORT": str(running.nginx.http_port),
            "SANDBOX_CA_BUNDLE": str(self._certs.ca_bundle),
            "SANDBOX_DATABASE_URL": running.cluster.url(running.database),
            "SANDBOX_PG_MAX_CONNECTIONS": str(running.cluster.max_connections),
            "SANDBOX_REDIS_URL": self._redis_for(twin).url,
            "SANDBOX_REDIS_CACHE_URL": self._redis_cache.url,
            "SANDBOX_WEBHOOK_SECRET": self.webhook_secret,
            "SANDBOX_LOGIN_EMAIL": self.login_email,
            "SANDBOX_LOGIN_PASSWORD": self.login_password,
            "SANDBOX_NGINX_CONF": str(running.nginx.conf),
            "SANDBOX_NGINX_BINARY": nginx_binary(),
            "SANDBOX_JWT_SECRET": running.secret_key,
        }
        assert set(values) == set(VARIABLES), "sandbox.variables.VARIABLES lists every variable"
        return values

    def nginx_conf(self, twin: str = GOOD) -> Path:
        """The rendered nginx.conf of a twin (for `nginx -t` and config-parsing checks)."""
        return self._running(twin).nginx.conf

    def logs(self, twin: str = GOOD) -> dict[str, Path]:
        running = self._running(twin)
        return {
            "nginx": running.nginx.error_log,
            "nginx_access": running.nginx.log_dir / "access.log",
            "gunicorn": running.app.log,
            "postgres": running.cluster.log,
            "redis": self._redis_for(twin).log,
            "redis_cache": self._redis_cache.log,
            **({"django_migrate": self._migrate_log(running)} if running.framework == "django" else {}),
        }

    def _migrate_log(self, running: _RunningTwin) -> Path:
        return self._django_dir(running.cluster, running.twin) / "migrate.log"

    def _django_dir(self, cluster: Cluster, twin: Twin | None = None) -> Path:
        """Where Django's release step runs and logs: the cluster's, or that of a twin that stops it early."""
        where = twin.name if twin is not None and twin.django_migrate_to else cluster.name
        return self.workdir / "django" / where

    def superuser(self, twin: str = GOOD) -> Any:
        """A superuser psycopg connection (autocommit) to the twin's database, for self-tests that
        look behind the suite (pg_stat_statements_reset, table checksums). The suite never uses it."""
        running = self._running(twin)
        return running.cluster.admin(running.database)

    def pids(self) -> list[int]:
        return self._supervisor.pids()

    def write_state(self, path: Path) -> None:
        """The state file that `--sandbox-state` attaches a run to (sandbox.state)."""
        state = {
            "pid_owner": os.getpid(),
            "workdir": str(self.workdir),
            "twins": {name: self.variables(name) for name in self.twins},
            "pids": self.pids(),
        }
        write_state(path, state)

    def stop(self) -> None:
        """Stop every process (idempotent). Keeps the logs unless the workdir was our temp dir."""
        self._shutdown(keep_workdir=False)

    def _shutdown(self, keep_workdir: bool) -> None:
        with self._stop_lock:
            if self._stopped:
                return
            self._stopped = True
        _live.discard(self)
        processes = self._supervisor.close()
        web = [proc for proc in processes if proc.name.startswith(("nginx", "gunicorn"))]
        self._supervisor.stop(first=web, between=self._release_connections)
        if self._pg_home is not None:
            shutil.rmtree(self._pg_home, ignore_errors=True)
        if self._owns_workdir and not keep_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # --- starting ----------------------------------------------------------------------------

    def _running(self, twin: str) -> _RunningTwin:
        try:
            return self._twins[twin]
        except KeyError:
            raise KeyError(f"twin {twin!r} is not running (running: {sorted(self._twins)})") from None

    def _redis_for(self, instance: str) -> RedisServer:
        # One Redis per twin, shared by its Flask and Django instances (the app does not use it).
        return self._redis.get(self._running(instance).twin.name, self._redis[GOOD])

    def _release_connections(self) -> None:
        for cluster in self._clusters.values():
            cluster.release_connections()
        for server in self._redis.values():
            server.release_clients()

    def _mark(self, part: str) -> None:
        self.timings[part] = round(time.monotonic() - self._began, 2)

    def _start(self, instances: list[tuple[Twin, str]], timeout: float, fork_apps: bool) -> None:
        self._began = time.monotonic()
        deadline = self._began + timeout
        self._order = [twin.instance(framework) for twin, framework in instances]
        twins = list({twin.name: twin for twin, _ in instances}.values())
        self.workdir.mkdir(parents=True, exist_ok=True)
        # Forks the gunicorns (fork_apps) and stops everything if this process dies unstopped.
        guardian = Launcher(self._supervisor, self.workdir / "app-launcher.log", python_env())
        guardian.start(preload=fork_apps)
        self._supervisor.guardian = guardian.watch
        if self._owns_workdir:
            guardian.remove_if_orphaned(self.workdir)
        launcher = guardian if fork_apps else None
        self._certs = make_certificates(self.workdir / "tls", [knobs_for(t.nginx)["certificate"] for t in twins])
        # The cache speaks TLS only, like a managed Redis with in-transit encryption (rediss://).
        certs = self._certs
        self._redis_cache.tls = RedisTls(certs.server_chain, certs.server_key, certs.ca_bundle)
        roots = {"prod": spa.build(self.workdir / "www").root}
        if any(knobs_for(t.nginx)["build"] == "dev" for t in twins):
            roots["dev"] = spa.build(self.workdir / "www-dev", dev=True).root
        if any(knobs_for(t.nginx)["build"] == "broken" for t in twins):
            roots["broken"] = spa.build(self.workdir / "www-broken", broken=True).root
        if any(knobs_for(t.nginx)["leftovers"] for t in twins):
            roots["leftovers"] = spa.build_with_leftovers(self.workdir / "www-leftovers").root
        self._mark("tls and spa")

        # Data and sockets of the clusters go to a short private path (socket paths are limited
        # to ~100 bytes); as root it must be traversable by the user PostgreSQL runs as.
        self._pg_home = Path(tempfile.mkdtemp(prefix="preflight-pg-"))
        guardian.remove_if_orphaned(self._pg_home)
        if is_root():
            self._pg_home.chmod(0o711)
        smoke_user = (self.login_email, generate_password_hash(self.login_password))
        # A twin with a cluster of its own gets one per instance: each framework's connections apart.
        keys = {
            t.instance(fw): (t.instance(fw) if t.own_cluster else DATA if t.database else GOOD) for t, fw in instances
        }
        django_clusters = {keys[t.instance(fw)] for t, fw in instances if fw == "django"}
        standbys = {t.instance(fw) for t, fw in instances if t.standby}
        clusters = [(GOOD, {}, 0)] + [(t.instance(fw), t.postgres, t.next_xid) for t, fw in instances if t.own_cluster]
        if any(t.database and not t.own_cluster for t in twins):
            clusters.append((DATA, {}, 0))
        for key, settings, next_xid in clusters:
            self._clusters[key] = Cluster(
                key,
                self._supervisor,
                self._pg_home / key,
                self.workdir / "postgres" / f"{key}.log",
                password=secrets.token_urlsafe(18),
                settings=settings,
                smoke_user=smoke_user,
                next_xid=next_xid,
                django=key in django_clusters,
                standby=key in standbys,
            )
        holds = {t.instance(fw): t.hold_connections for t, fw in instances if t.hold_connections}
        for key, settings, setup in [(GOOD, {}, QUEUE_SEED)] + [
            (t.name, t.redis, t.redis_setup) for t in twins if t.redis or t.redis_setup
        ]:
            name = "redis-server" if key == GOOD else f"redis-server {key}"
            folder = self.workdir / "redis" / key
            home = self._pg_home / f"redis-{key}" if setup.get("unwritable_dir") else None
            self._redis[key] = RedisServer(folder, folder.with_suffix(".log"), settings, setup, name, home)

        servers = [self._redis_cache, *self._redis.values()]
        workers = 2 * len(self._clusters) + len(instances) + len(servers)
        pool = cf.ThreadPoolExecutor(max_workers=workers, thread_name_prefix="sandbox")
        futures: list[cf.Future[Any]] = [pool.submit(self._start_redis, server, deadline) for server in servers]
        clusters = {
            key: pool.submit(self._start_cluster, cluster, holds.get(key, 0), deadline)
            for key, cluster in self._clusters.items()
        }
        futures += clusters.values()
        # Django's release step once per cluster (app_django), and once per twin that stops it early.
        migrated = {
            key: pool.submit(self._migrate_django, self._clusters[key], clusters[key], launcher, deadline)
            for key in django_clusters
        }
        for twin, framework in instances:
            if framework == "django" and twin.django_migrate_to:
                key = keys[twin.instance(framework)]
                migrated[twin.instance(framework)] = pool.submit(
                    self._migrate_django, self._clusters[key], clusters[key], launcher, deadline, twin
                )
        futures += migrated.values()
        for twin, framework in instances:
            key = keys[twin.instance(framework)]
            knobs = knobs_for(twin.nginx)
            root = roots["leftovers" if knobs["leftovers"] else knobs["build"]]
            ready = clusters[key]
            if framework == "django":
                ready = migrated.get(twin.instance(framework), migrated[key])
            futures.append(
                pool.submit(self._start_twin, twin, framework, ready, self._clusters[key], root, launcher, deadline)
            )
        try:
            _wait_all(futures, deadline)
        except BaseException:
            # Do not wait for the other parts: the caller stops every process, which makes the
            # threads still starting fail fast.
            pool.shutdown(wait=False, cancel_futures=True)
            raise
        pool.shutdown(wait=True)

    def _start_redis(self, server: RedisServer, deadline: float) -> None:
        server.start(self._supervisor, deadline)
        self._mark(server.name)

    def _start_cluster(self, cluster: Cluster, hold: int, deadline: float) -> None:
        cluster.start(deadline)
        if hold:
            cluster.hold_connections(hold)
        self._mark(f"postgres {cluster.name}")

    def _migrate_django(
        self,
        cluster: Cluster,
        cluster_ready: cf.Future[None],
        launcher: Launcher | None,
        deadline: float,
        twin: Twin | None = None,
    ) -> str:
        """Django's release step: migrate `app_django` (or a twin's own database, up to its
        django_migrate_to), then the smoke user. Returns the database's name."""
        _result(cluster_ready, deadline, f"postgres '{cluster.name}' (log: {cluster.log})")
        database, target = DJANGO_DATABASE, None
        if twin is not None:
            database, target = cluster.create_django_database(twin.name), twin.django_migrate_to
        settings = {
            "secret_key": secrets.token_urlsafe(32),
            "database_url": cluster.url(database),
            "webhook_secret": self.webhook_secret,
        }
        directory = self._django_dir(cluster, twin)
        smoke_user = (self.login_email, self.login_password)
        migrate_django(self._supervisor, directory, settings, smoke_user, deadline, launcher, target)
        cluster.forget_setup_statements(database)
        self._mark(f"django migrate {directory.name}")
        return database

    def _start_twin(
        self,
        twin: Twin,
        framework: str,
        cluster_ready: cf.Future[Any],
        cluster: Cluster,
        web_root: Path,
        launcher: Launcher | None,
        deadline: float,
    ) -> None:
        name = twin.instance(framework)
        directory = self.workdir / "twins" / name
        settings = merge(DEFAULT_SETTINGS, twin.app)
        webhook_secret = self.webhook_secret
        if settings["webhook"]["secret"] == "stale":
            webhook_secret = "whsec_" + secrets.token_urlsafe(24)
        nginx = Nginx(
            name,
            directory / "nginx",
            knobs=twin.nginx,
            web_root=web_root,
            certificates=self._require_certs(),
            cors_origins=DEFAULT_SETTINGS["cors"]["origins"],
        )
        what = f"postgres '{cluster.name}' (log: {cluster.log})"
        if framework == "django":
            release = self._django_dir(cluster, twin)
            what = f"django migrate for '{release.name}' (log: {release / 'migrate.log'})"
        migrated = _result(cluster_ready, deadline, what)
        secret_key = secrets.token_urlsafe(32)
        database = migrated if framework == "django" else APP_DATABASE
        if twin.database and framework == "flask":
            try:
                database = cluster.clone_for(twin.name) if cluster.name == DATA else APP_DATABASE
                cluster.prepare(database, twin)
            except Exception as exc:
                raise SandboxError(
                    f"twin '{twin.name}': preparing its database failed: {exc} (log: {cluster.log})"
                ) from exc
        app = AppServer(
            name,
            directory / "app",
            {
                **twin.app,
                "secret_key": secret_key,
                "database_url": cluster.url(database),
                "webhook_secret": webhook_secret,
            },
            framework,
        )
        running = _RunningTwin(twin, framework, name, cluster, app, nginx, secret_key=secret_key, database=database)
        self._twins[name] = running
        app_proc = app.start(self._supervisor, deadline, launcher)
        self._mark(f"gunicorn {name}")
        nginx_proc = nginx.start(self._supervisor, app.port, deadline)
        running.processes = (nginx_proc, app_proc)
        # A twin whose app points at no database is ready when its health answers that with 503.
        self._check_chain(running, deadline, 503 if settings["database_port"] or settings["database_options"] else 200)
        self._mark(f"twin {name}")

    def _check_chain(self, running: _RunningTwin, deadline: float, expected: int) -> None:
        """One request through nginx (TLS), gunicorn and PostgreSQL: /api/health answers `expected`.

        A twin that presents a bad certificate is reached without verification.
        """
        context = ssl.create_default_context(cafile=str(self._require_certs().ca_bundle))
        if running.nginx.knobs["certificate"] != "good":
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        url = f"https://localhost:{running.nginx.https_port}/api/health"

        def healthy() -> bool:
            try:
                with urllib.request.urlopen(url, timeout=5, context=context) as reply:
                    return bool(reply.status == expected)
            except urllib.error.HTTPError as exc:
                if exc.code == expected:
                    return True
                raise

        last_error: Exception | None = None
        while time.monotonic() < deadline:
            for proc in running.processes:
                if not proc.alive():
                    raise proc.fail("exited before answering /api/health")
            try:
                if healthy():
                    return
            except Exception as exc:  # reported below if it never succeeds
                last_error = exc
            time.sleep(0.2)
        raise SandboxError(
            f"twin '{running.name}': {url} did not answer {expected} in time ({last_error}); "
            f"logs: {running.app.log}, {running.nginx.error_log}"
        )

    def _require_certs(self) -> Certificates:
        if self._certs is None:
            raise SandboxError("certificates were not created")
        return self._certs


def _result(future: cf.Future[T], deadline: float, what: str) -> T:
    try:
        return future.result(timeout=max(0.0, deadline - time.monotonic()))
    except cf.TimeoutError:
        raise SandboxError(f"{what} was not ready in time") from None
    except SandboxError as exc:
        raise SandboxError(f"{what} failed: {exc}") from None


def _wait_all(futures: list[cf.Future[Any]], deadline: float) -> None:
    """Wait for every future; raise the first failure as soon as it happens."""
    pending = set(futures)
    while pending:
        done, pending = cf.wait(
            pending, timeout=max(0.0, deadline - time.monotonic()) + 1.0, return_when=cf.FIRST_EXCEPTION
        )
        for future in done:
            exc = future.exception()
            if exc is not None:
                if isinstance(exc, SandboxError):
                    raise exc
                raise SandboxError(f"sandbox start failed: {type(exc).__name__}: {exc}") from exc
        if not done:
            raise SandboxError("sandbox start timed out")


_live: set[Sandbox] = set()


@atexit.register
def _stop_leftovers() -> None:
    for sandbox in list(_live):
        with contextlib.suppress(Exception):
            sandbox.stop()


def start(
    twins: Iterable[str] = (GOOD,),
    workdir: Path | None = None,
    *,
    timeout: float = DEFAULT_TIMEOUT,
    fork_apps: bool = True,
) -> Sandbox:
    """Start the shared parts and each named twin; return when all of them answer.

    A name is a twin (its Flask instance) or `<twin>@django` (its Django instance).

    Raises SandboxError (one line, naming the part and its log) on failure or after `timeout`
    seconds, having stopped whatever it had started. With fork_apps (the default) each gunicorn
    is forked from one warm launcher (sandbox.launcher); without, each is `python -m gunicorn`.
    """
    names = list(dict.fromkeys(twins))
    instances: list[tuple[Twin, str]] = []
    problems: list[str] = []
    for name in names:
        try:
            instances.append(resolve(name))
        except ValueError as exc:
            problems.append(str(exc))
    if problems:
        raise SandboxError(f"{'; '.join(problems)} (see `python -m sandbox twins`)")

    owns = workdir is None
    path = Path(tempfile.mkdtemp(prefix="preflight-sandbox-")) if workdir is None else Path(workdir).resolve()
    sandbox = Sandbox(path, owns_workdir=owns)
    _live.add(sandbox)
    try:
        sandbox._start(instances, timeout, fork_apps)
    except Exception:
        sandbox._shutdown(keep_workdir=True)  # the error message names a log in it
        raise
    except BaseException:
        sandbox.stop()
        raise
    return sandbox
