"""``report.md``: the study's numbers as Markdown tables, the figures, a reading computed from the numbers,
and the params that produced them. Written by the plots stage; every sentence is derived from the data.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from srseg.io import atomic_file
from srseg.paths import REPO
from srseg.results.summary import scale_key

#: |relative gain| below this (in %) is reported as "no change": far below what a val set of this size resolves.
TIE_PCT = 0.1
#: |PSNR gain| below this (dB) is reported as "no change".
TIE_DB = 0.01

FIGURE_CAPTIONS = {
    "psnr": "Graph 1 — Y-PSNR and Y-SSIM of bicubic and SR vs downscaling factor",
    "pacc": "Graph 2 — PACC and mIoU of the HR-trained PSPNet on bicubic-LR and SR images; HR as reference",
    "gain": "Graph 3 — relative gain of SR over bicubic (%)",
    "class_iou": "Per-class IoU change, SR − bicubic (percentage points)",
    "retrain": "Retraining PSPNet on SR images (book §18)",
    "table4": "Table 4 — example val image and its segmentations",
}


def pct(frac: float | None, digits: int = 2) -> str:
    """A fraction as a percentage: ``0.9123`` → ``91.23 %``."""
    return "n/a" if frac is None else f"{frac * 100:.{digits}f} %"


def signed(v: float | None, unit: str = "", digits: int = 2) -> str:
    """``+1.23 unit`` / ``−0.40 unit`` with a real minus sign (``n/a`` for None)."""
    if v is None:
        return "n/a"
    return f"{v:+.{digits}f}".replace("-", "−") + (f" {unit}" if unit else "")


def _table(header: Sequence[str], rows: Sequence[Sequence[str]], align: str = "") -> str:
    """A Markdown table; ``align`` is one char per column (l or r, default r except the first)."""
    align = align or "l" + "r" * (len(header) - 1)
    sep = ["---:" if a == "r" else ":---" for a in align]
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join(sep) + " |"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def _scales_list(items: Sequence[str]) -> str:
    """``["×2"]`` → ``×2``; ``["×2", "×3", "×4"]`` → ``×2, ×3 and ×4``."""
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _verdict(gains: dict[int, float | None], tie: float) -> dict[str, list[int]]:
    """Split scales into ``up`` / ``down`` / ``same`` / ``na`` by gain and tie threshold."""
    out: dict[str, list[int]] = {"up": [], "down": [], "same": [], "na": []}
    for s, g in gains.items():
        out["na" if g is None else "up" if g >= tie else "down" if g <= -tie else "same"].append(s)
    return out


def _sentence(what: str, v: dict[str, list[int]], gains: dict[int, float | None], unit: str, digits: int) -> str:
    """E.g. "SR improves pixel accuracy over bicubic at ×2 (+0.80 %) but lowers it at ×4 (−0.30 %)."."""

    def fmt(ss: list[int]) -> str:
        return _scales_list([f"×{s} ({signed(gains[s], unit, digits)})" for s in ss])

    parts = []
    if v["up"] and not (v["down"] or v["same"] or v["na"]):
        parts.append(f"SR improves {what} over bicubic at every scale: {fmt(v['up'])}")
    elif v["up"]:
        parts.append(f"SR improves {what} over bicubic at {fmt(v['up'])}")
    if v["down"] or v["same"]:
        rest = []
        if v["down"]:
            lead = "lowers it" if v["up"] else f"SR lowers {what} below bicubic"
            rest.append(f"{lead} at {fmt(v['down'])}")
        if v["same"]:
            rest.append(f"{'leaves it' if v['up'] or v['down'] else f'SR leaves {what}'} unchanged at {fmt(v['same'])}")
        parts.append(("but " if v["up"] else "") + " and ".join(rest))
    text = " ".join(parts)
    if v["na"]:
        na = f"the {what} gain is undefined at {_scales_list([f'×{s}' for s in v['na']])} (bicubic score 0)"
        text = f"{text}; {na}" if text else na[0].upper() + na[1:]
    return text + "."


def reading(summary: dict[str, Any], scales: Sequence[int], retrain_scales: Sequence[int]) -> str:
    """One paragraph describing what the numbers say, computed from ``summary``."""
    psnr_gain = {s: summary[scale_key(s)]["sr"]["psnr_y"] - summary[scale_key(s)]["bicubic"]["psnr_y"] for s in scales}
    pacc_gain = {s: summary[scale_key(s)]["gain_pct"]["pacc"] for s in scales}
    miou_gain = {s: summary[scale_key(s)]["gain_pct"]["miou"] for s in scales}
    text = [
        _sentence("Y-PSNR", _verdict(psnr_gain, TIE_DB), psnr_gain, "dB", 2),
        _sentence("pixel accuracy", _verdict(pacc_gain, TIE_PCT), pacc_gain, "%", 2),
        _sentence("mean IoU", _verdict(miou_gain, TIE_PCT), miou_gain, "%", 2),
    ]
    # How much of the HR–bicubic gap SR closes, where there is a gap to close.
    hr = summary["hr"]["pacc"]
    closed, widened = [], False
    for s in scales:
        e = summary[scale_key(s)]
        gap = hr - e["bicubic"]["pacc"]
        if gap > 0:
            share = (e["sr"]["pacc"] - e["bicubic"]["pacc"]) / gap * 100
            widened |= share < 0
            closed.append(f"{share:.0f} % at ×{s}".replace("-", "−"))
    if closed:
        text.append(f"Where bicubic LR falls below HR pixel accuracy ({pct(hr)}), SR recovers "
                    f"{_scales_list(closed)} of the gap" + (" (negative: SR widens it)." if widened else "."))
    lowest, highest = min(scales), max(scales)
    drop = summary[scale_key(highest)]["bicubic"]["pacc"] - summary[scale_key(lowest)]["bicubic"]["pacc"]
    if len(scales) > 1:
        text.append(f"Bicubic pixel accuracy goes from {pct(summary[scale_key(lowest)]['bicubic']['pacc'])} at "
                    f"×{lowest} to {pct(summary[scale_key(highest)]['bicubic']['pacc'])} at ×{highest} "
                    f"({signed(drop * 100, 'pp')}).")
    for s in retrain_scales:
        r = summary[f"retrain_x{s}"]
        on_sr = r["sr_model_on_sr"]["pacc"] - r["hr_model_on_sr"]["pacc"]
        on_hr = r["sr_model_on_hr"]["pacc"] - hr
        miou_on_sr = r["sr_model_on_sr"]["miou"] - r["hr_model_on_sr"]["miou"]
        better = "beats" if on_sr >= TIE_PCT / 100 else "falls behind" if on_sr <= -TIE_PCT / 100 else "matches"
        text.append(
            f"Retrained on ×{s} SR images, PSPNet {better} the HR-trained model on SR ×{s} val "
            f"(PACC {pct(r['sr_model_on_sr']['pacc'])} vs {pct(r['hr_model_on_sr']['pacc'])}, "
            f"{signed(on_sr * 100, 'pp')}; mIoU {signed(miou_on_sr * 100, 'pp')}) "
            f"and scores {pct(r['sr_model_on_hr']['pacc'])} on HR val ({signed(on_hr * 100, 'pp')} against the "
            f"HR-trained model)."
        )
    return " ".join(text)


def used_params(params: Any) -> dict[str, Any]:
    """The validated params (defaults filled in) with only the active data source's settings."""
    d = params.model_dump(mode="json")
    source = d["data"]["source"]
    d["data"] = {"source": source, source: d["data"][source]}
    return d


