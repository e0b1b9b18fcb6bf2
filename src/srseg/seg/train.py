"""PSPNet training: criterion, optimiser, a generic distributed training loop, and the recipe
shared by the ``train_seg`` and ``retrain_seg`` stages.

The pieces are separate so a joint SR+segmentation model can reuse them:

* :func:`seg_loss` — pixel cross-entropy over the trainIds, 255 ignored, optional class weights;
  :func:`pspnet_criterion` adds the auxiliary loss (weight 0.4, §3.3 of the paper).
* :func:`make_optimizer` — SGD with momentum and "poly" decay (lr·(1 − step/total)^0.9, §4.1) or Adam
  with the same decay.
* :func:`fit` — a training loop over any model, ``(inputs, targets)`` dataset and criterion,
  run under a ``tf.distribute`` strategy (default: the default strategy).
* :func:`train_pspnet` — the recipe: seeds, data, model, optimiser, per-epoch validation mIoU,
  DVCLive logging, and the atomic save of the inference model.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from srseg.errors import SrsegError
from srseg.io import atomic_dir
from srseg.labels import IGNORE, NUM_CLASSES
from srseg.models.pspnet import build_pspnet, inference_model, save_model
from srseg.params import Params, SegTrainParams
from srseg.seg.data import Pairs, label_counts, train_dataset
from srseg.seg.evaluate import evaluate_pairs
from srseg.seg.infer import Predictor
from srseg.seeding import set_determinism

log = logging.getLogger(__name__)

Criterion = Callable[[tf.Tensor, Any], tuple[tf.Tensor, dict[str, tf.Tensor]]]


# --------------------------------------------------------------------------------------------
# Criterion
# --------------------------------------------------------------------------------------------


def seg_loss(labels: tf.Tensor, logits: tf.Tensor, class_weights: tf.Tensor | None = None) -> tf.Tensor:
    """Mean pixel cross-entropy of ``logits (N, H, W, C)`` against trainIds ``labels (N, H, W)``.

    Pixels labelled 255 are ignored. With ``class_weights`` (C,) the mean is weighted as in
    PyTorch's ``CrossEntropyLoss(weight=...)``: Σ w[y]·ce / Σ w[y]. Returns 0 for a batch with no
    labelled pixel.
    """
    labels = tf.cast(labels, tf.int32)
    logits = tf.cast(logits, tf.float32)
    valid = tf.not_equal(labels, IGNORE)
    safe = tf.where(valid, labels, tf.zeros_like(labels))
    ce = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=safe, logits=logits)
    w = tf.cast(valid, tf.float32)
    if class_weights is not None:
        w = w * tf.gather(tf.cast(class_weights, tf.float32), safe)
    return tf.math.divide_no_nan(tf.reduce_sum(w * ce), tf.reduce_sum(w))


def pspnet_criterion(aux_weight: float = 0.4, class_weights: np.ndarray | None = None) -> Criterion:
    """``(labels, outputs) → (loss, parts)``: main loss + ``aux_weight`` × auxiliary loss.

    ``outputs`` is a logits tensor or the ``{"seg", "aux"}`` dict of a model built with ``aux=True``.
    """
    cw = None if class_weights is None else tf.constant(class_weights, tf.float32)

    def criterion(labels, outputs):
        if isinstance(outputs, dict):
            main = seg_loss(labels, outputs["seg"], cw)
            parts = {"loss_main": main}
            total = main
            if "aux" in outputs and aux_weight > 0:
                aux = seg_loss(labels, outputs["aux"], cw)
                parts["loss_aux"] = aux
                total = main + aux_weight * aux
            return total, parts
        main = seg_loss(labels, outputs, cw)
        return main, {"loss_main": main}

    return criterion


def enet_class_weights(counts: np.ndarray) -> np.ndarray:
    """ENet weighting (Paszke et al. 2016): w_c = 1 / ln(1.02 + p_c), p_c the class's share of labelled pixels.

    Rare classes get up to ~50× the weight of a class covering everything; classes absent from the
    training labels get 0 (they contribute no pixels anyway).
    """
    counts = np.asarray(counts, np.float64)
    p = counts / max(counts.sum(), 1.0)
    return np.where(counts > 0, 1.0 / np.log(1.02 + p), 0.0).astype(np.float32)


# --------------------------------------------------------------------------------------------
# Optimiser
# --------------------------------------------------------------------------------------------


def make_optimizer(tp: SegTrainParams, total_steps: int) -> keras.optimizers.Optimizer:
    """SGD (momentum) or Adam, both with poly decay of the learning rate to 0 over ``total_steps``.

    Weight decay is decoupled (Keras' ``weight_decay``; for plain SGD it equals L2 regularisation)
    and skips BN parameters and biases.
    """
    schedule = keras.optimizers.schedules.PolynomialDecay(
        initial_learning_rate=tp.lr, decay_steps=max(total_steps, 1), end_learning_rate=0.0, power=tp.poly_power
    )
    wd = tp.weight_decay or None
    if tp.optimizer == "sgd":
        opt = keras.optimizers.SGD(learning_rate=schedule, momentum=tp.momentum, weight_decay=wd)
    else:
        opt = keras.optimizers.Adam(learning_rate=schedule, weight_decay=wd)
    if wd:
        opt.exclude_from_weight_decay(var_names=["gamma", "beta", "bias"])
    return opt


# --------------------------------------------------------------------------------------------
# Training loop
# --------------------------------------------------------------------------------------------


def fit(
    model: keras.Model,
    dataset: tf.data.Dataset,
    criterion: Criterion,
    optimizer: keras.optimizers.Optimizer,
    *,
    epochs: int,
    steps_per_epoch: int,
    strategy: tf.distribute.Strategy | None = None,
    on_epoch_end: Callable[[int, dict[str, float]], None] | None = None,
) -> list[dict[str, float]]:
    """Train ``model`` on ``(inputs, targets)`` batches of ``dataset`` and return per-epoch mean losses.

    ``model``, ``optimizer`` (and its variables) must have been created under ``strategy.scope()``.
    Each replica's loss is divided by the number of replicas, so gradients summed across replicas
    are those of the global batch mean. ``on_epoch_end(epoch, logs)`` runs after each epoch
    (validation, logging); ``epoch`` counts from 1.
    """
    strategy = strategy or tf.distribute.get_strategy()
    replicas = strategy.num_replicas_in_sync
    dist = strategy.experimental_distribute_dataset(dataset)
    variables = model.trainable_variables
    if not optimizer.built:  # create slot variables now, not inside the traced replica step
        with strategy.scope():
            optimizer.build(variables)

    def replica_step(inputs, targets):
        with tf.GradientTape() as tape:
            outputs = model(inputs, training=True)
            loss, parts = criterion(targets, outputs)
            scaled = loss / replicas
        grads = tape.gradient(scaled, variables)
        optimizer.apply_gradients(zip(grads, variables))
        return {"loss": loss, **parts}

    @tf.function
    def train_step(batch):
        per_replica = strategy.run(replica_step, args=batch)
        return {k: strategy.reduce(tf.distribute.ReduceOp.MEAN, v, axis=None) for k, v in per_replica.items()}

    history = []
    it = iter(dist)
    for epoch in range(1, epochs + 1):
        start = time.perf_counter()
        sums: dict[str, float] = {}
        for _ in range(steps_per_epoch):
            out = train_step(next(it))
            for k, v in out.items():
                sums[k] = sums.get(k, 0.0) + float(v)
        logs = {k: v / steps_per_epoch for k, v in sums.items()}
        logs["epoch_seconds"] = time.perf_counter() - start
        history.append(logs)
        if on_epoch_end is not None:
            on_epoch_end(epoch, logs)
    return history


# --------------------------------------------------------------------------------------------
# The recipe shared by train_seg and retrain_seg
# --------------------------------------------------------------------------------------------


def train_pspnet(
    params: Params,
    train: Pairs,
    val: Pairs | None,
    model_out: str | Path,
    live_dir: str | Path,
    *,
    strategy: tf.distribute.Strategy | None = None,
) -> dict[str, Any]:
    """Train a PSPNet with ``params.seg`` on ``train``, validate on ``val`` each epoch, save ``model_out``.

    DVCLive logs ``train/loss`` (and ``train/loss_main``, ``train/loss_aux``) and ``val/miou``,
    ``val/pacc`` per epoch into ``live_dir`` (replaced atomically at the end). Returns
    ``{"history", "train_seconds", "val_miou", "val_pacc"}`` (the last epoch's validation).
    """
    from dvclive import Live

    seg, tp = params.seg, params.seg.train
    set_determinism(params.seed)
    strategy = strategy or tf.distribute.get_strategy()
    total_steps = tp.epochs * tp.steps_per_epoch
    global_batch = tp.batch
    if global_batch % strategy.num_replicas_in_sync:
        raise SrsegError(f"seg.train.batch {global_batch}: must be a multiple of the {strategy.num_replicas_in_sync} replicas")
    dataset = train_dataset(train, batch=global_batch, crop=tp.crop, scale_min=tp.scale_min,
                            scale_max=tp.scale_max, seed=params.seed)
    counts = label_counts(train)  # also checks every label file before any training
    if not counts.any():
        raise SrsegError(f"{train.label_root}: the {train.split} labels have no labelled pixel")
    class_weights = enet_class_weights(counts) if tp.class_weights == "enet" else None
    with strategy.scope():
        model = build_pspnet(NUM_CLASSES, seg.preset, aux=seg.aux_weight > 0, dropout=seg.dropout)
        optimizer = make_optimizer(tp, total_steps)
    criterion = pspnet_criterion(seg.aux_weight, class_weights)
    infer_model = inference_model(model)
    predictor = Predictor(infer_model, "whole")
    log.info("PSPNet %s: %d parameters; %d steps of %d×%d crops, batch %d, %s lr %g, on %d images",
             seg.preset, infer_model.count_params(), total_steps, tp.crop, tp.crop, global_batch,
             tp.optimizer, tp.lr, len(train.images))

    start = time.perf_counter()
    with atomic_dir(live_dir) as live_tmp:
        live = Live(dir=str(live_tmp), dvcyaml=None, save_dvc_exp=False)
        last: dict[str, float] = {}

        def on_epoch_end(epoch: int, logs: dict[str, float]) -> None:
            for k in ("loss", "loss_main", "loss_aux"):
                if k in logs:
                    live.log_metric(f"train/{k}", logs[k])
            msg = f"epoch {epoch}/{tp.epochs}: loss {logs['loss']:.4f} ({logs['epoch_seconds']:.1f} s)"
            if val is not None:
                m = evaluate_pairs(predictor, val)
                live.log_metric("val/miou", m["miou"])
                live.log_metric("val/pacc", m["pacc"])
                last.update(val_miou=m["miou"], val_pacc=m["pacc"])
                msg += f", val mIoU {m['miou']:.3f} PACC {m['pacc']:.3f}"
            live.next_step()
            log.info(msg)

        history = fit(model, dataset, criterion, optimizer, epochs=tp.epochs, steps_per_epoch=tp.steps_per_epoch,
                      strategy=strategy, on_epoch_end=on_epoch_end)
        seconds = time.perf_counter() - start
        live.end()
        save_model(model, model_out)
    return {"history": history, "train_seconds": seconds, **last}
