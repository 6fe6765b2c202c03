"""pytest plugin for the start-up benchmark: when the first check began (wall clock), and what the checks took
(setup, call and teardown, as pytest measures them)."""

from __future__ import annotations

import time
from typing import Any

import pytest

SEEN = {"first_check": 0.0, "checks": 0.0}


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_logstart(nodeid: str, location: Any) -> None:
    SEEN["first_check"] = SEEN["first_check"] or time.time()


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    SEEN["checks"] += report.duration


def pytest_terminal_summary(terminalreporter: Any) -> None:
    terminalreporter.line("BENCH " + " ".join(f"{key}={value:.6f}" for key, value in SEEN.items()))
