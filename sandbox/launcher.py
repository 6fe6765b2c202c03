"""The app launcher: a warm Python process that forks each twin's gunicorn, and a guardian.

Fork server. Importing Flask, SQLAlchemy, psycopg and stripe costs about 1.4 s of CPU per process,
and a full sandbox runs some thirty gunicorn masters. With --preload the launcher imports them
once; each twin's gunicorn is then a fork of it that runs gunicorn's own command line
(`gunicorn <args>`) in its own process group, with its own environment, working directory and
log, as if it had been exec'd.

Guardian. The sandbox tells the launcher about every process group it starts and every
directory to clean up. The launcher reads its requests from a pipe whose only writer is the
sandbox process: when that process dies without stopping the sandbox (SIGKILL, a crashed test
runner), the launcher sees EOF, stops those groups and removes those directories. A normal
stop() terminates the launcher with SIGTERM, which skips that.

Protocol on stdin, one JSON object per line:
  {"watch": pgid, "signal": N}                  stop this group with signal N if orphaned
  {"remove": path}                              remove this directory if orphaned
  {"fork": [args], "env", "cwd", "log", "signal", "program"}  answered on stdout with {"pid"} or {"error"}

A fork runs gunicorn's command line, or django-admin's ("program": "django-admin", for the
Django API's migrations).
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import select
import shutil
import signal
import sys
import threading
import time
import traceback
from pathlib import Path
from typing import Any, NoReturn

from sandbox.proc import ChildProcess, ForkedProcess, Process, SandboxError, Supervisor

PR_SET_NAME = 15
ORPHAN_GRACE = 5.0


# --- client side (in the sandbox process) ---------------------------------------------------


class Launcher:
    def __init__(self, supervisor: Supervisor, log: Path, env: dict[str, str]) -> None:
        self._supervisor = supervisor
        self._log = log
        self._env = env
        # Writes are short; a fork also waits for its answer, which must not hold up watch().
        self._write_lock = threading.Lock()
        self._fork_lock = threading.Lock()
        self._proc: ChildProcess | None = None
        self._buffer = b""

    def start(self, *, preload: bool) -> None:
        """Spawn the launcher; it imports in the background while other parts start."""
        argv = [sys.executable, "-m", "sandbox.launcher", *(["--preload"] if preload else [])]
        self._proc = self._supervisor.spawn("app launcher", argv, self._log, env=self._env, pipes=True)

    def watch(self, proc: Process) -> None:
        if proc is not self._proc:
            self._send({"watch": proc.pid, "signal": int(proc.stop_signal)})

    def remove_if_orphaned(self, path: Path) -> None:
        self._send({"remove": str(path)})

    def fork(
        self,
        name: str,
        args: list[str],
        *,
        env: dict[str, str],
        cwd: Path,
        log: Path,
        deadline: float,
        stop_signal: signal.Signals,
        program: str = "gunicorn",
    ) -> ForkedProcess:
        log.parent.mkdir(parents=True, exist_ok=True)
        with open(log, "ab") as out:
            log_start = out.tell()
        request = {
            "fork": args,
            "env": env,
            "cwd": str(cwd),
            "log": str(log),
            "signal": int(stop_signal),
            "program": program,
        }
        with self._fork_lock:
            self._send(request)
            reply = self._read(deadline)
        if "pid" not in reply:
            raise SandboxError(f"{name}: the app launcher could not fork: {reply.get('error')} (log: {self._log})")
        return self._supervisor.track(ForkedProcess(name, int(reply["pid"]), log, log_start, stop_signal))

    def _send(self, message: dict[str, Any]) -> None:
        proc = self._require()
        assert proc.popen.stdin is not None
        with self._write_lock:
            try:
                proc.popen.stdin.write(json.dumps(message).encode() + b"\n")
                proc.popen.stdin.flush()
            except OSError as exc:
                raise proc.fail(f"does not take requests ({exc})") from None

    def _read(self, deadline: float) -> dict[str, Any]:
        proc = self._require()
        assert proc.popen.stdout is not None
        fd = proc.popen.stdout.fileno()
        while b"\n" not in self._buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise proc.fail("did not answer in time")
            readable, _, _ = select.select([fd], [], [], min(remaining, 0.5))
            if readable:
                chunk = os.read(fd, 65536)
                if not chunk:
                    raise proc.fail("exited")
                self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        result: dict[str, Any] = json.loads(line)
        return result

    def _require(self) -> ChildProcess:
        if self._proc is None:
            raise SandboxError("the app launcher was not started")
        return self._proc


# --- server side (python -m sandbox.launcher) -----------------------------------------------


def _reap(signum: int, frame: object) -> None:
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def _child(request: dict[str, Any]) -> NoReturn:
    code = 1
    try:
        os.setpgid(0, 0)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        null = os.open(os.devnull, os.O_RDONLY)
        log = os.open(request["log"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        os.dup2(null, 0)
        os.dup2(log, 1)
        os.dup2(log, 2)
        os.close(null)
        os.close(log)
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        program = request.get("program", "gunicorn")
        # So that ps, pgrep and top call it gunicorn (django-admin), as if it had been exec'd.
        ctypes.CDLL(None).prctl(PR_SET_NAME, program.encode()[:15], 0, 0, 0)
        sys.argv = [program, *request["fork"]]
        if program == "django-admin":
            from django.core.management import execute_from_command_line

            execute_from_command_line(sys.argv)
        else:
            from gunicorn.app.wsgiapp import run

            run()
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except BaseException:
        traceback.print_exc()
    finally:
        for stream in (sys.stdout, sys.stderr):
            stream.flush()
        os._exit(code)


def _start_time(pid: int) -> str | None:
    """The kernel's start time of a process: with the pid, an identity that survives pid reuse."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rpartition(")")[2].split()[19]
    except (OSError, IndexError):
        return None


