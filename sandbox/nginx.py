"""nginx for one twin: render the config from the template and the twin's knobs, then run it."""

from __future__ import annotations

import glob
import grp
import os
import pwd
import shutil
from pathlib import Path
from typing import Any

import jinja2

from sandbox.proc import Process, SandboxError, Supervisor, free_port, is_root
from sandbox.spa import CONFIG_JSON, config_json
from sandbox.tls import Certificates

TEMPLATES = Path(__file__).parent / "templates"

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
    "connect-src 'self' https://*.preflight.test:*; object-src 'none'; base-uri 'self'; form-action 'self'; "
    "frame-ancestors 'none'"
)
# Debian's libfaketime (package faketime), for the twin whose clock is off.
LIBFAKETIME_GLOB = "/usr/lib/*/faketime/libfaketime.so.1"

DEFAULT_KNOBS: dict[str, Any] = {
    "build": "prod",  # "dev": the development build, source map included; "broken": throws at start-up
    "mime_types": True,  # include /etc/nginx/mime.types
    "gzip": True,
    "spa_fallback": True,  # location / ends its try_files with /index.html (else =404)
    "assets_fallback": False,  # /static/ falls back to /index.html (else =404)
    "shell_cache_control": "no-cache",
    "shell_expires": None,
    "assets_expires": "30d",
    "assets_cache_control": "public, immutable",  # with `expires 30d`: max-age=2592000
    "api_locations": ["/api/"],
    "webhooks": True,  # a /webhooks/ location proxied to the app
    "cors": None,  # None (the app's Flask-CORS), "wildcard-credentials" or "preflight-only"
    "http_redirect": True,  # the plain-HTTP server redirects (else it serves the site)
    # The API base URL nginx writes into the shell's runtime config (sub_filter; nginx variables
    # allowed): the SPA on https://app.preflight.test calls the API cross-origin, as in VeriHome.
    # None leaves the built value, the relative /api.
    "spa_api_url": "https://api.preflight.test:$server_port/api",
    # limit_req (H: DDoS Attacks): zones defined at http level, generous enough for the suite's own traffic.
    "api_rate": "30r/s",
    "api_burst": 60,
    "limit_api": True,  # limit_req zone=api on the API locations
    "login_rate": "2r/s",
    "login_burst": 10,
    "login_locations": ["= /api/auth/login", "= /api/auth/token"],
    "limit_login": True,  # limit_req zone=login on the login locations
    "static_headers_include": True,  # /static/ repeats the security headers next to its own add_header
    "files_location": None,  # e.g. "/files/": a location with `alias <root>/files/`
    "unapplied_edit": False,  # after start, nginx.conf on disk gets an edit that was never tested or loaded
    # TLS and redirects (TLS checks)
    "certificate": "good",  # or a variant of sandbox.tls.VARIANTS: "expired", "expiring", "other-name"
    "ssl_protocols": "TLSv1.2 TLSv1.3",
    "ssl_ciphers": None,  # e.g. "DEFAULT:@SECLEVEL=0", which OpenSSL 3 needs to negotiate TLS 1.0/1.1
    "force_https_unless_forwarded": False,  # location / redirects unless X-Forwarded-Proto is https
    "forwarded_proto": True,  # proxy_set_header X-Forwarded-Proto $scheme
    # Security headers (security-headers.conf; None leaves a header out)
    "server_tokens": False,
    "hsts": "max-age=31536000; includeSubDomains",
    "nosniff": True,
    "frame_options": "DENY",
    "referrer_policy": "strict-origin-when-cross-origin",
    "csp": CSP,
    # Exposure (APP checks)
    "deny_dotfiles": True,  # dotfiles (.env, .git) answer 403
    "leftovers": False,  # a web root with a deploy's leftovers: .env, .git/config, index.html.bak, dump.sql
    "stub_status": False,  # a public location /nginx_status with stub_status
    "clock_offset": None,  # run nginx under libfaketime with this FAKETIME offset (e.g. "-5m"): its Date is off
}

_env = jinja2.Environment(
    loader=jinja2.FileSystemLoader(TEMPLATES),
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
    autoescape=False,
)


def knobs_for(overrides: dict[str, Any]) -> dict[str, Any]:
    unknown = set(overrides) - set(DEFAULT_KNOBS)
    if unknown:
        raise KeyError(f"unknown nginx knobs: {sorted(unknown)}")
    return {**DEFAULT_KNOBS, **overrides}


def nginx_binary() -> str:
    return shutil.which("nginx") or "/usr/sbin/nginx"


class Nginx:
    """Everything lives under `directory`: conf, pid, temp paths, logs."""

    def __init__(
        self,
        twin: str,
        directory: Path,
        *,
        knobs: dict[str, Any],
        web_root: Path,
        certificates: Certificates,
        cors_origins: list[str],
    ) -> None:
        self.twin = twin
        self.directory = directory
        self.knobs = knobs_for(knobs)
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
        chain, key = self.certificates.pair(self.knobs["certificate"])
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
            spa_config_deployed=config_json(self.knobs["spa_api_url"]) if self.knobs["spa_api_url"] else None,
            edited=edited,
        )

    def start(self, supervisor: Supervisor, app_port: int, deadline: float) -> Process:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        (self.directory / "tmp").mkdir(exist_ok=True)
        headers = _env.get_template("security-headers.conf").render(knobs=self.knobs)
        (self.directory / "security-headers.conf").write_text(headers)
        env = None
        if self.knobs["clock_offset"]:
            found = sorted(glob.glob(LIBFAKETIME_GLOB))
            if not found:
                raise SandboxError(
                    f"twin '{self.twin}' runs nginx with a skewed clock and needs {LIBFAKETIME_GLOB} "
                    "(apt-get install faketime)"
                )
            env = {
                **os.environ,
                "LD_PRELOAD": found[0],
                "FAKETIME": str(self.knobs["clock_offset"]),
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
        if self.knobs["unapplied_edit"]:
            # Edited on disk after the running nginx loaded it, and never tested (`nginx -t`).
            self.conf.write_text(self.render(app_port, edited=True))
        return proc
