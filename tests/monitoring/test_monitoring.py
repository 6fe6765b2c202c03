"""MON: Prometheus and the Alertmanager it sends to, through Prometheus's read-only HTTP API."""

from __future__ import annotations

from typing import Any

from fixtures.check import EnvironmentModel, Prometheus, Selector, check, duration_seconds, fail, fail_on, selectors

GUIDE = "H: Monitoring and Alerts"
MAX_SELECTORS = 40  # selectors MON-04 looks up per run (a query for the metric, one per label it filters on)


@check("MON-01", severity="high", guide=[GUIDE, "H: Missing Metrics"])
def test_targets_up(prom: Prometheus, env: EnvironmentModel) -> None:
    """Prometheus is ready and every target it scrapes is up

    A target that is down is a blind spot: its alerts, ServiceDown aside, cannot fire, and its graphs have
    gaps ("Gaps in monitoring data", "Scrape failures"). A declared job with no target at all is the same
    blind spot, quieter: nothing even reports it down.

    Fix: read the target's lastError in Prometheus (Status > Targets, or /api/v1/targets): a wrong port or
    metrics_path, a scrape_timeout shorter than the exporter needs, a firewall. Declare in monitoring.jobs the
    jobs that must exist.
    """
    prom.ready()
    targets = prom.api("targets", state="active")["activeTargets"]
    problems = [
        f"{t['labels'].get('job', '?')} {t['scrapeUrl']}: {t['health']} ({t.get('lastError') or 'no error given'})"
        for t in targets
        if t["health"] == "down"  # "unknown": not scraped yet (a target just added)
    ]
    spec = env.monitoring
    assert spec is not None
    present = {t["labels"].get("job") for t in targets}
    problems += [
        f"job {job} (monitoring.jobs): Prometheus has no target for it" for job in spec.jobs if job not in present
    ]
    fail_on(problems, f"Prometheus at {prom.url}: {len(problems)} scrape problem(s):")


@check("MON-02", severity="medium", guide=GUIDE)
def test_rules_evaluate(prom: Prometheus) -> None:
    """Every recording and alerting rule evaluates without error

    A rule whose evaluation fails (a many-to-many match, duplicate label sets after label_replace, a query
    over its limits) produces nothing: the alert built on it never fires and the dashboards built on the
    recording go blank, while Prometheus itself looks healthy.

    Fix: run the rule's expression in Prometheus's expression browser and read the error (Status > Rules
    shows lastError); aggregate before matching, or add `on(...)`/`group_left` where the sides have
    several series per match.
    """
    prom.ready()
    rules = [r | {"kind": kind} for kind in ("alerting", "recording") for r in prom.rules(kind)]
    problems = [
        f"{r['kind']} rule {r['name']} (group {r['group']}): {r.get('lastError') or 'health err'}"
        for r in rules
        if r.get("health") == "err"
    ]
    fail_on(problems, f"Prometheus at {prom.url}: {len(problems)} rule(s) fail to evaluate:")


@check(
    "MON-03",
    severity="medium",
    guide=[GUIDE, "H: False Alerts", "H: Create Alert Hierarchy"],
    standards=["pint:alerts/for", "pint:alerts/annotation", "pint:rule/label"],
)
def test_alerts_well_formed(prom: Prometheus, env: EnvironmentModel) -> None:
    """Every alert has a severity, a summary and a `for:` at or over the declared minimum

    The guide's false alerts come from alerts that fire on a single bad scrape (no `for:`, or a very short
    one), and its alert hierarchy from the severity label that routes them: an alert without a severity
    reaches nobody or everybody, and one without a summary tells the person paged nothing.

    Fix: give each alert `for:` of at least monitoring.min_for, a `severity` label among
    monitoring.severities (critical pages, warning tickets, info dashboards), and an annotations.summary.
    """
    spec = env.monitoring
    assert spec is not None
    least = duration_seconds(spec.min_for)
    problems = []
    for alert in prom.rules("alerting"):
        name, severity = alert["name"], alert.get("labels", {}).get("severity")
        if severity not in spec.severities:
            problems.append(f"{name}: severity {severity!r} is not one of {', '.join(spec.severities)}")
        if not alert.get("annotations", {}).get("summary"):
            problems.append(f"{name}: no annotations.summary")
        if float(alert.get("duration", 0)) < least:
            problems.append(f"{name}: for: {alert.get('duration', 0):g}s is under monitoring.min_for ({spec.min_for})")
    fail_on(problems, f"{len(problems)} alert rule problem(s):")


