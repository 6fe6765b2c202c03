"""The app launcher: one warm Python process that forks a gunicorn master per twin.

Importing Flask, SQLAlchemy, psycopg and stripe costs about 1.4 s of CPU per process, and a full
sandbox runs some thirty gunicorn masters. The launcher imports them once; each twin's gunicorn
is a fork of it that runs gunicorn's own command line (`gunicorn <args>`), in its own process
group, with its own environment, working directory and log, as if it had been exec'd.

Protocol on stdin/stdout, one JSON object per line: the launcher says {"ready": true} once the
imports are done, then answers each {"args", "env", "cwd", "log"} request with {"pid": N} or
{"error": "..."}. It exits at EOF on stdin, so it never outlives the sandbox that started it.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import select
import signal
import sys
import threading
import time
import traceback
from pathlib import Path
from typing import Any, NoReturn

from sandbox.proc import ChildProcess, ForkedProcess, SandboxError, Supervisor

PR_SET_NAME = 15


# --- client side (in the sandbox process) ---------------------------------------------------


class Launcher:
    def __init__(self, supervisor: Supervisor, log: Path, env: dict[str, str]) -> None:
        self._supervisor = supervisor
        self._log = log
        self._env = env
        self._lock = threading.Lock()
        self._proc: ChildProcess | None = None
        self._buffer = b""
        self._ready = False

    def start(self) -> None:
        """Spawn the launcher; it imports in the background while other parts start."""
        argv = [sys.executable, "-m", "sandbox.forkserver"]
        self._proc = self._supervisor.spawn("app launcher", argv, self._log, env=self._env,
                                            pipes=True)

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
    ) -> ForkedProcess:
        log.parent.mkdir(parents=True, exist_ok=True)
        with open(log, "ab") as out:
            log_start = out.tell()
        request = {"args": args, "env": env, "cwd": str(cwd), "log": str(log)}
        with self._lock:
            if not self._ready:
                self._read(deadline)
                self._ready = True
            self._write(request)
            reply = self._read(deadline)
        if "pid" not in reply:
            raise SandboxError(f"{name}: the app launcher could not fork: {reply.get('error')} "
                               f"(log: {self._log})")
        proc = ForkedProcess(name, int(reply["pid"]), log, log_start, stop_signal)
        return self._supervisor.track(proc)

    def _write(self, message: dict[str, Any]) -> None:
        proc = self._require()
        assert proc.popen.stdin is not None
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


# --- server side (python -m sandbox.forkserver) ---------------------------------------------


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
        # So that ps, pgrep and top call it gunicorn, as if it had been exec'd.
        ctypes.CDLL(None).prctl(PR_SET_NAME, b"gunicorn", 0, 0, 0)
        sys.argv = ["gunicorn", *request["args"]]
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


def main() -> None:
    import gunicorn.app.wsgiapp  # noqa: F401

    import sandbox.app  # noqa: F401  (the heavy imports every fork shares)

    signal.signal(signal.SIGCHLD, _reap)

    def reply(message: dict[str, Any]) -> None:
        os.write(1, json.dumps(message).encode() + b"\n")

    reply({"ready": True})
    for line in sys.stdin.buffer:
        try:
            request = json.loads(line)
            pid = os.fork()
        except (OSError, ValueError) as exc:
            reply({"error": str(exc)})
            continue
        if pid == 0:
            _child(request)
        # Also here, so that the group exists before anyone is told the pid.
        with contextlib.suppress(OSError):
            os.setpgid(pid, pid)
        reply({"pid": pid})


if __name__ == "__main__":
    main()
