"""What a release has beside the code: a licence matching pyproject.toml, a citation file, a changelog entry
for the current version."""

from __future__ import annotations

import tomllib
from pathlib import Path

import yaml

import srseg

REPO = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]


def test_license_matches_pyproject() -> None:
    text = (REPO / "LICENSE").read_text()
    assert PYPROJECT["license"] == {"text": "MIT"}
    assert text.startswith("MIT License\n") and "Copyright (c) 2026 srseg developers" in text
    assert "THE SOFTWARE IS PROVIDED \"AS IS\", WITHOUT WARRANTY OF ANY KIND" in text


def test_citation_cites_srseg_dcscn_and_pspnet() -> None:
    cff = yaml.safe_load((REPO / "CITATION.cff").read_text())
    assert cff["cff-version"] == "1.2.0" and {"message", "title", "authors"} <= set(cff)
    assert cff["version"] == srseg.__version__ and cff["license"] == PYPROJECT["license"]["text"]
    refs = {r["title"]: r for r in cff["references"]}
    dcscn = refs["Fast and Accurate Image Super Resolution by Deep CNN with Skip Connection and Network in Network"]
    assert [a["family-names"] for a in dcscn["authors"]] == ["Yamanaka", "Kuwashima", "Kurita"]
    assert dcscn["year"] == 2017 and "1707.05425" in dcscn["url"]
    pspnet = refs["Pyramid Scene Parsing Network"]
    assert [a["family-names"] for a in pspnet["authors"]] == ["Zhao", "Shi", "Qi", "Wang", "Jia"]
    assert "CVPR" in pspnet["conference"]["name"]
    for ref in cff["references"]:
        assert {"type", "title", "authors"} <= set(ref)


def test_changelog_has_the_current_version() -> None:
    text = (REPO / "CHANGELOG.md").read_text()
    assert "## [Unreleased]" in text and f"## [{srseg.__version__}] - " in text
    assert text.index("## [Unreleased]") < text.index(f"## [{srseg.__version__}]")
