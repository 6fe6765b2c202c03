"""Benchmark: what a run of the suite pays before its first check.

Prints medians (seconds) and ratios against the floor (`python -c pass`) and against pytest's own start-up (an
empty suite): preflight's collection for --env=prod, a real run attached to a sandbox through a state file (a fake
one whose ports are closed, so the check fails at once) split into start-up, the check and what follows it, and the
slowest imports of the collection. It asserts nothing: speed is measured here, not in the tests.

    python bench/startup.py [--runs 5] [--check SPA-01]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROD = ROOT / "environments" / "prod.yml"
TWIN = "good"  # environments/local.yml's sandbox.twin
PYTEST = [sys.executable, "-m", "pytest"]
REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-[^}]*)?\}")
LOOPBACK_PORT = re.compile(r"(?:127\.0\.0\.1|localhost):\d+")


def environ(extra: dict[str, str] | None = None) -> dict[str, str]:
    """This process's environment without preflight's and pytest's own variables, plus extra."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("PREFLIGHT_", "PYTEST_"))}
    return clean | (extra or {})


@dataclass
class Run:
    began: float  # wall-clock time
    seconds: float
    rc: int
    out: str
    err: str


def timed(command: list[str], cwd: Path, env: dict[str, str]) -> Run:
    began, clock = time.time(), time.perf_counter()
    done = subprocess.run(
        command, cwd=cwd, env=env, capture_output=True, text=True, timeout=600, stdin=subprocess.DEVNULL
    )
    return Run(began, time.perf_counter() - clock, done.returncode, done.stdout, done.stderr)


def median_seconds(runs: int, command: list[str], cwd: Path, env: dict[str, str], rc: int = 0) -> float:
    """The median wall time of runs runs, after one warm-up run, which must end with exit status rc."""
    warm_up = timed(command, cwd, env)
    if warm_up.rc != rc:
        raise SystemExit(f"{' '.join(command)}: exit status {warm_up.rc}\n{warm_up.out[-2000:]}{warm_up.err[-2000:]}")
    return statistics.median(timed(command, cwd, env).seconds for _ in range(runs))


def dummy_value(name: str) -> str:
    """A stand-in of the right shape for a variable, by its name; URLs point at a closed port (1)."""
    if "DATABASE_URL" in name:
        return "postgresql://bench:not-started@127.0.0.1:1/bench"
    if "REDIS" in name and name.endswith("_URL"):
        return "redis://127.0.0.1:1/0"
    if name.endswith("WEBHOOK_SECRET"):
        return "whsec_not_started"
    if name.endswith(("_BUNDLE", "_CONF")):
        return "/dev/null"
    if name.endswith("_BINARY"):
        return "nginx"
    if name.endswith("_EMAIL"):
        return "bench@preflight.test"
    if name.endswith("_CONNECTIONS"):
        return "0"
    return "not-started"


def prod_variables() -> dict[str, str]:
    """A dummy value for every ${VAR} environments/prod.yml mentions."""
    return {name: dummy_value(name) for name in REFERENCE.findall(PROD.read_text())}


def sandbox_placeholders() -> dict[str, str | None]:
    """The sandbox's variables, name -> placeholder (None where there is none).

    From the light sandbox/variables.py where it exists, loaded by its path (the sandbox package imports the whole
    stack); else from sandbox.stack, whose VARIABLES is a tuple of names.
    """
    light = ROOT / "sandbox" / "variables.py"
    sys.path.insert(0, str(ROOT))
    if light.exists():
        spec = importlib.util.spec_from_file_location("bench_sandbox_variables", light)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        try:
            spec.loader.exec_module(module)
        except ImportError:  # it imports from its package after all
            module = importlib.import_module("sandbox.variables")
        return {name: str(value) for name, value in dict(module.VARIABLES).items()}
    from sandbox.stack import VARIABLES

    return dict.fromkeys(VARIABLES)


