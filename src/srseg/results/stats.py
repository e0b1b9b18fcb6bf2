"""Uncertainty of the study's comparisons: a two-level bootstrap over training seeds and blocks of val images.

Scores are ratios of counts summed over the split (PACC, mIoU from a confusion matrix; later recall from
object counts), so the bootstrap resamples *records* — per-image count arrays, image axis first — sums
each resample's records and recomputes the score from the sums (Efron & Tibshirani 1993, "An
Introduction to the Bootstrap", ch. 6 and 13: the statistic is recomputed on every bootstrap sample; the
interval is the percentile interval of §13.3). A comparison resamples the images once for both sides
(a paired bootstrap), so what two variants have in common on an image cancels in their difference.

Images are not always independent: CamVid's frames come from video, and neighbouring frames are near-copies.
A :class:`~srseg.results.blocks.Design` says how images are drawn: in circular blocks of consecutive frames of
one sequence (:mod:`srseg.results.blocks`; with block 1 it is the ordinary bootstrap over images).

With several training seeds the records carry a seed axis and every resample first draws the seeds with
replacement, then the image blocks (a two-level bootstrap for a crossed design: the same image draw for every
seed; Davison & Hinkley 1997, "Bootstrap Methods and their Application", §3.8), so one interval covers both
the training noise and the choice of images. With few seeds the seed level understates its variance (drawing
3 of 3 with replacement gives a variance (S − 1)/S of the true one); the report asks for at least
:data:`MIN_SEEDS` seeds before it calls a difference a finding.

Many comparisons: :func:`holm` adjusts the bootstrap p-values of a declared family of comparisons (Holm 1979,
"A simple sequentially rejective multiple test procedure", through :mod:`statsmodels`).

The per-image records come from the evaluations (:func:`srseg.metrics.seg.load_per_image`).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from srseg.errors import ParamsError, SrsegError
from srseg.metrics.seg import pacc_miou
from srseg.results.blocks import Design, image_counts

MIN_RESAMPLES = 100
MIN_SEEDS = 3  # fewer training seeds: a difference is reported, never stated as a finding
# Resamples are processed in chunks of about this many drawn indices (chunk × images), to bound memory;
# the chunk size changes neither the draws nor the results.
_CHUNK_DRAWS = 1 << 20
_EXACT = 2**53  # float64 holds every integer up to this, so float matmuls of counts are exact below it

MetricFn = Callable[[np.ndarray], Mapping[str, np.ndarray]]
"""Scores from summed records: given ``(R, *record_shape)`` sums it returns ``{name: (R,) floats}``, each row's
value depending on that row only (NaN where undefined). :func:`seg_metrics` is the one for confusion matrices."""


@dataclass(frozen=True)
class Interval:
    """A score on the full set and its bootstrap percentile interval."""

    point: float
    low: float
    high: float
    resamples: int  # resamples where the score is defined

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class Difference:
    """A difference on the full set, its percentile interval, the share of resamples of the opposite sign and
    the two-sided bootstrap p-value.

    ``p_opposite`` is the share of resamples whose difference has a sign (−, 0 or +) other than the
    point's: a resample with a difference of exactly 0 counts against a nonzero point (the conservative
    side), and when the point is exactly 0 every nonzero resample counts, so identical predictions give 0.
    For a nonzero point it is the bootstrap's one-sided achieved significance level for "the sign is real"
    (Efron & Tibshirani 1993, ch. 16). ``p_value`` is the two-sided p of the normal approximation with the
    bootstrap standard error, ``2 Φ(−|point| / sd(resampled differences))`` (Efron & Tibshirani 1993, §16.4): unlike a
    count of resamples it has no floor at 1/R, so a family of many comparisons can be adjusted at any number of
    resamples; 1 when the point is 0, 0 when every resample gives the point.
    """

    point: float
    low: float
    high: float
    p_opposite: float
    p_value: float


@dataclass(frozen=True)
class Comparison:
    """Variant B against variant A on the same images: their scores and B − A.

    ``diff`` is in the score's own units (fractions for PACC and mIoU); ``rel_pct`` is the relative gain
    100·(B − A)/A in percent, None where A is 0 on the full set or in a resample.
    """

    a: float
    b: float
    diff: Difference
    rel_pct: Difference | None
    resamples: int  # resamples where the score is defined on both sides

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class SeedSpread:
    """Mean over training seeds, standard deviation (ddof=1) and Student-t interval of the mean.

    With one seed ``std``, ``low`` and ``high`` are None.
    """

    n: int
    mean: float
    std: float | None
    low: float | None
    high: float | None

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


# --- bootstrap ------------------------------------------------------------------------------------------


def seg_metrics(summed_cms: np.ndarray) -> dict[str, np.ndarray]:
    """:data:`MetricFn` for confusion matrices: PACC and mIoU as :func:`srseg.metrics.seg.scores` computes them."""
    pacc, miou = pacc_miou(summed_cms)
    return {"pacc": pacc, "miou": miou}


def bootstrap_interval(
    records: np.ndarray, metric_fn: MetricFn, resamples: int, seed: int, confidence: float = 0.95,
    design: Design | None = None, by_seed: bool = False,
) -> dict[str, Interval | None]:
    """Percentile interval of each score of one variant over ``resamples`` resamples.

    ``records`` is ``(N, ...)``, images first, or with ``by_seed`` ``(S, N, ...)``: training seeds, then images
    (see the module docstring). ``design`` says how the images are drawn (default: independent images). A score
    undefined on the full set gives None; resamples where it is undefined are left out (``Interval.resamples``
    counts the rest).
    """
    records = _check_records(records, by_seed)
    design = _check_design(design, records)
    _check_args(resamples, confidence)
    point = _point(metric_fn, records)
    (values,) = _resampled(metric_fn, [records], resamples, seed, design)
    out: dict[str, Interval | None] = {}
    for name, p in point.items():
        v = values[name][np.isfinite(values[name])]
        if not math.isfinite(p) or v.size == 0:
            out[name] = None
            continue
        low, high = _percentiles(v, confidence)
        out[name] = Interval(point=p, low=low, high=high, resamples=int(v.size))
    return out


def paired_bootstrap(
    a_records: np.ndarray,
    b_records: np.ndarray,
    metric_fn: MetricFn,
    resamples: int,
    seed: int,
    confidence: float = 0.95,
    design: Design | None = None,
    by_seed: bool = False,
) -> dict[str, Comparison | None]:
    """B against A on the same images and seeds: each resample draws the seeds and the image blocks once, the
    same draw for both sides, and recomputes both scores from the resample's summed records.

    ``a_records`` and ``b_records`` are ``(N, ...)``, or with ``by_seed`` ``(S, N, ...)``, with the same seeds and
    images in the same order: seed k of A is the one whose models B's seed k shares (per-image confusion
    matrices with :func:`seg_metrics`). Draws come from ``np.random.default_rng(seed)`` (images) and
    ``np.random.default_rng([seed, 1])`` (seeds), so the same call gives the same result, and one seed or
    single-image blocks give the ordinary paired bootstrap's draws. A score undefined on either side on the full
    set gives None; resamples where it is undefined on either side are left out.
    """
    a_records, b_records = _check_records(a_records, by_seed), _check_records(b_records, by_seed)
    if a_records.shape != b_records.shape:
        raise SrsegError(f"paired records differ in shape: A {a_records.shape}, B {b_records.shape}; "
                         "a paired comparison needs the same images in the same order, for the same seeds")
    design = _check_design(design, a_records)
    _check_args(resamples, confidence)
    a_point, b_point = _point(metric_fn, a_records), _point(metric_fn, b_records)
    a_vals, b_vals = _resampled(metric_fn, [a_records, b_records], resamples, seed, design)
    out: dict[str, Comparison | None] = {}
    for name in a_point:
        a, b = a_point[name], b_point[name]
        ok = np.isfinite(a_vals[name]) & np.isfinite(b_vals[name])
        av, bv = a_vals[name][ok], b_vals[name][ok]
        if not (math.isfinite(a) and math.isfinite(b)) or av.size == 0:
            out[name] = None
            continue
        rel = None
        if a != 0 and np.all(av != 0):
            rel = _difference(100 * (b - a) / a, 100 * (bv - av) / av, confidence)
        out[name] = Comparison(a=a, b=b, diff=_difference(b - a, bv - av, confidence), rel_pct=rel,
                               resamples=int(av.size))
    return out


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm's step-down adjusted p-values of one family of comparisons (in the given order)."""
    if not p_values:
        return []
    from statsmodels.stats.multitest import multipletests  # here: statsmodels takes ~1 s to import

    return [float(p) for p in multipletests(np.asarray(p_values, dtype=np.float64), method="holm")[1]]


