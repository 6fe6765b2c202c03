"""The framework dimension: twin instances (`<twin>@django`), their names in environments and on the command line."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from fixtures import environment as envmod
from sandbox.__main__ import instances
from sandbox.plugin import instance_of
from sandbox.twins import FRAMEWORKS, TWINS, resolve
from sandbox.variables import VARIABLES
from selftests.harness import LOCAL_DJANGO, twin_env


def test_instance_names_resolve() -> None:
    assert resolve("good") == (TWINS["good"], "flask")
    assert resolve("good@django") == (TWINS["good"], "django")
    assert TWINS["cors-reflect-any"].instance("django") == "cors-reflect-any@django"


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("cors-no-vary@django", "twin 'cors-no-vary' does not run under django (only flask)"),
        ("no-such-twin@django", "unknown twin 'no-such-twin'"),
        ("good@rails", "unknown framework 'rails'"),
    ],
)
def test_bad_instance_names_say_why(name: str, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        resolve(name)


def test_up_picks_the_instances_a_twin_has() -> None:
    django = instances(["all"], "django")
    assert django and all(name.endswith("@django") for name in django)
    assert "cors-no-vary@django" not in django
    both = instances(["cors-no-vary", "cors-reflect-any"], "all")
    assert both == ["cors-no-vary", "cors-reflect-any", "cors-reflect-any@django"]
    assert instances(["good"], FRAMEWORKS[0]) == ["good"]


def test_local_django_asks_the_sandbox_for_the_django_instance() -> None:
    asked: list[str] = []

    def variables(document: dict[str, Any]) -> dict[str, str]:
        asked.append(instance_of(document) or "")
        return VARIABLES

    env = envmod.load(LOCAL_DJANGO, "--env", environ={}, plugin_variables=variables)
    assert asked == ["good@django"]
    assert env.model.sandbox is not None and env.model.sandbox.framework == "django"
    assert env.model.session is not None
    assert env.model.session.cookies.session == ["sessionid"]


def test_a_twin_environment_keeps_the_framework(tmp_path: Path) -> None:
    asked: list[str] = []

    def variables(document: dict[str, Any]) -> dict[str, str]:
        asked.append(instance_of(document) or "")
        return VARIABLES

    path = twin_env(tmp_path, TWINS["hook-unverified"], "django")
    envmod.load(path, "--env", environ={}, plugin_variables=variables)
    assert asked == ["hook-unverified@django"]
