"""What a twin is: a named misconfiguration of the good stack."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

H = "001_78cd32186fd6cabf.txt"  # VeriHome guide
V = "000_58cfc3a4ec8581b0.txt"  # Verso-Backend guide


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
