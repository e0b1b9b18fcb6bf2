"""Training criteria: each is ``criterion(targets, outputs) -> (loss, parts)``.

``loss`` is the replica's share of the global-batch loss: summed over the replicas of a ``tf.distribute``
strategy it is the loss of the whole global batch (with one replica, simply the batch loss), so gradients summed
across replicas are those of the global batch. :func:`global_mean` makes that exact for weighted means, where the
weights of one replica's pixels are not a fixed share of the global total. ``parts`` are named components for the
logs, with the same convention.

* :func:`mse_criterion` — mean squared error on the 0..255 scale (DCSCN, §3.3 of Yamanaka et al. 2017).
* :func:`seg_loss`, :func:`pspnet_criterion` — pixel cross-entropy over the trainIds with the ignore label,
  optional class weights (:func:`enet_class_weights`), and PSPNet's auxiliary loss (weight 0.4, §3.3 of Zhao et
  al. 2017).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import tensorflow as tf

from srseg.labels import IGNORE

Criterion = Callable[[Any, Any], tuple[tf.Tensor, dict[str, tf.Tensor]]]


def global_mean(total: tf.Tensor, count: tf.Tensor) -> tf.Tensor:
    """``total / count`` with ``count`` summed over the replicas in sync: this replica's share of the global mean.

    With one replica this is ``total / count`` (0 when ``count`` is 0).
    """
    ctx = tf.distribute.get_replica_context()
    if ctx is not None and ctx.num_replicas_in_sync > 1:
        count = ctx.all_reduce(tf.distribute.ReduceOp.SUM, count)
    return tf.math.divide_no_nan(total, count)


def mse_criterion(targets: tf.Tensor, outputs: tf.Tensor) -> tuple[tf.Tensor, dict[str, tf.Tensor]]:
    """Mean squared error of ``outputs`` against ``targets`` (same shape), as loss and as part ``mse``."""
    sq = tf.square(tf.cast(outputs, tf.float32) - tf.cast(targets, tf.float32))
    mse = global_mean(tf.reduce_sum(sq), tf.cast(tf.size(sq), tf.float32))
    return mse, {"mse": mse}


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
    return global_mean(tf.reduce_sum(w * ce), tf.reduce_sum(w))


def pspnet_criterion(aux_weight: float = 0.4, class_weights: np.ndarray | None = None) -> Criterion:
    """``(labels, outputs) → (loss, parts)``: main loss + ``aux_weight`` × auxiliary loss.

    ``outputs`` is a logits tensor or the ``{"seg", "aux"}`` dict of a model built with ``aux=True``.
    """
    cw = None if class_weights is None else tf.constant(class_weights, tf.float32)

    def criterion(labels: tf.Tensor, outputs: Any) -> tuple[tf.Tensor, dict[str, tf.Tensor]]:
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
