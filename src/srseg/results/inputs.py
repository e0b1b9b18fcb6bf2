"""What the results stages read: every evaluated variant's scores and per-image records (the summarize stage) and
``metrics/summary.json`` (the plots stage).

For every training seed k: ``metrics/seg/seed{k}/<variant>.json`` and ``.npz`` (scores and every val image's
confusion matrix, from the ``evaluate_<method>`` stages) and the Y-PSNR/SSIM records of the methods whose images
are scored (``metrics/sr/…``). A missing or malformed file is one line naming it.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from srseg.errors import SrsegError
from srseg.labels import TRAIN_NAMES
from srseg.methods import registry as methods
from srseg.methods.base import Method
from srseg.metrics.objects import FIELDS as OBJECT_FIELDS
from srseg.metrics.objects import ObjectSpec
from srseg.metrics.seg import load_per_image_records
from srseg.params import Params
from srseg.paths import Paths
from srseg.results.schema import Summary, VariantKey

SEG_KEYS = ("pacc", "miou")


def _num(value: Any, path: Path, key: str) -> float:
    """A finite number from a metrics file, or SrsegError naming the file and key."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise SrsegError(f"{path}: {key} must be a finite number (got {value!r})")
    return float(value)


def read_metrics(path: str | Path, producer: str) -> dict[str, Any]:
    """Load a metrics JSON object; a missing or malformed file is one line naming it."""
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise SrsegError(f"{path}: missing input (written by the {producer} stage; run it first)") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise SrsegError(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise SrsegError(f"{path}: expected a JSON object")
    return data


def load_summary(path: str | Path) -> Summary:
    """``metrics/summary.json`` as a :class:`~srseg.results.schema.Summary` (SrsegError naming the file when it is
    missing, malformed or of another schema version)."""
    return Summary.from_json(read_metrics(path, "summarize"), str(path))


def _pick(data: dict[str, Any], keys: Iterable[str], path: Path) -> dict[str, float]:
    out = {}
    for key in keys:
        if key not in data:
            raise SrsegError(f"{path}: missing key {key}")
        out[key] = _num(data[key], path, key)
    return out


def _class_ious(data: dict[str, Any], path: Path) -> dict[str, float | None]:
    iou = data.get("iou")
    if not isinstance(iou, dict):
        raise SrsegError(f"{path}: missing key iou (a mapping of class name to IoU)")
    unknown = sorted(set(iou) - set(TRAIN_NAMES))
    if unknown:
        raise SrsegError(f"{path}: iou has unknown class names {unknown[:5]}")
    return {n: None if iou.get(n) is None else _num(iou[n], path, f"iou.{n}") for n in TRAIN_NAMES}


@dataclass
class Evaluation:
    """One evaluated variant over every seed: scores per seed, pooled per-image records."""

    key: VariantKey
    scores: list[dict[str, float]]  # per seed: pacc, miou
    ious: list[dict[str, float | None]]  # per seed: class → IoU
    cms: np.ndarray  # (seeds, N, C, C + 1): every image's confusion matrix, images in the val order
    quality: list[dict[str, Any]] | None  # per seed: psnr_y, ssim_y and per-image arrays (quality methods)
    objects: np.ndarray | None  # (seeds, N, F): every image's object counts, flattened (None: no instances)
    ids: list[str]  # the val images, sorted (sequence, then frame)

    @property
    def method(self) -> Method:
        return self.key.method

    @property
    def scale(self) -> int | None:
        return self.key.scale

    @property
    def name(self) -> str:
        return self.key.name


def load_evaluation(paths: Paths, m: Method, scale: int | None, seeds: Sequence[int], ids: list[str] | None
                    ) -> tuple[Evaluation, list[str]]:
    """Every seed's scores and per-image records of a variant; ``ids`` (the val images, None to take this
    variant's) must match every file, so all variants pair image by image."""
    scores: list[dict[str, float]] = []
    ious: list[dict[str, float | None]] = []
    cms: list[np.ndarray] = []
    objects: list[np.ndarray] = []
    quality: list[dict[str, Any]] | None = [] if m.quality else None
    name = m.variant(scale)
    for k in seeds:
        path = paths.seg_metrics(name, k)
        data = read_metrics(path, f"{m.eval_stage} (seed {k})")
        scores.append(_pick(data, SEG_KEYS, path))
        ious.append(_class_ious(data, path))
        got_ids, seed_cms, records = load_per_image_records(paths.seg_per_image(name, k), ids,
                                                            expected_from="the other variants' val images")
        if records:
            missing = [f for f in OBJECT_FIELDS if f"objects_{f}" not in records]
            if missing:
                raise SrsegError(f"{paths.seg_per_image(name, k)}: object counts without {', '.join(missing)} "
                                 f"(written before objects.height_bins; re-run {m.eval_stage})")
            objects.append(np.concatenate([records[f"objects_{f}"].reshape(len(got_ids), -1)
                                           for f in OBJECT_FIELDS], axis=1))
        ids = got_ids
        if int(data.get("n_images", -1)) != len(got_ids):
            raise SrsegError(f"{path}: n_images {data.get('n_images')} but {len(got_ids)} images in "
                             f"{paths.seg_per_image(name, k)}")
        cms.append(seed_cms)
        if quality is not None:
            assert scale is not None
            qpath = m.quality_path(paths, scale, k)
            q = read_metrics(qpath, m.stage)
            per = q.get("per_image")
            if not isinstance(per, dict) or per.get("ids") != got_ids:
                raise SrsegError(f"{qpath}: per_image ids differ from the segmentation's val images")
            quality.append({**_pick(q, ("psnr_y", "ssim_y"), qpath),
                            "per_image": {k2: np.asarray(per[k2], np.float64) for k2 in
                                          ("psnr_y", "ssim_y", "class_sse", "class_pixels") if k2 in per}})
    if not cms or ids is None:  # no seeds: Params requires at least one, a direct caller might pass none
        raise SrsegError(f"{name}: no training seeds to read")
    if objects and len(objects) != len(seeds):
        raise SrsegError(f"{paths.seg_per_image(name, seeds[0])}: object counts in some seeds' files only")
    return Evaluation(VariantKey(m, scale), scores, ious, np.stack(cms), quality,
                      np.stack(objects) if objects else None, ids), ids


def collect(params: Params, paths: Paths) -> dict[VariantKey, Evaluation]:
    """Every active variant, HR first, all on the same val images."""
    out: dict[VariantKey, Evaluation] = {}
    ids: list[str] | None = None
    spec = ObjectSpec.of(params.objects)
    width = sum(math.prod(shape) for shape in spec.shapes().values())
    for m, s in methods.active(params):
        v, ids = load_evaluation(paths, m, s, params.seeds, ids)
        if v.objects is not None and v.objects.shape[2] != width:
            raise SrsegError(f"{paths.seg_per_image(v.name, params.seeds[0])}: object counts of another "
                             f"objects.classes or objects.height_bins than params ({len(spec.classes)} classes, "
                             f"{len(spec.height_bins) - 1} height bins); re-run {m.eval_stage}")
        out[v.key] = v
    return out
