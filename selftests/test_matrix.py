"""The matrix: every check passes on the good stack and fails, naming the problem, on its twins."""

from __future__ import annotations

import re

import pytest

from fixtures.catalogue import checks, proving_twins
from sandbox import TWINS

CHECK_IDS = [c.id for c in checks()]
PAIRS = [(twin.name, check_id, pattern) for twin in TWINS.values() for check_id, pattern in twin.breaks.items()]


def test_every_check_has_a_proving_twin() -> None:
    proof = proving_twins()
    missing = [check_id for check_id in CHECK_IDS if check_id not in proof]
    assert not missing, f"checks without a failing twin: {', '.join(missing)}"


def test_twins_name_real_checks() -> None:
    unknown = sorted(set(proving_twins()) - set(CHECK_IDS))
    assert not unknown, f"twins break checks that do not exist: {', '.join(unknown)}"


@pytest.mark.parametrize("check_id", CHECK_IDS)
def test_passes_on_the_good_stack(good_run, check_id: str) -> None:
    record = good_run.record(check_id)
    assert record["outcome"] == "passed", f"{check_id} is {record['outcome']} on the good stack: {record['message']}"


def test_good_run_passes_the_gate(good_run) -> None:
    assert good_run.rc == 0, good_run.out[-4000:]
    assert good_run.document["gate"] == "passed"


@pytest.mark.parametrize(("twin", "check_id", "pattern"), PAIRS, ids=[f"{t}:{c}" for t, c, _ in PAIRS])
def test_fails_on_its_twin(twin_runs, twin: str, check_id: str, pattern: str) -> None:
    if twin not in twin_runs:
        pytest.skip(f"twin {twin} is not selected by --twins")
    run = twin_runs[twin]
    record = run.record(check_id)
    assert record["outcome"] == "failed", (
        f"{check_id} is {record['outcome']} on twin {twin} ({TWINS[twin].description}): {record['message']}"
    )
    assert re.search(pattern, record["message"], re.IGNORECASE | re.DOTALL), (
        f"{check_id} failed on {twin} but its message does not name the problem /{pattern}/: {record['message']}"
    )
    assert run.rc == 1, f"the gate did not fail on twin {twin}"
