"""A private redis-server on 127.0.0.1: its settings, and the data a twin seeds into it at start."""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import ssl
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis
from pydantic import ValidationError

from sandbox.parts import RedisSettings, RedisSetup
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

TLS_HOST = "localhost"  # a name on the sandbox's server certificate

# The good stack's queue and session store (sandbox.parts.RedisSettings), and its cache: evicting
# least-recently-used keys is right for a cache; no persistence.
QUEUE_SETTINGS = RedisSettings().conf()
CACHE_SETTINGS = RedisSettings.model_validate(
    {"maxmemory": "32mb", "maxmemory-policy": "allkeys-lru", "appendonly": "no", "save": ""}
).conf()
# What the good stack holds: a small email backlog, live sessions (with a TTL), cached pages.
QUEUE_SEED = RedisSetup(lists={"email_queue": 3, "email_retry_queue": 1}, sessions=5)
CACHE_SEED = RedisSetup(cache=20)


def _quote(value: str) -> str:
    # `save ""` turns snapshots off; other values go as written (`save 3600 1`, `rename-command CONFIG ""`).
    return value or '""'


@dataclass(frozen=True)
class RedisTls:
    """Serve TLS only (no plain port), with the sandbox's server certificate for localhost."""

    cert: Path
    key: Path
    ca: Path

    def wrap(self, sock: socket.socket) -> socket.socket:
        return ssl.create_default_context(cafile=str(self.ca)).wrap_socket(sock, server_hostname=TLS_HOST)


def _connect(port: int, tls: RedisTls | None) -> socket.socket:
    sock = socket.create_connection((HOST, port), timeout=5)
    return tls.wrap(sock) if tls else sock


def _pong(port: int, tls: RedisTls | None) -> bool:
    # Without AUTH, a server that asks for a password answers NOAUTH: it is up and it is ours.
    with _connect(port, tls) as sock:
        sock.sendall(b"PING\r\n")
        return sock.recv(64).startswith((b"+PONG", b"-NOAUTH"))


