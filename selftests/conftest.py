"""Self-test fixtures: a running sandbox with every twin, and the suite's runs against it."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from selftests.harness import LOCAL, Run, Stack, twin_env


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--twins",
        dest="twins",
        default="",
        help="comma-separated twins to start and test (default: all); the good stack always runs",
    )


def selected_twins(config: pytest.Config) -> list[Any]:
    """The twins this self-test run covers: all of them, or those named by --twins."""
    from sandbox import TWINS

    names = [n.strip() for n in config.getoption("twins").split(",") if n.strip()]
    unknown = [n for n in names if n not in TWINS]
    if unknown:
        raise pytest.UsageError(f"--twins: unknown twins {', '.join(unknown)}")
    return [TWINS[n] for n in dict.fromkeys(["good", *names])] if names else list(TWINS.values())


@pytest.fixture(scope="session")
def stack(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """The sandbox with the good stack and every twin, side by side, for the whole self-test run."""
    from sandbox import start

    folder = tmp_path_factory.mktemp("stack")
    sandbox = start([t.name for t in selected_twins(request.config)], workdir=folder / "sandbox")
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
def twin_runs(request: pytest.FixtureRequest, stack: Stack) -> dict[str, Run]:
    """For each twin, the checks it must break, run against it (three runs at a time)."""

    def one(twin: Any) -> tuple[str, Run]:
        env_file = twin_env(stack.folder, twin)
        selection = " or ".join(sorted(twin.breaks))
        return twin.name, stack.run(env_file, twin.name, "--intrusive", "-k", selection)

    twins = [t for t in selected_twins(request.config) if t.breaks]
    with ThreadPoolExecutor(max_workers=3) as pool:
        return dict(pool.map(one, twins))
