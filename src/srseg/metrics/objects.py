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
can recompute every score from resampled records with :func:`combine` (:func:`scores`, vectorised over
resamples). Object size is **height**: the bounding-box height in pixels of the (HR) ground truth, binned by
``height_bins`` edges (``lo ≤ height < hi``), as CityPersons buckets pedestrians (its "reasonable" subset:
at least 50 px high on 1024-px images). A ground-truth instance's height is that of its own bounding box (all
its pixels, an occluded instance's parts included); a detection's height bin is that of the instance it
matched, and an unmatched detection's that of its own component's bounding box. *Precision* is matched
detections / all counted detections (detections mostly on ignore regions, and those matched to an instance
under ``min_size``, are not counted), pooled over the pedestrian classes and per height bin; *reasonable*
scores pool the bins at and above ``reasonable_height``.
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
#: Pooled for the headline "pedestrian recall" and "pedestrian precision".
PEDESTRIAN_CLASSES = ("person", "rider")
#: HR bounding-box heights in pixels; each bin twice the height of the one before, so shrinking an image by 2
#: moves an object one bin down. 10 px is CityPersons' "reasonable" 50 px of a 1024-px-high image scaled to the
#: default synthetic images' 192 px (50 / 1024 · 192 = 9.4); on their val set (24 scenes, 384×192) the 144
#: pedestrians split 55 / 40 / 31 / 18 over the bins.
DEFAULT_HEIGHT_BINS = (0.0, 10.0, 20.0, 40.0, math.inf)
#: The smallest height (an edge of the bins) of a "reasonably sized" pedestrian.
DEFAULT_REASONABLE_HEIGHT = 10.0
DEFAULT_IOU = 0.5

#: labelIds that are void for instance evaluation (``ignoreInEval``), as the evaluator's ``boolVoid``.
_VOID = np.zeros(OFFSET, dtype=bool)
for _lb in _CS_LABELS:
    if _lb.ignoreInEval and 0 <= _lb.id < OFFSET:
        _VOID[_lb.id] = True
_EIGHT = np.ones((3, 3), dtype=bool)
#: The fields of :class:`ImageCounts`, in the order a flattened record holds them.
FIELDS = ("tp", "fn", "fp", "height_tp", "height_n", "height_fp")


def edge_name(x: float) -> str:
    """A bin edge as written in bin names: ``10``, ``9.5``."""
    return f"{x:g}"


def bin_names(edges: Sequence[float]) -> list[str]:
    """``"0-10"``, …, ``"40+"``: the bins of ``edges`` (lower edge included)."""
    return [f"{edge_name(a)}-{edge_name(b)}" if b != math.inf else f"{edge_name(a)}+" for a, b in pairwise(edges)]


