"""The Cityscapes evaluation protocol: full-resolution predictions on a split, saved as labelIds
PNGs, scored against the HR ``labelIds`` ground truth with :mod:`srseg.metrics.seg` and, where the ground truth
has instances, at the object level with :mod:`srseg.metrics.objects`.

One function serves every variant (HR, bicubic, SR images; HR- or SR-trained models):
:func:`evaluate_split` predicts the images of ``image_root`` and scores them against ``gt_root``;
:func:`run_evaluate` is the ``evaluate_<method>`` stages' whole job. Nothing here knows the methods or imports
training code: a stage is given its images and its model.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from srseg.errors import ImageError, SrsegError
from srseg.io import atomic_dir, read_image, read_instance_ids, read_label, write_json, write_png
from srseg.labels import NUM_CLASSES, to_train_ids
from srseg.layout import Sample, list_samples
from srseg.metrics.objects import ObjectMeter, ObjectSpec
from srseg.metrics.seg import SegMeter, save_per_image
from srseg.params import Params
from srseg.paths import REPO, Paths
from srseg.seg.data import Pairs, check_images_present
from srseg.seg.infer import Predictor, to_label_ids

log = logging.getLogger(__name__)

#: Whole images are batched (same size only) up to this many pixels per forward pass.
BATCH_PIXELS = 1 << 21

def predict_batches(predictor: Predictor, images: Iterable[np.ndarray]) -> Iterator[np.ndarray]:
    """trainIds of each image, in order; whole-image mode batches consecutive same-size images."""
    if predictor.mode != "whole":
        for im in images:
            yield predictor.train_ids(im)
        return
    batch: list[np.ndarray] = []

    def flush() -> Iterator[np.ndarray]:
        probs = predictor.batch_probabilities(np.stack(batch))
        yield from np.argmax(probs, axis=-1).astype(np.uint8)
        batch.clear()

    for im in images:
        if batch and (im.shape != batch[0].shape or (len(batch) + 1) * im.shape[0] * im.shape[1] > BATCH_PIXELS):
            yield from flush()
        batch.append(np.asarray(im))
    if batch:
        yield from flush()


def evaluate_pairs(predictor: Predictor, pairs: Pairs, pred_dir: str | Path | None = None) -> dict[str, Any]:
    """The scores of :func:`evaluate_split` on the roots and split of ``pairs`` (training-time validation)."""
    meter, _ = evaluate_split(predictor, pairs.image_root, pairs.label_root, pred_dir, pairs.split, pairs.what,
                              progress=False, input_scale=pairs.input_scale)
    return meter.result()


def has_instances(gt_root: str | Path, samples: list[Sample]) -> bool:
    """Whether the ground truth has instance images (every source writes all of them or none)."""
    return all(s.instance_ids(gt_root).is_file() for s in samples[:1])


def evaluate_split(
    predictor: Predictor,
    image_root: str | Path,
    gt_root: str | Path,
    pred_dir: str | Path | None,
    split: str = "val",
    what: str = "the images",
    progress: bool = True,
    objects: ObjectSpec | None = None,
    input_scale: int = 1,
) -> tuple[SegMeter, ObjectMeter | None]:
    """Predict every ``split`` image of ``image_root``, write ``<id>_pred_labelIds.png`` under ``pred_dir``
    (``Sample.prediction``; nothing is written when ``pred_dir`` is None) and score against the
    ``labelIds`` of ``gt_root``: the returned meter holds the split's scores and every image's confusion matrix.
    With ``objects`` and instance ground truth under ``gt_root``, the second meter holds the object-level counts
    (:mod:`srseg.metrics.objects`) of every image (None without instances).

    ``input_scale``: the images are that many times smaller than the ground truth (LR input to a model that
    predicts at HR size). Raises SrsegError before predicting anything when images are missing, and ImageError
    when an image's size (× ``input_scale``) differs from its ground truth or a label
    holds ids outside the Cityscapes table. ``pred_dir`` should be a temporary folder of
    :func:`srseg.io.atomic_dir`, so that a failure leaves no partial predictions.
    """
    samples = list_samples(gt_root, split)
    check_images_present(image_root, samples, what)
    meter = SegMeter()
    object_meter = ObjectMeter(objects) if objects is not None and has_instances(gt_root, samples) else None
    gts: list[tuple[Sample, np.ndarray, np.ndarray]] = []

    def images() -> Iterator[np.ndarray]:
        for s in samples:
            gt_path = s.label_ids(gt_root)
            label_ids = read_label(gt_path)
            gt = to_train_ids(label_ids, str(gt_path))
            im = read_image(s.image(image_root))
            if (im.shape[0] * input_scale, im.shape[1] * input_scale) != gt.shape:
                times = "" if input_scale == 1 else f" (×{input_scale} of it expected)"
                raise ImageError(
                    f"{s.image(image_root)}: image is {im.shape[1]}x{im.shape[0]} but its ground truth {gt_path} is "
                    f"{gt.shape[1]}x{gt.shape[0]}{times}; its prediction would be the wrong size"
                )
            gts.append((s, gt, label_ids))
            yield im

    preds = predict_batches(predictor, images())
    for pred in tqdm(preds, total=len(samples), desc=f"segment {what}", unit="img", disable=not progress):
        s, gt, label_ids = gts.pop(0)
        meter.add(gt, pred, name=str(s.image(image_root)), image_id=s.id)
        pred_ids = to_label_ids(pred)
        if object_meter is not None:
            inst_path = s.instance_ids(gt_root)
            object_meter.add(read_instance_ids(inst_path), pred_ids, name=str(s.image(image_root)),
                             gt_label_ids=label_ids, gt_name=str(inst_path))
        if pred_dir is not None:
            write_png(s.prediction(pred_dir), pred_ids)
    return meter, object_meter


def object_spec(params: Params) -> ObjectSpec:
    """The object-level evaluation of ``params.objects``."""
    return ObjectSpec.of(params.objects)


def predictor_for(params: Params, model: Any) -> Predictor:
    """The predictor of ``seg.eval`` (whole images or sliding windows) for ``model``."""
    ev = params.seg.eval
    return Predictor(model, ev.mode, ev.window, ev.overlap)


def run_evaluate(params: Params, name: str, images: Path, model: Path, seed: int, paths: Paths = REPO,
                 input_scale: int = 1, what: str | None = None) -> dict[str, Any]:
    """Stage ``evaluate_<method>@…``: the segmenter ``model`` on the val images under ``images`` → the predictions
    and scores of variant ``name`` (``hr`` or ``<method>_x<s>``) for training seed ``seed``.

    ``input_scale``: the images are that many times smaller than the ground truth (a model that predicts at HR
    size from LR input). ``what`` names the images in messages (default: the variant).
    """
    from srseg.models.pspnet import load_model

    what = what or name
    if not images.is_dir():
        raise SrsegError(f"{images}: no such folder; the images of {name} are missing")
    predictor = predictor_for(params, load_model(model, NUM_CLASSES))
    with atomic_dir(paths.predictions(name, seed)) as tmp:
        meter, objects = evaluate_split(predictor, images, paths.raw, tmp, "val", what,
                                        objects=object_spec(params), input_scale=input_scale)
    metrics = {**meter.result(), "objects": None if objects is None else objects.result()}
    records = {} if objects is None else {f"objects_{k}": v for k, v in objects.per_image().items()}
    save_per_image(paths.seg_per_image(name, seed), *meter.per_image(), records=records)
    write_json(paths.seg_metrics(name, seed), metrics)
    log.info("%s (seed %d): %s%s", name, seed, _short(metrics), "" if objects is None else
             f", pedestrian recall {metrics['objects']['pedestrian_recall']}, precision "
             f"{metrics['objects']['pedestrian_precision']}")
    return metrics


def _short(m: dict[str, Any]) -> str:
    return f"mIoU {m['miou']:.4f}, PACC {m['pacc']:.4f}, mAcc {m['macc']:.4f} on {m['n_images']} images"
