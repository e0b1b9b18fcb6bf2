"""Stage `summarize`: every evaluated variant of :mod:`srseg.methods` and every comparison the study makes, each
with its uncertainty; the summary, the headline metrics and the plot series.

Inputs, for every training seed k: ``metrics/seg/seed{k}/<variant>.json`` and ``.npz`` (scores and every val
image's confusion matrix, from the ``evaluate_<method>`` stages) and the Y-PSNR/SSIM records of the methods whose
images are scored (``metrics/sr/…``).

Comparisons (:func:`comparisons`): every variant against HR, and every method against its registry baseline at
the same scale (SR against bicubic; the retrained PSPNet on SR against the HR PSPNet on SR; …). Each difference
B − A gets a paired bootstrap over the val images (:mod:`srseg.results.stats`): a resample draws the images with
replacement, the same draw for both sides and for every seed, and recomputes PACC / mIoU from the resample's
summed confusion matrices (Y-PSNR from the resample's per-image values); the 95 % percentile interval and the
share of resamples with the opposite sign are reported. With two or more seeds each score and difference also
gets the mean, standard deviation and Student-t interval across seeds.

Outputs: ``metrics/summary.json`` (everything), ``metrics/headline.json`` (the few numbers ``dvc exp show``
shows) and the CSV series under ``plots/series/`` that ``dvc plots`` and the plots stage draw. Fractions are 0–1,
PSNR in dB; a difference in the headline and series is in percentage points (pp) or dB.
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from srseg.methods import registry as methods
from srseg.errors import SrsegError
from srseg.io import atomic_dir, write_json
from srseg.labels import NUM_CLASSES, TRAIN_NAMES
from srseg.methods.base import Method
from srseg.metrics.objects import FIELDS as OBJECT_FIELDS
from srseg.metrics.objects import PEDESTRIAN_CLASSES
from srseg.metrics.seg import class_iou, load_per_image_records
from srseg.params import Params
from srseg.paths import Paths
from srseg.results.stats import across_seeds, bootstrap_interval, paired_bootstrap, seg_metrics

SCALES_CSV = "scales.csv"
CLASS_IOU_CSV = "class_iou_delta.csv"
RETRAIN_CSV = "retrain.csv"
OBJECTS_CSV = "pedestrians.csv"
METHODS_CSV = "methods.csv"
CLASS_PSNR_CSV = "class_psnr_delta.csv"

SEG_KEYS = ("pacc", "miou")
DECIMALS = 6  # rounding of stored numbers: stable diffs, far below any meaningful difference

SCALE_COLUMNS = [
    "scale",
    "psnr_bicubic", "psnr_sr", "psnr_gain_db", "psnr_gain_lo", "psnr_gain_hi",
    "ssim_bicubic", "ssim_sr",
    "pacc_hr", "pacc_hr_lo", "pacc_hr_hi", "pacc_bicubic", "pacc_bicubic_lo", "pacc_bicubic_hi",
    "pacc_sr", "pacc_sr_lo", "pacc_sr_hi",
    "miou_hr", "miou_hr_lo", "miou_hr_hi", "miou_bicubic", "miou_bicubic_lo", "miou_bicubic_hi",
    "miou_sr", "miou_sr_lo", "miou_sr_hi",
    "pacc_gain_pct", "pacc_gain_lo", "pacc_gain_hi", "miou_gain_pct", "miou_gain_lo", "miou_gain_hi",
]
CLASS_COLUMNS = ["class", "train_id", "scale", "iou_hr", "iou_bicubic", "iou_sr", "delta", "delta_lo", "delta_hi"]
RETRAIN_COLUMNS = ["scale", "variant", "label", "pacc", "pacc_lo", "pacc_hi", "miou", "miou_lo", "miou_hi"]
OBJECT_COLUMNS = ["method", "scale", "variant", "size", "recall", "recall_lo", "recall_hi"]
METHOD_COLUMNS = ["scale", "variant", "label", "upper_bound", "own_image", "pacc", "pacc_lo", "pacc_hi", "miou", "miou_lo",
                  "miou_hi", "psnr", "psnr_lo", "psnr_hi", "score", "score_lo", "score_hi", "rank"]
CLASS_PSNR_COLUMNS = ["scale", "variant", "baseline", "label", "class", "train_id", "psnr_baseline", "psnr",
                      "delta_db", "delta_lo", "delta_hi"]


# --- reading ---------------------------------------------------------------------------------------------------

def _num(value: Any, path: Path, key: str) -> float:
    """A finite number from a metrics file, or SrsegError naming the file and key."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise SrsegError(f"{path}: {key} must be a finite number (got {value!r})")
    return float(value)


