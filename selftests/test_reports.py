"""Reports are complete and parseable, the catalogue is current, xdist agrees, and secrets never leak."""

from __future__ import annotations

import io
import json
import re
import secrets
import xml.etree.ElementTree as ET
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import jsonschema
from pypdf import PdfReader

from fixtures.catalogue import ROOT, checks
from sandbox.catalogue import catalogue
from selftests.harness import LOCAL, Run, Stack, render_in_browser, write_env

CHECK_IDS = sorted(c.id for c in checks())


def report(run: Run, suffix: str) -> Path:
    files = sorted(run.report_dir.glob(f"*{suffix}"))
    assert len(files) == 1, files
    return files[0]


def test_json_has_one_record_per_check(good_run: Run) -> None:
    document = good_run.document
    assert sorted(c["id"] for c in document["checks"]) == CHECK_IDS
    assert sum(document["counts"].values()) == len(CHECK_IDS)
    assert document["environment"] == "local" and document["chosen_by"] == "--env"
    for record in document["checks"]:
        assert set(record) >= {"id", "title", "severity", "area", "guide", "outcome", "message", "duration"}


def test_junit_carries_id_and_severity(good_run: Run) -> None:
    cases = ET.parse(report(good_run, ".xml")).getroot().iter("testcase")
    seen = {}
    for case in cases:
        props = {p.get("name"): p.get("value") for p in case.iter("property")}
        seen[props["check_id"]] = props["severity"]
    assert sorted(seen) == CHECK_IDS
    assert set(seen.values()) <= {"critical", "high", "medium", "low", "info"}


SECTIONS = (
    "verdict",
    "scores",
    "failures",
    "waived",
    "blocked",
    "not-checked",
    "not-applicable",
    "passed",
    "environment",
)


def test_html_report_reads_top_to_bottom(good_run: Run) -> None:
    text = report(good_run, ".html").read_text()
    found = re.findall(r'<section class="[^"]*" id="([a-z-]+)"|<section id="([a-z-]+)"', text)
    order = [a or b for a, b in found]
    assert [s for s in order if s != "changes"] == list(SECTIONS), order
    assert "Gate PASSED" in text and "<script" not in text and '<link rel="stylesheet"' not in text
    for check_id in CHECK_IDS:
        assert check_id in text
    assert "VeriHome Troubleshooting Guide, " in text and ".txt" not in text, "guides are cited by title and section"
    assert str(ROOT) not in text and "/tmp/" not in text, "a machine path reached the report"
    assert "${SANDBOX_CA_BUNDLE}" in text, "the environment is shown as its file says it"
    assert not re.search(r"object at 0x|<fixtures\.|Outcome\.", text), "a Python repr reached the report"


def test_json_report_follows_its_schema(good_run: Run) -> None:
    schema = json.loads((ROOT / "docs" / "report.schema.json").read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())
    errors = [f"{'/'.join(map(str, e.path))}: {e.message}" for e in validator.iter_errors(good_run.document)]
    assert not errors, errors[:5]


def test_junit_test_cases_are_named_by_check(good_run: Run) -> None:
    names = [case.get("name", "") for case in ET.parse(report(good_run, ".xml")).getroot().iter("testcase")]
    assert sorted(name.split(" ", 1)[0] for name in names) == CHECK_IDS
    assert "HDR-01 Answers carry X-Content-Type-Options: nosniff" in names


def test_catalogue_is_current() -> None:
    current = (ROOT / "docs" / "CHECKS.md").read_text()
    assert current == catalogue(), "docs/CHECKS.md is out of date: run `make docs`"


def test_xdist_gives_the_same_verdicts(stack: Stack, good_run: Run, tmp_path: Path) -> None:
    """Under xdist one worker's bursts cannot wait for the other worker's checks: they leave from a second
    address here, as docs/CI.md advises for `--intrusive -n`."""
    env = write_env(
        tmp_path / "xdist.yml",
        {
            "extends": str(LOCAL),
            "name": "xdist",
            "inputs": {"AUTH-04": {"source_address": "127.0.0.2"}, "RATE-01": {"source_address": "127.0.0.2"}},
        },
    )
    parallel = stack.run(env, "good-xdist", "--intrusive", "-n", "2")
    assert parallel.verdicts() == good_run.verdicts()
    assert parallel.rc == good_run.rc


def test_canary_secrets_never_leak(stack: Stack, tmp_path: Path) -> None:
    """A webhook secret, a DSN password and an SMTP password that the run uses (and fails with) appear in no output."""
    hook_canary = f"whsec_canary{secrets.token_hex(8)}"
    smtp_canary = f"canarysmtp{secrets.token_hex(8)}"
    password_canary = f"canarypw{secrets.token_hex(8)}"
    dsn = urlsplit(stack.sandbox.variables("good")["SANDBOX_DATABASE_URL"])
    netloc = f"{dsn.username}:{password_canary}@{dsn.hostname}:{dsn.port}"
    env = write_env(
        tmp_path / "canary.yml",
        {
            "extends": str(LOCAL),
            "name": "canary",
            "webhooks": {"stripe": {"secret": "${CANARY_WEBHOOK_SECRET}"}},
            "database": {"dsn": "${CANARY_DATABASE_URL}"},
            "mail": {"smtp": {"password": "${CANARY_SMTP_PASSWORD}"}},
        },
    )
    obtained_file = tmp_path / "obtained.json"
    run = stack.run(
        env,
        "canary",
        "--intrusive",
        "-vv",
        "-rA",
        "--tb=long",
        "--showlocals",
        "-p",
        "selftests.obtained_plugin",
        extra_env={
            "SELFTEST_OBTAINED": str(obtained_file),
            "CANARY_WEBHOOK_SECRET": hook_canary,
            "CANARY_DATABASE_URL": urlunsplit(dsn._replace(netloc=netloc)),
            "CANARY_SMTP_PASSWORD": smtp_canary,
        },
    )
    outcomes = {c["id"]: c["outcome"] for c in run.document["checks"]}
    # The canaries were really used: the wrong password breaks the database, the wrong secret HOOK-05, the wrong
    # SMTP password MAIL-04's login.
    assert outcomes["DB-01"] == "failed" and outcomes["HOOK-05"] == "failed", outcomes
    assert outcomes["MAIL-04"] == "failed", outcomes
    assert outcomes["POOL-01"] == "blocked", outcomes  # by DB-01: the unreachable database is reported once
    outputs = {"terminal": run.out}
    outputs.update({path.name: path.read_text() for path in run.report_dir.iterdir()})
    html = next(run.report_dir.glob("*.html"))
    _, _, pdf = render_in_browser(html)
    outputs["the PDF"] = "".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)
    assert "DB-01" in outputs["the PDF"]
    # What the run obtained by logging in: the session's cookies and its token (a JWT), redacted like the file's.
    obtained = json.loads(obtained_file.read_text())
    assert len(obtained) >= 2 and any(value.count(".") == 2 for value in obtained), "the run logged in and got a token"
    assert "canary: the session's credentials are ***" in run.out, "AUTH-05 printed them (the plugin's canary)"
    for name, text in outputs.items():
        for value in obtained:
            assert value not in text, f"a credential the login obtained leaked into {name}"
        assert hook_canary not in text, f"the webhook secret leaked into {name}"
        assert password_canary not in text, f"the DSN password leaked into {name}"
        assert smtp_canary not in text, f"the SMTP password leaked into {name}"
    for check_id in ("DB-01", "POOL-01"):
        record = next(c for c in run.document["checks"] if c["id"] == check_id)
        assert f"{dsn.username}:***@" in record["message"], record["message"]
