"""The PSPNet training recipe shared by ``train_seg`` and ``retrain_seg``, on :mod:`srseg.training`.

PSPNet's recipe (§4.1 of Zhao et al. 2017) sized for a CPU: SGD with momentum or Adam, both with "poly" decay
lr·(1 − step/total)^0.9 and decoupled weight decay (BN parameters and biases excluded); pixel cross-entropy with
the auxiliary loss (weight 0.4) and optional ENet class weights; random resize / mirror / crop augmentation
(:mod:`srseg.seg.data`; for the degradation sweep's control also a random bicubic down-and-up of each crop,
:class:`~srseg.seg.data.Blur`); validation mIoU and PACC after each epoch, logged with DVCLive. The saved model
carries its training record (:func:`model_record`).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import tensorflow as tf

from srseg import __version__, runtime
from srseg.errors import SrsegError
from srseg.io import model_metadata
from srseg.labels import NUM_CLASSES, TRAIN_NAMES
from srseg.models.pspnet import build_pspnet, inference_model, init_from, save_model
from srseg.params import Params, SegTrainParams
from srseg.paths import Paths
from srseg.provenance import MODEL_PARAMS, data_description
from srseg.provenance import model_record as provenance_record
from srseg.seg.data import Blur, Pairs, label_counts, split_pairs, train_dataset
from srseg.seg.evaluate import evaluate_pairs
from srseg.seg.infer import Predictor
from srseg.training.loop import History, train
from srseg.training.losses import enet_class_weights, pspnet_criterion
from srseg.training.optimizers import make_optimizer

log = logging.getLogger(__name__)


def started_from(init: Path | None) -> str:
    """The training record's note of the model a training started from (seed folder and file: no machine's path)."""
    return "" if init is None else f", fine-tuned from {init.parent.name}/{init.name}"


def model_record(params: Params, train_pairs: Pairs, seed: int, stage: str = "train_seg",
                 keys: tuple[str, ...] = MODEL_PARAMS["train_seg"], init: Path | None = None) -> dict[str, Any]:
    """What a PSPNet that ``stage`` trained on ``train_pairs`` (from ``init``) is for (:mod:`srseg.provenance`);
    ``keys``: the params it depends on."""
    trained_on = (f"{train_pairs.what} {train_pairs.split} images ({len(train_pairs.images)}) of "
                  f"{data_description(params)}{started_from(init)}")
    return provenance_record(params, stage, keys, task="segmentation", architecture=f"PSPNet {params.seg.preset}",
                             seed=seed, trained_on=trained_on)


def retrain_recipe(params: Params) -> SegTrainParams:
    """``seg.train`` with ``seg.retrain``'s epochs and learning rate: the recipe of the PSPNets trained on degraded
    images (``retrain_seg``, ``retrain_bicubic``, ``train_joint``)."""
    r, tp = params.seg.retrain, params.seg.train
    return tp.model_copy(update={"epochs": tp.epochs if r.epochs is None else r.epochs,
                                 "lr": tp.lr if r.lr is None else r.lr})


def retrain_init(params: Params, paths: Paths, seed: int) -> Path | None:
    """The model the retrained PSPNets start from: ``train_seg``'s of ``seed`` (``seg.retrain.init: hr``), or
    None (random weights)."""
    if params.seg.retrain.init == "scratch":
        return None
    path = paths.seg_model("hr", seed)
    if not path.is_file():
        raise SrsegError(f"{path}: no such file; seg.retrain.init hr starts from train_seg@{seed}'s model")
    return path


def run_retrain(params: Params, name: str, stage: str, model_params: tuple[str, ...], images: Path, what: str,
                seed: int, paths: Paths, strategy: tf.distribute.Strategy | None = None, *,
                recipe: SegTrainParams | None = None, blur: Blur | None = None) -> History:
    """A PSPNet retrained on the train images under ``images`` (a degraded variant, ``what``), validated on its
    val images, by ``seg.retrain`` (fine-tuning ``train_seg``'s model by default) → ``models/seg/seed{k}/{name}``
    and its DVCLive log ``seg_{name}``; its record hashes ``model_params`` and names ``stage``. ``recipe``
    replaces :func:`retrain_recipe`; ``blur`` degrades every train crop (:func:`srseg.seg.data.blur_crop`)."""
    if not images.is_dir():
        raise SrsegError(f"{images}: no such folder; the {what} images are missing")
    train_pairs = split_pairs(images, paths.raw, "train", what)
    val = split_pairs(images, paths.raw, "val", what)
    model_out = paths.seg_model(name, seed)
    history = train_pspnet(params, train_pairs, val, model_out, paths.train_log(f"seg_{name}", seed), seed=seed,
                           stage=stage, model_params=model_params, recipe=recipe or retrain_recipe(params),
                           init=retrain_init(params, paths, seed), strategy=strategy, blur=blur)
    log.info("%s: %s", model_out, summary_line(history))
    return history


def train_pspnet(
    params: Params,
    train_pairs: Pairs,
    val: Pairs | None,
    model_out: str | Path,
    live_dir: str | Path,
    *,
    seed: int,
    stage: str = "train_seg",
    model_params: tuple[str, ...] = MODEL_PARAMS["train_seg"],
    recipe: SegTrainParams | None = None,
    init: Path | None = None,
    strategy: tf.distribute.Strategy | None = None,
    blur: Blur | None = None,
) -> History:
    """Train a PSPNet with ``params.seg`` on ``train_pairs``, validate on ``val`` each epoch, save ``model_out``
    with the training record of ``stage`` (the params its model depends on: ``model_params``).

    ``recipe`` replaces ``seg.train`` (:func:`retrain_recipe`); ``init`` is a saved PSPNet to start from
    (:func:`srseg.models.pspnet.init_from`) instead of random weights; ``blur`` degrades every train crop.
    DVCLive logs ``train/loss`` (and ``train/loss_main``, ``train/loss_aux``) and ``val/miou``, ``val/pacc`` per
    epoch into ``live_dir``.
    ``strategy`` defaults to the one of ``runtime.distribute``.
    """
    seg, tp = params.seg, recipe or params.seg.train
    runtime.set_determinism(seed)
    strategy = strategy or runtime.strategy(params.runtime.distribute)
    total_steps = tp.epochs * tp.steps_per_epoch
    if tp.batch % strategy.num_replicas_in_sync:
        raise SrsegError(f"seg.train.batch {tp.batch}: must be a multiple of the {strategy.num_replicas_in_sync} "
                         f"replicas")
    dataset = train_dataset(train_pairs, batch=tp.batch, crop=tp.crop, scale_min=tp.scale_min,
                            scale_max=tp.scale_max, seed=seed, blur=blur)
    counts = label_counts(train_pairs)  # also checks every label file before any training
    if not counts.any():
        raise SrsegError(f"{train_pairs.label_root}: the {train_pairs.split} labels have no labelled pixel")
    class_weights = enet_class_weights(counts) if tp.class_weights == "enet" else None
    policy = params.runtime.precision.seg
    with runtime.precision(policy), strategy.scope():
        model = build_pspnet(NUM_CLASSES, seg.preset, aux=seg.aux_weight > 0, dropout=seg.dropout,
                             sync_bn=strategy.num_replicas_in_sync > 1)
        optimizer = runtime.wrap_optimizer(make_optimizer(tp, total_steps), policy)
    start = "random weights" if init is None else f"{init} (fresh: {', '.join(init_from(model, init)) or '-'})"
    predictor = Predictor(inference_model(model), "whole")
    log.info("PSPNet %s: %d parameters from %s; %d steps of %d×%d crops%s, batch %d, %s lr %g, %s, on %d images",
             seg.preset, inference_model(model).count_params(), start, total_steps, tp.crop, tp.crop,
             "" if blur is None else f" ({blur.describe()})", tp.batch, tp.optimizer, tp.lr, policy,
             len(train_pairs.images))

    def epoch_metrics(epoch: int, logs: dict[str, float]) -> dict[str, float]:
        out = {f"train/{k}": logs[k] for k in ("loss", "loss_main", "loss_aux") if k in logs}
        if val is not None:
            m = evaluate_pairs(predictor, val)
            out.update({"val/miou": m["miou"], "val/pacc": m["pacc"]})
        return out

    record = model_record(params, train_pairs, seed, stage, model_params, init)
    return train(model, dataset, pspnet_criterion(seg.aux_weight, class_weights), optimizer, steps=total_steps,
                 steps_per_epoch=tp.steps_per_epoch, live_dir=live_dir,
                 save=lambda: save_model(model, model_out, record),
                 epoch_metrics=epoch_metrics, strategy=strategy, name="PSPNet",
                 memory_params=f"seg.train.crop {tp.crop}, seg.train.batch {tp.batch}")


def use_weights(weights: Path, val: Pairs, model_out: Path, live_dir: Path) -> History:
    """``seg.weights``: check the user's model (19 classes, RGB), save it as ``model_out``, log its val scores.

    The copy keeps the file's training record, noting where it was copied from; a file without one gets a record
    saying that what it was trained on is unknown.
    """
    from srseg.models.pspnet import load_model

    model = load_model(weights, NUM_CLASSES)
    record = model_metadata(weights)
    if record is None:
        record = {"task": "segmentation", "architecture": model.name, "classes": list(TRAIN_NAMES),
                  "data_source": "unknown", "trained_on": "unknown data (seg.weights file without a training record)",
                  "srseg_version": __version__}
    record = {**record, "copied_from": str(weights)}
    predictor = Predictor(model, "whole")

    def epoch_metrics(epoch: int, logs: dict[str, float]) -> dict[str, float]:
        m = evaluate_pairs(predictor, val)
        return {"val/miou": m["miou"], "val/pacc": m["pacc"]}

    return train(model, None, None, None, steps=0, steps_per_epoch=1, live_dir=live_dir,
                 save=lambda: save_model(model, model_out, record), epoch_metrics=epoch_metrics,
                 summary={"weights": str(weights)}, name="seg.weights")


def run_train_seg(params: Params, seed: int, paths: Paths, strategy: tf.distribute.Strategy | None = None
                  ) -> History:
    """Stage ``train_seg@{seed}``: ``models/seg/seed{k}/hr.keras`` and its training log — PSPNet on the HR train
    split, or a user's ``seg.weights`` file, checked and copied."""
    model_out, live_dir = paths.seg_model("hr", seed), paths.train_log("seg_hr", seed)
    val = split_pairs(paths.raw, paths.raw, "val", "HR")
    if params.seg.weights:
        history = use_weights(Path(params.seg.weights), val, model_out, live_dir)
    else:
        train_pairs = split_pairs(paths.raw, paths.raw, "train", "HR")
        history = train_pspnet(params, train_pairs, val, model_out, live_dir, seed=seed, strategy=strategy)
    log.info("%s: %s", model_out, summary_line(history))
    return history


def summary_line(history: History) -> str:
    """The last validation scores and the time, for the stage's log."""
    last: dict[str, Any] = history.last
    return (f"val mIoU {last.get('val/miou', float('nan')):.4f}, PACC {last.get('val/pacc', float('nan')):.4f} "
            f"after {history.seconds:.0f} s")
