"""The plan of a start: what to start for the requested instances, derived from their twins alone.

make_plan() is pure: it starts, binds, writes and draws nothing, so its rules are tested without a stack
(selftests/test_plan.py). sandbox.stack executes the plan. A new part adds its own entries here
(what to start, and what each instance gets of it) and its starter there.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sandbox.parts import DataPart, MailKnobs, MonitoringKnobs, MtaKnobs, NginxKnobs, RedisSettings, RedisSetup
from sandbox.postgres import APP_DATABASE, DJANGO_DATABASE, SITE_DATABASE
from sandbox.redis_server import QUEUE_SEED
from sandbox.twins import Twin
from sandbox.twins.model import API_FRAMEWORKS

GOOD = "good"
# The cluster shared by the twins that change only data (a database each).
DATA = "data-twins"
# The frameworks with a Django release step (migrate, then the smoke user), and the database it builds.
RELEASED = {"django": DJANGO_DATABASE, "django-site": SITE_DATABASE}
# nginx in front of a server-rendered site: `location /` proxies to the app, the login page (GET and
# POST) is rate limited, and no SPA config, CORS or webhook location. A twin's own knobs go over these.
SHAPE_NGINX: dict[str, dict[str, Any]] = {
    "django-site": {
        "site": "server",
        "spa_api_url": None,
        "webhooks": False,
        "api_locations": [],
        "login_locations": ["= /accounts/login/"],
    },
    "flask-site": {
        "site": "server",
        "spa_api_url": None,
        "webhooks": False,
        "api_locations": ["/api/"],
        "login_locations": ["= /login"],
    },
}
# The app's own health answer, which the start waits for (through nginx, gunicorn and PostgreSQL).
HEALTH_PATHS = {"django-site": "/health/"}


@dataclass(frozen=True)
class ClusterPlan:
    name: str  # GOOD, DATA, or the instance of a twin with a cluster of its own
    settings: dict[str, str]  # postgresql.conf lines over sandbox.postgres.BASE_SETTINGS
    next_xid: int = 0
    standby: bool = False
    hold_connections: int = 0
    django: bool = False  # a Django instance uses it: it gets `app_django` and a release step


@dataclass(frozen=True)
class RedisPlan:
    name: str  # GOOD, or the twin whose queue and session instance it is (for both its frameworks)
    settings: RedisSettings
    setup: RedisSetup


@dataclass(frozen=True)
class ReleasePlan:
    """Django's release step (`manage.py sandbox_prepare`: migrate, then the smoke user) on one database."""

    name: str  # also its folder, django/<name>/: the cluster's, or the twin's that stops it early
    cluster: str
    database: str
    migrate_to: tuple[str, str] | None = None  # then back to this migration (DataPart.django_migrate_to)
    framework: str = "django"  # whose migrations: the API's (in app_django) or the site's
    create: bool = False  # the release step creates its database first (else the cluster made it)


@dataclass(frozen=True)
class InstancePlan:
    name: str  # `<twin>`, or `<twin>@django`
    twin: Twin
    framework: str
    cluster: str
    database: str  # the API's: `app`, a data twin's clone, `app_django`, or a Django twin's own
    release: str | None  # Django: the release step it waits for (else it waits for its cluster)
    redis: str  # its queue and session instance
    root: str  # its web root: a key of Plan.roots
    app: dict[str, Any]  # the twin's app settings overrides (the stack adds the secrets and the database URL)
    nginx: NginxKnobs
    health: int  # what its health path answers once the instance is ready
    health_path: str = "/api/health"
    data: DataPart | None = None  # changes to its database before its app starts (Flask data twins)
    clone: bool = False  # its database is cloned from the cluster's `app` first
    monitoring: str | None = None  # its Prometheus and Alertmanager: a key of Plan.monitoring (API instances)


