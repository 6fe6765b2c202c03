"""Start and stop the sandbox: execute a plan (sandbox.plan), shared parts once, then nginx + gunicorn for
each twin instance, in parallel."""

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

from sandbox import sites, spa
from sandbox.appserver import AppServer, migrate_django, python_env
from sandbox.launcher import Launcher
from sandbox.mail_dns import MailDns
from sandbox.monitoring import Monitoring
from sandbox.mta import MAIL_USER, Mta, mta_unavailable
from sandbox.nginx import Nginx, nginx_binary
from sandbox.parts import CorsSettings, MailKnobs, MtaKnobs
from sandbox.plan import (
    GOOD,
    SHAPE_NGINX,
    InstancePlan,
    MonitoringPlan,
    Plan,
    ReleasePlan,
    mail_name,
    make_plan,
    mta_name,
)
from sandbox.postgres import Cluster
from sandbox.proc import Process, SandboxError, Supervisor, is_root
from sandbox.redis_server import CACHE_SEED, CACHE_SETTINGS, RedisServer, RedisTls
from sandbox.state import write_state
from sandbox.tls import Certificates, make_certificates
from sandbox.twins import Twin, resolve
from sandbox.variables import VARIABLES

__all__ = ["Sandbox", "SandboxError", "start", "DEFAULT_TIMEOUT"]

# A hang guard for the whole start, not a speed target: every twin under both frameworks (~170
# instances, each Django cluster migrated first) took 71 s on two busy cores.
DEFAULT_TIMEOUT = 150.0
LOGIN_EMAIL = "smoke@preflight.test"

T = TypeVar("T")


