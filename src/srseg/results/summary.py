"""Stage `summarize`: every evaluated variant of :mod:`srseg.methods` and every comparison the study makes, each
with its uncertainty; the summary, the headline metrics and the plot series.

Reads every variant's evaluation (:mod:`srseg.results.inputs`), computes every score and difference with its
bootstrap interval (:mod:`srseg.results.estimates`) and the combined score (:mod:`srseg.results.combined`), and
builds the typed :class:`~srseg.results.schema.Summary` once. Outputs: ``metrics/summary.json`` (everything;
docs/summary-schema.md), ``metrics/headline.json`` (the few numbers ``dvc exp show`` shows, in percent and
percentage points) and the CSV series under ``plots/series/`` (:mod:`srseg.results.series`; the degradation
sweep's: :mod:`srseg.results.cliff`) that ``dvc plots`` and the plots stage draw. Fractions are 0–1 and PSNR in dB
in the summary.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from srseg.io import atomic_dir, write_json
from srseg.methods import registry as methods
from srseg.params import Params
from srseg.paths import Paths
from srseg.results.blocks import Design
from srseg.results.cliff import write_series as write_cliff_series
from srseg.results.combined import combined
from srseg.results.convergence import check
from srseg.results.curves import KINDS, columns, csv_name, kind_rows
from srseg.results.estimates import (
    bin_names,
    comparison_entry,
    comparison_pairs,
    design,
    rounded,
    variant_entry,
)
from srseg.results.families import adjust
from srseg.results.inputs import Evaluation, collect
from srseg.results.pedestrians import informative
from srseg.results.schema import Comparison, Summary, VariantKey, VariantResult
from srseg.results.series import (
    CLASS_COLUMNS,
    CLASS_IOU_CSV,
    CLASS_PSNR_COLUMNS,
    CLASS_PSNR_CSV,
    METHOD_COLUMNS,
    METHODS_CSV,
    OBJECT_COLUMNS,
    OBJECTS_CSV,
    RETRAIN_COLUMNS,
    RETRAIN_CSV,
    SCALE_COLUMNS,
    SCALES_CSV,
    class_psnr_rows,
    class_rows,
    method_rows,
    object_rows,
    retrain_rows,
    scale_rows,
    write_csv,
)
from srseg.results.stats import MIN_SEEDS
from srseg.results.verdicts import report_changes


def summarize(params: Params, paths: Paths) -> tuple[Summary, dict[VariantKey, Evaluation], Design]:
    """The summary (settings, variants, comparisons, combined score), the loaded evaluations and the bootstrap's
    design."""
    evaluations = collect(params, paths)
    hr = evaluations[VariantKey.of(methods.HR)]
    d, choice = design(evaluations, params)
    seeds = tuple(params.seeds)
    comparisons = tuple(Comparison(b, a, seeds, comparison_entry(evaluations[b], evaluations[a], params, d))
                        for b, a in comparison_pairs(evaluations))
    variants = tuple(VariantResult(key, variant_entry(e, params, d)) for key, e in evaluations.items())
    o = params.objects
    gate = None if hr.objects is None else informative(
        next(v for v in variants if v.key == hr.key).get("objects"), o.informative_recall)
    families = adjust(comparisons, params.stats.confidence, len(seeds), pedestrians=gate is not False)
    settings = {"seeds": list(params.seeds), "threads": params.runtime.threads,
                "cpu_kernels": params.runtime.cpu_kernels, "val_images": hr.cms.shape[1],
                "resamples": params.stats.resamples, "bootstrap_seed": params.stats.seed,
                "confidence": params.stats.confidence,
                "bootstrap": {"sequences": len(set(d.groups)), "block": d.block, "block_param": params.stats.block,
                              "suggested_block": choice.block,
                              "lag1_max": rounded(max(choice.lag1.values(), default=None)),
                              "lag1_median": rounded(float(np.median(list(choice.lag1.values())))
                                                     if choice.lag1 else None),
                              "min_seeds_for_findings": MIN_SEEDS},
                "families": families,
                "still_falling": params.stats.still_falling,
                "objects": {"classes": list(o.classes), "height_bins": bin_names(params), "iou": o.iou,
                            "min_size": o.min_size, "reasonable_height": o.reasonable_height,
                            "informative_recall": o.informative_recall, "informative": gate}
                if hr.objects is not None else None}
    curves = tuple(c.to_json() for c in check(paths, params.stats.still_falling))
    return Summary(settings, variants, comparisons, combined(evaluations, params, d), curves), evaluations, d


def _pp(frac: float) -> float:
    """A fraction as percentage points (or percent), rounded to 2 decimals, or to 2 significant digits below 0.01:
    the short numbers ``dvc exp show`` prints whole."""
    x = frac * 100
    digits = 2 if abs(x) >= 0.01 or x == 0 else 1 - math.floor(math.log10(abs(x)))
    return round(x, digits)


def headline(summary: Summary) -> dict[str, Any]:
    """The few numbers for ``dvc metrics show`` / ``dvc exp show``, in percent: HR's PACC and mIoU (``hr.pacc_pct``,
    ``hr.miou_pct``), and every method against its registered baseline at the same scale (``sr_x4``: SR ×4 −
    bicubic ×4): the PACC difference in percentage points, its 95 % interval and its family's verdict (``pacc_pp``,
    ``pacc_pp_lower``, ``pacc_pp_upper``, ``verdict``: value before bounds, in the file and in the alphabetical
    order ``dvc metrics show`` uses). Keyed by the method's variant; mIoU, Y-PSNR, the controls and the comparisons
    against HR are in ``summary.json``."""
    hr = summary.variant(methods.HR)
    out: dict[str, Any] = {hr.name: {"pacc_pct": _pp(hr["pacc"]), "miou_pct": _pp(hr["miou"])}}
    for comp in summary.against_baselines():
        d = comp["pacc"]
        if d is None or None in d["ci95"]:
            continue
        lo, hi = d["ci95"]
        out[comp.b.name] = {"pacc_pp": _pp(d["diff"]), "pacc_pp_lower": _pp(lo), "pacc_pp_upper": _pp(hi),
                            "verdict": d.get("verdict", "none")}
    return out


def run(params: Params, paths: Paths) -> dict[str, Any]:
    """Read every input, then write the series folder, the summary and the headline (each atomically); returns
    summary.json's object."""
    summary, evaluations, d = summarize(params, paths)
    classes = class_rows(evaluations, params.scales, params, d)
    with atomic_dir(paths.series) as tmp:
        tmp.chmod(0o755)  # mkdtemp makes it private; this folder is committed and read by everyone
        write_csv(tmp / SCALES_CSV, SCALE_COLUMNS, scale_rows(summary, params.scales))
        write_csv(tmp / CLASS_IOU_CSV, CLASS_COLUMNS, classes)
        write_csv(tmp / RETRAIN_CSV, RETRAIN_COLUMNS, retrain_rows(summary))
        write_csv(tmp / OBJECTS_CSV, OBJECT_COLUMNS, object_rows(summary))
        write_csv(tmp / METHODS_CSV, METHOD_COLUMNS, method_rows(summary))
        write_csv(tmp / CLASS_PSNR_CSV, CLASS_PSNR_COLUMNS, class_psnr_rows(summary))
        for kind in KINDS:  # the training curves, one file per kind of training
            write_csv(tmp / csv_name(kind), columns(kind), kind_rows(kind, params, paths))
        write_cliff_series(tmp, params, paths, evaluations, d)
    data = summary.to_json()
    write_json(paths.summary, data)
    write_json(paths.headline, headline(summary), sort_keys=False)  # value, then its bounds
    report_changes(data, paths.summary)
    return data