@dataclass(frozen=True)
class MonitoringPlan:
    name: str  # GOOD (shared by every API instance that declares no monitoring), or a twin instance's own
    knobs: MonitoringKnobs
    owner: str  # the instance whose API it scrapes: started right after that instance


@dataclass(frozen=True)
class Plan:
    clusters: dict[str, ClusterPlan]
    redis: dict[str, RedisPlan]
    roots: tuple[str, ...]  # the SPA builds (prod always, dev, broken, leftovers) and the sites' static files
    certificates: tuple[str, ...]  # the leaves nginx presents (sandbox.tls.VARIANTS, or good)
    releases: dict[str, ReleasePlan]
    instances: tuple[InstancePlan, ...]
    monitoring: dict[str, MonitoringPlan]
    mail: dict[str, MailKnobs]  # the mail domain's DNS servers: GOOD's, and each mail twin's own
    mta: dict[str, MtaKnobs]  # the mail servers: GOOD's, and each MTA twin's own


def make_plan(instances: Sequence[tuple[Twin, str]]) -> Plan:
    """The plan for (twin, framework) instances, in the order given."""
    twins = list({twin.name: twin for twin, _ in instances}.values())
    cluster_of = {twin.instance(fw): cluster_name(twin, fw) for twin, fw in instances}
    releases = _releases(instances, cluster_of)
    return Plan(
        clusters=_clusters(instances, cluster_of),
        redis=_redis(twins),
        roots=tuple(dict.fromkeys(["prod", *(web_root(twin.nginx, fw) for twin, fw in instances)])),
        certificates=tuple(dict.fromkeys(c for twin in twins for c in (twin.nginx.certificate, twin.mta.certificate))),
        releases=releases,
        instances=tuple(_instance(twin, fw, cluster_of, releases) for twin, fw in instances),
        monitoring=_monitoring(instances),
        mail={GOOD: MailKnobs()} | {mail_name(twin): twin.mail for twin in twins},
        mta={GOOD: MtaKnobs()} | {mta_name(twin): twin.mta for twin in twins},
    )


def cluster_name(twin: Twin, framework: str) -> str:
    """An instance's cluster: its own (each framework's connections apart), the data twins', or the good one."""
    if twin.own_cluster:
        return twin.instance(framework)
    return DATA if twin.data.changes_app_database else GOOD


def database_name(twin: str) -> str:
    """The database of a data twin's own in the shared cluster."""
    return "twin_" + re.sub(r"[^a-z0-9]+", "_", twin.lower()).strip("_")


def web_root(knobs: NginxKnobs, framework: str = "flask") -> str:
    """The build an instance serves: an SPA build, or a site's static files (flask-site-dev: with source maps)."""
    if framework in SHAPE_NGINX:
        return f"{framework}-dev" if knobs.build == "dev" else framework
    return "leftovers" if knobs.leftovers else knobs.build


def nginx_knobs(twin: Twin, framework: str) -> NginxKnobs:
    """The twin's knobs over its shape's (SHAPE_NGINX); the SPA shape's are the knobs' defaults."""
    if framework not in SHAPE_NGINX:
        return twin.nginx
    return NginxKnobs.model_validate({**SHAPE_NGINX[framework], **twin.nginx.overrides()})


def _clusters(instances: Sequence[tuple[Twin, str]], cluster_of: dict[str, str]) -> dict[str, ClusterPlan]:
    django = {cluster_of[twin.instance(fw)] for twin, fw in instances if fw == "django"}
    clusters = {GOOD: ClusterPlan(GOOD, {}, django=GOOD in django)}
    for twin, fw in instances:
        if twin.own_cluster:
            name, postgres = twin.instance(fw), twin.postgres
            clusters[name] = ClusterPlan(
                name,
                postgres.settings.conf(),
                next_xid=postgres.next_xid,
                standby=postgres.standby,
                hold_connections=postgres.hold_connections,
                django=name in django,
            )
    if DATA in cluster_of.values():
        clusters[DATA] = ClusterPlan(DATA, {}, django=DATA in django)
    return clusters


