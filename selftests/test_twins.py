"""Twins are typed overrides per part, checked where they are declared; declaring them imports no app code."""

from __future__ import annotations

import importlib
import re
import subprocess
import sys
from pathlib import Path
from typing import Any, get_args

import pytest

from sandbox.parts import Certificate
from sandbox.twins import Twin, TwinError
from selftests.harness import ROOT

# What the product's `make docs` (the catalogue reads the twins) must do without the sandbox extras.
APP_MODULES = (
    "flask",
    "werkzeug",
    "django",
    "trustme",
    "stripe",
    "gunicorn",
    "sqlalchemy",
    "jinja2",
    "prometheus_client",
)


def declare(**parts: Any) -> Twin:
    return Twin(
        **{"name": "cors-reflect-any", "description": "CORS reflects any Origin.", "guide": "", "breaks": {}, **parts}
    )


@pytest.mark.parametrize(
    ("parts", "problem"),
    [
        ({"nginx": {"cros": "wildcard-credentials"}}, "nginx.cros: unknown knob"),
        ({"nginx": {"gzip": "off"}}, "nginx.gzip: input should be a valid boolean, got 'off'"),
        ({"nginx": {"build": "debug"}}, "nginx.build: input should be 'prod', 'dev' or 'broken', got 'debug'"),
        ({"app": {"cors": {"orgins": ".*"}}}, "app.cors.orgins: unknown knob"),
        ({"app": {"cors": {"origins": 1}}}, "app.cors.origins: input should be a valid string or"),
        ({"app": {"cookies": {"session_days": "7"}}}, "app.cookies.session_days: input should be a valid integer"),
        ({"app": {"webhook": {"verify": "never"}}}, "app.webhook.verify: input should be 'signature',"),
        ({"app": {"auth": {"protected": "/api/v1/account"}}}, "app.auth.protected: input should be a valid list"),
        ({"postgres": {"settings": {"max_connection": 20}}}, "postgres.settings.max_connection: unknown knob"),
        ({"postgres": {"settings": {"max_connections": "20"}}}, "postgres.settings.max_connections: input should"),
        ({"postgres": {"hold_connections": -1}}, "postgres.hold_connections: input should be greater than or equal"),
        # redis.conf's own names: maxmemory-policy, not maxmemory_policy
        ({"redis": {"settings": {"maxmemory_policy": "allkeys-lru"}}}, "redis.settings.maxmemory_policy: unknown knob"),
        ({"redis": {"setup": {"fill_memory": 95}}}, "redis.setup.fill_memory: unknown knob"),
        ({"data": {"sql": "DROP INDEX idx_payments_due_date"}}, "data.sql: input should be a valid tuple"),
        ({"ngnix": {"gzip": False}}, "ngnix: unknown field"),
        ({"breaks": {"CORS-03": "(unclosed"}}, "breaks: CORS-03: missing ), unterminated subpattern"),
        (
            {"frameworks": ("rails",)},
            "frameworks: input should be 'flask', 'django', 'django-site' or 'flask-site', got 'rails'",
        ),
    ],
)
def test_a_bad_override_names_the_twin_and_the_knob(parts: dict[str, Any], problem: str) -> None:
    with pytest.raises(TwinError, match=re.escape(f"twin 'cors-reflect-any': {problem}")):
        declare(**parts)


def test_every_bad_knob_is_named_at_once() -> None:
    with pytest.raises(TwinError) as caught:
        declare(nginx={"cros": None, "gzip": 0}, app={"debug": "yes"})
    assert str(caught.value).count(";") == 2, caught.value
    assert {"nginx.cros: unknown knob", "app.debug: input should be a valid boolean, got 'yes'"} <= set(
        str(caught.value).split(": ", 1)[1].split("; ")
    )


def test_a_mistyped_knob_fails_when_its_module_is_imported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "preflight_bad_twins.py").write_text(
        "from sandbox.twins.model import Twin\n"
        "TWINS = [Twin(name='spa-no-fallback', description='', guide='', breaks={}, nginx={'spa_fallbak': False})]\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(TwinError, match=re.escape("twin 'spa-no-fallback': nginx.spa_fallbak: unknown knob")):
        importlib.import_module("preflight_bad_twins")


def test_a_twin_holds_the_full_part_and_its_overrides() -> None:
    twin = declare(app={"cors": {"origins": ".*"}}, nginx={"gzip": False})
    assert twin.app.cors.origins == ".*"
    assert twin.app.cors.supports_credentials is True  # the good stack's, untouched
    assert twin.app.overrides() == {"cors": {"origins": ".*"}}
    assert twin.nginx.overrides() == {"gzip": False}
    assert not twin.postgres.declared and not twin.redis.declared and not twin.data.declared


@pytest.mark.parametrize(
    ("parts", "frameworks"),
    [
        ({}, ("flask", "django")),
        ({"postgres": {"settings": {"max_connections": 20}}}, ("flask", "django")),
        ({"redis": {"settings": {"maxmemory-policy": "allkeys-lru"}}}, ("flask",)),
        ({"redis": {"setup": {"sessions": 5}}, "app": {"debug": True}}, ("flask", "django")),
        ({"data": {"sql": ("SELECT 1",)}}, ("flask",)),
        ({"data": {"sql": ("SELECT 1",)}, "nginx": {"gzip": False}}, ("flask", "django")),
        ({"postgres": {"next_xid": 1_200_000_000}}, ("flask",)),
        ({"redis": {"setup": {"sessions": 5}}, "frameworks": ("django",)}, ("django",)),
    ],
)
def test_frameworks_left_unset_are_derived_from_the_parts(parts: dict[str, Any], frameworks: tuple[str, ...]) -> None:
    """Both, except for a twin that changes only Redis or the Flask API's database."""
    assert declare(**parts).frameworks == frameworks


def test_certificates_are_the_tls_variants() -> None:
    from sandbox.tls import VARIANTS

    assert set(get_args(Certificate)) == {"good", *VARIANTS}


def test_declaring_the_twins_imports_no_app_code() -> None:
    """`import sandbox.twins` (the catalogue generator, `make docs`) needs no sandbox extra."""
    code = (
        "import sandbox.twins, sys; "
        f"print(' '.join(sorted(m for m in sys.modules if m.split('.')[0] in {APP_MODULES!r})))"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == [], f"import sandbox.twins imported {done.stdout.strip()}"
