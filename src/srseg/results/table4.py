"""Table 4 of the 2019 study as a figure: one val image, HR and bicubic/SR at every scale, image and segmentation,
zoomed on the window with the most small-object pixels."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib
import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Patch, Rectangle

from srseg.errors import SrsegError
from srseg.io import check_same_size, read_image, read_label
from srseg.labels import ID_TO_TRAIN, IGNORE, TRAIN_NAMES, TRAIN_PALETTE, colorize
from srseg.layout import Sample, list_samples
from srseg.methods import registry as methods
from srseg.paths import Paths
from srseg.results.figure_style import STYLE, WIDTH, xs
from srseg.results.schema import short_label

TABLE4_DPI = 140
TABLE4_MAX_CROP = 160  # default zoom side (HR px): a third of the height, but no more than about a cell's pixels
SMALL_CLASSES = ("pole", "traffic light", "traffic sign", "person", "rider", "motorcycle", "bicycle")


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
    # (title, its colour, image, prediction) per column: the HR reference, then bicubic and SR at every scale
    columns: list[tuple[str, str, np.ndarray, np.ndarray]] = [
        (short_label(methods.HR), "black", hr, _prediction(sample, paths, methods.HR.variant(None), seed, hr))]
    for s in scales:
        for m in (methods.BICUBIC, methods.SR):
            path = sample.image(m.image_root(paths, s, seed))
            img = read_image(path)
            check_same_size(hr, img, path)
            columns.append((f"{short_label(m)}\n{xs(s)}", m.colour if m is methods.SR else "black", img,
                            _prediction(sample, paths, m.variant(s), seed, hr)))

    h, w = gt.shape
    y0, x0, ch, cw = small_object_crop(gt, crop or max(16, min(h // 3, TABLE4_MAX_CROP)))
    win = (slice(y0, y0 + ch), slice(x0, x0 + cw))
    present = set(np.unique(gt[win]).tolist())
    for *_, pred in columns:
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
                label, colour, img, pred = columns[j - 1]
                a_img, a_seg = add_axes(x, 6, cell_w, cell_h), add_axes(x, 8, cell_w, cell_h)
                a_img.imshow(img[win], interpolation=interp, aspect="auto")
                a_seg.imshow(colorize(pred[win]), interpolation="nearest", aspect="auto")
                a_img.set_title(label, fontsize=9.5, pad=3, color=colour)
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
