"""Object-level scores from a segmentation: would a car still find the pedestrians?

Ground truth is a Cityscapes instance-id image (:mod:`srseg.instances`); the prediction is a labelIds
image (what the evaluation writes as ``*_pred_labelIds.png``; map trainIds with
``srseg.labels.TRAIN_TO_ID`` first). For each evaluated class (a class with instances):

* every 8-connected component of the class in the prediction is a *detection*;
* a ground-truth instance is *found* (a true positive) when a detection of its class overlaps it with
  IoU ≥ ``iou``; matching is one-to-one, greedy by decreasing IoU (ties: lower instance id, then the
  detection whose first pixel comes first in raster order), so it is deterministic;
* an unmatched instance is a false negative; an unmatched detection is a false positive unless more
  than ``iou`` of its pixels lie on ignore regions: void (classes with ``ignoreInEval``), a "group"
  region of its class (instance image holding the plain labelId, e.g. a crowd) or an instance smaller
  than ``min_size``. This is the rule of cityscapesscripts'
  ``evalInstanceLevelSemanticLabeling.evaluateMatches`` (its ``proportionIgnore <= overlapTh``).
* instances smaller than ``min_size`` pixels are ignored (neither found nor missed; a detection matched
  to one is no false positive), as the Cityscapes evaluator ignores those under ``minRegionSizes[0]``
  (100). The default 0 counts every instance, however small: small pedestrians are the point here.

Detections are components of the segmentation, so even a perfect segmentation does not find every
instance: touching objects of one class merge into one component (IoU below 0.5 with each), an object
cut in two by a nearer one splits. Scoring the ground-truth labels as the prediction gives that ceiling.

Differences to the Cityscapes instance evaluation: a detection has no confidence (every component
counts), and the overlap test is IoU ≥ ``iou`` where the evaluator requires IoU > ``overlapTh``.
With one confidence level and the evaluator's ignore rules reproduced (``min_size=100``), its AP at
50 % overlap is ``R · (1 + P) / 2`` for this module's recall R and precision P (zero-order integral of
a two-point precision-recall curve: (R, P) and its artificial start (0, 1)); see
``tests/test_object_metrics.py``.

Per image the counts are small integer arrays (:class:`ImageCounts`), so a paired bootstrap over images
can recompute every score from resampled records with :func:`combine`. Instance size is the
ground-truth area in pixels of the (HR) ground truth, binned by ``size_bins`` edges
(``lo ≤ area < hi``).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np
from cityscapesscripts.helpers.labels import labels as _CS_LABELS
from cityscapesscripts.helpers.labels import name2label
from scipy import ndimage

from srseg.errors import ImageError, ParamsError
from srseg.instances import HAS_INSTANCES, OFFSET, check_instances
from srseg.io import read_instance_ids, read_label

DEFAULT_CLASSES = ("person", "rider", "car", "bicycle")
#: Pooled for the headline "pedestrian recall".
PEDESTRIAN_CLASSES = ("person", "rider")
#: HR pixel areas; each bin is 4× the area (2× the size) of the one before, so shrinking an image by 2
#: moves an object one bin down. On the default synthetic val set (24 scenes, 384×192) every class of
#: DEFAULT_CLASSES has instances in every bin.
DEFAULT_SIZE_BINS = (0.0, 32.0, 128.0, 512.0, math.inf)
DEFAULT_IOU = 0.5

#: labelIds that are void for instance evaluation (``ignoreInEval``), as the evaluator's ``boolVoid``.
_VOID = np.zeros(OFFSET, dtype=bool)
for _lb in _CS_LABELS:
    if _lb.ignoreInEval and 0 <= _lb.id < OFFSET:
        _VOID[_lb.id] = True
_EIGHT = np.ones((3, 3), dtype=bool)
#: The fields of :class:`ImageCounts`.
FIELDS = ("tp", "fn", "fp", "size_tp", "size_n")


@dataclass(frozen=True)
class ObjectSpec:
    """What is scored: classes (names of classes with instances), size bin edges, IoU and minimum size."""

    classes: tuple[str, ...] = DEFAULT_CLASSES
    size_bins: tuple[float, ...] = DEFAULT_SIZE_BINS
    iou: float = DEFAULT_IOU
    min_size: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "classes", tuple(self.classes))
        object.__setattr__(self, "size_bins", tuple(float(e) for e in self.size_bins))
        unknown = [c for c in self.classes if c not in name2label or not HAS_INSTANCES[max(name2label[c].id, 0)]]
        if not self.classes or unknown or len(set(self.classes)) != len(self.classes):
            allowed = ", ".join(lb.name for lb in _CS_LABELS if lb.hasInstances)
            raise ParamsError(
                f"object classes {list(self.classes)}: must be distinct classes with instances ({allowed})")
        e = self.size_bins
        if len(e) < 2 or e[0] != 0 or e[-1] != math.inf or any(b <= a for a, b in pairwise(e)):
            raise ParamsError(
                f"object size_bins {list(e)}: must rise strictly from 0 to inf, e.g. [0, 32, 128, 512, inf]")
        if not 0 < self.iou <= 1:
            raise ParamsError(f"object iou {self.iou}: must be in (0, 1]")
        if self.min_size < 0:
            raise ParamsError(f"object min_size {self.min_size}: must be ≥ 0")

    @property
    def label_ids(self) -> list[int]:
        return [name2label[c].id for c in self.classes]

    def shapes(self) -> dict[str, tuple[int, ...]]:
        """Shape of each :class:`ImageCounts` field under this spec."""
        c, b = len(self.classes), len(self.size_bins) - 1
        return {"tp": (c,), "fn": (c,), "fp": (c,), "size_tp": (c, b), "size_n": (c, b)}

    @property
    def bin_names(self) -> list[str]:
        """``"0-32"``, …, ``"512+"`` (areas in pixels, lower edge included)."""
        e = [int(x) if x != math.inf else None for x in self.size_bins]
        return [f"{a}-{b}" if b is not None else f"{a}+" for a, b in pairwise(e)]


@dataclass(frozen=True)
class ImageCounts:
    """One image's counts: per class ``tp``, ``fn``, ``fp`` (C,); per class × size bin ``size_tp``, ``size_n``
    (C, B) (instances found / instances). ``size_n.sum(1) == tp + fn``."""

    tp: np.ndarray
    fn: np.ndarray
    fp: np.ndarray
    size_tp: np.ndarray
    size_n: np.ndarray

    def to_json(self) -> dict[str, list[Any]]:
        return {k: getattr(self, k).tolist() for k in FIELDS}

    @classmethod
    def from_json(cls, data: dict[str, list[Any]]) -> ImageCounts:
        return cls(**{k: np.asarray(data[k], np.int64) for k in FIELDS})


@dataclass
class ClassMatching:
    """The matching of one class in one image (for inspection; :func:`count` turns it into counts)."""

    gt_ids: np.ndarray  # (G,) instance ids, ascending
    gt_area: np.ndarray  # (G,) pixels
    gt_match: np.ndarray  # (G,) index of the matched detection, -1 = none
    det_area: np.ndarray  # (D,) pixels of each detection (components in raster order of their first pixel)
    det_match: np.ndarray  # (D,) index of the matched instance, -1 = none
    det_ignored: np.ndarray  # (D,) unmatched and mostly on ignore regions: no false positive
    iou: np.ndarray = field(repr=False)  # (G, D)


def match_class(gt_instance_ids: np.ndarray, pred_label_ids: np.ndarray, label: int, iou: float = DEFAULT_IOU,
                min_size: int = 0) -> ClassMatching:
    """Match the instances of class ``label`` (a labelId) with the components of its prediction."""
    inst = np.asarray(gt_instance_ids).astype(np.int64, copy=False)
    det, n_det = ndimage.label(np.asarray(pred_label_ids) == label, structure=_EIGHT)
    own = (inst >= OFFSET) & (inst // OFFSET == label)
    gt_ids, gt_index = np.unique(inst[own], return_inverse=True)
    gt_map = np.zeros(inst.shape, np.int64)
    gt_map[own] = gt_index + 1
    n_gt = len(gt_ids)
    gt_area = np.bincount(gt_map.ravel(), minlength=n_gt + 1)[1:]
    det_area = np.bincount(det.ravel(), minlength=n_det + 1)[1:]
    both = (gt_map > 0) & (det > 0)
    inter = np.bincount(gt_map[both] * (n_det + 1) + det[both], minlength=(n_gt + 1) * (n_det + 1))
    inter = inter.reshape(n_gt + 1, n_det + 1)[1:, 1:]
    union = gt_area[:, None] + det_area[None, :] - inter
    ious = np.where(inter > 0, inter / np.maximum(union, 1), 0.0)

    gt_match = np.full(n_gt, -1, np.int64)
    det_match = np.full(n_det, -1, np.int64)
    g, d = np.nonzero((ious >= iou) & (inter > 0))
    for k in np.lexsort((d, g, -ious[g, d])):  # decreasing IoU, then instance id, then detection order
        if gt_match[g[k]] < 0 and det_match[d[k]] < 0:
            gt_match[g[k]], det_match[d[k]] = d[k], g[k]

    small = gt_area < min_size
    ignore = ((inst < OFFSET) & _VOID[np.minimum(inst, OFFSET - 1)]) | (inst == label)
    if small.any():
        ignore |= own & small[np.maximum(gt_map - 1, 0)]
    on_ignore = np.bincount(det[ignore & (det > 0)], minlength=n_det + 1)[1:]
    det_ignored = (det_match < 0) & (on_ignore > iou * det_area)
    return ClassMatching(gt_ids, gt_area, gt_match, det_area, det_match, det_ignored, ious)


def count(matchings: Sequence[ClassMatching], spec: ObjectSpec) -> ImageCounts:
    """:class:`ImageCounts` of one image from its per-class matchings (in ``spec.classes`` order)."""
    c, b = len(spec.classes), len(spec.size_bins) - 1
    tp, fn, fp = (np.zeros(c, np.int64) for _ in range(3))
    size_tp, size_n = np.zeros((c, b), np.int64), np.zeros((c, b), np.int64)
    edges = np.asarray(spec.size_bins)
    for i, m in enumerate(matchings):
        counted = m.gt_area >= spec.min_size
        found = m.gt_match >= 0
        tp[i] = np.count_nonzero(counted & found)
        fn[i] = np.count_nonzero(counted & ~found)
        fp[i] = np.count_nonzero((m.det_match < 0) & ~m.det_ignored)  # matched to a small one: not an FP
        bins = np.searchsorted(edges, m.gt_area[counted], side="right") - 1
        size_n[i] = np.bincount(bins, minlength=b)
        size_tp[i] = np.bincount(bins[found[counted]], minlength=b)
    return ImageCounts(tp, fn, fp, size_tp, size_n)


def _ratio(num: int, den: int) -> float | None:
    return float(num / den) if den else None


def _scores(counts: dict[str, np.ndarray], bins: list[str]) -> dict[str, Any]:
    """Scores of one class's (or a pooled) ``tp``, ``fn``, ``fp`` (scalars) and ``size_tp``, ``size_n`` (B,)."""
    tp, fn, fp = (int(counts[k]) for k in ("tp", "fn", "fp"))
    size_tp, size_n = counts["size_tp"], counts["size_n"]
    return {
        "instances": tp + fn, "tp": tp, "fn": fn, "fp": fp,
        "recall": _ratio(tp, tp + fn), "precision": _ratio(tp, tp + fp),
        "instances_by_size": {n: int(v) for n, v in zip(bins, size_n, strict=True)},
        "recall_by_size": {n: _ratio(t, v) for n, t, v in zip(bins, size_tp, size_n, strict=True)},
    }