def read_metrics(path: str | Path, producer: str) -> dict[str, Any]:
    """Load a metrics JSON object; a missing or malformed file is one line naming it."""
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise SrsegError(f"{path}: missing input (written by the {producer} stage; run it first)") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise SrsegError(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise SrsegError(f"{path}: expected a JSON object")
    return data


def _pick(data: dict[str, Any], keys: Iterable[str], path: Path) -> dict[str, float]:
    out = {}
    for key in keys:
        if key not in data:
            raise SrsegError(f"{path}: missing key {key}")
        out[key] = _num(data[key], path, key)
    return out


def _class_ious(data: dict[str, Any], path: Path) -> dict[str, float | None]:
    iou = data.get("iou")
    if not isinstance(iou, dict):
        raise SrsegError(f"{path}: missing key iou (a mapping of class name to IoU)")
    unknown = sorted(set(iou) - set(TRAIN_NAMES))
    if unknown:
        raise SrsegError(f"{path}: iou has unknown class names {unknown[:5]}")
    return {n: None if iou.get(n) is None else _num(iou[n], path, f"iou.{n}") for n in TRAIN_NAMES}


@dataclass
class Variant:
    """One evaluated (method, scale) over every seed: scores per seed, pooled per-image records."""

    method: Method
    scale: int | None
    scores: list[dict[str, float]]  # per seed: pacc, miou
    ious: list[dict[str, float | None]]  # per seed: class → IoU
    cms: np.ndarray  # (seeds, N, C, C + 1): every image's confusion matrix, images in the val order
    quality: list[dict[str, Any]] | None  # per seed: psnr_y, ssim_y and per-image arrays (quality methods)
    objects: np.ndarray | None  # (seeds, N, F): every image's object counts, flattened (None: no instances)

    @property
    def name(self) -> str:
        return self.method.variant(self.scale)


def load_variant(paths: Paths, m: Method, scale: int | None, seeds: Sequence[int], ids: list[str] | None
                 ) -> tuple[Variant, list[str]]:
    """Every seed's scores and per-image records of a variant; ``ids`` (the val images, None to take this
    variant's) must match every file, so all variants pair image by image."""
    scores, ious, cms, objects, quality = [], [], [], [], [] if m.quality else None
    name = m.variant(scale)
    for k in seeds:
        path = paths.seg_metrics(name, k)
        data = read_metrics(path, f"{m.eval_stage} (seed {k})")
        scores.append(_pick(data, SEG_KEYS, path))
        ious.append(_class_ious(data, path))
        got_ids, seed_cms, records = load_per_image_records(paths.seg_per_image(name, k), ids,
                                                            expected_from="the other variants' val images")
        if records:
            objects.append(np.concatenate([records[f"objects_{f}"].reshape(len(got_ids), -1)
                                           for f in OBJECT_FIELDS], axis=1))
        ids = got_ids
        if int(data.get("n_images", -1)) != len(got_ids):
            raise SrsegError(f"{path}: n_images {data.get('n_images')} but {len(got_ids)} images in "
                             f"{paths.seg_per_image(name, k)}")
        cms.append(seed_cms)
        if quality is not None:
            assert scale is not None
            qpath = m.quality_path(paths, scale, k)
            q = read_metrics(qpath, m.stage)
            per = q.get("per_image")
            if not isinstance(per, dict) or per.get("ids") != got_ids:
                raise SrsegError(f"{qpath}: per_image ids differ from the segmentation's val images")
            quality.append({**_pick(q, ("psnr_y", "ssim_y"), qpath),
                            "per_image": {k2: np.asarray(per[k2], np.float64) for k2 in
                                          ("psnr_y", "ssim_y", "class_sse", "class_pixels") if k2 in per}})
    if objects and len(objects) != len(seeds):
        raise SrsegError(f"{paths.seg_per_image(name, seeds[0])}: object counts in some seeds' files only")
    return Variant(m, scale, scores, ious, np.stack(cms), quality,  # type: ignore[arg-type]
                   np.stack(objects) if objects else None), ids


def collect(params: Params, paths: Paths) -> dict[str, Variant]:
    """Every active variant, HR first, all on the same val images."""
    out: dict[str, Variant] = {}
    ids: list[str] | None = None
    for m, s in methods.active(params):
        v, ids = load_variant(paths, m, s, params.seeds, ids)
        out[v.name] = v
    return out


def comparisons(variants: dict[str, Variant]) -> list[tuple[str, str]]:
    """``(b, a)`` pairs: every method against its baseline (and controls) at the same scale, then every variant
    against HR."""
    pairs = []
    for v in variants.values():
        for base in ([v.method.baseline] if v.method.baseline else []) + list(v.method.controls):
            if base != "hr":
                a = methods.get(base).variant(v.scale)
                if a in variants:
                    pairs.append((v.name, a))
    pairs += [(v.name, "hr") for v in variants.values() if v.name != "hr"]
    return pairs


# --- numbers -----------------------------------------------------------------------------------------------------

def _r(x: float | None) -> float | None:
    return None if x is None or not math.isfinite(x) else round(float(x), DECIMALS)


def _spread(values: Sequence[float], confidence: float) -> dict[str, Any] | None:
    """Across-seed mean/std/t-interval (only with two or more seeds)."""
    if len(values) < 2:
        return None
    s = across_seeds(values, confidence)
    return {"mean": _r(s.mean), "std": _r(s.std), "ci95": [_r(s.low), _r(s.high)]}


def _psnr_fn(count: int):
    """Mean Y-PSNR/SSIM of a resample from the sums of (seed-pooled) per-image values."""
    def fn(sums: np.ndarray) -> dict[str, np.ndarray]:
        return {"psnr_y": sums[:, 0] / count, "ssim_y": sums[:, 1] / count}
    return fn


def object_fn(params: Params):
    """:data:`srseg.results.stats.MetricFn` of pedestrian recall, overall and by size bin, from summed flattened
    object counts (the fields of :class:`srseg.metrics.objects.ImageCounts` in order)."""
    c, b = len(params.objects.classes), len(params.objects.size_bins) - 1
    ped = [i for i, name in enumerate(params.objects.classes) if name in PEDESTRIAN_CLASSES]
    bins = bin_names(params)

    def fn(sums: np.ndarray) -> dict[str, np.ndarray]:
        tp, fn_ = sums[:, :c][:, ped].sum(1), sums[:, c:2 * c][:, ped].sum(1)
        size_tp = sums[:, 3 * c:3 * c + c * b].reshape(-1, c, b)[:, ped].sum(1)
        size_n = sums[:, 3 * c + c * b:].reshape(-1, c, b)[:, ped].sum(1)
        with np.errstate(invalid="ignore", divide="ignore"):
            out = {"pedestrian_recall": np.where(tp + fn_ > 0, tp / np.maximum(tp + fn_, 1), np.nan)}
            for j, name in enumerate(bins):
                out[f"size_{name}"] = np.where(size_n[:, j] > 0, size_tp[:, j] / np.maximum(size_n[:, j], 1), np.nan)
        return out

    return fn


def bin_names(params: Params) -> list[str]:
    """``"0-32"``, …, ``"512+"``: the object size bins of ``params.objects`` (HR pixel areas)."""
    e = [int(x) if np.isfinite(x) else None for x in params.objects.size_bins]
    return [f"{a}-{b}" if b is not None else f"{a}+" for a, b in zip(e, e[1:])]


def _class_psnr_fn(sums: np.ndarray) -> dict[str, np.ndarray]:
    """Per class: the PSNR of the pooled squared Y error over the class's pixels (records: SSE (C), pixels (C))."""
    sse, n = sums[:, :NUM_CLASSES], sums[:, NUM_CLASSES:]
    with np.errstate(invalid="ignore", divide="ignore"):
        psnr = np.where((n > 0) & (sse > 0), 10 * np.log10(255.0**2 * n / np.maximum(sse, 1e-300)), np.nan)
    return {name: psnr[:, c] for c, name in enumerate(TRAIN_NAMES)}


def _class_records(v: Variant) -> np.ndarray | None:
    """(N, 2C) per-image SSE and pixel counts per class, summed over seeds (None when not recorded)."""
    if v.quality is None or any("class_sse" not in q["per_image"] for q in v.quality):
        return None
    return np.sum([np.concatenate([q["per_image"]["class_sse"], q["per_image"]["class_pixels"]], axis=1)
                   for q in v.quality], axis=0)


def _quality_records(v: Variant) -> np.ndarray:
    """(N, 2) per-image PSNR and SSIM summed over seeds."""
    assert v.quality is not None
    return np.sum([np.stack([q["per_image"]["psnr_y"], q["per_image"]["ssim_y"]], axis=1) for q in v.quality], axis=0)


def variant_entry(v: Variant, params: Params) -> dict[str, Any]:
    """Scores (mean over seeds) with their bootstrap interval over images; image quality where scored."""
    st = params.stats
    entry: dict[str, Any] = {"method": v.method.name, "scale": v.scale, "label": v.method.label_at(v.scale)}
    ci = bootstrap_interval(v.cms.sum(axis=0), seg_metrics, st.resamples, st.seed, st.confidence)
    for key in SEG_KEYS:
        per_seed = [s[key] for s in v.scores]
        entry[key] = _r(float(np.mean(per_seed)))
        iv = ci[key]
        entry[f"{key}_ci95"] = None if iv is None else [_r(iv.low), _r(iv.high)]
        if len(per_seed) > 1:
            entry[f"{key}_seeds"] = _spread(per_seed, st.confidence)
    if v.quality is not None:
        for key in ("psnr_y", "ssim_y"):
            entry[key] = _r(float(np.mean([q[key] for q in v.quality])))
        q = bootstrap_interval(_quality_records(v), _psnr_fn(len(v.quality) * v.cms.shape[1]), st.resamples, st.seed,
                               st.confidence)["psnr_y"]
        entry["psnr_y_ci95"] = None if q is None else [_r(q.low), _r(q.high)]
    if v.objects is not None:
        iv = bootstrap_interval(v.objects.sum(axis=0), object_fn(params), st.resamples, st.seed, st.confidence)
        entry["objects"] = {name: None if i is None else {"value": _r(i.point), "ci95": [_r(i.low), _r(i.high)]}
                            for name, i in iv.items()}
    return entry


def comparison_entry(b: Variant, a: Variant, params: Params) -> dict[str, Any]:
    """B − A: for PACC and mIoU (and Y-PSNR when both are scored images) the difference, its bootstrap interval,
    the relative gain in % and the share of resamples of the opposite sign; with seeds, their spread."""
    st = params.stats
    out: dict[str, Any] = {"b": b.name, "a": a.name}
    comp = paired_bootstrap(a.cms.sum(axis=0), b.cms.sum(axis=0), seg_metrics, st.resamples, st.seed, st.confidence)
    for key in SEG_KEYS:
        c = comp[key]
        if c is None:
            out[key] = None
            continue
        out[key] = {"diff": _r(c.diff.point), "ci95": [_r(c.diff.low), _r(c.diff.high)],
                    "p_opposite": _r(c.diff.p_opposite),
                    "gain_pct": None if c.rel_pct is None else _r(c.rel_pct.point),
                    "gain_pct_ci95": None if c.rel_pct is None else [_r(c.rel_pct.low), _r(c.rel_pct.high)]}
        diffs = [sb[key] - sa[key] for sb, sa in zip(b.scores, a.scores)]
        if len(diffs) > 1:
            out[key]["seeds"] = _spread(diffs, st.confidence)
    if b.objects is not None and a.objects is not None:
        oc = paired_bootstrap(a.objects.sum(axis=0), b.objects.sum(axis=0), object_fn(params), st.resamples, st.seed,
                              st.confidence)
        out["objects"] = {name: None if x is None else {"diff": _r(x.diff.point), "ci95": [_r(x.diff.low),
                          _r(x.diff.high)], "p_opposite": _r(x.diff.p_opposite)} for name, x in oc.items()}
    if b.quality is not None and a.quality is not None:
        n = len(b.quality) * b.cms.shape[1]
        q = paired_bootstrap(_quality_records(a), _quality_records(b), _psnr_fn(n), st.resamples, st.seed,
                             st.confidence)["psnr_y"]
        assert q is not None
        out["psnr_y"] = {"diff": _r(q.diff.point), "ci95": [_r(q.diff.low), _r(q.diff.high)],
                         "p_opposite": _r(q.diff.p_opposite)}
        if len(b.quality) > 1:
            out["psnr_y"]["seeds"] = _spread([qb["psnr_y"] - qa["psnr_y"] for qb, qa in zip(b.quality, a.quality)],
                                             st.confidence)
        ra, rb = _class_records(a), _class_records(b)
        if ra is not None and rb is not None:
            cp = paired_bootstrap(ra, rb, _class_psnr_fn, st.resamples, st.seed, st.confidence)
            out["class_psnr"] = {name: None if x is None else {"a": _r(x.a), "b": _r(x.b), "diff": _r(x.diff.point),
                                                               "ci95": [_r(x.diff.low), _r(x.diff.high)]}
                                 for name, x in cp.items()}
    return out


def class_iou_intervals(b: Variant, a: Variant, params: Params) -> dict[str, tuple[float, float] | None]:
    """Per class: the bootstrap interval of IoU(B) − IoU(A) (None where undefined)."""
    st = params.stats

    def fn(sums: np.ndarray) -> dict[str, np.ndarray]:
        iou = class_iou(sums)
        return {name: iou[:, c] for c, name in enumerate(TRAIN_NAMES)}

    comp = paired_bootstrap(a.cms.sum(axis=0), b.cms.sum(axis=0), fn, st.resamples, st.seed, st.confidence)
    return {n: None if comp[n] is None else (comp[n].diff.low, comp[n].diff.high) for n in TRAIN_NAMES}


def psnr_source(v: Variant, variants: dict[str, Variant]) -> Variant | None:
    """The variant whose images the segmenter of ``v`` sees (for their PSNR): its own, or the SR / bicubic ones."""
    if v.quality is not None:
        return v
    if v.scale is None or v.method.images not in ("sr", "bicubic"):
        return None
    return variants.get(methods.get(v.method.images).variant(v.scale))


def combined_fn(n_classes_cells: int, count: int):
    """:data:`srseg.results.stats.MetricFn` of the combined score from summed records
    ``[cms (C·(C+1)) | HR's cms | Σ PSNR of the images | Σ PSNR of bicubic]`` (see :func:`combined`)."""
    def fn(sums: np.ndarray) -> dict[str, np.ndarray]:
        c = NUM_CLASSES
        shape = (-1, c, c + 1)
        pacc = seg_metrics(sums[:, :n_classes_cells].reshape(shape))["pacc"]
        pacc_hr = seg_metrics(sums[:, n_classes_cells:2 * n_classes_cells].reshape(shape))["pacc"]
        gain_db = (sums[:, -2] - sums[:, -1]) / count
        return {"score": 0.5 * (pacc / pacc_hr + 1 - 10 ** (-gain_db / 10)), "pacc_rel": pacc / pacc_hr,
                "mse_removed": 1 - 10 ** (-gain_db / 10)}
    return fn


def _combined_records(v: Variant, hr: Variant, src: Variant, bic: Variant, seed: int | None = None) -> np.ndarray:
    """Per-image records for :func:`combined_fn`: summed over the training seeds, or of the ``seed``-th alone."""
    n = v.cms.shape[1]

    def cms(u: Variant) -> np.ndarray:
        return (u.cms.sum(0) if seed is None else u.cms[seed]).reshape(n, -1)

    def psnr(u: Variant) -> np.ndarray:
        assert u.quality is not None
        if seed is None:
            return _quality_records(u)[:, :1]
        return np.asarray(u.quality[seed]["per_image"]["psnr_y"])[:, None]

    return np.concatenate([cms(v), cms(hr), psnr(src), psnr(bic)], axis=1)


def _seed_scores(v: Variant, hr: Variant, src: Variant, bic: Variant) -> list[float]:
    """The combined score of each training seed's models alone."""
    fn = combined_fn(NUM_CLASSES * (NUM_CLASSES + 1), v.cms.shape[1])
    return [float(fn(_combined_records(v, hr, src, bic, seed=k).sum(0, keepdims=True))["score"][0])
            for k in range(v.cms.shape[0])]


def combined(variants: dict[str, Variant], params: Params) -> dict[str, Any]:
    """The study's third criterion, "the average between PSNR and PACC", per combination scale:

        score = ½ · ( PACC / PACC_HR  +  1 − MSE / MSE_bicubic )

    the share of the HR images' pixel accuracy kept and the share of bicubic's luma error removed (from the mean
    Y-PSNR gain over bicubic, ``1 − 10^(−ΔPSNR/10)``), each 1 for a perfect method; the PSNR is that of the images
    the method's segmenter sees (SR head for the joint model). Every method at the scale that works from the LR
    image is ranked (upper bounds aside); the margin of the first over the second gets a paired bootstrap interval
    and, with several seeds, the spread of the per-seed margins.
    """
    st = params.stats
    hr = variants["hr"]
    out: dict[str, Any] = {}
    for s in params.combine.scales:
        bic = variants[methods.BICUBIC.variant(s)]
        count = len(params.seeds) * hr.cms.shape[1]
        fn = combined_fn(NUM_CLASSES * (NUM_CLASSES + 1), count)
        rows, records, sources = [], {}, {}
        for v in variants.values():
            src = psnr_source(v, variants)
            if v.scale != s or v.method.images == "raw" or src is None:
                continue
            records[v.name], sources[v.name] = _combined_records(v, hr, src, bic), (v, src)
            iv = bootstrap_interval(records[v.name], fn, st.resamples, st.seed, st.confidence)
            rows.append({"variant": v.name, "label": v.method.label_at(s), "upper_bound": v.method.upper_bound,
                         **{k: _r(iv[k].point) for k in ("score", "pacc_rel", "mse_removed")},
                         "score_ci95": [_r(iv["score"].low), _r(iv["score"].high)]})
        ranked = sorted((r for r in rows if not r["upper_bound"]), key=lambda r: -r["score"])
        for rank, r in enumerate(ranked, start=1):
            r["rank"] = rank
        entry: dict[str, Any] = {"rows": ranked + [r for r in rows if r["upper_bound"]]}
        if len(ranked) >= 2:
            first, second = ranked[0]["variant"], ranked[1]["variant"]
            c = paired_bootstrap(records[second], records[first], fn, st.resamples, st.seed, st.confidence)["score"]
            entry["margin"] = {"first": first, "second": second, "diff": _r(c.diff.point),
                               "ci95": [_r(c.diff.low), _r(c.diff.high)], "p_opposite": _r(c.diff.p_opposite)}
            if len(params.seeds) > 1:
                (vf, sf), (vs, ss) = sources[first], sources[second]
                diffs = np.subtract(_seed_scores(vf, hr, sf, bic), _seed_scores(vs, hr, ss, bic))
                entry["margin"]["seeds"] = _spread(diffs.tolist(), st.confidence)
        out[f"x{s}"] = entry
    return out


def summarize(params: Params, paths: Paths) -> tuple[dict[str, Any], dict[str, Variant]]:
    """The summary dict (settings, variants, comparisons) and the loaded variants."""
    variants = collect(params, paths)
    n_images = variants["hr"].cms.shape[1]
    with_objects = variants["hr"].objects is not None
    summary: dict[str, Any] = {
        "settings": {"seeds": list(params.seeds), "threads": params.runtime.threads,
                     "cpu_kernels": params.runtime.cpu_kernels, "val_images": n_images,
                     "resamples": params.stats.resamples, "bootstrap_seed": params.stats.seed,
                     "confidence": params.stats.confidence,
                     "objects": {"classes": list(params.objects.classes), "size_bins": bin_names(params),
                                 "iou": params.objects.iou, "min_size": params.objects.min_size}
                     if with_objects else None},
        "variants": {name: variant_entry(v, params) for name, v in variants.items()},
        "comparisons": {f"{b}-vs-{a}": comparison_entry(variants[b], variants[a], params)
                        for b, a in comparisons(variants)},
        "combined": combined(variants, params),
    }
    return summary, variants


def headline(summary: dict[str, Any]) -> dict[str, Any]:
    """The few numbers for ``dvc exp show``: HR's scores, and every method against its registered baseline at the
    same scale (``sr_x4``: SR ×4 − bicubic ×4), as differences in pp (PACC, mIoU, with the interval's ``_lo`` and
    ``_hi``, and with several seeds the t-interval's ``_seeds_lo`` and ``_seeds_hi``) and dB. Keyed by the method's
    variant, so that the columns stay short; controls and the comparisons against HR are in ``summary.json``."""
    v, c = summary["variants"], summary["comparisons"]
    out: dict[str, Any] = {"hr": {"pacc": v["hr"]["pacc"], "miou": v["hr"]["miou"]}}
    for comp in c.values():
        b, a = comp["b"], comp["a"]
        baseline = methods.get(v[b]["method"]).baseline
        if a == "hr" or baseline is None or a != methods.get(baseline).variant(v[b]["scale"]):
            continue
        entry: dict[str, Any] = {}
        if comp.get("psnr_y"):
            entry["psnr_db"] = comp["psnr_y"]["diff"]
        for k in SEG_KEYS:
            if comp[k] is not None:
                entry[f"{k}_pp"] = _r(comp[k]["diff"] * 100)
                entry[f"{k}_lo"] = _r(comp[k]["ci95"][0] * 100)
                entry[f"{k}_hi"] = _r(comp[k]["ci95"][1] * 100)
                if spread := comp[k].get("seeds"):  # several seeds: the t-interval across them too
                    entry[f"{k}_seeds_lo"] = _r(spread["ci95"][0] * 100)
                    entry[f"{k}_seeds_hi"] = _r(spread["ci95"][1] * 100)
        out[b] = entry
    return out


# --- series -------------------------------------------------------------------------------------------------------

def scale_rows(summary: dict[str, Any], scales: Sequence[int]) -> list[dict[str, Any]]:
    """One row per scale: PSNR/SSIM/PACC/mIoU of bicubic and SR with intervals, the HR reference and the gains."""
    v, c = summary["variants"], summary["comparisons"]
    rows = []
    for s in scales:
        bic, sr, hr = v[f"bicubic_x{s}"], v[f"sr_x{s}"], v["hr"]
        gain = c[f"sr_x{s}-vs-bicubic_x{s}"]
        row: dict[str, Any] = {"scale": s, "psnr_bicubic": bic["psnr_y"], "psnr_sr": sr["psnr_y"],
                               "ssim_bicubic": bic["ssim_y"], "ssim_sr": sr["ssim_y"]}
        row["psnr_gain_db"] = gain["psnr_y"]["diff"]
        row["psnr_gain_lo"], row["psnr_gain_hi"] = gain["psnr_y"]["ci95"]
        for key in SEG_KEYS:
            for name, e in (("hr", hr), ("bicubic", bic), ("sr", sr)):
                row[f"{key}_{name}"] = e[key]
                row[f"{key}_{name}_lo"], row[f"{key}_{name}_hi"] = e[f"{key}_ci95"] or (None, None)
            g = gain[key]
            row[f"{key}_gain_pct"] = None if g is None else g["gain_pct"]
            lo_hi = (None, None) if g is None or g["gain_pct_ci95"] is None else g["gain_pct_ci95"]
            row[f"{key}_gain_lo"], row[f"{key}_gain_hi"] = lo_hi
        rows.append(row)
    return rows


def class_rows(variants: dict[str, Variant], scales: Sequence[int], params: Params) -> list[dict[str, Any]]:
    """One row per (class, scale): IoU of HR, bicubic and SR (mean over seeds), ``delta`` = SR − bicubic with its
    bootstrap interval (None where a side is undefined). ``train_id`` keeps the Cityscapes class order."""

    def mean_iou(v: Variant, name: str) -> float | None:
        vals = [i[name] for i in v.ious]
        return None if any(x is None for x in vals) else _r(float(np.mean(vals)))

    rows = []
    intervals = {s: class_iou_intervals(variants[f"sr_x{s}"], variants[f"bicubic_x{s}"], params) for s in scales}
    for train_id, name in enumerate(TRAIN_NAMES):
        for s in scales:
            bic, sr = mean_iou(variants[f"bicubic_x{s}"], name), mean_iou(variants[f"sr_x{s}"], name)
            delta = None if bic is None or sr is None else _r(sr - bic)
            lo_hi = intervals[s][name] if delta is not None and intervals[s][name] is not None else (None, None)
            rows.append({"class": name, "train_id": train_id, "scale": s,
                         "iou_hr": mean_iou(variants["hr"], name), "iou_bicubic": bic, "iou_sr": sr,
                         "delta": delta, "delta_lo": _r(lo_hi[0]), "delta_hi": _r(lo_hi[1])})
    return rows


def ordered(variants: dict[str, Any]) -> list[str]:
    """Variant names in registry order, then by scale (a summary read back from JSON has its keys sorted)."""
    rank = {name: i for i, name in enumerate(methods.METHODS)}
    return sorted(variants, key=lambda n: (rank.get(variants[n]["method"], len(rank)), variants[n]["scale"] or 0))


def retrain_rows(summary: dict[str, Any]) -> list[dict[str, Any]]:
    """The retraining comparison (book §18): the HR model on HR val, and per scale every retrain-group method
    after its baseline (the HR model on the same val images), with intervals; labels are unique so bar and dot
    charts don't stack."""
    v = summary["variants"]
    retrain = [v[n] for n in ordered(v) if methods.get(v[n]["method"]).group == "retrain"]
    if not retrain:
        return []
    order = ["hr"]
    for s in sorted({e["scale"] for e in retrain}):
        for e in (e for e in retrain if e["scale"] == s):
            base = methods.get(e["method"]).baseline
            for name in ([] if base in (None, "hr") else [methods.get(base).variant(s)]) + [e["method"] + f"_x{s}"]:
                if name not in order:
                    order.append(name)

    def label(name: str) -> str:
        e = v[name]
        m = methods.get(e["method"])
        if m.group == "retrain":
            return m.label_at(e["scale"])
        return "HR-trained PSPNet on " + ("HR val" if e["scale"] is None else f"{m.label_at(e['scale'])} val")

    return [{"scale": v[n]["scale"], "variant": n, "label": label(n), **{k: v[n][k] for k in SEG_KEYS},
             **{f"{k}_{side}": (v[n][f"{k}_ci95"] or (None, None))[i] for k in SEG_KEYS
                for i, side in enumerate(("lo", "hi"))}} for n in order]


def object_rows(summary: dict[str, Any]) -> list[dict[str, Any]]:
    """Pedestrian recall (person + rider) of every variant, overall (``size`` "all") and per size bin, with
    intervals; none when the data has no instances."""
    rows = []
    for name in ordered(summary["variants"]):
        e = summary["variants"][name]
        for key, value in (e.get("objects") or {}).items():
            size = "all" if key == "pedestrian_recall" else key.removeprefix("size_")
            rows.append({"method": e["method"], "scale": e["scale"], "variant": name, "size": size,
                         "recall": None if value is None else value["value"],
                         "recall_lo": None if value is None else value["ci95"][0],
                         "recall_hi": None if value is None else value["ci95"][1]})
    return rows


def _with_ci(e: dict[str, Any] | None, key: str, name: str) -> dict[str, Any]:
    """``{name, name_lo, name_hi}`` of an entry's value and its interval (None where missing)."""
    if e is None or e.get(key) is None:
        return {name: None, f"{name}_lo": None, f"{name}_hi": None}
    lo, hi = e.get(f"{key}_ci95") or (None, None)
    return {name: e[key], f"{name}_lo": lo, f"{name}_hi": hi}


def method_rows(summary: dict[str, Any]) -> list[dict[str, Any]]:
    """Every method of the combination comparison, per combination scale, in ranking order (upper bounds last):
    PACC, mIoU and the Y-PSNR of the images its segmenter sees, each with its interval, and the combined score."""
    v = summary["variants"]
    rows = []
    for entry in summary["combined"].values():
        for r in entry["rows"]:
            e = v[r["variant"]]
            image = e if "psnr_y" in e else _image_entry(v, e)
            rows.append({"scale": e["scale"], "variant": r["variant"], "label": r["label"],
                         "upper_bound": int(r["upper_bound"]), "own_image": int("psnr_y" in e),
                         **_with_ci(e, "pacc", "pacc"),
                         **_with_ci(e, "miou", "miou"), **_with_ci(image, "psnr_y", "psnr"),
                         "score": r["score"], "score_lo": r["score_ci95"][0], "score_hi": r["score_ci95"][1],
                         "rank": r.get("rank")})
    return rows


def _image_entry(v: dict[str, Any], e: dict[str, Any]) -> dict[str, Any] | None:
    """The variant entry of the images a segmenter-only method sees (SR or bicubic at its scale)."""
    m = methods.get(e["method"])
    if e["scale"] is None or m.images not in ("sr", "bicubic"):
        return None
    return v.get(methods.get(m.images).variant(e["scale"]))


def class_psnr_rows(summary: dict[str, Any]) -> list[dict[str, Any]]:
    """Per class region: the Y-PSNR change of every combination method against its baseline, with intervals."""
    v = summary["variants"]
    rows = []
    for comp in summary["comparisons"].values():
        b = v[comp["b"]]
        if "class_psnr" not in comp or methods.get(b["method"]).group != "combine":
            continue
        for train_id, name in enumerate(TRAIN_NAMES):
            d = comp["class_psnr"].get(name)
            rows.append({"scale": b["scale"], "variant": comp["b"], "baseline": comp["a"], "label": b["label"],
                         "class": name, "train_id": train_id, "psnr_baseline": d and d["a"], "psnr": d and d["b"],
                         "delta_db": d and d["diff"], "delta_lo": d and d["ci95"][0], "delta_hi": d and d["ci95"][1]})
    return rows


def write_csv(path: Path, columns: Sequence[str], rows: Iterable[dict[str, Any]]) -> None:
    """Write rows as CSV (None → empty cell)."""
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(columns), lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: "" if row[k] is None else row[k] for k in columns})


