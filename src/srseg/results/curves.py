"""The training curves, one CSV per kind of training (``plots/series/train_<kind>.csv``), so that ``dvc plots``
draws one chart per kind and metric (dvc.yaml's top-level ``train_*`` plots, :func:`plot_definitions`) instead of
one per DVCLive file and run.

Every training stage logs its curves with DVCLive into its folder, one TSV per metric (``step`` and the value) under
``metrics/train/seed<k>/<run>/plots/metrics/``. A row here is one run at one step: ``run`` names the folder and the
seed (``sr_x4 seed 0``), and each metric of its kind is a column (empty where the run did not log it at that step).
The runs are those the params train, in pipeline order; one without its DVCLive folder is left out (the summarize
stage runs after every training stage, so that happens only outside the pipeline).
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from srseg.methods.registry import trained
from srseg.params import Params
from srseg.paths import Paths


@dataclass(frozen=True)
class Curve:
    """One chart: a metric of one kind of training, read from each run's DVCLive ``file``."""

    column: str
    file: str  # under the run's plots/metrics/
    title: str
    y_label: str


#: The kinds of training (their chart title, the stages of their runs) and the curves drawn for each: the metrics
#: every run of the kind logs.
KINDS: dict[str, tuple[str, str, tuple[Curve, ...]]] = {
    "sr_pretrain": ("SR pretraining", "pretrain_sr", (
        Curve("loss", "train/loss.tsv", "training loss", "loss"),
        Curve("val_psnr", "val/psnr.tsv", "val PSNR", "PSNR (dB)"))),
    "sr_finetune": ("SR fine-tunes", "finetune_sr, task_sr, sft_sr, sft_oracle", (
        Curve("mse", "train/mse.tsv", "training MSE", "MSE"),
        Curve("val_psnr", "val/psnr.tsv", "val PSNR", "PSNR (dB)"))),
    "seg": ("segmentation", "train_seg, retrain_seg, retrain_bicubic, train_joint", (
        Curve("loss_main", "train/loss_main.tsv", "cross-entropy of the main head", "loss"),
        Curve("val_miou", "val/miou.tsv", "val mean IoU", "mean IoU (fraction)"),
        Curve("val_pacc", "val/pacc.tsv", "val pixel accuracy", "pixel accuracy (fraction)"))),
}


def csv_name(kind: str) -> str:
    """The series file of a kind of training (under ``plots/series/``)."""
    return f"train_{kind}.csv"


def runs(params: Params, paths: Paths) -> Iterator[tuple[str, str, Path]]:
    """``(kind, run, DVCLive folder)`` of every training the params run: SR pretraining per scale, the HR PSPNet,
    then every method that trains a model (its SR model, or its segmenter) per scale, for each seed."""
    for k in params.seeds:
        for s in params.scales:
            yield "sr_pretrain", f"sr_x{s} seed {k}", paths.train_log(f"sr_x{s}", k)
        yield "seg", f"seg_hr seed {k}", paths.train_log("seg_hr", k)
        for m in trained():
            assert m.train is not None
            for s in m.scale_list(params):
                log = m.train.outs(paths, s, k).plots[0].parent
                yield ("sr_finetune" if m.images == "own" else "seg"), f"{log.name} seed {k}", log


def _read_tsv(path: Path) -> dict[int, str]:
    """{step: value} of a DVCLive TSV (its columns: step, the metric, maybe a timestamp; {} without a step)."""
    with open(path, newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh, delimiter="\t"))
    if not rows or "step" not in rows[0]:
        return {}
    step = rows[0].index("step")
    value = next(i for i, name in enumerate(rows[0]) if name not in ("step", "timestamp"))
    return {int(r[step]): r[value] for r in rows[1:] if r}


def kind_rows(kind: str, params: Params, paths: Paths) -> list[dict[str, Any]]:
    """The rows of one kind's series: per run and step, each of its curves' values (None where not logged)."""
    curves = KINDS[kind][2]
    rows = []
    for k, run, log in runs(params, paths):
        if k != kind:
            continue
        folder = log / "plots" / "metrics"
        values = {c.column: _read_tsv(folder / c.file) if (folder / c.file).is_file() else {} for c in curves}
        for step in sorted(set().union(*values.values())):
            rows.append({"run": run, "step": step, **{c: v.get(step) for c, v in values.items()}})
    return rows


def columns(kind: str) -> list[str]:
    return ["run", "step", *(c.column for c in KINDS[kind][2])]


def plot_definitions(series: Path) -> list[str]:
    """dvc.yaml's top-level plots of the training curves (lines of its ``plots:`` list), one per kind and curve:
    every run in one chart, coloured by run (.dvc/plots/training_curves.json)."""
    lines = []
    for kind, (title, stages, curves) in KINDS.items():
        lines.append(f"  # training curves, {title}: the runs of {stages}")
        for c in curves:
            name = f"train_{kind}_{c.column}"
            lines += [f"  - {name}: {{template: training_curves, x: step, "
                      f"y: {{{(series / csv_name(kind)).as_posix()}: {c.column}}},",
                      " " * (len(name) + 7) + f"title: \"Training, {title}: {c.title}\", x_label: epoch, "
                      f"y_label: {c.y_label}}}"]
    return lines
