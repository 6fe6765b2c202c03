"""docs/report-*.png: the compliance report of a failing run, as a browser shows it (`make docs`).

`python -m sandbox.screenshots docs/` starts the sandbox with the twin whose login is refused, runs the suite
against it with one waiver (so the report shows failures, a waived failure, blocked and not-checked checks), and
photographs the top of the report and its failures in Debian's headless Chromium.
"""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

from sandbox.stack import start

ROOT = Path(__file__).resolve().parent.parent
TWIN = "auth-login-refused"


def failing_report(folder: Path, state: Path) -> Path:
    until = (dt.datetime.now(dt.UTC).date() + dt.timedelta(days=10)).isoformat()
    env = folder / "example.yml"
    env.write_text(
        yaml.safe_dump(
            {
                "extends": str(ROOT / "environments" / "local.yml"),
                "name": "example",
                "description": "The sandbox's SPA after a data fix reset the smoke user's password (a twin)",
                "sandbox": {"twin": TWIN},
                "waivers": [
                    {"id": "HOOK-04", "reason": "replay window agreed with Stripe, ticket 12", "expires": until}
                ],
                "inputs": {"TLS-02": {"min_max_age": 63072000}, "HOOK-04": {"replay_age_seconds": 30}},
            }
        )
    )
    command = [sys.executable, "-m", "pytest", f"--env={env}", f"--sandbox-state={state}", f"--report-dir={folder}"]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600, check=False)
    reports = sorted(folder.glob("*.html"))
    if done.returncode not in (0, 1) or not reports:
        raise SystemExit(
            f"the example run failed (exit {done.returncode}):\n{done.stdout[-3000:]}\n{done.stderr[-2000:]}"
        )
    return reports[-1]


def photograph(report: Path, out: Path) -> list[Path]:
    from playwright.sync_api import sync_playwright

    shots = [out / "report-top.png", out / "report-failures.png"]
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1100, "height": 1400})
            page.goto(report.as_uri())
            page.screenshot(path=str(shots[0]))
            page.locator("#failures").scroll_into_view_if_needed()
            page.screenshot(path=str(shots[1]))
        finally:
            browser.close()
    return shots


def main(out: Path) -> None:
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        sandbox = start([TWIN], workdir=folder / "sandbox")
        try:
            state = folder / "state.json"
            sandbox.write_state(state)
            report = failing_report(folder, state)
        finally:
            sandbox.stop()
        for shot in photograph(report, out):
            print(f"wrote {shot}")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "docs"))
