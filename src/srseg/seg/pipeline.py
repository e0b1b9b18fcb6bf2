"""The segmentation stages as functions of the pipeline's :class:`srseg.paths.Paths` (the stage scripts call these).

* :func:`run_train_seg` — ``train_seg@{seed}``: PSPNet on the HR train split (or a user's ``seg.weights`` file,
  checked and copied).
* :func:`run_retrain_seg` — ``retrain_seg@{scale}-{seed}`` / ``retrain_bicubic@…``: PSPNet on the train images
  of a degraded variant (SR or bicubic ×s), validated on that variant (``seg.retrain``: by default a fine-tune of
  the HR model).
* :func:`run_evaluate` — ``evaluate_{method}@…``: a method's segmenter on its val images → predictions and scores.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Literal

from srseg import methods
from srseg.errors import SrsegError
from srseg.io import atomic_dir, write_json
from srseg.labels import NUM_CLASSES
from srseg.metrics.objects import ObjectSpec
from srseg.metrics.seg import save_per_image
from srseg.params import Params, check_scale
from srseg.paths import REPO, Paths, variant
from srseg.seg.data import split_pairs
from srseg.seg.evaluate import evaluate_split
from srseg.seg.infer import Predictor

log = logging.getLogger(__name__)

RetrainOn = Literal["sr", "bicubic"]
#: What a retrained PSPNet trains on: its model name and the images (by scale and seed).
_RETRAIN = {"sr": ("retrain_sr", lambda p, s, k: p.sr(s, k), "SR ×{s} (super_resolve@{s}-{k})"),
            "bicubic": ("retrain_bicubic", lambda p, s, k: p.bicubic(s), "bicubic ×{s} (degrade@{s})")}


def object_spec(params: Params) -> ObjectSpec:
    """The object-level evaluation of ``params.objects``."""
    o = params.objects
    return ObjectSpec(tuple(o.classes), tuple(o.size_bins), o.iou, o.min_size)


def predictor_for(params: Params, model: Any) -> Predictor:
    ev = params.seg.eval
    return Predictor(model, ev.mode, ev.window, ev.overlap)


def _short(m: dict[str, Any]) -> str:
    return f"mIoU {m['miou']:.4f}, PACC {m['pacc']:.4f}, mAcc {m['macc']:.4f} on {m['n_images']} images"


def run_train_seg(params: Params, seed: int, paths: Paths = REPO, strategy: Any = None) -> Any:
    """Stage ``train_seg@{seed}``: ``models/seg/seed{k}/hr.keras`` and its training log."""
    from srseg.seg.train import summary_line, train_pspnet, use_weights

    model_out, live_dir = paths.seg_model("hr", seed), paths.train_log("seg_hr", seed)
    val = split_pairs(paths.raw, paths.raw, "val", "HR")
    if params.seg.weights:
        history = use_weights(Path(params.seg.weights), val, model_out, live_dir)
    else:
        train = split_pairs(paths.raw, paths.raw, "train", "HR")
        history = train_pspnet(params, train, val, model_out, live_dir, seed=seed, strategy=strategy)
    log.info("%s: %s", model_out, summary_line(history))
    return history


def run_retrain_seg(params: Params, scale: int, seed: int, on: RetrainOn = "sr", paths: Paths = REPO,
                    strategy: Any = None) -> Any:
    """Stage ``retrain_seg@{scale}-{seed}`` (``on`` SR) / ``retrain_bicubic@…``: PSPNet on the ×``scale`` ``on``
    train images, validated on the same kind of val images, by ``seg.retrain`` (fine-tuning ``train_seg``'s model
    by default)."""
    from srseg.seg.train import retrain_init, retrain_recipe, summary_line, train_pspnet

    check_scale(scale)
    if on not in _RETRAIN:
        raise SrsegError(f"--on {on}: must be one of {', '.join(_RETRAIN)}")
    name, image_root, what = _RETRAIN[on]
    what = what.format(s=scale, k=seed)
    images = image_root(paths, scale, seed)
    if not images.is_dir():
        raise SrsegError(f"{images}: no such folder; the {what} images are missing")
    train = split_pairs(images, paths.raw, "train", what)
    val = split_pairs(images, paths.raw, "val", what)
    model_name = variant(name, scale)
    model_out = paths.seg_model(model_name, seed)
    history = train_pspnet(params, train, val, model_out, paths.train_log(f"seg_{model_name}", seed), seed=seed,
                           stage=methods.get(name).stage, recipe=retrain_recipe(params),
                           init=retrain_init(params, paths, seed), strategy=strategy)
    log.info("%s: %s", model_out, summary_line(history))
    return history


def run_evaluate(params: Params, method: str, scale: int | None, seed: int, paths: Paths = REPO) -> dict[str, Any]:
    """Stage ``evaluate_{method}@…``: the method's segmenter on its val images → predictions and scores."""
    from srseg.models.pspnet import load_model

    m = methods.get(method)
    if m.scales is None:
        if scale is not None:
            raise SrsegError(f"--method {method}: takes no --scale")
    else:
        if scale is None:
            raise SrsegError(f"--method {method}: needs --scale")
        check_scale(scale)
    image_root = m.image_root(paths, scale, seed)
    name = m.variant(scale)
    what = m.label_at(scale)
    if not image_root.is_dir():
        raise SrsegError(f"{image_root}: no such folder; the images of {name} (made by the {m.stage} stage) are "
                         f"missing")
    predictor = predictor_for(params, load_model(m.model_path(paths, scale, seed), NUM_CLASSES))
    with atomic_dir(paths.predictions(name, seed)) as tmp:
        meter, objects = evaluate_split(predictor, image_root, paths.raw, tmp, "val", what,
                                        objects=object_spec(params), input_scale=scale if m.images == "lr" else 1)
    metrics = {**meter.result(), "objects": None if objects is None else objects.result()}
    records = {} if objects is None else {f"objects_{k}": v for k, v in objects.per_image().items()}
    save_per_image(paths.seg_per_image(name, seed), *meter.per_image(), records=records)
    write_json(paths.seg_metrics(name, seed), metrics)
    log.info("%s (seed %d): %s%s", name, seed, _short(metrics), "" if objects is None else
             f", pedestrian recall {metrics['objects']['pedestrian_recall']}")
    return metrics
