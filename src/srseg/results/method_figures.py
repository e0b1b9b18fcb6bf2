"""The figures of the compared methods, one entry per variant in its registry colour: the retraining study (book
§18), the combination methods ranked by the combined score, the Y-PSNR / mIoU trade-off and the Y-PSNR change per
class region, from the CSV series (:mod:`srseg.results.series`); the summary says which method each row is."""

from __future__ import annotations

from typing import Any

import matplotlib
import numpy as np
from matplotlib.figure import Figure

from srseg.labels import TRAIN_NAMES
from srseg.methods import registry as methods
from srseg.results.figure_style import DPI, STYLE, WIDTH, bar_lengths
from srseg.results.schema import Summary, VariantResult


def fig_dots(rows: list[dict[str, Any]], title: str, summary: Summary, hr: VariantResult | None = None) -> Figure:
    """A dot plot of PACC and mIoU (with 95 % intervals) per labelled row, on zoomed axes (bars from 0 would hide
    gaps of a few points), in each method's registry colour (``summary`` names each row's method); ``hr`` adds the
    HR reference as a dashed line with its band."""
    y = np.arange(len(rows))[::-1]
    with matplotlib.rc_context(STYLE):
        fig = Figure(figsize=(WIDTH, 1.4 + 0.42 * len(rows)), dpi=DPI, layout="constrained")
        axes = fig.subplots(1, 2, sharey=True)
        for ax, key, label in ((axes[0], "pacc", "pixel accuracy (%)"), (axes[1], "miou", "mean IoU (%)")):
            if hr is not None:
                ax.axvline(hr[key] * 100, color=hr.method.colour, ls="--", lw=1.2,
                           label="HR images, HR-trained PSPNet")
                if hr.get(f"{key}_ci95"):
                    ax.axvspan(*(x * 100 for x in hr[f"{key}_ci95"]), color=hr.method.colour, alpha=0.08, lw=0)
            for k, r in enumerate(rows):
                v = r[key] * 100
                lo = v if r[f"{key}_lo"] is None else r[f"{key}_lo"] * 100
                hi = v if r[f"{key}_hi"] is None else r[f"{key}_hi"] * 100
                color = summary.named(r["variant"]).method.colour
                ax.errorbar([v], [y[k]], xerr=bar_lengths(v, lo, hi), fmt="D" if r.get("upper_bound") else "o",
                            mfc="white" if r.get("upper_bound") else color, color=color, capsize=3.5,
                            elinewidth=1.3, markersize=6)
                # right of the bar's end (the point itself when its interval lies below it)
                ax.annotate(f"{v:.1f}", (max(hi, v), y[k]), textcoords="offset points", xytext=(5, 0),
                            va="center", fontsize=8.5, color=color)
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


def fig_retrain(rows: list[dict[str, Any]], summary: Summary) -> Figure | None:
    """Book §18 (and its control): the HR-trained PSPNet on HR, SR and bicubic val, and the PSPNets retrained on
    SR or bicubic images, with 95 % intervals."""
    if not rows:
        return None
    return fig_dots(rows, "Retraining PSPNet on degraded images (book §18); bars: 95 % intervals", summary)


def fig_methods(rows: list[dict[str, Any]], summary: Summary) -> Figure | None:
    """Research tasks 2–4: every way of combining SR and segmentation at a combination scale, ranked by the
    combined score (open diamonds: upper bounds), with the HR reference."""
    if not rows:
        return None
    scales = sorted({r["scale"] for r in rows})
    labelled = [{**r, "label": (f"{int(r['rank'])}. " if r["rank"] is not None else "bound: ") + r["label"]}
                for r in rows]
    title = ("Combining SR and segmentation at " + ", ".join(f"×{s}" for s in scales)
             + " (ranked by the combined score; bars: 95 % intervals)")
    return fig_dots(labelled, title, summary, hr=summary.variant(methods.HR))


def fig_tradeoff(rows: list[dict[str, Any]], summary: Summary) -> Figure | None:
    """The trade-off the study worries about: Y-PSNR of the images a method's segmenter sees against its mIoU,
    every method with an image, 95 % intervals on both axes."""
    rows = [r for r in rows if r["psnr"] is not None and r["own_image"]]
    if not rows:
        return None
    with matplotlib.rc_context(STYLE):
        fig = Figure(figsize=(WIDTH, 4.4), dpi=DPI, layout="constrained")
        ax = fig.subplots()
        for r in rows:
            m = summary.named(r["variant"]).method
            color = m.colour
            x, y = r["psnr"], r["miou"] * 100
            xerr = bar_lengths(x, x if r["psnr_lo"] is None else r["psnr_lo"],
                               x if r["psnr_hi"] is None else r["psnr_hi"])
            yerr = bar_lengths(y, (r["miou"] if r["miou_lo"] is None else r["miou_lo"]) * 100,
                               (r["miou"] if r["miou_hi"] is None else r["miou_hi"]) * 100)
            ax.errorbar([x], [y], xerr=xerr, yerr=yerr, fmt="D" if r["upper_bound"] else m.marker, color=color,
                        mfc="white" if r["upper_bound"] else color, capsize=3, elinewidth=1.1, markersize=7,
                        label=f"{r['label']}" + (" (upper bound)" if r["upper_bound"] and "upper" not in r["label"]
                                                  else ""))
        ax.set_xlabel("Y-PSNR of the images the segmenter sees (dB)")
        ax.set_ylabel("mean IoU (%)")
        ax.legend(loc="best", fontsize=7.5, frameon=True, framealpha=0.85)
        ax.set_title("SR quality against segmentation: the trade-off (bars: 95 % intervals)", fontweight="bold")
    return fig


def fig_class_psnr(rows: list[dict[str, Any]], summary: Summary) -> Figure | None:
    """Research task 3: per ground-truth class region, the Y-PSNR change of the combination methods against their
    baseline (the plain fine-tune), with 95 % bootstrap intervals; the oracle is an upper bound."""
    controls = {m.baseline for m in methods.METHODS.values() if m.class_regions}  # the class-region methods' baseline
    rows = [r for r in rows if r["delta_db"] is not None and summary.named(r["baseline"]).method.name in controls]
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
            for c, py in zip(classes, pos, strict=True):
                r = idx.get(c)
                if r is None:
                    continue
                m = summary.named(variant_name).method
                ax.errorbar([r["delta_db"]], [py], xerr=bar_lengths(r["delta_db"], r["delta_lo"], r["delta_hi"]),
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
