"""Discovery (python -m fixtures.discover): from each good stack's URL to an environment on which the suite
ends with no failure, and which still fails representative twins; hostile sites end in one line, exit 4."""

from __future__ import annotations

import contextlib
import http.server
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from selftests.harness import ROOT, Listener, Run, Stack, run_suite

FRAMEWORKS = ("flask", "django", "django-site", "flask-site")
# Twins whose misconfiguration lies in what discovery observes, per framework: the discovered file, pointed at
# the twin, must fail every check the twin breaks.
TWINS = {
    "flask": ("spa-shell-cached", "cors-no-credentials", "cookie-not-httponly", "pg-missing-index"),
    "django": ("cookie-csrf-not-secure", "django-migrate-behind"),
    "django-site": ("site-page-not-gated", "site-debug-on"),
    "flask-site": ("site-unhashed-cached-long", "site-page-not-gated"),
}
SPA = ("flask", "django")
# A hang guard, not a speed assertion.
TIMEOUT = 120


@dataclass
class Discovery:
    rc: int
    out: str
    err: str
    file: Path
    variables: dict[str, str]
    port: str

    @property
    def text(self) -> str:
        return self.file.read_text() if self.file.exists() else ""


def discover(*args: str, environ: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    env = {"PATH": "/usr/bin:/bin", "HOME": "/tmp", **(environ or {})}
    command = [sys.executable, "-m", "fixtures.discover", *args]
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=TIMEOUT)


def secrets_for(variables: dict[str, str]) -> dict[str, str]:
    """The only secrets discovery asks for: the smoke user's login, the DSN and the Redis URL."""
    return {
        "PREFLIGHT_LOGIN_USER": variables["SANDBOX_LOGIN_EMAIL"],
        "PREFLIGHT_LOGIN_PASSWORD": variables["SANDBOX_LOGIN_PASSWORD"],
        "APP_DSN": variables["SANDBOX_DATABASE_URL"],
        "APP_REDIS": variables["SANDBOX_REDIS_URL"],
    }


def instance(framework: str, twin: str = "good") -> str:
    return twin if framework == "flask" else f"{twin}@{framework}"


@pytest.fixture(scope="session")
def discoveries(stack: Stack) -> dict[str, Discovery]:
    """Discovery against each good stack the sandbox runs, with the secrets it asks for."""
    found = {}
    for framework in FRAMEWORKS:
        name = instance(framework)
        if name not in stack.sandbox.twins:
            continue
        variables = stack.sandbox.variables(name)
        port = variables["SANDBOX_HTTPS_PORT"]
        file = stack.folder / "discovered" / f"{name}.yml"
        args = [f"https://localhost:{port}/", "-o", str(file), "--ca-bundle", variables["SANDBOX_CA_BUNDLE"]]
        args += ["--dsn-var", "APP_DSN"]
        if framework in SPA:
            # The SPA's browser origin: a name only the browser resolves (environments/local.yml, ui.resolve).
            args += ["--origin", f"https://app.preflight.test:{port}", "--redis-var", "APP_REDIS"]
        done = discover(*args, environ=secrets_for(variables))
        found[framework] = Discovery(done.returncode, done.stdout, done.stderr, file, variables, port)
    return found


def pointed_at(discovery: Discovery, stack: Stack, target: str, folder: Path) -> tuple[Path, dict[str, str]]:
    """The discovered file with its ports moved to another instance of the sandbox (a twin), and its secrets."""
    variables = stack.sandbox.variables(target)
    text = discovery.text.replace(f":{discovery.port}", f":{variables['SANDBOX_HTTPS_PORT']}")
    file = folder / f"{target}.yml"
    file.write_text(text)
    return file, secrets_for(variables)


def suite(stack: Stack, file: Path, name: str, secrets: dict[str, str], *args: str) -> Run:
    return run_suite(file, stack.folder / "reports" / f"discovered-{name}", *args, extra_env=secrets)


