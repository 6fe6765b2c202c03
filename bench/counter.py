"""pytest plugin for the benchmarks: prints the HTTP exchanges asked for and sent, the SQL statements and the Redis
commands sent, and the round trips each took (a pipeline is one; connecting is not counted)."""

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
    queries, db_trips = (len(database.queries), database.round_trips) if database is not None else (0, 0)
    if cache is not None or database is not None or instances:
        asked, sent = (cache.asked, cache.sent) if cache is not None else (0, 0)
        unused = len(cache.unused()) if cache is not None else 0
        commands = sum(len(instance.sent) for instance in instances)
        redis_trips = sum(instance.round_trips for instance in instances)
        terminalreporter.line(
            f"BENCH asked={asked} sent={sent} unused={unused} queries={queries} db_round_trips={db_trips} "
            f"redis={commands} redis_round_trips={redis_trips}"
        )
