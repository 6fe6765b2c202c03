"""pytest plugin for the benchmarks: writes the distinct exchanges a run made to a JSON file, for bench/floor.py.

    pytest --env=local ... -p bench.capture --bench-capture=capture.json

What it writes: the HTTP cache's entries (method, url, headers, body, allow_redirects: what makes an exchange
distinct), every SQL statement sent with its parameters, and every Redis command with its arguments, by
instance. Database.queries and Instance.sent name the statements and commands but not their parameters, so the
plugin records what psycopg's cursors and redis-py's clients are asked to execute as well, and writes both
counts. Serial runs only: under xdist each worker holds its own cache.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

SQL: list[tuple[str, Any]] = []
REDIS: dict[int, list[list[Any]]] = {}


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--bench-capture", type=Path, default=None, help="bench: write the run's exchanges here")


def _record_calls() -> None:
    """Wrap psycopg's and redis-py's execute so that the parameters of what is sent are kept; the real call
    is made unchanged."""
    import psycopg
    import redis

    execute = psycopg.Cursor.execute
    command = redis.Redis.execute_command

    def cursor_execute(self: Any, query: Any, params: Any = None, **kwargs: Any) -> Any:
        text = query.decode() if isinstance(query, bytes) else query if isinstance(query, str) else None
        SQL.append((text if text is not None else query.as_string(self), params))
        return execute(self, query, params, **kwargs)

    def execute_command(self: Any, *args: Any, **options: Any) -> Any:
        REDIS.setdefault(id(self), []).append(list(args))
        return command(self, *args, **options)

    psycopg.Cursor.execute = cursor_execute  # type: ignore[method-assign]
    redis.Redis.execute_command = execute_command  # type: ignore[method-assign]


def pytest_configure(config: pytest.Config) -> None:
    if config.getoption("--bench-capture") is not None:
        _record_calls()


def _http(config: pytest.Config) -> dict[str, Any]:
    from fixtures.http import CACHE, Unreachable

    cache = config.stash.get(CACHE, None)
    if cache is None:
        return {"verify": True, "exchanges": []}
    exchanges = []
    for key, result in cache.entries.items():
        method, url, headers, body, allow_redirects = key
        exchanges.append(
            {
                "method": method,
                "url": url,
                "headers": [list(pair) for pair in headers],
                "body": None if body is None else base64.b64encode(body).decode(),
                "allow_redirects": allow_redirects,
                "reached": not isinstance(result, Unreachable),
            }
        )
    timeouts = [cache.connect_timeout, cache.read_timeout]
    return {"verify": cache.verify, "timeouts": timeouts, "sent": cache.sent, "exchanges": exchanges}


def _database(config: pytest.Config) -> dict[str, Any]:
    from fixtures.database import CONNECTION

    database = config.stash.get(CONNECTION, None)
    if database is None:
        return {"dsn": None, "queries": 0, "statements": []}
    statements = [{"sql": sql, "params": params} for sql, params in SQL]
    queries = len(database.queries)
    return {"dsn": database.dsn, "timeout": database.timeout, "queries": queries, "statements": statements}


def _redis(config: pytest.Config) -> list[dict[str, Any]]:
    from fixtures.http import CACHE
    from fixtures.redis import INSTANCES

    cache = config.stash.get(CACHE, None)
    bundle = cache.verify if cache is not None and isinstance(cache.verify, str) else None
    return [
        {
            "name": instance.name,
            "url": instance.spec.url,
            "ca_bundle": bundle,
            "timeout": instance.timeout,
            "sent": len(instance.sent),
            "commands": REDIS.get(id(instance.client), []),
        }
        for instance in config.stash.get(INSTANCES, [])
    ]


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    out = config.getoption("--bench-capture")
    if out is None:
        return
    capture = {"http": _http(config), "database": _database(config), "redis": _redis(config)}
    Path(out).write_text(json.dumps(capture, indent=1, default=str))
    http, database = capture["http"], capture["database"]
    commands = sum(len(instance["commands"]) for instance in capture["redis"])
    terminalreporter.line(
        f"BENCH capture: {len(http['exchanges'])} HTTP exchanges, {len(database['statements'])} SQL statements, "
        f"{commands} Redis commands -> {out}"
    )
