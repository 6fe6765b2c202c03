"""The twins: the good stack and its named misconfigurations.

A twin is a small override of the good stack, declared per part (sandbox.parts: nginx knobs, app
settings, PostgreSQL, Redis, data) and checked when it is declared (sandbox.twins.model.Twin).
`breaks` maps each check the twin must fail to a regex its failure message must match. `env` is
deep-merged into the environment file by the self-tests, for twins whose misconfiguration is in
the declared configuration; `${VAR}` placeholders in it are left for the environment loader.

A twin runs under each framework of `frameworks`: the instance `<twin>` is the Flask API,
`<twin>@django` the Django API, each behind its own nginx.
"""

from __future__ import annotations

from sandbox.twins import (
    app,
    auth,
    cookies,
    cors,
    database,
    django,
    headers,
    mail,
    monitoring,
    nginx,
    pool,
    redis,
    sites,
    spa,
    tls,
    ui,
    webhooks,
)
from sandbox.twins.model import (
    API_FRAMEWORKS,
    FRAMEWORKS,
    SITE_FRAMEWORKS,
    H,
    Twin,
    TwinError,
    V,
    instance_name,
    split_instance,
)

__all__ = [
    "API_FRAMEWORKS",
    "FRAMEWORKS",
    "H",
    "SITE_FRAMEWORKS",
    "TWINS",
    "V",
    "Twin",
    "TwinError",
    "instance_name",
    "resolve",
    "split_instance",
]

GOOD = Twin(
    name="good",
    description="The reference deployment: every check passes.",
    guide="",
    breaks={},
    frameworks=FRAMEWORKS,  # a good stack of every shape
)

_AREAS = (
    spa, cors, cookies, pool, webhooks, tls, headers, app, auth, nginx, ui, database, redis, django, sites, monitoring,
    mail,
)  # fmt: skip
TWINS: dict[str, Twin] = {GOOD.name: GOOD}
for _area in _AREAS:
    for _twin in _area.TWINS:
        if _twin.name in TWINS:
            raise ValueError(f"twin {_twin.name!r} is declared twice")
        TWINS[_twin.name] = _twin


def resolve(name: str) -> tuple[Twin, str]:
    """The twin and framework of an instance name (`good`, `good@django`); ValueError names the problem."""
    twin_name, framework = split_instance(name)
    if twin_name not in TWINS:
        raise ValueError(f"unknown twin {twin_name!r}")
    if framework not in FRAMEWORKS:
        raise ValueError(f"unknown framework {framework!r} in {name!r} (frameworks: {', '.join(FRAMEWORKS)})")
    twin = TWINS[twin_name]
    if framework not in twin.frameworks:
        raise ValueError(f"twin {twin_name!r} does not run under {framework} (only {', '.join(twin.frameworks)})")
    return twin, framework
