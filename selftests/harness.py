"""The self-tests' harness: running the real suite in a subprocess and reading its reports."""

from __future__ import annotations

import json
import os
import re
import socket
import struct
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
LOCAL = ROOT / "environments" / "local.yml"
# The same sandbox with the Django API (sandbox.framework: django).
LOCAL_DJANGO = ROOT / "environments" / "local-django.yml"
# The server-rendered sites behind a form login (sandbox.framework: django-site, flask-site).
LOCAL_DJANGO_SITE = ROOT / "environments" / "local-django-site.yml"
LOCAL_FLASK_SITE = ROOT / "environments" / "local-flask-site.yml"
# The environment of each framework's good stack; a twin's environment extends its framework's.
BASES = {"flask": LOCAL, "django": LOCAL_DJANGO, "django-site": LOCAL_DJANGO_SITE, "flask-site": LOCAL_FLASK_SITE}
# A hang guard for one run of the suite, not a speed assertion.
RUN_TIMEOUT = 600


@dataclass
class Run:
    """One run of the conformance suite in a subprocess."""

    args: list[str]
    rc: int
    out: str
    report_dir: Path

    @property
    def document(self) -> dict[str, Any]:
        files = sorted(self.report_dir.glob("*.json"))
        assert files, f"no JSON report in {self.report_dir}; output:\n{self.out[-3000:]}"
        return json.loads(files[-1].read_text())

    def record(self, check_id: str) -> dict[str, Any]:
        records = [c for c in self.document["checks"] if c["id"] == check_id]
        assert records, f"{check_id} did not run; output:\n{self.out[-3000:]}"
        return records[0]

    def verdicts(self) -> dict[str, str]:
        return {c["nodeid"]: c["outcome"] for c in self.document["checks"]}


def run_suite(
    env_file: Path, report_dir: Path, *args: str, extra_env: dict[str, str] | None = None, timeout: int = RUN_TIMEOUT
) -> Run:
    report_dir.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "pytest", f"--env={env_file}", f"--report-dir={report_dir}", *args]
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("PREFLIGHT_", "PYTEST_"))}
    environ.update(extra_env or {})
    try:
        done = subprocess.run(
            command,
            cwd=ROOT,
            env=environ,
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"the suite hung for {timeout}s: {' '.join(command)}\n{exc.stdout or ''}")
    return Run(command, done.returncode, done.stdout + done.stderr, report_dir)


def write_env(path: Path, document: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


def twin_env(folder: Path, twin: Any, framework: str = "flask") -> Path:
    """An environment for one twin's instance: its framework's (local.yml, local-django.yml, ...) with the twin
    and its overrides."""
    instance = twin.instance(framework)
    document: dict[str, Any] = {
        "extends": str(BASES[framework]),
        "name": f"twin-{instance.replace('@', '-')}",
        "sandbox": {"twin": twin.name},
    }
    document.update(twin.env)
    return write_env(folder / f"{instance}.yml", document)


@dataclass
class Stack:
    sandbox: Any
    state: Path
    folder: Path

    def run(self, env_file: Path, name: str, *args: str, extra_env: dict[str, str] | None = None) -> Run:
        return run_suite(
            env_file, self.folder / "reports" / name, f"--sandbox-state={self.state}", *args, extra_env=extra_env
        )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Listener:
    """A TCP server on loopback that misbehaves: it never answers (hang), resets every connection (reset), or
    answers plain HTTP a byte at a time (trickle)."""

    def __init__(self, mode: str) -> None:
        self.mode = mode
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.sock.settimeout(0.5)
        self.port = self.sock.getsockname()[1]
        self.held: list[socket.socket] = []
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self) -> None:
        while not self.stopping.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            if self.mode == "reset":
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                conn.close()
            else:
                self.held.append(conn)
                if self.mode == "trickle":
                    threading.Thread(target=self.trickle, args=(conn,), daemon=True).start()

    def trickle(self, conn: socket.socket) -> None:
        """A plain-HTTP answer, one byte every half second: each read succeeds, the answer never ends."""
        answer = b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 100000\r\n\r\n" + b"x" * 100000
        for byte in answer:
            if self.stopping.wait(0.5):
                return
            try:
                conn.sendall(bytes([byte]))
            except OSError:
                return

    def close(self) -> None:
        self.stopping.set()
        self.thread.join(timeout=5)
        for conn in self.held:
            conn.close()
        self.sock.close()


def render_in_browser(path: Path) -> tuple[str, list[str], bytes]:
    """(the page's visible text, console errors, the page printed to PDF), in Debian's headless Chromium."""
    from playwright.sync_api import sync_playwright

    errors: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])
        try:
            page = browser.new_page()
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(path.as_uri(), timeout=20_000)
            text = page.inner_text("body")
            pdf = page.pdf(format="A4", print_background=True)
        finally:
            browser.close()
    return re.sub(r"[ \t]+", " ", text), errors, pdf
