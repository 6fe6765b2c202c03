"""Do no harm, fail safely: the RDS checks leave every Redis instance unchanged and send only
read-only commands; an unreachable, hanging or unverifiable Redis is a failure, never a skip."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import redis

from fixtures.redis import READ_ONLY, Instance, WriteRefused, connect
from fixtures.schema import RedisInstance
from sandbox.proc import Supervisor
from sandbox.redis_server import RedisServer
from selftests.harness import LOCAL, Listener, Stack, free_port, run_suite, write_env

# What commandstats may show after a run: READ_ONLY, plus AUTH (the URL's password).
ALLOWED = {c.lower().replace(" ", "|") for c in READ_ONLY} | {"auth", "select"}
FAULT_TIMEOUTS = {"connect": 2, "read": 2, "database": 2}


def _urls(stack: Stack) -> dict[str, str]:
    variables = stack.sandbox.variables("good")
    return {"main": variables["SANDBOX_REDIS_URL"], "cache": variables["SANDBOX_REDIS_CACHE_URL"]}


def _snapshot(client: redis.Redis) -> tuple[int, str]:
    """DBSIZE and a digest of every key: its name, serialized value (DUMP) and absolute expiry."""
    digest = hashlib.sha256()
    for key in sorted(client.scan_iter(count=1000)):
        digest.update(key + b"\0" + (client.dump(key) or b"") + str(client.expiretime(key)).encode() + b"\0")
    return int(client.dbsize()), digest.hexdigest()


def _commandstats(client: redis.Redis) -> dict[str, int]:
    stats = {name.removeprefix("cmdstat_"): int(s["calls"]) for name, s in client.info("commandstats").items()}
    stats.pop("config|resetstat", None)  # the self-test's own, counted once after the reset
    return stats


def test_a_full_run_leaves_redis_unchanged(stack: Stack) -> None:
    ca = stack.sandbox.variables("good")["SANDBOX_CA_BUNDLE"]
    clients = {
        name: redis.Redis.from_url(url, **({"ssl_ca_certs": ca} if url.startswith("rediss:") else {}))
        for name, url in _urls(stack).items()
    }
    try:
        before = {name: _snapshot(client) for name, client in clients.items()}
        assert before["main"][0] > 0 and before["cache"][0] > 0, "the good stack's Redis should hold seeded keys"
        for client in clients.values():
            client.config_resetstat()
        # The whole suite (without intrusive bursts, which other self-tests' runs share the stack with).
        run = stack.run(LOCAL, "redis-safety")
        outcomes = {c["id"]: c["outcome"] for c in run.document["checks"] if c["id"].startswith("RDS-")}
        assert outcomes == dict.fromkeys(["RDS-01", "RDS-02", "RDS-03", "RDS-04", "RDS-05"], "passed"), run.out[-3000:]
        sent = {name: _commandstats(client) for name, client in clients.items()}
        after = {name: _snapshot(client) for name, client in clients.items()}
    finally:
        for client in clients.values():
            client.close()
    password = urlsplit(_urls(stack)["main"]).password
    assert password and password not in run.out and password not in json.dumps(run.document)
    total = sum(sum(stats.values()) for stats in sent.values())
    print(f"full run: {total} Redis commands: {sent}")
    for name, stats in sent.items():
        assert set(stats) <= ALLOWED, f"{name}: the suite sent commands outside the read-only set: {stats}"
    assert after == before, f"a run of the RDS checks changed Redis: {before} -> {after}"


def test_the_client_refuses_writes(stack: Stack) -> None:
    url = _urls(stack)["main"]
    instance = _instance(url)
    try:
        for command in (("SET", "k", "v"), ("FLUSHDB",), ("CONFIG SET", "maxmemory-policy", "allkeys-lru")):
            with pytest.raises(WriteRefused):
                instance.call(*command)
        with pytest.raises(WriteRefused):
            instance.call("CONFIG", "SET", "maxmemory-policy", "allkeys-lru")
        assert instance.sent == []
        assert instance.info()["maxmemory_policy"] == "noeviction"
    finally:
        instance.close()


def _instance(url: str) -> Instance:
    return connect("redis", RedisInstance(url=url), connect_timeout=2, read_timeout=2)


def _fault_env(folder: Path, url: str, **extra: Any) -> Path:
    return write_env(
        folder / "redis-fault.yml",
        {
            "name": "redis-faults",
            "timeouts": FAULT_TIMEOUTS,
            "redis": {"url": url, "roles": ["queue"], "queues": {"email_queue": 10}, "persistence": "required"},
            **extra,
        },
    )


def test_nothing_listening_fails_every_check(tmp_path: Path) -> None:
    port = free_port()
    run = run_suite(_fault_env(tmp_path, f"redis://127.0.0.1:{port}/0"), tmp_path / "reports", "-k", "RDS")
    for record in run.document["checks"]:
        assert record["outcome"] == "failed", record
        assert f"redis unreachable: redis (redis://127.0.0.1:{port}/0)" in record["message"], record["message"]
        assert "Connection refused" in record["message"], record["message"]
    assert len(run.document["checks"]) == 5 and run.rc == 1


def test_a_hanging_redis_times_out(tmp_path: Path) -> None:
    listener = Listener("hang")
    try:
        run = run_suite(_fault_env(tmp_path, f"redis://127.0.0.1:{listener.port}/0"), tmp_path / "reports", "-k", "RDS")
    finally:
        listener.close()
    for record in run.document["checks"]:
        assert record["outcome"] == "failed", record
        assert "timed out (2s)" in record["message"], record["message"]


def test_rediss_verifies_the_certificate(stack: Stack, tmp_path: Path) -> None:
    """TLS verification is on by default: the sandbox's TLS cache Redis, without its CA, is refused."""
    url = _urls(stack)["cache"]
    assert urlsplit(url).scheme == "rediss" and urlsplit(url).hostname == "localhost"
    env = _fault_env(tmp_path, "${CACHE_URL}")
    run = run_suite(env, tmp_path / "reports", "-k", "RDS-01", extra_env={"CACHE_URL": url})
    record = run.record("RDS-01")
    assert record["outcome"] == "failed", record
    assert "certificate verify failed" in record["message"], record["message"]


