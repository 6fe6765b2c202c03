"""RATE: the API's rate limit, observed with a burst (intrusive)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fixtures.check import (
    LIMITED,
    Burst,
    EnvironmentModel,
    HttpCache,
    Need,
    burst,
    check,
    early_or_now,
    fail,
    join_url,
)


@check(
    "RATE-01",
    severity="medium",
    guide=["H: DDoS Attacks", "H: API Rate Limiting"],
    inputs={
        "requests": 400,
        "concurrency": 4,
        "per_second": 120,
        "path": None,
        "source_address": None,
        "recovery_seconds": 15,
    },
    intrusive=True,
    phase="burst",
    references=["nginx limit_req (zone=api)"],
    standards=["ASVS:V11.1.4"],
)
def test_api_is_rate_limited(need: Need, http_cache: HttpCache, inputs: dict[str, Any]) -> None:
    """The API is rate limited.

    Rationale: an API without a request limit is taken down by one misbehaving client, a scraper
    or a small flood (the H guide's DDoS Attacks: "sudden traffic spikes, service
    unavailability"); every request reaches the app workers and the database. A burst of up to
    `requests` GETs on `path` (default: api.health), more than the limit's rate plus its burst
    allow, must get some 429 answers. The first goes alone and measures the round trip; the rest go
    over enough connections (`concurrency` at least, 32 at most) to send `per_second` requests a
    second at that distance, so a runner 300 ms away still outruns the limit. The burst stops at the first
    429 and waits, up to `recovery_seconds`, until the API serves again; `source_address` sends
    it from another local address of the runner so that the rest of the run is not throttled.

    Fix: in nginx, `limit_req_zone $binary_remote_addr zone=api:10m rate=10r/s;` at http level,
    `limit_req zone=api burst=20 nodelay;` in the API location, and `limit_req_status 429;`
    (or an equivalent limit in the application or the load balancer).
    """
    api_url: str = need("api.url")
    path = inputs["path"] or need("api.health")
    count = int(inputs["requests"])
    result = early_or_now(*_api_burst(join_url(api_url, str(path)), inputs, http_cache))
    if result.error:
        fail(f"the burst could not complete: {result.error} ({result.summary()})")
    if result.statuses[LIMITED]:
        return
    fail(
        f"{result.summary()}: no 429 in a burst of {count} requests; expected the API's rate limit to answer "
        "429 (nginx limit_req zone=api with limit_req_status 429)"
    )


def bursts(env: EnvironmentModel, inputs: Any, http_cache: HttpCache) -> list[tuple[str, Callable[[], Burst]]]:
    """RATE-01's burst, started with the burst phase (fixtures.early)."""
    selected, api_url = inputs("RATE-01"), env.lookup("api.url")
    path = (selected or {}).get("path") or env.lookup("api.health")
    if selected is None or not api_url or not path:
        return []
    return [_api_burst(join_url(api_url, str(path)), selected, http_cache)]


def _api_burst(url: str, inputs: dict[str, Any], http_cache: HttpCache) -> tuple[str, Callable[[], Burst]]:
    """(key, work): RATE-01's burst of GETs on url."""

    def work() -> Burst:
        return burst(
            http_cache,
            "GET",
            url,
            count=int(inputs["requests"]),
            concurrency=int(inputs["concurrency"]),
            source_address=inputs["source_address"],
            recover_within=float(inputs["recovery_seconds"]),
            per_second=float(inputs["per_second"]),
        )

    return f"RATE-01 GET {url} {sorted(inputs.items())!r}", work
