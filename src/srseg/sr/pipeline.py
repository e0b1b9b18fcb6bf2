"""The ``super_resolve`` stage: SR of ``data/lr/x{s}`` into ``data/sr/x{s}`` and its quality metrics.

Same Cityscapes image layout and file names as the LR tree, HR size, Y from the model and Cb/Cr from
bicubic (:func:`srseg.sr.infer.sr_image`), RGB uint8 PNG.  The val split is always written; the train
split only when ``s`` is in ``seg.retrain_scales`` (the segmentation network is retrained on it).
``metrics/sr/x{s}.json`` scores the val split against ``data/raw`` with the sr-bench convention:
``bicubic`` is :func:`srseg.srbench.bicubic_scores` of the HR image, which is exactly the
``data/bicubic`` image (same Pillow round trip), and ``sr`` is the written image.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from tqdm import tqdm

from srseg.errors import ImageError, SrsegError
from srseg.io import atomic_dir, read_image, write_json, write_png
from srseg.layout import list_samples, splits_present
from srseg.metrics.sr import mean_scores, y_scores
from srseg.params import Params
from srseg.srbench import bicubic_scores
from srseg.sr.infer import load_upscaler, sr_image

log = logging.getLogger(__name__)


def sr_splits(params: Params, scale: int) -> list[str]:
    return ["val", "train"] if scale in params.seg.retrain_scales else ["val"]


def super_resolve_tree(params: Params, scale: int, raw_root: str | Path = "data/raw", lr_root: str | Path | None = None,
                       model: str | Path | None = None, out: str | Path | None = None,
                       metrics_path: str | Path | None = None) -> dict[str, Any]:
    """Write the SR tree of ``scale`` atomically and return (and write) its metrics."""
    if scale not in params.scales:
        raise SrsegError(f"--scale {scale}: not in params scales {params.scales}")
    lr_root = Path(lr_root or f"data/lr/x{scale}")
    out = Path(out or f"data/sr/x{scale}")
    metrics_path = Path(metrics_path or f"metrics/sr/x{scale}.json")
    splits = sr_splits(params, scale)
    missing = [s for s in splits if s not in splits_present(lr_root)]
    if missing:
        raise SrsegError(f"{lr_root}: no {' or '.join(missing)} split (did degrade@{scale} run?)")
    samples = [s for split in splits for s in list_samples(lr_root, split)]
    upscaler = load_upscaler(scale, model=model)
    sr = params.sr
    bic_pairs, sr_pairs = [], []
    with atomic_dir(out) as tmp:
        for s in tqdm(samples, desc=f"super_resolve x{scale}", unit="img"):
            lr = read_image(s.image(lr_root))
            img = sr_image(upscaler, lr, tile=sr.tile, overlap=sr.tile_overlap, self_ensemble=sr.self_ensemble)
            if s.split == "val":
                hr = read_image(s.image(raw_root))
                if hr.shape != img.shape:
                    raise ImageError(
                        f"{s.image(lr_root)}: x{scale} of {lr.shape[1]}x{lr.shape[0]} does not match its HR image "
                        f"{s.image(raw_root)} ({hr.shape[1]}x{hr.shape[0]})"
                    )
                bic_pairs.append(bicubic_scores(hr, scale))
                sr_pairs.append(y_scores(hr, img, scale))
            write_png(s.image(tmp), img)
    metrics = {"bicubic": mean_scores(bic_pairs), "sr": mean_scores(sr_pairs)}
    write_json(metrics_path, metrics)
    return metrics
