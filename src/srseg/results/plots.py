"""Stage `plots`: the book's graphs and Table 4 as PNGs under ``plots/figures/``, plus ``report.md``.

Figures are drawn on :class:`matplotlib.figure.Figure` objects with the Agg canvas (no pyplot state,
no display needed) in one shared style: Okabe–Ito colours (bicubic orange, SR blue, HR black),
scale factors written ×2/×3/×4, about 800 px wide so they read at README width.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib
import numpy as np
from matplotlib.colors import TwoSlopeNorm
from matplotlib.figure import Figure
from matplotlib.patches import Patch, Rectangle

from srseg.errors import SrsegError
from srseg.io import atomic_dir, check_same_size, read_image, read_label
from srseg.labels import ID_TO_TRAIN, IGNORE, TRAIN_NAMES, TRAIN_PALETTE, colorize
from srseg.layout import Sample, list_samples
from srseg.methods import registry as methods
from srseg.methods.base import BICUBIC_COLOUR as BICUBIC
from srseg.methods.base import HR_COLOUR as HR
from srseg.methods.base import SR_COLOUR as SR
from srseg.params import Params
from srseg.paths import Paths
from srseg.results.summary import (
    CLASS_IOU_CSV,
    CLASS_PSNR_CSV,
    METHODS_CSV,
    OBJECTS_CSV,
    RETRAIN_CSV,
    SCALES_CSV,
    read_csv,
    read_metrics,
)

DPI = 110
WIDTH = 7.5  # inches: 825 px at DPI, about the width of a README column

PACC_C, MIOU_C = "#0072B2", "#009E73"
TABLE4_DPI = 140
TABLE4_MAX_CROP = 160  # default zoom side (HR px): a third of the height, but no more than about a cell's pixels
SMALL_CLASSES = ("pole", "traffic light", "traffic sign", "person", "rider", "motorcycle", "bicycle")

STYLE: dict[str, Any] = {
    "font.size": 10,
    "axes.titlesize": 11,
    "axes.labelsize": 10,
    "legend.fontsize": 9,
    "xtick.labelsize": 9.5,
    "ytick.labelsize": 9.5,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "grid.linewidth": 0.6,
    "lines.linewidth": 2.0,
    "lines.markersize": 7,
    "savefig.dpi": DPI,
    "savefig.facecolor": "white",
}

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
}


def xs(scale: int) -> str:
    """Scale factor label: ``4`` → ``"×4"``."""
    return f"×{scale}"


def _signed(v: float, digits: int = 1) -> str:
    """``+1.2`` / ``−0.3`` with a real minus sign."""
    return f"{v:+.{digits}f}".replace("-", "−")


def _scale_axis(ax: Any, scales: Sequence[int]) -> None:
    ax.set_xticks(list(scales), [xs(s) for s in scales])
    ax.set_xlabel("downscaling factor")
    pad = 0.3 * max(1, (max(scales) - min(scales)) / max(1, len(scales) - 1))
    ax.set_xlim(min(scales) - pad, max(scales) + pad)
    ax.grid(axis="x", visible=False)


def _save(fig: Figure, path: Path) -> Path:
    # No "Software" metadata: the PNG bytes then depend only on the data, which keeps git diffs honest.
    fig.savefig(path, dpi=fig.dpi, metadata={"Software": None}, bbox_inches="tight", pad_inches=0.08)
    return path


def _col(rows: list[dict[str, Any]], key: str, factor: float = 1.0) -> list[float]:
    """A column as floats (None → NaN, so lines break at gaps instead of lying)."""
    return [np.nan if r[key] is None else r[key] * factor for r in rows]


def fig_psnr(rows: list[dict[str, Any]]) -> Figure:
    """Graph 1: Y-PSNR (dB) of bicubic and SR vs scale, SSIM in a second panel."""
    scales = [r["scale"] for r in rows]
    with matplotlib.rc_context(STYLE):
        fig = Figure(figsize=(WIDTH, 3.6), dpi=DPI, layout="constrained")
        ax1, ax2 = fig.subplots(1, 2)
        for ax, key, label in ((ax1, "psnr", "Y-PSNR (dB)"), (ax2, "ssim", "Y-SSIM")):
            ax.plot(scales, _col(rows, f"{key}_bicubic"), "o-", color=BICUBIC, label="bicubic")
            ax.plot(scales, _col(rows, f"{key}_sr"), "s-", color=SR, label="SR (DCSCN)")
            ax.set_ylabel(label)
            _scale_axis(ax, scales)
        for r in rows:
            ci = "" if r["psnr_gain_lo"] is None else f"\n[{_signed(r['psnr_gain_lo'], 2)}, {_signed(r['psnr_gain_hi'], 2)}]"
            ax1.annotate(f"{_signed(r['psnr_gain_db'], 2)} dB{ci}", (r["scale"], max(r["psnr_sr"], r["psnr_bicubic"])),
                         textcoords="offset points", xytext=(0, 10), ha="center", fontsize=8.5, color=SR,
                         bbox={"fc": "white", "ec": "none", "pad": 0.5, "alpha": 0.85})
        ax1.margins(y=0.18)
        ax1.set_title("PSNR on the luma channel")
        ax2.set_title("SSIM on the luma channel")
        fig.legend(*ax1.get_legend_handles_labels(), loc="outside lower center", ncol=2, frameon=False)
        fig.suptitle("Graph 1 — super-resolution quality vs downscaling factor", fontweight="bold")
    return fig


def _errorbar(ax: Any, xs_: Sequence[float], rows: list[dict[str, Any]], key: str, factor: float, **kw: Any) -> None:
    """Points with their 95 % interval (columns ``{key}``, ``{key}_lo``, ``{key}_hi``) as error bars."""
    y = np.array(_col(rows, key, factor))
    lo, hi = np.array(_col(rows, f"{key}_lo", factor)), np.array(_col(rows, f"{key}_hi", factor))
    ax.errorbar(xs_, y, yerr=np.vstack([y - lo, hi - y]), capsize=3.5, elinewidth=1.2, **kw)


def fig_pacc(rows: list[dict[str, Any]]) -> Figure:
    """Graph 2: PACC (%) of the HR-trained PSPNet on bicubic-LR and SR vs scale, HR as reference; mIoU beside.

    Error bars and the band around HR: 95 % bootstrap intervals over the val images.
    """
    scales = [r["scale"] for r in rows]
    off = 0.04 * max(1, (max(scales) - min(scales)) / max(1, len(scales) - 1))
    with matplotlib.rc_context(STYLE):
        fig = Figure(figsize=(WIDTH, 3.6), dpi=DPI, layout="constrained")
        ax1, ax2 = fig.subplots(1, 2)
        for ax, key, label in ((ax1, "pacc", "pixel accuracy (%)"), (ax2, "miou", "mean IoU (%)")):
            hr = rows[0]
            ax.axhline(hr[f"{key}_hr"] * 100, color=HR, ls="--", lw=1.3, label="HR (no downscaling)")
            if hr[f"{key}_hr_lo"] is not None:
                ax.axhspan(hr[f"{key}_hr_lo"] * 100, hr[f"{key}_hr_hi"] * 100, color=HR, alpha=0.08, lw=0)
            _errorbar(ax, [s - off for s in scales], rows, f"{key}_bicubic", 100, fmt="o-", color=BICUBIC,
                      label="bicubic LR")
            _errorbar(ax, [s + off for s in scales], rows, f"{key}_sr", 100, fmt="s-", color=SR, label="SR (DCSCN)")
            ax.set_ylabel(label)
            _scale_axis(ax, scales)
            ax.margins(y=0.12)
        ax1.set_title("Pixel accuracy (PACC)")
        ax2.set_title("Mean IoU (Cityscapes protocol)")
        fig.legend(*ax1.get_legend_handles_labels(), loc="outside lower center", ncol=3, frameon=False)
        fig.suptitle("Graph 2 — segmentation before and after super-resolution (bars: 95 % intervals)",
                     fontweight="bold")
    return fig


def fig_gain(rows: list[dict[str, Any]]) -> Figure:
    """Graph 3: relative gain (%) of SR over bicubic for PACC and mIoU per scale, with 95 % paired-bootstrap
    intervals; a bar whose interval contains 0 is drawn hollow (no measurable difference)."""
    scales = [r["scale"] for r in rows]
    x = np.arange(len(scales))
    w = 0.36
    with matplotlib.rc_context(STYLE):
        fig = Figure(figsize=(WIDTH, 3.6), dpi=DPI, layout="constrained")
        ax = fig.subplots()
        values: list[float] = []
        series = (("pacc_gain", PACC_C, "pixel accuracy"), ("miou_gain", MIOU_C, "mean IoU"))
        for i, (key, color, label) in enumerate(series):
            v = np.array(_col(rows, f"{key}_pct"))
            lo, hi = np.array(_col(rows, f"{key}_lo")), np.array(_col(rows, f"{key}_hi"))
            every = np.concatenate([v, lo, hi])
            values.extend(every[np.isfinite(every)].tolist())
            clear = (lo > 0) | (hi < 0)
            pos = x + (i - 0.5) * w
            ax.bar(pos, np.nan_to_num(v), w, color=[color if c else "none" for c in clear], edgecolor=color,
                   linewidth=1.4, label=label)
            ax.errorbar(pos, np.nan_to_num(v), yerr=np.vstack([np.nan_to_num(v - lo), np.nan_to_num(hi - v)]),
                        fmt="none", ecolor="0.25", capsize=3, elinewidth=1)
            for px, val, top, bottom in zip(pos, v, hi, lo, strict=True):
                known = bool(np.isfinite(val))
                below = known and val < 0
                end = bottom if below else top
                anchor = end if np.isfinite(end) else (val if known else 0.0)
                ax.annotate(f"{_signed(val, 2)} %" if known else "n/a", (px, anchor), textcoords="offset points",
                            xytext=(0, -3 if below else 3), va="top" if below else "bottom", ha="center",
                            fontsize=8.5)
        ax.axhline(0, color="black", lw=0.9)
        lo_, hi_ = min([0.0, *values]), max([0.0, *values])
        span = max(hi_ - lo_, 0.5)
        ax.set_ylim(lo_ - 0.2 * span if lo_ < 0 else -0.05 * span, hi_ + 0.2 * span if hi_ > 0 else 0.05 * span)
        ax.set_xticks(x, [xs(s) for s in scales])
        ax.set_xlabel("downscaling factor")
        ax.set_ylabel("gain of SR over bicubic (%)")
        ax.grid(axis="x", visible=False)
        ax.legend(loc="best", title="filled: 95 % interval excludes 0", title_fontsize=8.5)
        ax.set_title("Graph 3 — relative gain of SR over bicubic (below 0: SR is worse)", fontweight="bold")
    return fig


def fig_class_iou_delta(rows: list[dict[str, Any]], scales: Sequence[int]) -> Figure:
    """Per-class IoU change SR − bicubic (percentage points) as a heat map centred at 0; nulls hatched."""
    idx = {(r["class"], r["scale"]): r for r in rows}

    def cell(c: str, s: int, key: str) -> float:
        v = idx.get((c, s), {}).get(key)
        return np.nan if v is None else v * 100

    grid = np.array([[cell(c, s, "delta") for s in scales] for c in TRAIN_NAMES])
    clear = np.array([[cell(c, s, "delta_lo") > 0 or cell(c, s, "delta_hi") < 0 for s in scales]
                      for c in TRAIN_NAMES])
    finite = grid[np.isfinite(grid)]
    lim = max(float(np.abs(finite).max()) if finite.size else 0.0, 0.5)
    with matplotlib.rc_context(STYLE | {"axes.grid": False}):
        fig = Figure(figsize=(min(WIDTH, 3.2 + 0.9 * len(scales)), 6.4), dpi=DPI, layout="constrained")
        ax = fig.subplots()
        cmap = matplotlib.colormaps["RdBu"].with_extremes(bad="white")
        im = ax.imshow(np.ma.masked_invalid(grid), cmap=cmap, norm=TwoSlopeNorm(0.0, -lim, lim), aspect="auto")
        for (i, j), v in np.ndenumerate(grid):
            if np.isfinite(v):
                ax.text(j, i, _signed(v) + ("*" if clear[i, j] else ""), ha="center", va="center", fontsize=8,
                        fontweight="bold" if clear[i, j] else "normal",
                        color="white" if abs(v) > 0.6 * lim else "black")
            else:
                ax.add_patch(Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, hatch="///", ec="0.6", lw=0))
        ax.set_xticks(range(len(scales)), [xs(s) for s in scales])
        ax.set_yticks(range(len(TRAIN_NAMES)), TRAIN_NAMES)
        ax.set_xlabel("downscaling factor")
        ax.tick_params(length=0)
        for spine in ax.spines.values():
            spine.set_visible(False)
        cb = fig.colorbar(im, ax=ax, shrink=0.6, pad=0.03)
        cb.set_label("IoU change, SR − bicubic (pp)")
        ax.set_title("Per-class IoU change from SR\n(blue: SR better; * bold: 95 % interval excludes 0;\n"
                     "hatched: class absent)", fontsize=10)
    return fig


def _method(variant_name: str) -> methods.Method:
    """The registered method of a variant name (``sr_x4`` → ``sr``)."""
    return methods.get(variant_name if variant_name == "hr" else variant_name.rsplit("_x", 1)[0])


def fig_dots(rows: list[dict[str, Any]], title: str, hr: dict[str, Any] | None = None) -> Figure:
    """A dot plot of PACC and mIoU (with 95 % intervals) per labelled row, on zoomed axes (bars from 0 would hide
    gaps of a few points), in each method's registry colour; ``hr`` adds the HR reference as a dashed line with
    its band."""
    y = np.arange(len(rows))[::-1]
    with matplotlib.rc_context(STYLE):
        fig = Figure(figsize=(WIDTH, 1.4 + 0.42 * len(rows)), dpi=DPI, layout="constrained")
        axes = fig.subplots(1, 2, sharey=True)
        for ax, key, label in ((axes[0], "pacc", "pixel accuracy (%)"), (axes[1], "miou", "mean IoU (%)")):
            if hr is not None:
                ax.axvline(hr[key] * 100, color=HR, ls="--", lw=1.2, label="HR images, HR-trained PSPNet")
                if hr.get(f"{key}_ci95"):
                    ax.axvspan(*(x * 100 for x in hr[f"{key}_ci95"]), color=HR, alpha=0.08, lw=0)
            for k, r in enumerate(rows):
                v = r[key] * 100
                lo = v if r[f"{key}_lo"] is None else r[f"{key}_lo"] * 100
                hi = v if r[f"{key}_hi"] is None else r[f"{key}_hi"] * 100
                color = _method(r["variant"]).colour
                ax.errorbar([v], [y[k]], xerr=[[v - lo], [hi - v]], fmt="D" if r.get("upper_bound") else "o",
                            mfc="white" if r.get("upper_bound") else color, color=color, capsize=3.5,
                            elinewidth=1.3, markersize=6)
                ax.annotate(f"{v:.1f}", (hi, y[k]), textcoords="offset points", xytext=(5, 0), va="center",
                            fontsize=8.5, color=color)
            ax.set_xlabel(label)
            ax.margins(x=0.18, y=0.12)
            ax.grid(axis="y", visible=False)
        axes[0].set_yticks(y, [r["label"] for r in rows], fontsize=8.5)
        axes[0].set_title("Pixel accuracy (PACC)")
        axes[1].set_title("Mean IoU")
        if hr is not None:
            fig.legend(*axes[0].get_legend_handles_labels(), loc="outside lower center", frameon=False)
        fig.suptitle(title, fontweight="bold")
    return fig


def fig_retrain(rows: list[dict[str, Any]]) -> Figure | None:
    """Book §18 (and its control): the HR-trained PSPNet on HR, SR and bicubic val, and the PSPNets retrained on
    SR or bicubic images, with 95 % intervals."""
    if not rows:
        return None
    return fig_dots(rows, "Retraining PSPNet on degraded images (book §18); bars: 95 % intervals")


def fig_methods(rows: list[dict[str, Any]], summary: dict[str, Any]) -> Figure | None:
    """Research tasks 2–4: every way of combining SR and segmentation at a combination scale, ranked by the
    combined score (open diamonds: upper bounds), with the HR reference."""
    if not rows:
        return None
    scales = sorted({r["scale"] for r in rows})
    labelled = [{**r, "label": (f"{int(r['rank'])}. " if r["rank"] is not None else "bound: ") + r["label"]}
                for r in rows]
    title = ("Combining SR and segmentation at " + ", ".join(f"×{s}" for s in scales)
             + " (ranked by the combined score; bars: 95 % intervals)")
    return fig_dots(labelled, title, hr=summary["variants"]["hr"])


def fig_tradeoff(rows: list[dict[str, Any]]) -> Figure | None:
    """The trade-off the study worries about: Y-PSNR of the images a method's segmenter sees against its mIoU,
    every method with an image, 95 % intervals on both axes."""
    rows = [r for r in rows if r["psnr"] is not None and r["own_image"]]
    if not rows:
        return None
    with matplotlib.rc_context(STYLE):
        fig = Figure(figsize=(WIDTH, 4.4), dpi=DPI, layout="constrained")
        ax = fig.subplots()
        for r in rows:
            m = _method(r["variant"])
            color = m.colour
            x, y = r["psnr"], r["miou"] * 100
            xerr = [[x - (r["psnr_lo"] or x)], [(r["psnr_hi"] or x) - x]]
            yerr = [[y - (r["miou_lo"] or r["miou"]) * 100], [(r["miou_hi"] or r["miou"]) * 100 - y]]
            ax.errorbar([x], [y], xerr=xerr, yerr=yerr, fmt="D" if r["upper_bound"] else m.marker, color=color,
                        mfc="white" if r["upper_bound"] else color, capsize=3, elinewidth=1.1, markersize=7,
                        label=f"{r['label']}" + (" (upper bound)" if r["upper_bound"] and "upper" not in r["label"]
                                                  else ""))
        ax.set_xlabel("Y-PSNR of the images the segmenter sees (dB)")
        ax.set_ylabel("mean IoU (%)")
        ax.legend(loc="best", fontsize=7.5, frameon=True, framealpha=0.85)
        ax.set_title("SR quality against segmentation: the trade-off (bars: 95 % intervals)", fontweight="bold")
    return fig


def fig_class_psnr(rows: list[dict[str, Any]]) -> Figure | None:
    """Research task 3: per ground-truth class region, the Y-PSNR change of the combination methods against their
    baseline (the plain fine-tune), with 95 % bootstrap intervals; the oracle is an upper bound."""
    rows = [r for r in rows if r["delta_db"] is not None and r["baseline"].startswith("ft_sr_")]
    if not rows:
        return None
    groups = list(dict.fromkeys((r["variant"], r["label"]) for r in rows))
    classes = [c for c in TRAIN_NAMES if any(r["class"] == c for r in rows)]
    y = np.arange(len(classes))[::-1]
    h = 0.8 / len(groups)
    with matplotlib.rc_context(STYLE):
        fig = Figure(figsize=(WIDTH, 1.6 + 0.3 * len(classes)), dpi=DPI, layout="constrained")
        ax = fig.subplots()
        for g, (variant_name, label) in enumerate(groups):
            idx = {r["class"]: r for r in rows if r["variant"] == variant_name}
            pos = y + (len(groups) / 2 - g - 0.5) * h
            for c, py in zip(classes, pos):
                r = idx.get(c)
                if r is None:
                    continue
                lo, hi = r["delta_lo"], r["delta_hi"]
                m = _method(variant_name)
                ax.errorbar([r["delta_db"]], [py], xerr=[[r["delta_db"] - lo], [hi - r["delta_db"]]],
                            fmt="D" if m.upper_bound else "o", mfc="white" if m.upper_bound else m.colour,
                            color=m.colour, capsize=2.5, elinewidth=1.1, markersize=4.5,
                            label=label if c == next(iter(idx)) else None)
        ax.axvline(0, color="black", lw=0.9)
        ax.set_yticks(y, classes)
        ax.set_xlabel("Y-PSNR change over the class's pixels, against the plain SR fine-tune (dB)")
        ax.grid(axis="y", visible=False)
        ax.legend(loc="best", fontsize=8)
        ax.set_title("Segmentation-assisted SR: PSNR change per class region (bars: 95 % intervals)",
                     fontweight="bold", fontsize=10.5)
    return fig


def best_combination(method_rows: list[dict[str, Any]]) -> dict[int, dict[str, Any]]:
    """{scale: methods.csv row} of the combination method ranked first by the combined score (upper bounds,
    which use ground truth, are never ranked)."""
    return {r["scale"]: r for r in method_rows if r["rank"] == 1 and not r["upper_bound"]}


def fig_pedestrians(rows: list[dict[str, Any]], scales: Sequence[int],
                    best: dict[int, dict[str, Any]] | None = None) -> Figure | None:
    """Research task 5: pedestrian recall (person + rider instances found by a segment of IoU ≥ 0.5) against
    the downscaling factor, for bicubic and SR input and, at each combination scale, the best combination
    method (``best``, by the combined score, not by this recall), with HR as reference; overall and per
    instance size (HR pixel area): the small-object story. Bars and band: 95 % intervals. None without
    instance ground truth."""
    if not rows:
        return None
    sizes = list(dict.fromkeys(r["size"] for r in rows))
    idx = {(r["variant"], r["size"]): r for r in rows}
    off = 0.05 * max(1, (max(scales) - min(scales)) / max(1, len(scales) - 1))
    with matplotlib.rc_context(STYLE):
        fig = Figure(figsize=(WIDTH, 2.6 + 2.0 * ((len(sizes) + 2) // 3)), dpi=DPI, layout="constrained")
        axes = np.atleast_1d(fig.subplots((len(sizes) + 2) // 3, min(3, len(sizes)), sharey=True)).ravel()
        for ax, size in zip(axes, sizes):
            hr = idx.get(("hr", size))
            if hr and hr["recall"] is not None:
                ax.axhline(hr["recall"] * 100, color=HR, ls="--", lw=1.2, label="HR (no downscaling)")
                if hr["recall_lo"] is not None:
                    ax.axhspan(hr["recall_lo"] * 100, hr["recall_hi"] * 100, color=HR, alpha=0.08, lw=0)
            for k, (method, color, fmt, label) in enumerate((("bicubic", BICUBIC, "o-", "bicubic LR"),
                                                             ("sr", SR, "s-", "SR (DCSCN)"))):
                pts = [idx.get((f"{method}_x{s}", size)) for s in scales]
                series = [{"v": p["recall"] if p else None, "v_lo": p["recall_lo"] if p else None,
                           "v_hi": p["recall_hi"] if p else None} for p in pts]
                _errorbar(ax, [s + (2 * k - 1) * off for s in scales], series, "v", 100, fmt=fmt, color=color,
                          label=label)
            for s, b in sorted((best or {}).items()):
                p = idx.get((b["variant"], size))
                if p is None or p["recall"] is None:
                    continue
                m = _method(b["variant"])
                _errorbar(ax, [s + 3 * off], [{"v": p["recall"], "v_lo": p["recall_lo"], "v_hi": p["recall_hi"]}],
                          "v", 100, fmt=m.marker, color=m.colour, label=f"best combination: {b['label']}")
            ax.set_title("all pedestrians" if size == "all" else f"instances of {size} px", fontsize=10)
            _scale_axis(ax, scales)
            ax.set_ylim(-3, 103)
        for ax in axes[len(sizes):]:
            ax.set_axis_off()
        axes[0].set_ylabel("pedestrian recall (%)")
        fig.legend(*axes[0].get_legend_handles_labels(), loc="outside lower center", ncol=3, frameon=False)
        fig.suptitle("Can a car still find the pedestrians? Recall of person + rider instances (bars: 95 % intervals)",
                     fontweight="bold", fontsize=10.5)
    return fig


# --------------------------------------------------------------------------------------------- Table 4


def small_object_crop(
    train_ids: np.ndarray, side: int, classes: Sequence[str] = SMALL_CLASSES
) -> tuple[int, int, int, int]:
    """The ``side``×``side`` window (y0, x0, h, w) with the most small-class pixels in a trainId map.

    Without small-class pixels it takes the window with the most class boundaries (the busiest part).
    """
    h, w = train_ids.shape
    ch, cw = min(side, h), min(side, w)
    ids = [TRAIN_NAMES.index(c) for c in classes]
    mask = np.isin(train_ids, ids)
    if not mask.any():
        mask = np.zeros_like(mask)
        mask[:, 1:] |= train_ids[:, 1:] != train_ids[:, :-1]
        mask[1:, :] |= train_ids[1:, :] != train_ids[:-1, :]
    integral = np.pad(mask.astype(np.int64).cumsum(0).cumsum(1), ((1, 0), (1, 0)))
    counts = integral[ch:, cw:] - integral[:-ch, cw:] - integral[ch:, :-cw] + integral[:-ch, :-cw]
    if counts.max() == 0:
        return (h - ch) // 2, (w - cw) // 2, ch, cw
    # Equally good windows usually hold the same objects: take the one that centres them.
    best = np.argwhere(counts == counts.max())
    y0, x0 = best[0]
    ys, xs_ = np.nonzero(mask[y0: y0 + ch, x0: x0 + cw])
    target = np.array([y0 + ys.mean() - ch / 2, x0 + xs_.mean() - cw / 2])
    y0, x0 = best[np.argmin(((best - target) ** 2).sum(1))]
    return int(y0), int(x0), ch, cw


def _prediction(sample: Sample, paths: Paths, variant: str, seed: int, ref: np.ndarray) -> np.ndarray:
    path = sample.prediction(paths.predictions(variant, seed))
    pred = ID_TO_TRAIN[read_label(path)]
    check_same_size(ref, pred, path)
    return pred


def _pacc(pred: np.ndarray, gt: np.ndarray) -> float:
    valid = gt != IGNORE
    return float((pred[valid] == gt[valid]).mean()) if valid.any() else float("nan")


def table4_sample(raw: Path, index: int) -> Sample:
    """The ``index``-th image of the sorted val list (``plots.table4_image``)."""
    samples = list_samples(raw, "val")
    if index >= len(samples):
        raise SrsegError(f"params.yaml: plots.table4_image: must be < {len(samples)}, the number of val images "
                         f"(got {index})")
    return samples[index]


def fig_table4(scales: Sequence[int], paths: Paths, seed: int, index: int = 0, crop: int | None = None) -> Figure:
    """Table 4: one val image, HR and bicubic/SR at every scale, image and segmentation, zoomed on small objects."""
    sample = table4_sample(paths.raw, index)
    hr = read_image(sample.image(paths.raw))
    gt_path = sample.label_train_ids(paths.raw)
    gt = read_label(gt_path)
    check_same_size(hr, gt, gt_path)
    columns: list[tuple[str, np.ndarray, np.ndarray]] = [("HR", hr, _prediction(sample, paths, "hr", seed, hr))]
    for s in scales:
        for kind, root in (("bicubic", paths.bicubic(s)), ("SR", paths.sr(s, seed))):
            path = sample.image(root)
            img = read_image(path)
            check_same_size(hr, img, path)
            columns.append((f"{kind}\n{xs(s)}", img, _prediction(sample, paths, f"{kind.lower()}_x{s}", seed, hr)))

    h, w = gt.shape
    y0, x0, ch, cw = small_object_crop(gt, crop or max(16, min(h // 3, TABLE4_MAX_CROP)))
    win = (slice(y0, y0 + ch), slice(x0, x0 + cw))
    present = set(np.unique(gt[win]).tolist())
    for _, _, pred in columns:
        present |= set(np.unique(pred[win]).tolist())
    present.discard(IGNORE)
    legend_cols = 7
    legend_h = 0.2 + 0.2 * -(-len(present) // legend_cols)

    # Manual layout (inches, from the top): constrained layout shrinks small image grids unpredictably.
    ncol = len(columns) + 1  # first column: the ground-truth crop
    left, right, gap, gt_gap = 0.3, 0.05, 0.06, 0.16
    cell_w = (WIDTH - left - right - (ncol - 2) * gap - gt_gap) / ncol
    cell_h = cell_w * ch / cw
    over_w = (WIDTH - left - right - 0.15) / 2
    over_h = over_w * h / w
    rows_in = [0.42, 0.25, over_h, 0.12, 0.25, 0.42, cell_h, 0.08, cell_h, 0.42, legend_h]
    height = sum(rows_in)
    tops = np.cumsum([0.0, *rows_in])  # top edge of each band

    def add_axes(x: float, band: int, wd: float, ht: float) -> Any:
        return fig.add_axes((x / WIDTH, 1 - (tops[band] + ht) / height, wd / WIDTH, ht / height))

    with matplotlib.rc_context(STYLE | {"axes.grid": False, "axes.spines.top": True, "axes.spines.right": True}):
        fig = Figure(figsize=(WIDTH, height), dpi=TABLE4_DPI)
        # Upscaled crops show their pixels; crops larger than their cell are filtered rather than aliased.
        interp = "nearest" if cw <= cell_w * TABLE4_DPI else "antialiased"
        fig.text(0.5, 1 - 0.2 / height, "Table 4 — example val image, bicubic vs SR at each downscaling factor",
                 ha="center", va="center", fontsize=11.5, fontweight="bold")
        overview = ((hr, f"HR image (val #{index}: {sample.id})"), (colorize(gt), "ground truth"))
        for k, (arr, title) in enumerate(overview):
            ax = add_axes(left + k * (over_w + 0.15), 2, over_w, over_h)
            ax.imshow(arr, interpolation="antialiased", aspect="auto")
            ax.add_patch(Rectangle((x0 - 0.5, y0 - 0.5), cw, ch, fill=False, ec="#FFD700", lw=1.8))
            ax.set_title(title, fontsize=9, pad=3)
            ax.set_axis_off()
        fig.text(0.5, 1 - (tops[4] + 0.12) / height,
                 "zoom on the yellow box (PACC below each segmentation: whole image)", ha="center", va="center",
                 fontsize=9, style="italic")
        for j in range(ncol):
            x = left + j * (cell_w + gap) + (gt_gap - gap if j else 0)
            if j == 0:
                a_seg = add_axes(x, 8, cell_w, cell_h)
                a_seg.imshow(colorize(gt[win]), interpolation="nearest", aspect="auto")
                a_seg.set_title("ground truth", fontsize=8.5, pad=3)
                cells = [a_seg]
            else:
                label, img, pred = columns[j - 1]
                a_img, a_seg = add_axes(x, 6, cell_w, cell_h), add_axes(x, 8, cell_w, cell_h)
                a_img.imshow(img[win], interpolation=interp, aspect="auto")
                a_seg.imshow(colorize(pred[win]), interpolation="nearest", aspect="auto")
                a_img.set_title(label, fontsize=9.5, pad=3, color=SR if label.startswith("SR") else "black")
                a_seg.set_xlabel(f"PACC\n{_pacc(pred, gt) * 100:.1f} %", fontsize=8.5, labelpad=2)
                cells = [a_img, a_seg]
            for a in cells:
                a.set_xticks([])
                a.set_yticks([])
        for band, text in ((6, "image"), (8, "segmentation")):
            fig.text(0.55 * left / WIDTH, 1 - (tops[band] + cell_h / 2) / height, text, rotation=90,
                     ha="center", va="center", fontsize=9.5)
        handles = [Patch(fc=TRAIN_PALETTE[t] / 255, ec="0.5", lw=0.5, label=TRAIN_NAMES[t]) for t in sorted(present)]
        fig.legend(handles=handles, loc="center", bbox_to_anchor=(0.5, legend_h / 2 / height),
                   ncol=min(len(handles), legend_cols) or 1, fontsize=8, frameon=False, handlelength=1.2,
                   columnspacing=1.0)
    return fig


# ------------------------------------------------------------------------------------------- the stage


def make_figures(out_dir: Path, summary: dict[str, Any], params: Params, paths: Paths) -> dict[str, Path]:
    """Draw every figure into ``out_dir``; return {figure key: path} (``retrain`` only with retrain scales)."""
    scales, seed = params.scales, params.seeds[0]
    rows = read_csv(paths.series / SCALES_CSV)
    by_scale = {r["scale"]: r for r in rows}
    stale = [s for s in scales if s not in by_scale]
    if stale:
        raise SrsegError(f"{paths.series / SCALES_CSV}: no rows for scales {stale} (re-run the summarize stage)")
    missing = [f"sr_x{s}" for s in scales if f"sr_x{s}" not in summary["variants"]]
    missing += [f"retrain_sr_x{s}" for s in params.seg.retrain_scales
                if f"retrain_sr_x{s}" not in summary["variants"]]
    if missing:
        raise SrsegError(f"{paths.summary}: no entries {missing} (re-run the summarize stage)")
    rows = [by_scale[s] for s in scales]
    method_rows = read_csv(paths.series / METHODS_CSV)
    figures: dict[str, Figure | None] = {
        "psnr": fig_psnr(rows),
        "pacc": fig_pacc(rows),
        "gain": fig_gain(rows),
        "class_iou": fig_class_iou_delta(read_csv(paths.series / CLASS_IOU_CSV), scales),
        "retrain": fig_retrain(read_csv(paths.series / RETRAIN_CSV)),
        "pedestrians": fig_pedestrians(read_csv(paths.series / OBJECTS_CSV), scales, best_combination(method_rows)),
        "methods": fig_methods(method_rows, summary),
        "tradeoff": fig_tradeoff(method_rows),
        "class_psnr": fig_class_psnr(read_csv(paths.series / CLASS_PSNR_CSV)),
        "table4": fig_table4(scales, paths, seed, params.plots.table4_image, params.plots.table4_crop),
    }
    return {k: _save(f, out_dir / FIGURE_NAMES[k]) for k, f in figures.items() if f is not None}


def run(params: Params, paths: Paths) -> dict[str, Path]:
    """The plots stage: figures into ``paths.figures`` (atomically), then the report."""
    from srseg.results.report import write_report

    summary = read_metrics(paths.summary, "summarize")
    with atomic_dir(paths.figures) as tmp:
        tmp.chmod(0o755)  # mkdtemp makes it private; this folder is committed and read by everyone
        made = make_figures(tmp, summary, params, paths)
    figures = {k: paths.figures / p.name for k, p in made.items()}
    write_report(paths.report, summary, params, figures, read_csv(paths.series / CLASS_IOU_CSV))
    return figures