def combine(records: Iterable[ImageCounts], spec: ObjectSpec = ObjectSpec()) -> dict[str, Any]:
    """Scores over images: per class and pooled over the pedestrian classes (recall, precision, counts,
    recall by size); ``pedestrian_recall`` is the headline. Ratios with a zero denominator are None."""
    tot = {k: np.zeros(s, np.int64) for k, s in spec.shapes().items()}
    n = 0
    for r in records:
        for k in tot:
            v = getattr(r, k)
            if v.shape != tot[k].shape:
                raise ValueError(f"record {k} has shape {v.shape}, the spec needs {tot[k].shape}")
            tot[k] += v
        n += 1
    bins = spec.bin_names
    classes = {name: _scores({k: v[i] for k, v in tot.items()}, bins) for i, name in enumerate(spec.classes)}
    ped = [i for i, name in enumerate(spec.classes) if name in PEDESTRIAN_CLASSES]
    pedestrian = _scores({k: v[ped].sum(axis=0) for k, v in tot.items()}, bins) if ped else None
    return {
        "n_images": n, "iou": spec.iou, "min_size": spec.min_size, "size_bins": bins,
        "classes": classes, "pedestrian": pedestrian,
        "pedestrian_recall": pedestrian["recall"] if pedestrian else None,
    }


