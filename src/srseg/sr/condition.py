"""The condition maps of segmentation-assisted SR: class probabilities of the LR image on its own grid.

At test time the semantics come from the LR image itself: a segmenter's output on its bicubic upscale,
area-averaged over every s×s block onto the LR grid (:func:`segmenter_maps`). ``combine.sft.condition`` says which
output: ``soft`` (the default) the softmax probabilities, as SFT-GAN conditions on the segmentation network's
probability maps (Wang et al., CVPR 2018, §3: the categorical prior is the probability map of each class);
``hard`` the one-hot of its argmax map. The oracle uses the one-hot ground truth instead (:func:`oracle_maps`)
whatever the choice: an upper bound, since a real system never has it.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
from tqdm import tqdm

from srseg.labels import IGNORE, NUM_CLASSES


def area_average(maps: np.ndarray, scale: int) -> np.ndarray:
    """Mean over every s×s block: HR-grid maps (H, W, C) → the LR grid (H/s, W/s, C)."""
    h, w, c = maps.shape
    return maps.reshape(h // scale, scale, w // scale, scale, c).mean(axis=(1, 3), dtype=np.float64).astype(np.float32)


def one_hot(labels: np.ndarray) -> np.ndarray:
    """(H, W) trainIds → (H, W, C) float32 one-hot; ignored pixels all zero."""
    out = np.zeros((*labels.shape, NUM_CLASSES), np.float32)
    valid = labels != IGNORE
    out[valid, labels[valid]] = 1.0
    return out


def oracle_maps(labels: np.ndarray, scale: int) -> np.ndarray:
    """One-hot ground truth (ignored pixels: all zero) area-averaged onto the LR grid."""
    return area_average(one_hot(labels), scale)


def condition_of(probabilities: np.ndarray, scale: int, condition: Literal["hard", "soft"] = "soft") -> np.ndarray:
    """The condition map of one image from the segmenter's HR-grid probabilities (H, W, C): the probabilities
    themselves (``soft``) or the one-hot of their argmax (``hard``), area-averaged onto the LR grid."""
    if condition == "hard":
        return area_average(one_hot(np.argmax(probabilities, axis=-1).astype(np.uint8)), scale)
    return area_average(probabilities.astype(np.float32, copy=False), scale)


def segmenter_maps(model: Any, images: list[np.ndarray], scale: int, progress: bool = True,
                   condition: Literal["hard", "soft"] = "soft") -> list[np.ndarray]:
    """A segmenter's softmax (``soft``) or argmax one-hot (``hard``) on each (bicubic, HR-size) image, area-averaged
    onto the LR grid."""
    from srseg.seg.infer import Predictor

    predictor = Predictor(model, "whole")
    return [condition_of(predictor.probabilities(im), scale, condition)
            for im in tqdm(images, desc="condition maps", unit="img", leave=False, disable=not progress)]
