"""The ``super_resolve`` stage: SR of ``data/lr/x{s}`` into ``data/sr/seed{k}/x{s}`` and its quality.

Same Cityscapes image layout and file names as the LR tree, HR size, Y from the model and Cb/Cr from
bicubic (:func:`srseg.sr.infer.sr_image`), RGB uint8 PNG.  The val split is always written; the train
split only when ``s`` is in ``seg.retrain_scales`` (the segmentation network is retrained on it).
``metrics/sr/seed{k}/sr_x{s}.json`` scores the val split against ``data/raw`` with the sr-bench convention
(:func:`srseg.metrics.sr.quality`: the mean and every image's Y-PSNR/SSIM); the bicubic reference is scored by
``degrade@s``.
"""

from __future__ import annotations

import logging
from typing import Any

from tqdm import tqdm

from srseg.errors import ImageError, SrsegError
from srseg.io import atomic_dir, read_image, read_label, write_json, write_png
from srseg.layout import list_samples, splits_present
from srseg.metrics.sr import class_squared_errors, quality, y_scores
from srseg.params import Params, check_scale
from srseg.paths import Paths, variant
from srseg.sr.infer import load_upscaler, sr_image

log = logging.getLogger(__name__)


def sr_splits(params: Params, scale: int) -> list[str]:
    return ["val", "train"] if scale in params.seg.retrain_scales else ["val"]


def super_resolve_tree(params: Params, scale: int, seed: int, paths: Paths) -> dict[str, Any]:
    """Write the SR tree of ``scale`` (model of training run ``seed``) atomically; return and write its metrics."""
    check_scale(scale)
    lr_root, out = paths.lr(scale), paths.sr(scale, seed)
    splits = sr_splits(params, scale)
    missing = [s for s in splits if s not in splits_present(lr_root)]
    if missing:
        raise SrsegError(f"{lr_root}: no {' or '.join(missing)} split (did degrade@{scale} run?)")
    samples = [s for split in splits for s in list_samples(lr_root, split)]
    upscaler = load_upscaler(scale, model=paths.sr_model(scale, seed))
    sr = params.sr
    ids, sr_pairs, sse, counts = [], [], [], []
    with atomic_dir(out) as tmp:
        for s in tqdm(samples, desc=f"super_resolve x{scale}", unit="img"):
            lr = read_image(s.image(lr_root))
            img = sr_image(upscaler, lr, tile=sr.tile, overlap=sr.tile_overlap, self_ensemble=sr.self_ensemble)
            if s.split == "val":
                hr = read_image(s.image(paths.raw))
                if hr.shape != img.shape:
                    raise ImageError(
                        f"{s.image(lr_root)}: x{scale} of {lr.shape[1]}x{lr.shape[0]} does not match its HR image "
                        f"{s.image(paths.raw)} ({hr.shape[1]}x{hr.shape[0]})"
                    )
                ids.append(s.id)
                sr_pairs.append(y_scores(hr, img, scale))
                e, n = class_squared_errors(hr, img, read_label(s.label_train_ids(paths.raw)), scale)
                sse.append(e)
                counts.append(n)
            write_png(s.image(tmp), img)
    metrics = quality(ids, sr_pairs, sse, counts)
    write_json(paths.image_quality(variant("sr", scale), seed), metrics)
    return metrics
