"""Twins for the RATE and NGX checks."""

from __future__ import annotations

from sandbox.twins.model import H, Twin

TWINS = [
    Twin(
        name="rate-no-login-limit",
        description="limit_req_zone login is defined but the login and token locations do not apply it: "
        "passwords can be tried as fast as the server answers.",
        guide=f"{H}: DDoS Attacks",
        breaks={
            "AUTH-04": r"none answered 429 after \d+ failed logins",
            "NGX-03": r"/api/auth/login is served by `location = /api/auth/login` \(\S+\) with no limit_req: login",
        },
        nginx={"limit_login": False},
    ),
    Twin(
        name="rate-no-api-limit",
        description="limit_req_zone api is defined but no API location applies it.",
        guide=f"{H}: DDoS Attacks",
        breaks={
            "RATE-01": r"no 429 in a burst of \d+ requests",
            "NGX-03": r"/api/health is served by `location /api/` \(\S+\) with no limit_req: the API",
        },
        nginx={"limit_api": False},
    ),
    Twin(
        name="ngx-untested-edit",
        description="nginx.conf was edited after nginx loaded it (a typo, proxy_read_timout) and never "
        "tested: the site still works, and the next reload or restart fails.",
        guide=f"{H}: Load Balancer Issues",
        breaks={
            "NGX-01": r"nginx -t -c \S+` failed \(exit 1\): \[emerg\] unknown directive \"proxy_read_timout\"",
        },
        nginx={"unapplied_edit": True},
    ),
    Twin(
        name="ngx-headers-dropped",
        description="The /static/ location adds Cache-Control without repeating the security headers: "
        "add_header there discards the server's HSTS, CSP and nosniff for every asset.",
        guide=f"{H}: Load Balancer Issues",
        breaks={
            "NGX-04": r"`location /static/` \(\S+\) sets add_header Cache-Control and so drops .*X-Content-Type-Opt",
        },
        nginx={"static_headers_include": False},
    ),
    Twin(
        name="ngx-alias-traversal",
        description="`location /files { alias .../files/; }`: /files../ serves the folder above the alias.",
        guide=f"{H}: Load Balancer Issues",
        breaks={
            "NGX-04": r"`location /files` \(\S+\) has `alias \S+/files/` .*alias traversal",
        },
        nginx={"files_location": "/files"},
    ),
]
