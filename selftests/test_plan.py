"""The plan of a start (sandbox.plan), derived from the twins alone: no process, port or file."""

from __future__ import annotations

from sandbox.plan import DATA, GOOD, RELEASED, InstancePlan, Plan, make_plan
from sandbox.postgres import APP_DATABASE, DJANGO_DATABASE, SITE_DATABASE
from sandbox.twins import TWINS, Twin, resolve


def plan_of(*names: str) -> Plan:
    return make_plan([resolve(name) for name in names])


def instance(plan: Plan, name: str) -> InstancePlan:
    [found] = [i for i in plan.instances if i.name == name]
    return found


def test_the_good_stack_alone() -> None:
    plan = plan_of("good")
    assert list(plan.clusters) == [GOOD] and not plan.clusters[GOOD].django
    assert list(plan.redis) == [GOOD] and plan.redis[GOOD].setup.lists  # the seeded email backlog
    assert plan.roots == ("prod",) and plan.certificates == ("good",)
    assert plan.releases == {}
    good = instance(plan, "good")
    assert (good.cluster, good.database, good.release, good.redis, good.root) == (
        GOOD,
        APP_DATABASE,
        None,
        GOOD,
        "prod",
    )
    assert good.app == {} and good.health == 200 and good.data is None


def test_data_twins_share_one_cluster_each_in_a_database_of_its_own() -> None:
    plan = plan_of("good", "pg-read-only", "pg-missing-index", "pg-migration-behind")
    assert list(plan.clusters) == [GOOD, DATA]
    twins = [instance(plan, name) for name in ("pg-read-only", "pg-missing-index", "pg-migration-behind")]
    assert {twin.cluster for twin in twins} == {DATA}
    assert [twin.database for twin in twins] == [
        "twin_pg_read_only",
        "twin_pg_missing_index",
        "twin_pg_migration_behind",
    ]
    assert all(twin.clone and twin.data is not None for twin in twins)
    assert instance(plan, "pg-migration-behind").data.alembic_revision == "0002_guide_tables"


def test_own_cluster_twins_get_one_per_framework_instance() -> None:
    plan = plan_of("good", "pg-connections-exhausted", "pg-connections-exhausted@django")
    assert list(plan.clusters) == [GOOD, "pg-connections-exhausted", "pg-connections-exhausted@django"]
    for name in ("pg-connections-exhausted", "pg-connections-exhausted@django"):
        cluster = plan.clusters[name]
        assert cluster.settings == {"max_connections": "40"} and cluster.hold_connections == 32
        assert instance(plan, name).cluster == name
    assert not plan.clusters["pg-connections-exhausted"].django
    assert plan.clusters["pg-connections-exhausted@django"].django


def test_cluster_level_knobs_reach_the_cluster() -> None:
    plan = plan_of("pg-standby", "pg-near-wraparound", "api-slow-listing")
    assert plan.clusters["pg-standby"].standby
    wraparound = plan.clusters["pg-near-wraparound"]
    assert wraparound.next_xid == 1_200_000_000 and wraparound.settings == {"autovacuum_freeze_max_age": "2000000000"}
    assert plan.clusters["api-slow-listing"].settings == {"log_min_duration_statement": "'1s'"}
    assert not any(plan.clusters[name].standby for name in ("pg-near-wraparound", "api-slow-listing"))


def test_a_django_instance_waits_for_its_clusters_release_step() -> None:
    plan = plan_of("good", "good@django", "hook-unverified@django", "pg-idle-session-timeout@django")
    assert list(plan.releases) == [GOOD, "pg-idle-session-timeout@django"]
    assert plan.clusters[GOOD].django and plan.clusters["pg-idle-session-timeout@django"].django
    for name, cluster in [
        ("good@django", GOOD),
        ("hook-unverified@django", GOOD),
        ("pg-idle-session-timeout@django", "pg-idle-session-timeout@django"),
    ]:
        django = instance(plan, name)
        assert (django.cluster, django.release, django.database) == (cluster, cluster, DJANGO_DATABASE)
        assert plan.releases[cluster].cluster == cluster
    assert instance(plan, "good").release is None


def test_a_twin_that_stops_django_early_has_its_own_release_and_database() -> None:
    plan = plan_of("good", "django-migrate-behind@django")
    behind = instance(plan, "django-migrate-behind@django")
    release = plan.releases["django-migrate-behind"]
    assert behind.release == "django-migrate-behind" and behind.cluster == GOOD
    assert (release.cluster, release.database) == (GOOD, "django_twin_django_migrate_behind")
    assert release.migrate_to == ("verihome", "0002_seed_properties")
    assert behind.database == release.database
    assert plan.clusters[GOOD].django  # app_django is made all the same: the Django instances share it


