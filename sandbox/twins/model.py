"""What a twin is: a named misconfiguration of the good stack."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

H = "001_78cd32186fd6cabf.txt"  # VeriHome guide
V = "000_58cfc3a4ec8581b0.txt"  # Verso-Backend guide

# The API frameworks a twin can run under (sandbox/API.md): Flask (sandbox.app), Django (sandbox.django_api).
FRAMEWORKS = ("flask", "django")


@dataclass(frozen=True)
class Twin:
    name: str
    description: str
    guide: str
    breaks: dict[str, str]
    nginx: dict[str, Any] = field(default_factory=dict)
    app: dict[str, Any] = field(default_factory=dict)
    postgres: dict[str, str] = field(default_factory=dict)
    hold_connections: int = 0
    env: dict[str, Any] = field(default_factory=dict)
    # redis-server settings over sandbox.redis_server.QUEUE_SETTINGS, and setup steps
    # (redis_server.SETUP_STEPS); either gives the twin its own queue/session instance.
    redis: dict[str, str] = field(default_factory=dict)
    redis_setup: dict[str, Any] = field(default_factory=dict)
    # Database twins. Without `postgres` settings they share one extra cluster, each in a
    # database of its own cloned from the migrated, seeded `app` (sandbox.postgres.Cluster.prepare).
    sql: tuple[str, ...] = ()  # run as the superuser in the twin's database at start; {database} names it
    sql_failing: tuple[str, ...] = ()  # then these, which must fail (e.g. CREATE INDEX CONCURRENTLY)
    alembic_revision: str = ""  # downgrade the twin's database to this Alembic revision
    hold_transaction: str = ""  # run in a transaction that stays open, idle, for the whole run
    next_xid: int = 0  # pg_resetwal -x on the stopped cluster before its first start (a cluster of its own)
    # Django twins: after migrating, the release step goes back to this migration (`manage.py migrate
    # APP NAME`), in a Django database of the twin's own.
    django_migrate_to: tuple[str, str] | None = None
    standby: bool = False  # restart the cluster, once set up, as a standby with no primary (a cluster of its own)
    # Where the misconfiguration can be expressed; a twin of a Flask/SQLAlchemy-only setting lists only flask.
    # Left unset: both, except for a twin that changes only Redis or the Flask API's database (its data,
    # Alembic revision, transaction ids): under Django the checks would see the very same server.
    frameworks: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.frameworks:
            server_only = self.redis or self.redis_setup or self.database or self.next_xid
            flask_only = server_only and not (self.app or self.nginx)
            object.__setattr__(self, "frameworks", FRAMEWORKS[:1] if flask_only else FRAMEWORKS)

    @property
    def own_cluster(self) -> bool:
        """Whether the twin runs a PostgreSQL cluster of its own (per framework instance)."""
        return bool(self.postgres or self.hold_connections or self.next_xid or self.standby)

    @property
    def database(self) -> bool:
        """Whether the twin changes its database (rather than only server settings)."""
        return bool(self.sql or self.sql_failing or self.alembic_revision or self.hold_transaction)

    def instance(self, framework: str) -> str:
        """The running instance's name: the twin's for Flask, `<twin>@<framework>` otherwise."""
        return instance_name(self.name, framework)


def instance_name(twin: str, framework: str) -> str:
    return twin if framework == FRAMEWORKS[0] else f"{twin}@{framework}"


def split_instance(name: str) -> tuple[str, str]:
    """`cors-no-vary@django` -> ("cors-no-vary", "django"); a bare twin name runs under Flask."""
    twin, _, framework = name.partition("@")
    return twin, framework or FRAMEWORKS[0]
