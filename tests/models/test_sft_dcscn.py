"""Conditioned DCSCN (SFT layers / extra input channels): identity start, wiring, tiling, save/load, bad input."""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf

from srseg.io import save_keras
from srseg.models.dcscn import DcscnConfig, ModelError, build_dcscn, model_config
from srseg.models.sft_dcscn import (
    ConditionConfig,
    build_conditioned_dcscn,
    check_condition,
    condition_layers,
    conditioned_config,
    is_conditioned,
    load_conditioned,
    transfer_dcscn_weights,
)
from srseg.sr.infer import tile_windows

C = 19


def _plain(scale: int, seed: int = 1) -> keras.Model:
    keras.utils.set_random_seed(seed)
    return build_dcscn(DcscnConfig.from_preset("c-dcscn", scale))


def _conditioned(scale: int, mode: str, seed: int = 2, **kw: object) -> keras.Model:
    keras.utils.set_random_seed(seed)
    return build_conditioned_dcscn(DcscnConfig.from_preset("c-dcscn", scale), C, mode, **kw)


def _feed(scale: int, h: int = 9, w: int = 11, n: int = 1, seed: int = 0, cond: str = "probs") -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    c = {"zero": np.zeros((n, h, w, C)), "probs": rng.dirichlet(np.full(C, 0.1), size=(n, h, w))}[cond]
    return {"lr": (rng.random((n, h, w, 1)) * 255).astype(np.float32),
            "bicubic": (rng.random((n, h * scale, w * scale, 1)) * 255).astype(np.float32),
            "cond": c.astype(np.float32)}


def _run(model: keras.Model, feed: dict[str, np.ndarray]) -> np.ndarray:
    return model(feed, training=False).numpy()


def _perturb(model: keras.Model, seed: int = 3, std: float = 0.3) -> None:
    """Random weights in the condition path (γ/β convs; cnn1's condition slices in concat mode)."""
    rng = np.random.default_rng(seed)
    if conditioned_config(model).mode == "concat":  # cond is on 0..1, lr on 0..255: weights ×100 to matter
        kernel, bias = model.get_layer("cnn1").get_weights()
        kernel[:, :, 1:, :] = rng.normal(0, 100 * std, kernel[:, :, 1:, :].shape)
        model.get_layer("cnn1").set_weights([kernel, bias])
        return
    for layer in condition_layers(model):
        if layer.name.endswith(("_gamma", "_beta")):
            layer.set_weights([rng.normal(0, std, w.shape).astype(np.float32) for w in layer.get_weights()])


def _small_weights(model: keras.Model, factor: float = 0.5) -> None:
    """Shrink He-init weights so the residual is tens of grey levels, as a trained model's, not hundreds."""
    for layer in model.layers:
        if layer.get_weights() and "prelu" not in layer.name:
            layer.set_weights([w * factor for w in layer.get_weights()])


# --- structure -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("mode", ["sft", "concat"])
def test_shared_layers_keep_plain_names_and_shapes(mode: str) -> None:
    plain, cond = _plain(3), _conditioned(3, mode)
    assert [t.name for t in cond.inputs] == ["lr", "bicubic", "cond"] and cond.inputs[2].shape[-1] == C
    for layer in plain.layers:
        if layer.name in ("lr", "bicubic"):
            continue
        other = cond.get_layer(layer.name)
        assert type(other) is type(layer)
        shapes = [tuple(w.shape) for w in layer.weights]
        if mode == "concat" and layer.name == "cnn1":
            shapes = [(3, 3, 1 + C, 32), (32,)]
        assert [tuple(w.shape) for w in other.weights] == shapes, layer.name
    assert model_config(cond) == model_config(plain)
    assert is_conditioned(cond) and not is_conditioned(plain)
    added = {layer.name for layer in condition_layers(cond)}
    if mode == "sft":  # shared net + a γ and a β pair per feature layer, all 1×1
        assert len(added) == 3 + 7 * 4 and all(cond.get_layer(n).kernel_size == (1, 1) for n in added)
    else:
        assert added == set()


def test_sft_on_a_subset_of_feature_layers() -> None:
    model = _conditioned(2, "sft", sft_layers=(1, 4))
    sft = sorted(layer.name for layer in model.layers if layer.name.startswith("sft") and "_" not in layer.name)
    assert sft == ["sft1", "sft4"] and model.get_layer("sft4_gamma").filters == 18  # cnn4 has 18 filters
    with pytest.raises(ModelError, match="outside the feature layers 1..7"):
        _conditioned(2, "sft", sft_layers=(0, 8))
    with pytest.raises(ModelError, match="unknown conditioning mode 'film'"):
        _conditioned(2, "film")


# --- identity start --------------------------------------------------------------------------------------

