"""The figures against the downscaling factor: the 2019 study's Graphs 1–3 (Y-PSNR, PACC and mIoU, the gain of SR
over bicubic in percentage points), the per-class IoU change, pedestrian recall and the degradation sweep (the ×3
cliff), from the CSV series (:mod:`srseg.results.series`, :mod:`srseg.results.cliff`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import matplotlib
import numpy as np
from matplotlib.colors import TwoSlopeNorm
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from srseg.labels import TRAIN_NAMES
from srseg.methods import registry as methods
from srseg.results.cliff import factor_label, iou_index, lines
from srseg.results.figure_style import (
    DPI,
    MIOU_C,
    PACC_C,
    STYLE,
    WIDTH,
    bar_lengths,
    col,
    errorbar,
    scale_axis,
    signed,
    xs,
)
from srseg.results.pedestrians import Gate, title_words
from srseg.results.schema import Summary, VariantResult, short_label
from srseg.results.series import column
from srseg.results.wording import enough_digits

HR, BICUBIC, SR = methods.HR, methods.BICUBIC, methods.SR


def fig_psnr(rows: list[dict[str, Any]]) -> Figure:
    """Graph 1: Y-PSNR (dB) of bicubic and SR vs scale, SSIM in a second panel."""
    scales = [r["scale"] for r in rows]
    with matplotlib.rc_context(STYLE):
        fig = Figure(figsize=(WIDTH, 3.6), dpi=DPI, layout="constrained")
        ax1, ax2 = fig.subplots(1, 2)
        for ax, key, label in ((ax1, "psnr", "Y-PSNR (dB)"), (ax2, "ssim", "Y-SSIM")):
            ax.plot(scales, col(rows, column(key, BICUBIC)), BICUBIC.marker + "-", color=BICUBIC.colour,
                    label=short_label(BICUBIC))
            ax.plot(scales, col(rows, column(key, SR)), SR.marker + "-", color=SR.colour, label=SR.label)
            ax.set_ylabel(label)
            scale_axis(ax, scales)
        for r in rows:
            ci = ("" if r["psnr_gain_lo"] is None
                  else f"\n[{signed(r['psnr_gain_lo'], 2)}, {signed(r['psnr_gain_hi'], 2)}]")
            top = max(r[column("psnr", SR)], r[column("psnr", BICUBIC)])
            ax1.annotate(f"{signed(r['psnr_gain_db'], 2)} dB{ci}", (r["scale"], top),
                         textcoords="offset points", xytext=(0, 10), ha="center", fontsize=8.5, color=SR.colour,
                         bbox={"fc": "white", "ec": "none", "pad": 0.5, "alpha": 0.85})
        ax1.margins(y=0.18)
        ax1.set_title("PSNR on the luma channel")
        ax2.set_title("SSIM on the luma channel")
        fig.legend(*ax1.get_legend_handles_labels(), loc="outside lower center", ncol=2, frameon=False)
        fig.suptitle("Graph 1 — super-resolution quality vs downscaling factor", fontweight="bold")
    return fig


def paired_label(row: dict[str, Any], key: str) -> str:
    """The paired difference SR − bicubic of ``key`` at a scale row in pp, ``*`` when its verdict holds, and its 95 %
    interval below: ``+1.40 pp *\n[+0.59, +2.40]`` (``n/a`` when undefined)."""
    v, lo, hi = row[f"{key}_gain_pp"], row[f"{key}_gain_lo"], row[f"{key}_gain_hi"]
    if v is None:
        return "n/a"
    d = enough_digits([v, *(x for x in (lo, hi) if x is not None)])
    ci = "" if lo is None or hi is None else f"\n[{signed(lo, d)}, {signed(hi, d)}]"
    return f"{signed(v, d)} pp" + (" *" if row[f"{key}_gain_clear"] == 1 else "") + ci


def fig_pacc(rows: list[dict[str, Any]]) -> Figure:
    """Graph 2: PACC (%) of the HR-trained PSPNet on bicubic-LR and SR vs scale, HR as reference; mIoU beside.

    Error bars and the band around HR: 95 % bootstrap intervals of each score. Two variants' intervals can overlap
    while their paired difference (the same images on both sides) is clear, so each scale is labelled with the
    paired difference SR − bicubic in pp and its interval, and ``*`` and a bold label where its verdict holds.
    """
    scales = [r["scale"] for r in rows]
    off = 0.04 * max(1, (max(scales) - min(scales)) / max(1, len(scales) - 1))
    with matplotlib.rc_context(STYLE):
        fig = Figure(figsize=(WIDTH, 4.0), dpi=DPI, layout="constrained")
        ax1, ax2 = fig.subplots(1, 2)
        for ax, key, label in ((ax1, "pacc", "pixel accuracy (%)"), (ax2, "miou", "mean IoU (%)")):
            hr = rows[0]
            ref = column(key, HR)
            ax.axhline(hr[ref] * 100, color=HR.colour, ls="--", lw=1.3, label=HR.label)
            if hr[f"{ref}_lo"] is not None:
                ax.axhspan(hr[f"{ref}_lo"] * 100, hr[f"{ref}_hi"] * 100, color=HR.colour, alpha=0.08, lw=0)
            for m, side in ((BICUBIC, -1), (SR, 1)):
                errorbar(ax, [s + side * off for s in scales], rows, column(key, m), 100, fmt=m.marker + "-",
                         color=m.colour, label=m.label)
            for r in rows:  # the paired difference above the higher of the two bars
                tops = [r[c] for m in (BICUBIC, SR) for c in (column(key, m), f"{column(key, m)}_hi")
                        if r[c] is not None]
                clear = r[f"{key}_gain_clear"] == 1
                ax.annotate(paired_label(r, key), (r["scale"], max(tops, default=0) * 100),
                            textcoords="offset points", xytext=(0, 5), ha="center", va="bottom", fontsize=7.5,
                            color=SR.colour, fontweight="bold" if clear else "normal",
                            bbox={"fc": "white", "ec": "none", "pad": 0.5, "alpha": 0.85})
            ax.set_ylabel(label)
            scale_axis(ax, scales)
            ax.margins(y=0.22)
        ax1.set_title("Pixel accuracy (PACC)")
        ax2.set_title("Mean IoU (Cityscapes protocol)")
        fig.legend(*ax1.get_legend_handles_labels(), loc="outside lower center", ncol=3, frameon=False)
        fig.suptitle("Graph 2 — segmentation before and after super-resolution\n(bars: 95 % intervals of each score; "
                     "labels: SR − bicubic, paired, * where the verdict holds)", fontweight="bold", fontsize=10.5)
    return fig


def fig_gain(rows: list[dict[str, Any]]) -> Figure:
    """Graph 3: the gain of SR over bicubic (SR − bicubic, percentage points) for PACC and mIoU per scale, with 95 %
    paired-bootstrap intervals; a bar without a verdict (interval contains 0, or Holm's adjustment within its family
    takes it) is drawn hollow (no measurable difference)."""
    scales = [r["scale"] for r in rows]
    x = np.arange(len(scales))
    w = 0.36
    with matplotlib.rc_context(STYLE):
        fig = Figure(figsize=(WIDTH, 3.6), dpi=DPI, layout="constrained")
        ax = fig.subplots()
        values: list[float] = []
        series = (("pacc_gain", PACC_C, "pixel accuracy"), ("miou_gain", MIOU_C, "mean IoU"))
        for i, (key, color, label) in enumerate(series):
            v = np.array(col(rows, f"{key}_pp"))
            lo, hi = np.array(col(rows, f"{key}_lo")), np.array(col(rows, f"{key}_hi"))
            every = np.concatenate([v, lo, hi])
            values.extend(every[np.isfinite(every)].tolist())
            clear = np.array(col(rows, f"{key}_clear")) == 1
            pos = x + (i - 0.5) * w
            ax.bar(pos, np.nan_to_num(v), w, color=[color if c else "none" for c in clear], edgecolor=color,
                   linewidth=1.4, label=label)
            ax.errorbar(pos, np.nan_to_num(v), yerr=np.nan_to_num(bar_lengths(v, lo, hi)),
                        fmt="none", ecolor="0.25", capsize=3, elinewidth=1)
            for px, val, top, bottom in zip(pos, v, hi, lo, strict=True):
                known = bool(np.isfinite(val))
                below = known and val < 0
                # the far end of the drawn bar (the value itself when its interval does not reach beyond it)
                end = np.fmin(bottom, val) if below else np.fmax(top, val)
                anchor = end if np.isfinite(end) else (val if known else 0.0)
                ax.annotate(f"{signed(val, enough_digits([val]))} pp" if known else "n/a", (px, anchor),
                            textcoords="offset points",
                            xytext=(0, -3 if below else 3), va="top" if below else "bottom", ha="center",
                            fontsize=8.5)
        ax.axhline(0, color="black", lw=0.9)
        lo_, hi_ = min([0.0, *values]), max([0.0, *values])
        span = max(hi_ - lo_, 0.5)
        ax.set_ylim(lo_ - 0.2 * span if lo_ < 0 else -0.05 * span, hi_ + 0.2 * span if hi_ > 0 else 0.05 * span)
        ax.set_xticks(x, [xs(s) for s in scales])
        ax.set_xlabel("downscaling factor")
        ax.set_ylabel("SR − bicubic (percentage points)")
        ax.grid(axis="x", visible=False)
        ax.legend(loc="best", title="filled: the verdict holds (paired)", title_fontsize=8.5)
        ax.set_title("Graph 3 — gain of SR over bicubic in pp (below 0: SR is worse)", fontweight="bold")
    return fig


def fig_class_iou_delta(rows: list[dict[str, Any]], scales: Sequence[int]) -> Figure:
    """Per-class IoU change SR − bicubic (percentage points) as a heat map centred at 0; nulls hatched."""
    idx = {(r["class"], r["scale"]): r for r in rows}

    def cell(c: str, s: int, key: str) -> float:
        v = idx.get((c, s), {}).get(key)
        return np.nan if v is None else v * 100

    grid = np.array([[cell(c, s, "delta") for s in scales] for c in TRAIN_NAMES])
    clear = np.array([[bool(idx.get((c, s), {}).get("clear")) for s in scales] for c in TRAIN_NAMES])
    finite = grid[np.isfinite(grid)]
    lim = max(float(np.abs(finite).max()) if finite.size else 0.0, 0.5)
    with matplotlib.rc_context(STYLE | {"axes.grid": False}):
        fig = Figure(figsize=(min(WIDTH, 3.2 + 0.9 * len(scales)), 6.4), dpi=DPI, layout="constrained")
        ax = fig.subplots()
        cmap = matplotlib.colormaps["RdBu"].with_extremes(bad="white")
        im = ax.imshow(np.ma.masked_invalid(grid), cmap=cmap, norm=TwoSlopeNorm(0.0, -lim, lim), aspect="auto")
        for (i, j), v in np.ndenumerate(grid):
            if np.isfinite(v):
                ax.text(j, i, signed(v) + ("*" if clear[i, j] else ""), ha="center", va="center", fontsize=8,
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
        ax.set_title("Per-class IoU change from SR\n(blue: SR better; * bold: a change after Holm over the classes;\n"
                     "hatched: class absent)", fontsize=10)
    return fig


def fitted_range(values: Sequence[float], least: float = 1.0) -> tuple[float, float]:
    """Axis limits around ``values`` (percentages, none below 0) with a margin of 8 % of their span (at least
    ``least``): recall between 0 and 10 % gets an axis of about −0.5 to 11 %, not 0–100 %."""
    if not values:
        return 0.0, least
    lo, hi = min(values), max(values)
    pad = max(0.08 * (hi - lo), least)
    top = hi + pad
    return max(lo - pad, -0.05 * top), top  # a recall below 0 cannot be: just room for the markers at 0


def best_combination(method_rows: list[dict[str, Any]], summary: Summary) -> dict[int, VariantResult]:
    """{scale: summary entry} of the combination method ranked first by the combined score (``methods.csv``'s
    ``rank``; upper bounds, which use ground truth, are never ranked)."""
    return {r["scale"]: summary.named(r["variant"]) for r in method_rows if r["rank"] == 1 and not r["upper_bound"]}


def fig_pedestrians(rows: list[dict[str, Any]], scales: Sequence[int],
                    best: dict[int, VariantResult] | None = None, gate: Gate | None = None) -> Figure | None:
    """Research task 5: pedestrian recall (person + rider instances found by a segment of IoU ≥ 0.5) and precision
    (segments that match one) against the downscaling factor, for bicubic and SR input and, at each combination
    scale, the best combination method (``best``, by the combined score, not by this measure), with HR as
    reference; a row of panels per measure, a column for all pedestrians and one per height bin (HR bounding-box
    height in pixels): the small-object story. Bars and band: 95 % intervals; each panel's y-axis is fitted to the
    values it shows (:func:`fitted_range`). The title gives the gate (:mod:`srseg.results.pedestrians`) and says
    "uninformative" where it fails. None without instance ground truth."""
    if not rows:
        return None
    measures = [m for m in ("recall", "precision") if any(r["measure"] == m for r in rows)]
    heights = list(dict.fromkeys(r["height"] for r in rows if r["height"] != "reasonable"))
    idx = {(r["variant"], r["measure"], r["height"]): r for r in rows}
    drawn: list[float] = []  # every value and interval end a panel shows, in %, for an axis fitted to them

    def shown(*points: dict[str, Any] | None) -> None:
        drawn.extend(p[k] * 100 for p in points if p for k in ("value", "value_lo", "value_hi") if p[k] is not None)

    def series(p: dict[str, Any] | None) -> dict[str, Any]:
        return {"v": p and p["value"], "v_lo": p and p["value_lo"], "v_hi": p and p["value_hi"]}

    off = 0.05 * max(1, (max(scales) - min(scales)) / max(1, len(scales) - 1))
    with matplotlib.rc_context(STYLE):
        fig = Figure(figsize=(WIDTH, 1.4 + 2.3 * len(measures)), dpi=DPI, layout="constrained")
        axes = fig.subplots(len(measures), len(heights), squeeze=False)
        for i, measure in enumerate(measures):
            for j, height in enumerate(heights):
                ax = axes[i, j]
                drawn.clear()
                hr = idx.get((HR.variant(None), measure, height))
                shown(hr)
                if hr and hr["value"] is not None:
                    ax.axhline(hr["value"] * 100, color=HR.colour, ls="--", lw=1.2, label=HR.label)
                    if hr["value_lo"] is not None:
                        ax.axhspan(hr["value_lo"] * 100, hr["value_hi"] * 100, color=HR.colour, alpha=0.08, lw=0)
                for k, m in enumerate((BICUBIC, SR)):
                    pts = [idx.get((m.variant(s), measure, height)) for s in scales]
                    shown(*pts)
                    errorbar(ax, [s + (2 * k - 1) * off for s in scales], [series(p) for p in pts], "v", 100,
                             fmt=m.marker + "-", color=m.colour, label=m.label)
                for s, b in sorted((best or {}).items()):
                    p = idx.get((b.name, measure, height))
                    if p is None or p["value"] is None:
                        continue
                    shown(p)
                    errorbar(ax, [s + 3 * off], [series(p)], "v", 100, fmt=b.method.marker, color=b.method.colour,
                             label=f"best combination: {b.label}")
                if i == 0:
                    ax.set_title("all pedestrians" if height == "all" else f"{height} px high", fontsize=10)
                if j == 0:
                    ax.set_ylabel(f"{measure} (%)")
                scale_axis(ax, scales)
                if i < len(measures) - 1:
                    ax.set_xlabel("")
                ax.set_ylim(*fitted_range(drawn))
        fig.legend(*axes[0, 0].get_legend_handles_labels(), loc="outside lower center", ncol=4, frameon=False)
        title = ("Can a car still find the pedestrians? Person + rider instances by HR height "
                 "(bars: 95 % intervals)")
        if gate is not None:
            words = title_words(gate)
            title += f"\n{words[0].upper()}{words[1:]}"
        fig.suptitle(title, fontweight="bold", fontsize=10.5, color="black" if gate is None or gate.informative
                     else "#B22222")
    return fig


def fig_cliff(points: list[dict[str, Any]], class_rows: list[dict[str, Any]], focus: Sequence[str]) -> Figure:
    """The degradation sweep (issue 29.5, the ×3 cliff): mIoU, PACC and the IoU of the ``focus`` classes (those that
    cross a blur threshold) against the degradation factor (1: HR images), a line per segmenter and input
    (:func:`srseg.results.cliff.lines`: the HR-trained PSPNet on bicubic and SR input, the blur-augmented one on
    both), HR's score as the dashed reference with its band; bars: 95 % intervals. SR has points only where a
    DCSCN exists (the sweep's integer factors that are ``scales``)."""
    factors = [float(r["factor"]) for r in points]
    by_factor = {float(r["factor"]): r for r in points}
    idx = iou_index(class_rows)
    all_lines = lines()
    panels = [("miou", "mean IoU"), ("pacc", "pixel accuracy")] + [(c, f"IoU of {c}") for c in focus]
    ncols = min(3, len(panels))
    nrows = -(-len(panels) // ncols)
    span = max(factors) - min(factors)
    off = 0.012 * max(span, 1)
    with matplotlib.rc_context(STYLE):
        fig = Figure(figsize=(WIDTH, 0.6 + 2.7 * nrows), dpi=DPI, layout="constrained")
        axes = np.atleast_1d(fig.subplots(nrows, ncols, squeeze=False)).ravel()
        for ax, (metric, title) in zip(axes, panels, strict=False):

            def value(key: str, f: float, metric: str = metric) -> tuple[float | None, float | None, float | None]:
                if metric in ("miou", "pacc"):
                    r = by_factor.get(f, {})
                    return r.get(f"{metric}_{key}"), r.get(f"{metric}_{key}_lo"), r.get(f"{metric}_{key}_hi")
                c = idx.get((key, f, metric))
                return (None, None, None) if c is None else (c["iou"], c["iou_lo"], c["iou_hi"])

            ref, ref_lo, ref_hi = value(all_lines[0].key, 1.0)
            drawn = [100 * x for x in (ref, ref_lo, ref_hi) if x is not None]
            if ref is not None:
                ax.axhline(ref * 100, color=HR.colour, ls="--", lw=1.2, label="HR-trained PSPNet on HR images")
                if ref_lo is not None and ref_hi is not None:
                    ax.axhspan(ref_lo * 100, ref_hi * 100, color=HR.colour, alpha=0.08, lw=0)
            for i, ln in enumerate(all_lines):
                pts = [(f, *value(ln.key, f)) for f in factors]
                pts = [p for p in pts if p[1] is not None]
                if not pts:
                    continue
                shift = (i - (len(all_lines) - 1) / 2) * off
                rows = [{"v": v, "v_lo": lo, "v_hi": hi} for _, v, lo, hi in pts]
                drawn += [100 * x for _, *vals in pts for x in vals if x is not None]
                errorbar(ax, [f + shift for f, *_ in pts], rows, "v", 100, fmt=ln.marker + ("--" if ln.dashed else "-"),
                         color=ln.colour, label=ln.label, mfc="white" if ln.dashed else ln.colour, lw=1.6)
            ax.set_title(title, fontsize=10)
            ax.set_xticks(factors, [factor_label(f).removeprefix("×") for f in factors], fontsize=8.5)
            ax.set_xlim(min(factors) - 0.25, max(factors) + 0.25)
            ax.grid(axis="x", visible=False)
            ax.set_ylim(*fitted_range(drawn))  # each panel's own range: a few pp of change stay visible
        for ax in axes[len(panels):]:
            ax.set_axis_off()
        for ax in axes[::ncols]:
            ax.set_ylabel("%")
        for ax in axes[max(0, len(panels) - ncols):len(panels)]:
            ax.set_xlabel("degradation factor (×)")
        handles, labels = axes[0].get_legend_handles_labels()
        fig.legend(handles, labels, loc="outside lower center", ncol=2, frameon=False)
        fig.suptitle("The ×3 cliff — segmentation against the degradation factor (bars: 95 % intervals)",
                     fontweight="bold", fontsize=10.5)
    return fig
