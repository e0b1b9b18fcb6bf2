"""The condition maps of segmentation-assisted SR: class probabilities of the LR image on its own grid.

At test time the semantics come from the LR image itself: a segmenter's softmax on its bicubic upscale,
area-averaged over every s×s block onto the LR grid (:func:`segmenter_maps`). The oracle uses the ground truth
instead (:func:`oracle_maps`): an upper bound, since a real system never has it.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from tqdm import tqdm

from srseg.labels import IGNORE, NUM_CLASSES


def area_average(maps: np.ndarray, scale: int) -> np.ndarray:
    """Mean over every s×s block: HR-grid maps (H, W, C) → the LR grid (H/s, W/s, C)."""
    h, w, c = maps.shape
    return maps.reshape(h // scale, scale, w // scale, scale, c).mean(axis=(1, 3), dtype=np.float64).astype(np.float32)


def oracle_maps(labels: np.ndarray, scale: int) -> np.ndarray:
    """One-hot ground truth (ignored pixels: all zero) area-averaged onto the LR grid."""
    one_hot = np.zeros((*labels.shape, NUM_CLASSES), np.float32)
    valid = labels != IGNORE
    one_hot[valid, labels[valid]] = 1.0
    return area_average(one_hot, scale)


def segmenter_maps(model: Any, images: list[np.ndarray], scale: int, progress: bool = True) -> list[np.ndarray]:
    """A segmenter's softmax on each (bicubic, HR-size) image, area-averaged onto the LR grid."""
    from srseg.seg.infer import Predictor

    predictor = Predictor(model, "whole")
    return [area_average(predictor.probabilities(im), scale)
            for im in tqdm(images, desc="condition maps", unit="img", leave=False, disable=not progress)]