def read_csv(path: str | Path) -> list[dict[str, Any]]:
    """Read a series CSV back: numbers as float (``scale`` as int), empty cells as None."""
    path = Path(path)
    try:
        with open(path, newline="", encoding="utf-8") as fh:
            raw = list(csv.DictReader(fh))
    except FileNotFoundError:
        raise SrsegError(f"{path}: missing input (written by the summarize stage; run it first)") from None
    rows = []
    for r in raw:
        row: dict[str, Any] = {}
        for k, v in r.items():
            if v is None or v == "":
                row[k] = None
            elif k == "scale":
                row[k] = int(float(v))
            else:
                try:
                    row[k] = float(v)
                except ValueError:
                    row[k] = v
        rows.append(row)
    return rows


def run(params: Params, paths: Paths) -> dict[str, Any]:
    """Read every input, then write the series folder, the summary and the headline (each atomically)."""
    summary, variants = summarize(params, paths)
    classes = class_rows(variants, params.scales, params)
    with atomic_dir(paths.series) as tmp:
        tmp.chmod(0o755)  # mkdtemp makes it private; this folder is committed and read by everyone
        write_csv(tmp / SCALES_CSV, SCALE_COLUMNS, scale_rows(summary, params.scales))
        write_csv(tmp / CLASS_IOU_CSV, CLASS_COLUMNS, classes)
        write_csv(tmp / RETRAIN_CSV, RETRAIN_COLUMNS, retrain_rows(summary))
        write_csv(tmp / OBJECTS_CSV, OBJECT_COLUMNS, object_rows(summary))
        write_csv(tmp / METHODS_CSV, METHOD_COLUMNS, method_rows(summary))
        write_csv(tmp / CLASS_PSNR_CSV, CLASS_PSNR_COLUMNS, class_psnr_rows(summary))
    write_json(paths.summary, summary)
    write_json(paths.headline, headline(summary))
    return summary
