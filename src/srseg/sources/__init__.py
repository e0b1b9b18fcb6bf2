"""Data sources that fill ``data/raw`` in the Cityscapes layout.

A source is a function ``(params, cache_dir) -> Iterator[RawSample]``; :func:`build_raw` applies the
HR crop rule, checks every sample and writes images, labelIds, labelTrainIds and (where the source
provides them) instanceIds atomically.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from srseg.degrade import crop_to_multiple
from srseg.errors import ImageError
from srseg.instances import check_instances, instance_counts
from srseg.io import atomic_dir, check_same_size, write_json, write_png
from srseg.labels import NUM_CLASSES, TRAIN_NAMES, to_train_ids
from srseg.layout import Sample
from srseg.params import Params

#: How a source obtains instance ids: drawn with the labels, read from the dataset, or guessed.
INSTANCE_METHODS = ("rendered", "archive", "connected components")
NO_INSTANCES = "none"


@dataclass
class RawSample:
    """One HR image with its Cityscapes labelIds; ``origin`` names the source file(s) for errors.

    ``instance_ids`` (Cityscapes instanceIds, see :mod:`srseg.instances`) is None when the source does
    not provide instances; ``instances`` then is ``"none"``, else one of :data:`INSTANCE_METHODS`.
    """

    split: str
    city: str
    id: str
    image: np.ndarray  # (H, W, 3) uint8 RGB
    label_ids: np.ndarray  # (H, W) uint8 Cityscapes labelIds
    origin: str
    instance_ids: np.ndarray | None = None  # (H, W) uint16 Cityscapes instanceIds
    instances: str = NO_INSTANCES

    def __post_init__(self) -> None:
        if (self.instance_ids is None) != (self.instances == NO_INSTANCES) or \
                self.instances not in (NO_INSTANCES, *INSTANCE_METHODS):
            raise ValueError(f"{self.origin}: instances {self.instances!r} does not fit instance_ids")


SourceFn = Callable[[Params, Path], Iterator[RawSample]]


class Counted(Iterator[RawSample]):
    """Samples from ``it`` with their number known in advance, so that the progress bar has a total; ``split``, where
    the source chose its splits, says how (the ``split`` record of ``metrics/data.json``)."""

    def __init__(self, total: int, it: Iterator[RawSample], split: dict[str, Any] | None = None) -> None:
        self.total, self._it, self.split = total, it, split

    def __len__(self) -> int:
        return self.total

    def __next__(self) -> RawSample:
        return next(self._it)


def get_source(name: str) -> SourceFn:
    """The sample iterator of a ``data.source`` name (imported lazily: each has its own deps)."""
    if name == "synthetic":
        from srseg.sources import synthetic

        return synthetic.samples
    if name == "camvid":
        from srseg.sources import camvid

        return camvid.samples
    if name == "cityscapes":
        from srseg.sources import cityscapes

        return cityscapes.samples
    # params validation makes this unreachable from the pipeline
    raise ValueError(f"unknown data source {name!r}")


def build_raw(params: Params, out: str | Path, cache_dir: str | Path,
              metrics_path: str | Path | None) -> dict[str, Any]:
    """Write the selected source into ``out`` (replaced atomically) and return its summary."""
    source = get_source(params.data.source)(params, Path(cache_dir))  # a source lists its files before any writes
    multiple = params.crop_multiple
    counts: Counter[str] = Counter()
    sizes: set[tuple[int, int]] = set()
    present = np.zeros(NUM_CLASSES, dtype=np.int64)
    method: str | None = None  # how the first sample got its instances; all must agree
    instances: dict[str, Counter[str]] = {}
    with atomic_dir(out) as tmp:
        for raw in tqdm(source, desc=f"download ({params.data.source})", unit="img"):
            if raw.image.ndim != 3 or raw.image.shape[2] != 3 or raw.image.dtype != np.uint8:
                raise ImageError(f"{raw.origin}: expected an 8-bit RGB image, got shape {raw.image.shape}")
            check_same_size(raw.image, raw.label_ids, raw.origin)
            if method is None:
                method = raw.instances
            elif raw.instances != method:
                raise ImageError(f"{raw.origin}: instances {raw.instances!r} but earlier samples had {method!r}; "
                                 f"a source provides instances for every image or for none")
            image = crop_to_multiple(raw.image, multiple)
            label_ids = crop_to_multiple(raw.label_ids, multiple)
            if image.shape[0] == 0 or image.shape[1] == 0:
                raise ImageError(f"{raw.origin}: image smaller than the crop multiple {multiple}")
            train_ids = to_train_ids(label_ids, raw.origin)
            s = Sample(raw.split, raw.city, raw.id)
            write_png(s.image(tmp), image)
            write_png(s.label_ids(tmp), label_ids)
            write_png(s.label_train_ids(tmp), train_ids)
            if raw.instance_ids is not None:
                check_instances(raw.instance_ids, raw.label_ids, raw.origin)
                instance_ids = crop_to_multiple(raw.instance_ids.astype(np.uint16), multiple)
                write_png(s.instance_ids(tmp), instance_ids)
                instances.setdefault(raw.split, Counter()).update(instance_counts(instance_ids))
            counts[raw.split] += 1
            sizes.add((image.shape[1], image.shape[0]))
            present += np.bincount(train_ids[train_ids < NUM_CLASSES].ravel(), minlength=NUM_CLASSES)
        if not counts:
            raise ImageError(f"data source {params.data.source!r} produced no images")
    total = present.sum()
    summary = {
        "source": params.data.source,
        "images": dict(sorted(counts.items())),
        "hr_size": [list(s) for s in sorted(sizes)][0] if len(sizes) == 1 else "varies",
        "hr_sizes": len(sizes),
        "crop_multiple": multiple,
        "classes_present": [TRAIN_NAMES[t] for t in range(NUM_CLASSES) if present[t] > 0],
        "class_fraction": {TRAIN_NAMES[t]: round(float(present[t] / total), 5) for t in range(NUM_CLASSES)},
        "instances": method,
        "instance_counts": {split: dict(c) for split, c in sorted(instances.items())},
    }
    if isinstance(source, Counted) and source.split is not None:
        summary["split"] = source.split
    if metrics_path:
        write_json(metrics_path, summary)
    return summary
