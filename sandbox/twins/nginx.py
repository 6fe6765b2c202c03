"""Twins for the RATE and NGX checks."""

from __future__ import annotations

from sandbox.twins.model import Twin

TWINS: list[Twin] = []
