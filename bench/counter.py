"""pytest plugin for the benchmarks: prints the HTTP exchanges asked for and sent, and the SQL queries."""

from __future__ import annotations

from typing import Any

import pytest


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    from fixtures.database import CONNECTION
    from fixtures.http import CACHE

    cache = config.stash.get(CACHE, None)
    database = config.stash.get(CONNECTION, None)
    queries = len(database.queries) if database is not None else 0
    if cache is not None or database is not None:
        asked, sent = (cache.asked, cache.sent) if cache is not None else (0, 0)
        terminalreporter.line(f"BENCH asked={asked} sent={sent} queries={queries}")
