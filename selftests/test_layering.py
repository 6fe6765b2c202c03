"""Who may import whom: checks see one face, the hook module sits on top, and the product never
imports its sandbox, not even in a production install (without the sandbox extra)."""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
import tomllib
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from selftests.harness import ROOT

PRODUCT_ENVIRON = {
    "DATABASE_URL": "postgresql://u:p@db.example:5432/x",
    "REDIS_URL": "redis://:p@cache.example:6379/0",
    "STRIPE_WEBHOOK_SECRET": "whsec_x",
    "SMOKE_PASSWORD": "pw",
    "SMOKE_EMAIL": "smoke@example.com",
}
# The sandbox extra's libraries: a production install has none of them.
SANDBOX_LIBRARIES = ("flask", "werkzeug", "django", "trustme", "stripe", "gunicorn", "prometheus_client")


def imports(path: Path) -> set[str]:
    """Every module a file imports (absolute names; `from a import b` counts as a and a.b)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
    return found


def offenders(folder: str, allowed: re.Pattern[str], forbidden: re.Pattern[str]) -> list[str]:
    return [
        f"{path.relative_to(ROOT)} imports {name}"
        for path in sorted((ROOT / folder).rglob("*.py"))
        for name in sorted(imports(path))
        if forbidden.match(name) and not allowed.match(name)
    ]


def test_checks_import_the_machinery_through_one_face() -> None:
    wrong = offenders("tests", re.compile(r"^fixtures\.check(\.|$)"), re.compile(r"^(fixtures|sandbox)(\.|$)"))
    assert not wrong, "a check imports the machinery other than through fixtures.check: " + "; ".join(wrong)


def test_only_the_entry_imports_the_hook_module() -> None:
    wrong = [
        line
        for line in offenders("fixtures", re.compile("^$"), re.compile(r"^fixtures\.plugin(\.|$)"))
        if not line.startswith("fixtures/plugin.py")
    ]
    assert not wrong, "modules below the hook module import it: " + "; ".join(wrong)


def test_the_machinery_never_imports_the_sandbox() -> None:
    wrong = offenders("fixtures", re.compile("^$"), re.compile(r"^sandbox(\.|$)"))
    assert not wrong, "; ".join(wrong)


def _requirements(dist: metadata.Distribution, extras: tuple[str, ...]) -> list[Requirement]:
    wanted = []
    for text in dist.requires or []:
        req = Requirement(text)
        if req.marker is None or any(req.marker.evaluate({"extra": extra}) for extra in ("", *extras)):
            wanted.append(req)
    return wanted


def dependency_closure(extras: tuple[str, ...] = ()) -> list[metadata.Distribution]:
    """The distributions `pip install .[extras]` would install, as this venv has them."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    todo = [Requirement(r) for r in project["dependencies"]]
    todo += [Requirement(r) for extra in extras for r in project["optional-dependencies"][extra]]
    seen: dict[str, metadata.Distribution] = {}
    while todo:
        req = todo.pop()
        name = req.name.lower().replace("_", "-")
        if name in seen:
            continue
        seen[name] = metadata.distribution(req.name)
        todo += _requirements(seen[name], tuple(req.extras))
    return list(seen.values())


def production_site(folder: Path, extras: tuple[str, ...] = ()) -> Path:
    """A site-packages of links to the product's dependencies only (plus `extras`), taken from this venv."""
    site = folder / "site-packages"
    site.mkdir()
    for dist in dependency_closure(extras):
        base = Path(str(dist.locate_file("")))
        for top in {Path(str(f)).parts[0] for f in dist.files or [] if not str(f).startswith("..")}:
            if not (site / top).exists() and (base / top).exists():
                (site / top).symlink_to(base / top)
    return site


