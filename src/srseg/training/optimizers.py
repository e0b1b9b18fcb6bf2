"""The Keras optimizer of a ``SegTrainParams`` recipe: SGD (momentum) or Adam, both with poly decay and decoupled
weight decay."""

from __future__ import annotations

import keras

from srseg.params import SegTrainParams
from srseg.training.schedules import poly_decay


def make_optimizer(tp: SegTrainParams, total_steps: int) -> keras.optimizers.Optimizer:
    """SGD (momentum) or Adam, both with poly decay of the learning rate to 0 over ``total_steps``.

    Weight decay is decoupled (Keras' ``weight_decay``; for plain SGD it equals L2 regularisation)
    and skips BN parameters and biases.
    """
    schedule = poly_decay(tp.lr, total_steps, tp.poly_power)
    wd = tp.weight_decay or None
    if tp.optimizer == "sgd":
        opt = keras.optimizers.SGD(learning_rate=schedule, momentum=tp.momentum, weight_decay=wd)
    else:
        opt = keras.optimizers.Adam(learning_rate=schedule, weight_decay=wd)
    if wd:
        opt.exclude_from_weight_decay(var_names=["gamma", "beta", "bias"])
    return opt
