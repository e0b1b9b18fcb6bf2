"""Gradient norm of each loss term per layer group, on one batch, leaving the model as it was.

The diagnostic of issue 30: which term of a combined loss (e.g. the joint model's CE + w_sr·MSE + w_fa·FA, DSRL
§3.4) drives which part of the network. Each term's gradient comes from its own ``tape.gradient`` of one forward
pass in training mode; the model's non-trainable state (batch-norm statistics, dropout seed states) is restored
afterwards and no optimizer is involved, so a run that logs these norms trains exactly as one that does not.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import keras
import numpy as np
import tensorflow as tf

#: ``terms(targets, outputs) -> {term: scalar loss}``: the (weighted) terms whose gradients are measured.
Terms = Callable[[Any, Any], Mapping[str, tf.Tensor]]


def layer_groups(model: keras.Model, group_of: Callable[[str], str]) -> dict[str, list[int]]:
    """Indices into ``model.trainable_variables`` of each group, ``group_of(layer name)`` naming a layer's group.

    Groups appear in the order of their first layer; a group without trainable weights is left out.
    """
    index = {id(v): i for i, v in enumerate(model.trainable_variables)}
    groups: dict[str, list[int]] = {}
    for layer in model.layers:
        for v in layer.trainable_weights:
            if id(v) in index:
                groups.setdefault(group_of(layer.name), []).append(index.pop(id(v)))
    return groups


def term_gradient_norms(model: keras.Model, inputs: Any, targets: Any, terms: Terms,
                        groups: Mapping[str, list[int]]) -> dict[str, float]:
    """``{"{term}/{group}": ‖∂term/∂θ_group‖₂}`` on one batch (a weight a term does not reach adds 0).

    The forward pass runs in training mode, as the training step's does; every non-trainable variable of the
    model (batch-norm moving statistics, dropout seed states) is restored afterwards.
    """
    variables = model.trainable_variables
    state = [v for v in model.variables if not v.trainable]
    saved = [np.array(v.numpy()) for v in state]
    try:
        with tf.GradientTape(persistent=True) as tape:
            values = terms(targets, model(inputs, training=True))
        norms: dict[str, float] = {}
        for term, value in values.items():
            grads = tape.gradient(value, variables)  # None for a weight the term does not reach
            for group, idx in groups.items():
                sq = [tf.reduce_sum(tf.square(tf.cast(grads[i], tf.float32))) for i in idx if grads[i] is not None]
                norms[f"{term}/{group}"] = float(tf.sqrt(tf.add_n(sq))) if sq else 0.0
        del tape
    finally:
        for v, value in zip(state, saved, strict=True):
            v.assign(value)
    return norms
