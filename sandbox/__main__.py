"""python -m sandbox up [--twin NAME ...] [--framework flask|django|django-site|flask-site|all] [--state FILE]
python -m sandbox twins"""

from __future__ import annotations

import argparse
import contextlib
import shlex
import signal
import sys
import threading
import time
from pathlib import Path
from types import FrameType

from sandbox.stack import DEFAULT_TIMEOUT, SandboxError, start
from sandbox.twins import API_FRAMEWORKS, FRAMEWORKS, TWINS, split_instance

# The shipped environment file of each framework's good stack (its sandbox.framework).
ENVIRONMENTS = {
    "flask": "local",
    "django": "local-django",
    "django-site": "local-django-site",
    "flask-site": "local-flask-site",
}


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(signal.Signals(signum).name)


def cmd_twins(_: argparse.Namespace) -> int:
    width = max(len(name) for name in TWINS)
    for twin in TWINS.values():
        only = "" if twin.frameworks == API_FRAMEWORKS else f" [{', '.join(twin.frameworks)} only]"
        print(f"{twin.name:<{width}}  {twin.description}{only}")
    return 0


def cmd_up(args: argparse.Namespace) -> int:
    names = instances(args.twin or ["good"], args.framework)
    # SIGTERM and SIGHUP take the same path as Ctrl-C, so every process is stopped. SIGINT too,
    # explicitly: a shell starts background jobs with SIGINT ignored.
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _interrupt)
    sandbox = None
    state: Path | None = None
    try:
        began = time.monotonic()
        sandbox = start(names, args.workdir, timeout=args.timeout)
        elapsed = time.monotonic() - began
        state = args.state or sandbox.workdir / "state.json"
        sandbox.write_state(state)
        for name in sandbox.twins:
            print(f"# twin: {name}")
            for key, value in sandbox.variables(name).items():
                print(f"export {key}={shlex.quote(value)}")
        print(f"# started {len(names)} twin(s) in {elapsed:.1f} s; workdir {sandbox.workdir}")
        print(f"# state file: {state}")
        frameworks = {split_instance(name)[1] for name in sandbox.twins}
        for env in [ENVIRONMENTS[fw] for fw in FRAMEWORKS if fw in frameworks]:
            print(f"# run the suite against it: pytest --env={env} --sandbox-state={state}")
        print("# Ctrl-C stops the sandbox.", flush=True)
        threading.Event().wait()
    except KeyboardInterrupt:
        print("\n# stopping the sandbox", file=sys.stderr)
    except SandboxError as exc:
        print(f"sandbox: {exc}", file=sys.stderr)
        return 1
    finally:
        # A second Ctrl-C must not cut the cleanup short.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        if sandbox is not None:
            sandbox.stop()
        if state is not None:
            # It would name processes that no longer exist.
            with contextlib.suppress(OSError):
                state.unlink()
    return 0


def instances(names: list[str], framework: str) -> list[str]:
    """Instance names: each twin under the chosen framework(s), where the twin exists; `x@django` as given."""
    frameworks = list(FRAMEWORKS) if framework == "all" else [framework]
    if "all" in names:
        return [t.instance(fw) for t in TWINS.values() for fw in frameworks if fw in t.frameworks]
    result: list[str] = []
    for name in names:
        twin, explicit = split_instance(name)
        if "@" in name or twin not in TWINS:
            result.append(name)  # start() names an unknown twin or framework
            continue
        chosen = [fw for fw in frameworks if fw in TWINS[twin].frameworks]
        if not chosen and framework == FRAMEWORKS[0]:  # the default: a site's twin runs on its site
            chosen = list(TWINS[twin].frameworks[:1])
        result += [TWINS[twin].instance(fw) for fw in chosen] or [TWINS[twin].instance(frameworks[0])]
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sandbox", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    up = sub.add_parser("up", help="start the sandbox and wait for Ctrl-C")
    up.add_argument(
        "--twin",
        action="append",
        metavar="NAME",
        help="a twin to run (repeatable; 'all' for every twin); default: good",
    )
    up.add_argument(
        "--framework",
        choices=[*FRAMEWORKS, "all"],
        default=FRAMEWORKS[0],
        help="the framework of the twins: the SPA's API (flask, django) or a site (django-site, flask-site); "
        "default: %(default)s (a site's twin: its site); NAME@django picks one instance",
    )
    up.add_argument("--state", type=Path, help="where to write the state file")
    up.add_argument("--workdir", type=Path, help="keep configs and logs here (default: a temp dir)")
    up.add_argument(
        "--timeout", type=float, default=DEFAULT_TIMEOUT, help="seconds to wait for every part (default: %(default)s)"
    )
    up.set_defaults(func=cmd_up)
    twins = sub.add_parser("twins", help="list the twins")
    twins.set_defaults(func=cmd_twins)
    args = parser.parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