class ObjectMeter:
    """Matches image by image and keeps each image's :class:`ImageCounts` (for a bootstrap over images)."""

    def __init__(self, spec: ObjectSpec = ObjectSpec()):
        self.spec = spec
        self.records: list[ImageCounts] = []
        self.names: list[str] = []

    def add(self, gt_instance_ids: np.ndarray, pred_label_ids: np.ndarray, name: str = "prediction",
            gt_label_ids: np.ndarray | None = None, gt_name: str = "instances") -> ImageCounts:
        """Score one image; ``gt_label_ids`` (when given) is checked against the instance ids.

        Raises ImageError naming ``name`` when the prediction's size differs from the ground truth, and
        naming ``gt_name`` when the instance ids do not encode ``gt_label_ids``.
        """
        inst, pred = np.asarray(gt_instance_ids), np.asarray(pred_label_ids)
        if pred.shape != inst.shape:
            raise ImageError(
                f"{name}: prediction size {pred.shape[1] if pred.ndim > 1 else '?'}x{pred.shape[0]} does not "
                f"match its ground truth {inst.shape[1]}x{inst.shape[0]}"
            )
        if gt_label_ids is not None:
            check_instances(inst, gt_label_ids, gt_name)
        matchings = [match_class(inst, pred, lid, self.spec.iou, self.spec.min_size) for lid in self.spec.label_ids]
        record = count(matchings, self.spec)
        self.records.append(record)
        self.names.append(name)
        return record

    def add_files(self, instance_path: str | Path, label_path: str | Path, pred_path: str | Path) -> ImageCounts:
        """:meth:`add` on files: a ``*_gtFine_instanceIds.png``, its labelIds and a ``*_pred_labelIds.png``."""
        inst = read_instance_ids(instance_path)
        return self.add(inst, read_label(pred_path), str(pred_path), read_label(label_path), str(instance_path))

    def per_image(self) -> dict[str, np.ndarray]:
        """Stacked counts: ``tp``, ``fn``, ``fp`` (N, C) and ``size_tp``, ``size_n`` (N, C, B)."""
        return {k: np.stack([getattr(r, k) for r in self.records]) if self.records else np.zeros((0, *s), np.int64)
                for k, s in self.spec.shapes().items()}

    def result(self) -> dict[str, Any]:
        return combine(self.records, self.spec)