def across_seeds(values: Sequence[float], confidence: float = 0.95) -> SeedSpread:
    """Mean, standard deviation (ddof=1) and Student-t ``confidence`` interval of a per-seed score."""
    v = np.asarray(values, dtype=np.float64)
    if v.ndim != 1 or v.size == 0 or not np.all(np.isfinite(v)):
        raise SrsegError(f"across seeds: need one finite score per seed, got {list(np.ravel(v))}")
    _check_confidence(confidence)
    mean = float(v.mean())
    if v.size == 1:
        return SeedSpread(n=1, mean=mean, std=None, low=None, high=None)
    from scipy import stats as scipy_stats  # here: scipy.stats takes ~1 s to import, needed with seeds only

    std = float(v.std(ddof=1))
    half = float(scipy_stats.t.ppf(0.5 + confidence / 2, df=v.size - 1)) * std / math.sqrt(v.size)
    return SeedSpread(n=int(v.size), mean=mean, std=std, low=mean - half, high=mean + half)


# --- internals ------------------------------------------------------------------------------------------


def _check_records(records: np.ndarray, by_seed: bool) -> np.ndarray:
    """Records as ``(S, N, ...)``: ``by_seed`` arrays have the seed axis, others are one seed's ``(N, ...)``."""
    records = np.asarray(records)
    if not by_seed:
        records = records[None]
    if records.ndim < 2 or 0 in records.shape[:2] or records.dtype.kind not in "iuf":
        raise SrsegError(f"bootstrap records must be a numeric array with the {'seeds, then the ' if by_seed else ''}"
                         f"images first, got {records.dtype} {np.shape(records)[int(not by_seed):]}")
    return records


