"""Benchmark: what the probe cache saves, and what pytest-xdist gives, against the sandbox.

Prints ratios (exchanges asked for / requests sent; serial / parallel wall time). It asserts
nothing: speed is measured here, not in the tests.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sandbox.stack import start  # noqa: E402


def run(state: Path, *args: str) -> tuple[float, str]:
    command = [sys.executable, "-m", "pytest", "--env=local", f"--sandbox-state={state}", "--no-reports", "-q"]
    command += ["--intrusive", "-p", "bench.counter", *args]
    began = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600, stdin=subprocess.DEVNULL)
    return time.perf_counter() - began, done.stdout


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        began = time.perf_counter()
        sandbox = start(["good"], workdir=Path(folder) / "sandbox")
        startup = time.perf_counter() - began
        try:
            state = Path(folder) / "state.json"
            sandbox.write_state(state)
            serial, out = run(state)
            parallel, _ = run(state, "-n", "2")
        finally:
            sandbox.stop()
    counts = re.search(r"BENCH asked=(\d+) sent=(\d+) .*\bqueries=(\d+) .*\bredis=(\d+)", out)
    asked, sent, queries, commands = (int(n) for n in counts.groups()) if counts else (0, 0, 0, 0)
    print(f"sandbox start (good only):       {startup:6.2f} s")
    print(f"suite, serial:                   {serial:6.2f} s")
    print(f"suite, -n 2:                     {parallel:6.2f} s")
    print(f"serial / parallel:               {serial / parallel:6.2f}x")
    print(f"HTTP exchanges asked for / sent: {asked} / {sent} = {asked / max(sent, 1):.2f}x")
    print(f"SQL queries (one read-only session): {queries}")
    print(f"Redis commands (read-only):          {commands}")


if __name__ == "__main__":
    main()
