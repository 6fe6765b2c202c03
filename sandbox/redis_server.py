"""A private redis-server on 127.0.0.1, without persistence."""

from __future__ import annotations

import shutil
import socket
from pathlib import Path

from sandbox.proc import HOST, Process, Supervisor, free_port


def _pong(port: int) -> bool:
    with socket.create_connection((HOST, port), timeout=1) as sock:
        sock.sendall(b"PING\r\n")
        return sock.recv(64).startswith(b"+PONG")


class RedisServer:
    def __init__(self, directory: Path, log: Path) -> None:
        self.directory = directory
        self.log = log
        self.port = 0

    @property
    def url(self) -> str:
        return f"redis://{HOST}:{self.port}/0"

    def start(self, supervisor: Supervisor, deadline: float) -> Process:
        binary = shutil.which("redis-server") or "/usr/bin/redis-server"
        self.directory.mkdir(parents=True, exist_ok=True)

        def launch() -> Process:
            self.port = free_port()
            argv = [
                binary,
                "--port",
                str(self.port),
                "--bind",
                HOST,
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.directory),
                "--daemonize",
                "no",
                "--protected-mode",
                "yes",
                # A queue and session store must not evict keys; the limit gives checks a ratio.
                "--maxmemory",
                "64mb",
                "--maxmemory-policy",
                "noeviction",
            ]
            return supervisor.spawn("redis-server", argv, self.log, cwd=self.directory)

        return supervisor.spawn_retrying(
            launch,
            lambda proc: proc.wait_until(
                lambda: proc.owns_listener(self.port) and _pong(self.port), deadline, "answering PING"
            ),
        )