def need(discoveries: dict[str, Discovery], framework: str) -> Discovery:
    if framework not in discoveries:
        pytest.skip(f"framework {framework} is not selected by --frameworks")
    discovery = discoveries[framework]
    assert discovery.rc == 0, discovery.err
    return discovery


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_discovered_file_validates_and_holds_no_secret(discoveries: dict[str, Discovery], framework: str) -> None:
    discovery = need(discoveries, framework)
    document = yaml.safe_load(discovery.text)
    assert document["web"]["kind"] == ("spa" if framework in SPA else "server")
    for value in secrets_for(discovery.variables).values():
        assert value not in discovery.text, "discovery wrote a secret into the file"
        assert value not in discovery.err
    assert "${PREFLIGHT_LOGIN_PASSWORD}" in discovery.text
    assert "# webhooks:" in discovery.text, "keys it could not find are written commented out"
    sent = int(discovery.err.split(" requests", 1)[0].rsplit(" ", 1)[-1])
    assert 0 < sent <= 80, discovery.err


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_discovered_environment_passes_the_good_stack(
    stack: Stack, discoveries: dict[str, Discovery], framework: str
) -> None:
    discovery = need(discoveries, framework)
    run = suite(stack, discovery.file, instance(framework), secrets_for(discovery.variables))
    failed = {
        c["id"]: c["message"]
        for c in run.document["checks"]
        if c["outcome"] not in ("passed", "not applicable", "not checked")
    }
    assert not failed, f"{discovery.file}:\n{discovery.text}\n{failed}"
    assert run.rc == 0, run.out[-3000:]
    passed = [c for c in run.document["checks"] if c["outcome"] == "passed"]
    assert len(passed) >= 35, f"only {len(passed)} checks ran on the discovered file"


CASES = [(fw, twin) for fw, twins in TWINS.items() for twin in twins]


@pytest.mark.parametrize(("framework", "twin"), CASES, ids=[f"{t}@{fw}" for fw, t in CASES])
def test_discovered_environment_fails_twins(
    stack: Stack, discoveries: dict[str, Discovery], tmp_path: Path, framework: str, twin: str
) -> None:
    from sandbox.twins import TWINS as ALL

    discovery = need(discoveries, framework)
    target = instance(framework, twin)
    if target not in stack.sandbox.twins:
        pytest.skip(f"{target} is not selected by --twins / --frameworks")
    file, secrets = pointed_at(discovery, stack, target, tmp_path)
    breaks = ALL[twin].breaks
    run = suite(stack, file, target, secrets, "-k", " or ".join(breaks))
    outcomes = {check_id: run.record(check_id)["outcome"] for check_id in breaks}
    assert set(outcomes.values()) == {"failed"}, f"{target}: {outcomes}\n{run.out[-3000:]}"
    assert run.rc != 0


class Hostile(http.server.BaseHTTPRequestHandler):
    """A site that answers badly, path by path."""

    def log_message(self, *args: Any) -> None:
        pass

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        if self.path == "/broken":
            self._answer(502, "text/html", b"<h1>502 Bad Gateway</h1>")
        elif self.path == "/binary":
            self._answer(200, "application/octet-stream", bytes(range(256)) * 16)
        elif self.path == "/huge":
            self._answer(200, "text/html", b"<p>" + b"x" * (3 * 1024 * 1024))
        elif self.path == "/offsite":
            self._redirect("https://elsewhere.example/")
        elif self.path.startswith("/loop"):
            self._redirect(self.path + "x")
        else:
            self._answer(404, "text/html", b"not found")

    def _answer(self, status: int, kind: str, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        with contextlib.suppress(OSError):  # discovery stopped reading at its cap
            self.wfile.write(body)

    def _redirect(self, where: str) -> None:
        self.send_response(302)
        self.send_header("Location", where)
        self.send_header("Content-Length", "0")
        self.end_headers()


@pytest.fixture(scope="module")
def hostile() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hostile)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def one_line_exit_4(done: subprocess.CompletedProcess[str], *expected: str) -> None:
    assert done.returncode == 4, done.stderr
    assert "Traceback" not in done.stderr and done.stdout == ""
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    for text in expected:
        assert text in done.stderr, done.stderr


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/broken", "answered 502"),
        ("/binary", "application/octet-stream, not an HTML page"),
        ("/huge", "over 2 MiB"),
        ("/offsite", "redirects off the site, to https://elsewhere.example"),
        ("/loop", "more than 3 redirects"),
    ],
)
def test_hostile_site(hostile: str, path: str, expected: str) -> None:
    one_line_exit_4(discover(hostile + path, "--timeout", "2"), expected)


@pytest.mark.parametrize(("mode", "expected"), [("hang", "no answer within"), ("trickle", "took over 2 s")])
def test_silent_or_trickling_site_costs_one_deadline(mode: str, expected: str) -> None:
    listener = Listener(mode)
    try:
        started = time.monotonic()
        done = discover(f"http://127.0.0.1:{listener.port}/", "--timeout", "1")
        elapsed = time.monotonic() - started
    finally:
        listener.close()
    one_line_exit_4(done, expected)
    assert elapsed < TIMEOUT


