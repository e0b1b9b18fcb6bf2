"""Every number of the summary with its uncertainty: a variant's scores and a comparison's differences.

Each difference B − A gets a paired two-level bootstrap (:mod:`srseg.results.stats`): a resample draws the training
seeds with replacement, then blocks of consecutive val frames (:func:`design`), the same draw for both sides, and
recomputes PACC / mIoU from the resample's summed confusion matrices (Y-PSNR from the resample's per-image values);
the 95 % percentile interval, the share of resamples with the opposite sign and the two-sided p-value are reported.
With two or more seeds each score and difference also gets the mean, standard deviation and Student-t interval
across seeds. Fractions are 0–1, PSNR in dB.

Comparisons (:func:`comparison_pairs`): every variant against HR, and every method against its registry baseline
and controls at the same scale (SR against bicubic; the retrained PSPNet on SR against the HR PSPNet on SR; …).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from srseg.labels import NUM_CLASSES, TRAIN_NAMES
from srseg.methods import registry as methods
from srseg.metrics.objects import ObjectSpec
from srseg.metrics.objects import bin_names as object_bin_names
from srseg.metrics.objects import scores as object_scores
from srseg.metrics.seg import class_iou, pacc_miou
from srseg.params import Params
from srseg.results.blocks import BlockChoice, Design, choose_block
from srseg.results.inputs import SEG_KEYS, Evaluation
from srseg.results.schema import VariantKey
from srseg.results.stats import (
    Difference,
    across_seeds,
    bootstrap_interval,
    paired_bootstrap,
    seg_metrics,
)

DECIMALS = 6  # rounding of stored numbers: stable diffs, far below any meaningful difference


def comparison_pairs(variants: dict[VariantKey, Evaluation]) -> list[tuple[VariantKey, VariantKey]]:
    """``(b, a)`` pairs: every method against its baseline (and controls) at the same scale, then every variant
    against HR."""
    hr = VariantKey.of(methods.HR)
    pairs = []
    for v in variants.values():
        for base in ([v.method.baseline] if v.method.baseline else []) + list(v.method.controls):
            a = VariantKey.of(methods.get(base), v.scale)
            if a != hr and a in variants:
                pairs.append((v.key, a))
    pairs += [(v.key, hr) for v in variants.values() if v.key != hr]
    return pairs


def design(evaluations: dict[VariantKey, Evaluation], params: Params) -> tuple[Design, BlockChoice]:
    """How the bootstrap draws the val images: sequences from their ids, blocks of ``stats.block`` frames, and the
    block length the per-frame scores' autocorrelation suggests (:func:`~srseg.results.blocks.choose_block` on the
    per-image pixel accuracy of every variant and the per-image differences of every comparison, seed 0).

    ``stats.block: auto`` takes that length, except on synthetic data: its scenes are rendered independently of
    each other, so images are drawn one by one and the estimate is only reported (short per-city series bias the
    Politis–White estimate above 1 even for independent values).
    """
    hr = evaluations[VariantKey.of(methods.HR)]
    groups = Design.from_ids(hr.ids)
    per_image = {k: pacc_miou(v.cms[0])[0] for k, v in evaluations.items()}
    series = {k.name: x for k, x in per_image.items()}
    series |= {f"{b.name}-{a.name}": per_image[b] - per_image[a] for b, a in comparison_pairs(evaluations)}
    choice = choose_block(series, groups)
    block = params.stats.block
    if block == "auto":
        block = 1 if params.data.source == "synthetic" else choice.block
    return Design(groups.groups, block), choice


def rounded(x: float | None) -> float | None:
    return None if x is None or not math.isfinite(x) else round(float(x), DECIMALS)


def seed_spread(values: Sequence[float], confidence: float) -> dict[str, Any] | None:
    """Across-seed mean/std/t-interval (only with two or more seeds)."""
    if len(values) < 2:
        return None
    s = across_seeds(values, confidence)
    return {"mean": rounded(s.mean), "std": rounded(s.std), "ci95": [rounded(s.low), rounded(s.high)]}


def _psnr_fn(count: int):
    """Mean Y-PSNR/SSIM of a resample from the sums of (seed-pooled) per-image values."""
    def fn(sums: np.ndarray) -> dict[str, np.ndarray]:
        return {"psnr_y": sums[:, 0] / count, "ssim_y": sums[:, 1] / count}
    return fn


def object_fn(params: Params):
    """:data:`srseg.results.stats.MetricFn` of the pooled pedestrian scores (recall and precision, overall, of
    reasonable heights and by height bin: :meth:`srseg.metrics.objects.ObjectSpec.score_names`) from summed
    flattened object counts (the fields of :class:`srseg.metrics.objects.ImageCounts` in order)."""
    spec = ObjectSpec.of(params.objects)

    def fn(sums: np.ndarray) -> dict[str, np.ndarray]:
        return object_scores(spec.unflatten(sums), spec)

    return fn


def bin_names(params: Params) -> list[str]:
    """``"0-10"``, …, ``"40+"``: the height bins of ``params.objects`` (HR pixels)."""
    return object_bin_names(params.objects.height_bins)


def _class_psnr_fn(sums: np.ndarray) -> dict[str, np.ndarray]:
    """Per class: the PSNR of the pooled squared Y error over the class's pixels (records: SSE (C), pixels (C))."""
    sse, n = sums[:, :NUM_CLASSES], sums[:, NUM_CLASSES:]
    with np.errstate(invalid="ignore", divide="ignore"):
        psnr = np.where((n > 0) & (sse > 0), 10 * np.log10(255.0**2 * n / np.maximum(sse, 1e-300)), np.nan)
    return {name: psnr[:, c] for c, name in enumerate(TRAIN_NAMES)}


