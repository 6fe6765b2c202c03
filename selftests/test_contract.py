"""The check contract, the gate, waivers, --strict and the intrusive opt-in, on small made-up checks."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

ENV = """\
name: unit
production: true
allow_intrusive: {allow}
required: {required}
web: {{url: "https://shop.example"}}
waivers:
  - {{id: SPA-02, reason: "CDN migration, ticket 7", expires: 2099-12-31}}
  - {{id: SPA-03, reason: "old ticket", expires: 2001-01-01}}
  - {{id: SPA-01, reason: "fixed since, ticket 3", expires: 2099-12-31}}
"""

CHECKS = '''
import pytest
from fixtures.check import check, fail_on

@check("SPA-01", severity="high", guide="H: Routing Issues")
def test_ok(env):
    """Passes.

    A rationale.

    Fix: nothing.
    """
    assert env.web.url

@check("SPA-02", severity="high", guide="H: Routing Issues")
def test_waived():
    """Fails under a waiver.

    A rationale.

    Fix: something.
    """
    fail_on(["the shell is cached"])

@check("SPA-03", severity="medium", guide="H: Routing Issues")
def test_expired():
    """Fails with an expired waiver.

    A rationale.

    Fix: something.
    """
    fail_on(["still broken"])

@check("SPA-05", severity="low", guide="H: Routing Issues")
def test_low():
    """Fails at low severity.

    A rationale.

    Fix: something.
    """
    fail_on(["not compressed"])

@check("SPA-06", severity="low", guide="H: Routing Issues")
def test_not_applicable(need):
    """Needs something unset.

    A rationale.

    Fix: something.
    """
    need("web.spa_routes")

@check("HOOK-05", severity="high", guide="H: Webhook Issues", intrusive=True)
def test_intrusive():
    """Sends a signed event.

    A rationale.

    Fix: something.
    """
'''


@pytest.fixture
def suite(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("PYTHONPATH", str(Path(__file__).resolve().parent.parent))

    def make(allow: str = "false", required: str = "[]", checks: str = CHECKS) -> pytest.Pytester:
        pytester.makeconftest('pytest_plugins = ["fixtures.plugin"]')
        pytester.makefile(".yml", unit=ENV.format(allow=allow, required=required))
        pytester.makepyfile(test_checks=checks)
        return pytester

    return make


def run(pytester: pytest.Pytester, *args: str) -> tuple[pytest.RunResult, dict]:
    shutil.rmtree(pytester.path / "out", ignore_errors=True)
    result = pytester.runpytest_subprocess("--env=unit.yml", "--report-dir=out", *args)
    reports = list(Path(pytester.path, "out").glob("*.json"))
    document = json.loads(reports[0].read_text()) if reports else {}
    return result, document


def outcomes(document: dict) -> dict[str, str]:
    return {c["id"]: c["outcome"] for c in document["checks"]}


def test_outcomes_waivers_and_gate(suite) -> None:
    result, document = run(suite())
    assert outcomes(document) == {
        "SPA-01": "passed",
        "SPA-02": "waived",
        "SPA-03": "failed",
        "SPA-05": "failed",
        "SPA-06": "not applicable",
        "HOOK-05": "not checked",
    }
    assert result.ret == 1
    messages = {c["id"]: c["message"] for c in document["checks"]}
    assert "expired on 2001-01-01" in messages["SPA-03"]
    assert messages["SPA-02"] == "by the waiver until 2099-12-31 (CDN migration, ticket 7):\n- the shell is cached"
    assert "web.spa_routes is not configured" in messages["SPA-06"]
    assert "--intrusive" in messages["HOOK-05"]
    result.stdout.fnmatch_lines(
        [
            "*GATE FAILED: 2 failure(s) at or above low*",
            "*SPA-03 Fails with an expired waiver: still broken*",
            "*SPA-05 Fails at low severity: not compressed*",
        ]
    )
    result.stdout.fnmatch_lines(
        [
            "waived:",
            "*SPA-02 Fails under a waiver: by the waiver until 2099-12-31 (CDN migration, ticket 7): the shell*",
            "not checked:",
            "*HOOK-05 Sends a signed event: intrusive check: run with --intrusive to enable",
            "1 not applicable: -v lists them with their reasons",
            "*waiver for SPA-01 is not needed: the check passes*",
        ]
    )
    assert document["unneeded_waivers"] == ["SPA-01"]


def test_fail_on_raises_the_bar(suite) -> None:
    result, document = run(suite(), "--fail-on=medium")
    assert result.ret == 1  # SPA-03 is medium
    result, document = run(suite(), "--fail-on=high")
    assert result.ret == 0
    assert document["gate"] == "passed"
    result.stdout.fnmatch_lines(["*below the gate (fail-on=high):*", "*SPA-03 *", "*SPA-05 *"])


def test_strict_turns_not_applicable_into_failure(suite) -> None:
    _, document = run(suite(), "--strict")
    assert outcomes(document)["SPA-06"] == "failed"


def test_required_targets_do_not_require_their_optional_keys(suite) -> None:
    """`required: [web]` asks for the web target; web.spa_routes, unset under a configured web, stays
    not applicable (selftests/test_outcomes.py proves a required target that is absent fails)."""
    _, document = run(suite(required="[web]"))
    record = next(c for c in document["checks"] if c["id"] == "SPA-06")
    assert record["outcome"] == "not applicable"
    assert record["key"] == "web.spa_routes"


def test_intrusive_needs_the_flag_and_the_environment(suite) -> None:
    _, document = run(suite(allow="false"), "--intrusive")
    record = next(c for c in document["checks"] if c["id"] == "HOOK-05")
    assert record["outcome"] == "not checked" and "does not allow it" in record["message"]
    _, document = run(suite(allow="[HOOK-05]"), "--intrusive")
    assert outcomes(document)["HOOK-05"] == "passed"


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (("    Fix: nothing.\n", ""), "needs a 'Fix:' paragraph"),
        (('"SPA-02", severity="high"', '"SPA-01", severity="high"'), "duplicate id SPA-01"),
        (('severity="low"', 'severity="urgent"'), "severity must be one of"),
        (('"SPA-01"', '"spa1"'), "check id must look like AREA-NN"),
        (('guide="H: Routing Issues")\ndef test_ok', 'guide="Routing")\ndef test_ok'), "guide reference"),
    ],
    ids=["no-fix", "duplicate-id", "bad-severity", "bad-id", "bad-guide"],
)
def test_malformed_metadata_stops_collection(suite, change: tuple[str, str], problem: str) -> None:
    old, new = change
    assert old in CHECKS
    result, _ = run(suite(checks=CHECKS.replace(old, new, 1)))
    assert result.ret == 4
    assert problem in result.stderr.str()
    assert "Traceback" not in result.stderr.str()


@pytest.mark.parametrize(
    ("citation", "problem"),
    [
        ("OWASP:A01", "with SCHEME among ASVS, RFC"),
        ("ASVS 3.4.1", "as SCHEME:ID"),
        ("ASVS:3.4.1", "not a well-formed OWASP ASVS 4.0.3 id"),
        ("ASVS:V3.4.9", "not a requirement of OWASP ASVS 4.0.3"),
        ("RFC:RFC6797", "not a well-formed RFC id"),
        ("Mozilla:Headers", "not a well-formed Mozilla web security guidelines id"),
        ("Django:W012", "not a well-formed Django check --deploy id"),
    ],
    ids=["unknown-scheme", "no-colon", "asvs-malformed", "asvs-unknown", "rfc-malformed", "mozilla-section", "django"],
)
def test_a_bad_citation_stops_collection_in_one_line(suite, citation: str, problem: str) -> None:
    old = 'guide="H: Routing Issues")\ndef test_ok'
    result, _ = run(suite(checks=CHECKS.replace(old, old.replace(")", f", standards=[{citation!r}])", 1), 1)))
    assert result.ret == 4
    lines = [line for line in result.stderr.lines if citation in line]
    assert len(lines) == 1, result.stderr.str()
    assert "test_ok" in lines[0] and "SPA-01: standards:" in lines[0] and problem in lines[0]
    assert "Traceback" not in result.stderr.str()


def test_a_plain_test_is_not_a_check(suite) -> None:
    result, _ = run(suite(checks=CHECKS + "\ndef test_plain():\n    pass\n"))
    assert result.ret == 4
    assert "needs exactly one @check" in result.stderr.str()


def test_unknown_input_names_the_key(suite, pytester: pytest.Pytester) -> None:
    suite()
    pytester.makefile(".yml", unit=ENV.format(allow="false", required="[]") + "inputs: {SPA-01: {colour: 1}}\n")
    result, _ = run(pytester)
    assert result.ret == 4
    assert "inputs.SPA-01.colour: unknown input" in result.stderr.str()


def test_reports_under_xdist_are_written_once(suite) -> None:
    pytester = suite()
    _, document = run(pytester, "-n", "2")
    assert outcomes(document)["SPA-02"] == "waived"
    files = sorted(f.suffix for f in (pytester.path / "out").iterdir())
    assert files == [".html", ".json", ".xml"]
