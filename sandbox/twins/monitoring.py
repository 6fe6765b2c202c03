"""Twins for the MON checks. Each runs a Prometheus (and Alertmanager) of its own, for its Flask API."""

from __future__ import annotations

from sandbox.twins.model import H, Twin

MONITORING = f"{H}: Monitoring and Alerts"

TWINS = [
    Twin(
        name="mon-target-down",
        description="A scrape job for the Redis exporter that was never deployed: its target refuses every "
        "scrape (H: Missing Metrics, 'Scrape failures').",
        guide=f"{H}: Missing Metrics",
        breaks={"MON-01": r"redis http://127\.0\.0\.1:1/metrics: down \(.*connection refused"},
        monitoring={"extra_jobs": {"redis": "127.0.0.1:1"}},
        frameworks=("flask",),
    ),
    Twin(
        name="mon-rule-error",
        description="A recording rule rewrites job and instance to one value with label_replace: every "
        "evaluation fails with 'vector cannot contain metrics with the same labelset'.",
        guide=MONITORING,
        breaks={"MON-02": r"recording rule job:up:relabelled .*: .*same labelset"},
        monitoring={
            "extra_records": [
                {
                    "record": "job:up:relabelled",
                    "expr": 'label_replace(label_replace(up, "job", "all", "", ""), "instance", "all", "", "")',
                }
            ]
        },
        frameworks=("flask",),
    ),
    Twin(
        name="mon-alert-unlabelled",
        description="A HighMemoryUsage alert copied from the guide's hierarchy without `for:` or a summary, and "
        "with severity 'page', a level the routing does not know: it fires on one bad scrape and pages nobody.",
        guide=f"{H}: False Alerts",
        breaks={
            "MON-03": r"HighMemoryUsage: severity 'page' is not one of critical, warning, info\n"
            r"- HighMemoryUsage: no annotations\.summary\n- HighMemoryUsage: for: 0s is under monitoring\.min_for",
        },
        monitoring={
            "extra_alerts": [
                {
                    "alert": "HighMemoryUsage",
                    "expr": "process_resident_memory_bytes > 4e9",
                    "labels": {"severity": "page"},
                }
            ]
        },
        frameworks=("flask",),
    ),
    Twin(
        name="mon-alert-missing-metric",
        description="The guide's HighMemoryUsage alert watches memory_usage, a metric no exporter here provides, "
        "and a QueueBacklog alert filters on a `queue` label the series never carry: neither can ever fire.",
        guide=f"{H}: Missing Metrics",
        breaks={
            "MON-04": r"HighMemoryUsage: memory_usage - Prometheus has no series named memory_usage\n"
            r"- QueueBacklog: http_requests_total\{queue=\"email\"\} - http_requests_total has no label queue",
        },
        monitoring={
            "extra_alerts": [
                {
                    "alert": "HighMemoryUsage",
                    "expr": "memory_usage > 0.8",
                    "for": "5m",
                    "labels": {"severity": "warning"},
                    "annotations": {"summary": "memory above 80%"},
                },
                {
                    "alert": "QueueBacklog",
                    "expr": 'rate(http_requests_total{queue="email"}[5m]) > 100',
                    "for": "5m",
                    "labels": {"severity": "warning"},
                    "annotations": {"summary": "the email queue is backing up"},
                },
            ]
        },
        frameworks=("flask",),
    ),
    Twin(
        name="mon-no-alertmanager",
        description="prometheus.yml has no alerting section (and ServiceDown was dropped in a clean-up): alerts "
        "are evaluated and reach nobody, and a job that stops being scraped raises nothing.",
        guide=f"{H}: Create Alert Hierarchy",
        breaks={
            "MON-05": r"has no active Alertmanager: its alerts reach nobody",
            "MON-01": r"job alertmanager \(monitoring\.jobs\): Prometheus has no target for it",
        },
        monitoring={"alertmanager": False, "drop_alerts": ("ServiceDown",)},
        frameworks=("flask",),
    ),
    Twin(
        name="mon-alertmanager-down",
        description="Prometheus sends its alerts to an Alertmanager that is not running (its host was "
        "replaced and the new one never started it): every alert fails to be delivered.",
        guide=f"{H}: Create Alert Hierarchy",
        breaks={
            "MON-05": r"GET http://127\.0\.0\.1:1/-/ready: .*connection refused",
            "MON-01": r"alertmanager http://127\.0\.0\.1:1/metrics: down",
        },
        monitoring={"alertmanager_at": "127.0.0.1:1"},
        frameworks=("flask",),
    ),
    Twin(
        name="mon-no-service-down",
        description="The ServiceDown alert (up == 0) was dropped as noisy: a job that stops answering its "
        "scrapes raises nothing, though the Alertmanager is fine.",
        guide=f"{H}: Create Alert Hierarchy",
        breaks={"MON-05": r"job api: no alert on up == 0 covers it"},
        monitoring={"drop_alerts": ("ServiceDown",)},
        frameworks=("flask",),
    ),
]
