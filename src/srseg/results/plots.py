"""Stage `plots`: the book's graphs and Table 4 as PNGs under ``plots/figures/``, plus ``report.md``.

It reads what the summarize stage wrote (``metrics/summary.json`` as a typed
:class:`~srseg.results.schema.Summary`, and the CSV series) and recomputes no statistic. The figures are drawn by
:mod:`srseg.results.scale_figures` (against the downscaling factor), :mod:`srseg.results.method_figures` (the
compared methods) and :mod:`srseg.results.table4`, in the style of :mod:`srseg.results.figure_style`; the report by
:mod:`srseg.results.report`.
"""

from __future__ import annotations

from pathlib import Path

from matplotlib.figure import Figure

from srseg.errors import SrsegError
from srseg.io import atomic_dir
from srseg.methods import registry as methods
from srseg.params import Params
from srseg.paths import Paths
from srseg.results.cliff import CLIFF_CLASS_CSV, CLIFF_CSV, CLIFF_DIFFS_CSV, focus_classes
from srseg.results.figure_style import save
from srseg.results.inputs import load_summary
from srseg.results.method_figures import (
    fig_class_psnr,
    fig_methods,
    fig_retrain,
    fig_tradeoff,
)
from srseg.results.pedestrians import gate
from srseg.results.scale_figures import (
    best_combination,
    fig_class_iou_delta,
    fig_cliff,
    fig_gain,
    fig_pacc,
    fig_pedestrians,
    fig_psnr,
)
from srseg.results.schema import Summary, VariantKey
from srseg.results.series import (
    CLASS_IOU_CSV,
    CLASS_PSNR_CSV,
    METHODS_CSV,
    OBJECTS_CSV,
    RETRAIN_CSV,
    SCALES_CSV,
    read_csv,
)
from srseg.results.table4 import fig_table4

FIGURE_NAMES = {
    "psnr": "psnr_vs_scale.png",
    "pacc": "pacc_vs_scale.png",
    "gain": "pacc_gain.png",
    "table4": "table4.png",
    "retrain": "retrain.png",
    "class_iou": "class_iou_delta.png",
    "pedestrians": "pedestrian_recall.png",
    "methods": "methods.png",
    "tradeoff": "psnr_vs_miou.png",
    "class_psnr": "class_psnr_delta.png",
    "cliff": "cliff.png",
}


def make_figures(out_dir: Path, summary: Summary, params: Params, paths: Paths) -> dict[str, Path]:
    """Draw every figure into ``out_dir``; return {figure key: path} (``retrain`` only with retrain scales)."""
    scales, seed = params.scales, params.seeds[0]
    rows = read_csv(paths.series / SCALES_CSV)
    by_scale = {r["scale"]: r for r in rows}
    stale = [s for s in scales if s not in by_scale]
    if stale:
        raise SrsegError(f"{paths.series / SCALES_CSV}: no rows for scales {stale} (re-run the summarize stage)")
    missing = [VariantKey(m, s).name for m, s in methods.active(params) if summary.find_variant(m, s) is None]
    if missing:
        raise SrsegError(f"{paths.summary}: no entries {missing} (re-run the summarize stage)")
    rows = [by_scale[s] for s in scales]
    method_rows = read_csv(paths.series / METHODS_CSV)
    cliff_classes = read_csv(paths.series / CLIFF_CLASS_CSV)
    figures: dict[str, Figure | None] = {
        "psnr": fig_psnr(rows),
        "pacc": fig_pacc(rows),
        "gain": fig_gain(rows),
        "class_iou": fig_class_iou_delta(read_csv(paths.series / CLASS_IOU_CSV), scales),
        "retrain": fig_retrain(read_csv(paths.series / RETRAIN_CSV), summary),
        "pedestrians": fig_pedestrians(read_csv(paths.series / OBJECTS_CSV), scales,
                                       best_combination(method_rows, summary), gate(summary)),
        "methods": fig_methods(method_rows, summary),
        "tradeoff": fig_tradeoff(method_rows, summary),
        "class_psnr": fig_class_psnr(read_csv(paths.series / CLASS_PSNR_CSV), summary),
        "table4": fig_table4(scales, paths, seed, params.plots.table4_image, params.plots.table4_crop),
        "cliff": fig_cliff(read_csv(paths.series / CLIFF_CSV), cliff_classes,
                           focus_classes(cliff_classes, params.cliff.factors, params.cliff.classes)),
    }
    return {k: save(f, out_dir / FIGURE_NAMES[k]) for k, f in figures.items() if f is not None}


def run(params: Params, paths: Paths) -> dict[str, Path]:
    """The plots stage: figures into ``paths.figures`` (atomically), then the report."""
    from srseg.results.report import write_report

    summary = load_summary(paths.summary)
    with atomic_dir(paths.figures) as tmp:
        tmp.chmod(0o755)  # mkdtemp makes it private; this folder is committed and read by everyone
        made = make_figures(tmp, summary, params, paths)
    figures = {k: paths.figures / p.name for k, p in made.items()}
    cliff = (read_csv(paths.series / CLIFF_CSV), read_csv(paths.series / CLIFF_CLASS_CSV),
             read_csv(paths.series / CLIFF_DIFFS_CSV))
    write_report(paths.report, summary, params, figures, read_csv(paths.series / CLASS_IOU_CSV), cliff)
    return figures
