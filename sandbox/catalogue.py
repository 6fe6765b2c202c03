"""docs/CHECKS.md: preflight's catalogue with the twins that prove each check can fail.

`python -m sandbox.catalogue > docs/CHECKS.md` (`make docs`). It reads the twins' declarations
only, so it needs none of the sandbox's apps.
"""

from __future__ import annotations

import sys

from fixtures.catalogue import render
from sandbox.twins import API_FRAMEWORKS, TWINS


def proving_twins() -> dict[str, list[str]]:
    """Check id -> the twins whose `breaks` name it."""
    proof: dict[str, list[str]] = {}
    for twin in TWINS.values():
        for check_id in twin.breaks:
            proof.setdefault(check_id, []).append(twin.name)
    return proof


def catalogue() -> str:
    only = {t.name: f" ({', '.join(t.frameworks)} only)" for t in TWINS.values() if t.frameworks != API_FRAMEWORKS}
    cells = {
        check_id: ", ".join(f"`{name}`{only.get(name, '')}" for name in names)
        for check_id, names in proving_twins().items()
    }
    note = (
        "A proving twin runs under both sandbox APIs behind the SPA, Flask and Django, unless marked (flask only) "
        "or (django only); a twin of the server-rendered sites is marked (django-site, flask-site only) or either one."
    )
    return render(column=("proving twins", cells), notes=(note,))


if __name__ == "__main__":
    sys.stdout.write(catalogue())
