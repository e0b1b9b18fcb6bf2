"""The CSV series under ``plots/series/`` that ``dvc plots`` and the figures draw, as rows from the summary.

Fractions are 0–1 and PSNR in dB as in the summary; the gains of SR over bicubic in ``scales.csv`` are differences
in percentage points (``pacc_gain_pp``) or dB, other differences in fractions (``class_iou_delta.csv``) or dB
(``class_psnr_delta.csv``). Empty cells are missing values (``None``). The columns
of the scale and class series are named after the study's chain (:data:`srseg.methods.registry.HR`, ``BICUBIC``,
``SR``): ``pacc_bicubic`` is the PACC of the bicubic method's variant.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from srseg.errors import SrsegError
from srseg.labels import TRAIN_NAMES
from srseg.methods import registry as methods
from srseg.methods.base import Method
from srseg.params import Params
from srseg.results.blocks import Design
from srseg.results.estimates import class_iou_intervals, rounded
from srseg.results.families import class_family
from srseg.results.inputs import SEG_KEYS, Evaluation
from srseg.results.schema import Summary, VariantKey, VariantResult, image_source

SCALES_CSV = "scales.csv"
CLASS_IOU_CSV = "class_iou_delta.csv"
RETRAIN_CSV = "retrain.csv"
OBJECTS_CSV = "pedestrians.csv"
METHODS_CSV = "methods.csv"
CLASS_PSNR_CSV = "class_psnr_delta.csv"

HR, BICUBIC, SR = methods.HR, methods.BICUBIC, methods.SR


def column(metric: str, method: Method) -> str:
    """The column of a chain method's ``metric`` in the scale and class series (``pacc_bicubic``)."""
    return f"{metric}_{method.name}"


SCALE_COLUMNS = [
    "scale",
    column("psnr", BICUBIC), column("psnr", SR), "psnr_gain_db", "psnr_gain_lo", "psnr_gain_hi",
    column("ssim", BICUBIC), column("ssim", SR),
    *(column(key, m) + end for key in SEG_KEYS for m in (HR, BICUBIC, SR) for end in ("", "_lo", "_hi")),
    "pacc_gain_pp", "pacc_gain_lo", "pacc_gain_hi", "pacc_gain_clear", "miou_gain_pp", "miou_gain_lo", "miou_gain_hi",
    "miou_gain_clear",
]
CLASS_COLUMNS = ["class", "train_id", "scale", column("iou", HR), column("iou", BICUBIC), column("iou", SR), "delta",
                 "delta_lo", "delta_hi", "p_holm", "clear"]
RETRAIN_COLUMNS = ["scale", "variant", "label", "pacc", "pacc_lo", "pacc_hi", "miou", "miou_lo", "miou_hi"]
OBJECT_COLUMNS = ["method", "scale", "variant", "measure", "height", "value", "value_lo", "value_hi"]
METHOD_COLUMNS = ["scale", "variant", "label", "upper_bound", "own_image", "pacc", "pacc_lo", "pacc_hi", "miou",
                  "miou_lo", "miou_hi", "psnr", "psnr_lo", "psnr_hi", "score", "score_lo", "score_hi", "rank"]
CLASS_PSNR_COLUMNS = ["scale", "variant", "baseline", "label", "class", "train_id", "psnr_baseline", "psnr",
                      "delta_db", "delta_lo", "delta_hi"]


