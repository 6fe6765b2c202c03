"""Child processes of the sandbox: free ports, launching in a process group, readiness, stopping."""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

HOST = "127.0.0.1"
UNPRIVILEGED_USER = "nobody"
UNPRIVILEGED_GROUP = "nogroup"


class SandboxError(RuntimeError):
    """A part of the sandbox could not be started, or the sandbox state is unusable."""


_ports_lock = threading.Lock()
_ports_handed_out: set[int] = set()


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now and that this process has not handed out."""
    with _ports_lock:
        for _ in range(50):
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
                sock.bind((HOST, 0))
                port = int(sock.getsockname()[1])
            if port not in _ports_handed_out:
                _ports_handed_out.add(port)
                return port
    raise SandboxError("could not find a free TCP port on 127.0.0.1")


def is_root() -> bool:
    return os.geteuid() == 0


def unprivileged_ids() -> tuple[int, int]:
    entry = pwd.getpwnam(UNPRIVILEGED_USER)
    return entry.pw_uid, entry.pw_gid


def as_unprivileged(argv: Sequence[str]) -> list[str]:
    """Prefix argv so that it runs as nobody when we are root (PostgreSQL refuses to run as root)."""
    if not is_root():
        return list(argv)
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        raise SandboxError("running as root needs setpriv (util-linux) to drop privileges")
    return [
        setpriv,
        f"--reuid={UNPRIVILEGED_USER}",
        f"--regid={UNPRIVILEGED_GROUP}",
        "--clear-groups",
        "--",
        *argv,
    ]


def tail(path: Path, lines: int = 5) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return ""
    return " | ".join(line.strip() for line in text.strip().splitlines()[-lines:])


class Process:
    """One child process, started in its own process group, with stdout and stderr in a log file."""

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        log: Path,
        *,
        env: dict[str, str] | None = None,
        cwd: Path | None = None,
        stop_signal: signal.Signals = signal.SIGTERM,
    ) -> None:
        self.name = name
        self.argv = list(argv)
        self.log = log
        self.stop_signal = stop_signal
        log.parent.mkdir(parents=True, exist_ok=True)
        with open(log, "ab") as out:
            self._log_start = out.tell()
            self.popen = subprocess.Popen(
                self.argv,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=cwd,
                process_group=0,
                close_fds=True,
            )

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def fail(self, what: str) -> SandboxError:
        detail = tail(self.log)
        suffix = f": {detail}" if detail else ""
        return SandboxError(f"{self.name} {what} (log: {self.log}){suffix}")

    def wait_until(self, ready: Callable[[], bool], deadline: float, what: str) -> None:
        """Poll ready() until it is true; fail early if the process exits, or at the deadline."""
        delay = 0.05
        while True:
            if not self.alive():
                raise self.fail(f"exited with status {self.popen.returncode} before {what}")
            with contextlib.suppress(Exception):
                if ready():
                    return
            if time.monotonic() >= deadline:
                raise self.fail(f"did not become ready ({what}) in time")
            time.sleep(delay)
            delay = min(delay * 1.5, 0.3)

    def wait_port(self, port: int, deadline: float) -> None:
        self.wait_until(lambda: port_open(port), deadline, f"listening on {HOST}:{port}")

    def signal(self, sig: signal.Signals) -> None:
        if self.alive():
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(self.pid, sig)

    def lost_port_race(self) -> bool:
        """Whether this start failed because another process took our free port first."""
        try:
            with open(self.log, "rb") as log:
                log.seek(self._log_start)
                text = log.read().decode(errors="replace").lower()
        except OSError:
            return False
        return "address already in use" in text or "connection in use" in text

    def kill_group(self) -> None:
        # The leader may be gone while its workers linger: the group id still names them.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, signal.SIGKILL)


def port_open(port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((HOST, port), timeout=timeout):
            return True
    except OSError:
        return False


class Supervisor:
    """Every process the sandbox started, so that a failed or finished run can stop all of them."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._closed = False
        self.processes: list[Process] = []

    def spawn(self, name: str, argv: Sequence[str], log: Path, **kwargs: Any) -> Process:
        # Under the lock, so that a start racing with close() either is stopped or never happens.
        with self._lock:
            if self._closed:
                raise SandboxError(f"{name}: not started, the sandbox is stopping")
            proc = Process(name, argv, log, **kwargs)
            self.processes.append(proc)
        return proc

    def close(self) -> list[Process]:
        """Refuse new processes from now on; return the ones started so far."""
        with self._lock:
            self._closed = True
            return list(self.processes)

    def spawn_retrying(
        self, launch: Callable[[], Process], wait: Callable[[Process], None], attempts: int = 3
    ) -> Process:
        """launch() picks fresh ports each time; a start that lost a port race is retried."""
        for attempt in range(1, attempts + 1):
            proc = launch()
            try:
                wait(proc)
                return proc
            except SandboxError:
                if attempt < attempts and proc.lost_port_race():
                    proc.kill_group()
                    with contextlib.suppress(subprocess.TimeoutExpired):
                        proc.popen.wait(timeout=5)
                    continue
                raise
        raise AssertionError("unreachable")

    def pids(self) -> list[int]:
        with self._lock:
            return [proc.pid for proc in self.processes if proc.alive()]

    def stop(
        self,
        first: Sequence[Process] = (),
        between: Callable[[], None] | None = None,
        timeout: float = 10.0,
    ) -> None:
        """Stop `first` (the clients), call `between`, then stop everything else."""
        with self._lock:
            rest = [proc for proc in self.processes if proc not in first]
        stop_all(first, timeout)
        if between is not None:
            between()
        stop_all(rest, timeout)


def stop_all(processes: Sequence[Process], timeout: float = 10.0) -> None:
    """Ask each process to stop with its own signal, wait, then kill whatever is left of each group."""
    for proc in processes:
        proc.signal(proc.stop_signal)
    deadline = time.monotonic() + timeout
    for proc in processes:
        remaining = max(0.0, deadline - time.monotonic())
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.popen.wait(timeout=remaining)
    for proc in processes:
        proc.kill_group()
    for proc in processes:
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.popen.wait(timeout=5)