@pytest.mark.parametrize("mode", ["sft", "concat"])
@pytest.mark.parametrize("scale", [2, 3, 4])
def test_transferred_model_equals_plain_for_zero_and_random_cond(mode: str, scale: int) -> None:
    """A seeded He-init plain DCSCN, transferred: the conditioned output is the plain one for any cond.

    SFT: bitwise, as F·(1 + 0) + 0 = F exactly in IEEE arithmetic and every other op is the plain graph's op on
    the same shapes.  Concat: the condition channels contribute exact zeros, but cnn1 is a 20-channel conv whose
    library may sum the lr taps in another order (oneDNN's AVX-512 kernels do), an ulp or two that seven more layers
    carry to the output. Allowed: 1e-6 relative, or 2e-6 of the output's range (measured: at most 5.1e-7 of it on an
    AVX-512 Zen 5, within 1e-6 relative on AVX2; condition weights off by 1e-3 instead of zero give 9e-6).
    """
    plain, cond = _plain(scale), _conditioned(scale, mode)
    transfer_dcscn_weights(plain, cond)
    for kind in ("zero", "probs"):
        feed = _feed(scale, n=2, cond=kind)
        ref = plain([feed["lr"], feed["bicubic"]], training=False).numpy()
        out = _run(cond, feed)
        if mode == "sft":
            np.testing.assert_array_equal(out, ref)
        else:
            np.testing.assert_allclose(out, ref, rtol=1e-6, atol=2e-6 * np.abs(ref).max())


def test_fresh_sft_model_ignores_cond_until_trained() -> None:
    """Zero-initialised γ/β convs: at build time the output is the same for every cond (no transfer needed)."""
    model = _conditioned(2, "sft")
    a, b = _feed(2, cond="zero"), _feed(2, cond="probs")
    np.testing.assert_array_equal(_run(model, a), _run(model, b))


# --- the conditioning is wired ---------------------------------------------------------------------------

def _mse_grads(model: keras.Model, feed: dict[str, np.ndarray], variables: list) -> list[np.ndarray]:
    target = tf.constant(feed["bicubic"] + 5.0)
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean(tf.square(model(feed, training=True) - target))
    return [g.numpy() for g in tape.gradient(loss, variables)]


@pytest.mark.parametrize("mode", ["sft", "concat"])
def test_condition_changes_output_and_gets_gradients(mode: str) -> None:
    model = _conditioned(2, mode)
    transfer_dcscn_weights(_plain(2), model)
    _small_weights(model)
    feed = _feed(2)
    # At the identity start the last convs of the condition path already get a gradient, so training can leave it.
    if mode == "sft":
        last = [v for layer in condition_layers(model) if layer.name.endswith(("_gamma", "_beta"))
                for v in layer.weights]
        assert all(np.abs(g).max() > 0 for g in _mse_grads(model, feed, last))
    else:
        g = _mse_grads(model, feed, [model.get_layer("cnn1").kernel])[0]
        assert np.abs(g[:, :, 1:, :]).max() > 0
    before = _run(model, feed)
    _perturb(model)
    after = _run(model, feed)
    assert np.abs(after - before).max() > 0.05  # grey levels; float noise is below 1e-3
    for other in (np.zeros_like(feed["cond"]), _feed(2, seed=5)["cond"]):  # another cond, another output
        assert np.abs(_run(model, {**feed, "cond": other}) - after).max() > 0.05
    variables = ([v for layer in condition_layers(model) for v in layer.trainable_weights] if mode == "sft"
                 else [model.get_layer("cnn1").kernel])
    for v, g in zip(variables, _mse_grads(model, feed, variables), strict=True):
        assert g is not None and np.abs(g).max() > 0, v.path


# --- tiling ----------------------------------------------------------------------------------------------

def _tiled(model: keras.Model, feed: dict[str, np.ndarray], tile: int, overlap: int,
           misalign_cond: bool = False) -> np.ndarray:
    """Tiled forward over named inputs: lr and cond cropped on the LR grid, bicubic on the HR grid."""
    s = model_config(model).scale
    _, h, w, _ = feed["lr"].shape
    out = np.empty((1, h * s, w * s, 1), np.float32)
    for y0, y1, wy0, wy1 in tile_windows(h, tile, overlap):
        for x0, x1, wx0, wx1 in tile_windows(w, tile, overlap):
            cy, cx = (0, 0) if misalign_cond else (wy0, wx0)  # negative control: every tile gets the first window
            crop = {"lr": feed["lr"][:, wy0:wy1, wx0:wx1],
                    "bicubic": feed["bicubic"][:, wy0 * s:wy1 * s, wx0 * s:wx1 * s],
                    "cond": feed["cond"][:, cy:cy + wy1 - wy0, cx:cx + wx1 - wx0]}
            res = _run(model, crop)
            out[:, y0 * s:y1 * s, x0 * s:x1 * s] = res[:, (y0 - wy0) * s:(y1 - wy0) * s, (x0 - wx0) * s:(x1 - wx0) * s]
    return out


