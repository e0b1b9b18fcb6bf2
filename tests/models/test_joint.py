"""Joint SR + segmentation model (DSRL-style) and its criterion: shapes at HR for odd LR sizes, every weight
trained by the combined loss (also through the project's training loop), the feature-affinity loss against
a hand computation, the saved inference model without the SR branch, and the w_sr = w_fa = 0 ablation."""

from __future__ import annotations

import math
import subprocess
import sys

import numpy as np
import pytest

keras = pytest.importorskip("keras")
tf = pytest.importorskip("tensorflow")

from srseg.errors import SrsegError  # noqa: E402
from srseg.io import save_keras  # noqa: E402
from srseg.models.joint import (  # noqa: E402
    OUTPUT_STRIDE,
    SEG_UP_PREFIX,
    SR_LAYER_PREFIX,
    build_joint,
    skip_stage_factors,
    sr_stage_factors,
)
from srseg.models.pspnet import IMAGENET_MEAN, IMAGENET_STD, inference_model, load_model  # noqa: E402
from srseg.training.joint_loss import feature_affinity_loss, joint_criterion, sr_mse  # noqa: E402
from srseg.training.losses import pspnet_criterion  # noqa: E402

_MODELS: dict[tuple, keras.Model] = {}


def joint(scale: int, **kwargs) -> keras.Model:
    """One seeded small joint model per (scale, options), shared by the tests of this module."""
    key = (scale, tuple(sorted(kwargs.items())))
    if key not in _MODELS:
        keras.utils.set_random_seed(scale)
        _MODELS[key] = build_joint(19, "small", scale, **kwargs)
    return _MODELS[key]


