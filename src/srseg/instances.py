"""Cityscapes instance-id images: ``<id>_gtFine_instanceIds.png``.

Convention (cityscapesscripts ``preparation/json2instanceImg.createInstanceImage``): a pixel of an object
of a class with ``hasInstances`` holds ``labelId · 1000 + k``, ``k`` counting that class's objects of the
image from 0; every other pixel holds its plain labelId (this includes "group" regions, e.g. a crowd
labelled ``person`` as a whole, and void). The image is stored as a 16-bit grey PNG.
"""

from __future__ import annotations

import numpy as np
from cityscapesscripts.helpers.labels import labels as _CS_LABELS
from scipy import ndimage

from srseg.errors import ImageError

OFFSET = 1000
#: The largest number of instances of one class in one image that the encoding can hold.
MAX_PER_CLASS = OFFSET

#: labelId → whether the class has instances (over all 256 byte values).
HAS_INSTANCES = np.zeros(256, dtype=bool)
#: labelId → class name, for the classes with instances ("" elsewhere).
INSTANCE_NAMES: dict[int, str] = {}
for _lb in _CS_LABELS:
    if _lb.hasInstances and 0 <= _lb.id < 256:
        HAS_INSTANCES[_lb.id] = True
        INSTANCE_NAMES[_lb.id] = _lb.name
#: labelIds of the classes with instances, ascending.
INSTANCE_LABEL_IDS: list[int] = sorted(INSTANCE_NAMES)


def class_of(instance_ids: np.ndarray) -> np.ndarray:
    """The labelId of every pixel of an instance-id image (``id // 1000`` for instances, else ``id``)."""
    inst = np.asarray(instance_ids).astype(np.int64)
    return np.where(inst >= OFFSET, inst // OFFSET, inst)


def check_instances(instance_ids: np.ndarray, label_ids: np.ndarray, path: str = "instances") -> None:
    """Raise ImageError naming ``path`` unless ``instance_ids`` encodes exactly ``label_ids``.

    Every instance's pixels must carry its class's labelId in the label image, instance ids only occur
    for classes with ``hasInstances``, and every non-instance pixel holds its plain labelId.
    """
    inst = np.asarray(instance_ids)
    if inst.shape != label_ids.shape:
        raise ImageError(
            f"{path}: instance image size {inst.shape[1] if inst.ndim > 1 else '?'}x{inst.shape[0]} does not match "
            f"its labels {label_ids.shape[1]}x{label_ids.shape[0]}"
        )
    if inst.size and int(inst.min()) < 0:
        raise ImageError(f"{path}: negative instance ids")
    cls = class_of(inst)
    wrong = cls >= 256
    if not wrong.any():
        wrong = (inst >= OFFSET) & ~HAS_INSTANCES[cls]
    if wrong.any():
        bad = sorted(set(np.unique(inst[wrong]).tolist()))[:5]
        raise ImageError(f"{path}: ids {bad} are neither labelIds nor instance ids of a class with instances")
    differ = cls != label_ids
    if differ.any():
        y, x = np.argwhere(differ)[0]
        raise ImageError(
            f"{path}: instance ids disagree with the labelIds at {int(differ.sum())} pixels, e.g. ({x}, {y}) has "
            f"instance id {int(inst[y, x])} (class {int(cls[y, x])}) but label id {int(label_ids[y, x])}"
        )


def number_objects(label_ids: np.ndarray, objects: np.ndarray, path: str = "instances") -> np.ndarray:
    """Instance ids (uint16) from ``objects``, a map of object numbers (0 = no object, > 0 = one object).

    Pixels of classes with instances that carry an object number get ``labelId · 1000 + k``, ``k``
    counting each class's objects from 0 in increasing object number; all other pixels keep their labelId.
    Object numbers must not span classes.
    """
    label_ids = np.asarray(label_ids)
    inst = label_ids.astype(np.uint16)
    sel = (objects > 0) & HAS_INSTANCES[label_ids]
    if not sel.any():
        return inst
    objs, first = np.unique(objects[sel], return_index=True)  # sorted object numbers
    cls = label_ids[sel][first].astype(np.int64)
    if len(np.unique(objects[sel].astype(np.int64) * 256 + label_ids[sel])) != len(objs):
        raise ValueError("an object number covers pixels of more than one class")
    k = np.zeros(len(objs), np.int64)
    for c in np.unique(cls):
        where = np.flatnonzero(cls == c)
        if len(where) > MAX_PER_CLASS:
            raise ImageError(f"{path}: {len(where)} {INSTANCE_NAMES[int(c)]} instances; at most {MAX_PER_CLASS} fit")
        k[where] = np.arange(len(where))
    inst[sel] = (cls * OFFSET + k)[np.searchsorted(objs, objects[sel])]
    return inst


def from_components(label_ids: np.ndarray, path: str = "instances") -> np.ndarray:
    """Instance ids from the 8-connected components of each class with instances (an approximation:
    touching objects of one class merge into one instance, an occluded object split in two becomes two).
    Components are numbered in raster order of their first pixel, per class."""
    label_ids = np.asarray(label_ids)
    objects = np.zeros(label_ids.shape, np.int64)
    eight = np.ones((3, 3), bool)
    for c in INSTANCE_LABEL_IDS:
        comp, n = ndimage.label(label_ids == c, structure=eight)
        if n:
            objects[comp > 0] = comp[comp > 0] + objects.max()
    return number_objects(label_ids, objects, path)


def instance_counts(instance_ids: np.ndarray) -> dict[str, int]:
    """Number of instances of each class with instances (all of them, zeros included)."""
    ids = np.unique(np.asarray(instance_ids))
    ids = ids[ids >= OFFSET] // OFFSET
    return {INSTANCE_NAMES[c]: int((ids == c).sum()) for c in INSTANCE_LABEL_IDS}
