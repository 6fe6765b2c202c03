"""pytest plugin for the benchmarks: prints how many HTTP exchanges were asked for and sent."""

from __future__ import annotations

from typing import Any

import pytest


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    from fixtures.http import CACHE

    cache = config.stash.get(CACHE, None)
    if cache is not None:
        terminalreporter.line(f"BENCH asked={cache.asked} sent={cache.sent}")
