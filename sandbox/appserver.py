"""gunicorn running sandbox.app for one twin."""

from __future__ import annotations

import json
import os
import sys
import urllib.request
from pathlib import Path
from typing import Any

from sandbox.proc import HOST, Process, Supervisor, free_port
from sandbox.settings import SETTINGS_ENV

WORKERS = 2
TIMEOUT = 30
PACKAGE_PARENT = Path(__file__).resolve().parent.parent


class AppServer:
    def __init__(self, twin: str, directory: Path, settings: dict[str, Any]) -> None:
        self.twin = twin
        self.directory = directory
        self.settings = settings
        self.settings_file = directory / "settings.json"
        self.log = directory / "gunicorn.log"
        self.port = 0

    def _env(self) -> dict[str, str]:
        env = dict(os.environ)
        env[SETTINGS_ENV] = str(self.settings_file)
        env["PYTHONPATH"] = os.pathsep.join(
            [str(PACKAGE_PARENT), *filter(None, [os.environ.get("PYTHONPATH")])])
        env.pop("FLASK_DEBUG", None)
        return env

    def start(self, supervisor: Supervisor, deadline: float) -> Process:
        self.directory.mkdir(parents=True, exist_ok=True)
        self.settings_file.write_text(json.dumps(self.settings, indent=2))
        self.settings_file.chmod(0o600)

        def launch() -> Process:
            self.port = free_port()
            argv = [
                sys.executable, "-m", "gunicorn",
                "--bind", f"{HOST}:{self.port}",
                "--workers", str(WORKERS),
                "--worker-class", "sync",
                "--timeout", str(TIMEOUT),
                "--graceful-timeout", "5",
                # Import Flask, SQLAlchemy and stripe once in the master, not once per worker.
                "--preload",
                "--forwarded-allow-ips", HOST,
                "--access-logfile", str(self.directory / "access.log"),
                "--error-logfile", "-",
                "--name", f"preflight-sandbox-{self.twin}",
                "sandbox.app:create_app_from_env()",
            ]
            return supervisor.spawn(f"gunicorn '{self.twin}'", argv, self.log, env=self._env(),
                                    cwd=self.directory)

        return supervisor.spawn_retrying(launch, lambda proc: proc.wait_port(self.port, deadline))

    def healthy(self) -> bool:
        with urllib.request.urlopen(f"http://{HOST}:{self.port}/api/health", timeout=5) as reply:
            return bool(reply.status == 200)