def _batch(h: int, w: int, scale: int, n: int = 2, seed: int = 0) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Random LR images and HR targets (labels with some ignored pixels, HR image)."""
    rng = np.random.default_rng(seed)
    lr = rng.uniform(0, 255, (n, h, w, 3)).astype(np.float32)
    labels = rng.integers(0, 19, (n, h * scale, w * scale)).astype(np.int32)
    labels[:, :2] = 255
    hr = rng.uniform(0, 255, (n, h * scale, w * scale, 3)).astype(np.float32)
    return lr, {"labels": labels, "hr": hr}


def _is_sr(name: str) -> bool:
    return name.startswith(SR_LAYER_PREFIX)


# --------------------------------------------------------------------------------------------
# Shapes
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_outputs_at_exactly_hr_size_for_odd_sizes(scale: int) -> None:
    model = joint(scale)
    head = model.get_layer("head_conv_conv").filters
    seg_only = inference_model(model)
    for h, w in [(24, 24), (23, 31), (1, 5)]:
        out = model(np.zeros((2, h, w, 3), np.float32), training=False)
        assert set(out) == {"seg", "aux", "sr", "feat_seg", "feat_sr"}
        assert tuple(out["seg"].shape) == tuple(out["aux"].shape) == (2, h * scale, w * scale, 19)
        assert tuple(out["sr"].shape) == (2, h * scale, w * scale, 3)
        assert tuple(out["feat_seg"].shape) == (2, math.ceil(h / OUTPUT_STRIDE), math.ceil(w / OUTPUT_STRIDE), head)
        assert tuple(out["feat_sr"].shape[:3]) == (2, h * scale, w * scale) and out["feat_sr"].shape[3] >= 16
        assert all(v.dtype == tf.float32 for v in out.values())
        single = seg_only(np.zeros((1, h, w, 3), np.float32))
        assert tuple(single.shape) == (1, h * scale, w * scale, 19)


def test_sr_stage_factors_multiply_to_8s() -> None:
    assert sr_stage_factors(2) == [2, 2, 2, 2]
    assert sr_stage_factors(3) == [3, 2, 2, 2]
    assert sr_stage_factors(4) == [2, 2, 2, 2, 2]
    for s in range(1, 9):
        assert math.prod(sr_stage_factors(s)) == OUTPUT_STRIDE * s
    def shuffles(model: keras.Model, prefix: str) -> list[int]:
        return [ly.block_size for ly in model.layers if ly.name.startswith(prefix) and ly.name.endswith("_shuffle")]

    assert shuffles(joint(3, sr_skip=False), SR_LAYER_PREFIX) == [3, 2, 2, 2]
    assert shuffles(joint(3), SR_LAYER_PREFIX) == skip_stage_factors(3) == [2, 3, 2, 2]  # ×2 first: the 1/4 skip
    assert shuffles(joint(3), SEG_UP_PREFIX) == [3, 2, 2, 2]


@pytest.mark.parametrize("residual", [True, False])
def test_sr_output_units_and_global_residual(residual: bool) -> None:
    """With the last SR convolution zeroed, "sr" is the bicubic upscale (residual) or the ImageNet mean."""
    model = joint(2, sr_residual=residual)
    out_conv = model.get_layer("sr_conv_out")
    saved = [v.numpy() for v in out_conv.weights]
    try:
        for v in out_conv.weights:
            v.assign(tf.zeros_like(v))
        lr = np.random.default_rng(1).uniform(0, 255, (1, 11, 13, 3)).astype(np.float32)
        sr = model(lr, training=False)["sr"].numpy()
    finally:
        for v, value in zip(out_conv.weights, saved, strict=True):
            v.assign(value)
    if residual:
        expected = tf.image.resize(lr, (22, 26), method="bicubic").numpy()
    else:
        expected = np.broadcast_to(np.asarray(IMAGENET_MEAN, np.float32), (1, 22, 26, 3))
    np.testing.assert_allclose(sr, expected, atol=1e-3)


# --------------------------------------------------------------------------------------------
# Gradients: every weight is trained by the combined loss
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("scale", [2, 4])
def test_every_trainable_weight_gets_a_nonzero_gradient(scale: int) -> None:
    model = joint(scale)
    lr, targets = _batch(24, 24, scale)
    criterion = joint_criterion(w_sr=1.0, w_fa=1.0)
    with tf.GradientTape() as tape:
        loss, _ = criterion(targets, model(lr, training=True))
    variables = model.trainable_variables
    grads = tape.gradient(loss, variables)
    # the whole SR branch is trainable: kernel, γ, β of each conv_bn (reduce + stages + skip), kernel + bias of the
    # RGB conv; and the learned decoder: each stage's conv_bn, kernel + bias of its class conv
    assert sum(_is_sr(v.path) for v in variables) == 3 * (len(sr_stage_factors(scale)) + 2) + 2
    assert sum(v.path.startswith(SEG_UP_PREFIX) for v in variables) == 3 * len(sr_stage_factors(scale)) + 2
    missing = [v.path for v, g in zip(variables, grads, strict=True) if g is None]
    zero = [v.path for v, g in zip(variables, grads, strict=True) if g is not None and float(tf.norm(g)) == 0.0]
    assert not missing and not zero, f"no gradient: {missing}; zero gradient: {zero}"


def test_fa_term_reaches_both_branches_through_the_compared_features() -> None:
    model = joint(4)
    lr, targets = _batch(24, 24, 4)
    names = ["head_conv_conv", "conv5_1_a_conv", "sr_up1_conv", "sr_up5_conv", "head_cls", "sr_conv_out"]
    kernels = [model.get_layer(n).kernel for n in names]
    with tf.GradientTape() as tape:
        _, parts = joint_criterion()(targets, model(lr, training=True))
    grads = dict(zip(names, tape.gradient(parts["loss_fa"], kernels), strict=True))
    for n in names[:4]:  # the layers producing feat_seg / feat_sr and the shared encoder
        assert grads[n] is not None and float(tf.norm(grads[n])) > 0, n
    assert grads["head_cls"] is None and grads["sr_conv_out"] is None  # after the compared features


def test_one_step_of_the_training_loop_moves_every_weight() -> None:
    """The class of bug where the SR head is left out of the optimiser: one step must change every weight."""
    from srseg.training.loop import fit

    keras.utils.set_random_seed(7)
    model = build_joint(19, "small", 2)
    lr, targets = _batch(16, 16, 2)
    before = {v.path: v.numpy().copy() for v in model.trainable_variables}
    data = tf.data.Dataset.from_tensors((lr, targets)).repeat()
    tf.config.run_functions_eagerly(True)  # the same step, without minutes of tracing on a CPU
    try:
        fit(model, data, joint_criterion(), keras.optimizers.SGD(0.01), steps=1, steps_per_epoch=1)
    finally:
        tf.config.run_functions_eagerly(False)
    unchanged = [v.path for v in model.trainable_variables if np.array_equal(v.numpy(), before[v.path])]
    assert not unchanged, f"not updated by the optimiser: {unchanged}"


# --------------------------------------------------------------------------------------------
# Feature-affinity loss
# --------------------------------------------------------------------------------------------


def _fa_by_loops(a: np.ndarray, b: np.ndarray) -> float:
    """DSRL §3.3 written out: per sample, S_ij = cos(F_i, F_j); mean over samples of Σ_ij |ΔS| / (W'H')²."""
    total = 0.0
    n, h, w, _ = a.shape
    for k in range(n):
        pos_a = [a[k, y, x] for y in range(h) for x in range(w)]
        pos_b = [b[k, y, x] for y in range(h) for x in range(w)]
        s = 0.0
        for i in range(h * w):
            for j in range(h * w):
                sa = pos_a[i] @ pos_a[j] / (np.linalg.norm(pos_a[i]) * np.linalg.norm(pos_a[j]))
                sb = pos_b[i] @ pos_b[j] / (np.linalg.norm(pos_b[i]) * np.linalg.norm(pos_b[j]))
                s += abs(sa - sb)
        total += s / (h * w) ** 2
    return total / n


def test_fa_matches_hand_computation_on_2x2_grids() -> None:
    a = np.array([[[[1, 0, 0], [0, 1, 0]], [[1, 1, 0], [0, 0, 2]]],
                  [[[1, 2, 3], [3, 2, 1]], [[0, 1, 1], [1, 0, 1]]]], np.float32)  # (2, 2, 2, 3)
    b = np.array([[[[1, 0], [1, 0]], [[0, 1], [1, 1]]],
                  [[[2, 1], [1, 2]], [[1, 0], [0.5, 3]]]], np.float32)  # (2, 2, 2, 2): other channel count
    want = _fa_by_loops(a, b)
    # sample 0 by hand: S^a off-diagonal (0,1)=0, (0,2)=1/√2, (0,3)=0, (1,2)=1/√2, (1,3)=0, (2,3)=0;
    # S^b: (0,1)=1, (0,2)=0, (0,3)=1/√2, (1,2)=0, (1,3)=1/√2, (2,3)=1/√2; diagonals equal (1)
    # → Σ_ij |ΔS| = 2·(1 + 5/√2) over the 16 ordered pairs
    assert _fa_by_loops(a[:1], b[:1]) == pytest.approx(2 * (1 + 5 / math.sqrt(2)) / 16)
    assert float(feature_affinity_loss(a, b, grid=None)) == pytest.approx(want, abs=1e-6)
    assert float(feature_affinity_loss(a, b, grid=2)) == pytest.approx(want, abs=1e-6)  # pooling 2×2 to 2×2: identity


def test_fa_pools_to_the_grid_with_adaptive_average_pooling() -> None:
    rng = np.random.default_rng(3)
    a = rng.uniform(0.1, 1, (2, 4, 6, 3)).astype(np.float32)
    b = rng.uniform(0.1, 1, (2, 8, 8, 5)).astype(np.float32)  # different size and channels
    pa = a.reshape(2, 2, 2, 2, 3, 3).mean(axis=(2, 4))  # 2×2 blocks of 2×3 pixels
    pb = b.reshape(2, 2, 4, 2, 4, 5).mean(axis=(2, 4))
    assert float(feature_affinity_loss(a, b, grid=2)) == pytest.approx(_fa_by_loops(pa, pb), abs=1e-6)


def test_fa_zero_for_proportional_features_symmetric_and_bounded() -> None:
    rng = np.random.default_rng(4)
    a = rng.normal(size=(3, 5, 7, 4)).astype(np.float32)
    b = rng.normal(size=(3, 10, 14, 6)).astype(np.float32)
    assert float(feature_affinity_loss(a, a)) == pytest.approx(0.0, abs=1e-6)
    assert float(feature_affinity_loss(a, 3.7 * a, grid=None)) == pytest.approx(0.0, abs=1e-6)
    ab, ba = float(feature_affinity_loss(a, b, grid=4)), float(feature_affinity_loss(b, a, grid=4))
    assert ab == pytest.approx(ba, abs=1e-7) and 0.05 < ab <= 2.0
    assert feature_affinity_loss(a.astype(np.float16), b, grid=4).dtype == tf.float32


def test_fa_bad_arguments() -> None:
    a = np.ones((1, 2, 2, 3), np.float32)
    with pytest.raises(SrsegError, match="same size"):
        feature_affinity_loss(a, np.ones((1, 4, 4, 3), np.float32), grid=None)
    for grid in (0, 2.5, True):
        with pytest.raises(SrsegError, match="grid"):
            feature_affinity_loss(a, a, grid=grid)


# --------------------------------------------------------------------------------------------
# Inference model, criterion, arguments
# --------------------------------------------------------------------------------------------


def test_saved_inference_model_has_no_sr_branch_and_same_logits(tmp_path) -> None:
    model = joint(4)
    path = tmp_path / "joint.keras"
    save_keras(inference_model(model), path)
    loaded = load_model(path, 19)
    names = [ly.name for ly in loaded.layers]
    assert not [n for n in names if _is_sr(n) or n.startswith(("feat_", "aux"))]
    dropped = [w for ly in model.layers if _is_sr(ly.name) or ly.name.startswith("aux") for w in ly.weights]
    assert len(loaded.weights) == len(model.weights) - len(dropped)
    assert loaded.count_params() == model.count_params() - sum(int(np.prod(w.shape)) for w in dropped)
    lr = np.random.default_rng(5).uniform(0, 255, (2, 13, 19, 3)).astype(np.float32)
    got = loaded(lr).numpy()
    assert got.shape == (2, 52, 76, 19)
    np.testing.assert_allclose(got, model(lr, training=False)["seg"].numpy(), atol=1e-4)


def test_a_saved_joint_model_loads_where_only_pspnet_is_imported(tmp_path) -> None:
    """The evaluate stage and `srseg segment` import srseg.models.pspnet alone; the joint model's learned upsampling
    (PixelShuffle, CropLikeScaled) must still deserialise there (it did not: the default run's evaluate_joint
    failed with Keras' "could not be deserialized properly")."""
    path = tmp_path / "joint.keras"
    save_keras(inference_model(joint(4)), path)
    code = ("import sys\nfrom srseg.models.pspnet import load_model\n"
            f"m = load_model({str(path)!r}, 19)\n"
            "assert 'srseg.models.joint' in sys.modules\nprint(m.output_shape)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().endswith("(None, None, None, 19)")


def test_joint_model_starts_from_a_saved_pspnet(tmp_path) -> None:
    """seg.retrain.init hr: the joint model's segmentation path gets the HR PSPNet's weights by layer name; the SR
    branch and the auxiliary head stay as initialised."""
    from srseg.models.pspnet import build_pspnet, init_from, save_model

    hr = build_pspnet(19, "small", aux=False, name="hr")
    path = tmp_path / "hr.keras"
    save_model(hr, path)
    model = build_joint(19, "small", 2)  # not the module's shared models: this test changes its weights
    before = {ly.name: ly.get_weights() for ly in model.layers}
    fresh = init_from(model, path)
    own = [ly.name for ly in model.layers
           if ly.weights and (_is_sr(ly.name) or ly.name.startswith(("aux", SEG_UP_PREFIX)))]
    assert set(fresh) == set(own)
    copied = [ly for ly in hr.layers if ly.weights]
    assert copied and all(ly.name not in fresh for ly in copied)
    for ly in copied:
        for a, b in zip(ly.get_weights(), model.get_layer(ly.name).get_weights(), strict=True):
            np.testing.assert_array_equal(a, b)
    for name in fresh:
        for a, b in zip(before[name], model.get_layer(name).get_weights(), strict=True):
            np.testing.assert_array_equal(a, b)


def test_whole_joint_model_round_trips(tmp_path) -> None:
    """The training form (SR branch included) saves and loads with its custom layers registered."""
    model = joint(3)
    path = tmp_path / "full.keras"
    save_keras(model, path)
    loaded = keras.models.load_model(path, compile=False)
    lr = np.random.default_rng(9).uniform(0, 255, (1, 10, 7, 3)).astype(np.float32)
    want, got = model(lr, training=False), loaded(lr, training=False)
    for key in want:
        np.testing.assert_array_equal(got[key].numpy(), want[key].numpy())


def test_zero_sr_and_fa_weights_give_the_plain_segmentation_loss() -> None:
    model = joint(2)
    lr, targets = _batch(24, 24, 2, seed=6)
    cw = np.linspace(0.5, 2.0, 19).astype(np.float32)
    with tf.GradientTape() as tape:
        out = model(lr, training=True)
        loss, parts = joint_criterion(cw, aux_weight=0.4, w_sr=0.0, w_fa=0.0)(targets, out)
    ref, _ = pspnet_criterion(0.4, cw)(targets["labels"], {"seg": out["seg"], "aux": out["aux"]})
    assert float(loss) == float(ref)
    sr_vars = [v for v in model.trainable_variables if _is_sr(v.path)]
    assert all(g is None for g in tape.gradient(loss, sr_vars))  # the ablation: SR branch untrained
    full, parts2 = joint_criterion(cw, aux_weight=0.4, w_sr=0.5, w_fa=2.0)(targets, out)
    assert float(full) == pytest.approx(float(ref + 0.5 * parts2["loss_sr"] + 2.0 * parts2["loss_fa"]), rel=1e-6)
    assert float(parts2["loss_sr"]) > 0 and float(parts2["loss_fa"]) > 0 and float(full) > float(ref)


def test_sr_mse_is_in_imagenet_std_units() -> None:
    hr = np.random.default_rng(8).uniform(0, 255, (2, 6, 5, 3)).astype(np.float32)
    assert float(sr_mse(hr + np.asarray(IMAGENET_STD, np.float32), hr)) == pytest.approx(1.0, rel=1e-5)
    assert float(sr_mse(hr, hr)) == 0.0


def test_bad_arguments_are_one_clear_error() -> None:
    for scale in (0, 2.5, True):
        with pytest.raises(SrsegError, match="scale"):
            build_joint(19, "small", scale)
    with pytest.raises(SrsegError, match="preset"):
        build_joint(19, "resnet18", 2)
    with pytest.raises(SrsegError, match="w_fa"):
        joint_criterion(w_fa=-1.0)


def test_mixed_precision_outputs_are_float32() -> None:
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy("mixed_float16")
    try:
        model = build_joint(19, "small", 2, aux=False)
    finally:
        keras.config.set_dtype_policy(previous)
    lr, targets = _batch(16, 16, 2)
    out = model(lr, training=True)
    assert set(out) == {"seg", "sr", "feat_seg", "feat_sr"}
    assert all(v.dtype == tf.float32 for v in out.values())
    assert model.get_layer("head_conv_conv").compute_dtype == "float16"
    loss, parts = joint_criterion()(targets, out)
    assert "loss_aux" not in parts and np.isfinite(float(loss))


# --------------------------------------------------------------------------------------------
# DSRL's structure: the learned decoder (§3.2 SSSR) and the SR branch's low-level skip (§3.2 SISR)
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kwargs", [{"decoder": "bilinear", "sr_skip": False}, {"decoder": "learned", "sr_skip": False},
                                    {"decoder": "bilinear", "sr_skip": True}, {"sr": False}])