def release_name(twin: Twin, framework: str, cluster: str) -> str:
    if framework == "django-site":
        return f"{cluster}@django-site"
    return twin.name if twin.data.django_migrate_to else cluster


def _releases(instances: Sequence[tuple[Twin, str]], cluster_of: dict[str, str]) -> dict[str, ReleasePlan]:
    """Once per cluster a Django instance uses (app_django), once per cluster a Django site uses (its
    own database, created by the step), and once per twin that stops it early."""
    releases: dict[str, ReleasePlan] = {}
    for twin, fw in instances:
        if fw not in RELEASED:
            continue
        cluster = cluster_of[twin.instance(fw)]
        if fw == "django-site":
            name = release_name(twin, fw, cluster)
            releases.setdefault(name, ReleasePlan(name, cluster, SITE_DATABASE, framework=fw, create=True))
            continue
        releases.setdefault(cluster, ReleasePlan(cluster, cluster, DJANGO_DATABASE))
        if twin.data.django_migrate_to:
            database = "django_" + database_name(twin.name)
            releases[twin.name] = ReleasePlan(twin.name, cluster, database, twin.data.django_migrate_to)
    return releases


def _redis(twins: list[Twin]) -> dict[str, RedisPlan]:
    servers = {GOOD: RedisPlan(GOOD, RedisSettings(), QUEUE_SEED)}
    for twin in twins:
        if twin.redis.declared:
            servers[twin.name] = RedisPlan(twin.name, twin.redis.settings, twin.redis.setup)
    return servers


def monitoring_name(twin: Twin, framework: str) -> str | None:
    """An API instance's Prometheus: its own when it declares monitoring, else the shared one; sites have none."""
    if framework not in API_FRAMEWORKS:
        return None
    return twin.instance(framework) if twin.monitoring.declared else GOOD


def mail_name(twin: Twin) -> str:
    """The DNS server a twin's environment resolves its mail domain with: its own when it declares mail knobs."""
    return twin.name if twin.mail.declared else GOOD


def mta_name(twin: Twin) -> str:
    """The mail server a twin's environment talks to: its own when it declares MTA knobs."""
    return twin.name if twin.mta.declared else GOOD


def _monitoring(instances: Sequence[tuple[Twin, str]]) -> dict[str, MonitoringPlan]:
    """The shared Prometheus scrapes the good instance's API when there is one, else the first that shares it."""
    plans: dict[str, MonitoringPlan] = {}
    ordered = sorted(instances, key=lambda pair: pair[0].name != GOOD)
    for twin, fw in ordered:
        name = monitoring_name(twin, fw)
        if name is not None and name not in plans:
            plans[name] = MonitoringPlan(name, twin.monitoring, twin.instance(fw))
    return plans


def _instance(twin: Twin, framework: str, cluster_of: dict[str, str], releases: dict[str, ReleasePlan]) -> InstancePlan:
    name = twin.instance(framework)
    cluster = cluster_of[name]
    release = release_name(twin, framework, cluster) if framework in RELEASED else None
    changes_data = framework == "flask" and twin.data.changes_app_database
    clone = changes_data and cluster == DATA
    database = releases[release].database if release else database_name(twin.name) if clone else APP_DATABASE
    return InstancePlan(
        name=name,
        twin=twin,
        framework=framework,
        cluster=cluster,
        database=database,
        release=release,
        redis=twin.name if twin.redis.declared else GOOD,
        root=web_root(twin.nginx, framework),
        app=twin.app.overrides(),
        nginx=nginx_knobs(twin, framework),
        health=twin.app.health,
        health_path=HEALTH_PATHS.get(framework, "/api/health"),
        data=twin.data if changes_data else None,
        clone=clone,
        monitoring=monitoring_name(twin, framework),
    )
