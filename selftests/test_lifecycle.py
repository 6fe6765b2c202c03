"""The suite starts the sandbox itself for `--env=local` and leaves no process behind, also on Ctrl-C."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from selftests.harness import LOCAL, LOCAL_DJANGO, ROOT, Listener, run_suite, write_env

# django-admin: the Django API's release step (migrate), forked like gunicorn.
NAMES = {"nginx", "postgres", "redis-server", "gunicorn", "django-admin"}


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


@pytest.mark.parametrize(
    ("env", "workers"), [(LOCAL, []), (LOCAL, ["-n", "2"]), (LOCAL_DJANGO, [])], ids=["serial", "xdist", "django"]
)
def test_a_run_starts_and_stops_its_own_sandbox(tmp_path: Path, env: Path, workers: list[str]) -> None:
    """One sandbox per run, also under xdist, where the workers use the controller's; the Django API too."""
    before = stack_processes()
    run = run_suite(env, tmp_path / "reports", "-k", "SPA or POOL", *workers)
    assert run.rc == 0, run.out[-3000:]
    assert run.out.count("preflight sandbox: started for this run") == 1
    ids = {check["id"] for check in run.document["checks"] if check["outcome"] == "passed"}
    assert {f"SPA-0{n}" for n in range(1, 8)} | {f"POOL-0{n}" for n in range(1, 5)} <= ids
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


def _python_for_nobody() -> str | None:
    """A Python 3.11 an unprivileged user can execute (the venv's may live under /root)."""
    for candidate in ("/usr/bin/python3.11", "/usr/bin/python3"):
        if Path(candidate).exists():
            return candidate
    return None


@pytest.mark.skipif(os.geteuid() != 0, reason="already unprivileged: every other self-test covers it")
def test_runs_as_an_unprivileged_user() -> None:
    """As root the sandbox runs PostgreSQL as nobody; here the whole suite runs as nobody too."""
    python = _python_for_nobody()
    if python is None or shutil.which("setpriv") is None:
        pytest.skip("needs /usr/bin/python3.11 and setpriv to run as nobody")
    site = next(Path(sys.prefix, "lib").glob("python3*/site-packages"))
    with tempfile.TemporaryDirectory(prefix="preflight-nobody-") as folder:  # pytest's tmp dirs are 0700
        Path(folder).chmod(0o777)
        done = _run_as_nobody(python, site, Path(folder))
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "GATE PASSED" in done.stdout, done.stdout[-3000:]


def _run_as_nobody(python: str, site: Path, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", "--", python, "-m", "pytest"]
        + ["-p", "no:cacheprovider", "--env=local", "--intrusive", f"--report-dir={tmp_path}", "-q"],
        cwd=ROOT,
        env={
            "HOME": str(tmp_path),
            "PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
            "PYTHONPATH": f"{ROOT}:{site}",
            "PYTHONDONTWRITEBYTECODE": "1",
        },
        capture_output=True,
        text=True,
        timeout=300,
        stdin=subprocess.DEVNULL,
    )
