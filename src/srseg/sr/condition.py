"""The condition maps of segmentation-assisted SR: class probabilities of the LR image on its own grid.

At test time the semantics come from the LR image itself: a segmenter's softmax on its bicubic upscale,
area-averaged over every s×s block onto the LR grid (:func:`segmenter_maps`). The oracle uses the ground truth
instead (:func:`oracle_maps`): an upper bound, since a real system never has it.
"""

from __future__ import annotations

from pathlib import Path
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


def assisted_upscale_file(input: str | Path, output: str | Path, scale: int, model: str | Path | None = None,
                          seg_model: str | Path | None = None, **kwargs: Any) -> Path:
    """``srseg upscale --segmentation-assisted``: segment the input first, then super-resolve conditioned on it.

    ``seg_model`` (default: the HR-trained PSPNet of seed 0) segments the bicubic upscale; ``model`` defaults to
    the ``sft_sr`` stage's conditioned DCSCN of seed 0. Other arguments as :func:`srseg.sr.infer.upscale_file`.
    """
    from srseg.degrade import upscale
    from srseg.models.pspnet import load_model as load_segmenter
    from srseg.paths import REPO
    from srseg.sr.infer import upscale_file

    def condition(lr: np.ndarray) -> np.ndarray:
        segmenter = load_segmenter(seg_model or REPO.seg_model("hr", 0), NUM_CLASSES)
        return segmenter_maps(segmenter, [upscale(lr, scale)], scale, progress=False)[0]

    if model is None and kwargs.get("dcscn_checkpoint") is None:
        model = REPO.method_sr_model("sft_sr", scale, 0)
    return upscale_file(input, output, scale, model=model, condition=condition, **kwargs)
