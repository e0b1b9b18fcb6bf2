"""Learning-rate schedules as Keras ``LearningRateSchedule`` objects (evaluated by the optimizer at its step).

* :class:`StepHalvings` — DCSCN's recipe: the rate halved at evenly spaced steps, never below a floor.
* :func:`poly_decay` — PSPNet's "poly" policy, lr·(1 − step/total)^power (§4.1 of Zhao et al. 2017).
"""

from __future__ import annotations

import math
from typing import Any

import keras
import tensorflow as tf


@keras.saving.register_keras_serializable(package="srseg")
class StepHalvings(keras.optimizers.schedules.LearningRateSchedule):
    """``lr`` halved at steps ``ceil(total·k/(halvings+1))``, k = 1..halvings, and never below ``floor``.

    The rates are computed once in Python (float64, then float32 like a variable assignment) and looked up by the
    number of boundaries passed, so the schedule gives exactly the rates of :meth:`rate`.
    """

    def __init__(self, lr: float, total_steps: int, halvings: int, floor: float) -> None:
        self.lr, self.total_steps, self.halvings, self.floor = float(lr), int(total_steps), int(halvings), float(floor)
        if self.total_steps > 0:
            self.boundaries = [math.ceil(self.total_steps * k / (self.halvings + 1))
                               for k in range(1, self.halvings + 1)]
        else:
            self.boundaries = []
        self.rates = [max(self.lr * 0.5**h, self.floor) for h in range(len(self.boundaries) + 1)]

    def rate(self, step: int) -> float:
        """The rate at ``step`` (0-based) as a Python float (for logs)."""
        return self.rates[sum(step >= b for b in self.boundaries)]

    def __call__(self, step: Any) -> tf.Tensor:
        step = tf.cast(step, tf.int64)
        passed = tf.add_n([tf.cast(step >= b, tf.int32) for b in self.boundaries]) if self.boundaries else 0
        return tf.gather(tf.constant(self.rates, tf.float32), passed)

    def get_config(self) -> dict[str, Any]:
        return {"lr": self.lr, "total_steps": self.total_steps, "halvings": self.halvings, "floor": self.floor}


def poly_decay(lr: float, total_steps: int, power: float) -> keras.optimizers.schedules.LearningRateSchedule:
    """lr·(1 − step/total)^power, reaching 0 at ``total_steps``."""
    return keras.optimizers.schedules.PolynomialDecay(
        initial_learning_rate=lr, decay_steps=max(total_steps, 1), end_learning_rate=0.0, power=power
    )
