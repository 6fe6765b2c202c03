"""Benchmark: how long an unreachable web/api target holds a run, in read timeouts.

Three targets on loopback, each the only web and api origin of an environment with connect and read
timeouts of 2 s: a closed port (refused at once: the run's own cost), a blackhole (accepts, never answers)
and a trickle (completes a real TLS handshake with a private CA, then sends its answer a byte a second, so
that no single read ever waits a read timeout; it closes after --trickle-for seconds). The HTTP checks on
that target run (-k, default "SPA or HDR or TLS-02 or APP"). Prints each run's wall time, its ratio to the
read timeout, and the ratio of what it took beyond the refused run; the goal of issue 14 is at most 1.5 read
timeouts per unreachable target. It asserts nothing: speed is measured here, not in the tests.

    python bench/faults.py [--read 2] [-k EXPR] [--trickle-for 8]
"""

from __future__ import annotations

import argparse
import re
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
CHECKS = "SPA or HDR or TLS-02 or APP"
RUN_TIMEOUT = 150  # a hang guard for one run, not a speed assertion
TRICKLE = b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nX-Trickle: " + b"." * 4096


class Fault:
    """A TCP server on 127.0.0.1 that never answers ("blackhole") or answers a byte a second ("trickle")."""

    def __init__(self, mode: str, context: ssl.SSLContext | None = None, trickle_for: float = 8.0) -> None:
        self.mode, self.context, self.trickle_for = mode, context, trickle_for
        self.sock = socket.create_server(("127.0.0.1", 0), backlog=128)
        self.sock.settimeout(0.5)
        self.port = self.sock.getsockname()[1]
        self.held: list[socket.socket] = []
        self.connections = 0
        self.stopping = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self.stopping.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.connections += 1
            self.held.append(conn)
            if self.mode == "trickle":
                threading.Thread(target=self._trickle, args=(conn,), daemon=True).start()

    def _trickle(self, conn: socket.socket) -> None:
        began = time.monotonic()
        try:
            conn.settimeout(self.trickle_for)
            stream = self.context.wrap_socket(conn, server_side=True) if self.context is not None else conn
            stream.recv(65536)  # the request (its first read is enough to answer it)
            for byte in TRICKLE:
                if self.stopping.is_set() or time.monotonic() - began > self.trickle_for:
                    break
                stream.sendall(bytes([byte]))
                self.stopping.wait(1)
        except (OSError, ssl.SSLError):
            pass
        finally:
            conn.close()

    def close(self) -> None:
        self.stopping.set()
        for conn in self.held:
            conn.close()
        self.sock.close()


def tls_files(folder: Path) -> tuple[ssl.SSLContext, Path]:
    """A server context with a certificate for localhost from a private CA, and the CA's bundle."""
    import trustme

    ca = trustme.CA()
    bundle = folder / "fault-ca.pem"
    ca.cert_pem.write_to_path(str(bundle))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("localhost", "127.0.0.1").configure_cert(context)
    return context, bundle


def write_env(folder: Path, name: str, port: int, bundle: Path, read: float) -> Path:
    base = f"https://localhost:{port}"
    document = {
        "name": f"fault-{name}",
        "timeouts": {"connect": read, "read": read, "database": read},
        "tls": {"ca_bundle": str(bundle)},
        "web": {"url": base, "spa_routes": ["/properties/42"], "health": "/healthz"},
        "api": {"url": f"{base}/api", "health": "/health", "request_timeout": 30},
    }
    path = folder / f"{name}.yml"
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


def run(env: Path, checks: str) -> tuple[float, str]:
    """Wall time and the gate's count line; a run cut by the hang guard reports the guard."""
    command = [sys.executable, "-m", "pytest", f"--env={env}", "--no-reports", "-q", "-p", "no:randomly", "-k", checks]
    began = time.perf_counter()
    try:
        done = subprocess.run(
            command, cwd=ROOT, capture_output=True, text=True, timeout=RUN_TIMEOUT, stdin=subprocess.DEVNULL
        )
    except subprocess.TimeoutExpired:
        return time.perf_counter() - began, f"cut at the {RUN_TIMEOUT} s hang guard"
    counts = re.findall(r"^=* ?(\d+ \w+.*) in [\d.]+s", done.stdout, re.M)
    return time.perf_counter() - began, counts[-1] if counts else done.stdout[-300:]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--read", type=float, default=2.0, help="the connect and read timeouts, s (default: 2)")
    parser.add_argument("-k", dest="checks", default=CHECKS, help=f"the checks (default: {CHECKS!r})")
    parser.add_argument("--trickle-for", type=float, default=8.0, help="the trickle closes after this, s (default: 8)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="preflight-faults-") as name:
        folder = Path(name)
        context, bundle = tls_files(folder)
        closed = socket.create_server(("127.0.0.1", 0))  # bound, never listened on: connections are refused
        refused_port = closed.getsockname()[1]
        closed.close()
        results = {}
        for mode in ("refused", "blackhole", "trickle"):
            fault = None if mode == "refused" else Fault(mode, context, args.trickle_for)
            port = refused_port if fault is None else fault.port
            results[mode] = (*run(write_env(folder, mode, port, bundle, args.read), args.checks), fault)
            if fault is not None:
                fault.close()
    baseline = results["refused"][0]
    print(
        f"faults: -k {args.checks!r}, connect and read timeouts {args.read:g} s, trickle closes after "
        f"{args.trickle_for:g} s"
    )
    print(f"{'target':<10} {'wall':>8} {'/ read':>8} {'beyond refused / read':>22} {'conns':>6}  outcome")
    for mode, (seconds, counts, fault) in results.items():
        beyond = (seconds - baseline) / args.read
        conns = str(fault.connections) if fault is not None else "-"
        print(f"{mode:<10} {seconds:7.2f}s {seconds / args.read:7.1f}x {beyond:21.1f}x {conns:>6}  {counts}")
    print("goal (issue 14): <= 1.5x the read timeout per unreachable target (here one: web and api share an origin)")


if __name__ == "__main__":
    main()
