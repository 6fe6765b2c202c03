"""Benchmark: the gate at a distance (issue 14). The suite against its sequential floor, and under added latency.

Starts the sandbox (the good stack, Flask; its start is timed apart and counted nowhere), then:

1. on loopback, without UI-01 and the bursts: the suite (`--intrusive`, `-p bench.capture`) against the
   sequential floor (bench/floor.py replaying the run's own distinct exchanges), median of --repeat runs each;
2. the full run (`--intrusive`, UI-01 included), direct and behind bench/latency.py at each --rtt, serial and
   `-n 2`: wall times, their ratios, the TCP connections the proxies saw, the serial run's peak RSS (the pytest
   process's VmHWM: the browser, a process of its own, is excluded) and the gate's counts, which must not change.

Prints ratios; asserts nothing: speed is measured here, not in the tests.

    python bench/distance.py [--rtt 0,50,100,200] [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.latency import proxy_state  # noqa: E402
from sandbox.stack import start  # noqa: E402

LOOPBACK_K = "not UI-01 and not AUTH-04 and not RATE-01"
RUN_TIMEOUT = 300  # a hang guard for one run, not a speed assertion
GOAL_100MS = 5.0
# Without the bursts, a run does not wait for nginx's limit_req buckets (api: 30r/s, burst 60) to drain, and the
# floor empties them faster than the suite: the next run from 127.0.0.1 would be answered 429. Not counted.
SETTLE = 3.0
TIMING = ("-p", "bench.timing")  # prints the checks' own time (setup + call + teardown), start-up excluded
DURATIONS = ("--durations=0", "--durations-min=0.05")


@dataclass
class Run:
    seconds: float
    rc: int | None  # None: cut by the hang guard
    out: str
    peak_mib: float  # VmHWM of the process itself, sampled until it exits

    @property
    def counts(self) -> str:
        if self.rc is None:
            return f"cut at the {RUN_TIMEOUT} s hang guard"
        found = re.findall(r"^=* ?(\d+ \w+.*?) in [\d.]+s", self.out, re.M)
        return found[-1] if found else self.out.strip().splitlines()[-1][:120] if self.out.strip() else "?"

    @property
    def failures(self) -> list[str]:
        """The gate summary's failure lines (`ID title: message [severity]`)."""
        return re.findall(r"^  ([A-Z]+-\d+ .*)$", self.out, re.M)

    def slowest(self, top: int) -> list[tuple[str, float]]:
        """The checks that took longest (setup + call + teardown, from pytest's --durations)."""
        spent: dict[str, float] = {}
        for seconds, nodeid in re.findall(r"^([\d.]+)s (?:setup|call|teardown)\s+(\S+)", self.out, re.M):
            spent[nodeid] = spent.get(nodeid, 0.0) + float(seconds)
        return sorted(spent.items(), key=lambda item: -item[1])[:top]


def high_water_mib(pid: int) -> float | None:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    found = re.search(r"^VmHWM:\s+(\d+) kB", status, re.M)
    return int(found[1]) / 1024 if found else None


