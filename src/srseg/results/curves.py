"""The training curves, one CSV per kind of training (``plots/series/train_<kind>.csv``), so that ``dvc plots``
draws one chart per kind and metric (dvc.yaml's top-level ``train_*`` plots, :func:`plot_definitions`) instead of
one per DVCLive file and run.

Every training stage logs its curves with DVCLive into its folder, one TSV per metric (``step`` and the value) under
``metrics/train/seed<k>/<run>/plots/metrics/``. A row here is one run at one step: ``run`` names the folder and the
seed (``sr_x4 seed 0``, ``seg_hr seed 0``), and each metric of its kind is a column (empty where the run did not
log it at that step). The runs are those the params train, in pipeline order; one without its DVCLive folder is
left out (the summarize stage runs after every training stage, so that happens only outside the pipeline).
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from srseg.methods import registry as methods
from srseg.methods.base import seg_training_outputs
from srseg.methods.registry import trained
from srseg.params import Params
from srseg.paths import Paths

HR, SR = methods.HR, methods.SR


@dataclass(frozen=True)
class Curve:
    """One chart: a metric of one kind of training, read from each run's DVCLive ``file``."""

    column: str
    file: str  # under the run's plots/metrics/
    title: str
    y_label: str


#: The kinds of training (their chart title) and the curves drawn for each: the metrics every run of the kind logs.
KINDS: dict[str, tuple[str, tuple[Curve, ...]]] = {
    "pretraining": ("SR pretraining", (
        Curve("loss", "train/loss.tsv", "training loss", "loss"),
        Curve("val_psnr", "val/psnr.tsv", "val PSNR", "PSNR (dB)"))),
    "finetunes": ("SR fine-tunes", (
        Curve("mse", "train/mse.tsv", "training MSE", "MSE"),
        Curve("val_psnr", "val/psnr.tsv", "val PSNR", "PSNR (dB)"))),
    "segmentation": ("segmentation", (
        Curve("loss_main", "train/loss_main.tsv", "cross-entropy of the main head", "loss"),
        Curve("val_miou", "val/miou.tsv", "val mean IoU", "mean IoU (fraction)"),
        Curve("val_pacc", "val/pacc.tsv", "val pixel accuracy", "pixel accuracy (fraction)"))),
}


def csv_name(kind: str) -> str:
    """The series file of a kind of training (under ``plots/series/``)."""
    return f"train_{kind}.csv"


def runs(params: Params, paths: Paths) -> Iterator[tuple[str, str, Path]]:
    """``(kind, run, DVCLive folder)`` of every training the params run: SR pretraining per scale, the HR PSPNet,
    then every method that trains a model per scale (an SR fine-tune when it makes its own images, else a
    segmenter), for each seed; ``run`` is the folder's name and the seed."""
    for k in params.seeds:
        logs = [("pretraining", paths.train_log(SR.variant(s), k)) for s in params.scales]
        logs.append(("segmentation", seg_training_outputs(paths, HR.name, k).plots[0].parent))
        for m in trained():
            assert m.train is not None
            kind = "finetunes" if m.images == "own" else "segmentation"
            scales: list[int | None] = [None] if m.scales is None else list(m.scale_list(params))  # None: scale-free
            outs = [m.train.outs(paths, s, k) for s in scales]
            logs += [(kind, out.plots[0].parent) for out in outs if out.plots]  # a trainer without a DVCLive log
        yield from ((kind, f"{log.name} seed {k}", log) for kind, log in logs)


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
    curves = KINDS[kind][1]
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
    return ["run", "step", *(c.column for c in KINDS[kind][1])]


def plot_definitions(series: Path) -> list[str]:
    """dvc.yaml's top-level plots of the training curves (lines of its ``plots:`` list), one per kind and curve:
    every run in one chart, coloured by run (.dvc/plots/training_curves.json)."""
    lines = ["  # the training curves, one chart per kind of training and metric: every run, by colour"]
    for kind, (title, curves) in KINDS.items():
        for c in curves:
            lines += [f"  - train_{kind}_{c.column}: {{template: training_curves, x: step, x_label: epoch,",
                      f"      y: {{{(series / csv_name(kind)).as_posix()}: {c.column}}}, y_label: {c.y_label},",
                      f"      title: \"Training, {title}: {c.title}\"}}"]
    return lines
