"""Self-test fixtures: a running sandbox with every twin, and the suite's runs against it."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from selftests.harness import LOCAL, Run, Stack, twin_env


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """The sandbox with the good stack and every twin, side by side, for the whole self-test run."""
    from sandbox import TWINS, start

    folder = tmp_path_factory.mktemp("stack")
    sandbox = start(list(TWINS), workdir=folder / "sandbox")
    try:
        state = folder / "state.json"
        sandbox.write_state(state)
        yield Stack(sandbox, state, folder)
    finally:
        sandbox.stop()


@pytest.fixture(scope="session")
def good_run(stack: Stack) -> Run:
    """The whole suite, intrusive checks included, against the good stack."""
    return stack.run(LOCAL, "good", "--intrusive")


@pytest.fixture(scope="session")
def twin_runs(stack: Stack) -> dict[str, Run]:
    """For each twin, the checks it must break, run against it (three runs at a time)."""
    from sandbox import TWINS

    def one(twin: Any) -> tuple[str, Run]:
        env_file = twin_env(stack.folder, twin)
        selection = " or ".join(sorted(twin.breaks))
        return twin.name, stack.run(env_file, twin.name, "--intrusive", "-k", selection)

    twins = [t for t in TWINS.values() if t.breaks]
    with ThreadPoolExecutor(max_workers=3) as pool:
        return dict(pool.map(one, twins))
