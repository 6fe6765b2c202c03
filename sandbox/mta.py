"""The application's mail server: Postfix from Debian offering submission on a free loopback port with STARTTLS
(587's role) and implicit TLS (465's), authenticating through Dovecot's SASL against one mailbox user, with the
sandbox CA's certificate (V: Email Issues, RFC 8314).

It never delivers: there is no cleanup, queue manager or delivery agent in its master.cf, and its default
transport is an error, so even a client that tried to send could not queue a message. Postfix's master runs as
root (it hands each service to the `postfix` user); config, queue, data and Dovecot's sockets live in a private
folder, and its log (maillog_file = /dev/stdout) is the process's log.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
from pathlib import Path

from sandbox.parts import MAIL_DOMAIN, MtaKnobs
from sandbox.proc import HOST, Process, SandboxError, Supervisor, free_port, is_root
from sandbox.tls import Certificates

MAIL_USER = f"app@{MAIL_DOMAIN}"
POSTFIX = "/usr/lib/postfix/sbin/master"
# Postfix's queue folders (postfix-files): owned by the mail owner, private.
QUEUE = ("incoming", "active", "deferred", "defer", "bounce", "corrupt", "flush", "hold", "saved", "trace", "private")
# Where a message would sit had one been accepted: empty after every run (selftests/test_safety.py).
MESSAGE_QUEUES = ("maildrop", "incoming", "active", "deferred", "hold")


def mta_unavailable() -> str | None:
    """Why the MTA cannot run here, or None."""
    if not is_root():
        return "Postfix's master runs as root"
    missing = [p for p in (POSTFIX, shutil.which("dovecot") or "/usr/sbin/dovecot") if not Path(p).exists()]
    return f"missing {', '.join(missing)} (make installs postfix and dovecot-core)" if missing else None


class Mta:
    """One Postfix and the Dovecot it authenticates through, in `home` (a short path: sockets live there)."""

    def __init__(self, name: str, home: Path, log_dir: Path, knobs: MtaKnobs, password: str) -> None:
        self.name = name
        self.home = home
        self.log_dir = log_dir
        self.knobs = knobs
        self.password = password
        self.submission_port = 0
        self.smtps_port = 0

    @property
    def log(self) -> Path:
        return self.log_dir / "postfix.log"

    def queued(self) -> list[Path]:
        """Message files in the queue (none, ever)."""
        queue = self.home / "queue"
        return [path for folder in MESSAGE_QUEUES for path in (queue / folder).rglob("*") if path.is_file()]

    def start(self, supervisor: Supervisor, certs: Certificates, deadline: float) -> list[Process]:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self._layout()
        dovecot = supervisor.spawn(
            f"dovecot {self.name}",
            [shutil.which("dovecot") or "/usr/sbin/dovecot", "-F", "-c", str(self._dovecot_conf())],
            self.log_dir / "dovecot.log",
        )
        socket = self.home / "queue" / "private" / "auth"
        dovecot.wait_until(socket.exists, deadline, "its auth socket")

        def launch() -> Process:
            self.submission_port, self.smtps_port = free_port(), free_port()
            config = self._postfix_conf(certs)
            # -d: master stays in the supervisor's process group (it would call setsid(), which a group leader may
            # not) and keeps stdout, where maillog_file = /dev/stdout sends its log.
            return supervisor.spawn(f"postfix {self.name}", [POSTFIX, "-c", str(config), "-d"], self.log)

        def ready(proc: Process) -> None:
            for port in (self.submission_port, self.smtps_port):
                if port != self._closed_port:
                    proc.wait_port(port, deadline)

        postfix = supervisor.spawn_retrying(launch, ready)
        return [postfix, dovecot]

    @property
    def _closed_port(self) -> int:
        """The submission port a twin left closed (no service in master.cf), else 0."""
        return self.submission_port if self.knobs.submission_closed else 0

    def _layout(self) -> None:
        for folder in ("etc", "data", "dovecot/run", "dovecot/state", *(f"queue/{q}" for q in QUEUE)):
            (self.home / folder).mkdir(parents=True, exist_ok=True)
        for public, mode in (("public", 0o710), ("maildrop", 0o730), ("pid", 0o755)):
            (self.home / "queue" / public).mkdir(exist_ok=True)
            (self.home / "queue" / public).chmod(mode)
        owner = pwd.getpwnam("postfix")
        postdrop = _gid("postdrop")
        for folder in [*(f"queue/{q}" for q in QUEUE), "data"]:
            os.chown(self.home / folder, owner.pw_uid, owner.pw_gid)
            (self.home / folder).chmod(0o700)
        for folder in ("public", "maildrop"):
            os.chown(self.home / "queue" / folder, owner.pw_uid, postdrop)
        hashed = subprocess.run(
            ["doveadm", "pw", "-s", "SHA512-CRYPT", "-p", self.password],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        users = self.home / "dovecot" / "users"
        users.write_text(f"{MAIL_USER}:{hashed}\n")
        # Read by the auth process, which runs as the dovecot user.
        os.chown(users, 0, _gid("dovecot"))
        users.chmod(0o640)

    def _dovecot_conf(self) -> Path:
        home = self.home
        lines = [
            f"base_dir = {home}/dovecot/run",
            f"state_dir = {home}/dovecot/state",
            f"instance_name = preflight-{self.name}",
            "protocols =",
            "log_path = /dev/stderr",
            "ssl = no",
            "auth_mechanisms = plain login",
            "auth_failure_delay = 0",
            "auth_verbose = yes",
            f"passdb {{\n  driver = passwd-file\n  args = scheme=SHA512-CRYPT {home}/dovecot/users\n}}",
            "userdb {\n  driver = static\n  args = uid=nobody gid=nogroup home=/nonexistent\n}",
            f"service auth {{\n  unix_listener {home}/queue/private/auth {{\n"
            "    mode = 0660\n    user = postfix\n    group = postfix\n  }\n}",
        ]
        path = home / "dovecot" / "dovecot.conf"
        path.write_text("\n".join(lines) + "\n")
        return path

    def _postfix_conf(self, certs: Certificates) -> Path:
        chain, key = certs.pair(self.knobs.certificate)
        tls = "may" if self.knobs.starttls else "none"
        main = {
            "compatibility_level": "3.6",
            "queue_directory": f"{self.home}/queue",
            "data_directory": f"{self.home}/data",
            "mail_owner": "postfix",
            "setgid_group": "postdrop",
            "myhostname": f"mail.{MAIL_DOMAIN}",
            "mydomain": MAIL_DOMAIN,
            "mydestination": "",
            "local_recipient_maps": "",
            "alias_maps": "",
            "inet_interfaces": HOST,
            "inet_protocols": "ipv4",
            "maillog_file": "/dev/stdout",
            "smtpd_banner": "$myhostname ESMTP",
            "smtpd_tls_cert_file": str(chain),
            "smtpd_tls_key_file": str(key),
            "smtpd_tls_security_level": tls,
            "smtpd_tls_auth_only": "yes" if self.knobs.auth_only_after_tls else "no",
            "smtpd_sasl_type": "dovecot",
            "smtpd_sasl_path": "private/auth",
            "smtpd_sasl_auth_enable": "yes",
            "smtpd_relay_restrictions": "permit_sasl_authenticated, reject",
            "default_transport": "error:the sandbox never delivers",
            "relayhost": "",
            "biff": "no",
        }
        services = [
            f"{HOST}:{self.smtps_port} inet n - n - - smtpd\n  -o syslog_name=postfix/submissions"
            "\n  -o smtpd_tls_wrappermode=yes\n  -o smtpd_tls_security_level=encrypt",
            "postlog unix-dgram n - n - 1 postlogd",
            "anvil unix - - n - 1 anvil",
            "tlsmgr unix - - n 1000? 1 tlsmgr",
            "proxymap unix - - n - - proxymap",
        ]
        if not self.knobs.submission_closed:
            services.insert(
                0, f"{HOST}:{self.submission_port} inet n - n - - smtpd\n  -o syslog_name=postfix/submission"
            )
        etc = self.home / "etc"
        (etc / "main.cf").write_text("".join(f"{key} = {value}\n" for key, value in main.items()))
        (etc / "master.cf").write_text("\n".join(services) + "\n")
        return etc


def _gid(group: str) -> int:
    import grp

    try:
        return grp.getgrnam(group).gr_gid
    except KeyError:
        raise SandboxError(f"group {group} is missing (the postfix package creates it)") from None