@dataclass(frozen=True)
class ObjectSpec:
    """What is scored: classes (names of classes with instances), height bin edges (HR pixels), the smallest
    height of a "reasonable" pedestrian (an edge), IoU and minimum size (pixels)."""

    classes: tuple[str, ...] = DEFAULT_CLASSES
    height_bins: tuple[float, ...] = DEFAULT_HEIGHT_BINS
    iou: float = DEFAULT_IOU
    min_size: int = 0
    reasonable_height: float = DEFAULT_REASONABLE_HEIGHT

    def __post_init__(self) -> None:
        object.__setattr__(self, "classes", tuple(self.classes))
        object.__setattr__(self, "height_bins", tuple(float(e) for e in self.height_bins))
        object.__setattr__(self, "reasonable_height", float(self.reasonable_height))
        unknown = [c for c in self.classes if c not in name2label or not HAS_INSTANCES[max(name2label[c].id, 0)]]
        if not self.classes or unknown or len(set(self.classes)) != len(self.classes):
            allowed = ", ".join(lb.name for lb in _CS_LABELS if lb.hasInstances)
            raise ParamsError(
                f"object classes {list(self.classes)}: must be distinct classes with instances ({allowed})")
        e = self.height_bins
        if len(e) < 2 or e[0] != 0 or e[-1] != math.inf or any(b <= a for a, b in pairwise(e)):
            raise ParamsError(
                f"object height_bins {list(e)}: must rise strictly from 0 to inf, e.g. [0, 10, 20, 40, inf]")
        if self.reasonable_height not in e[:-1]:
            raise ParamsError(f"object reasonable_height {self.reasonable_height:g}: must be one of the finite "
                              f"height_bins edges ({', '.join(edge_name(x) for x in e[:-1])})")
        if not 0 < self.iou <= 1:
            raise ParamsError(f"object iou {self.iou}: must be in (0, 1]")
        if self.min_size < 0:
            raise ParamsError(f"object min_size {self.min_size}: must be ≥ 0")

    @classmethod
    def of(cls, objects: Any) -> ObjectSpec:
        """The spec of a params ``objects`` section (:class:`srseg.params.ObjectsParams`)."""
        return cls(tuple(objects.classes), tuple(objects.height_bins), objects.iou, objects.min_size,
                   objects.reasonable_height)

    @property
    def label_ids(self) -> list[int]:
        return [name2label[c].id for c in self.classes]

    def shapes(self) -> dict[str, tuple[int, ...]]:
        """Shape of each :class:`ImageCounts` field under this spec."""
        c, b = len(self.classes), len(self.height_bins) - 1
        return {"tp": (c,), "fn": (c,), "fp": (c,), "height_tp": (c, b), "height_n": (c, b), "height_fp": (c, b)}

    @property
    def bin_names(self) -> list[str]:
        """``"0-10"``, …, ``"40+"`` (heights in HR pixels, lower edge included)."""
        return bin_names(self.height_bins)

    @property
    def reasonable_bins(self) -> slice:
        """The bins of "reasonable" heights (at and above ``reasonable_height``)."""
        return slice(self.height_bins.index(self.reasonable_height), None)

    @property
    def pedestrian_index(self) -> list[int]:
        """The positions in ``classes`` of the pedestrian classes."""
        return [i for i, name in enumerate(self.classes) if name in PEDESTRIAN_CLASSES]

    def score_names(self) -> list[str]:
        """The pooled pedestrian scores of :func:`scores`, in order: ``pedestrian_recall``,
        ``pedestrian_precision``, ``reasonable_recall``, ``reasonable_precision``, then ``recall_<bin>`` and
        ``precision_<bin>`` of every height bin."""
        return (["pedestrian_recall", "pedestrian_precision", "reasonable_recall", "reasonable_precision"]
                + [f"{m}_{b}" for m in ("recall", "precision") for b in self.bin_names])

    def unflatten(self, flat: np.ndarray) -> dict[str, np.ndarray]:
        """``(R, F)`` flattened records (the fields in :data:`FIELDS` order, each raveled) as
        ``{field: (R, *shape)}``."""
        flat = np.asarray(flat)
        out, at = {}, 0
        for k, shape in self.shapes().items():
            n = math.prod(shape)
            out[k] = flat[:, at:at + n].reshape(-1, *shape)
            at += n
        if at != flat.shape[1]:
            raise ValueError(f"flattened object records have {flat.shape[1]} columns, the spec needs {at}")
        return out


@dataclass(frozen=True)
class ImageCounts:
    """One image's counts: per class ``tp``, ``fn``, ``fp`` (C,); per class × height bin ``height_tp``,
    ``height_n`` and ``height_fp`` (C, B): instances found, instances, and unmatched counted detections (false
    positives, by their own height). ``height_n.sum(1) == tp + fn``, ``height_tp.sum(1) == tp``,
    ``height_fp.sum(1) == fp``."""

    tp: np.ndarray
    fn: np.ndarray
    fp: np.ndarray
    height_tp: np.ndarray
    height_n: np.ndarray
    height_fp: np.ndarray

    def to_json(self) -> dict[str, list[Any]]:
        return {k: getattr(self, k).tolist() for k in FIELDS}

    @classmethod
    def from_json(cls, data: dict[str, list[Any]]) -> ImageCounts:
        return cls(**{k: np.asarray(data[k], np.int64) for k in FIELDS})

    def flat(self) -> np.ndarray:
        """The record as one row (the fields in :data:`FIELDS` order, raveled)."""
        return np.concatenate([getattr(self, k).ravel() for k in FIELDS])


