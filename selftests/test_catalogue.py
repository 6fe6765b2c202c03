"""The catalogue's references are real: each guide section is a heading of its seed guide."""

from __future__ import annotations

import re

import pytest

from fixtures.catalogue import ROOT, checks
from fixtures.contract import GUIDES

SEEDS = ROOT.parent / "shared" / "seeds"


def headings(letter: str) -> set[str]:
    text = (SEEDS / GUIDES[letter]).read_text(encoding="utf-8")
    # "### 2. CORS Issues" -> "CORS Issues"
    return {re.sub(r"^\d+\.\s*", "", m.group(1).strip()) for m in re.finditer(r"^#{2,4}\s+(.+)$", text, re.M)}


@pytest.mark.skipif(not SEEDS.is_dir(), reason=f"the seed guides are not beside this checkout ({SEEDS})")
@pytest.mark.parametrize("check", checks(), ids=lambda c: c.id)
def test_guide_sections_exist(check) -> None:
    for ref in check.guide:
        letter, _, section = ref.partition(":")
        assert section.strip() in headings(letter), f"{check.id}: {GUIDES[letter]} has no section {section.strip()!r}"


def test_seed_guides_are_the_known_ones() -> None:
    if not SEEDS.is_dir():
        pytest.skip(f"the seed guides are not beside this checkout ({SEEDS})")
    assert sorted(p.name for p in SEEDS.glob("*.txt")) == sorted(GUIDES.values())


def test_check_modules_are_only_checks() -> None:
    """tests/ holds checks and nothing else: helpers live in fixtures/."""
    stray = [p for p in (ROOT / "tests").rglob("*.py") if not p.name.startswith("test_")]
    assert not stray, f"not check modules: {stray}"


def test_local_environment_lists_only_known_twins() -> None:
    from sandbox.twins import TWINS

    twin = re.search(r"twin:\s*(\S+)", (ROOT / "environments" / "local.yml").read_text())
    assert twin and twin.group(1) in TWINS
