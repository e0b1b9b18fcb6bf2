"""Segmentation scores from a confusion matrix, with the Cityscapes conventions.

The confusion matrix ``cm[gt, pred]`` is over the 19 trainIds; ground-truth pixels with trainId
255 (Cityscapes classes that are ``ignoreInEval``) are left out. Predictions of 255 on a labelled
pixel count as a miss of the ground-truth class (a false negative, nobody's false positive), as
in cityscapesscripts, where such a prediction is an ignored labelId.

* ``pacc`` — Σ correct / Σ labelled pixels over the whole split.
* ``iou[c]`` — TP / (TP + FP + FN). As in ``evalPixelLevelSemanticLabeling.getIouScoreForLabel``
  it is NaN (``None`` in JSON) only when the denominator is 0, i.e. the class is absent from both
  the ground truth and the prediction; a class absent from the ground truth but predicted scores 0.
* ``miou`` — mean of the non-NaN IoUs (``getScoreAverage``).
* ``macc`` — mean over classes present in the ground truth of TP / (TP + FN).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from srseg.errors import ImageError
from srseg.labels import IGNORE, NUM_CLASSES, TRAIN_NAMES


def confusion_matrix(gt: np.ndarray, pred: np.ndarray, num_classes: int = NUM_CLASSES) -> np.ndarray:
    """``(num_classes, num_classes + 1)`` int64 counts; the last column is predictions outside 0..C-1.

    ``gt`` and ``pred`` are trainId arrays of the same shape; gt pixels not in 0..C-1 are ignored.
    """
    gt = np.asarray(gt).ravel().astype(np.int64)
    pred = np.asarray(pred).ravel().astype(np.int64)
    if gt.shape != pred.shape:
        raise ValueError(f"size mismatch: {gt.shape} vs {pred.shape}")
    keep = (gt >= 0) & (gt < num_classes)
    gt, pred = gt[keep], pred[keep]
    pred = np.where((pred >= 0) & (pred < num_classes), pred, num_classes)
    counts = np.bincount(gt * (num_classes + 1) + pred, minlength=num_classes * (num_classes + 1))
    return counts.reshape(num_classes, num_classes + 1)


def scores(cm: np.ndarray, names: list[str] | None = None) -> dict[str, Any]:
    """``{"pacc", "miou", "macc", "iou": {name: float | None}}`` from a :func:`confusion_matrix`."""
    cm = np.asarray(cm, dtype=np.int64)
    c = cm.shape[0]
    names = names or TRAIN_NAMES[:c]
    tp = np.diag(cm[:, :c]).astype(np.float64)
    gt_total = cm.sum(axis=1).astype(np.float64)  # TP + FN (includes predictions outside the classes)
    pred_total = cm[:, :c].sum(axis=0).astype(np.float64)  # TP + FP over labelled pixels
    denom = gt_total + pred_total - tp
    with np.errstate(invalid="ignore", divide="ignore"):
        iou = np.where(denom > 0, tp / np.maximum(denom, 1), np.nan)
        acc = np.where(gt_total > 0, tp / np.maximum(gt_total, 1), np.nan)
    labelled = gt_total.sum()
    valid_iou = iou[~np.isnan(iou)]
    valid_acc = acc[~np.isnan(acc)]
    return {
        "pacc": float(tp.sum() / labelled) if labelled else math.nan,
        "miou": float(valid_iou.mean()) if valid_iou.size else math.nan,
        "macc": float(valid_acc.mean()) if valid_acc.size else math.nan,
        "iou": {n: (None if math.isnan(v) else float(v)) for n, v in zip(names, iou)},
    }


class SegMeter:
    """Accumulates a confusion matrix image by image; checks sizes and label ids with clear errors."""

    def __init__(self, num_classes: int = NUM_CLASSES):
        self.num_classes = num_classes
        self.cm = np.zeros((num_classes, num_classes + 1), dtype=np.int64)
        self.n_images = 0

    def add(self, gt_train_ids: np.ndarray, pred_train_ids: np.ndarray, name: str = "prediction") -> None:
        if gt_train_ids.shape != pred_train_ids.shape:
            raise ImageError(
                f"{name}: prediction size {pred_train_ids.shape[1]}x{pred_train_ids.shape[0]} does not match "
                f"its ground truth {gt_train_ids.shape[1]}x{gt_train_ids.shape[0]}"
            )
        bad = (gt_train_ids >= self.num_classes) & (gt_train_ids != IGNORE)
        if bad.any():
            raise ImageError(f"{name}: ground-truth trainIds {sorted(set(np.unique(gt_train_ids[bad]).tolist()))[:10]} "
                             f"outside 0..{self.num_classes - 1} and {IGNORE}")
        self.cm += confusion_matrix(gt_train_ids, pred_train_ids, self.num_classes)
        self.n_images += 1

    def result(self) -> dict[str, Any]:
        return {**scores(self.cm), "n_images": self.n_images}
