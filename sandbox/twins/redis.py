"""Twins for the RDS checks. Each with Redis settings or setup runs its own queue/session instance."""

from __future__ import annotations

from sandbox.twins.model import H, Twin, V

TWINS = [
    Twin(
        name="redis-unreachable",
        description="The declared queue/session Redis URL points at a port where nothing listens "
        "(a wrong port, a stopped server, a firewall that rejects).",
        guide=f"{H}: Session Issues",
        breaks={
            "RDS-01": r"redis unreachable: redis\.instances\.main \(redis://127\.0\.0\.1:1/0\): .*connection refused",
        },
        env={"redis": {"instances": {"main": {"url": "redis://127.0.0.1:1/0"}}}},
    ),
    Twin(
        name="redis-queue-evicts",
        description="The queue and session instance runs maxmemory-policy allkeys-lru, the setting "
        "for a cache: when it fills, Redis deletes queued emails and sessions.",
        guide=f"{H}: Email Queue Management",
        breaks={
            "RDS-02": r"redis\.instances\.main .* holds queue, session \(declared\) but maxmemory-policy is "
            r"allkeys-lru .* expected noeviction",
        },
        redis={"settings": {"maxmemory-policy": "allkeys-lru"}},
    ),
    Twin(
        name="redis-sessions-volatile-lru",
        description="The session store runs maxmemory-policy volatile-lru: sessions carry a TTL, so "
        "they are exactly the keys Redis evicts when memory fills (users are logged out).",
        guide=f"{V}: Session Expires Too Quickly",
        breaks={
            "RDS-02": r"holds queue, session \(declared\) but maxmemory-policy is volatile-lru",
        },
        redis={"settings": {"maxmemory-policy": "volatile-lru"}, "setup": {"sessions": 50}},
    ),
    Twin(
        name="redis-memory-full",
        description="The queue instance (maxmemory 16 MiB, noeviction) is 95% full: the next burst "
        "of writes is answered with OOM errors.",
        guide=f"{H}: Memory Issues",
        breaks={
            "RDS-03": r"redis\.instances\.main .*: used_memory 1[5-6]\.\d MiB is 9[5-9]% of maxmemory 16\.0 MiB; "
            r"expected under 90%",
        },
        redis={"settings": {"maxmemory": "16mb"}, "setup": {"fill_memory_percent": 95}},
    ),
    Twin(
        name="redis-clients-exhausted",
        description="maxclients 20 with 18 connections held open by leaked clients: the next "
        "workers to start get 'max number of clients reached'.",
        guide=f"{H}: Session Issues",
        breaks={
            "RDS-03": r"redis\.instances\.main .*: connected_clients (19|20) is (9[5-9]|100)% of maxclients 20; "
            r"expected under 90%",
        },
        redis={"settings": {"maxclients": 20}, "setup": {"hold_clients": 18}},
    ),
    Twin(
        name="redis-email-backlog",
        description="1500 emails wait in email_queue (threshold 1000): the email worker is not running.",
        guide=f"{V}: Background Worker Not Running",
        breaks={
            "RDS-04": r"redis\.instances\.main .*: queue email_queue holds 1500 items \(LLEN\); its threshold is 1000",
        },
        redis={"setup": {"lists": {"email_queue": 1500, "email_retry_queue": 20}}},
    ),
    Twin(
        name="redis-bgsave-fails",
        description="Redis runs as an unprivileged user whose `dir` it cannot write: the snapshot "
        "(BGSAVE) fails, and with stop-writes-on-bgsave-error Redis refuses writes (MISCONF).",
        guide=f"{H}: Email Queue Management",
        breaks={
            "RDS-01": r"redis\.instances\.main .*: PING answered MISCONF .*: Redis cannot persist to disk",
            "RDS-05": r"redis\.instances\.main .*: rdb_last_bgsave_status is err; expected ok .* "
            r"stop-writes-on-bgsave-error yes, Redis refuses every write",
        },
        # No AOF: with an unwritable dir, Redis would not start.
        redis={
            "settings": {"appendonly": "no"},
            "setup": {"unwritable_dir": True, "lists": {"email_queue": 2}, "bgsave": True},
        },
    ),
    Twin(
        name="redis-no-persistence",
        description="The queue and session instance, declared persistence: required, has RDB "
        "snapshots and AOF off: a restart loses every queued email and session.",
        guide=f"{H}: Email Queue Management",
        breaks={
            "RDS-05": r"redis\.instances\.main .*: persistence is required \(persistence: required\) but RDB "
            r'snapshots are off \(save ""\) and AOF is off',
        },
        redis={"settings": {"appendonly": "no", "save": ""}},
    ),
]