def scale_rows(summary: Summary, scales: Sequence[int]) -> list[dict[str, Any]]:
    """One row per scale: PSNR/SSIM/PACC/mIoU of bicubic and SR with intervals, the HR reference and the gains of
    SR over bicubic (PACC and mIoU in pp) with their paired intervals and ``_clear`` (1: the verdict holds)."""
    rows = []
    hr = summary.variant(HR)
    for s in scales:
        bic, sr = summary.variant(BICUBIC, s), summary.variant(SR, s)
        gain = summary.comparison(SR, BICUBIC, s)
        row: dict[str, Any] = {"scale": s, column("psnr", BICUBIC): bic["psnr_y"], column("psnr", SR): sr["psnr_y"],
                               column("ssim", BICUBIC): bic["ssim_y"], column("ssim", SR): sr["ssim_y"]}
        row["psnr_gain_db"] = gain["psnr_y"]["diff"]
        row["psnr_gain_lo"], row["psnr_gain_hi"] = gain["psnr_y"]["ci95"]
        for key in SEG_KEYS:
            for e in (hr, bic, sr):
                name = column(key, e.method)
                row[name] = e[key]
                row[f"{name}_lo"], row[f"{name}_hi"] = e[f"{key}_ci95"] or (None, None)
            g = gain[key]  # SR − bicubic in percentage points, with its paired interval and verdict
            row[f"{key}_gain_pp"] = None if g is None else rounded(g["diff"] * 100)
            ci = (None, None) if g is None else g["ci95"]
            row[f"{key}_gain_lo"], row[f"{key}_gain_hi"] = (None if x is None else rounded(x * 100) for x in ci)
            row[f"{key}_gain_clear"] = None if g is None else int(g.get("verdict", "none") != "none")
        rows.append(row)
    return rows


def class_rows(variants: dict[VariantKey, Evaluation], scales: Sequence[int], params: Params, d: Design
               ) -> list[dict[str, Any]]:
    """One row per (class, scale): IoU of HR, bicubic and SR (mean over seeds), ``delta`` = SR − bicubic with its
    bootstrap interval (None where a side is undefined), its Holm-adjusted p-value over the classes of the scale
    (:func:`~srseg.results.families.class_family`) and ``clear`` (1 when it reads as a change). ``train_id`` keeps
    the Cityscapes class order."""

    def mean_iou(v: Evaluation, name: str) -> float | None:
        vals = [i[name] for i in v.ious]
        known = [x for x in vals if x is not None]
        return None if len(known) < len(vals) else rounded(float(np.mean(known)))

    def get(m: Method, s: int | None = None) -> Evaluation:
        return variants[VariantKey.of(m, s)]

    rows = []
    intervals = {s: class_iou_intervals(get(SR, s), get(BICUBIC, s), params, d) for s in scales}
    adjusted = {s: class_family(intervals[s], params.stats.confidence) for s in scales}
    for train_id, name in enumerate(TRAIN_NAMES):
        for s in scales:
            bic, sr = mean_iou(get(BICUBIC, s), name), mean_iou(get(SR, s), name)
            delta = None if bic is None or sr is None else rounded(sr - bic)
            iv, adj = intervals[s][name], adjusted[s][name]
            row = {"class": name, "train_id": train_id, "scale": s, column("iou", HR): mean_iou(get(HR), name),
                   column("iou", BICUBIC): bic, column("iou", SR): sr, "delta": delta, "delta_lo": None,
                   "delta_hi": None, "p_holm": None, "clear": None}
            if delta is not None and iv is not None and adj is not None:
                row |= {"delta_lo": rounded(iv[0]), "delta_hi": rounded(iv[1]), "p_holm": rounded(adj[0]),
                        "clear": int(adj[1])}
            rows.append(row)
    return rows


def retrain_rows(summary: Summary) -> list[dict[str, Any]]:
    """The retraining comparison (book §18): the HR model on HR val, and per scale every retrain-group method
    after its baseline (the HR model on the same val images), with intervals; labels are unique so bar and dot
    charts don't stack."""
    retrain = [e for e in summary.variants if e.method.group == "retrain"]
    if not retrain:
        return []
    order = [summary.variant(HR)]
    for s in sorted({e.scale for e in retrain}, key=lambda x: (x is not None, x or 0)):  # scale-free first
        for e in (e for e in retrain if e.scale == s):
            base = None if e.method.baseline is None else methods.get(e.method.baseline)
            for entry in ([] if base is None or base is HR else [summary.variant(base, s)]) + [e]:
                if entry not in order:
                    order.append(entry)

    def label(e: VariantResult) -> str:
        if e.method.group == "retrain":
            return e.method.label_at(e.scale)
        return "HR-trained PSPNet on " + ("HR val" if e.scale is None else f"{e.method.label_at(e.scale)} val")

    return [{"scale": e.scale, "variant": e.name, "label": label(e), **{k: e[k] for k in SEG_KEYS},
             **{f"{k}_{side}": (e[f"{k}_ci95"] or (None, None))[i] for k in SEG_KEYS
                for i, side in enumerate(("lo", "hi"))}} for e in order]