@dataclass
class ClassMatching:
    """The matching of one class in one image (for inspection; :func:`count` turns it into counts)."""

    gt_ids: np.ndarray  # (G,) instance ids, ascending
    gt_area: np.ndarray  # (G,) pixels
    gt_height: np.ndarray  # (G,) rows of its bounding box
    gt_match: np.ndarray  # (G,) index of the matched detection, -1 = none
    det_area: np.ndarray  # (D,) pixels of each detection (components in raster order of their first pixel)
    det_height: np.ndarray  # (D,) rows of its bounding box
    det_match: np.ndarray  # (D,) index of the matched instance, -1 = none
    det_ignored: np.ndarray  # (D,) unmatched and mostly on ignore regions: no false positive
    iou: np.ndarray = field(repr=False)  # (G, D)


def _heights(labelled: np.ndarray, n: int) -> np.ndarray:
    """Bounding-box height (rows) of each label 1..n of a labelled image."""
    return np.array([0 if sl is None else sl[0].stop - sl[0].start
                     for sl in ndimage.find_objects(labelled, max_label=n)], np.int64).reshape(n)


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
    return ClassMatching(gt_ids, gt_area, _heights(gt_map, n_gt), gt_match, det_area, _heights(det, n_det),
                         det_match, det_ignored, ious)


def height_bin(heights: np.ndarray, edges: Sequence[float]) -> np.ndarray:
    """The bin of each height (``lo ≤ height < hi``)."""
    return np.searchsorted(np.asarray(edges, np.float64), np.asarray(heights), side="right") - 1


def count(matchings: Sequence[ClassMatching], spec: ObjectSpec) -> ImageCounts:
    """:class:`ImageCounts` of one image from its per-class matchings (in ``spec.classes`` order)."""
    shapes = spec.shapes()
    out = {k: np.zeros(s, np.int64) for k, s in shapes.items()}
    b = shapes["height_n"][1]
    for i, m in enumerate(matchings):
        counted = m.gt_area >= spec.min_size
        found = m.gt_match >= 0
        false_pos = (m.det_match < 0) & ~m.det_ignored  # matched to a small instance: no false positive either
        out["tp"][i] = np.count_nonzero(counted & found)
        out["fn"][i] = np.count_nonzero(counted & ~found)
        out["fp"][i] = np.count_nonzero(false_pos)
        bins = height_bin(m.gt_height[counted], spec.height_bins)
        out["height_n"][i] = np.bincount(bins, minlength=b)
        out["height_tp"][i] = np.bincount(bins[found[counted]], minlength=b)  # = matched detections by bin
        out["height_fp"][i] = np.bincount(height_bin(m.det_height[false_pos], spec.height_bins), minlength=b)
    return ImageCounts(**out)


def _div(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """num / den, NaN where den is 0."""
    num, den = np.asarray(num, np.float64), np.asarray(den, np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1), np.nan)


