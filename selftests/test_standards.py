"""Citations of public standards: each scheme accepts its well-formed ids and refuses others, and every check's
citations are valid (the catalogue loads them through the contract)."""

from __future__ import annotations

import pytest

from fixtures.catalogue import checks, render
from fixtures.standards import ASVS_CHAPTERS, ASVS_SECTIONS, MOZILLA_SECTIONS, SCHEMES, cite

WELL_FORMED = {
    "ASVS": ["V3.4.1", "V14.4.7", "V2.10.4", "V1.14.6"],
    "RFC": ["6797", "6265", "8996", "9110"],
    "Django": ["security.W004", "security.W012", "security.W022"],
    "Mozilla": list(MOZILLA_SECTIONS),
    "CIS-NGINX": ["2.5.1", "4.1.4"],
    "CIS-PostgreSQL": ["3.1.2", "1.4"],
    "pint": ["promql/series", "alerts/template", "rule/label"],
    "kube-score": ["container-resources", "pod-probes"],
}


def test_every_scheme_has_examples() -> None:
    assert set(WELL_FORMED) == set(SCHEMES)


@pytest.mark.parametrize(("scheme", "ident"), [(s, i) for s, ids in WELL_FORMED.items() for i in ids])
def test_cite_accepts_a_well_formed_id(scheme: str, ident: str) -> None:
    citation = cite(f"{scheme}:{ident}")
    assert (citation.scheme, citation.id, str(citation)) == (scheme, ident, f"{scheme}:{ident}")
    joint = ": " if scheme == "Mozilla" else " "
    assert citation.label == f"{SCHEMES[scheme].title}{joint}{ident}"
    assert citation.url.startswith("https://") and "{" not in citation.url


@pytest.mark.parametrize(
    "text",
    ["ASVS", "asvs:V3.4.1", "ASVS:V3.4", "ASVS:V3.4.6", "ASVS:V14.3.1", "ASVS:V15.1.1", "RFC:12", "RFC:6797bis",
     "Django:security.E023", "Mozilla:cookies", "Mozilla:X-XSS-Protection", "CIS-NGINX:2", "pint:Promql/Series",
     "kube-score:Pod Probes"],
)  # fmt: skip
def test_cite_refuses_what_is_not_an_id(text: str) -> None:
    with pytest.raises(ValueError, match="SCHEME:ID|not a well-formed|not a requirement"):
        cite(text)


def test_asvs_links_go_to_the_requirements_chapter() -> None:
    assert cite("ASVS:V3.4.1").url.endswith("/v4.0.3_release/4.0/en/0x12-V3-Session-management.md")
    assert cite("ASVS:V14.5.3").url.endswith("/0x22-V14-Config.md")
    assert {int(section.split(".")[0]) for section in ASVS_SECTIONS} == set(ASVS_CHAPTERS)


def test_mozilla_links_use_the_pages_anchors() -> None:
    assert cite("Mozilla:robots.txt").url.endswith("#robotstxt")
    assert cite("Mozilla:Cross-origin Resource Sharing").url.endswith("#cross-origin-resource-sharing")


def test_the_checks_citations_are_distinct() -> None:
    for check in checks():
        assert len(set(check.standards)) == len(check.standards), f"{check.id} cites a standard twice"


def test_the_catalogue_links_each_citation() -> None:
    text = render()
    for check in checks():
        for citation in check.standards:
            assert f"[{citation.label}]({citation.url})" in text.split(f"### {check.id}:")[1].split("### ")[0]
    assert f"| all | {len(checks())} | {sum(1 for c in checks() if c.standards)} |" in text