def _class_table(class_rows: list[dict[str, Any]], scales: Sequence[int]) -> str:
    idx = {(r["class"], r["scale"]): r for r in class_rows}
    names = list(dict.fromkeys(r["class"] for r in class_rows))
    header = ["class", "HR IoU"] + [f"{k} ×{s}" for s in scales for k in ("bicubic", "SR", "Δ pp")]
    rows = []
    for name in names:
        first = idx.get((name, scales[0]), {})
        row = [name, pct(first.get("iou_hr"), 1)]
        for s in scales:
            r = idx.get((name, s), {})
            delta = r.get("delta")
            row += [pct(r.get("iou_bicubic"), 1), pct(r.get("iou_sr"), 1),
                    "n/a" if delta is None else signed(delta * 100, "", 1)]
        rows.append(row)
    return _table(header, rows)


def build_report(
    summary: dict[str, Any],
    params: Any,
    figures: dict[str, Path],
    class_rows: list[dict[str, Any]],
    report_dir: Path = Path("."),
) -> str:
    """The Markdown text of ``report.md`` (figure links relative to ``report_dir``)."""
    scales, retrain_scales = list(params.scales), list(params.seg.retrain_scales)
    hr = summary["hr"]
    out = [
        "# srseg report: does super-resolution help segmentation?",
        "",
        f"_Generated by the `plots` stage (`dvc repro`) from `{REPO.summary.as_posix()}`; do not edit by hand._",
        "",
        "## Reading",
        "",
        reading(summary, scales, retrain_scales),
        "",
        f"Gains are relative to bicubic: 100 · (SR − bicubic) / bicubic; |gain| < {TIE_PCT} % "
        f"(or < {TIE_DB} dB for PSNR) is read as no change.",
        "",
        "## Super-resolution quality (Y channel)",
        "",
        _table(
            ["scale", "PSNR bicubic", "PSNR SR", "Δ PSNR", "SSIM bicubic", "SSIM SR", "Δ SSIM"],
            [[f"×{s}", f"{e['bicubic']['psnr_y']:.2f} dB", f"{e['sr']['psnr_y']:.2f} dB",
              signed(e["sr"]["psnr_y"] - e["bicubic"]["psnr_y"], "dB"),
              f"{e['bicubic']['ssim_y']:.4f}", f"{e['sr']['ssim_y']:.4f}",
              signed(e["sr"]["ssim_y"] - e["bicubic"]["ssim_y"], "", 4)]
             for s in scales for e in [summary[scale_key(s)]]],
        ),
        "",
        "## Segmentation by the HR-trained PSPNet",
        "",
        _table(
            ["input", "PACC", "mIoU", "PACC gain", "mIoU gain"],
            [["HR (reference)", pct(hr["pacc"]), pct(hr["miou"]), "", ""]]
            + [row for s in scales for e in [summary[scale_key(s)]] for row in (
                [f"bicubic ×{s}", pct(e["bicubic"]["pacc"]), pct(e["bicubic"]["miou"]), "", ""],
                [f"SR ×{s}", pct(e["sr"]["pacc"]), pct(e["sr"]["miou"]),
                 signed(e["gain_pct"]["pacc"], "%"), signed(e["gain_pct"]["miou"], "%")],
            )],
        ),
        "",
    ]
    if retrain_scales:
        rows = [["HR-trained", "HR", pct(hr["pacc"]), pct(hr["miou"])]]
        for s in retrain_scales:
            r = summary[f"retrain_x{s}"]
            for model, ev, key in (("HR-trained", f"SR ×{s}", "hr_model_on_sr"),
                                   (f"SR ×{s}-trained", f"SR ×{s}", "sr_model_on_sr"),
                                   (f"SR ×{s}-trained", "HR", "sr_model_on_hr")):
                rows.append([model, ev, pct(r[key]["pacc"]), pct(r[key]["miou"])])
        out += ["## Retraining on super-resolved images (book §18)", "",
                _table(["model", "evaluated on (val)", "PACC", "mIoU"], rows, "llrr"), ""]
    else:
        out += ["## Retraining on super-resolved images (book §18)", "", "Not run: `seg.retrain_scales` is empty.", ""]
    out += ["## Per-class IoU", "", "<details><summary>IoU per class (Δ pp = SR − bicubic)</summary>", "",
            _class_table(class_rows, scales), "", "</details>", "", "## Figures", ""]
    for key, caption in FIGURE_CAPTIONS.items():
        if key in figures:
            rel = Path(os.path.relpath(figures[key], report_dir)).as_posix()
            out += [f"**{caption}**", "", f"![{caption}]({rel})", ""]
    out += ["## Parameters", "", "The validated `params.yaml` settings the pipeline ran with "
            "(defaults filled in; only the active data source):", "", "```yaml",
            yaml.safe_dump(used_params(params), sort_keys=False, allow_unicode=True).rstrip(), "```", ""]
    return "\n".join(out)


def write_report(
    path: str | Path,
    summary: dict[str, Any],
    params: Any,
    figures: dict[str, Path],
    class_rows: list[dict[str, Any]],
) -> Path:
    """Write ``report.md`` atomically."""
    path = Path(path)
    text = build_report(summary, params, figures, class_rows, report_dir=path.parent)
    with atomic_file(path, "wb") as fh:  # bytes: UTF-8 whatever the locale (the text has × and −)
        fh.write(text.encode("utf-8"))
    return path