def test_a_data_twin_under_django_uses_the_shared_cluster_unchanged() -> None:
    twin = Twin(
        name="data-and-app",
        description="",
        guide="",
        breaks={},
        data={"sql": ("DROP INDEX idx_payments_due_date",)},
        app={"debug": True},
    )
    plan = make_plan([(twin, "flask"), (twin, "django")])
    flask, django = instance(plan, "data-and-app"), instance(plan, "data-and-app@django")
    assert flask.cluster == django.cluster == DATA and plan.clusters[DATA].django
    assert flask.data is not None and flask.database == "twin_data_and_app"
    assert django.data is None and django.database == DJANGO_DATABASE and django.release == DATA


def test_a_redis_twin_has_a_server_of_its_own_for_both_frameworks() -> None:
    twin = Twin(
        name="redis-and-app",
        description="",
        guide="",
        breaks={},
        redis={"settings": {"maxmemory-policy": "allkeys-lru"}},
        app={"debug": True},
    )
    plan = make_plan([(TWINS["good"], "flask"), (twin, "flask"), (twin, "django")])
    assert list(plan.redis) == [GOOD, "redis-and-app"]
    assert plan.redis["redis-and-app"].settings.maxmemory_policy == "allkeys-lru"
    assert not plan.redis["redis-and-app"].setup.declared  # no seed: only the twin's own setup
    assert {instance(plan, name).redis for name in ("redis-and-app", "redis-and-app@django")} == {"redis-and-app"}
    assert instance(plan, "good").redis == GOOD


def test_web_roots_and_certificates_are_made_only_when_asked_for() -> None:
    plan = plan_of("good", "spa-dev-build", "web-leftovers-exposed", "tls-cert-expired", "ui-white-screen")
    assert plan.roots == ("prod", "dev", "leftovers", "broken")
    assert plan.certificates == ("good", "expired")
    roots = {i.name: i.root for i in plan.instances}
    assert roots == {
        "good": "prod",
        "spa-dev-build": "dev",
        "web-leftovers-exposed": "leftovers",
        "tls-cert-expired": "prod",
        "ui-white-screen": "broken",
    }


def test_an_app_without_its_database_is_ready_when_its_health_says_503() -> None:
    plan = plan_of("good", "api-database-unreachable", "django-guide-max-conns@django", "cors-reflect-any")
    health = {i.name: i.health for i in plan.instances}
    assert health == {
        "good": 200,
        "api-database-unreachable": 503,
        "django-guide-max-conns@django": 503,
        "cors-reflect-any": 200,
    }


def test_a_site_gets_its_shape_then_its_twins_knobs() -> None:
    plan = plan_of(
        "good@django-site", "good@flask-site", "site-login-unlimited@django-site", "site-public-source-map@flask-site"
    )
    django, flask = instance(plan, "good@django-site"), instance(plan, "good@flask-site")
    assert django.nginx.site == flask.nginx.site == "server" and django.nginx.spa_api_url is None
    assert django.nginx.login_locations == ["= /accounts/login/"] and django.nginx.api_locations == []
    assert flask.nginx.login_locations == ["= /login"] and flask.nginx.api_locations == ["/api/"]
    unlimited = instance(plan, "site-login-unlimited@django-site").nginx
    assert unlimited.limit_login is False and unlimited.login_locations == ["= /accounts/login/"]
    # The site's own database, created and migrated by a release step of its own; its static files.
    assert django.database == SITE_DATABASE and plan.releases[django.release or ""].create
    assert (django.root, flask.root, instance(plan, "site-public-source-map@flask-site").root) == (
        "django-site",
        "flask-site",
        "flask-site-dev",
    )
    assert (django.health_path, flask.health_path) == ("/health/", "/api/health")


def test_an_instance_gets_its_twins_overrides() -> None:
    plan = plan_of("cors-reflect-any@django", "spa-no-fallback")
    reflect = instance(plan, "cors-reflect-any@django")
    assert reflect.app == {"cors": {"origins": ".*"}} and reflect.framework == "django"
    assert instance(plan, "spa-no-fallback").nginx.spa_fallback is False


def test_every_twin_under_every_framework_plans_consistently() -> None:
    """What each instance waits for and uses is in the plan; no two instances share a cloned database."""
    plan = make_plan([(twin, fw) for twin in TWINS.values() for fw in twin.frameworks])
    assert len(plan.instances) == sum(len(twin.frameworks) for twin in TWINS.values())
    for planned in plan.instances:
        assert planned.cluster in plan.clusters and planned.redis in plan.redis and planned.root in plan.roots
        assert planned.nginx.certificate in plan.certificates
        if planned.framework in RELEASED:
            release = plan.releases[planned.release or ""]
            assert release.cluster == planned.cluster and release.database == planned.database
            assert release.framework == planned.framework
        else:
            assert planned.release is None
    clones = [(i.cluster, i.database) for i in plan.instances if i.clone]
    assert len(clones) == len(set(clones))
