"""RDS: the declared Redis instances (sessions, queues, cache), through read-only commands."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable

import pytest

from fixtures.check import EnvironmentModel, Instance, RedisView, check, fail_on, prefetch_redis

INFO = ("INFO",)
FIRST_LISTS = ("SCAN", 0, "COUNT", 100, "TYPE", "list")  # the first page that _sample_lists reads


def _each(rds: RedisView, look: Callable[[Instance], list[str]]) -> list[str]:
    """Problems over every instance; one unreachable instance does not hide the others."""
    problems: list[str] = []
    for instance in rds:
        try:
            problems += look(instance)
        except pytest.fail.Exception as exc:
            problems.append(str(exc.msg))
    return problems


def _key(env: EnvironmentModel, key: str) -> str:
    """The key path to name when no instance sets `key` (the first instance's, for several)."""
    assert env.redis is not None
    return f"redis.instances.{next(iter(env.redis.instances))}.{key}" if env.redis.instances else f"redis.{key}"


def _setting(instance: Instance, info_field: str, config_name: str) -> tuple[str | None, str]:
    """A server setting from INFO, else CONFIG GET; the second value says where it came from."""
    info = instance.info()
    if info_field in info:
        return str(info[info_field]), f"INFO {info_field}"
    value, refused = instance.config(config_name)
    if value is not None:
        return value, f"CONFIG GET {config_name}"
    return None, f"INFO has no {info_field} and CONFIG GET {config_name} was refused ({refused})"


@check(
    "RDS-01",
    severity="critical",
    guide=["H: Session Issues", "H: Email Service Issues"],
)
@prefetch_redis(lambda spec, inputs: [("PING",)])
def test_redis_answers_ping(rds) -> None:
    """Redis is reachable.

    Sessions, rate limits and the email queue live in Redis: when it does not answer, logins fail,
    every rate-limited request errors and queued email stops. The guide's first diagnostic is
    `redis-cli ping`.

    Fix: start Redis (systemctl status redis, docker-compose restart redis), and check that the
    declared URL's host, port, password and TLS setting (rediss://) match the server, and that the
    firewall or security group lets the application hosts reach it. A PING answered with MISCONF
    means Redis cannot save its snapshot (see RDS-05).
    """

    def ping(instance: Instance) -> list[str]:
        began = time.monotonic()
        reply, error = instance.try_call("PING")
        took = f"after {time.monotonic() - began:.2f}s"
        if error is not None and error.startswith("MISCONF"):
            # Redis fails PING on purpose while it cannot persist, so that monitoring notices.
            return [f"{instance.where}: PING answered MISCONF {took}: Redis cannot persist to disk and refuses writes"]
        if error is not None:
            return [f"{instance.where}: PING answered an error {took}: {error}; expected PONG"]
        if reply not in (True, "PONG"):
            return [f"{instance.where}: PING answered {reply!r} {took}; expected PONG"]
        return []

    fail_on(_each(rds, ping))


@check(
    "RDS-02",
    severity="high",
    guide=["H: Email Queue Management", "H: Session Issues", "V: Session Expires Too Quickly"],
    inputs={"sample_keys": 1000},
    references=["redis.io: Key eviction"],
)
@prefetch_redis(lambda spec, inputs: [INFO] + ([] if spec.roles or spec.durable_roles() else [FIRST_LISTS]))
def test_queues_and_sessions_are_not_evicted(need, rds, env, inputs) -> None:
    """Queues and sessions are never evicted.

    With any maxmemory-policy other than noeviction, a full Redis deletes keys to make room:
    queued emails and jobs vanish without an error, and evicted sessions log users out at random
    ("users are logged out frequently"). An instance holds queues or sessions when its roles say so
    (queue, session, broker) or it declares queues; when it declares no roles, a sample of its keys
    (SCAN ... TYPE list, at most sample_keys keys) finds lists, i.e. queues.

    Fix: set `maxmemory-policy noeviction` on every instance that holds queues, sessions or a
    broker (CONFIG SET maxmemory-policy noeviction and in redis.conf, or the parameter group of a
    managed Redis), and move caches that should evict to an instance of their own.
    """
    assessed = []

    def policy(instance: Instance) -> list[str]:
        roles = instance.spec.durable_roles()
        how = "declared" if set(roles) <= set(instance.spec.roles) else "declared; its queues imply the queue role"
        if not roles and not instance.spec.roles:
            lists = _sample_lists(instance, inputs["sample_keys"])
            if lists:
                roles, how = ["queue"], f"inferred: sampled keys {', '.join(lists[:3])} are lists"
        if not roles:
            return []
        assessed.append(instance)
        value, source = _setting(instance, "maxmemory_policy", "maxmemory-policy")
        if value is None:
            return [f"{instance.where}: holds {', '.join(roles)} ({how}) but its eviction policy is unknown: {source}"]
        if value != "noeviction":
            limit = instance.info().get("maxmemory_human", "?")
            return [
                f"{instance.where} holds {', '.join(roles)} ({how}) but maxmemory-policy is {value} "
                f"(from {source}; maxmemory {limit}): a full Redis deletes queued jobs and sessions; "
                "expected noeviction"
            ]
        return []

    problems = _each(rds, policy)
    if not problems and not assessed:
        need(_key(env, "roles"))
    fail_on(problems)


def _sample_lists(instance: Instance, budget: int) -> list[str]:
    found: list[str] = []
    cursor, seen = 0, 0
    while seen < budget:
        cursor, keys = instance.call("SCAN", cursor, "COUNT", 100, "TYPE", "list")
        found += keys
        seen += 100
        if int(cursor) == 0 or len(found) >= 3:
            break
    return found


@check(
    "RDS-03",
    severity="medium",
    guide=["H: Memory Issues", "H: Session Issues"],
    inputs={"max_memory_percent": 90, "max_clients_percent": 90},
)
@prefetch_redis(lambda spec, inputs: [INFO])
def test_memory_and_client_headroom(rds, inputs) -> None:
    """There is memory and client headroom.

    When used_memory reaches maxmemory, a noeviction Redis answers every write with an OOM error
    (no new sessions, no queued email) and an evicting one starts deleting keys. When
    connected_clients reaches maxclients, new connections are refused. Both are near-outages that
    the next traffic peak turns into real ones.

    Fix: find what grows (redis-cli --bigkeys, MEMORY STATS; CLIENT LIST for leaked connections),
    trim it or give keys a TTL, raise maxmemory (and the container's memory limit) or maxclients,
    or split caches onto their own instance.
    """

    def headroom(instance: Instance) -> list[str]:
        info = instance.info()
        problems = []
        used, limit = int(info["used_memory"]), int(info.get("maxmemory", 0))
        what = f"maxmemory {_mb(limit)}"
        if limit == 0:
            limit = int(info.get("total_system_memory", 0))
            what = f"no maxmemory (0); the host's total_system_memory {_mb(limit)}"
        if limit and used * 100 >= limit * inputs["max_memory_percent"]:
            problems.append(
                f"{instance.where}: used_memory {_mb(used)} is {used * 100 / limit:.0f}% of {what}; "
                f"expected under {inputs['max_memory_percent']}%"
            )
        clients = int(info["connected_clients"])
        value, source = _setting(instance, "maxclients", "maxclients")
        if value is None:
            problems.append(f"{instance.where}: {clients} connected clients, but maxclients is unknown: {source}")
        elif clients * 100 >= int(value) * inputs["max_clients_percent"]:
            problems.append(
                f"{instance.where}: connected_clients {clients} is {clients * 100 / int(value):.0f}% of maxclients "
                f"{value}; expected under {inputs['max_clients_percent']}%"
            )
        return problems

    fail_on(_each(rds, headroom))


def _mb(size: int) -> str:
    return f"{size / 1024 / 1024:.1f} MiB"


@check(
    "RDS-04",
    severity="high",
    guide=[
        "H: Email Service Issues",
        "H: Email Queue Management",
        "V: Background Worker Not Running",
        "V: Password Reset Emails Not Arriving",
    ],
)
@prefetch_redis(lambda spec, inputs: [("LLEN", queue) for queue in spec.queues])
def test_queue_backlogs_are_bounded(need, rds, env) -> None:
    """Queue backlogs are bounded.

    A queue that grows past what the workers clear in a few minutes means the worker is down,
    stuck or too slow: password-reset and notification emails arrive late or not at all, and the
    backlog eats Redis memory. Each declared queue (a list key) has its own threshold.

    Fix: check the worker (supervisorctl status / systemctl status of the worker, its logs), fix
    what makes jobs fail and retry (the email_retry_queue grows), scale the workers, and only then
    drain the backlog.
    """
    if not any(instance.spec.queues for instance in rds):
        need(_key(env, "queues"))

    def backlog(instance: Instance) -> list[str]:
        problems = []
        for queue, limit in instance.spec.queues.items():
            length, refused = instance.try_call("LLEN", queue)
            if refused is not None:
                kind = instance.call("TYPE", queue)
                what = f"is a {kind}, not a list" if kind != "list" else "could not be measured"
                problems.append(f"{instance.where}: queue {queue} {what}: LLEN answered {refused}")
            elif int(length) > limit:
                problems.append(
                    f"{instance.where}: queue {queue} holds {length} items (LLEN); its threshold is {limit}"
                )
        return problems

    fail_on(_each(rds, backlog))


@check(
    "RDS-05",
    severity="high",
    guide=["H: Email Queue Management", "H: Session Issues"],
    references=["redis.io: Redis persistence"],
)
@prefetch_redis(lambda spec, inputs: [INFO])
def test_persistence_is_healthy(rds) -> None:
    """Persistence is healthy where it is required.

    An instance declared `persistence: required` must have RDB snapshots or the AOF on, and its
    last snapshot and AOF write must have succeeded, or a restart loses the queued jobs and
    sessions. A failed snapshot is reported on every instance: with stop-writes-on-bgsave-error
    (the default) Redis then refuses every write with MISCONF.

    Fix: read the Redis log for the failing save ("Failed opening the temp RDB file", "No space
    left on device", fork errors): give the redis user a writable `dir` with free space and
    enough memory to fork (vm.overcommit_memory=1); enable `save` rules or `appendonly yes` where
    persistence is required.
    """

    def persistence(instance: Instance) -> list[str]:
        info = instance.info()
        problems = []
        statuses = ("rdb_last_bgsave_status", "aof_last_write_status", "aof_last_bgrewrite_status")
        for status in statuses:
            value = info.get(status)
            if value is not None and value != "ok":
                problems.append(f"{instance.where}: {status} is {value}; expected ok{_after_failure(instance, status)}")
        if instance.spec.persistence == "required":
            problems += _persistence_enabled(instance)
        return problems

    fail_on(_each(rds, persistence))


def _after_failure(instance: Instance, status: str) -> str:
    info = instance.info()
    if status != "rdb_last_bgsave_status":
        return ""
    last = dt.datetime.fromtimestamp(int(info.get("rdb_last_save_time", 0)), dt.UTC).strftime("%Y-%m-%d %H:%M:%S")
    changes = info.get("rdb_changes_since_last_save", "?")
    text = f" (rdb_last_save_time {last} UTC, the last good save or the start; {changes} changes since)"
    stop, _ = instance.config("stop-writes-on-bgsave-error")
    if stop == "yes":
        text += "; with stop-writes-on-bgsave-error yes, Redis refuses every write (MISCONF)"
    return text


def _persistence_enabled(instance: Instance) -> list[str]:
    info = instance.info()
    if int(info.get("aof_enabled", 0)):
        return []
    save, refused = instance.config("save")
    if save:
        return []
    if save is None:
        # A managed Redis may refuse CONFIG: a snapshot since the start shows RDB is in use.
        if int(info.get("rdb_last_bgsave_time_sec", -1)) >= 0:
            return []
        return [
            f"{instance.where}: persistence is required (persistence: required) but could not be confirmed: AOF is "
            f"off (aof_enabled 0), CONFIG GET save was refused ({refused}) and no snapshot ran since the start"
        ]
    return [
        f"{instance.where}: persistence is required (persistence: required) but RDB snapshots are off "
        f'(save "") and AOF is off (aof_enabled 0): a restart loses every key'
    ]