def test_every_form_is_at_hr_size_for_odd_sizes(kwargs: dict) -> None:
    model = joint(3, **kwargs)
    for h, w in [(23, 31), (20, 20), (1, 5)]:
        out = model(np.zeros((1, h, w, 3), np.float32), training=False)
        assert tuple(out["seg"].shape) == tuple(out["aux"].shape) == (1, 3 * h, 3 * w, 19)
        if kwargs.get("sr", True):
            assert tuple(out["sr"].shape) == (1, 3 * h, 3 * w, 3) and out["feat_sr"].shape[1:3] == (3 * h, 3 * w)
        else:
            assert set(out) == {"seg", "aux"}
        assert tuple(inference_model(model)(np.zeros((1, h, w, 3), np.float32)).shape) == (1, 3 * h, 3 * w, 19)


def test_sr_skip_joins_the_stage_2_features_at_a_quarter_of_the_lr_size() -> None:
    model = joint(4)
    assert model.get_layer("sr_skip_conv").input is model.get_layer("conv2_1_out").output
    probe = keras.Model(model.input, [model.get_layer("sr_skip_concat").output, model.get_layer("conv2_1_out").output])
    for h, w in [(20, 20), (23, 31)]:
        joined, c2 = probe(np.zeros((1, h, w, 3), np.float32))
        assert joined.shape[1:3] == c2.shape[1:3] == (math.ceil(h / 4), math.ceil(w / 4))
    assert not [ly for ly in joint(4, sr_skip=False).layers if "skip" in ly.name]


