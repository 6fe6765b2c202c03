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
        },
        nginx={"limit_login": False},
    ),
    Twin(
        name="rate-no-api-limit",
        description="limit_req_zone api is defined but no API location applies it.",
        guide=f"{H}: DDoS Attacks",
        breaks={
            "RATE-01": r"no 429 in a burst of \d+ requests",
        },
        nginx={"limit_api": False},
    ),
]
