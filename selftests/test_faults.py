"""Faults: a target that is down, hangs, resets, fails TLS, or a database that is down.

Each gives a failing check that names the reason, never a skip or a hang, and the report is still
written. The subprocess timeout is a hang guard, not a speed assertion.
"""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from selftests.harness import LOCAL, Listener, Stack, free_port, run_suite, write_env

FAULT_TIMEOUTS = {"connect": 2, "read": 2, "database": 2}


def dead_env(folder: Path, port: int, **timeouts: float) -> Path:
    base = f"https://localhost:{port}"
    return write_env(
        folder / f"dead-{port}.yml",
        {
            "name": "faults",
            "timeouts": {**FAULT_TIMEOUTS, **timeouts},
            "web": {"url": base, "spa_routes": ["/properties/42"]},
            "api": {
                "url": f"{base}/api",
                "request_timeout": 30,
                "cors": {"allowed_origins": ["https://app.preflight.test"], "credentials": True, "path": "/v1/x"},
            },
            "session": {"landing": "/", "cookies": {"session": ["session"]}},
            "webhooks": {"stripe": {"url": f"{base}/webhooks/stripe/"}},
            "monitoring": {"prometheus": f"http://127.0.0.1:{port}", "jobs": ["api"]},
            "database": {
                "dsn": "${FAULT_DSN}",
                "pool": {"processes": 2, "size": 5, "max_overflow": 5, "timeout": 10, "recycle": 1800},
            },
        },
    )


@pytest.fixture
def listener(request: pytest.FixtureRequest) -> Iterator[Listener]:
    server = Listener(request.param)
    yield server
    server.close()


def configured_outcomes(run) -> dict[str, str]:
    return {c["id"]: c["outcome"] for c in run.document["checks"]}


def test_target_and_database_down(tmp_path: Path) -> None:
    port = free_port()
    run = run_suite(
        dead_env(tmp_path, port),
        tmp_path / "reports",
        "-k",
        "SPA-01 or CORS-01 or COOK-01 or HOOK-01 or DB-01 or POOL-01",
        extra_env={"FAULT_DSN": f"postgresql://app:pw@127.0.0.1:{free_port()}/app"},
    )
    outcomes = configured_outcomes(run)
    expected = {**dict.fromkeys(["SPA-01", "CORS-01", "COOK-01", "HOOK-01", "DB-01"], "failed"), "POOL-01": "blocked"}
    assert outcomes == expected, run.out[-3000:]
    messages = {c["id"]: c["message"] for c in run.document["checks"]}
    assert "connection refused" in messages["SPA-01"]
    assert "database unreachable" in messages["DB-01"] and "Connection refused" in messages["DB-01"]
    # The unreachable database is reported once, at DB-01; POOL-01 is blocked by it.
    pool = next(c for c in run.document["checks"] if c["id"] == "POOL-01")
    assert pool["blocked_by"] == "DB-01" and "database unreachable" in pool["message"]
    assert run.rc == 1
    assert sorted(p.suffix for p in (tmp_path / "reports").iterdir()) == [".html", ".json", ".xml"]


@pytest.mark.parametrize(
    ("listener", "checks", "reason"),
    [
        ("hang", "SPA-01 or HOOK-01", r"timed out|read timeout"),
        ("reset", "SPA-01 or HOOK-01", r"reset|closed the connection"),
        # TLS-03 reads the presented chain through its own handshake (pyOpenSSL), not through requests.
        ("hang", "TLS-03", r"no TLS answer within the timeout"),
        ("reset", "TLS-03", r"reset|closed during the TLS handshake"),
        # Prometheus that accepts and never answers, or resets: MON fails with the cause, within the timeout.
        ("hang", "MON-01 or MON-03", r"timed out|read timeout"),
        ("reset", "MON-02 or MON-05", r"reset|closed the connection"),
    ],
    indirect=["listener"],
)
def test_misbehaving_server(tmp_path: Path, listener: Listener, checks: str, reason: str) -> None:
    import re

    run = run_suite(
        dead_env(tmp_path, listener.port),
        tmp_path / "reports",
        "-k",
        checks,
        extra_env={"FAULT_DSN": "postgresql://app:pw@127.0.0.1:1/app"},
    )
    assert run.document["checks"], run.out[-3000:]
    for record in run.document["checks"]:
        assert record["outcome"] == "failed", record
        assert re.search(reason, record["message"]), record["message"]


def test_tls_failure_is_a_failure(stack: Stack, tmp_path: Path) -> None:
    """The good stack, but without its CA bundle: verification is on by default, so it must fail."""
    env = write_env(
        tmp_path / "no-ca.yml",
        {"extends": str(LOCAL), "name": "no-ca", "tls": {"ca_bundle": None}},
    )
    run = stack.run(env, "no-ca", "-k", "SPA-01 or HOOK-01")
    for record in run.document["checks"]:
        assert record["outcome"] == "failed", record
        assert "certificate verify failed" in record["message"], record["message"]


