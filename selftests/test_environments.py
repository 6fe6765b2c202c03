"""The environment loader: selection, precedence, extends, interpolation, and every kind of bad input."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from fixtures import environment as envmod
from fixtures.environment import EnvironmentFileError
from sandbox.variables import VARIABLES

ROOT = Path(__file__).resolve().parent.parent

GOOD = """\
name: shop
description: a shop
web:
  url: https://shop.example
  spa_routes: [/a, /b]
database:
  dsn: ${DATABASE_URL}
  pool: {processes: 2, size: 5, max_overflow: 5, timeout: 10, recycle: 1800}
webhooks:
  stripe: {url: "https://shop.example/hooks/", secret: "${HOOK_SECRET:-whsec_default}"}
waivers:
  - {id: SPA-03, reason: "CDN migration, ticket 7", expires: 2099-12-31}
"""


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def load(path: Path, **environ: str) -> envmod.Environment:
    return envmod.load(path, "--env", environ=environ)


def error_of(path: Path, **environ: str) -> str:
    with pytest.raises(EnvironmentFileError) as info:
        load(path, **environ)
    return str(info.value)


# --- selection -----------------------------------------------------------------------------------


def test_option_wins_over_variable_and_default() -> None:
    assert envmod.choose("prod", {"PREFLIGHT_ENV": "staging"}) == envmod.Choice("prod", "--env")
    assert envmod.choose(None, {"PREFLIGHT_ENV": "staging"}) == envmod.Choice("staging", "PREFLIGHT_ENV")
    assert envmod.choose(None, {}) == envmod.Choice("local", "default")


def test_names_resolve_in_environments_and_paths_anywhere(tmp_path: Path) -> None:
    assert envmod.resolve("prod") == ROOT / "environments" / "prod.yml"
    path = write(tmp_path, "mine.yml", GOOD)
    assert envmod.resolve(str(path)) == path


def test_unknown_environment_lists_the_known_ones() -> None:
    with pytest.raises(EnvironmentFileError, match=r"unknown environment 'nope'.*known: .*local.*prod"):
        envmod.resolve("nope")


def test_every_shipped_environment_is_valid() -> None:
    environ = {
        "DATABASE_URL": "postgresql://u:p@db:5432/x",
        "REDIS_URL": "redis://:p@cache:6379/0",
        "STRIPE_WEBHOOK_SECRET": "whsec_x",
        "SMOKE_PASSWORD": "pw",
        "SMOKE_EMAIL": "smoke@example.com",
    }
    for path in sorted((ROOT / "environments").glob("*.yml")):
        if path.stem.startswith("local"):  # the sandbox's: its plugin provides SANDBOX_*
            env = envmod.load(path, "--env", environ={}, plugin_variables=lambda document: VARIABLES)
        else:
            env = envmod.load(path, "--env", environ=environ)
        assert env.name == path.stem


# --- interpolation, extends, secrets ----------------------------------------------------------------


def test_interpolation_and_defaults(tmp_path: Path) -> None:
    env = load(write(tmp_path, "e.yml", GOOD), DATABASE_URL="postgresql://app:s3cret-pw@db/app")
    assert env.model.database.dsn == "postgresql://app:s3cret-pw@db/app"
    assert env.model.webhooks.stripe.secret == "whsec_default"
    assert {"s3cret-pw", "whsec_default", "postgresql://app:s3cret-pw@db/app"} <= env.secrets
    assert "s3cret-pw" not in str(env.redacted_dump())


def test_dollar_dollar_escapes(tmp_path: Path) -> None:
    path = write(tmp_path, "e.yml", "name: x\ndescription: costs $$5 and ${A}\n")
    assert load(path, A="b").model.description == "costs $5 and b"


def test_extends_deep_merges_and_replaces_lists(tmp_path: Path) -> None:
    write(tmp_path, "base.yml", GOOD)
    child = write(
        tmp_path, "prod.yml", "extends: base\nproduction: true\nweb: {spa_routes: [/c]}\ndatabase: {pool: {size: 3}}\n"
    )
    env = load(child, DATABASE_URL="postgresql://app:pw@db/app")
    assert env.name == "prod"
    assert env.model.production is True
    assert env.model.web.url == "https://shop.example"
    assert env.model.web.spa_routes == ["/c"]
    assert env.model.database.pool.size == 3
    assert env.model.database.pool.max_overflow == 5


def test_extends_cycle(tmp_path: Path) -> None:
    write(tmp_path, "a.yml", "extends: b\n")
    b = write(tmp_path, "b.yml", "extends: a\n")
    assert "extends: cycle" in error_of(b)


# --- bad input: one line naming the file, the key and the line --------------------------------------

BAD = {
    "bad-yaml": ("name: x\nweb: {url: [\n", r"bad-yaml\.yml:3: invalid YAML"),
    "unknown-key": (
        "name: x\nweb:\n  url: https://a.example\n  colour: blue\n",
        r"unknown-key\.yml:4: web\.colour: unknown key",
    ),
    "wrong-type": (
        "name: x\ndatabase:\n  dsn: ${D}\n  pool: {processes: ten}\n",
        r"wrong-type\.yml:4: database\.pool\.processes: .*integer.*'ten'",
    ),
    "unset-variable": (
        "name: x\ndatabase:\n  dsn: ${NOT_SET_ANYWHERE}\n",
        r"unset-variable\.yml:3: database\.dsn: variable NOT_SET_ANYWHERE is not set",
    ),
    "waiver-date": (
        "name: x\nwaivers:\n  - {id: HDR-03, reason: rollout, expires: next tuesday}\n",
        r"waiver-date\.yml:3: waivers\.0\.expires: .*date",
    ),
    "waiver-id": (
        "name: x\nwaivers:\n  - {id: hdr3, reason: rollout, expires: 2030-01-01}\n",
        r"waivers\.0\.id: a check id",
    ),
    "literal-secret": (
        "name: x\nwebhooks:\n  stripe: {url: https://a.example/h, secret: whsec_oops}\n",
        r"literal-secret\.yml:3: webhooks\.stripe\.secret: a secret must not be written in the file",
    ),
    "duplicate-key": (
        "name: x\nproduction: true\nproduction: false\n",
        r"duplicate-key\.yml:3: production: duplicate key",
    ),
    "not-a-mapping": ("- a\n- b\n", r"not-a-mapping\.yml:1: the top level must be a mapping"),
    "unique-key": (
        "name: x\ndatabase:\n  dsn: ${D}\n  unique: [users(upper(email))]\n",
        r"unique-key\.yml:4: database\.unique: .*'upper\(email\)' is neither a column nor lower\(column\)",
    ),
    "relation": (
        "name: x\ndatabase:\n  dsn: ${D}\n  relations: [properties.owner_id => users.id]\n",
        r"relation\.yml:4: database\.relations: a relation looks like child_table\.column -> parent_table\.column",
    ),
    "django-migration": (
        "name: x\ndatabase:\n  dsn: ${D}\n  migrations: {django: [0001_initial]}\n",
        r"django-migration\.yml:4: database\.migrations\.django: a Django migration looks like app\.0001_initial",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_input_names_file_key_and_line(tmp_path: Path, case: str) -> None:
    text, pattern = BAD[case]
    message = error_of(write(tmp_path, f"{case}.yml", text), D="postgresql://a@b/c")
    assert "\n" not in message
    assert re.search(pattern, message), message


def pytest_cli(tmp_path: Path, *args: str, environ: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), **(environ or {})}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "--co", "--no-reports", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )


@pytest.mark.parametrize("case", ["bad-yaml", "unknown-key", "wrong-type", "unset-variable", "waiver-date"])
def test_cli_bad_input_is_one_line_and_exit_4(tmp_path: Path, case: str) -> None:
    path = write(tmp_path, f"{case}.yml", BAD[case][0])
    done = pytest_cli(tmp_path, f"--env={path}")
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert done.returncode == 4, done.stdout + done.stderr
    assert len(lines) == 1 and lines[0].startswith("ERROR: "), done.stderr
    assert f"{case}.yml" in lines[0]
    assert "Traceback" not in done.stdout + done.stderr


def test_cli_unknown_environment(tmp_path: Path) -> None:
    done = pytest_cli(tmp_path, "--env=nowhere")
    assert done.returncode == 4
    assert "unknown environment 'nowhere'" in done.stderr
    assert "Traceback" not in done.stdout + done.stderr


def test_cli_bad_option_value(tmp_path: Path) -> None:
    done = pytest_cli(tmp_path, "--env=prod", "--fail-on=sometimes")
    assert done.returncode == 4
    assert "--fail-on" in done.stderr and "invalid choice" in done.stderr


def test_header_states_the_environment_and_why(tmp_path: Path) -> None:
    path = write(tmp_path, "shop.yml", GOOD)
    by_variable = pytest_cli(tmp_path, environ={"PREFLIGHT_ENV": str(path), "DATABASE_URL": "postgresql://a@b/c"})
    assert by_variable.returncode == 0, by_variable.stdout + by_variable.stderr
    assert f"chosen by PREFLIGHT_ENV={path}" in by_variable.stdout
    by_option = pytest_cli(
        tmp_path, f"--env={path}", environ={"PREFLIGHT_ENV": "nowhere", "DATABASE_URL": "postgresql://a@b/c"}
    )
    assert by_option.returncode == 0, by_option.stdout + by_option.stderr
    assert f"chosen by --env {path}" in by_option.stdout


def test_cli_unwritable_report_dir(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "--env=prod", "--report-dir=/proc/preflight-reports"],
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 4
    assert done.stderr.strip().startswith("ERROR: --report-dir: cannot write reports to /proc/preflight-reports")
    assert "Traceback" not in done.stdout + done.stderr
