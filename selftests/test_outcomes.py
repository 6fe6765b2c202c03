"""Typed outcomes, end to end: blocked, not checked, not applicable from a target fixture, evidence,
and how the terminal, HTML, JUnit and JSON show them (under xdist too)."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from selftests.harness import ROOT, free_port

ENV = """\
name: unit
production: true
required: {required}
web: {{url: "https://127.0.0.1:{port}"}}
timeouts: {{connect: 2, read: 2}}
"""

CHECKS = '''
from fixtures.check import blocked_by, check, fail, not_checked

@check("DB-05", severity="high", guide="H: Database Performance Issues")
def test_root(probe, env):
    """The root cause fails.

    A rationale.

    Fix: something.
    """
    probe.get(env.web.url + "/root")

@check("DB-06", severity="medium", guide="H: Database Performance Issues")
def test_blocked():
    """Cannot look.

    A rationale.

    Fix: something.
    """
    blocked_by("DB-05", "pg_stat_statements is not installed")

@check("TLS-01", severity="high", guide="H: Security Best Practices")
def test_underivable():
    """Cannot derive its URL.

    A rationale.

    Fix: something.
    """
    not_checked("the plain-HTTP port cannot be derived", key="inputs.TLS-01.http_url")

@check("RDS-01", severity="critical", guide="H: Redis Connection Issues")
def test_redis(rds):
    """Asks for Redis.

    A rationale.

    Fix: something.
    """
    fail("never reached: no Redis is configured")

@check("SPA-01", severity="high", guide="H: Routing Issues")
def test_optional_key(need):
    """Needs an optional key of the web target.

    A rationale.

    Fix: something.
    """
    need("web.spa_routes")

@check("DB-01", severity="critical", guide="V: Database Connection Issues")
def test_database(db):
    """Asks for the database.

    A rationale.

    Fix: something.
    """
    fail("never reached: no database is configured")
'''


@pytest.fixture
def suite(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    port = free_port()  # nothing listens: the root check's probe is refused

    def make(required: str = "[]") -> pytest.Pytester:
        pytester.makeconftest('pytest_plugins = ["fixtures.plugin"]')
        pytester.makefile(".yml", unit=ENV.format(required=required, port=port))
        pytester.makepyfile(test_checks=CHECKS)
        return pytester

    return make


def run(pytester: pytest.Pytester, *args: str) -> tuple[pytest.RunResult, dict, Path]:
    out = pytester.path / "out"
    for old in out.glob("*"):
        old.unlink()
    result = pytester.runpytest_subprocess("--env=unit.yml", "--report-dir=out", *args)
    reports = sorted(out.glob("*.json"))
    return result, json.loads(reports[0].read_text()) if reports else {}, out


def by_id(document: dict) -> dict[str, dict]:
    return {c["id"]: c for c in document["checks"]}


EXPECTED = {
    "DB-05": "failed",
    "DB-06": "blocked",
    "TLS-01": "not checked",
    "RDS-01": "not applicable",
    "DB-01": "not applicable",
    "SPA-01": "not applicable",
}


@pytest.mark.parametrize("workers", [[], ["-n", "2"]], ids=["serial", "xdist"])
def test_outcomes_are_typed_in_every_output(suite, workers: list[str]) -> None:
    result, document, out = run(suite(), *workers)
    checks = by_id(document)
    assert {k: c["outcome"] for k, c in checks.items()} == EXPECTED
    assert checks["DB-06"]["blocked_by"] == "DB-05"
    assert checks["RDS-01"]["key"] == "redis" and "redis is not configured" in checks["RDS-01"]["message"]
    assert checks["DB-01"]["key"] == "database.dsn"
    assert checks["TLS-01"]["key"] == "inputs.TLS-01.http_url"
    # The probe's exchange is the root check's evidence.
    assert re.search(r"GET https://127\.0\.0\.1:\d+/root: unreachable", checks["DB-05"]["evidence"])
    assert document["counts"]["blocked"] == 1 and document["counts"]["not applicable"] == 3
    result.stdout.fnmatch_lines(
        [
            "*GATE FAILED: 1 failure(s) at or above low*",
            "*DB-05 The root cause fails: GET https://127.0.0.1:*/root: unreachable*",
            "blocked:",
            "*DB-06 Cannot look: blocked by DB-05: pg_stat_statements is not installed",
            "not checked:",
            "*TLS-01 Cannot derive its URL: the plain-HTTP port cannot be derived",
        ]
    )
    # pytest's own short summary names the check id, not only the test function.
    result.stdout.fnmatch_lines(["FAILED test_checks.py::test_root - DB-05 The root cause fails*"])
    html = next(out.glob("*.html")).read_text()
    tuple_shown = re.search(r"test_checks\.py(&#x27;|&#39;|')\s*,|Skipped: ", html)
    assert not tuple_shown, f"a skip's raw tuple reached the HTML report: {tuple_shown}"
    assert str(ROOT) not in html and "/tmp/" not in html, "a machine path reached the HTML report"
    # Each outcome has its section in the compliance report, with its count.
    for section, outcome in [("Failures", "failed"), ("Blocked", "blocked"), ("Not checked", "not checked")]:
        count = sum(1 for v in EXPECTED.values() if v == outcome)
        assert f"<h2>{section} ({count})</h2>" in html, section
    assert "<h2>Not applicable (3)</h2>" in html and 'blocked by <a href="#DB-05">DB-05</a>' in html


def test_junit_carries_outcome_and_reason(suite) -> None:
    _, _, out = run(suite())
    tree = ET.parse(next(out.glob("*.xml")))
    props = {
        case.get("name"): {p.get("name"): p.get("value") for p in case.iter("property")}
        for case in tree.iter("testcase")
    }
    # Test cases are named by check (GitLab's and Jenkins' test views), not by test function.
    assert props["DB-06 Cannot look"]["outcome"] == "blocked"
    assert props["DB-06 Cannot look"]["reason"] == "blocked by DB-05: pg_stat_statements is not installed"
    assert props["RDS-01 Asks for Redis"]["outcome"] == "not applicable"
    assert props["DB-05 The root cause fails"]["outcome"] == "failed"
    failure = next(c for c in tree.iter("testcase") if c.get("name") == "DB-05 The root cause fails").find("failure")
    assert failure is not None and failure.get("message", "").startswith("DB-05 The root cause fails")


def test_strict_fails_not_applicable_and_not_checked_for_a_key(suite) -> None:
    _, document, _ = run(suite(), "--strict")
    outcomes = {k: c["outcome"] for k, c in by_id(document).items()}
    assert outcomes["RDS-01"] == outcomes["DB-01"] == outcomes["TLS-01"] == "failed"
    assert outcomes["DB-06"] == "blocked"


def test_a_required_target_fails_instead(suite) -> None:
    _, document, _ = run(suite(required="[redis]"))
    record = by_id(document)["RDS-01"]
    assert record["outcome"] == "failed"
    assert "redis is listed under required" in record["message"]
    assert by_id(document)["DB-01"]["outcome"] == "not applicable"


def test_required_means_the_target_not_its_optional_keys(suite) -> None:
    """`required: [web]` with web configured: an unset optional key under it stays not applicable."""
    result, document, _ = run(suite(required="[web, redis]"))
    outcomes = {k: c["outcome"] for k, c in by_id(document).items()}
    assert outcomes["SPA-01"] == "not applicable"
    assert outcomes["RDS-01"] == "failed"


def test_a_blocked_check_whose_root_did_not_run_fails_the_gate(suite) -> None:
    """Blocked is reported once, at the root; when the root is not part of the run, the blocked check
    counts as a failure instead of letting the gate pass."""
    result, document, _ = run(suite(), "-k", "DB-06")
    assert by_id(document)["DB-06"]["outcome"] == "blocked"
    assert result.ret == 1
    result.stdout.fnmatch_lines(["GATE FAILED: 1 failure(s)*", "*DB-06 Cannot look: blocked by DB-05*did not fail*"])


SHAPED = '''
from fixtures.check import check

@check("SPA-01", severity="high", guide="H: Routing Issues", shapes=["spa"])
def test_spa_rule():
    """A rule for single-page apps.

    A rationale.

    Fix: something.
    """
'''


def test_a_rule_of_another_shape_is_not_applicable_even_under_strict(pytester: pytest.Pytester, monkeypatch) -> None:
    """A check declared for `spa` sites is not applicable on `web.kind: server`, with the shape as its
    reason and no missing key, so --strict does not fail it."""
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    pytester.makeconftest('pytest_plugins = ["fixtures.plugin"]')
    pytester.makefile(".yml", unit="name: unit\nweb: {url: 'https://127.0.0.1:1', kind: server}\n")
    pytester.makepyfile(test_checks=SHAPED)
    result, document, _ = run(pytester, "--strict")
    record = by_id(document)["SPA-01"]
    assert record["outcome"] == "not applicable" and "key" not in record
    assert record["message"].startswith("web.kind is server: SPA-01 is written for single-page apps")
    assert result.ret == 0