@pytest.fixture
def managed_redis(tmp_path: Path) -> Iterator[RedisServer]:
    """A Redis that refuses CONFIG, as managed services do; RDB rules on, AOF off, no snapshot yet."""
    supervisor = Supervisor()
    server = RedisServer(
        tmp_path / "managed",
        tmp_path / "managed.log",
        {"rename-command": 'CONFIG ""', "appendonly": "no"},
        {"lists": {"email_queue": 2}},
        "redis-server managed",
    )
    try:
        server.start(supervisor, time.monotonic() + 20)
        yield server
    finally:
        supervisor.close()
        supervisor.stop()


def test_config_refused_falls_back_to_info(managed_redis: RedisServer, tmp_path: Path) -> None:
    """Without CONFIG, RDS-02/03 read INFO; RDS-05 cannot confirm required persistence and fails."""
    env = write_env(
        tmp_path / "managed.yml",
        {
            "name": "managed",
            "timeouts": FAULT_TIMEOUTS,
            "redis": {
                "instances": {
                    "queues": {
                        "url": "${MANAGED_URL}",
                        "roles": ["queue", "session"],
                        "queues": {"email_queue": 10},
                        "persistence": "required",
                    },
                    "sessions": {"url": "${MANAGED_URL}", "roles": ["session"]},
                }
            },
        },
    )
    run = run_suite(env, tmp_path / "reports", "-k", "RDS", extra_env={"MANAGED_URL": managed_redis.url})
    outcomes = {c["id"]: c["outcome"] for c in run.document["checks"]}
    assert outcomes == {**dict.fromkeys(["RDS-01", "RDS-02", "RDS-03", "RDS-04"], "passed"), "RDS-05": "failed"}, (
        run.out[-3000:]
    )
    message = run.record("RDS-05")["message"]
    assert "redis.instances.queues" in message and "CONFIG GET save was refused" in message, message
    assert "redis.instances.sessions" not in message, message
    assert managed_redis.password not in run.out


def test_undeclared_roles_are_inferred_from_lists(stack: Stack) -> None:
    """`redis: {url}` alone: RDS-02 finds the seeded queues by sampling; RDS-04 is not applicable."""
    env = write_env(
        stack.folder / "rds-infer.yml",
        {"name": "rds-infer", "sandbox": {"twin": "good"}, "redis": {"url": "${SANDBOX_REDIS_URL}"}},
    )
    run = stack.run(env, "rds-infer", "-k", "RDS-02 or RDS-04")
    assert run.record("RDS-02")["outcome"] == "passed", run.record("RDS-02")
    assert run.record("RDS-04")["outcome"] == "not applicable"
    assert "redis.queues is not configured" in run.record("RDS-04")["message"]
