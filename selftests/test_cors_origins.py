"""CORS's notion of origins (fixtures/cors.py): which allowed origins are cross-origin, what
Access-Control-Allow-Origin grants, and which origins are a developer's machine. The same-origin
shape, run against the good stack: CORS-01, -02, -05 and -06 are not applicable, CORS-03 and -04
still probe."""

from __future__ import annotations

from pathlib import Path

import pytest

from fixtures.cors import acao_grants, cross_origins, development_origins, is_development_origin, origin_of
from selftests.harness import LOCAL, Stack, write_env

SITE = "https://shop.example.com"


@pytest.mark.parametrize(
    ("url", "origin"),
    [
        ("https://Shop.Example.com/", "https://shop.example.com"),
        ("https://shop.example.com:443/app", "https://shop.example.com"),
        ("http://shop.example.com:80", "http://shop.example.com"),
        ("https://shop.example.com:8443", "https://shop.example.com:8443"),
        ("http://[::1]:3000/", "http://[::1]:3000"),
    ],
)
def test_origin_of_serializes_like_a_browser(url: str, origin: str) -> None:
    assert origin_of(url) == origin


def test_the_sites_own_origin_is_not_cross_origin() -> None:
    allowed = ["https://shop.example.com:443", "https://SHOP.example.com", "https://admin.example.com"]
    assert cross_origins(allowed, SITE + "/") == ["https://admin.example.com"]
    # Another port or scheme is another origin.
    assert cross_origins(["https://shop.example.com:8443", "http://shop.example.com"], SITE) == [
        "https://shop.example.com:8443",
        "http://shop.example.com",
    ]
    assert cross_origins([], SITE) == []
    assert cross_origins(["https://shop.example.com"], None) == ["https://shop.example.com"]


def test_a_wildcard_grants_only_calls_without_credentials() -> None:
    assert acao_grants("https://app.example.com", "https://app.example.com", credentials=True)
    assert acao_grants("*", "https://app.example.com", credentials=False)
    assert not acao_grants("*", "https://app.example.com", credentials=True)
    assert not acao_grants("https://other.example.com", "https://app.example.com", credentials=False)
    assert not acao_grants("", "https://app.example.com", credentials=False)


@pytest.mark.parametrize(
    ("origin", "development"),
    [
        ("http://localhost:3000", True),
        ("https://localhost", True),
        ("http://app.localhost:5173", True),
        ("http://127.0.0.1:8000", True),
        ("http://127.0.1.1:8000", True),
        ("http://0.0.0.0:4200", True),
        ("http://[::1]:8080", True),
        ("https://app.example.com", False),
        ("https://localhost.example.com", False),
        ("http://10.0.0.5:3000", False),
        # Capacitor's iOS scheme: neither http nor https.
        ("capacitor://localhost", False),
    ],
)
def test_development_origins_are_on_the_developers_machine(origin: str, development: bool) -> None:
    assert is_development_origin(origin) is development


def test_development_origins_are_listed_port_by_port() -> None:
    assert development_origins(("http", "https"), ["localhost", "[::1]"], [3000, 8080]) == [
        "http://localhost:3000",
        "http://[::1]:3000",
        "https://localhost:3000",
        "https://[::1]:3000",
        "http://localhost:8080",
        "http://[::1]:8080",
        "https://localhost:8080",
        "https://[::1]:8080",
    ]


SAME_ORIGIN_ONLY = ("CORS-01", "CORS-02", "CORS-05", "CORS-06")


@pytest.mark.parametrize(
    ("cors", "reason"),
    [
        (None, "api.cors is not declared: the API is called same-origin"),
        (
            {
                "allowed_origins": ["https://localhost:${SANDBOX_HTTPS_PORT}"],
                "credentials": True,
                "path": "/v1/properties",
            },
            r"api.cors.allowed_origins lists only the site's own origin (https://localhost:",
        ),
        ({"allowed_origins": [], "path": "/v1/properties"}, "api.cors.allowed_origins lists no origin: the API"),
    ],
    ids=["no-cors", "own-origin", "no-origins"],
)
def test_a_same_origin_api_is_not_applicable(stack: Stack, tmp_path: Path, cors: dict | None, reason: str) -> None:
    """local.yml lists api under required:, and still: the shape, not a missing key."""
    env = write_env(tmp_path / "same-origin.yml", {"extends": str(LOCAL), "name": "same-origin", "api": {"cors": cors}})
    run = stack.run(env, "same-origin", "-k", "CORS")
    outcomes = {c["id"]: c for c in run.document["checks"]}
    for check_id in SAME_ORIGIN_ONLY:
        assert outcomes[check_id]["outcome"] == "not applicable", outcomes[check_id]
        assert reason in outcomes[check_id]["message"], outcomes[check_id]["message"]
    # The refusals are probed wherever api.cors is declared.
    refusals = "not applicable" if cors is None else "passed"
    for check_id in ("CORS-03", "CORS-04"):
        assert outcomes[check_id]["outcome"] == refusals, outcomes[check_id]
    assert run.rc == 0, run.out[-3000:]