def test_unreachable_site() -> None:
    one_line_exit_4(discover("https://127.0.0.1:9/"), "https://127.0.0.1:9/: Connection refused")


def test_tls_failure_says_how_to_set_the_ca(stack: Stack) -> None:
    port = stack.sandbox.variables("good")["SANDBOX_HTTPS_PORT"]
    one_line_exit_4(discover(f"https://localhost:{port}/"), "certificate verify failed", "--ca-bundle FILE")


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ((), "the following arguments are required: URL"),
        (("ftp://example.com",), "expected an http(s) URL"),
        (("https://127.0.0.1:9/", "--ca-bundle", "/no/such/ca.pem"), "--ca-bundle /no/such/ca.pem: No such file"),
        (("https://127.0.0.1:9/", "--origin", "https://app.example.com/path"), "--origin: expected scheme://host"),
        (("https://127.0.0.1:9/", "--max-requests", "many"), "--max-requests: invalid int value"),
    ],
)
def test_bad_input(args: tuple[str, ...], expected: str) -> None:
    one_line_exit_4(discover(*args), expected)


def discover_spa_twin(stack: Stack, target: str, folder: Path) -> tuple[Path, dict[str, str]]:
    """Discovery against a twin's own SPA (skipped when --twins leaves it out): its file and variables."""
    if target not in stack.sandbox.twins:
        pytest.skip(f"{target} is not selected by --twins")
    variables = stack.sandbox.variables(target)
    port, file = variables["SANDBOX_HTTPS_PORT"], folder / f"{target}.yml"
    args = ["--ca-bundle", variables["SANDBOX_CA_BUNDLE"], "--origin", f"https://app.preflight.test:{port}"]
    done = discover(f"https://localhost:{port}/", "-o", str(file), *args, environ=secrets_for(variables))
    assert done.returncode == 0, done.stderr
    return file, variables


def test_discovery_learns_a_realworld_login(stack: Stack, tmp_path: Path) -> None:
    """A RealWorld-style API ({"user": {...}} in, the JWT at user.token, `Authorization: Token`): discovery finds
    the body shape, where the token sits and the scheme, and the suite then fails the twin's own checks."""
    from sandbox.twins import TWINS as ALL

    target = "auth-realworld-token-week"
    file, variables = discover_spa_twin(stack, target, tmp_path)
    session = yaml.safe_load(file.read_text())["session"]
    assert session["login"]["json"] == {
        "user": {"email": "${PREFLIGHT_LOGIN_USER}", "password": "${PREFLIGHT_LOGIN_PASSWORD}"}
    }
    assert session["token"] == {"at": "user.token", "scheme": "Token"}
    run = suite(stack, file, target, secrets_for(variables))
    failed = {c["id"] for c in run.document["checks"] if c["outcome"] == "failed"}
    assert failed == set(ALL[target].breaks), run.out[-3000:]


def test_discovery_without_credentials_does_not_log_in(stack: Stack, tmp_path: Path) -> None:
    variables = stack.sandbox.variables("good")
    file = tmp_path / "anonymous.yml"
    ca = variables["SANDBOX_CA_BUNDLE"]
    done = discover(f"https://localhost:{variables['SANDBOX_HTTPS_PORT']}/", "-o", str(file), "--ca-bundle", ca)
    assert done.returncode == 0, done.stderr
    assert "are not set: discovery did not log in" in done.stderr
    assert "set ${PREFLIGHT_LOGIN_PASSWORD}" in done.stderr
    session = yaml.safe_load(file.read_text())["session"]
    assert session["login"]["path"] == "/api/auth/login" and "token" not in session


def test_discovery_of_an_spa_without_its_fallback(stack: Stack, tmp_path: Path) -> None:
    """A broken SPA (no try_files fallback) answers its deep links 404, like a server-rendered site: discovery
    still knows it by its empty mount point, declares its links as client routes, and SPA-01 then fails."""
    target = "spa-no-fallback"
    file, variables = discover_spa_twin(stack, target, tmp_path)
    web = yaml.safe_load(file.read_text())["web"]
    assert web["kind"] == "spa" and web["spa_routes"], web
    run = suite(stack, file, target, secrets_for(variables), "-k", "SPA-01")
    assert run.record("SPA-01")["outcome"] == "failed", run.out[-3000:]
