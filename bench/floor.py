"""The sequential floor: the distinct exchanges a run made (bench/capture.py), replayed one after another.

Plain Python (requests, psycopg, redis-py; no pytest), with the suite's timeouts, TLS verification and
User-Agent: what a serial run cannot beat without sending less. Login-dependent requests carry the cookies and
tokens of the captured run, verbatim. Prints the wall time of each part and checks that it replayed as many
exchanges as the run made. It asserts nothing about speed.

    python -m bench.floor capture.json
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

USER_AGENT = "preflight/0.1 (+conformance check)"
CHUNK = 64 * 1024
MAX_BODY = 4 * 1024 * 1024


@dataclass
class Replay:
    seconds: dict[str, float] = field(default_factory=dict)
    counts: dict[str, tuple[int, int]] = field(default_factory=dict)  # part -> (replayed, the run's count)

    @property
    def total(self) -> float:
        return sum(self.seconds.values())

    def complete(self) -> bool:
        return all(replayed == expected for replayed, expected in self.counts.values())


def replay_http(http: dict[str, Any]) -> int:
    import requests
    from requests.cookies import cookielib

    class NoCookies(cookielib.DefaultCookiePolicy):
        def set_ok(self, cookie: Any, request: Any) -> bool:
            return False

    session = requests.Session()
    session.cookies.set_policy(NoCookies())
    session.headers["User-Agent"] = USER_AGENT
    session.trust_env = False
    connect, read = http.get("timeouts", [3, 5])
    replayed = 0
    for exchange in http["exchanges"]:
        body = base64.b64decode(exchange["body"]) if exchange["body"] is not None else None
        try:
            with session.request(
                exchange["method"],
                exchange["url"],
                headers=dict(exchange["headers"]),
                data=body,
                allow_redirects=exchange["allow_redirects"],
                timeout=(connect, read),
                verify=http["verify"],
                stream=True,
            ) as response:
                size = 0
                for chunk in response.iter_content(CHUNK):
                    size += len(chunk)
                    if size >= MAX_BODY:
                        break
        except requests.RequestException:
            pass  # an unreachable target is an exchange too (the run cached its failure)
        replayed += 1
    session.close()
    return replayed


def replay_sql(database: dict[str, Any]) -> int:
    import psycopg

    if not database.get("dsn"):
        return 0
    ms = max(1, int(database["timeout"] * 1000))
    options = f"-c statement_timeout={ms} -c lock_timeout={ms} -c idle_in_transaction_session_timeout={ms * 2}"
    replayed = 0
    with psycopg.connect(
        database["dsn"],
        connect_timeout=max(1, int(database["timeout"])),
        autocommit=True,
        application_name="preflight-floor",
        options=options,
    ) as conn:
        for statement in database["statements"]:
            with conn.cursor() as cursor:
                try:
                    cursor.execute(statement["sql"], statement["params"])
                    if cursor.description is not None:
                        cursor.fetchall()
                except psycopg.Error:
                    pass  # the run's statement failed too, or its parameter lost its type in JSON
            replayed += 1
    return replayed


def replay_redis(instances: list[dict[str, Any]]) -> int:
    import redis

    replayed = 0
    for instance in instances:
        options: dict[str, Any] = {
            "socket_connect_timeout": instance["timeout"],
            "socket_timeout": instance["timeout"],
            "decode_responses": True,
            "lib_name": None,
            "lib_version": None,
        }
        if instance["url"].startswith("rediss://") and instance["ca_bundle"]:
            options["ssl_ca_certs"] = instance["ca_bundle"]
        client = redis.Redis.from_url(instance["url"], **options)
        for command in instance["commands"]:
            with contextlib.suppress(redis.RedisError):  # an error reply is an exchange too
                client.execute_command(*command)
            replayed += 1
        client.close()
    return replayed


def replay(capture: dict[str, Any]) -> Replay:
    """Each part in turn, timed; the imports of its client library count (a run pays them too)."""
    result = Replay()
    http, database, instances = capture["http"], capture["database"], capture["redis"]
    for part, run, expected in (
        ("http", lambda: replay_http(http), len(http["exchanges"])),
        ("sql", lambda: replay_sql(database), len(database["statements"])),
        ("redis", lambda: replay_redis(instances), sum(len(i["commands"]) for i in instances)),
    ):
        began = time.perf_counter()
        replayed = run()
        result.seconds[part] = time.perf_counter() - began
        result.counts[part] = (replayed, expected)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("capture", type=Path, help="the JSON file bench/capture.py wrote")
    args = parser.parse_args()
    capture = json.loads(args.capture.read_text())
    result = replay(capture)
    http, database = capture["http"], capture["database"]
    print(
        f"BENCH floor total={result.total:.3f} "
        + " ".join(f"{part}={seconds:.3f}" for part, seconds in result.seconds.items())
    )
    for part, (replayed, expected) in result.counts.items():
        print(f"  {part:<6} {replayed:4d} replayed of {expected:4d} captured in {result.seconds[part]:6.3f} s")
    print(
        f"  the run: {http.get('sent', '?')} HTTP requests sent, {database.get('queries', '?')} Database.queries, "
        f"{sum(i['sent'] for i in capture['redis'])} Redis Instance.sent"
    )
    print(f"BENCH floor complete={'yes' if result.complete() else 'NO'}")


if __name__ == "__main__":
    main()