def scores(counts: dict[str, np.ndarray], spec: ObjectSpec) -> dict[str, np.ndarray]:
    """The pooled pedestrian scores (:meth:`ObjectSpec.score_names`) of summed counts with a leading resample axis
    (``counts[k]``: ``(R, *shape)``), each ``(R,)``; NaN where undefined (no instance, or no detection, in the
    pool). Recall = found / instances, precision = matched detections / (matched + false positives); a bin's
    matched detections are its found instances (one-to-one matching), its false positives the unmatched counted
    detections of that height."""
    ped = spec.pedestrian_index
    if not ped:
        n = len(next(iter(counts.values())))
        return {name: np.full(n, np.nan) for name in spec.score_names()}
    tp, fn, fp = (counts[k][:, ped].sum(1) for k in ("tp", "fn", "fp"))
    htp, hn, hfp = (counts[k][:, ped].sum(1) for k in ("height_tp", "height_n", "height_fp"))
    r = spec.reasonable_bins
    out = {"pedestrian_recall": _div(tp, tp + fn), "pedestrian_precision": _div(tp, tp + fp),
           "reasonable_recall": _div(htp[:, r].sum(1), hn[:, r].sum(1)),
           "reasonable_precision": _div(htp[:, r].sum(1), htp[:, r].sum(1) + hfp[:, r].sum(1))}
    for j, name in enumerate(spec.bin_names):
        out[f"recall_{name}"] = _div(htp[:, j], hn[:, j])
    for j, name in enumerate(spec.bin_names):
        out[f"precision_{name}"] = _div(htp[:, j], htp[:, j] + hfp[:, j])
    return out


def _ratio(num: int, den: int) -> float | None:
    return float(num / den) if den else None


def _class_scores(counts: dict[str, np.ndarray], bins: list[str]) -> dict[str, Any]:
    """Scores of one class's (or a pooled) ``tp``, ``fn``, ``fp`` (scalars) and ``height_*`` (B,)."""
    tp, fn, fp = (int(counts[k]) for k in ("tp", "fn", "fp"))
    htp, hn, hfp = counts["height_tp"], counts["height_n"], counts["height_fp"]
    return {
        "instances": tp + fn, "tp": tp, "fn": fn, "fp": fp,
        "recall": _ratio(tp, tp + fn), "precision": _ratio(tp, tp + fp),
        "instances_by_height": {n: int(v) for n, v in zip(bins, hn, strict=True)},
        "recall_by_height": {n: _ratio(t, v) for n, t, v in zip(bins, htp, hn, strict=True)},
        "precision_by_height": {n: _ratio(t, t + f) for n, t, f in zip(bins, htp, hfp, strict=True)},
    }


def combine(records: Iterable[ImageCounts], spec: ObjectSpec = ObjectSpec()) -> dict[str, Any]:
    """Scores over images: per class and pooled over the pedestrian classes (recall, precision, counts, recall and
    precision by height), and ``scores``, the pooled pedestrian scores of :func:`scores` (what the summary's
    bootstrap recomputes); ``pedestrian_recall`` and ``pedestrian_precision`` are the headline. Ratios with a zero
    denominator are None."""
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
    classes = {name: _class_scores({k: v[i] for k, v in tot.items()}, bins) for i, name in enumerate(spec.classes)}
    ped = spec.pedestrian_index
    pooled = {name: None if not math.isfinite(x[0]) else float(x[0])
              for name, x in scores({k: v[None] for k, v in tot.items()}, spec).items()}
    pedestrian = None
    if ped:
        pedestrian = _class_scores({k: v[ped].sum(axis=0) for k, v in tot.items()}, bins)
        pedestrian["reasonable"] = {"instances": int(tot["height_n"][ped].sum(0)[spec.reasonable_bins].sum()),
                                    "recall": pooled["reasonable_recall"],
                                    "precision": pooled["reasonable_precision"]}
    return {
        "n_images": n, "iou": spec.iou, "min_size": spec.min_size, "height_bins": bins,
        "reasonable_height": spec.reasonable_height, "classes": classes, "pedestrian": pedestrian,
        "pedestrian_recall": pooled["pedestrian_recall"], "pedestrian_precision": pooled["pedestrian_precision"],
        "scores": pooled,
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
        """Stacked counts: ``tp``, ``fn``, ``fp`` (N, C) and ``height_tp``, ``height_n``, ``height_fp`` (N, C, B)."""
        return {k: np.stack([getattr(r, k) for r in self.records]) if self.records else np.zeros((0, *s), np.int64)
                for k, s in self.spec.shapes().items()}

    def result(self) -> dict[str, Any]:
        return combine(self.records, self.spec)
