"""The suite starts the sandbox itself for `--env=local` and leaves no process behind, also on Ctrl-C."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from selftests import unprivileged
from selftests.harness import LOCAL, LOCAL_DJANGO, ROOT, Listener, run_suite, write_env

# django-admin: the Django API's release step (migrate), forked like gunicorn. The mail server: Postfix's master
# and its services, Dovecot, and the mail domain's dnsmasq.
NAMES = {"nginx", "postgres", "redis-server", "gunicorn", "django-admin"}
NAMES |= {"master", "smtpd", "postlogd", "anvil", "tlsmgr", "proxymap", "dovecot", "dnsmasq"}


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


@pytest.fixture
def nobody_checkout() -> Iterator[tuple[list[str], Path, dict[str, str]]]:
    """Nobody's copy of the checkout and of the venv's packages: (command prefix, working folder, environment).

    The clone and the venv may sit in folders nobody cannot enter (under /root, in a 0700 `mktemp -d` folder).
    """
    user = unprivileged.nobody()
    if isinstance(user, str):
        pytest.skip(user)
    try:
        python = unprivileged.python_for(user)
    except LookupError as exc:
        pytest.skip(str(exc))
    temp = unprivileged.traversable_temp()
    if isinstance(temp, str):
        pytest.skip(temp)
    with tempfile.TemporaryDirectory(prefix="preflight-nobody-", dir=temp) as name:
        folder = Path(name)  # nobody's alone: private files of the checkout may be copied into it
        os.chown(folder, user.pw_uid, user.pw_gid)
        checkout = folder / "checkout"
        copied = [unprivileged.readable_copy(ROOT, checkout, unprivileged.checkout_files(ROOT))]
        sites = []
        for number, site in enumerate(unprivileged.site_packages()):
            sites.append(folder / f"site-packages-{number}")
            copied.append(unprivileged.readable_copy(site, sites[-1]))
        home = folder / "home"
        home.mkdir()
        os.chown(home, user.pw_uid, user.pw_gid)
        print(f"nobody's copy in {folder}: checkout {copied[0]}; packages {', '.join(map(str, copied[1:]))}")
        environ = {
            "HOME": str(home),
            "PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
            "PYTHONPATH": os.pathsep.join(map(str, [checkout, *sites])),
            "PYTHONDONTWRITEBYTECODE": "1",
        }
        yield unprivileged.as_user(user, [python]), checkout, environ


@pytest.mark.skipif(os.geteuid() != 0, reason="already unprivileged: every other self-test covers it")
def test_runs_as_an_unprivileged_user(nobody_checkout: tuple[list[str], Path, dict[str, str]]) -> None:
    """As root the sandbox runs PostgreSQL as nobody; here the whole suite runs as nobody too."""
    python, checkout, environ = nobody_checkout
    reports = Path(environ["HOME"], "reports")
    done = subprocess.run(
        [*python, "-m", "pytest", "-p", "no:cacheprovider", "--env=local", "--intrusive"]
        # Postfix's master runs only as root: an unprivileged sandbox has no mail server to talk to.
        + ["-k", "not (MAIL-01 or MAIL-02 or MAIL-03 or MAIL-04)"]
        + [f"--report-dir={reports}", "-q"],
        cwd=checkout,
        env=environ,
        capture_output=True,
        text=True,
        timeout=300,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "GATE PASSED" in done.stdout, done.stdout[-3000:]
