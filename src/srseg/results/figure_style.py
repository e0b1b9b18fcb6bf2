"""The figures' shared style and helpers: drawn on :class:`matplotlib.figure.Figure` objects with the Agg canvas
(no pyplot state, no display needed), Okabe–Ito colours (each method's registry colour: bicubic orange, SR blue,
HR black), scale factors written ×2/×3/×4, about 800 px wide so they read at README width."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure
from matplotlib.typing import RcKeyType

DPI = 110
WIDTH = 7.5  # inches: 825 px at DPI, about the width of a README column

PACC_C, MIOU_C = "#0072B2", "#009E73"

STYLE: dict[RcKeyType, Any] = {
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


def xs(scale: int) -> str:
    """Scale factor label: ``4`` → ``"×4"``."""
    return f"×{scale}"


def signed(v: float, digits: int = 1) -> str:
    """``+1.2`` / ``−0.3`` with a real minus sign."""
    return f"{v:+.{digits}f}".replace("-", "−")


def scale_axis(ax: Any, scales: Sequence[int]) -> None:
    ax.set_xticks(list(scales), [xs(s) for s in scales])
    ax.set_xlabel("downscaling factor")
    pad = 0.3 * max(1, (max(scales) - min(scales)) / max(1, len(scales) - 1))
    ax.set_xlim(min(scales) - pad, max(scales) + pad)
    ax.grid(axis="x", visible=False)


def save(fig: Figure, path: Path) -> Path:
    # No "Software" metadata: the PNG bytes then depend only on the data, which keeps git diffs honest.
    fig.savefig(path, dpi=fig.dpi, metadata={"Software": None}, bbox_inches="tight", pad_inches=0.08)
    return path


def col(rows: list[dict[str, Any]], key: str, factor: float = 1.0) -> list[float]:
    """A column as floats (None → NaN, so lines break at gaps instead of lying)."""
    return [np.nan if r[key] is None else r[key] * factor for r in rows]


def bar_lengths(point: Any, lo: Any, hi: Any) -> np.ndarray:
    """The ``xerr``/``yerr`` of points with their interval: a ``(2, n)`` array of the lengths below and above each
    point (scalars give ``(2, 1)``), each clipped at 0. A percentile bootstrap interval can exclude its own point
    estimate (a skewed resample distribution), and matplotlib rejects negative lengths; such a point is drawn
    outside its interval, its bar running from the interval's far end to the point. NaN stays NaN."""
    point = np.asarray(point, np.float64)
    below = np.maximum(point - np.asarray(lo, np.float64), 0.0)
    above = np.maximum(np.asarray(hi, np.float64) - point, 0.0)
    return np.vstack([below, above])


def errorbar(ax: Any, xs_: Sequence[float], rows: list[dict[str, Any]], key: str, factor: float, **kw: Any) -> None:
    """Points with their 95 % interval (columns ``{key}``, ``{key}_lo``, ``{key}_hi``) as error bars."""
    y = np.array(col(rows, key, factor))
    lo, hi = np.array(col(rows, f"{key}_lo", factor)), np.array(col(rows, f"{key}_hi", factor))
    ax.errorbar(xs_, y, yerr=bar_lengths(y, lo, hi), capsize=3.5, elinewidth=1.2, **kw)
