"""gunicorn running the app of one twin instance: sandbox.app (Flask) or sandbox.django_api (Django), or a
server-rendered site (sandbox.django_site, sandbox.flask_site)."""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

from sandbox.launcher import Launcher
from sandbox.proc import HOST, Process, SandboxError, Supervisor, free_port
from sandbox.settings import SETTINGS_ENV

WORKERS = 2
TIMEOUT = 30
PACKAGE_PARENT = Path(__file__).resolve().parent.parent
# SIGINT is gunicorn's quick shutdown; SIGTERM waits for idle sync workers to notice (seconds).
STOP_SIGNAL = signal.SIGINT
# A documentation address (TEST-NET-1): no request comes from it.
UNLISTED_PROXY = "192.0.2.1"
# gunicorn's app per framework, and the environment it needs besides the settings file.
WSGI_APPS = {
    "flask": "sandbox.app:create_app_from_env()",
    "django": "sandbox.django_api.wsgi:application",
    "django-site": "sandbox.django_site.wsgi:application",
    "flask-site": "sandbox.flask_site:create_app_from_env()",
}
DJANGO_SETTINGS = {"django": "sandbox.django_api.settings", "django-site": "sandbox.django_site.settings"}


def python_env() -> dict[str, str]:
    """The environment for Python children: this one, with the sandbox package importable."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(PACKAGE_PARENT), *filter(None, [os.environ.get("PYTHONPATH")])])
    for name in ("FLASK_DEBUG", "GUNICORN_CMD_ARGS", "DJANGO_SETTINGS_MODULE"):
        env.pop(name, None)
    return env


class AppServer:
    def __init__(self, twin: str, directory: Path, settings: dict[str, Any], framework: str = "flask") -> None:
        if framework not in WSGI_APPS:
            raise SandboxError(f"unknown framework {framework!r}")
        self.twin = twin
        self.framework = framework
        self.directory = directory
        self.settings = settings
        self.settings_file = directory / "settings.json"
        self.log = directory / "gunicorn.log"
        self.port = 0

    def gunicorn_args(self) -> list[str]:
        return [
            "--bind", f"{HOST}:{self.port}",
            "--workers", str(WORKERS),
            "--worker-class", "sync",
            "--timeout", str(TIMEOUT),
            "--graceful-timeout", "5",
            # Load the app in the master, then fork the workers.
            "--preload",
            # gunicorn itself honours X-Forwarded-Proto from these addresses; the app setting
            # trust_proxy = False models a proxy on another host that nobody listed (TLS-05).
            "--forwarded-allow-ips", HOST if self.settings.get("trust_proxy", True) else UNLISTED_PROXY,
            "--access-logfile", str(self.directory / "access.log"),
            "--error-logfile", "-",
            "--name", f"preflight-sandbox-{self.twin}",
            WSGI_APPS[self.framework],
        ]  # fmt: skip

    def start(self, supervisor: Supervisor, deadline: float, launcher: Launcher | None) -> Process:
        """Start gunicorn: forked from the warm launcher if given, else `python -m gunicorn`."""
        env = write_settings(self.directory, self.settings, self.framework)
        name = f"gunicorn '{self.twin}'"

        def launch() -> Process:
            self.port = free_port()
            if launcher is not None:
                return launcher.fork(
                    name,
                    self.gunicorn_args(),
                    env=env,
                    cwd=self.directory,
                    log=self.log,
                    deadline=deadline,
                    stop_signal=STOP_SIGNAL,
                )
            argv = [sys.executable, "-m", "gunicorn", *self.gunicorn_args()]
            return supervisor.spawn(name, argv, self.log, env=env, cwd=self.directory, stop_signal=STOP_SIGNAL)

        return supervisor.spawn_retrying(launch, lambda proc: proc.wait_port(self.port, deadline))


def write_settings(directory: Path, settings: dict[str, Any], framework: str) -> dict[str, str]:
    """Write settings.json (0600, it holds secrets) and return the app's environment."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "settings.json"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(settings, handle, indent=2)
    env = {**python_env(), SETTINGS_ENV: str(path)}
    if framework in DJANGO_SETTINGS:
        env["DJANGO_SETTINGS_MODULE"] = DJANGO_SETTINGS[framework]
    return env


def migrate_django(
    supervisor: Supervisor,
    directory: Path,
    settings: dict[str, Any],
    smoke_user: tuple[str, str],
    deadline: float,
    launcher: Launcher | None,
    target: tuple[str, str] | None = None,
    framework: str = "django",
) -> None:
    """The Django release step: `manage.py migrate`, then the smoke user (sandbox_prepare), before gunicorn starts.

    Forked from the warm launcher when there is one (it has Django imported), else `python -m django`.
    """
    env = write_settings(directory, settings, framework)
    env["SANDBOX_SMOKE_EMAIL"], env["SANDBOX_SMOKE_PASSWORD"] = smoke_user
    log = directory / "migrate.log"
    # A forked process's exit status goes to the launcher, which reaps it: success is this file.
    done = directory / "prepared"
    done.unlink(missing_ok=True)
    args = ["sandbox_prepare", "--no-color", "--done", str(done), *(["--target", *target] if target else [])]
    name = f"django migrate in {directory}"
    proc: Process
    if launcher is not None:
        proc = launcher.fork(
            name, args, env=env, cwd=directory, log=log, deadline=deadline, stop_signal=signal.SIGTERM,
            program="django-admin",
        )  # fmt: skip
    else:
        proc = supervisor.spawn(name, [sys.executable, "-m", "django", *args], log, env=env, cwd=directory)
    if not proc.wait(max(0.0, deadline - time.monotonic())):
        proc.kill_group()
        proc.wait(5)
        raise proc.fail("did not finish in time")
    if not done.exists():
        raise proc.fail("failed")
