"""pytest plugin for the self-tests: writes each check's evidence, whatever its outcome, to the JSON file
named by $SELFTEST_EVIDENCE (the reports carry it for failures only)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fixtures.run import CHECK, EVIDENCE

SEEN: dict[str, str] = {}


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[Any]) -> Iterator[None]:
    yield
    # Rendered when the check ends, as the reports render it: later checks' reads are not yet there.
    if call.when == "call" and CHECK in item.stash and EVIDENCE in item.stash:
        SEEN[item.stash[CHECK].id] = item.stash[EVIDENCE].render()


def pytest_sessionfinish(session: pytest.Session) -> None:
    Path(os.environ["SELFTEST_EVIDENCE"]).write_text(json.dumps(SEEN, indent=1))