@dataclass
class _RunningTwin:
    plan: InstancePlan
    cluster: Cluster
    app: AppServer
    nginx: Nginx
    processes: tuple[Process, ...] = ()
    secret_key: str = ""


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
        # Prometheus and Alertmanager: the shared pair, and those of the twins that declare monitoring.
        self._monitoring: dict[str, Monitoring] = {}
        self._monitoring_plans: dict[str, MonitoringPlan] = {}
        self._monitoring_started: dict[str, cf.Future[None]] = {}
        # The mail domain's DNS server: the shared one, and those of the twins that declare mail knobs.
        self._mail_dns: dict[str, MailDns] = {}
        # Its mail servers (Postfix and Dovecot): the shared one, and those of the twins that declare MTA knobs.
        self._mta: dict[str, Mta] = {}
        self.smtp_password = secrets.token_urlsafe(18)
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
            "SANDBOX_DATABASE_URL": running.cluster.url(running.plan.database),
            "SANDBOX_PG_MAX_CONNECTIONS": str(running.cluster.max_connections),
            "SANDBOX_REDIS_URL": self._redis_for(twin).url,
            "SANDBOX_REDIS_CACHE_URL": self._redis_cache.url,
            "SANDBOX_WEBHOOK_SECRET": self.webhook_secret,
            "SANDBOX_LOGIN_EMAIL": self.login_email,
            "SANDBOX_LOGIN_PASSWORD": self.login_password,
            "SANDBOX_NGINX_CONF": str(running.nginx.conf),
            "SANDBOX_NGINX_BINARY": nginx_binary(),
            "SANDBOX_JWT_SECRET": running.secret_key,
            **self._monitoring_urls(running.plan.monitoring),
            "SANDBOX_DNS_RESOLVER": self._mail_dns[mail_name(running.plan.twin)].resolver,
            **self._smtp(mta_name(running.plan.twin)),
        }
        assert set(values) == set(VARIABLES), "sandbox.variables.VARIABLES lists every variable"
        return values

    def _monitoring_urls(self, name: str | None) -> dict[str, str]:
        """An API instance's Prometheus and Alertmanager; a site has none (a closed port: its files declare none)."""
        monitoring = self._monitoring.get(name or GOOD) or self._monitoring.get(GOOD)
        if monitoring is None:
            return {k: VARIABLES[k] for k in ("SANDBOX_PROMETHEUS_URL", "SANDBOX_ALERTMANAGER_URL")}
        return {
            "SANDBOX_PROMETHEUS_URL": monitoring.prometheus_url,
            "SANDBOX_ALERTMANAGER_URL": monitoring.alertmanager_url,
        }

    def _smtp(self, name: str) -> dict[str, str]:
        """The mail server's ports and the application's mail login; stand-ins where none runs (unprivileged)."""
        mta = self._mta.get(name)
        if mta is None:
            return {k: VARIABLES[k] for k in ("SANDBOX_SMTP_PORT", "SANDBOX_SMTPS_PORT")} | {
                "SANDBOX_SMTP_USER": MAIL_USER,
                "SANDBOX_SMTP_PASSWORD": self.smtp_password,
            }
        return {
            "SANDBOX_SMTP_PORT": str(mta.submission_port),
            "SANDBOX_SMTPS_PORT": str(mta.smtps_port),
            "SANDBOX_SMTP_USER": MAIL_USER,
            "SANDBOX_SMTP_PASSWORD": self.smtp_password,
        }

    def mta(self, twin: str = GOOD) -> Mta | None:
        """The mail server a twin's environment talks to (for the self-test that reads its log and queue)."""
        return self._mta.get(mta_name(self._running(twin).plan.twin))

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
            **({"django_migrate": self._migrate_log(running.plan.release)} if running.plan.release else {}),
        }

    def _migrate_log(self, release: str) -> Path:
        """Where Django's release step logs: django/<cluster>/, or django/<twin>/ for a twin that stops it early."""
        return self.workdir / "django" / release / "migrate.log"

    def superuser(self, twin: str = GOOD) -> Any:
        """A superuser psycopg connection (autocommit) to the twin's database, for self-tests that
        look behind the suite (pg_stat_statements_reset, table checksums). The suite never uses it."""
        running = self._running(twin)
        return running.cluster.admin(running.plan.database)

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
        return self._redis[self._running(instance).plan.redis]

    def _release_connections(self) -> None:
        for cluster in self._clusters.values():
            cluster.release_connections()
        for server in self._redis.values():
            server.release_clients()

    def _mark(self, part: str) -> None:
        self.timings[part] = round(time.monotonic() - self._began, 2)

    def _start(self, plan: Plan, timeout: float, fork_apps: bool) -> None:
        """Execute the plan: the files first, then every server and instance in parallel."""
        self._began = time.monotonic()
        deadline = self._began + timeout
        self._order = [instance.name for instance in plan.instances]
        self._monitoring_plans = plan.monitoring
        self.workdir.mkdir(parents=True, exist_ok=True)
        # Forks the gunicorns (fork_apps) and stops everything if this process dies unstopped.
        guardian = Launcher(self._supervisor, self.workdir / "app-launcher.log", python_env())
        guardian.start(preload=fork_apps)
        self._supervisor.guardian = guardian.watch
        if self._owns_workdir:
            guardian.remove_if_orphaned(self.workdir)
        roots = self._make_files(plan)
        self._make_servers(plan, guardian)
        self._run(plan, roots, guardian if fork_apps else None, deadline)

    def _make_files(self, plan: Plan) -> dict[str, Path]:
        """The certificates and the SPA builds the plan's instances serve; the web root of each build."""
        self._certs = make_certificates(self.workdir / "tls", plan.certificates)
        # The cache speaks TLS only, like a managed Redis with in-transit encryption (rediss://).
        certs = self._certs
        self._redis_cache.tls = RedisTls(certs.server_chain, certs.server_key, certs.ca_bundle)
        builds: dict[str, Any] = {
            "prod": lambda: spa.build(self.workdir / "www").root,
            "dev": lambda: spa.build(self.workdir / "www-dev", dev=True).root,
            "broken": lambda: spa.build(self.workdir / "www-broken", broken=True).root,
            "leftovers": lambda: spa.build_with_leftovers(self.workdir / "www-leftovers").root,
            "flask-site": lambda: sites.build_flask_site(self.workdir / "site-flask"),
            "flask-site-dev": lambda: sites.build_flask_site(self.workdir / "site-flask-dev", dev=True),
            "django-site": lambda: sites.collect_django_site(self.workdir / "site-django"),
        }
        # Django's collectstatic is a process of its own: the other builds go on meanwhile.
        with cf.ThreadPoolExecutor(max_workers=len(plan.roots), thread_name_prefix="build") as pool:
            roots = dict(zip(plan.roots, pool.map(lambda name: builds[name](), plan.roots), strict=True))
        self._mark("tls and spa")
        return roots

    def _make_servers(self, plan: Plan, guardian: Launcher) -> None:
        """The clusters and Redis servers of the plan, not started yet."""
        # Data and sockets of the clusters go to a short private path (socket paths are limited
        # to ~100 bytes); as root it must be traversable by the user PostgreSQL runs as.
        self._pg_home = Path(tempfile.mkdtemp(prefix="preflight-pg-"))
        guardian.remove_if_orphaned(self._pg_home)
        if is_root():
            self._pg_home.chmod(0o711)
        smoke_user = (self.login_email, generate_password_hash(self.login_password))
        for name, cluster in plan.clusters.items():
            self._clusters[name] = Cluster(
                name,
                self._supervisor,
                self._pg_home / name,
                self.workdir / "postgres" / f"{name}.log",
                password=secrets.token_urlsafe(18),
                settings=cluster.settings,
                smoke_user=smoke_user,
                next_xid=cluster.next_xid,
                django=cluster.django,
                standby=cluster.standby,
            )
        for name, server in plan.redis.items():
            process = "redis-server" if name == GOOD else f"redis-server {name}"
            folder = self.workdir / "redis" / name
            home = self._pg_home / f"redis-{name}" if server.setup.unwritable_dir else None
            settings = server.settings.conf()
            self._redis[name] = RedisServer(folder, folder.with_suffix(".log"), settings, server.setup, process, home)

    def _run(self, plan: Plan, roots: dict[str, Path], launcher: Launcher | None, deadline: float) -> None:
        """Start every server, release step and instance, each as soon as what it needs is ready."""
        servers = [self._redis_cache, *self._redis.values()]
        workers = (
            len(servers)
            + len(plan.mail)
            + len(plan.mta)
            + len(plan.clusters)
            + len(plan.releases)
            + len(plan.instances)
            + len(plan.monitoring)
        )
        pool = cf.ThreadPoolExecutor(max_workers=workers, thread_name_prefix="sandbox")
        futures: list[cf.Future[Any]] = [pool.submit(self._start_redis, server, deadline) for server in servers]
        self._monitoring_started = {
            name: pool.submit(self._start_monitoring, part, deadline) for name, part in plan.monitoring.items()
        }
        futures += list(self._monitoring_started.values())
        futures += [pool.submit(self._start_mail_dns, name, knobs, deadline) for name, knobs in plan.mail.items()]
        if mta_unavailable() is None:
            futures += [pool.submit(self._start_mta, name, knobs, deadline) for name, knobs in plan.mta.items()]
        clusters = {
            name: pool.submit(self._start_cluster, self._clusters[name], cluster.hold_connections, deadline)
            for name, cluster in plan.clusters.items()
        }
        released = {
            name: pool.submit(self._release, release, clusters[release.cluster], launcher, deadline)
            for name, release in plan.releases.items()
        }
        futures += [*clusters.values(), *released.values()]
        for instance in plan.instances:
            ready = released[instance.release] if instance.release else clusters[instance.cluster]
            root = roots[instance.root]
            futures.append(pool.submit(self._start_instance, instance, ready, root, launcher, deadline))
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

    def _start_mail_dns(self, name: str, knobs: MailKnobs, deadline: float) -> None:
        dns = MailDns(name, self.workdir / "mail" / name, knobs)
        self._mail_dns[name] = dns
        dns.start(self._supervisor, deadline)
        self._mark(f"dnsmasq {name}")

    def _start_mta(self, name: str, knobs: MtaKnobs, deadline: float) -> None:
        assert self._pg_home is not None
        server = Mta(name, self._pg_home / f"mail-{name}", self.workdir / "mail" / name, knobs, self.smtp_password)
        self._mta[name] = server
        server.start(self._supervisor, self._require_certs(), deadline)
        self._mark(f"postfix {name}")

    def _start_cluster(self, cluster: Cluster, hold: int, deadline: float) -> None:
        cluster.start(deadline)
        if hold:
            cluster.hold_connections(hold)
        self._mark(f"postgres {cluster.name}")

    def _release(
        self, release: ReleasePlan, cluster_ready: cf.Future[None], launcher: Launcher | None, deadline: float
    ) -> None:
        """Django's release step: migrate its database (up to migrate_to, if given), then the smoke user."""
        cluster = self._clusters[release.cluster]
        _result(cluster_ready, deadline, f"postgres '{cluster.name}' (log: {cluster.log})")
        if release.migrate_to or release.create:
            cluster.create_django_database(release.database)
        settings = {
            "secret_key": secrets.token_urlsafe(32),
            "database_url": cluster.url(release.database),
            "webhook_secret": self.webhook_secret,
        }
        directory = self.workdir / "django" / release.name
        smoke_user = (self.login_email, self.login_password)
        migrate_django(
            self._supervisor, directory, settings, smoke_user, deadline, launcher, release.migrate_to, release.framework
        )
        cluster.forget_setup_statements(release.database)
        self._mark(f"django migrate {release.name}")

    def _start_instance(
        self,
        instance: InstancePlan,
        ready: cf.Future[None],
        web_root: Path,
        launcher: Launcher | None,
        deadline: float,
    ) -> None:
        """Once its database is ready: its gunicorn, then its nginx, then one request through both."""
        cluster = self._clusters[instance.cluster]
        _result(ready, deadline, self._awaited(instance))
        if instance.data is not None:
            self._prepare_data(instance, cluster)
        directory = self.workdir / "twins" / instance.name
        secret_key = secrets.token_urlsafe(32)
        app = AppServer(
            instance.name,
            directory / "app",
            {
                **instance.app,
                "secret_key": secret_key,
                "database_url": cluster.url(instance.database),
                "webhook_secret": self._webhook_secret(instance),
                **({"static_root": str(web_root / "static")} if instance.framework in SHAPE_NGINX else {}),
            },
            instance.framework,
        )
        nginx = Nginx(
            instance.name,
            directory / "nginx",
            knobs=instance.nginx,
            web_root=web_root,
            certificates=self._require_certs(),
            cors_origins=CorsSettings().origins,
        )
        running = _RunningTwin(instance, cluster, app, nginx, secret_key=secret_key)
        self._twins[instance.name] = running
        app_proc = app.start(self._supervisor, deadline, launcher)
        self._mark(f"gunicorn {instance.name}")
        nginx_proc = nginx.start(self._supervisor, app.port, deadline)
        running.processes = (nginx_proc, app_proc)
        self._check_chain(running, deadline)
        self._mark(f"twin {instance.name}")
        self._scrape_api(instance, app.port, deadline)

    def _start_monitoring(self, plan: MonitoringPlan, deadline: float) -> None:
        """A Prometheus (and Alertmanager), as the sandbox starts: its API target comes later (_scrape_api)."""
        monitoring = Monitoring(plan.name, self.workdir / "monitoring" / plan.name, plan.knobs)
        self._monitoring[plan.name] = monitoring
        monitoring.start(self._supervisor, deadline)
        self._mark(f"prometheus {plan.name}")

    def _scrape_api(self, instance: InstancePlan, app_port: int, deadline: float) -> None:
        """The Prometheus whose API is this instance's starts scraping it, now that it answers."""
        for plan in self._monitoring_plans.values():
            if plan.owner == instance.name:
                _result(self._monitoring_started[plan.name], deadline, f"prometheus {plan.name}")
                self._monitoring[plan.name].scrape_api(app_port, deadline)
                self._mark(f"monitoring {plan.name}")

    def _awaited(self, instance: InstancePlan) -> str:
        """What an instance waits for before it starts, with its log: for a timeout's message."""
        if instance.release is not None:
            return f"django migrate for '{instance.release}' (log: {self._migrate_log(instance.release)})"
        cluster = self._clusters[instance.cluster]
        return f"postgres '{cluster.name}' (log: {cluster.log})"

    def _prepare_data(self, instance: InstancePlan, cluster: Cluster) -> None:
        assert instance.data is not None
        try:
            if instance.clone:
                cluster.clone_app(instance.database)
            cluster.prepare(instance.database, instance.data)
        except Exception as exc:
            raise SandboxError(
                f"twin '{instance.twin.name}': preparing its database failed: {exc} (log: {cluster.log})"
            ) from exc

    def _webhook_secret(self, instance: InstancePlan) -> str:
        """The endpoint's secret, or another whsec_ for a twin that verifies with a stale one."""
        if instance.twin.app.webhook.secret == "stale":
            return "whsec_" + secrets.token_urlsafe(24)
        return self.webhook_secret

    def _check_chain(self, running: _RunningTwin, deadline: float) -> None:
        """One request through nginx (TLS), gunicorn and PostgreSQL: the app's health path (/api/health)
        answers as planned (503 for a twin whose app points at no database).

        A twin that presents a bad certificate is reached without verification.
        """
        expected = running.plan.health
        context = ssl.create_default_context(cafile=str(self._require_certs().ca_bundle))
        if running.plan.nginx.certificate != "good":
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        url = f"https://localhost:{running.nginx.https_port}{running.plan.health_path}"

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
                    raise proc.fail(f"exited before answering {running.plan.health_path}")
            try:
                if healthy():
                    return
            except Exception as exc:  # reported below if it never succeeds
                last_error = exc
            time.sleep(0.2)
        raise SandboxError(
            f"twin '{running.plan.name}': {url} did not answer {expected} in time ({last_error}); "
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
    planned = make_plan(instances)

    owns = workdir is None
    path = Path(tempfile.mkdtemp(prefix="preflight-sandbox-")) if workdir is None else Path(workdir).resolve()
    sandbox = Sandbox(path, owns_workdir=owns)
    _live.add(sandbox)
    try:
        sandbox._start(planned, timeout, fork_apps)
    except Exception:
        sandbox._shutdown(keep_workdir=True)  # the error message names a log in it
        raise
    except BaseException:
        sandbox.stop()
        raise
    return sandbox
