"""The `redis` environment key: one instance inline or several by name, and its bad input."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from fixtures import environment as envmod
from fixtures.environment import EnvironmentFileError


def load(tmp_path: Path, text: str, name: str = "env.yml") -> envmod.Environment:
    path = tmp_path / name
    path.write_text(text)
    return envmod.load(path, "--env", environ={"REDIS_URL": "redis://:s3cret@cache:6379/0", "Q": "redis://q:6379/1"})


def test_one_instance_inline(tmp_path: Path) -> None:
    env = load(tmp_path, "name: x\nredis: {url: '${REDIS_URL}', roles: [session], queues: {email_queue: 5}}\n")
    [(name, spec)] = env.model.redis.all().items()
    assert name == "redis" and spec.queues == {"email_queue": 5} and spec.persistence == "optional"
    assert spec.durable_roles() == ["queue", "session"]
    assert env.redact("redis://:s3cret@cache:6379/0 s3cret") == "*** ***"


def test_several_instances_and_extends_overrides_one(tmp_path: Path) -> None:
    load(
        tmp_path,
        "name: base\nredis:\n  instances:\n"
        "    queues: {url: '${Q}', roles: [queue], queues: {email_queue: 1000}, persistence: required}\n"
        "    cache: {url: '${REDIS_URL}', roles: [cache]}\n",
        "base.yml",
    )
    env = load(tmp_path, "extends: base\nname: x\nredis: {instances: {queues: {queues: {email_queue: 10}}}}\n")
    instances = env.model.redis.all()
    assert list(instances) == ["redis.instances.queues", "redis.instances.cache"]
    assert instances["redis.instances.queues"].queues == {"email_queue": 10}
    assert instances["redis.instances.queues"].persistence == "required"
    assert instances["redis.instances.cache"].durable_roles() == []


BAD = {
    "both-forms": ("redis: {url: 'redis://a:1/0', instances: {b: {url: 'redis://b:1/0'}}}", r"not both"),
    "no-url": ("redis: {roles: [queue]}", r"set url \(one instance\) or instances"),
    "scheme": ("redis: {url: 'http://a:1/0'}", r"redis\.url: .*redis/rediss/unix URL"),
    "role": ("redis: {url: 'redis://a:1/0', roles: [queues]}", r"redis\.roles\.0: .*'queue'"),
    "negative": ("redis: {url: 'redis://a:1/0', queues: {email_queue: -1}}", r"backlog limit must be 0 or more"),
    "persistence": ("redis: {url: 'redis://a:1/0', persistence: always}", r"redis\.persistence: .*'required'"),
    "instance-key": ("redis: {instances: {a: {url: 'redis://a:1/0', ttl: 5}}}", r"redis\.instances\.a\.ttl: unknown"),
    "clear-password": (
        "redis: {url: 'redis://:pw@a:1/0'}",
        r"redis\.url: a URL with a password must come from a variable",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_redis_input_is_one_line(tmp_path: Path, case: str) -> None:
    text, pattern = BAD[case]
    with pytest.raises(EnvironmentFileError) as info:
        load(tmp_path, f"name: x\n{text}\n", f"{case}.yml")
    message = str(info.value)
    assert "\n" not in message and f"{case}.yml:2:" in message, message
    assert re.search(pattern, message), message
