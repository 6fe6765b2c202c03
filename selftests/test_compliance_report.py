"""The compliance report an auditor reads: what changed between two runs, and the page as a browser renders it
and prints it to PDF."""

from __future__ import annotations

import datetime as dt
import io
import json
from pathlib import Path
from typing import Any

import pytest

from selftests.harness import LOCAL, ROOT, Run, Stack, render_in_browser, write_env

SELECTION = ("-k", "AUTH-05 or HDR-04 or TLS-02")


def changing_env(path: Path, *, before: bool) -> Path:
    """Run 1: AUTH-05 fails (a one-minute token policy). Run 2: AUTH-05 passes, HDR-04 fails (only
    no-referrer allowed), TLS-02 fails (a two-year HSTS minimum) under a waiver that ends in five days."""
    soon = (dt.datetime.now(dt.UTC).date() + dt.timedelta(days=5)).isoformat()
    inputs: dict[str, Any] = (
        {"AUTH-05": {"max_minutes": 1}}
        if before
        else {"HDR-04": {"allowed": ["no-referrer"]}, "TLS-02": {"min_max_age": 63072000}}
    )
    document: dict[str, Any] = {"extends": str(LOCAL), "name": "changing", "inputs": inputs}
    if not before:
        document["waivers"] = [{"id": "TLS-02", "reason": "HSTS raised in ticket 7", "expires": soon}]
    return write_env(path, document)


@pytest.fixture(scope="module")
def two_runs(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], Path, Run]:
    """(the first run's JSON report and its path, the second run): both write to one report folder."""
    folder = tmp_path_factory.mktemp("changing")
    env = folder / "changing.yml"
    first = stack.run(changing_env(env, before=True), "changing", *SELECTION)
    first_json = newest(first, ".json")
    second = stack.run(changing_env(env, before=False), "changing", *SELECTION)
    assert newest(second, ".json") != first_json
    return json.loads(first_json.read_text()), first_json, second


def newest(run: Run, suffix: str) -> Path:
    return sorted(run.report_dir.glob(f"*{suffix}"))[-1]


def test_report_says_what_changed_since_the_last_run(two_runs: tuple[dict[str, Any], Path, Run]) -> None:
    first, _, second = two_runs
    assert first["changes"] is None, "the first run of an environment has nothing to compare with"
    changes = second.document["changes"]
    assert [r["id"] for r in changes["newly_failing"]] == ["HDR-04"]
    assert [r["id"] for r in changes["newly_passing"]] == ["AUTH-05"]
    assert [r["id"] for r in changes["new_waivers"]] == ["TLS-02"]
    text = newest(second, ".html").read_text()
    section = text[text.index('<section id="changes">') : text.index('<section id="scores">')]
    assert "Newly failing (1)" in section and "HDR-04" in section
    assert "Newly passing (1)" in section and "AUTH-05" in section
    assert "New waivers (1)" in section and "TLS-02" in section
    assert 'class="waiver expiring"' in text, "a waiver ending within 14 days stands out"


def test_compare_to_lists_every_check_whose_outcome_differs(
    stack: Stack, two_runs: tuple[dict[str, Any], Path, Run], tmp_path: Path
) -> None:
    _, first_json, _ = two_runs
    env = write_env(tmp_path / "other.yml", {"extends": str(LOCAL), "name": "other"})
    run = stack.run(env, "other", *SELECTION, f"--compare-to={first_json}")
    assert run.document["compared_to"] is True
    assert {r["id"]: (r["before"], r["now"]) for r in run.document["changes"]["differing"]} == {
        "AUTH-05": ("failed", "passed")
    }
    assert "Every check whose outcome differs (1)" in newest(run, ".html").read_text()


def test_compare_to_a_bad_file_is_one_line(stack: Stack, tmp_path: Path) -> None:
    bad = tmp_path / "not-a-report.json"
    bad.write_text("{}")
    run = stack.run(LOCAL, "bad-compare", f"--compare-to={bad}")
    assert run.rc == 4 and "--compare-to" in run.out and "Traceback" not in run.out


def test_report_in_a_browser_and_as_pdf(stack: Stack, tmp_path: Path) -> None:
    """A run with failures, a waiver, blocked and not-checked checks (the refused login): the rendered page
    has the verdict, the sections in order and the counts, no console error, and prints to a PDF with text."""
    from pypdf import PdfReader

    if "auth-login-refused" not in stack.sandbox.twins:
        pytest.skip("auth-login-refused is not selected by --twins")
    until = (dt.datetime.now(dt.UTC).date() + dt.timedelta(days=60)).isoformat()
    env = write_env(
        tmp_path / "refused.yml",
        {
            "extends": str(LOCAL),
            "name": "refused",
            "sandbox": {"twin": "auth-login-refused"},
            "waivers": [{"id": "AUTH-06", "reason": "the smoke user is being recreated", "expires": until}],
        },
    )
    run = stack.run(env, "refused")
    counts = run.document["counts"]
    assert counts["waived"] == 1 and counts["blocked"] > 0 and counts["not checked"] > 0, counts
    html = newest(run, ".html")
    for name, text in [("HTML", html.read_text()), ("JSON", newest(run, ".json").read_text())]:
        assert str(ROOT) not in text and "/tmp/" not in text, f"a machine path reached the {name} report"
    page_text, errors, pdf = render_in_browser(html)
    assert not errors, errors
    assert page_text.index("Gate") < page_text.index("Scores") < page_text.index("Waived failures")
    sections = [("Failures", "failed"), ("Waived failures", "waived"), ("Blocked", "blocked")]
    sections += [("Not checked", "not checked"), ("Not applicable", "not applicable"), ("Passed", "passed")]
    for heading, outcome in sections:
        assert f"{heading} ({counts[outcome]})" in page_text, heading
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages)
    assert "Gate" in text and "AUTH-06" in text, text[:500]
