"""The README's results table is written from the studies' summaries: it matches them, and its verdict words follow
the families' verdicts and the number of seeds."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from srseg.paths import Paths
from srseg.results import readme_table
from srseg.results.schema import Summary
from srseg.results.summary import run
from tests.results.test_summary import params_for, write_metrics


def test_the_readme_table_is_the_committed_summaries() -> None:
    assert readme_table.main(["--check"]) == 0, "run python -m srseg.results.readme_table"


@pytest.mark.parametrize("seeds", [pytest.param((0,), marks=pytest.mark.slow), (0, 1, 2)])
def test_rows_and_verdict_words(tmp_path: Path, seeds: tuple[int, ...]) -> None:
    write_metrics(tmp_path, [2, 4], [4], seeds=seeds)
    run(params_for([2, 4], [4], seeds=list(seeds)), Paths(tmp_path))
    summary = Summary.from_json(json.loads(Paths(tmp_path).summary.read_text()))
    text = readme_table.table([("fixture", summary)])
    lines = text.splitlines()
    assert lines[0] == f"| difference (B − A) | fixture: {len(seeds)} seed{'s' if len(seeds) > 1 else ''} |"
    for s in (2, 4):
        comp = next(c for c in summary.against_baselines() if c.key == f"sr_x{s}-vs-bicubic_x{s}")
        row = next(ln for ln in lines if ln.startswith(f"| SR − bicubic, PACC, ×{s} |"))
        v = comp["pacc"]["verdict"]
        assert row.endswith("no change |") == (v == "none"), row
        if v != "none":
            assert (", indicative (1 seed)" in row) == (len(seeds) == 1)
    assert any(ln.startswith("| SR − bicubic, Y-PSNR, ×2 |") for ln in lines)
    assert len({ln.split(" | ")[0] for ln in lines[3:]}) == len(lines) - 3  # one row per difference
