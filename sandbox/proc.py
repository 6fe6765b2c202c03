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
from typing import Any, TypeVar

HOST = "127.0.0.1"
UNPRIVILEGED_USER = "nobody"
UNPRIVILEGED_GROUP = "nogroup"


P = TypeVar("P", bound="Process")


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


_TROUBLE = ("error", "fatal", "emerg", "exception", "failed", "in use", "denied")


def tail(path: Path, lines: int = 2) -> str:
    """The last lines of a log that say what went wrong (else its last lines), on one line."""
    try:
        text = path.read_text(errors="replace").strip().splitlines()
    except OSError:
        return ""
    trouble = [line for line in text if any(word in line.lower() for word in _TROUBLE)]
    return " | ".join(line.strip() for line in (trouble or text)[-lines:])


class Process:
    """A process in its own process group, with stdout and stderr appended to a log file."""

    def __init__(self, name: str, pid: int, log: Path, log_start: int, stop_signal: signal.Signals) -> None:
        self.name = name
        self.pid = pid
        self.log = log
        self.stop_signal = stop_signal
        self._log_start = log_start

    def returncode(self) -> int | None:
        """None while it runs; its exit status (or -1 when unknown) once it has exited."""
        raise NotImplementedError

    def wait(self, timeout: float) -> bool:
        """Wait until it has exited, at most `timeout` seconds; True if it has."""
        deadline = time.monotonic() + timeout
        while self.alive():
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.05)
        return True

    def alive(self) -> bool:
        return self.returncode() is None

    def fail(self, what: str) -> SandboxError:
        detail = tail(self.log)
        suffix = f": {detail}" if detail else ""
        return SandboxError(f"{self.name} {what} (log: {self.log}){suffix}")

    def wait_until(self, ready: Callable[[], bool], deadline: float, what: str) -> None:
        """Poll ready() until it is true; fail early if the process exits, or at the deadline."""
        delay = 0.05
        while True:
            code = self.returncode()
            if code is not None:
                status = f" with status {code}" if code != -1 else ""
                raise self.fail(f"exited{status} before {what}")
            with contextlib.suppress(Exception):
                if ready():
                    return
            if self.lost_port_race():
                # It may keep retrying the bind for seconds; we retry with another port instead.
                raise self.fail(f"lost its port to another process before {what}")
            if time.monotonic() >= deadline:
                raise self.fail(f"did not become ready ({what}) in time")
            time.sleep(delay)
            delay = min(delay * 1.5, 0.3)

    def wait_port(self, port: int, deadline: float) -> None:
        self.wait_until(lambda: port_open(port) and self.owns_listener(port), deadline, f"listening on {HOST}:{port}")

    def owns_listener(self, port: int) -> bool:
        """Whether the socket listening on `port` is ours: with several sandboxes starting at
        once, a port we picked may have been taken by another one, whose answer is not ours."""
        try:
            sockets = {f"socket:[{inode}]" for inode in _listening_inodes(port)}
            fds = os.listdir(f"/proc/{self.pid}/fd")
        except OSError:
            return True  # no /proc to ask: trust the connection
        for fd in fds:
            with contextlib.suppress(OSError):
                if os.readlink(f"/proc/{self.pid}/fd/{fd}") in sockets:
                    return True
        return False

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


class ChildProcess(Process):
    """A child of this process (subprocess.Popen). With pipes=True, stdin and stdout are pipes
    and only stderr goes to the log."""

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        log: Path,
        *,
        env: dict[str, str] | None = None,
        cwd: Path | None = None,
        stop_signal: signal.Signals = signal.SIGTERM,
        pipes: bool = False,
    ) -> None:
        log.parent.mkdir(parents=True, exist_ok=True)
        with open(log, "ab") as out:
            log_start = out.tell()
            self.popen = subprocess.Popen(
                list(argv),
                stdin=subprocess.PIPE if pipes else subprocess.DEVNULL,
                stdout=subprocess.PIPE if pipes else out,
                stderr=out if pipes else subprocess.STDOUT,
                env=env,
                cwd=cwd,
                process_group=0,
                close_fds=True,
            )
        super().__init__(name, self.popen.pid, log, log_start, stop_signal)

    def returncode(self) -> int | None:
        return self.popen.poll()

    def wait(self, timeout: float) -> bool:
        try:
            self.popen.wait(timeout=max(0.0, timeout))
        except subprocess.TimeoutExpired:
            return False
        return True


class ForkedProcess(Process):
    """A process forked by the app launcher (sandbox.launcher), which also reaps it."""

    def returncode(self) -> int | None:
        try:
            with open(f"/proc/{self.pid}/stat") as stat:
                state = stat.read().rpartition(")")[2].split()[0]
        except FileNotFoundError:
            return -1
        except OSError:  # no /proc: fall back to a signal probe
            try:
                os.kill(self.pid, 0)
            except ProcessLookupError:
                return -1
            return None
        return -1 if state in ("Z", "X") else None


def _listening_inodes(port: int) -> set[str]:
    inodes = set()
    with open("/proc/net/tcp") as table:
        next(table)
        for line in table:
            fields = line.split()
            local, state, inode = fields[1], fields[3], fields[9]
            if state == "0A" and int(local.rpartition(":")[2], 16) == port:
                inodes.add(inode)
    return inodes


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
        # Told about every process after it started (the launcher's orphan guard); best effort.
        self.guardian: Callable[[Process], None] | None = None

    def spawn(self, name: str, argv: Sequence[str], log: Path, **kwargs: Any) -> ChildProcess:
        # Under the lock, so that a start racing with close() either is stopped or never happens.
        with self._lock:
            if self._closed:
                raise SandboxError(f"{name}: not started, the sandbox is stopping")
            proc = ChildProcess(name, argv, log, **kwargs)
            self.processes.append(proc)
        self._guard(proc)
        return proc

    def track(self, proc: P) -> P:
        """Track a process started elsewhere; kill it if the sandbox is already stopping."""
        with self._lock:
            closed = self._closed
            if not closed:
                self.processes.append(proc)
        if closed:
            proc.kill_group()
            raise SandboxError(f"{proc.name}: not started, the sandbox is stopping")
        self._guard(proc)
        return proc

    def _guard(self, proc: Process) -> None:
        if self.guardian is not None:
            with contextlib.suppress(Exception):
                self.guardian(proc)

    def close(self) -> list[Process]:
        """Refuse new processes from now on; return the ones started so far."""
        with self._lock:
            self._closed = True
            return list(self.processes)

    def spawn_retrying(self, launch: Callable[[], P], wait: Callable[[P], None], attempts: int = 3) -> P:
        """launch() picks fresh ports each time; a start that lost a port race is retried."""
        for attempt in range(1, attempts + 1):
            proc = launch()
            try:
                wait(proc)
                return proc
            except SandboxError:
                if attempt < attempts and proc.lost_port_race():
                    proc.kill_group()
                    proc.wait(5)
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
        proc.wait(deadline - time.monotonic())
    for proc in processes:
        proc.kill_group()
    for proc in processes:
        proc.wait(5)
