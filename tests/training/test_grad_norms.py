"""Per-term gradient norms per layer group (issue 30): which term reaches which group, and measuring them leaves the
model — and so the training — exactly as it was."""

from __future__ import annotations

import numpy as np
import pytest

keras = pytest.importorskip("keras")
tf = pytest.importorskip("tensorflow")

from srseg.methods.joint import JointSetup, gradient_norms, group_of  # noqa: E402
from srseg.models.joint import build_joint  # noqa: E402
from srseg.training.grad_norms import layer_groups  # noqa: E402
from srseg.training.joint_loss import joint_criterion  # noqa: E402
from srseg.training.loop import fit  # noqa: E402

SETUP = JointSetup(w_sr=1.0, w_fa=1.0)


def _model(seed: int = 0) -> keras.Model:
    keras.utils.set_random_seed(seed)
    return build_joint(19, "small", 2, dropout=0.5)


def _batch(n: int = 2, side: int = 16, seed: int = 0) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    rng = np.random.default_rng(seed)
    return (rng.uniform(0, 255, (n, side, side, 3)).astype(np.float32),
            {"labels": rng.integers(0, 19, (n, 2 * side, 2 * side)).astype(np.int32),
             "hr": rng.uniform(0, 255, (n, 2 * side, 2 * side, 3)).astype(np.float32)})


def test_groups_cover_every_trainable_weight_once() -> None:
    model = _model()
    groups = layer_groups(model, group_of)
    assert set(groups) == {"backbone", "seg_head", "sr_branch"}
    assert sorted(i for idx in groups.values() for i in idx) == list(range(len(model.trainable_variables)))
    names = {g: {model.trainable_variables[i].path.split("/")[0] for i in idx} for g, idx in groups.items()}
    assert "stem1_conv" in names["backbone"] and "ppm_1_conv" in names["backbone"]
    assert {"head_cls", "aux_cls", "seg_up_cls"} <= names["seg_head"] and "sr_conv_out" in names["sr_branch"]


def test_each_term_reaches_its_groups_and_the_model_is_left_as_it_was() -> None:
    model = _model()
    state = [v.numpy().copy() for v in model.variables]
    norms = gradient_norms(model, _batch(), SETUP, 0.4, layer_groups(model, group_of))
    assert set(norms) == {f"grad/{t}/{g}" for t in ("ce", "sr", "fa") for g in ("backbone", "seg_head", "sr_branch")}
    assert norms["grad/ce/sr_branch"] == 0.0  # the cross-entropy does not reach the SR branch
    assert norms["grad/sr/seg_head"] == 0.0  # nor the MSE the segmentation head
    for key in ("ce/backbone", "ce/seg_head", "sr/backbone", "sr/sr_branch", "fa/backbone", "fa/seg_head",
                "fa/sr_branch"):
        assert np.isfinite(norms[f"grad/{key}"]) and norms[f"grad/{key}"] > 0, key
    for v, before in zip(model.variables, state, strict=True):  # BN statistics and dropout seeds included
        np.testing.assert_array_equal(v.numpy(), before, err_msg=v.path)
    weighted = gradient_norms(model, _batch(), JointSetup(w_sr=100.0, w_fa=0.0), 0.4, layer_groups(model, group_of))
    np.testing.assert_allclose(weighted["grad/sr/sr_branch"], 100 * norms["grad/sr/sr_branch"], rtol=1e-4)
    assert weighted["grad/fa/backbone"] == 0.0


@pytest.mark.slow  # 18 s: the CI selection is near its 10-min limit
def test_logging_the_norms_does_not_change_the_training() -> None:
    """Two runs of the loop from the same weights, one measuring the norms after every epoch: the same weights."""
    def run(measure: bool) -> list[np.ndarray]:
        model = _model(seed=1)
        groups = layer_groups(model, group_of)
        batch = _batch(seed=2)
        dataset = tf.data.Dataset.from_tensors(_batch(seed=3)).repeat()

        def measure_norms(epoch: int, logs: dict[str, float]) -> bool:
            gradient_norms(model, batch, SETUP, 0.4, groups)
            return False  # True would stop the training (the loop's early-stopping hook)

        hook = measure_norms if measure else None
        keras.utils.set_random_seed(5)
        fit(model, dataset, joint_criterion(w_sr=1.0, w_fa=1.0), keras.optimizers.Adam(1e-3), steps=3,
            steps_per_epoch=1, on_epoch_end=hook)
        return [v.numpy() for v in model.variables]

    for a, b in zip(run(False), run(True), strict=True):
        np.testing.assert_array_equal(a, b)


def test_ce_only_models_log_the_cross_entropy_term_only() -> None:
    keras.utils.set_random_seed(0)
    model = build_joint(19, "small", 2, sr=False)
    groups = layer_groups(model, group_of)
    norms = gradient_norms(model, _batch(), JointSetup(sr=False), 0.4, groups)
    assert set(norms) == {"grad/ce/backbone", "grad/ce/seg_head"} and min(norms.values()) > 0


@pytest.mark.slow  # 12 s: the CI selection is near its 10-min limit
def test_the_cross_entropy_term_is_the_trained_one_with_its_class_weights() -> None:
    """The logged ``ce`` norms are those of the criterion the model trains on (ENet class weights included), not
    of an unweighted cross-entropy written again beside it."""
    keras.utils.set_random_seed(0)
    model = build_joint(19, "small", 2, dropout=0.0)
    groups = layer_groups(model, group_of)
    inputs, targets = _batch()
    weights = np.linspace(0.2, 5.0, 19).astype(np.float32)
    norms = gradient_norms(model, (inputs, targets), SETUP, 0.4, groups, class_weights=weights)
    unweighted = gradient_norms(model, (inputs, targets), SETUP, 0.4, groups)
    assert abs(norms["grad/ce/backbone"] - unweighted["grad/ce/backbone"]) > 1e-3 * unweighted["grad/ce/backbone"]
    ce_only = joint_criterion(weights, 0.4, w_sr=0.0, w_fa=0.0)
    with tf.GradientTape() as tape:
        loss, _ = ce_only(targets, model(inputs, training=True))
    grads = tape.gradient(loss, model.trainable_variables)
    for group in ("backbone", "seg_head"):
        reached = [grads[i] for i in groups[group] if grads[i] is not None]
        expected = np.sqrt(sum(float(tf.reduce_sum(tf.square(g))) for g in reached))
        np.testing.assert_allclose(norms[f"grad/ce/{group}"], expected, rtol=1e-4, err_msg=group)
