"""Stage `summarize`: gather the per-scale SR and segmentation metrics into one summary and plot series.

Reads the SR quality (``metrics/sr/seed{k}/x{s}.json``) and every evaluated variant of :mod:`srseg.methods`
(``metrics/seg/seed{k}/<variant>.json``); writes ``metrics/summary.json`` (fractions 0–1, PSNR in dB) and the
CSV series under ``plots/series/`` that ``dvc plots`` and the plots stage draw.
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from srseg import methods
from srseg.errors import SrsegError
from srseg.io import atomic_dir, write_json
from srseg.labels import TRAIN_NAMES
from srseg.params import Params
from srseg.paths import Paths

SCALES_CSV = "scales.csv"
CLASS_IOU_CSV = "class_iou_delta.csv"
RETRAIN_CSV = "retrain.csv"

KINDS = ("bicubic", "sr")  # the chained methods of Graphs 1–3
SEG_KEYS = ("pacc", "miou")
SR_KEYS = ("psnr_y", "ssim_y")
DECIMALS = 6  # rounding of stored numbers: stable diffs, far below any meaningful difference


SCALE_COLUMNS = [
    "scale",
    "psnr_bicubic", "psnr_sr", "psnr_gain_db",
    "ssim_bicubic", "ssim_sr",
    "pacc_hr", "pacc_bicubic", "pacc_sr",
    "miou_hr", "miou_bicubic", "miou_sr",
    "pacc_gain_pct", "miou_gain_pct",
]
CLASS_COLUMNS = ["class", "train_id", "scale", "iou_hr", "iou_bicubic", "iou_sr", "delta"]
RETRAIN_COLUMNS = ["scale", "model", "eval", "label", "pacc", "miou"]


def scale_key(scale: int) -> str:
    """Summary key of a scale: ``2`` → ``"x2"``."""
    return f"x{scale}"


def _num(value: Any, path: Path, key: str) -> float:
    """A finite number from a metrics file, or SrsegError naming the file and key."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise SrsegError(f"{path}: {key} must be a finite number (got {value!r})")
    return round(float(value), DECIMALS)


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


def _pick(data: dict[str, Any], keys: Iterable[str], path: Path, where: str = "") -> dict[str, float]:
    """The numeric ``keys`` of ``data`` (``where`` prefixes the key in error messages)."""
    if not isinstance(data, dict):
        raise SrsegError(f"{path}: {where.rstrip('.') or 'top level'} must be a JSON object")
    out = {}
    for key in keys:
        if key not in data:
            raise SrsegError(f"{path}: missing key {where}{key}")
        out[key] = _num(data[key], path, where + key)
    return out


def gain_pct(new: float, base: float) -> float | None:
    """Relative change of ``new`` over ``base`` in percent (None when ``base`` is 0)."""
    return None if base == 0 else round(100.0 * (new - base) / base, DECIMALS)


def _seg(paths: Paths, method: str, scale: int | None, seed: int) -> dict[str, float]:
    """PACC and mIoU of an evaluated variant."""
    m = methods.get(method)
    path = paths.seg_metrics(m.variant(scale), seed)
    return _pick(read_metrics(path, m.eval_stage), SEG_KEYS, path)


def summarize(paths: Paths, scales: Sequence[int], retrain_scales: Sequence[int], seed: int) -> dict[str, Any]:
    """The summary dict: ``hr``, ``x{s}`` (bicubic/sr/gain_pct) and ``retrain_x{s}`` entries."""
    summary: dict[str, Any] = {"hr": _seg(paths, "hr", None, seed)}
    for s in scales:
        sr_path = paths.sr_metrics(s, seed)
        sr_metrics = read_metrics(sr_path, "super_resolve")
        entry: dict[str, Any] = {}
        for kind in KINDS:
            entry[kind] = _pick(sr_metrics.get(kind), SR_KEYS, sr_path, f"{kind}.") | _seg(paths, kind, s, seed)
        entry["gain_pct"] = {k: gain_pct(entry["sr"][k], entry["bicubic"][k]) for k in SEG_KEYS}
        summary[scale_key(s)] = entry
    for s in retrain_scales:
        if scale_key(s) not in summary:
            raise SrsegError(f"seg.retrain_scales: scale {s} is not in scales {list(scales)}")
        summary[f"retrain_x{s}"] = {
            "hr_model_on_sr": {k: summary[scale_key(s)]["sr"][k] for k in SEG_KEYS},
            "sr_model_on_sr": _seg(paths, "retrain_sr", s, seed),
            "sr_model_on_hr": _seg(paths, "retrain_sr_on_hr", s, seed),
        }
    return summary


