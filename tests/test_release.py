"""What a release has beside the code: a licence matching pyproject.toml, a citation file, a changelog entry
for the current version, TensorFlow as a cpu or gpu extra at the pinned version, DVC's YAML C parser, and the
README's commands."""

from __future__ import annotations

import re
import tomllib
from importlib import metadata
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


def _pins() -> dict[str, str]:
    lines = (REPO / "constraints.txt").read_text().splitlines()
    return {a.lower().replace("_", "-"): b for a, _, b in (ln.partition("==") for ln in lines if "==" in ln)}


def test_tensorflow_is_a_cpu_or_gpu_extra_at_the_pinned_version() -> None:
    """Issue 11.5: the CPU and CUDA builds are two distributions of one package, so neither is a base dependency."""
    assert not [d for d in PYPROJECT["dependencies"] if d.lower().startswith("tensorflow")]
    extras = PYPROJECT["optional-dependencies"]
    assert extras["cpu"] == ["tensorflow-cpu>=2.20"] and extras["gpu"] == ["tensorflow[and-cuda]>=2.20"]
    pins = _pins()
    assert pins["tensorflow"] == pins["tensorflow-cpu"] == metadata.version("tensorflow-cpu")  # what tests run on


def test_dvc_reads_yaml_with_the_c_parser() -> None:
    """dvc.lock is read around every stage; ruamel.yaml's C parser (an extra since 0.19) reads it 4x faster."""
    from ruamel.yaml import YAML, main

    assert main.CParser is not None, "ruamel.yaml.clib is not installed (a dependency in pyproject.toml)"
    text = (REPO / "dvc.lock").read_text()
    assert YAML(typ="safe").load(text) == YAML(typ="safe", pure=True).load(text)  # the same data either way
    assert _pins()["ruamel.yaml.clib"] == metadata.version("ruamel.yaml.clib")


def _readme_commands() -> list[str]:
    block = re.search(r"```bash\n(.*?)```", (REPO / "README.md").read_text(), re.S).group(1)
    return [ln for ln in block.splitlines() if ln and not ln.startswith("#")]


def test_ci_runs_the_readme_test_command_and_both_install_tensorflow() -> None:
    run, test = _readme_commands()
    assert run.endswith("pip install -c constraints.txt -e '.[cpu]' && dvc repro")
    assert test.endswith("pip install -q -c constraints.txt -e '.[cpu,test]' && pytest")
    assert (REPO / ".ci" / "run").read_text().splitlines()[-1] == test
