"""gunicorn running sandbox.app for one twin."""

from __future__ import annotations

import json
import os
import signal
import sys
from pathlib import Path
from typing import Any

from sandbox.launcher import Launcher
from sandbox.proc import HOST, Process, Supervisor, free_port
from sandbox.settings import SETTINGS_ENV

WORKERS = 2
TIMEOUT = 30
PACKAGE_PARENT = Path(__file__).resolve().parent.parent
# SIGINT is gunicorn's quick shutdown; SIGTERM waits for idle sync workers to notice (seconds).
STOP_SIGNAL = signal.SIGINT
# A documentation address (TEST-NET-1): no request comes from it.
UNLISTED_PROXY = "192.0.2.1"


def python_env() -> dict[str, str]:
    """The environment for Python children: this one, with the sandbox package importable."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(PACKAGE_PARENT), *filter(None, [os.environ.get("PYTHONPATH")])])
    for name in ("FLASK_DEBUG", "GUNICORN_CMD_ARGS"):
        env.pop(name, None)
    return env


class AppServer:
    def __init__(self, twin: str, directory: Path, settings: dict[str, Any]) -> None:
        self.twin = twin
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
            "sandbox.app:create_app_from_env()",
        ]  # fmt: skip

    def start(self, supervisor: Supervisor, deadline: float, launcher: Launcher | None) -> Process:
        """Start gunicorn: forked from the warm launcher if given, else `python -m gunicorn`."""
        self.directory.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.settings_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            json.dump(self.settings, handle, indent=2)
        env = {**python_env(), SETTINGS_ENV: str(self.settings_file)}
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
