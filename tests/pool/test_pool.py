"""POOL: the declared connection pools against the live PostgreSQL server."""

from __future__ import annotations

from typing import Any

from fixtures.check import Database, EnvironmentModel, Pool, Statement, check, fail_on, prefetch_sql

RESERVED = "SELECT coalesce(current_setting('reserved_connections', true), '0')"
CONNECTIONS = (
    "SELECT coalesce(state, 'unknown'), count(*) FROM pg_stat_activity"
    " WHERE backend_type = 'client backend' GROUP BY 1 ORDER BY 2 DESC"
)
# pg_settings gives the raw value in the setting's unit (ms); current_setting() formats it.
IDLE_SESSION_TIMEOUT = "SELECT setting::bigint FROM pg_settings WHERE name = 'idle_session_timeout'"


def _budget_reads(env: EnvironmentModel, inputs: dict[str, Any]) -> list[Statement]:
    return [
        Database.setting_read("max_connections"),
        Database.setting_read("superuser_reserved_connections"),
        (RESERVED, ()),
    ]


def _budget(db: Any) -> tuple[int, str]:
    """Connections that ordinary roles may open, and how that number was made."""
    max_connections = int(db.setting("max_connections"))
    superuser = int(db.setting("superuser_reserved_connections"))
    # reserved_connections exists from PostgreSQL 16 on.
    reserved = int(db.value(RESERVED, shared=True))
    usable = max_connections - superuser - reserved
    how = (
        f"max_connections {max_connections} - superuser_reserved_connections {superuser}"
        f" - reserved_connections {reserved} = {usable}"
    )
    return usable, how


def _pools(need: Any, env: Any) -> list[Pool]:
    """The API pool and every other declared client (workers, cron); not applicable when none."""
    pools = env.database.pools() if env.database else []
    return pools or [need("database.pool")]


def _demand(pool: Pool) -> str:
    processes = f"{pool.processes}" + (f"+{pool.surge} surge" if pool.surge else "")
    if pool.kind == "django":
        return f"{pool.name}: {processes} processes x {pool.threads} threads"
    return f"{pool.name}: {processes} processes x (pool_size {pool.size} + max_overflow {max(pool.max_overflow, 0)})"


@check(
    "POOL-01",
    severity="high",
    guide=["V: Database Connection Pool Exhausted", "H: Too Many Connections", "H: Connection Pool Configuration"],
    references=["postgres-checkup: max_connections", "check_postgres: backends"],
)
@prefetch_sql(_budget_reads)
def test_pools_fit_the_server(need, db, env) -> None:
    """The declared pools fit inside the server's connection limit.

    Every process of every client opens up to pool_size + max_overflow connections (Django: one
    per worker thread), and a rolling deploy runs the surge replicas at the same time. When the sum
    exceeds what the server allows ordinary roles, the next traffic peak or deploy ends in "too
    many connections" errors or QueuePool timeouts.

    Fix: lower pool_size/max_overflow or the worker count, put PgBouncer in front, or raise
    max_connections (a restart) so that processes x (pool_size + max_overflow), summed over all
    clients and including surge replicas, stays within max_connections minus the reserved slots.
    """
    pools = _pools(need, env)
    usable, how = _budget(db)
    demand = sum(pool.connections() for pool in pools)
    if demand > usable:
        detail = "; ".join(f"{_demand(p)} = {p.connections()}" for p in pools)
        fail_on([f"the declared pools can open {demand} connections ({detail}) but the server allows {how}"])


@check(
    "POOL-02",
    severity="high",
    guide=["H: Too Many Connections", "V: Database Connection Pool Exhausted"],
    inputs={"max_usage_percent": 80},
    references=["check_postgres: backends"],
)
@prefetch_sql(lambda env, inputs: [*_budget_reads(env, inputs), (CONNECTIONS, ())])
def test_connection_headroom(db, inputs) -> None:
    """There is connection headroom right now.

    When live connections already fill most of the usable budget, the next deploy or burst of
    traffic exhausts it. The guide's first diagnostic is exactly this count from pg_stat_activity.

    Fix: find who holds the connections (SELECT usename, application_name, state, count(*) FROM
    pg_stat_activity GROUP BY 1, 2, 3), end leaked idle sessions, shrink oversized pools or add
    PgBouncer.
    """
    usable, how = _budget(db)
    rows = db.rows(CONNECTIONS)
    live = sum(count for _, count in rows)
    limit = usable * inputs["max_usage_percent"] / 100
    if live >= limit:
        states = ", ".join(f"{count} {state}" for state, count in rows)
        fail_on(
            [
                f"{live} client connections are open ({states}): {live * 100 // max(usable, 1)}% of the usable "
                f"{usable} ({how}); the limit is {inputs['max_usage_percent']}%"
            ]
        )


@check(
    "POOL-03",
    severity="medium",
    guide=["V: Database Connection Pool Exhausted", "H: Connection Pool Configuration"],
)
@prefetch_sql(lambda env, inputs: [(IDLE_SESSION_TIMEOUT, ())])
def test_connections_recycled_before_dropped(need, db, env) -> None:
    """Pooled connections are recycled before the server or a proxy drops them.

    If PostgreSQL's idle_session_timeout or a proxy's idle timeout closes a pooled connection
    first, the application's next query on it fails ("server closed the connection unexpectedly")
    unless pre-ping catches it, and users see intermittent 500s after quiet periods.

    Fix: set pool_recycle (SQLAlchemy) or CONN_MAX_AGE (Django) below the shortest idle timeout
    between the application and PostgreSQL, or raise that timeout.
    """
    pools = _pools(need, env)
    limits: list[tuple[float, str]] = []
    idle_ms = int(db.value(IDLE_SESSION_TIMEOUT) or 0)
    if idle_ms > 0:
        limits.append((idle_ms / 1000, f"the server's idle_session_timeout ({idle_ms / 1000:g} s)"))
    proxy = env.database.proxy_idle_timeout
    if proxy:
        limits.append((proxy, f"the proxy idle timeout ({proxy:g} s)"))
    problems = []
    for pool in pools:
        if pool.kind == "django" and pool.recycle == 0:
            continue  # CONN_MAX_AGE = 0: each request closes its connection, none stays idle
        for seconds, what in limits:
            if pool.recycle <= 0:
                problems.append(f"{pool.name}: pool_recycle is off, but {what} drops idle connections")
            elif pool.recycle >= seconds:
                problems.append(f"{pool.name}: pool_recycle {pool.recycle:g} s is not shorter than {what}")
    fail_on(problems)


@check(
    "POOL-04",
    severity="medium",
    guide=["V: Database Connection Pool Exhausted"],
)
def test_pool_wait_fails_fast(need, env) -> None:
    """Waiting for a pooled connection gives up before the request does.

    With pool_timeout at or above the worker's request timeout (gunicorn --timeout), an exhausted
    pool does not raise "QueuePool limit reached" but gets the worker killed mid-request, which
    hides the real cause and drops every request on that worker. A timeout of 0 fails at once.

    Fix: set SQLALCHEMY_POOL_TIMEOUT (pool_timeout) to a few seconds, well below gunicorn's timeout.
    """
    pools = _pools(need, env)
    request_timeout = need("api.request_timeout")
    problems = [
        f"{pool.name}: pool_timeout {pool.timeout:g} s is not between 0 and the request timeout {request_timeout:g} s"
        for pool in pools
        if pool.kind == "sqlalchemy" and not 0 < pool.timeout < request_timeout
    ]
    fail_on(problems)
