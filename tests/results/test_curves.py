"""The training curves gathered per kind of training from the DVCLive folders (srseg.results.curves)."""

from __future__ import annotations

from pathlib import Path

from srseg.methods.registry import trained
from srseg.paths import Paths
from srseg.results.curves import KINDS, columns, kind_rows, plot_definitions, runs
from tests.results.test_summary import params_for


def _tsv(path: Path, name: str, values: dict[int, float], timestamp: bool = False) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    head = "timestamp\tstep\t" + name if timestamp else "step\t" + name
    path.write_text(head + "\n" + "".join((f"0\t{k}\t{v}" if timestamp else f"{k}\t{v}") + "\n"
                                          for k, v in values.items()))


def test_runs_cover_every_training_once() -> None:
    """SR pretraining per scale, the HR PSPNet and every trained method per scale, per seed, each in one kind."""
    params = params_for([2, 4], [4], seeds=[0, 1])
    got = list(runs(params, Paths()))
    assert len(got) == len({log for _, _, log in got}) == 2 * (2 + 1 + sum(len(m.scale_list(params)) or 1
                                                                    for m in trained()))  # scale-free: once
    kinds = {run: kind for kind, run, _ in got}
    assert kinds["sr_x2 seed 1"] == "pretraining" and kinds["seg_hr seed 0"] == "segmentation"
    assert kinds["seg_retrain_bicubic_x4 seed 0"] == kinds["seg_joint_x4 seed 1"] == "segmentation"
    assert kinds["task_sr_x4 seed 0"] == kinds["sft_oracle_x4 seed 1"] == "finetunes"


def test_rows_join_each_runs_metrics_by_step(tmp_path: Path) -> None:
    """One row per run and step with every curve of the kind (None where the run did not log it); a run without
    its DVCLive folder is left out."""
    paths = Paths(tmp_path)
    params = params_for([2, 3], [])
    metrics = paths.train_log("sr_x2", 0) / "plots" / "metrics"
    _tsv(metrics / "train" / "loss.tsv", "loss", {0: 0.5, 1: 0.25, 2: 0.125})
    _tsv(metrics / "val" / "psnr.tsv", "psnr", {1: 30.5, 2: 31.0}, timestamp=True)
    _tsv(metrics / "train" / "psnr.tsv", "psnr", {0: 99.0})  # not a curve of the kind: not read
    rows = kind_rows("pretraining", params, paths)  # sr_x3 has no folder
    assert rows == [{"run": "sr_x2 seed 0", "step": 0, "loss": "0.5", "val_psnr": None},
                    {"run": "sr_x2 seed 0", "step": 1, "loss": "0.25", "val_psnr": "30.5"},
                    {"run": "sr_x2 seed 0", "step": 2, "loss": "0.125", "val_psnr": "31.0"}]
    assert columns("pretraining") == ["run", "step", "loss", "val_psnr"]
    assert kind_rows("segmentation", params, paths) == []


def test_one_plot_definition_per_kind_and_curve() -> None:
    lines = plot_definitions(Paths().series)
    names = [ln.split(":")[0].removeprefix("  - ") for ln in lines if ln.startswith("  - ")]
    assert names == [f"train_{kind}_{c.column}" for kind, (_, curves) in KINDS.items() for c in curves]
    assert all("template: training_curves" in ln for ln in lines if ln.startswith("  - "))