def _check_design(design: Design | None, records: np.ndarray) -> Design:
    n = records.shape[1]
    if design is None:
        return Design.iid(n)
    if design.n != n:
        raise SrsegError(f"bootstrap design is for {design.n} images, the records have {n}")
    return design


def _check_args(resamples: int, confidence: float) -> None:
    if isinstance(resamples, bool) or not isinstance(resamples, (int, np.integer)) or resamples < MIN_RESAMPLES:
        raise ParamsError(f"bootstrap resamples: {resamples!r} is not an integer ≥ {MIN_RESAMPLES}")
    _check_confidence(confidence)


def _check_confidence(confidence: float) -> None:
    if not 0 < confidence < 1:
        raise ParamsError(f"confidence level: {confidence!r} is not between 0 and 1")


def _point(metric_fn: MetricFn, records: np.ndarray) -> dict[str, float]:
    """Scores of the full set (the records summed over seeds and images), through the same ``metric_fn``."""
    return {k: float(v[0]) for k, v in _call(metric_fn, records.sum(axis=(0, 1))[None]).items()}


def _call(metric_fn: MetricFn, sums: np.ndarray) -> dict[str, np.ndarray]:
    out = {k: np.asarray(v, dtype=np.float64) for k, v in metric_fn(sums).items()}
    for k, v in out.items():
        if v.shape != sums.shape[:1]:
            raise ValueError(f"metric {k!r} gave shape {v.shape} for {sums.shape[0]} resamples")
    return out


def _resampled(metric_fn: MetricFn, stacks: list[np.ndarray], resamples: int, seed: int, design: Design
               ) -> list[dict[str, np.ndarray]]:
    """Each stack's scores over the same ``resamples`` draws of seeds and images.

    A resample's sums are Σ_seeds (times the seed is drawn) · (times each image is drawn) · (per-image records):
    matrix products in float64, exact for integer records below 2**53.
    """
    n_seeds, n = stacks[0].shape[:2]
    flat = np.concatenate([s.reshape(n_seeds, n, -1) for s in stacks], axis=2)
    integer = flat.dtype.kind in "iu"
    exact_in_float = not integer or n_seeds * n * int(np.abs(flat).max(initial=0)) < _EXACT
    weights = flat.astype(np.float64) if exact_in_float else flat.astype(np.int64)
    rng = np.random.default_rng(seed)
    seed_rng = np.random.default_rng([seed, 1])
    chunk = max(1, _CHUNK_DRAWS // n)
    parts: list[list[dict[str, np.ndarray]]] = [[] for _ in stacks]
    for start in range(0, resamples, chunk):
        m = min(chunk, resamples - start)
        counts = image_counts(rng, m, design).astype(weights.dtype)
        if n_seeds == 1:
            sums = counts @ weights[0]
        else:
            drawn = seed_rng.integers(0, n_seeds, size=(m, n_seeds))
            seed_counts = np.bincount((drawn + n_seeds * np.arange(m)[:, None]).ravel(),
                                      minlength=m * n_seeds).reshape(m, n_seeds).astype(weights.dtype)
            sums = sum(seed_counts[:, k, None] * (counts @ weights[k]) for k in range(n_seeds))
        if integer:
            sums = np.asarray(sums).astype(np.int64)
        col = 0
        for k, s in enumerate(stacks):
            width = math.prod(s.shape[2:])
            parts[k].append(_call(metric_fn, sums[:, col:col + width].reshape(m, *s.shape[2:])))
            col += width
    return [{name: np.concatenate([p[name] for p in ps]) for name in ps[0]} for ps in parts]


def _percentiles(values: np.ndarray, confidence: float) -> tuple[float, float]:
    tail = round((1 - confidence) / 2, 12)  # 0.025 for 0.95, not 0.025000000000000022
    low, high = np.quantile(values, [tail, 1 - tail])
    return float(low), float(high)


def _difference(point: float, values: np.ndarray, confidence: float) -> Difference:
    from scipy.special import ndtr  # the standard normal CDF (scipy.special imports fast, unlike scipy.stats)

    low, high = _percentiles(values, confidence)
    p_opposite = float(np.mean(np.sign(values) != np.sign(point)))
    sd = float(values.std(ddof=1)) if values.size > 1 else 0.0
    if point == 0:
        p_value = 1.0
    else:
        p_value = 0.0 if sd == 0 else float(2 * ndtr(-abs(point) / sd))
    return Difference(point=float(point), low=low, high=high, p_opposite=p_opposite, p_value=p_value)