class RedisServer:
    def __init__(
        self,
        directory: Path,
        log: Path,
        settings: dict[str, str] | None = None,
        setup: RedisSetup | dict[str, Any] | None = None,
        name: str = "redis-server",
        home: Path | None = None,
    ) -> None:
        # home holds redis.conf and the data; an unprivileged redis needs it on a path it can traverse.
        self.directory = home or directory
        self.log = log
        self.settings = {**QUEUE_SETTINGS, **(settings or {})}
        try:
            self.setup = RedisSetup.model_validate(setup or {})
        except ValidationError as exc:
            raise SandboxError(f"{name}: bad redis setup {setup!r}: {exc.errors()[0]['msg']}") from None
        self.name = name
        self.port = 0
        self.held: list[socket.socket] = []
        self.tls: RedisTls | None = None
        # Like a production Redis, it asks for a password (the suite sends AUTH, and redacts it).
        self.password = secrets.token_urlsafe(18)

    @property
    def url(self) -> str:
        if self.tls:
            return f"rediss://:{self.password}@{TLS_HOST}:{self.port}/0"
        return f"redis://:{self.password}@{HOST}:{self.port}/0"

    def start(self, supervisor: Supervisor, deadline: float) -> Process:
        binary = shutil.which("redis-server") or "/usr/bin/redis-server"
        self.directory.mkdir(parents=True, exist_ok=True)
        data = self.directory / "data"
        data.mkdir(exist_ok=True)
        unwritable = self.setup.unwritable_dir
        if unwritable:
            # As root, the directory stays root's 0755 and redis runs as nobody; otherwise 0555.
            data.chmod(0o755 if is_root() else 0o555)

        def launch() -> Process:
            self.port = free_port()
            conf = self._write_conf(data, unwritable)
            argv = [binary, str(conf)]
            if unwritable:
                argv = as_unprivileged(argv)
            return supervisor.spawn(self.name, argv, self.log, cwd=self.directory)

        proc = supervisor.spawn_retrying(
            launch,
            lambda proc: proc.wait_until(
                lambda: proc.owns_listener(self.port) and _pong(self.port, self.tls), deadline, "answering PING"
            ),
        )
        if self.setup.declared:
            try:
                self._seed(deadline)
            except (redis.RedisError, OSError) as exc:
                raise proc.fail(f"setup {sorted(self.setup.model_fields_set)} failed: {exc}") from None
        return proc

    def _write_conf(self, data: Path, unprivileged: bool) -> Path:
        """redis.conf, 0600 (it holds the password); owned by the user redis runs as."""
        settings = {
            "port": str(self.port),
            "bind": HOST,
            "dir": str(data),
            "daemonize": "no",
            "protected-mode": "yes",
            "requirepass": self.password,
            **self.settings,
        }
        if self.tls:
            settings.update(
                {
                    "port": "0",
                    "tls-port": str(self.port),
                    "tls-cert-file": str(self.tls.cert),
                    "tls-key-file": str(self.tls.key),
                    "tls-ca-cert-file": str(self.tls.ca),
                    "tls-auth-clients": "no",
                }
            )
        conf = self.directory / "redis.conf"
        text = "".join(f"{key} {_quote(value)}\n" for key, value in settings.items())
        fd = os.open(conf, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
        if unprivileged and is_root():
            os.chown(conf, *unprivileged_ids())
        return conf

    def _seed(self, deadline: float) -> None:
        tls = {"ssl_ca_certs": str(self.tls.ca)} if self.tls else {}
        client = redis.Redis.from_url(self.url, socket_timeout=5, decode_responses=True, **tls)
        try:
            pipe = client.pipeline(transaction=False)
            for name, count in self.setup.lists.items():
                for n in range(count):
                    pipe.rpush(name, f'{{"to": "user{n}@example.com", "template": "password_reset", "n": {n}}}')
            for _ in range(self.setup.sessions):
                pipe.set(f"session:{secrets.token_hex(16)}", '{"user_id": 42}', ex=86400)
            for n in range(self.setup.cache):
                pipe.set(f"cache:page:/properties/{n}", "<html>...</html>", ex=3600)
            pipe.execute()
            if self.setup.fill_memory_percent:
                self._fill(client, self.setup.fill_memory_percent, deadline)
            if self.setup.bgsave:
                self._bgsave(client, deadline)
            for _ in range(self.setup.hold_clients):
                self._hold()
        finally:
            client.close()

    def _hold(self) -> None:
        sock = _connect(self.port, self.tls)
        self.held.append(sock)
        sock.sendall(f"AUTH {self.password}\r\n".encode())
        if not sock.recv(64).startswith(b"+OK"):
            raise SandboxError(f"{self.name}: a held client could not log in")

    def release_clients(self) -> None:
        for sock in self.held:
            sock.close()
        self.held.clear()

    def _fill(self, client: redis.Redis, percent: int, deadline: float) -> None:
        limit = int(client.info("memory")["maxmemory"])
        if not limit:
            raise SandboxError(f"{self.name}: fill_memory_percent needs maxmemory")
        value, n = "x" * 16384, 0
        while int(client.info("memory")["used_memory"]) * 100 < limit * percent:
            if time.monotonic() > deadline:
                raise SandboxError(f"{self.name}: filling memory to {percent}% took too long")
            pipe = client.pipeline(transaction=False)
            for _ in range(4):
                pipe.set(f"fill:{n}", value)
                n += 1
            pipe.execute()

    def _bgsave(self, client: redis.Redis, deadline: float) -> None:
        client.bgsave()
        while time.monotonic() < deadline:
            if not int(client.info("persistence")["rdb_bgsave_in_progress"]):
                return
            time.sleep(0.05)
        raise SandboxError(f"{self.name}: BGSAVE did not finish in time")
