"""Prometheus and Alertmanager from Debian, on free loopback ports: they scrape the API's /metrics, themselves and
each other, every second, and evaluate the guide's alert hierarchy (H: Monitoring and Alerting)."""

from __future__ import annotations

import json
import shutil
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from sandbox.parts import MonitoringKnobs
from sandbox.proc import HOST, Process, Supervisor, free_port

# The VeriHome guide's alert hierarchy: the service is down (critical), errors (critical), latency (warning).
GOOD_RULES: list[dict[str, Any]] = [
    {
        "alert": "ServiceDown",
        "expr": "up == 0",
        "for": "1m",
        "labels": {"severity": "critical"},
        "annotations": {"summary": "{{ $labels.job }} on {{ $labels.instance }} is down"},
    },
    {
        "alert": "HighErrorRate",
        "expr": 'sum by (job) (rate(http_requests_total{status=~"5.."}[5m]))'
        " / sum by (job) (rate(http_requests_total[5m])) > 0.05",
        "for": "5m",
        "labels": {"severity": "critical"},
        "annotations": {"summary": "more than 5% of {{ $labels.job }}'s requests fail"},
    },
    {
        "alert": "HighLatency",
        "expr": "histogram_quantile(0.95, sum by (le, job) (rate(http_request_duration_seconds_bucket[5m]))) > 1",
        "for": "10m",
        "labels": {"severity": "warning"},
        "annotations": {"summary": "{{ $labels.job }}'s 95th percentile latency is over 1 s"},
    },
]
RECORDING_RULES: list[dict[str, Any]] = [
    {"record": "job:http_requests:rate5m", "expr": "sum by (job) (rate(http_requests_total[5m]))"},
]