@pytest.mark.parametrize("mode,scale", [("sft", 2), ("sft", 4), ("concat", 3)])
def test_tiled_forward_with_cond_equals_whole_image(mode: str, scale: int) -> None:
    model = _conditioned(scale, mode)
    _small_weights(model)
    _perturb(model)
    feed = _feed(scale, h=29, w=33)
    radius = model_config(model).receptive_radius()  # unchanged by the 1×1 condition path
    whole = _run(model, feed)
    tiled = _tiled(model, feed, tile=15, overlap=radius)
    assert len(tile_windows(29, 15, radius)) * len(tile_windows(33, 15, radius)) == 6
    # Tiles run convs of other sizes than the whole image: only float summation order differs (cf. test_sr_infer).
    assert np.abs(tiled - whole).max() < 1e-3
    assert np.abs(_tiled(model, feed, 15, radius, misalign_cond=True) - whole).max() > 0.05  # cond is cropped


@pytest.mark.parametrize("mode", ["sft", "concat"])
def test_a_condition_pixel_reaches_no_further_than_the_receptive_radius(mode: str) -> None:
    model = _conditioned(3, mode)
    _perturb(model, std=0.5)
    for layer in model.layers:  # non-zero biases so that every path carries signal
        if getattr(layer, "use_bias", False):
            layer.set_weights([layer.get_weights()[0], np.full_like(layer.get_weights()[1], 0.5)])
    n, c = 41, 20
    feed = _feed(3, h=n, w=n)
    feed2 = {**feed, "cond": feed["cond"].copy()}
    feed2["cond"][0, c, c] = np.eye(C, dtype=np.float32)[5]
    ys, xs = np.nonzero(np.abs(_run(model, feed2) - _run(model, feed))[0, ..., 0] > 1e-4)
    reach = max(np.abs(ys // 3 - c).max(), np.abs(xs // 3 - c).max())
    r = model_config(model).receptive_radius()
    # concat: cond enters cnn1's 3×3 conv as lr does; sft: point-wise at cnn1's output, one LR pixel less.
    assert r - (2 if mode == "concat" else 3) <= reach <= r


# --- save / load -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("mode", ["sft", "concat"])
def test_save_load_round_trip(tmp_path: Path, mode: str) -> None:
    model = _conditioned(3, mode, hidden=24, features=8)
    _perturb(model)
    save_keras(model, tmp_path / "m.keras")
    again = load_conditioned(tmp_path / "m.keras")
    assert conditioned_config(again) == ConditionConfig(mode=mode, channels=C, hidden=24, features=8)
    assert model_config(again) == DcscnConfig.from_preset("c-dcscn", 3)
    feed = _feed(3)
    np.testing.assert_array_equal(_run(again, feed), _run(model, feed))
    _perturb(model := _conditioned(3, mode, hidden=24, features=8))  # same seeds, new objects: same bytes
    save_keras(model, tmp_path / "m2.keras")
    assert (tmp_path / "m2.keras").read_bytes() == (tmp_path / "m.keras").read_bytes()


def test_loader_rejects_plain_missing_and_broken_files(tmp_path: Path) -> None:
    save_keras(_plain(2), tmp_path / "plain.keras")
    with pytest.raises(ModelError, match=r"plain\.keras: a plain DCSCN model, not a conditioned one"):
        load_conditioned(tmp_path / "plain.keras")
    with pytest.raises(ModelError, match="model file not found"):
        load_conditioned(tmp_path / "none.keras")
    (tmp_path / "bad.keras").write_bytes(b"not a zip")
    with pytest.raises(ModelError, match="cannot load model"):
        load_conditioned(tmp_path / "bad.keras")
    with pytest.raises(ModelError, match="is a plain DCSCN"):
        conditioned_config(_plain(2))


# --- bad input -------------------------------------------------------------------------------------------

def test_check_condition_names_the_expected_shape() -> None:
    model = _conditioned(2, "sft")
    feed = _feed(2, h=6, w=7, n=2)
    check_condition(model, feed["lr"], feed["cond"])
    check_condition(model, feed["lr"][0, ..., 0], feed["cond"][0])  # unbatched planes
    for bad in (feed["cond"][..., :3], feed["cond"][:, :5], feed["cond"][:1], feed["cond"][0]):
        with pytest.raises(ModelError, match=r"do not fit LR input \(2, 6, 7, 1\): expected \(2, 6, 7, 19\)"):
            check_condition(model, feed["lr"], bad)
    nan = feed["cond"].copy()
    nan[0, 0, 0, 0] = np.nan
    with pytest.raises(ModelError, match="NaN"):
        check_condition(model, feed["lr"], nan)
    with pytest.raises(ModelError, match="is a plain DCSCN"):
        check_condition(_plain(2), feed["lr"], feed["cond"])


def test_transfer_rejects_mismatched_models() -> None:
    with pytest.raises(ModelError, match="differ in architecture"):
        transfer_dcscn_weights(_plain(2), _conditioned(3, "sft"))
    with pytest.raises(ModelError, match="must be a plain DCSCN"):
        transfer_dcscn_weights(_conditioned(2, "sft"), _conditioned(2, "concat"))
    with pytest.raises(ModelError, match="is a plain DCSCN"):
        transfer_dcscn_weights(_plain(2), _plain(2))