def _class_records(v: Evaluation) -> np.ndarray | None:
    """(S, N, 2C) per-image SSE and pixel counts per class of every seed (None when not recorded)."""
    if v.quality is None or any("class_sse" not in q["per_image"] for q in v.quality):
        return None
    return np.stack([np.concatenate([q["per_image"]["class_sse"], q["per_image"]["class_pixels"]], axis=1)
                     for q in v.quality])


def quality_records(v: Evaluation) -> np.ndarray:
    """(S, N, 2) per-image PSNR and SSIM of every seed."""
    assert v.quality is not None
    return np.stack([np.stack([q["per_image"]["psnr_y"], q["per_image"]["ssim_y"]], axis=1) for q in v.quality])


def variant_entry(v: Evaluation, params: Params, d: Design) -> dict[str, Any]:
    """Scores (mean over seeds) with their bootstrap interval over images; image quality where scored (the entry
    of :class:`~srseg.results.schema.VariantResult`, which adds the method and scale)."""
    st = params.stats
    entry: dict[str, Any] = {"label": v.method.label_at(v.scale)}
    ci = bootstrap_interval(v.cms, seg_metrics, st.resamples, st.seed, st.confidence, d, by_seed=True)
    for key in SEG_KEYS:
        per_seed = [s[key] for s in v.scores]
        entry[key] = rounded(float(np.mean(per_seed)))
        iv = ci[key]
        entry[f"{key}_ci95"] = None if iv is None else [rounded(iv.low), rounded(iv.high)]
        if len(per_seed) > 1:
            entry[f"{key}_seeds"] = seed_spread(per_seed, st.confidence)
    if v.quality is not None:
        for key in ("psnr_y", "ssim_y"):
            entry[key] = rounded(float(np.mean([q[key] for q in v.quality])))
        q = bootstrap_interval(quality_records(v), _psnr_fn(len(v.quality) * v.cms.shape[1]), st.resamples, st.seed,
                               st.confidence, d, by_seed=True)["psnr_y"]
        entry["psnr_y_ci95"] = None if q is None else [rounded(q.low), rounded(q.high)]
    if v.objects is not None:
        found = bootstrap_interval(v.objects, object_fn(params), st.resamples, st.seed, st.confidence, d,
                                   by_seed=True)
        entry["objects"] = {name: None if i is None else {"value": rounded(i.point),
                                                          "ci95": [rounded(i.low), rounded(i.high)]}
                            for name, i in found.items()}
    return entry