def object_key(key: str) -> tuple[str, str]:
    """``(measure, height)`` of a summary ``objects`` key: ``pedestrian_recall`` → ``("recall", "all")``,
    ``reasonable_precision`` → ``("precision", "reasonable")``, ``recall_10-20`` → ``("recall", "10-20")``."""
    group, _, measure = key.rpartition("_")
    if measure in ("recall", "precision") and group in ("pedestrian", "reasonable"):
        return measure, "all" if group == "pedestrian" else "reasonable"
    measure, _, height = key.partition("_")
    return measure, height


def object_rows(summary: Summary) -> list[dict[str, Any]]:
    """Pedestrian recall and precision (person + rider) of every variant, overall (``height`` "all"), of reasonable
    heights ("reasonable") and per height bin, with intervals; none when the data has no instances."""
    rows = []
    for e in summary.variants:
        for key, value in (e.get("objects") or {}).items():
            measure, height = object_key(key)
            rows.append({"method": e.method.name, "scale": e.scale, "variant": e.name, "measure": measure,
                         "height": height, "value": None if value is None else value["value"],
                         "value_lo": None if value is None else value["ci95"][0],
                         "value_hi": None if value is None else value["ci95"][1]})
    return rows


def _with_ci(e: VariantResult | None, key: str, name: str) -> dict[str, Any]:
    """``{name, name_lo, name_hi}`` of an entry's value and its interval (None where missing)."""
    if e is None or e.get(key) is None:
        return {name: None, f"{name}_lo": None, f"{name}_hi": None}
    lo, hi = e.get(f"{key}_ci95") or (None, None)
    return {name: e[key], f"{name}_lo": lo, f"{name}_hi": hi}


def seen_images(summary: Summary, e: VariantResult) -> VariantResult | None:
    """The entry of the images ``e``'s segmenter sees, for their Y-PSNR: its own, or those of the method whose
    images it sees (SR or bicubic at its scale); None without either."""
    if "psnr_y" in e:
        return e
    source = image_source(e.method)
    if e.scale is None or source is None:
        return None
    return summary.find_variant(source, e.scale)


def method_rows(summary: Summary) -> list[dict[str, Any]]:
    """Every method of the combination comparison, per combination scale, in ranking order (upper bounds last):
    PACC, mIoU and the Y-PSNR of the images its segmenter sees, each with its interval, and the combined score."""
    rows = []
    for entry in summary.combined.values():
        for r in entry["rows"]:
            e = summary.named(r["variant"])
            rows.append({"scale": e.scale, "variant": r["variant"], "label": r["label"],
                         "upper_bound": int(r["upper_bound"]), "own_image": int("psnr_y" in e),
                         **_with_ci(e, "pacc", "pacc"),
                         **_with_ci(e, "miou", "miou"), **_with_ci(seen_images(summary, e), "psnr_y", "psnr"),
                         "score": r["score"], "score_lo": r["score_ci95"][0], "score_hi": r["score_ci95"][1],
                         "rank": r.get("rank")})
    return rows


def class_psnr_rows(summary: Summary) -> list[dict[str, Any]]:
    """Per class region: the Y-PSNR change of every combination method against its baseline, with intervals."""
    rows = []
    for comp in summary.comparisons:
        if comp.class_psnr is None or comp.b.method.group != "combine":
            continue
        label = summary.label(comp.b)
        for train_id, name in enumerate(TRAIN_NAMES):
            d = comp.class_psnr.get(name)
            rows.append({"scale": comp.scale, "variant": comp.b.name, "baseline": comp.a.name, "label": label,
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
