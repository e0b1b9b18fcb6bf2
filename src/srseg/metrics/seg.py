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
import zipfile
import zlib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from srseg.errors import ImageError, SrsegError
from srseg.io import atomic_file
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
    names = names or TRAIN_NAMES[:cm.shape[0]]
    iou, acc, pacc = _class_scores(cm)
    return {
        "pacc": float(pacc),
        "miou": float(_mean_defined(iou)),
        "macc": float(_mean_defined(acc)),
        "iou": {n: (None if math.isnan(v) else float(v)) for n, v in zip(names, iou, strict=True)},
    }


def pacc_miou(cms: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """PACC and mIoU of a confusion matrix or of a stack ``(..., C, C + 1)``, vectorised over the leading axes.

    The same arithmetic as :func:`scores` (one matrix gives bit-identical values); NaN where undefined.
    """
    iou, _, pacc = _class_scores(np.asarray(cms, dtype=np.int64))
    return pacc, _mean_defined(iou)


def class_iou(cms: np.ndarray) -> np.ndarray:
    """Per-class IoU ``(..., C)`` of a confusion matrix or a stack (NaN where undefined), as :func:`scores`."""
    return _class_scores(np.asarray(cms, dtype=np.int64))[0]


def _class_scores(cm: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-class IoU and accuracy ``(..., C)`` (NaN where the denominator is 0) and PACC ``(...)``."""
    c = cm.shape[-2]
    tp = np.diagonal(cm[..., :c], axis1=-2, axis2=-1).astype(np.float64)
    gt_total = cm.sum(axis=-1).astype(np.float64)  # TP + FN (includes predictions outside the classes)
    pred_total = cm[..., :c].sum(axis=-2).astype(np.float64)  # TP + FP over labelled pixels
    denom = gt_total + pred_total - tp
    with np.errstate(invalid="ignore", divide="ignore"):
        iou = np.where(denom > 0, tp / np.maximum(denom, 1), np.nan)
        acc = np.where(gt_total > 0, tp / np.maximum(gt_total, 1), np.nan)
        labelled = gt_total.sum(axis=-1)
        pacc = np.where(labelled > 0, tp.sum(axis=-1) / np.maximum(labelled, 1), np.nan)
    return iou, acc, pacc


def _mean_defined(x: np.ndarray) -> np.ndarray:
    """Mean over the last axis of the non-NaN values (NaN when none), vectorised over the leading axes.

    Rows are grouped by which values are defined and each group averages its compacted values, so a
    row's mean is the same float as ``row[~isnan(row)].mean()`` (a zero-filled sum would differ in the
    last bits from that, and from earlier results of :func:`scores`).
    """
    flat = x.reshape(-1, x.shape[-1])
    out = np.full(flat.shape[0], np.nan)
    defined = ~np.isnan(flat)
    if defined.shape[1] < 63:  # one int64 key per row: much faster than np.unique(..., axis=0)
        keys = defined.astype(np.int64) @ (np.int64(1) << np.arange(defined.shape[1], dtype=np.int64))
        _, first, group = np.unique(keys, return_index=True, return_inverse=True)
        patterns = defined[first]
    else:
        patterns, group = np.unique(defined, axis=0, return_inverse=True)
    for k, keep in enumerate(patterns):
        if keep.any():
            rows = group.ravel() == k
            out[rows] = np.ascontiguousarray(flat[rows][:, keep]).mean(axis=1)  # row-wise pairwise sums
    return out.reshape(x.shape[:-1])


class SegMeter:
    """Accumulates a confusion matrix image by image, keeping each image's (for the bootstrap); checks sizes and
    label ids with clear errors."""

    def __init__(self, num_classes: int = NUM_CLASSES):
        self.num_classes = num_classes
        self.cm = np.zeros((num_classes, num_classes + 1), dtype=np.int64)
        self.n_images = 0
        self.ids: list[str] = []
        self.cms: list[np.ndarray] = []

    def add(self, gt_train_ids: np.ndarray, pred_train_ids: np.ndarray, name: str = "prediction",
            image_id: str | None = None) -> None:
        """Add one image (``image_id`` names it in :meth:`per_image`; default: its position)."""
        if gt_train_ids.shape != pred_train_ids.shape:
            raise ImageError(
                f"{name}: prediction size {pred_train_ids.shape[1]}x{pred_train_ids.shape[0]} does not match "
                f"its ground truth {gt_train_ids.shape[1]}x{gt_train_ids.shape[0]}"
            )
        bad = (gt_train_ids >= self.num_classes) & (gt_train_ids != IGNORE)
        if bad.any():
            raise ImageError(f"{name}: ground-truth trainIds {sorted(set(np.unique(gt_train_ids[bad]).tolist()))[:10]} "
                             f"outside 0..{self.num_classes - 1} and {IGNORE}")
        cm = confusion_matrix(gt_train_ids, pred_train_ids, self.num_classes)
        self.cm += cm
        self.cms.append(cm)
        self.ids.append(str(self.n_images) if image_id is None else image_id)
        self.n_images += 1

    def result(self) -> dict[str, Any]:
        return {**scores(self.cm), "n_images": self.n_images}

    def per_image(self) -> tuple[list[str], np.ndarray]:
        """The image ids and their confusion matrices ``(N, C, C + 1)``, in the order added."""
        return list(self.ids), np.stack(self.cms) if self.cms else np.zeros((0, self.num_classes,
                                                                              self.num_classes + 1), np.int64)


# --- per-image confusion matrices on disk (what the bootstrap of srseg.results.stats resamples) ---------

PER_IMAGE_VERSION = 1


_RECORD = "rec_"  # prefix of the optional per-image records (e.g. object counts) beside the matrices


def save_per_image(path: str | Path, ids: Sequence[str], cms: np.ndarray,
                   records: Mapping[str, np.ndarray] | None = None) -> None:
    """Write per-image confusion matrices ``(N, C, C + 1)`` and their image ids as one compressed ``.npz``;
    ``records`` are further per-image integer arrays (image axis first, e.g. object counts).

    Atomic, and the same input gives the same bytes: NumPy writes each entry through ``ZipFile.open``,
    whose entries carry the fixed zip date 1980-01-01 rather than the clock (tested).
    """
    cms = np.asarray(cms)
    ids = list(ids)
    if cms.ndim != 3 or cms.shape[2] != cms.shape[1] + 1 or cms.dtype.kind not in "iu":
        raise SrsegError(f"{path}: per-image confusion matrices must be an integer (N, C, C+1) array, "
                         f"got {cms.dtype} {cms.shape}")
    if len(ids) != cms.shape[0]:
        raise SrsegError(f"{path}: {len(ids)} image ids for {cms.shape[0]} confusion matrices")
    if len(set(ids)) != len(ids):
        raise SrsegError(f"{path}: repeated image ids")
    if (cms < 0).any():
        raise SrsegError(f"{path}: negative pixel counts")
    extra: dict[str, Any] = {}  # Any: numpy's stub would let a dict of arrays fill savez's allow_pickle
    for name, arr in (records or {}).items():
        arr = np.asarray(arr)
        if arr.ndim < 1 or arr.shape[0] != len(ids) or arr.dtype.kind not in "iu":
            raise SrsegError(f"{path}: record {name} must be integers with one row per image, got {arr.dtype} "
                             f"{arr.shape}")
        extra[_RECORD + name] = arr.astype(np.int64)
    with atomic_file(path, "wb") as fh:
        np.savez_compressed(fh, version=np.int64(PER_IMAGE_VERSION), ids=np.array(ids, dtype=np.str_),
                            cms=cms.astype(np.int64), **extra)


def load_per_image(
    path: str | Path, expected_ids: Sequence[str] | None = None, expected_from: str = "the expected list"
) -> tuple[list[str], np.ndarray]:
    """Read ``(ids, cms)`` written by :func:`save_per_image`; cms are ``(N, C, C + 1)`` int64.

    With ``expected_ids`` the file must hold exactly those images; they come back in that order, so two
    variants loaded with the same list are paired image by image. ``expected_from`` names where the
    list comes from in the error (e.g. "its predictions"). Raises SrsegError naming the file.
    """
    ids, cms, _ = load_per_image_records(path, expected_ids, expected_from)
    return ids, cms


def load_per_image_records(
    path: str | Path, expected_ids: Sequence[str] | None = None, expected_from: str = "the expected list"
) -> tuple[list[str], np.ndarray, dict[str, np.ndarray]]:
    """:func:`load_per_image` and the file's further per-image records (reordered alike)."""
    try:
        z = np.load(path, allow_pickle=False)
        if not isinstance(z, np.lib.npyio.NpzFile):
            raise SrsegError(f"{path}: not an .npz of per-image confusion matrices")
        with z:
            missing = {"version", "ids", "cms"} - set(z.files)
            if missing:
                raise SrsegError(f"{path}: not per-image confusion matrices (missing {sorted(missing)})")
            version, ids_arr, cms = z["version"], z["ids"], z["cms"]
            records = {k[len(_RECORD):]: z[k] for k in z.files if k.startswith(_RECORD)}
    except SrsegError:
        raise
    except FileNotFoundError:
        raise SrsegError(f"{path}: per-image confusion matrices not found") from None
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error) as exc:
        raise SrsegError(f"{path}: cannot read per-image confusion matrices ({type(exc).__name__}: {exc})") from None
    if version.shape != () or version.dtype.kind not in "iu" or int(version) != PER_IMAGE_VERSION:
        raise SrsegError(f"{path}: format version {version.tolist()}, this code reads {PER_IMAGE_VERSION}")
    if ids_arr.ndim != 1 or ids_arr.dtype.kind != "U":
        raise SrsegError(f"{path}: image ids must be a 1-D string array, got {ids_arr.dtype} {ids_arr.shape}")
    if cms.ndim != 3 or cms.shape[2] != cms.shape[1] + 1 or cms.dtype.kind not in "iu":
        raise SrsegError(f"{path}: confusion matrices must be an integer (N, C, C+1) array, "
                         f"got {cms.dtype} {cms.shape}")
    ids = ids_arr.tolist()
    if len(ids) != cms.shape[0]:
        raise SrsegError(f"{path}: {len(ids)} image ids for {cms.shape[0]} confusion matrices")
    if len(set(ids)) != len(ids):
        raise SrsegError(f"{path}: repeated image ids")
    if (cms < 0).any():
        raise SrsegError(f"{path}: negative pixel counts")
    cms = cms.astype(np.int64)
    for name, arr in records.items():
        if arr.ndim < 1 or arr.shape[0] != len(ids) or arr.dtype.kind not in "iu":
            raise SrsegError(f"{path}: record {name} must be integers with one row per image, got {arr.dtype} "
                             f"{arr.shape}")
    if expected_ids is not None:
        expected = list(expected_ids)
        if len(ids) != len(expected):
            raise SrsegError(f"{path}: {len(ids)} images, but {len(expected)} in {expected_from}")
        if ids != expected:
            extra, absent = sorted(set(ids) - set(expected)), sorted(set(expected) - set(ids))
            if extra or absent:
                raise SrsegError(f"{path}: images differ from {expected_from}: "
                                 f"{len(absent)} missing (first {absent[:1]}), {len(extra)} extra (first {extra[:1]})")
            order = {name: i for i, name in enumerate(ids)}
            rows = [order[name] for name in expected]
            cms, records = cms[rows], {k: v[rows] for k, v in records.items()}
            ids = expected
    return ids, cms, {k: v.astype(np.int64) for k, v in records.items()}