def test_a_trickling_answer_is_cut_at_the_deadline(tmp_path: Path) -> None:
    """A server that sends a byte every half second never trips the read timeout; the whole-response
    deadline (timeouts.response) ends the exchange, and the origin then answers every later exchange at
    once with that cause."""
    import re

    trickle = Listener("trickle")
    try:
        env = write_env(
            tmp_path / "trickle.yml",
            {
                "name": "trickle",
                "timeouts": {"connect": 2, "read": 2, "response": 2},
                "web": {"url": f"http://localhost:{trickle.port}", "spa_routes": ["/properties/42"]},
            },
        )
        run = run_suite(env, tmp_path / "reports", "-k", "SPA-01 or SPA-03 or HDR-01")
    finally:
        trickle.close()
    records = run.document["checks"]
    assert records and all(r["outcome"] == "failed" for r in records), run.out[-3000:]
    for record in records:
        assert re.search(r"still arriving after 2s|no complete answer|stopped answering", record["message"]), record


class HtmlEverywhere(http.server.BaseHTTPRequestHandler):
    """A web server where Prometheus should be: every path answers 200 with an HTML page."""

    def log_message(self, *args: Any) -> None:
        pass

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        body = b"<!doctype html><title>Welcome to nginx!</title>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def test_prometheus_answering_html(tmp_path: Path) -> None:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), HtmlEverywhere)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        env = dead_env(tmp_path, server.server_address[1])
        run = run_suite(
            env, tmp_path / "reports", "-k", "MON", extra_env={"FAULT_DSN": "postgresql://a:b@127.0.0.1:1/a"}
        )
    finally:
        server.shutdown()
        server.server_close()
    assert len(run.document["checks"]) == 5, run.out[-3000:]
    for record in run.document["checks"]:
        assert record["outcome"] == "failed", record
        assert "text/html: not Prometheus's JSON API" in record["message"], record["message"]


def test_dns_server_that_times_out(tmp_path: Path) -> None:
    """A resolver that takes every query and never answers: MAIL-05 and MAIL-06 fail naming it, within the timeout."""
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent:
        silent.bind(("127.0.0.1", 0))
        port = silent.getsockname()[1]
        env = write_env(
            tmp_path / "dns.yml",
            {
                "name": "faults-dns",
                "timeouts": FAULT_TIMEOUTS,
                "mail": {"domain": "preflight.test", "dkim_selector": "s1", "resolver": f"127.0.0.1:{port}"},
            },
        )
        run = run_suite(env, tmp_path / "reports", "-k", "MAIL-05 or MAIL-06")
    records = run.document["checks"]
    assert [r["id"] for r in records] == ["MAIL-05", "MAIL-06"], run.out[-3000:]
    for record in records:
        assert record["outcome"] == "failed", record
        assert f"DNS server 127.0.0.1:{port} did not answer TXT" in record["message"], record["message"]
        assert "within 2 s" in record["message"], record["message"]


SMTP_PASSWORD = {"PW": "not-a-real-password"}


def smtp_env(folder: Path, port: int) -> Path:
    smtp = {"host": "127.0.0.1", "port": port, "implicit_tls_port": None, "username": "app", "password": "${PW}"}
    document = {"name": "faults-smtp", "allow_intrusive": True, "timeouts": FAULT_TIMEOUTS, "mail": {"smtp": smtp}}
    return write_env(folder / "smtp.yml", document)


@pytest.mark.parametrize(
    ("listener", "reason"),
    [("hang", r"no answer within 2 s"), ("reset", r"(the connection was reset|the server closed the connection)")],
    indirect=["listener"],
)
def test_smtp_server_that_never_speaks(tmp_path: Path, listener: Listener, reason: str) -> None:
    """An SMTP port that accepts and never sends its banner, or resets: MAIL-01 fails with the cause, within the
    timeout, and the other SMTP checks are blocked by it."""
    import re

    run = run_suite(smtp_env(tmp_path, listener.port), tmp_path / "reports", "--intrusive", extra_env=SMTP_PASSWORD)
    records = run.document["checks"]
    assert {r["id"] for r in records} >= {"MAIL-01", "MAIL-02", "MAIL-03", "MAIL-04"}, run.out[-3000:]
    for record in (r for r in records if r["id"] in ("MAIL-01", "MAIL-02", "MAIL-03", "MAIL-04")):
        # Reported once, at MAIL-01; the checks that need an SMTP conversation are blocked by it.
        expected = ("failed", None) if record["id"] == "MAIL-01" else ("blocked", "MAIL-01")
        assert (record["outcome"], record.get("blocked_by")) == expected, record
        assert re.search(rf"SMTP 127\.0\.0\.1:{listener.port}: {reason}", record["message"]), record["message"]


def test_smtp_server_that_speaks_garbage(tmp_path: Path) -> None:
    """MAIL_PORT pointing at another service (here, what an SSH server says first): a clear failure, no traceback."""
    import socket

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    port = server.getsockname()[1]

    def serve() -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            with conn:
                conn.sendall(b"SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n\xff\xfe garbage\r\n")
                conn.recv(1024)

    threading.Thread(target=serve, daemon=True).start()
    try:
        run = run_suite(smtp_env(tmp_path, port), tmp_path / "reports", "-k", "MAIL-01", extra_env=SMTP_PASSWORD)
    finally:
        server.close()
    [record] = run.document["checks"]
    assert record["outcome"] == "failed", record
    assert f"SMTP 127.0.0.1:{port}: answered something that is not SMTP" in record["message"], record["message"]
    assert "OpenSSH_9.2p1" in record["message"], record["message"]
    assert "where a 220 banner was expected" in record["message"], record["message"]