@check(
    "MON-04",
    severity="medium",
    guide=[GUIDE, "H: Missing Metrics"],
    inputs={"lookback": "1d"},
    standards=["pint:promql/series"],
)
def test_alerts_watch_existing_series(prom: Prometheus, inputs: dict[str, Any]) -> None:
    """Alerts watch series that exist

    An alert on a metric nobody exports, or filtered on a label those series never carry, can never fire:
    a renamed metric, an exporter that was never deployed, a typo. It looks like coverage and is none
    ("Metrics not appearing"; Cloudflare pint's promql/series). A series seen at any time within `lookback`
    counts (a quiet error counter is not missing); a rule that guards the absence itself (absent(),
    `or vector(0)`) is left alone.

    Fix: export the metric (and check the job scraping it is up: MON-01), or correct the metric or label
    name in the rule; when an absent series must alert, say so with absent().
    """
    lookback = str(inputs["lookback"])
    problems: list[str] = []
    asked = 0
    for alert in prom.rules("alerting"):
        found, guarded = selectors(alert["query"])
        for selector in [] if guarded else [s for s in found if s.name]:
            if asked >= MAX_SELECTORS:
                break
            asked += 1
            problems += _missing(prom, alert["name"], selector, lookback)
    fail_on(problems, f"{len(problems)} alert selector(s) match nothing Prometheus had in the last {lookback}:")


def _missing(prom: Prometheus, alert: str, selector: Selector, lookback: str) -> list[str]:
    """What of a selector Prometheus never had within lookback: the metric, or a label it filters on."""
    name = f'__name__="{selector.name}"'
    if not prom.count(f"count(last_over_time({{{name}}}[{lookback}]))"):
        return [f"{alert}: {selector} - Prometheus has no series named {selector.name}"]
    labels = dict.fromkeys(label for label, _, _ in selector.matchers)
    return [
        f"{alert}: {selector} - {selector.name} has no label {label}"
        for label in labels
        if not prom.count(f'count(last_over_time({{{name},{label}!=""}}[{lookback}]))')
    ]


@check("MON-05", severity="high", guide=[GUIDE, "H: Create Alert Hierarchy"])
def test_alerts_reach_someone(prom: Prometheus, env: EnvironmentModel) -> None:
    """Alerts reach an Alertmanager that is ready, and every declared job has its ServiceDown alert

    Prometheus evaluates alerts but does not notify anyone: without an Alertmanager (or with one that is
    down) every alert fires into the void. And the guide's first alert, `up == 0` (ServiceDown), is the one
    that catches a job that stopped being scraped at all.

    Fix: list the Alertmanagers under `alerting.alertmanagers` in prometheus.yml and check /-/ready on each;
    add `- alert: ServiceDown expr: up == 0 for: 1m labels: {severity: critical}` (or one per job).
    """
    spec = env.monitoring
    assert spec is not None
    managers = prom.api("alertmanagers")["activeAlertmanagers"]
    if not managers:
        fail(f"Prometheus at {prom.url} has no active Alertmanager: its alerts reach nobody (alerting.alertmanagers)")
    for base in [spec.alertmanager] if spec.alertmanager else [m["url"].split("/api/")[0] for m in managers]:
        prom.ready(base)
    alerts = prom.rules("alerting")
    problems = [f"job {job}: no alert on up == 0 covers it" for job in spec.jobs if not _covers(alerts, job)]
    fail_on(problems, f"{len(problems)} declared job(s) without a ServiceDown alert (monitoring.jobs):")


def _covers(alerts: list[dict[str, Any]], job: str) -> bool:
    """An alert on `up` (== 0, < 1, or absent) whose job matcher, if any, admits the job."""
    for alert in alerts:
        query = alert["query"].replace(" ", "")
        found, guarded = selectors(alert["query"])
        ups = [s for s in found if s.name == "up"]
        if not ups or not (guarded or "==0" in query or "<1" in query):
            continue
        for selector in ups:
            jobs = [(op, value) for label, op, value in selector.matchers if label == "job"]
            if not jobs or any(op == "=" and value == job for op, value in jobs) or any(op == "=~" for op, _ in jobs):
                return True
    return False