def run_isolated(site: Path, code: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    """Python without this venv's site-packages: only `site` and the checkout."""
    environ = {"PATH": os.environ["PATH"], "PYTHONPATH": f"{site}{os.pathsep}{ROOT}", **PRODUCT_ENVIRON}
    return subprocess.run(
        [sys.executable, "-S", "-c", code], cwd=cwd, env=environ, capture_output=True, text=True, timeout=300
    )


SANDBOX_MODULES = "sorted(m for m in sys.modules if m == 'sandbox' or m.startswith('sandbox.'))"


def test_a_production_install_collects_without_the_sandbox(tmp_path: Path) -> None:
    site = production_site(tmp_path)
    code = (
        "import sys, importlib.util, pytest\n"
        f"assert not [m for m in {SANDBOX_LIBRARIES!r} if importlib.util.find_spec(m)], 'not a production site'\n"
        "rc = pytest.main(['--env=prod', '--collect-only', '-q', '--no-reports', '-p', 'no:cacheprovider'])\n"
        f"print('SANDBOX MODULES', {SANDBOX_MODULES})\n"
        "sys.exit(rc)\n"
    )
    done = run_isolated(site, code)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "SANDBOX MODULES []" in done.stdout, done.stdout[-2000:]
    assert re.search(r"\b\d+ tests? collected", done.stdout), done.stdout[-2000:]


def test_a_production_install_refuses_the_sandbox_in_one_line(tmp_path: Path) -> None:
    site = production_site(tmp_path)
    code = "import sys, pytest\nsys.exit(pytest.main(['--env=local', '--collect-only', '-q', '--no-reports']))\n"
    done = run_isolated(site, code)
    assert done.returncode == 4, done.stdout[-2000:] + done.stderr[-2000:]
    assert "its plugin is not installed (pip install '.[sandbox]')" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize("command", ["fixtures.catalogue", "sandbox.catalogue"])
def test_the_catalogue_builds_with_the_dev_extras_only(tmp_path: Path, command: str) -> None:
    site = production_site(tmp_path, extras=("dev",))
    code = f"import runpy, sys\nsys.argv = ['{command}']\nrunpy.run_module('{command}', run_name='__main__')\n"
    done = run_isolated(site, code)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.startswith("# Check catalogue")
    if command == "sandbox.catalogue":
        assert done.stdout == (ROOT / "docs" / "CHECKS.md").read_text()


PLUGIN = """
import pytest

pytest_plugins = ["fixtures.plugin"]


@pytest.hookimpl
def pytest_preflight_variables(config, document, path):
    if "vault" in document.get("description", ""):
        return {"SHOP_URL": "https://shop.example", "STRIPE_WEBHOOK_SECRET": "whsec_from_vault"}
    return None
"""

CHECK = '''
from fixtures.check import check, fail

@check("HOOK-01", severity="high", guide="H: Webhook Issues")
def test_reads(env):
    """Reads the variables.

    A rationale.

    Fix: nothing.
    """
    assert env.web.url == "https://shop.example"
    assert env.webhooks.stripe.secret == "whsec_from_vault"

@check("HOOK-02", severity="high", guide="H: Webhook Issues")
def test_leaks(env):
    """Names the secret in its failure.

    A rationale.

    Fix: nothing.
    """
    fail(f"saw {env.webhooks.stripe.secret}")

@check("HOOK-03", severity="high", guide="H: Webhook Issues")
def test_prints(env):
    """Prints the secret and passes.

    A rationale.

    Fix: nothing.
    """
    print(f"printed {env.webhooks.stripe.secret}")
'''


def test_a_plugin_provides_variables_through_the_hook(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """pytest_preflight_variables is a hook any plugin may answer (a vault, a CI's secret store), not
    only the sandbox; what it provides is a secret like any ${VARIABLE} named so."""
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    monkeypatch.delenv("STRIPE_WEBHOOK_SECRET", raising=False)
    pytester.makeconftest(PLUGIN)
    pytester.makefile(
        ".yml",
        unit='name: unit\ndescription: from the vault\nweb: {url: "${SHOP_URL}"}\n'
        'webhooks: {stripe: {url: "https://shop.example/hook", secret: "${STRIPE_WEBHOOK_SECRET}"}}\n',
    )
    pytester.makepyfile(test_checks=CHECK)
    result = pytester.runpytest_subprocess("--env=unit.yml", "--report-dir=out", "-rP", "-p", "no:cacheprovider")
    assert result.ret == 1, result.stdout.str()[-2000:]
    result.stdout.re_match_lines([r"printed \*\*\*", r".*HOOK-02 Names the secret in its failure: saw \*\*\*"])
    result.stdout.re_match_lines([r".*1 failed, 2 passed.*"])
    assert "whsec_from_vault" not in result.stdout.str()
    reports = sorted((pytester.path / "out").iterdir())
    assert [p.suffix for p in reports] == [".html", ".json", ".xml"]
    for report in reports:
        assert "whsec_from_vault" not in report.read_text(), f"the secret reached {report.name}"


def test_attaching_to_a_sandbox_imports_none_of_its_apps(tmp_path: Path) -> None:
    """A run attached through a state file reads the file and nothing more of the sandbox."""
    from sandbox.state import write_state
    from sandbox.variables import VARIABLES
    from selftests.harness import free_port

    variables = {**VARIABLES, "SANDBOX_HTTPS_PORT": str(free_port()), "SANDBOX_HTTP_PORT": str(free_port())}
    write_state(tmp_path / "state.json", {"twins": {"good": variables}})
    code = (
        "import sys, pytest\n"
        f"pytest.main(['--env=local', '--sandbox-state={tmp_path / 'state.json'}', '-k', 'SPA-01', '--no-reports',"
        " '-q', '-p', 'no:cacheprovider'])\n"
        f"print('SANDBOX MODULES', {SANDBOX_MODULES})\n"
        f"print('APP LIBRARIES', sorted(m for m in {SANDBOX_LIBRARIES!r} if m in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert "connection refused" in done.stdout, done.stdout[-2000:]  # the run did reach its check
    assert "SANDBOX MODULES ['sandbox', 'sandbox.plugin', 'sandbox.state', 'sandbox.variables']" in done.stdout
    assert "APP LIBRARIES []" in done.stdout