def _exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _stop_orphans(watched: dict[int, tuple[int, str | None]], paths: list[str]) -> None:
    # Only the processes we were told about, not whatever reused their pid since.
    groups = {pid: sig for pid, (sig, started) in watched.items() if _start_time(pid) == started}
    for pid, sig in groups.items():
        with contextlib.suppress(OSError):
            os.kill(pid, sig)
    deadline = time.monotonic() + ORPHAN_GRACE
    while time.monotonic() < deadline and any(_exists(pid) for pid in groups):
        _reap(0, None)
        time.sleep(0.1)
    for pid in groups:
        with contextlib.suppress(OSError):
            os.killpg(pid, signal.SIGKILL)
    for path in paths:
        shutil.rmtree(path, ignore_errors=True)


def main() -> None:
    if "--preload" in sys.argv[1:]:
        import gunicorn.app.wsgiapp  # noqa: F401

        import sandbox.app  # noqa: F401  (the heavy imports every fork shares)
        import sandbox.flask_site  # noqa: F401
        from sandbox import django_api, django_site

        django_api.preload()
        django_site.preload()

    signal.signal(signal.SIGCHLD, _reap)
    watched: dict[int, tuple[int, str | None]] = {}
    paths: list[str] = []
    for line in sys.stdin.buffer:
        try:
            request = json.loads(line)
        except ValueError:
            continue
        if "watch" in request:
            pid = int(request["watch"])
            watched[pid] = (int(request["signal"]), _start_time(pid))
            continue
        if "remove" in request:
            paths.append(str(request["remove"]))
            continue
        try:
            pid = os.fork()
        except OSError as exc:
            os.write(1, json.dumps({"error": str(exc)}).encode() + b"\n")
            continue
        if pid == 0:
            _child(request)
        # Also here, so that the group exists before anyone is told the pid.
        with contextlib.suppress(OSError):
            os.setpgid(pid, pid)
        watched[pid] = (int(request["signal"]), _start_time(pid))
        os.write(1, json.dumps({"pid": pid}).encode() + b"\n")
    # EOF: the sandbox process is gone and did not stop us.
    _stop_orphans(watched, paths)


if __name__ == "__main__":
    main()
