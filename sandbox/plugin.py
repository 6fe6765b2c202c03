"""The sandbox's pytest plugin: it provides the ${SANDBOX_*} variables of environments that declare
`sandbox:` (pytest_preflight_variables), starting what they point at.

The xdist controller starts the sandbox once (or attaches to one started by `python -m sandbox up`)
and hands its variables to the workers through `workerinput`; it stops it at the end of the run.
preflight itself never imports this package: the root conftest.py registers this plugin when the
sandbox extra is installed.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from sandbox.state import StateError, read_state
from sandbox.variables import VARIABLES

SANDBOX = pytest.StashKey[Any]()
STARTED = pytest.StashKey[dict[str, dict[str, str]]]()
WORKER_KEY = "preflight_sandbox_variables"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("preflight")
    group.addoption(
        "--sandbox-state",
        dest="preflight_sandbox_state",
        metavar="FILE",
        help="attach to a sandbox started by `python -m sandbox up` instead of starting one",
    )


def instance_of(document: dict[str, Any]) -> str | None:
    """The instance an environment asks for: its twin (Flask), or `<twin>@<framework>`; None without `sandbox:`."""
    section = document.get("sandbox")
    if not isinstance(section, dict):
        return None
    twin, framework = str(section.get("twin", "good")), str(section.get("framework", "flask"))
    return twin if framework == "flask" else f"{twin}@{framework}"


@pytest.hookimpl
def pytest_preflight_variables(config: pytest.Config, document: dict[str, Any], path: Path) -> dict[str, str] | None:
    instance = instance_of(document)
    return None if instance is None else variables_for(config, instance)


def variables_for(config: pytest.Config, instance: str) -> dict[str, str]:
    """The variables of an instance, starting the sandbox on first use (controller only)."""
    workerinput = getattr(config, "workerinput", None)
    if workerinput is not None:
        shared = workerinput.get(WORKER_KEY) or {}
        if instance not in shared:
            raise pytest.UsageError(f"sandbox twin {instance!r} was not started by the controller")
        return shared[instance]
    started = config.stash.setdefault(STARTED, {})
    if instance not in started:
        if config.option.collectonly:
            return dict(VARIABLES)
        started.update(_start_or_attach(config, instance))
    return started[instance]


def _start_or_attach(config: pytest.Config, instance: str) -> dict[str, dict[str, str]]:
    state = config.getoption("preflight_sandbox_state")
    if state:  # the running sandbox's instances are the twins there are: nothing of the twins is imported
        try:
            running = read_state(Path(state))
        except StateError as exc:
            raise pytest.UsageError(f"sandbox: {exc}") from None
        if instance not in running:
            raise pytest.UsageError(
                f"{state}: the running sandbox has no twin {instance!r} (has: {', '.join(running)})"
            )
        return running
    from sandbox.stack import SandboxError, start  # the sandbox's apps: imported only to start them
    from sandbox.twins import resolve

    try:
        resolve(instance)
    except ValueError as exc:
        raise pytest.UsageError(f"sandbox.twin / sandbox.framework: {exc} (see `python -m sandbox twins`)") from None
    try:
        sandbox = start([instance])
    except SandboxError as exc:
        raise pytest.UsageError(f"sandbox: {exc}") from None
    config.stash[SANDBOX] = sandbox
    return {instance: sandbox.variables(instance)}


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    """xdist: workers reuse the controller's sandbox."""
    node.workerinput[WORKER_KEY] = json.loads(json.dumps(node.config.stash.get(STARTED, {})))


def pytest_report_header(config: pytest.Config) -> list[str]:
    if SANDBOX in config.stash:
        return [f"preflight sandbox: started for this run in {config.stash[SANDBOX].workdir}, stopped at the end"]
    if config.stash.get(STARTED, None) and config.getoption("preflight_sandbox_state"):
        return [f"preflight sandbox: attached to {config.getoption('preflight_sandbox_state')}"]
    return []


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config: pytest.Config) -> None:
    sandbox = config.stash.get(SANDBOX, None)
    if sandbox is not None:
        sandbox.stop()