def timed(command: list[str]) -> Run:
    """Run a command from the checkout, sampling its own peak RSS while it runs."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("PREFLIGHT_", "PYTEST_"))}
    with tempfile.TemporaryFile("w+") as out:
        began = time.perf_counter()
        process = subprocess.Popen(
            command, cwd=ROOT, env=environ, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, text=True
        )
        peak, rc = 0.0, None
        while time.perf_counter() - began < RUN_TIMEOUT:
            peak = max(peak, high_water_mib(process.pid) or 0.0)
            try:
                rc = process.wait(timeout=0.05)
                break
            except subprocess.TimeoutExpired:
                continue
        else:
            process.kill()
            process.wait()
        seconds = time.perf_counter() - began
        out.seek(0)
        return Run(seconds, rc, out.read(), peak)


def suite(state: Path, *args: str) -> Run:
    command = [sys.executable, "-m", "pytest", "--env=local", f"--sandbox-state={state}", "--no-reports", "-q"]
    return timed([*command, "--intrusive", "-p", "no:randomly", *args])


def loopback(state: Path, folder: Path, repeat: int) -> None:
    capture = folder / "capture.json"
    runs, floors = [], []
    for _ in range(repeat):
        time.sleep(SETTLE)
        runs.append(suite(state, "-k", LOOPBACK_K, "-p", "bench.capture", f"--bench-capture={capture}", *TIMING))
        time.sleep(SETTLE)
        floors.append(timed([sys.executable, "-m", "bench.floor", str(capture)]))
    time.sleep(SETTLE)
    wall, floor = statistics.median(r.seconds for r in runs), statistics.median(f.seconds for f in floors)
    inner = [float(m[1]) for f in floors if (m := re.search(r"BENCH floor total=([\d.]+)", f.out))]
    replay = statistics.median(inner) if inner else float("nan")
    complete = all("complete=yes" in f.out for f in floors)
    captured = re.search(r"BENCH capture: (.*) ->", runs[-1].out)
    print(f"1. loopback, -k {LOOPBACK_K!r}, --intrusive (median of {repeat})")
    print(f"   captured: {captured[1] if captured else '?'}; replayed them all: {'yes' if complete else 'NO'}")
    counts = " / ".join(sorted({run.counts for run in runs}))
    print(f"   suite (pytest process)            {wall:7.2f} s   {counts}")
    print(f"   floor (python -m bench.floor)     {floor:7.2f} s   of which the exchanges {replay:.2f} s")
    print(f"   suite / floor                     {wall / floor:7.2f}x  (goal <= 1.2x)")
    print(f"   suite / the floor's exchanges     {wall / replay:7.2f}x")
    checks = [float(m[1]) for r in runs if (m := re.search(r"^BENCH .*checks=([\d.]+)", r.out, re.M))]
    if checks:
        spent = statistics.median(checks)
        print(f"   the checks alone (pytest's durations, start-up and exit excluded) {spent:.2f} s")
        print(f"   checks / the floor's exchanges    {spent / replay:7.2f}x")
    print(f"   suite's peak RSS                  {runs[-1].peak_mib:7.1f} MiB")
    print(floors[-1].out.rstrip())


@dataclass
class Row:
    label: str
    rtt: float | None
    serial: Run
    parallel: Run
    connections: int  # what the proxies accepted during the serial run


def full_runs(state: Path, folder: Path, rtts: list[float]) -> list[Row]:
    rows = [Row("direct (no proxy)", None, suite(state, *DURATIONS), suite(state, "-n", "2"), 0)]
    for rtt in rtts:
        proxied = folder / f"state-{rtt:g}ms.json"
        injector = proxy_state(state, proxied, rtt)
        try:
            serial = suite(proxied, *DURATIONS)
            connections = injector.connections
            rows.append(Row(f"{rtt:g} ms RTT", rtt, serial, suite(proxied, "-n", "2"), connections))
        finally:
            injector.stop()
    return rows


def print_rows(rows: list[Row]) -> None:
    base = next((row for row in rows if row.rtt == 0), rows[0])
    print("\n2. the full run (--intrusive, UI-01 included), every sandbox port behind the latency injector")
    head = f"   {'':<18} {'serial':>8} {'-n 2':>8} {'ser/-n2':>8} {'ser/0ms':>8} {'RTTs*':>6} {'conns':>6}"
    print(f"{head} {'peak RSS':>9}  gate (serial | -n 2)")
    for row in rows:
        serial, parallel = row.serial.seconds, row.parallel.seconds
        trips = f"{(serial - base.serial.seconds) / (row.rtt / 1000):6.0f}" if row.rtt else f"{'-':>6}"
        conns = f"{row.connections:6d}" if row.rtt is not None else f"{'-':>6}"
        same = "" if row.serial.counts == row.parallel.counts else f" | {row.parallel.counts}"
        print(
            f"   {row.label:<18} {serial:7.2f}s {parallel:7.2f}s {serial / parallel:7.2f}x "
            f"{serial / base.serial.seconds:7.2f}x {trips} {conns} {row.serial.peak_mib:5.0f} MiB  "
            f"{row.serial.counts}{same}"
        )
    print("   * RTTs: (serial - serial at 0 ms) / RTT, the round trips a serial run waits for one after another")
    at_100 = next((row for row in rows if row.rtt == 100), None)
    if at_100 is not None:
        print(f"   goal: 100 ms RTT serial <= {GOAL_100MS:g} s: {at_100.serial.seconds / GOAL_100MS:.2f}x the goal")
    print("   goal: peak RSS of a serial run < 150 MiB (the browser excluded)")
    verdicts = {row.serial.counts for row in rows} | {row.parallel.counts for row in rows}
    alike = "yes" if len(verdicts) == 1 else "NO: " + " / ".join(sorted(verdicts))
    print(f"   gate counts alike in every run: {alike}")
    where_time_goes([row for row in rows if row.rtt] or rows)
    for row in rows:
        for kind, run in (("serial", row.serial), ("-n 2", row.parallel)):
            for line in run.failures:
                print(f"   failed in {row.label}, {kind}: {line[:300]}")


def where_time_goes(rows: list[Row], top: int = 8) -> None:
    """The slowest checks of the serial run at the largest RTT, in seconds and in RTTs."""
    row = max(rows, key=lambda row: row.rtt or 0)
    slowest = row.serial.slowest(top)
    total = sum(seconds for _, seconds in row.serial.slowest(10_000))
    print(f"   where the serial run at {row.label} goes: checks {total:.1f} s of {row.serial.seconds:.1f} s; slowest:")
    for nodeid, seconds in slowest:
        trips = f"{seconds / (row.rtt / 1000):5.0f} RTTs" if row.rtt else ""
        print(f"     {seconds:6.2f} s {trips}  {nodeid.split('::')[-1][:90]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rtt", default="0,50,100,200", help="RTTs in ms, comma-separated (default: 0,50,100,200)")
    parser.add_argument("--repeat", type=int, default=3, help="loopback runs of suite and floor (default: 3)")
    args = parser.parse_args()
    rtts = [float(value) for value in args.rtt.split(",") if value.strip()]
    head = subprocess.run(["git", "-C", str(ROOT), "log", "-1", "--format=%h %s"], capture_output=True, text=True)
    print(f"commit {head.stdout.strip()[:90] or '?'}; {os.cpu_count()} cores; load {os.getloadavg()[0]:.2f}")
    with tempfile.TemporaryDirectory(prefix="preflight-distance-") as name:
        folder = Path(name)
        began = time.perf_counter()
        sandbox = start(["good"], workdir=folder / "sandbox")
        print(f"sandbox start (good, Flask; not counted): {time.perf_counter() - began:.2f} s\n")
        try:
            state = folder / "state.json"
            sandbox.write_state(state)
            loopback(state, folder, args.repeat)
            print_rows(full_runs(state, folder, rtts))
        finally:
            sandbox.stop()


if __name__ == "__main__":
    main()
