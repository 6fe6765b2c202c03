"""The state file of a running sandbox (`python -m sandbox up`): its instances and their variables.

Standard library only: attaching a run to a sandbox imports nothing of the sandbox's apps.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from sandbox.variables import VARIABLES


class StateError(Exception):
    """An unusable state file: the message is one line naming the file."""


def write_state(path: Path, state: dict[str, Any]) -> None:
    """Write atomically, readable by the owner only (the variables hold passwords)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(state, handle, indent=2)
    os.replace(tmp, path)


def read_state(path: Path) -> dict[str, dict[str, str]]:
    """The variables of each running instance (`good`, `good@django`, ...)."""
    try:
        state = json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise StateError(f"sandbox state file {path} does not exist") from None
    except (OSError, ValueError) as exc:
        raise StateError(f"sandbox state file {path} is unreadable: {exc}") from None
    twins = state.get("twins") if isinstance(state, dict) else None
    if not isinstance(twins, dict) or not twins:
        raise StateError(f"sandbox state file {path} has no twins")
    result: dict[str, dict[str, str]] = {}
    for name, variables in twins.items():
        if not isinstance(variables, dict) or set(VARIABLES) - set(variables):
            raise StateError(f"sandbox state file {path}: twin {name!r} lacks variables")
        result[name] = {key: str(value) for key, value in variables.items()}
    return result