def _class_ious(path: Path) -> dict[str, float | None]:
    """Per-class IoU of a seg metrics file (absent or null classes → None)."""
    iou = read_metrics(path, "evaluate").get("iou")
    if not isinstance(iou, dict):
        raise SrsegError(f"{path}: missing key iou (a mapping of class name to IoU)")
    unknown = sorted(set(iou) - set(TRAIN_NAMES))
    if unknown:
        raise SrsegError(f"{path}: iou has unknown class names {unknown[:5]}")
    return {name: None if iou.get(name) is None else _num(iou[name], path, f"iou.{name}") for name in TRAIN_NAMES}


def scale_rows(summary: dict[str, Any], scales: Sequence[int]) -> list[dict[str, Any]]:
    """One row per scale: PSNR/SSIM/PACC/mIoU of bicubic and SR, the HR reference and the gains."""
    rows = []
    for s in scales:
        e, hr = summary[scale_key(s)], summary["hr"]
        bic, sr = e["bicubic"], e["sr"]
        rows.append({
            "scale": s,
            "psnr_bicubic": bic["psnr_y"], "psnr_sr": sr["psnr_y"],
            "psnr_gain_db": round(sr["psnr_y"] - bic["psnr_y"], DECIMALS),
            "ssim_bicubic": bic["ssim_y"], "ssim_sr": sr["ssim_y"],
            "pacc_hr": hr["pacc"], "pacc_bicubic": bic["pacc"], "pacc_sr": sr["pacc"],
            "miou_hr": hr["miou"], "miou_bicubic": bic["miou"], "miou_sr": sr["miou"],
            "pacc_gain_pct": e["gain_pct"]["pacc"], "miou_gain_pct": e["gain_pct"]["miou"],
        })
    return rows


def class_rows(paths: Paths, scales: Sequence[int], seed: int) -> list[dict[str, Any]]:
    """One row per (class, scale): IoU of HR, bicubic and SR, ``delta`` = SR − bicubic (None if either is null).

    ``train_id`` keeps the Cityscapes class order for plots that would otherwise sort by name.
    """
    hr = _class_ious(paths.seg_metrics("hr", seed))
    per_scale = {s: {k: _class_ious(paths.seg_metrics(methods.get(k).variant(s), seed)) for k in KINDS}
                 for s in scales}
    rows = []
    for train_id, name in enumerate(TRAIN_NAMES):
        for s in scales:
            bic, sr = per_scale[s]["bicubic"][name], per_scale[s]["sr"][name]
            delta = None if bic is None or sr is None else round(sr - bic, DECIMALS)
            rows.append({"class": name, "train_id": train_id, "scale": s, "iou_hr": hr[name],
                         "iou_bicubic": bic, "iou_sr": sr, "delta": delta})
    return rows


def retrain_rows(summary: dict[str, Any], retrain_scales: Sequence[int]) -> list[dict[str, Any]]:
    """The §18 comparison: HR- and SR-trained PSPNet on HR and SR val (``model``/``eval`` are hr or sr).

    The HR-trained-on-HR row appears once (``scale`` None); each label is unique so bar charts don't stack.
    """
    if not retrain_scales:
        return []
    hr = summary["hr"]
    rows = [{"scale": None, "model": "hr", "eval": "hr", "label": "HR-trained on HR val", **hr}]
    for s in retrain_scales:
        r = summary[f"retrain_x{s}"]
        for model, ev, key in (("hr", "sr", "hr_model_on_sr"), ("sr", "sr", "sr_model_on_sr"),
                               ("sr", "hr", "sr_model_on_hr")):
            label = f"{'HR' if model == 'hr' else f'SR ×{s}'}-trained on {'HR' if ev == 'hr' else f'SR ×{s}'} val"
            rows.append({"scale": s, "model": model, "eval": ev, "label": label, **r[key]})
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
                row[k] = int(v)
            else:
                try:
                    row[k] = float(v)
                except ValueError:
                    row[k] = v
        rows.append(row)
    return rows


def run(params: Params, paths: Paths) -> dict[str, Any]:
    """Read every input, then write the summary and the series folder atomically; return the summary."""
    scales, retrain_scales, seed = params.scales, params.seg.retrain_scales, params.seeds[0]
    summary = summarize(paths, scales, retrain_scales, seed)
    classes = class_rows(paths, scales, seed)
    with atomic_dir(paths.series) as tmp:
        tmp.chmod(0o755)  # mkdtemp makes it private; this folder is committed and read by everyone
        write_csv(tmp / SCALES_CSV, SCALE_COLUMNS, scale_rows(summary, scales))
        write_csv(tmp / CLASS_IOU_CSV, CLASS_COLUMNS, classes)
        write_csv(tmp / RETRAIN_CSV, RETRAIN_COLUMNS, retrain_rows(summary, retrain_scales))
    write_json(paths.summary, summary)
    return summary
