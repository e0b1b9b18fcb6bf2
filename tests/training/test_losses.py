"""The criteria: ignore label and class weights, the auxiliary loss, MSE, ENet weights."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from srseg.training.losses import enet_class_weights, mse_criterion, pspnet_criterion, seg_loss


def test_seg_loss_ignores_255_and_weights() -> None:
    logits = tf.constant(np.random.default_rng(0).normal(size=(1, 2, 3, 4)), tf.float32)
    labels = tf.constant([[[0, 1, 255], [3, 3, 2]]])
    logp = tf.nn.log_softmax(logits).numpy()[0]
    lab = labels.numpy()[0]
    ce = {(i, j): -logp[i, j, lab[i, j]] for i in range(2) for j in range(3) if lab[i, j] != 255}
    assert float(seg_loss(labels, logits)) == pytest.approx(np.mean(list(ce.values())), rel=1e-5)
    w = np.array([1.0, 2.0, 0.5, 3.0])
    expected = sum(w[lab[k]] * v for k, v in ce.items()) / sum(w[lab[k]] for k in ce)
    assert float(seg_loss(labels, logits, w)) == pytest.approx(expected, rel=1e-5)
    total, parts = pspnet_criterion(0.4)(labels, {"seg": logits, "aux": logits})
    assert float(total) == pytest.approx(1.4 * float(parts["loss_main"]), rel=1e-5)
    assert float(seg_loss(tf.fill((1, 2, 3), 255), logits)) == 0.0


def test_mse_equals_tf_mean_bitwise() -> None:
    rng = np.random.default_rng(1)
    a, b = (tf.constant(rng.normal(0, 50, (4, 24, 24, 1)), tf.float32) for _ in range(2))
    loss, parts = mse_criterion(a, b)
    assert float(loss) == float(tf.reduce_mean(tf.square(b - a))) and parts["mse"] is loss


def test_enet_class_weights() -> None:
    w = enet_class_weights(np.array([90, 10, 0]))
    np.testing.assert_allclose(w, [1 / np.log(1.02 + 0.9), 1 / np.log(1.02 + 0.1), 0.0], rtol=1e-6)
