"""The suite starts the sandbox itself for `--env=local` and leaves no process behind, also on Ctrl-C."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from selftests.harness import LOCAL, ROOT, Listener, run_suite, write_env

NAMES = {"nginx", "postgres", "redis-server", "gunicorn"}


def stack_processes() -> set[int]:
    """Processes of the kinds the sandbox starts (the session's own stack included)."""
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            comm = (entry / "comm").read_text().strip()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if comm in NAMES or b"sandbox.launcher" in cmdline:
            found.add(int(entry.name))
    return found


def settle(before: set[int], seconds: float = 10) -> set[int]:
    """Processes that appeared during the run and are still alive, after a short grace period."""
    deadline = time.monotonic() + seconds
    while True:
        left = stack_processes() - before
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.2)


def test_a_run_starts_and_stops_its_own_sandbox(tmp_path: Path) -> None:
    before = stack_processes()
    run = run_suite(LOCAL, tmp_path / "reports", "-k", "SPA-01 or POOL-01")
    assert run.rc == 0, run.out[-3000:]
    assert "preflight sandbox: started for this run" in run.out
    assert not settle(before), "sandbox processes survived the run"


def test_ctrl_c_leaves_nothing_behind(tmp_path: Path) -> None:
    """SIGINT while a check waits on a server that never answers: the sandbox still goes away."""
    hang = Listener("hang")
    env = write_env(
        tmp_path / "hang.yml",
        {
            "extends": str(LOCAL),
            "name": "hang",
            "timeouts": {"connect": 30, "read": 30},
            # plain HTTP: CPython only notices SIGINT in a stuck TLS handshake when it times out
            "web": {"url": f"http://localhost:{hang.port}"},
        },
    )
    before = stack_processes()
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("PREFLIGHT_", "PYTEST_"))}
    log = tmp_path / "output.txt"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "pytest", f"--env={env}", f"--report-dir={tmp_path}", "-k", "SPA-01"],
            cwd=ROOT,
            env=environ,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        try:
            deadline = time.monotonic() + 60
            while not hang.held and time.monotonic() < deadline:  # the check now waits for an answer
                time.sleep(0.1)
            assert hang.held, "the check never connected to the hanging server"
            proc.send_signal(signal.SIGINT)
            proc.wait(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
            hang.close()
    output = log.read_text()
    assert "KeyboardInterrupt" in output, output[-2000:]
    assert not settle(before), "sandbox processes survived Ctrl-C"
