"""The matrix: every check passes on the good stack and fails, naming the problem, on its twins.

A twin runs under each framework of `Twin.frameworks`: the SPA with the Flask or the Django API, or a
server-rendered site (django-site, flask-site); its instance is `<twin>` (Flask) or `<twin>@<framework>`,
as in the test ids (`cors-reflect-any@django:CORS-03`). The good twin runs under every framework: a good
stack of every shape.
"""

from __future__ import annotations

import re

import pytest

from fixtures.catalogue import checks
from sandbox.catalogue import proving_twins
from sandbox.twins import FRAMEWORKS, TWINS, split_instance

CHECK_IDS = [c.id for c in checks()]
PAIRS = [
    (twin.instance(framework), check_id, pattern)
    for twin in TWINS.values()
    for framework in twin.frameworks
    for check_id, pattern in twin.breaks.items()
]
BLOCKED = [
    (twin.instance(framework), check_id, root)
    for twin in TWINS.values()
    for framework in twin.frameworks
    for check_id, root in twin.blocked.items()
]
GOOD = [(framework, check_id) for framework in FRAMEWORKS for check_id in CHECK_IDS]


def test_every_check_has_a_proving_twin() -> None:
    proof = proving_twins()
    missing = [check_id for check_id in CHECK_IDS if check_id not in proof]
    assert not missing, f"checks without a failing twin: {', '.join(missing)}"


def test_twins_name_real_checks() -> None:
    unknown = sorted(set(proving_twins()) - set(CHECK_IDS))
    assert not unknown, f"twins break checks that do not exist: {', '.join(unknown)}"


def test_twins_name_real_frameworks() -> None:
    wrong = {t.name: t.frameworks for t in TWINS.values() if not t.frameworks or set(t.frameworks) - set(FRAMEWORKS)}
    assert not wrong, f"twins with unknown or no frameworks: {wrong}"


# What a check may end in on a good stack: it holds, or it does not fit that stack's shape or keys, or
# it could not run there; the last two must say why. Never failed, blocked or waived.
GOOD_OUTCOMES = ("passed", "not applicable", "not checked")


@pytest.mark.parametrize(
    ("framework", "check_id"),
    GOOD,
    ids=[check_id if fw == "flask" else f"good@{fw}:{check_id}" for fw, check_id in GOOD],
)
def test_passes_on_the_good_stack(request, framework: str, check_id: str) -> None:
    good_runs = request.getfixturevalue("good_runs")
    if framework not in good_runs:
        pytest.skip(f"framework {framework} is not selected by --frameworks")
    record = good_runs[framework].record(check_id)
    assert record["outcome"] in GOOD_OUTCOMES, (
        f"{check_id} is {record['outcome']} on the good stack ({framework}): {record['message']}"
    )
    assert record["outcome"] == "passed" or record["message"].strip(), (
        f"{check_id} is {record['outcome']} on the good stack ({framework}) without a reason"
    )


@pytest.mark.parametrize("check_id", CHECK_IDS)
def test_passes_on_some_good_stack(request, check_id: str) -> None:
    """No check is left proven only by its failures: some good stack of the run sees it pass."""
    good_runs = request.getfixturevalue("good_runs")
    outcomes = {framework: run.record(check_id)["outcome"] for framework, run in good_runs.items()}
    assert "passed" in outcomes.values(), f"{check_id} passes on no good stack of this run: {outcomes}"


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_good_run_passes_the_gate(request, framework: str) -> None:
    good_runs = request.getfixturevalue("good_runs")
    if framework not in good_runs:
        pytest.skip(f"framework {framework} is not selected by --frameworks")
    run = good_runs[framework]
    assert run.rc == 0, run.out[-4000:]
    assert run.document["gate"] == "passed"


@pytest.mark.parametrize(("twin", "check_id", "pattern"), PAIRS, ids=[f"{t}:{c}" for t, c, _ in PAIRS])
def test_fails_on_its_twin(twin_runs, twin: str, check_id: str, pattern: str) -> None:
    if twin not in twin_runs:
        pytest.skip(f"twin {twin} is not selected by --twins / --frameworks")
    run = twin_runs[twin]
    record = run.record(check_id)
    name = split_instance(twin)[0]
    assert record["outcome"] == "failed", (
        f"{check_id} is {record['outcome']} on twin {twin} ({TWINS[name].description}): {record['message']}"
    )
    assert re.search(pattern, record["message"], re.IGNORECASE | re.DOTALL), (
        f"{check_id} failed on {twin} but its message does not name the problem /{pattern}/: {record['message']}"
    )
    assert run.rc == 1, f"the gate did not fail on twin {twin}"


@pytest.mark.parametrize(("twin", "check_id", "root"), BLOCKED, ids=[f"{t}:{c}<{r}" for t, c, r in BLOCKED])
def test_blocked_on_its_twin(twin_runs, twin: str, check_id: str, root: str) -> None:
    """A cascade is reported once: the root fails, the check that depends on it is blocked by it."""
    if twin not in twin_runs:
        pytest.skip(f"twin {twin} is not selected by --twins / --frameworks")
    run = twin_runs[twin]
    record = run.record(check_id)
    assert (record["outcome"], record.get("blocked_by")) == ("blocked", root), (
        f"{check_id} on {twin}: expected blocked by {root}, got {record['outcome']}: {record['message']}"
    )
    failed = [c["id"] for c in run.document["checks"] if c["outcome"] == "failed"]
    assert check_id not in failed and root in failed


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_prefetch_sends_nothing_no_check_asks(request, framework: str) -> None:
    """Probe early, but no more: every exchange sent ahead of the checks is one that a check then asked for."""
    good_runs = request.getfixturevalue("good_runs")
    if framework not in good_runs:
        pytest.skip(f"framework {framework} is not selected by --frameworks")
    http = good_runs[framework].document["http"]
    assert http["unused_prefetches"] == 0, http