def _diff_entry(d: Difference) -> dict[str, Any]:
    return {"diff": rounded(d.point), "ci95": [rounded(d.low), rounded(d.high)], "p_opposite": rounded(d.p_opposite),
            "p": rounded(d.p_value)}


def comparison_entry(b: Evaluation, a: Evaluation, params: Params, d: Design) -> dict[str, Any]:
    """B − A: for PACC and mIoU (and Y-PSNR when both are scored images) the difference, its bootstrap interval,
    the relative gain in % and the share of resamples of the opposite sign; with seeds, their spread (the metrics
    of :class:`~srseg.results.schema.Comparison`)."""
    st = params.stats
    out: dict[str, Any] = {}
    comp = paired_bootstrap(a.cms, b.cms, seg_metrics, st.resamples, st.seed, st.confidence, d, by_seed=True)
    for key in SEG_KEYS:
        c = comp[key]
        if c is None:
            out[key] = None
            continue
        out[key] = {**_diff_entry(c.diff),
                    "gain_pct": None if c.rel_pct is None else rounded(c.rel_pct.point),
                    "gain_pct_ci95": None if c.rel_pct is None else [rounded(c.rel_pct.low), rounded(c.rel_pct.high)]}
        diffs = [sb[key] - sa[key] for sb, sa in zip(b.scores, a.scores, strict=True)]  # the same seeds
        if len(diffs) > 1:
            out[key]["seeds"] = seed_spread(diffs, st.confidence)
    if b.objects is not None and a.objects is not None:
        oc = paired_bootstrap(a.objects, b.objects, object_fn(params), st.resamples, st.seed, st.confidence, d,
                              by_seed=True)
        out["objects"] = {name: None if x is None else _diff_entry(x.diff) for name, x in oc.items()}
    if b.quality is not None and a.quality is not None:
        n = len(b.quality) * b.cms.shape[1]
        q = paired_bootstrap(quality_records(a), quality_records(b), _psnr_fn(n), st.resamples, st.seed,
                             st.confidence, d, by_seed=True)["psnr_y"]
        assert q is not None
        out["psnr_y"] = _diff_entry(q.diff)
        if len(b.quality) > 1:
            per_seed = [qb["psnr_y"] - qa["psnr_y"] for qb, qa in zip(b.quality, a.quality, strict=True)]
            out["psnr_y"]["seeds"] = seed_spread(per_seed, st.confidence)
        ra, rb = _class_records(a), _class_records(b)
        if ra is not None and rb is not None:
            cp = paired_bootstrap(ra, rb, _class_psnr_fn, st.resamples, st.seed, st.confidence, d, by_seed=True)
            out["class_psnr"] = {name: None if x is None else {"a": rounded(x.a), "b": rounded(x.b),
                                                               "diff": rounded(x.diff.point),
                                                               "ci95": [rounded(x.diff.low), rounded(x.diff.high)],
                                                               "p": rounded(x.diff.p_value)}
                                 for name, x in cp.items()}
    return out


def class_iou_intervals(b: Evaluation, a: Evaluation, params: Params, d: Design
                        ) -> dict[str, tuple[float, float, float] | None]:
    """Per class: the bootstrap interval of IoU(B) − IoU(A) and its two-sided p-value (None where undefined)."""
    st = params.stats

    def fn(sums: np.ndarray) -> dict[str, np.ndarray]:
        iou = class_iou(sums)
        return {name: iou[:, c] for c, name in enumerate(TRAIN_NAMES)}

    comp = paired_bootstrap(a.cms, b.cms, fn, st.resamples, st.seed, st.confidence, d, by_seed=True)
    return {n: None if (c := comp[n]) is None else (c.diff.low, c.diff.high, c.diff.p_value) for n in TRAIN_NAMES}