def closed_port() -> int:
    """A loopback port nothing listens on (bound by the kernel's choice, then released): connections are refused."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_fake_state(path: Path, port: int) -> None:
    """A state file in the shape `python -m sandbox up` writes, for one twin whose every port is closed."""
    variables = {}
    for name, placeholder in sandbox_placeholders().items():
        value = dummy_value(name) if placeholder is None else placeholder
        variables[name] = str(port) if name.endswith("_PORT") else LOOPBACK_PORT.sub(f"127.0.0.1:{port}", value)
    state = {"pid_owner": os.getpid(), "workdir": str(path.parent), "twins": {TWIN: variables}, "pids": []}
    path.write_text(json.dumps(state, indent=2))


def attached_runs(runs: int, check: str, folder: Path) -> tuple[dict[str, float], str]:
    """The run of median wall time attached to the fake sandbox: wall, start-up (to the first check), the check,
    the rest (its parts add up, which medians of each part would not)."""
    state = folder / "state.json"
    write_fake_state(state, closed_port())
    command = [*PYTEST, "--env=local", f"--sandbox-state={state}", "--no-reports", "-k", check, "-p", "no:randomly"]
    command += ["-p", "bench.timing"]
    samples: list[dict[str, float]] = []
    out = ""
    for number in range(runs + 1):  # the first is a warm-up
        run = timed(command, ROOT, environ())
        out, seen = run.out, bench_line(run.out)
        if not seen.get("first_check"):
            raise SystemExit(f"the attached run ran no check:\n{run.out[-2000:]}{run.err[-2000:]}")
        startup, spent = seen["first_check"] - run.began, seen["checks"]
        if number:
            samples.append(
                {"wall": run.seconds, "startup": startup, "check": spent, "after": run.seconds - startup - spent}
            )
    return sorted(samples, key=lambda sample: sample["wall"])[(len(samples) - 1) // 2], out


def bench_line(out: str) -> dict[str, float]:
    """The numbers bench/timing.py printed."""
    found = re.search(r"^BENCH (.*)$", out, re.M)
    return {key: float(value) for key, value in re.findall(r"(\w+)=([\d.]+)", found[1])} if found else {}


def import_times(runs: int, command: list[str], env: dict[str, str]) -> dict[str, tuple[float, float]]:
    """module -> (median cumulative ms, median self ms) from `python -X importtime`, over runs runs."""
    seen: dict[str, list[tuple[int, int]]] = {}
    for _ in range(runs):
        # -s: pytest's capture would swallow what -X importtime writes to stderr once conftest.py loads
        err = timed([sys.executable, "-X", "importtime", *command[1:], "-s"], ROOT, env).err
        for own, cumulative, module in re.findall(r"^import time:\s+(\d+) \|\s+(\d+) \|( *\S+)$", err, re.M):
            seen.setdefault(module.strip(), []).append((int(cumulative), int(own)))
    return {
        module: (statistics.median(c for c, _ in pairs) / 1000, statistics.median(s for _, s in pairs) / 1000)
        for module, pairs in seen.items()
    }


def line(label: str, seconds: float, floor: float, pytest_alone: float, note: str = "") -> None:
    print(f"{label:<52} {seconds:8.3f} s {seconds / floor:8.1f}x {seconds / pytest_alone:8.2f}x  {note}".rstrip())


def measure(args: argparse.Namespace, folder: Path) -> None:
    runs = args.runs
    floor = median_seconds(runs, [sys.executable, "-c", "pass"], folder, environ())
    empty = folder / "empty"
    empty.mkdir()
    # pytest's exit status 5: no tests were collected
    bare = median_seconds(runs, [*PYTEST, "--collect-only", "-q", "-p", "no:cacheprovider"], empty, environ(), rc=5)
    collect = [*PYTEST, "--env=prod", "--collect-only", "-q", "--no-reports"]
    prod_env = environ(prod_variables())
    collected = median_seconds(runs, collect, ROOT, prod_env)
    attached, out = attached_runs(runs, args.check, folder)

    print(f"{'median of ' + str(runs) + ' runs (after one warm-up)':<52} {'':>10} {'x python':>9} {'x pytest':>9}")
    line("1. python -c pass", floor, floor, bare)
    line("2. pytest --collect-only, empty suite", bare, floor, bare)
    line("3. pytest --env=prod --collect-only --no-reports", collected, floor, bare)
    line(f"4. --env=local --sandbox-state (fake) -k {args.check}", attached["wall"], floor, bare, "(the median run:)")
    share = f"{attached['startup'] / attached['wall']:.0%} of the run"
    line("   start-up, to the first check", attached["startup"], floor, bare, share)
    line("   the check (setup + call + teardown)", attached["check"], floor, bare)
    line("   after the check (summary, unconfigure, exit)", attached["after"], floor, bare)
    if "connection refused" not in out:
        print(f"NOTE: the check did not fail on a refused connection; its output:\n{out[-1500:]}")

    print(f"\n5. top {args.top} imports of item 3 by cumulative time (python -X importtime, -s, median of {runs} runs)")
    print(f"{'cumulative':>12} {'self':>9}  module")
    ranked = sorted(import_times(runs, collect, prod_env).items(), key=lambda item: -item[1][0])
    for module, (cumulative, own) in ranked[: args.top]:
        print(f"{cumulative:9.1f} ms {own:6.1f} ms  {module}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="runs per measurement, after one warm-up (default: 5)")
    parser.add_argument("--check", default="SPA-01", help="the quick check of item 4 (a -k expression)")
    parser.add_argument("--top", type=int, default=15, help="how many imports item 5 lists (default: 15)")
    args = parser.parse_args()
    head = subprocess.run(["git", "-C", str(ROOT), "log", "-1", "--format=%h %s"], capture_output=True, text=True)
    print(f"commit {head.stdout.strip() or '?'}; Python {sys.version.split()[0]}; {os.cpu_count()} cores")
    print(f"load average before: {' '.join(f'{n:.2f}' for n in os.getloadavg())}")
    with tempfile.TemporaryDirectory(prefix="preflight-bench-") as folder:
        measure(args, Path(folder))
    print(f"load average after:  {' '.join(f'{n:.2f}' for n in os.getloadavg())}")


if __name__ == "__main__":
    main()
