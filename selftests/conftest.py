"""Self-test fixtures: a running sandbox with every twin, and the suite's runs against it."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from selftests.harness import BASES, LOCAL, Run, Stack, twin_env


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--twins",
        dest="twins",
        default="",
        help="comma-separated twins to start and test (default: all); the good stack always runs",
    )
    parser.addoption(
        "--frameworks",
        dest="frameworks",
        default="",
        help="comma-separated frameworks to run the twins under (flask, django, django-site, flask-site; "
        "default: all); the good Flask stack always runs",
    )


def _option_names(config: pytest.Config, option: str, known: Iterable[str], hint: str = "") -> list[str]:
    """The comma-separated names given to --<option>; one usage line for any unknown name."""
    names = [n.strip() for n in config.getoption(option).split(",") if n.strip()]
    unknown = [n for n in names if n not in known]
    if unknown:
        raise pytest.UsageError(f"--{option}: unknown {option} {', '.join(unknown)}{hint}")
    return names


def selected_twins(config: pytest.Config) -> list[Any]:
    """The twins this self-test run covers: all of them, or those named by --twins."""
    from sandbox.twins import TWINS

    names = _option_names(config, "twins", TWINS)
    return [TWINS[n] for n in dict.fromkeys(["good", *names])] if names else list(TWINS.values())


def selected_frameworks(config: pytest.Config) -> list[str]:
    from sandbox.twins import FRAMEWORKS

    names = _option_names(config, "frameworks", FRAMEWORKS, f" (known: {', '.join(FRAMEWORKS)})")
    return [fw for fw in FRAMEWORKS if fw in names] if names else list(FRAMEWORKS)


def selected_instances(config: pytest.Config) -> list[tuple[Any, str]]:
    """(twin, framework) for each selected twin under each selected framework it exists in; good under Flask first."""
    from sandbox.twins import TWINS

    frameworks = selected_frameworks(config)
    pairs = [(TWINS["good"], "flask")]
    pairs += [(t, fw) for t in selected_twins(config) for fw in frameworks if fw in t.frameworks]
    unique = {twin.instance(fw): (twin, fw) for twin, fw in reversed(pairs)}
    return list(reversed(unique.values()))


@pytest.fixture(scope="session")
def stack(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """The sandbox with the good stack and every twin, side by side, for the whole self-test run."""
    from sandbox.stack import start

    folder = tmp_path_factory.mktemp("stack")
    names = [twin.instance(fw) for twin, fw in selected_instances(request.config)]
    sandbox = start(names, workdir=folder / "sandbox")
    try:
        state = folder / "state.json"
        sandbox.write_state(state)
        yield Stack(sandbox, state, folder)
    finally:
        sandbox.stop()


@pytest.fixture(scope="session")
def good_run(stack: Stack) -> Run:
    """The whole suite, intrusive checks included, against the good stack (Flask)."""
    return stack.run(LOCAL, "good", "--intrusive")


@pytest.fixture(scope="session")
def good_runs(request: pytest.FixtureRequest, stack: Stack, good_run: Run) -> dict[str, Run]:
    """The whole suite against the good stack under each selected framework (each shape's good stack)."""
    runs = {"flask": good_run}
    for framework in selected_frameworks(request.config):
        if framework not in runs:
            runs[framework] = stack.run(BASES[framework], f"good@{framework}", "--intrusive")
    return runs


@pytest.fixture(scope="session")
def twin_runs(request: pytest.FixtureRequest, stack: Stack) -> dict[str, Run]:
    """For each twin instance, the checks it must break, run against it (three runs at a time)."""

    def one(pair: tuple[Any, str]) -> tuple[str, Run]:
        twin, framework = pair
        env_file = twin_env(stack.folder, twin, framework)
        selection = " or ".join(sorted({*twin.breaks, *twin.blocked}))
        instance = twin.instance(framework)
        return instance, stack.run(env_file, instance, "--intrusive", "-k", selection)

    pairs = [(t, fw) for t, fw in selected_instances(request.config) if t.breaks]
    with ThreadPoolExecutor(max_workers=3) as pool:
        return dict(pool.map(one, pairs))