def test_learned_decoder_starts_at_the_bilinear_logits() -> None:
    """The learned upsampling adds a near-zero correction to the bilinear logits: with its class conv at zero the
    learned and bilinear models (same shared weights) predict the same."""
    learned, bilinear = joint(2, sr=False), joint(2, decoder="bilinear", sr=False)
    assert [ly.name for ly in learned.layers if ly.name.startswith(SEG_UP_PREFIX)]
    assert not [ly.name for ly in bilinear.layers if ly.name.startswith(SEG_UP_PREFIX)]
    cls = learned.get_layer(f"{SEG_UP_PREFIX}cls")
    saved = [w.numpy() for w in cls.weights]
    assert 0 < np.abs(saved[0]).max() < 0.01
    shared = {ly.name: ly for ly in learned.layers}
    try:
        for ly in bilinear.layers:
            for a, b in zip(ly.weights, shared[ly.name].weights, strict=True):
                b.assign(a)
        for v in cls.weights:
            v.assign(np.zeros(v.shape, np.float32))
        lr = np.random.default_rng(3).uniform(0, 255, (1, 13, 11, 3)).astype(np.float32)
        np.testing.assert_allclose(learned(lr)["seg"].numpy(), bilinear(lr)["seg"].numpy(), atol=1e-4)
    finally:
        for v, value in zip(cls.weights, saved, strict=True):
            v.assign(value)


def test_ce_only_model_has_no_sr_branch_and_its_loss_is_the_cross_entropy() -> None:
    model = joint(2, sr=False)
    assert not [ly for ly in model.layers if _is_sr(ly.name)]
    lr, targets = _batch(16, 16, 2)
    outputs = model(lr, training=False)
    loss, parts = joint_criterion(w_sr=1.0, w_fa=1.0)(targets, outputs)
    plain, _ = pspnet_criterion(0.4)(targets["labels"], outputs)
    assert set(parts) == {"loss_main", "loss_aux"}
    np.testing.assert_allclose(float(loss), float(plain), rtol=1e-6)


def test_unknown_decoder_is_one_clear_error() -> None:
    with pytest.raises(SrsegError, match="decoder 'nearest'"):
        build_joint(19, "small", 2, decoder="nearest")