def _ready(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://{HOST}:{port}/-/ready", timeout=2) as answer:
            return answer.status == 200
    except OSError:
        return False


def _settled(port: int, targets_expected: int) -> bool:
    """Every target found, scraped and every rule evaluated once: what a run reads is then what Prometheus found
    (right after it is ready, service discovery may not have handed over the targets yet)."""
    try:
        with urllib.request.urlopen(f"http://{HOST}:{port}/api/v1/targets", timeout=2) as answer:
            targets = json.load(answer)["data"]["activeTargets"]
        with urllib.request.urlopen(f"http://{HOST}:{port}/api/v1/rules", timeout=2) as answer:
            groups = json.load(answer)["data"]["groups"]
    except (OSError, ValueError, KeyError):
        return False
    rules = [rule for group in groups for rule in group["rules"]]
    unevaluated = [r for r in rules if r.get("lastEvaluation", "").startswith("0001-")]
    scraped = len(targets) >= targets_expected and all(t["health"] != "unknown" for t in targets)
    return scraped and bool(rules) and not unevaluated


class Monitoring:
    """One Prometheus and its Alertmanager. They start with the sandbox; the API joins as a target once it answers
    (a file_sd file): Prometheus hands over its first targets only about 5 s after it starts (its discovery
    manager batches updates), so starting it early takes that wait off the sandbox's start."""

    def __init__(self, name: str, directory: Path, knobs: MonitoringKnobs) -> None:
        self.name = name
        self.directory = directory
        self.knobs = knobs
        self.prometheus_port = 0
        self.alertmanager_port = 0
        self.targets = 0  # how many targets its config lists
        self.prometheus: Process | None = None

    @property
    def prometheus_url(self) -> str:
        return f"http://{HOST}:{self.prometheus_port}"

    @property
    def alertmanager_url(self) -> str:
        # Without an Alertmanager of its own (a twin), where Prometheus sends, or a port where nothing listens.
        if self.knobs.alertmanager_at:
            return f"http://{self.knobs.alertmanager_at}"
        return f"http://{HOST}:{self.alertmanager_port or 1}"

    @property
    def api_targets(self) -> Path:
        return self.directory / "api-targets.json"

    def start(self, supervisor: Supervisor, deadline: float) -> list[Process]:
        """Both servers, ready; the API's target is added by scrape_api."""
        self.directory.mkdir(parents=True, exist_ok=True)
        self.api_targets.write_text("[]")
        started = []
        if self.knobs.alertmanager and not self.knobs.alertmanager_at:
            config = self.directory / "alertmanager.yml"
            # Nowhere to send to: the sandbox never notifies anyone; a route and a receiver make it valid.
            config.write_text(yaml.safe_dump({"route": {"receiver": "nobody"}, "receivers": [{"name": "nobody"}]}))
            storage = f"--storage.path={self.directory / 'alertmanager'}"
            manager, self.alertmanager_port = self._serve(
                supervisor,
                deadline,
                "prometheus-alertmanager",
                lambda _: [f"--config.file={config}", storage, "--cluster.listen-address="],
            )
            started.append(manager)

        def prometheus_flags(port: int) -> list[str]:
            self.prometheus_port = port  # its own scrape job names it
            tsdb = self.directory / "tsdb"
            return [
                f"--config.file={self._write_prometheus()}",
                f"--storage.tsdb.path={tsdb}",
                "--storage.tsdb.retention.time=1h",
            ]

        self.prometheus, self.prometheus_port = self._serve(supervisor, deadline, "prometheus", prometheus_flags)
        return [self.prometheus, *started]

    def _serve(
        self, supervisor: Supervisor, deadline: float, command: str, flags: Callable[[int], list[str]]
    ) -> tuple[Process, int]:
        """Debian's `prometheus` or `prometheus-alertmanager` on a free port, answering /-/ready (a port lost to
        another process is drawn again)."""
        binary = shutil.which(command) or f"/usr/bin/{command}"
        label = command.removeprefix("prometheus-")  # prometheus, alertmanager
        port = 0

        def launch() -> Process:
            nonlocal port
            port = free_port()
            argv = [
                binary,
                *flags(port),
                f"--web.listen-address={HOST}:{port}",
                "--log.level=warn",
            ]
            return supervisor.spawn(f"{label} {self.name}", argv, self.directory / f"{label}.log")

        process = supervisor.spawn_retrying(launch, lambda p: p.wait_until(lambda: _ready(port), deadline, "ready"))
        return process, port

    def scrape_api(self, app_port: int, deadline: float) -> None:
        """Add the API's /metrics as the `api` job's target; return once every target is scraped and every rule
        has run (what a run then reads is what Prometheus found)."""
        assert self.prometheus is not None, "start() first"
        staged = self.api_targets.with_suffix(".tmp")
        staged.write_text(json.dumps([{"targets": [f"{HOST}:{app_port}"]}]))
        staged.replace(self.api_targets)  # whole, or not at all: Prometheus watches the file
        self.prometheus.wait_until(
            lambda: _settled(self.prometheus_port, self.targets), deadline, "a first scrape and evaluation"
        )

    def _write_prometheus(self) -> Path:
        rules = self.directory / "rules.yml"
        alerts = [r for r in GOOD_RULES if r["alert"] not in self.knobs.drop_alerts] + self.knobs.extra_alerts
        groups = [{"name": "preflight", "interval": "1s", "rules": alerts + RECORDING_RULES + self.knobs.extra_records}]
        rules.write_text(yaml.safe_dump({"groups": groups}, sort_keys=False))
        jobs = {"prometheus": f"{HOST}:{self.prometheus_port}", **self.knobs.extra_jobs}
        api = {"job_name": "api", "file_sd_configs": [{"files": [str(self.api_targets)], "refresh_interval": "1s"}]}
        config: dict[str, Any] = {
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s", "scrape_timeout": "1s"},
            "rule_files": [str(rules)],
            "scrape_configs": [api]
            + [{"job_name": job, "static_configs": [{"targets": [t]}]} for job, t in jobs.items()],
        }
        if self.knobs.alertmanager:
            target = {
                "static_configs": [{"targets": [self.knobs.alertmanager_at or f"{HOST}:{self.alertmanager_port}"]}]
            }
            config["alerting"] = {"alertmanagers": [target]}
            config["scrape_configs"].append({"job_name": "alertmanager", **target})
        self.targets = len(config["scrape_configs"])
        path = self.directory / "prometheus.yml"
        path.write_text(yaml.safe_dump(config, sort_keys=False))
        return path
