"""Verdicts against the committed results: what changed is named, in one line."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from srseg.results.verdicts import committed_summary, compare, report_changes, verdicts


def entry(diff: float, lo: float, hi: float, verdict: str | None = None) -> dict:
    e = {"diff": diff, "ci95": [lo, hi]}
    return e if verdict is None else e | {"verdict": verdict}


def summary(version: int, x3: dict, x4: dict) -> dict:
    return {"schema_version": version, "comparisons": {
        "sr_x3-vs-bicubic_x3": {"pacc": x3, "miou": None},
        "sr_x4-vs-bicubic_x4": {"pacc": x4, "objects": {"pedestrian_recall": entry(0.0, 0.0, 0.0, "none")}}}}


def test_verdicts_and_their_changes() -> None:
    old = summary(1, entry(0.003, 0.0004, 0.005), entry(0.014, 0.006, 0.024))  # schema 1: by the interval
    new = summary(2, entry(0.002, -0.0002, 0.004, "none"), entry(0.013, 0.005, 0.022, "higher"))
    assert verdicts(old) == {"sr_x3-vs-bicubic_x3.pacc": "higher", "sr_x4-vs-bicubic_x4.pacc": "higher",
                             "sr_x4-vs-bicubic_x4.pedestrian_recall": "none"}
    same, changed = compare(verdicts(old), verdicts(new))
    assert same == 2 and changed == ["sr_x3-vs-bicubic_x3.pacc: higher → none"]


@pytest.mark.skipif(shutil.which("git") is None, reason="git not installed")
def test_the_summarize_line_compares_with_head(tmp_path: Path) -> None:
    path = tmp_path / "metrics" / "summary.json"
    assert "no committed metrics/summary.json" in report_changes({}, path.parent / "x.json")  # not a checkout
    path.parent.mkdir()
    committed = summary(2, entry(0.003, 0.001, 0.005, "higher"), entry(0.014, 0.006, 0.024, "higher"))
    path.write_text(json.dumps(committed))
    env = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t",
           "PATH": "/usr/bin:/bin"}
    for cmd in (["init", "-q"], ["add", "."], ["commit", "-qm", "results"]):
        subprocess.run(["git", *cmd], cwd=tmp_path, check=True, env=env)
    new = summary(2, entry(-0.001, -0.003, 0.001, "none"), entry(0.014, 0.006, 0.024, "higher"))
    path.write_text(json.dumps(new))  # the run overwrote the file: HEAD still has the committed one
    assert committed_summary(path) == committed
    line = report_changes(new, path)
    assert line == "verdicts vs the committed results: 2 same, 1 changed: sr_x3-vs-bicubic_x3.pacc: higher → none"
