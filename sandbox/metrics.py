"""The API's own /metrics, for Prometheus (prometheus_client): requests by method and status, and their latency.

Each gunicorn worker counts its own requests (no multiprocess mode): a scrape sees one worker's counters, which
is enough for the series to exist and for `up`, and keeps the sandbox's workers independent of one another.
"""

from __future__ import annotations

from prometheus_client import CONTENT_TYPE_LATEST, Counter, Histogram, generate_latest

REQUESTS = Counter("http_requests_total", "HTTP requests answered by the API", ["method", "status"])
LATENCY = Histogram("http_request_duration_seconds", "Time the API took to answer", ["method"])
# Series that exist from the start, at 0, as a well-instrumented app declares them: each worker's first
# scrape already shows them.
REQUESTS.labels("GET", "200")
LATENCY.labels("GET")


def observe(method: str, status: int, seconds: float) -> None:
    REQUESTS.labels(method, str(status)).inc()
    LATENCY.labels(method).observe(seconds)


def exposition() -> tuple[bytes, str]:
    return generate_latest(), CONTENT_TYPE_LATEST
