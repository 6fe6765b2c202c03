"""Twins for the POOL checks.

Twins of SQLAlchemy's pool (size, max_overflow, pool_timeout) run under Flask only: Django has no pool, one
connection per thread kept CONN_MAX_AGE seconds (the `recycle` of a `kind: django` pool).
"""

from __future__ import annotations

from sandbox.twins.model import H, Twin, V

TWINS = [
    Twin(
        name="pg-small-max-connections",
        description="PostgreSQL max_connections = 20: 17 usable slots for pools that may open "
        "2 x (5 + 5) = 20 connections.",
        guide=f"{H}: Too Many Connections",
        breaks={
            "POOL-01": r"can open 20 connections .* but the server allows max_connections 20",
        },
        postgres={"settings": {"max_connections": 20}},
        frameworks=("flask",),
    ),
    Twin(
        name="pg-connections-exhausted",
        description="Other clients hold 32 of 37 usable connections (max_connections = 40): "
        "the next pool overflow gets 'too many connections'.",
        guide=f"{V}: Database Connection Pool Exhausted",
        breaks={
            "POOL-02": r"client connections are open .* the limit is 80%",
        },
        postgres={"settings": {"max_connections": 40}, "hold_connections": 32},
    ),
    Twin(
        name="pg-idle-session-timeout",
        description="PostgreSQL idle_session_timeout = 10min is shorter than pool_recycle "
        "(1800 s): the server drops pooled connections before the pool recycles them.",
        guide=f"{H}: Connection Pool Configuration",
        breaks={
            "POOL-03": r"pool_recycle 1800 s is not shorter than the server's idle_session_timeout \(600 s\)",
        },
        postgres={"settings": {"idle_session_timeout": "10min"}},
    ),
    Twin(
        name="pool-timeout-too-long",
        description="SQLALCHEMY_POOL_TIMEOUT = 60 s exceeds the 30 s gunicorn timeout: workers "
        "are killed while they wait for a connection instead of failing fast.",
        guide=f"{V}: Database Connection Pool Exhausted",
        breaks={
            "POOL-04": r"pool_timeout 60 s is not between 0 and the request timeout 30 s",
        },
        app={"pool": {"timeout": 60}},
        env={"database": {"pool": {"timeout": 60}}},
        frameworks=("flask",),
    ),
    Twin(
        name="pool-guide-numbers-on-a-fleet",
        description="The guide's SQLALCHEMY_POOL_SIZE = 10 and MAX_OVERFLOW = 20 copied to 12 "
        "gunicorn workers: 360 connections against a server that allows 197.",
        guide=f"{V}: Database Connection Pool Exhausted",
        breaks={
            "POOL-01": r"can open 360 connections .* but the server allows max_connections 200",
        },
        app={"pool": {"size": 10, "max_overflow": 20}},
        env={"database": {"pool": {"processes": 12, "size": 10, "max_overflow": 20}}},
        postgres={"settings": {"max_connections": 200}},
        frameworks=("flask",),
    ),
    Twin(
        name="pool-behind-short-proxy-timeout",
        description="A proxy between the app and PostgreSQL (PgBouncer's server_idle_timeout, a "
        "cloud load balancer) closes idle connections after 300 s; pool_recycle is 1800 s.",
        guide=f"{H}: Connection Pool Configuration",
        breaks={
            "POOL-03": r"pool_recycle 1800 s is not shorter than the proxy idle timeout \(300 s\)",
        },
        env={"database": {"proxy_idle_timeout": 300}},
    ),
    Twin(
        name="pool-timeout-zero",
        description="pool_timeout = 0: every request that finds the pool busy fails at once "
        "instead of waiting a moment for a connection.",
        guide=f"{V}: Database Connection Pool Exhausted",
        breaks={
            "POOL-04": r"pool_timeout 0 s is not between 0 and the request timeout 30 s",
        },
        app={"pool": {"timeout": 0}},
        env={"database": {"pool": {"timeout": 0}}},
        frameworks=("flask",),
    ),
    Twin(
        name="django-conn-max-age-forever",
        description="CONN_MAX_AGE = None (persistent connections, never closed) behind a proxy that drops "
        "connections idle for 300 s: workers reuse connections the proxy has already closed.",
        guide=f"{H}: Connection Pool Configuration",
        breaks={
            "POOL-03": r"api: pool_recycle is off, but the proxy idle timeout \(300 s\) drops idle connections",
        },
        app={"pool": {"recycle": None}},
        env={"database": {"pool": {"recycle": -1}, "proxy_idle_timeout": 300}},
        frameworks=("django",),
    ),
    Twin(
        name="django-threads-on-a-fleet",
        description="gunicorn's gthread workers (16 processes x 16 threads) for Django, one connection per "
        "thread: 256 connections against a server that allows 197.",
        guide=f"{H}: Too Many Connections",
        breaks={
            "POOL-01": r"can open 256 connections \(api: 16 processes x 16 threads = 256\) "
            r"but the server allows max_connections 200",
        },
        env={"database": {"pool": {"processes": 16, "threads": 16}}},
        postgres={"settings": {"max_connections": 200}},
        frameworks=("django",),
    ),
]
