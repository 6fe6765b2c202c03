"""nginx for one twin: render the config from the template and its knobs (sandbox.parts.NginxKnobs), then run it."""

from __future__ import annotations

import glob
import grp
import os
import pwd
import shutil
from pathlib import Path

import jinja2

from sandbox.parts import MAIL_DOMAIN, NginxKnobs
from sandbox.proc import Process, SandboxError, Supervisor, free_port, is_root
from sandbox.spa import CONFIG_JSON, config_json
from sandbox.tls import Certificates

TEMPLATES = Path(__file__).parent / "templates"

# Debian's libfaketime (package faketime), for the twin whose clock is off.
LIBFAKETIME_GLOB = "/usr/lib/*/faketime/libfaketime.so.1"

_env = jinja2.Environment(
    loader=jinja2.FileSystemLoader(TEMPLATES),
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
    autoescape=False,
)


def nginx_binary() -> str:
    return shutil.which("nginx") or "/usr/sbin/nginx"


class Nginx:
    """Everything lives under `directory`: conf, pid, temp paths, logs."""

    def __init__(
        self,
        twin: str,
        directory: Path,
        *,
        knobs: NginxKnobs,
        web_root: Path,
        certificates: Certificates,
        cors_origins: list[str],
    ) -> None:
        self.twin = twin
        self.directory = directory
        self.knobs = knobs
        self.web_root = web_root
        self.certificates = certificates
        self.cors_origins = cors_origins
        self.conf = directory / "nginx.conf"
        self.log_dir = directory / "logs"
        self.error_log = self.log_dir / "error.log"
        self.http_port = 0
        self.https_port = 0

    def render(self, app_port: int, *, edited: bool = False) -> str:
        user = None
        if is_root():
            # Workers run as the invoking user, like gunicorn: the workdir may be private (0700).
            user = f"{pwd.getpwuid(os.geteuid()).pw_name} {grp.getgrgid(os.getegid()).gr_name}"
        chain, key = self.certificates.pair(self.knobs.certificate)
        return _env.get_template("nginx.conf.j2").render(
            twin=self.twin,
            user=user,
            knobs=self.knobs,
            conf_dir=self.directory,
            run_dir=self.directory,
            log_dir=self.log_dir,
            tmp_dir=self.directory / "tmp",
            web_root=self.web_root,
            app_port=app_port,
            http_port=self.http_port,
            https_port=self.https_port,
            certificate=chain,
            certificate_key=key,
            cors_origins=self.cors_origins,
            spa_config=CONFIG_JSON,
            spa_config_deployed=config_json(self.knobs.spa_api_url) if self.knobs.spa_api_url else None,
            edited=edited,
            mta_sts_policy=_mta_sts_policy(self.knobs.mta_sts_mode),
        )

    def start(self, supervisor: Supervisor, app_port: int, deadline: float) -> Process:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        (self.directory / "tmp").mkdir(exist_ok=True)
        headers = _env.get_template("security-headers.conf").render(knobs=self.knobs)
        (self.directory / "security-headers.conf").write_text(headers)
        env = None
        if self.knobs.clock_offset:
            found = sorted(glob.glob(LIBFAKETIME_GLOB))
            if not found:
                raise SandboxError(
                    f"twin '{self.twin}' runs nginx with a skewed clock and needs {LIBFAKETIME_GLOB} "
                    "(apt-get install faketime)"
                )
            env = {
                **os.environ,
                "LD_PRELOAD": found[0],
                "FAKETIME": str(self.knobs.clock_offset),
                "DONT_FAKE_MONOTONIC": "1",
            }

        def launch() -> Process:
            self.http_port, self.https_port = free_port(), free_port()
            self.conf.write_text(self.render(app_port))
            argv = [
                nginx_binary(),
                "-p",
                f"{self.directory}/",
                "-c",
                str(self.conf),
                "-e",
                str(self.error_log),
                "-g",
                "daemon off;",
            ]
            return supervisor.spawn(f"nginx '{self.twin}'", argv, self.error_log, cwd=self.directory, env=env)

        def wait(proc: Process) -> None:
            proc.wait_port(self.http_port, deadline)
            proc.wait_port(self.https_port, deadline)

        proc = supervisor.spawn_retrying(launch, wait)
        if self.knobs.unapplied_edit:
            # Edited on disk after the running nginx loaded it, and never tested (`nginx -t`).
            self.conf.write_text(self.render(app_port, edited=True))
        return proc


def _mta_sts_policy(mode: str | None) -> str | None:
    """The mail domain's MTA-STS policy file (RFC 8461), as an nginx string; None when it is not served."""
    if mode is None:
        return None
    lines = ["version: STSv1", f"mode: {mode}", f"mx: mail.{MAIL_DOMAIN}", "max_age: 604800"]
    return "\\n".join(lines) + "\\n"
