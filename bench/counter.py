"""pytest plugin for the benchmarks: prints the HTTP exchanges asked for and sent, the SQL queries and the Redis
commands."""

from __future__ import annotations

from typing import Any

import pytest


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    from fixtures.database import CONNECTION
    from fixtures.http import CACHE
    from fixtures.redis import INSTANCES

    cache = config.stash.get(CACHE, None)
    database = config.stash.get(CONNECTION, None)
    instances = config.stash.get(INSTANCES, [])
    queries = len(database.queries) if database is not None else 0
    if cache is not None or database is not None or instances:
        asked, sent = (cache.asked, cache.sent) if cache is not None else (0, 0)
        unused = len(cache.unused()) if cache is not None else 0
        commands = sum(len(instance.sent) for instance in instances)
        terminalreporter.line(f"BENCH asked={asked} sent={sent} unused={unused} queries={queries} redis={commands}")
