"""NGX machinery: the nginx -T parser (fixtures.nginxconf) and the per-host `host` fixture (fixtures.hosts)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from fixtures.nginxconf import effective, match_location, parse_dump, servers, split_dump
from selftests.harness import free_port, run_suite, write_env

MAIN = "/etc/nginx/nginx.conf"
DUMP = """\
# configuration file /etc/nginx/nginx.conf:
http {
    add_header X-Frame-Options DENY;
    include conf.d/*.conf;
}

# configuration file /etc/nginx/conf.d/site.conf:
server {
    listen 443 ssl;
    location / { try_files $uri /index.html; }
    location /api/ {
        limit_req zone=api;
        location /api/auth/ { add_header Cache-Control no-store; }
    }
    location = /api/health { return 200; }
    location ^~ /static/ { try_files $uri =404; }
    location ~ \\.php$ { deny all; }
}
"""


def test_dump_is_split_into_files_and_includes_are_inlined() -> None:
    assert sorted(split_dump(DUMP)) == ["/etc/nginx/conf.d/site.conf", MAIN]
    root = parse_dump(DUMP, MAIN)
    (server,) = servers(root)
    assert server.file == "/etc/nginx/conf.d/site.conf" and server.line == 1


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("/properties/42", ["/"]),
        ("/api/v1/x", ["/api/"]),
        ("/api/auth/login", ["/api/", "/api/auth/"]),
        ("/api/health", ["= /api/health"]),
        ("/static/app.php", ["^~ /static/"]),  # ^~ stops the regex search
        ("/index.php", ["~ \\.php$"]),
    ],
)
def test_locations_are_chosen_as_nginx_does(uri: str, expected: list[str]) -> None:
    (server,) = servers(parse_dump(DUMP, MAIN))
    assert [" ".join(loc.args) for loc in match_location(server, uri)] == expected


def test_array_directives_come_from_the_innermost_level_that_has_them() -> None:
    root = parse_dump(DUMP, MAIN)
    http = root.first("http")
    assert http is not None
    (server,) = servers(root)
    chain = [http, server, *match_location(server, "/api/auth/login")]
    assert [d.args[0] for d in effective(chain, "add_header")] == ["Cache-Control"]
    assert [d.args[0] for d in effective(chain, "limit_req")] == ["zone=api"]
    assert [d.args[0] for d in effective([http, server], "add_header")] == ["X-Frame-Options"]


# --- the host fixture, through the real suite ------------------------------------------------------

CONF = """\
pid {dir}/nginx.pid;
error_log {dir}/error.log;
events {{}}
http {{
    access_log off;
    server_tokens off;
    gzip on;
    limit_req_zone $binary_remote_addr zone=api:1m rate=10r/s;
    server {{
        listen 127.0.0.1:{port};
        root {dir};
        location / {{ try_files $uri $uri/ /index.html; }}
        location /api/ {{ limit_req zone=api burst=20 nodelay; proxy_pass http://127.0.0.1:{port}; }}
    }}
}}
"""


def _env(tmp_path: Path, hosts: list[str] | None) -> Path:
    conf = tmp_path / "nginx.conf"
    conf.write_text(CONF.format(dir=tmp_path, port=free_port()))
    document: dict = {
        "name": "hosts",
        "web": {"url": "https://shop.example"},
        "api": {"url": "https://shop.example/api", "health": "/health"},
        "nginx": {"conf": str(conf), "binary": shutil.which("nginx") or "/usr/sbin/nginx"},
    }
    if hosts is not None:
        document["hosts"] = {"web": hosts}
    return write_env(tmp_path / "hosts.yml", document)


def test_one_test_per_host_and_an_unreachable_host_fails(tmp_path: Path) -> None:
    dead = f"ssh://preflight@127.0.0.1:{free_port()}"
    run = run_suite(_env(tmp_path, ["local://", dead]), tmp_path / "reports", "-k", "NGX-01 or NGX-03")
    verdicts = run.verdicts()
    local = {nodeid: outcome for nodeid, outcome in verdicts.items() if nodeid.endswith("[local]")}
    assert sorted(local.values()) == ["passed", "passed"], verdicts
    remote = [c for c in run.document["checks"] if "127.0.0.1" in c["nodeid"]]
    assert len(remote) == 2 and {c["outcome"] for c in remote} == {"failed"}, remote
    assert all("127.0.0.1" in c["message"] for c in remote), remote


def test_without_hosts_the_checks_are_not_applicable(tmp_path: Path) -> None:
    run = run_suite(_env(tmp_path, None), tmp_path / "reports", "-k", "NGX")
    records = [c for c in run.document["checks"] if c["id"].startswith("NGX")]
    assert len(records) == 4
    for record in records:
        assert record["outcome"] == "not applicable", record
        assert "hosts.web is not configured" in record["message"], record
