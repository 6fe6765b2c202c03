"""The twins: the good stack and its named misconfigurations.

A twin is a small override of the good stack's nginx knobs (sandbox.nginx.DEFAULT_KNOBS), app
settings (sandbox.settings.DEFAULT_SETTINGS) or postgresql.conf. `breaks` maps each check the twin
must fail to a regex its failure message must match. `env` is deep-merged into the environment
file by the self-tests, for twins whose misconfiguration is in the declared configuration;
`${VAR}` placeholders in it are left for the environment loader.
"""

from __future__ import annotations

from sandbox.twins import app, auth, cookies, cors, database, headers, nginx, pool, redis, spa, tls, ui, webhooks
from sandbox.twins.model import H, Twin, V

__all__ = ["H", "TWINS", "V", "Twin"]

GOOD = Twin(
    name="good",
    description="The reference deployment: every check passes.",
    guide="",
    breaks={},
)

_AREAS = (spa, cors, cookies, pool, webhooks, tls, headers, app, auth, nginx, ui, database, redis)
TWINS: dict[str, Twin] = {GOOD.name: GOOD}
for _area in _AREAS:
    for _twin in _area.TWINS:
        if _twin.name in TWINS:
            raise ValueError(f"twin {_twin.name!r} is declared twice")
        TWINS[_twin.name] = _twin
