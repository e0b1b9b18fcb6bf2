"""The DCSCN Keras model: presets, filter decay, shapes, receptive field, save/load."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np
import pytest

from srseg.io import save_keras
from srseg.models.dcscn import (
    PRESETS,
    DcscnConfig,
    ModelError,
    PixelShuffle,
    build_dcscn,
    load_model,
    model_config,
)


def _run(model, lr: np.ndarray) -> np.ndarray:
    s = model_config(model).scale
    bic = np.zeros((1, lr.shape[1] * s, lr.shape[2] * s, 1), np.float32)
    return model([lr, bic], training=False).numpy()


def test_filter_decay_of_the_presets() -> None:
    assert DcscnConfig.from_preset("c-dcscn", 2).feature_filters() == [32, 26, 22, 18, 14, 11, 8]
    f = DcscnConfig.from_preset("dcscn", 2).feature_filters()
    assert len(f) == 12 and f[0] == 196 and f[-1] == 48 and sum(f) == 1301  # A1 input of the L12 release
    assert f == sorted(f, reverse=True)


@pytest.mark.parametrize("preset", list(PRESETS))
@pytest.mark.parametrize("scale", [2, 3, 4])
def test_shapes_per_preset_and_scale(preset: str, scale: int) -> None:
    model = build_dcscn(DcscnConfig.from_preset(preset, scale))
    out = _run(model, np.random.default_rng(0).random((2, 5, 7, 1), np.float32) * 255)
    assert out.shape == (2, 5 * scale, 7 * scale, 1)
    p = PRESETS[preset]
    assert model.get_layer("a1").filters == p["nin_a"] and model.get_layer("b2").filters == p["nin_b"]
    filters = [model.get_layer(f"cnn{i + 1}").filters for i in range(p["layers"])]
    assert filters == DcscnConfig.from_preset(preset, scale).feature_filters()
    ps = model.get_layer("up_ps_conv").filters
    assert ps == (4 * (p["nin_a"] + p["nin_b"]) if scale == 4 else scale * scale)


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_transposed_upsampler(scale: int) -> None:
    model = build_dcscn(DcscnConfig.from_preset("c-dcscn", scale, upsampler="transposed"))
    assert _run(model, np.ones((1, 6, 4, 1), np.float32)).shape == (1, 6 * scale, 4 * scale, 1)
    assert model.get_layer("up_tconv").kernel.shape[0] == 2 * scale - scale % 2


def test_zero_residual_gives_the_bicubic_input() -> None:
    """The global skip adds the second input: with R-CNN1 zeroed the output is that input."""
    model = build_dcscn(DcscnConfig.from_preset("c-dcscn", 2))
    layer = model.get_layer("r_cnn1")
    layer.set_weights([np.zeros_like(w) for w in layer.get_weights()])
    bic = np.random.default_rng(1).random((1, 8, 10, 1), np.float32) * 255
    out = model([np.ones((1, 4, 5, 1), np.float32), bic]).numpy()
    np.testing.assert_allclose(out, bic, atol=1e-4)


def test_prelu_starts_at_0_1_and_is_per_channel() -> None:
    model = build_dcscn(DcscnConfig.from_preset("c-dcscn", 2))
    alpha = model.get_layer("cnn2_prelu").get_weights()[0]
    assert alpha.shape == (1, 1, 26) and np.allclose(alpha, 0.1)
    assert not model.get_layer("r_cnn1").use_bias and model.get_layer("cnn1").use_bias


def test_pixel_shuffle_is_tf_depth_to_space() -> None:
    import tensorflow as tf

    x = np.arange(2 * 3 * 4 * 8, dtype=np.float32).reshape(2, 3, 4, 8)
    np.testing.assert_array_equal(PixelShuffle(2)(x).numpy(), tf.nn.depth_to_space(x, 2).numpy())


@pytest.mark.parametrize("upsampler,scale",
                         [("pixel_shuffle", 2), ("pixel_shuffle", 3), ("pixel_shuffle", 4), ("transposed", 3)])
def test_receptive_radius_bounds_the_influence_of_a_pixel(upsampler: str, scale: int) -> None:
    """Changing one LR pixel changes only outputs within ``receptive_radius`` LR pixels of it."""
    cfg = DcscnConfig.from_preset("c-dcscn", scale, upsampler=upsampler)
    model = build_dcscn(cfg)
    for layer in model.layers:  # non-zero biases so that every path carries signal
        if getattr(layer, "use_bias", False):
            layer.set_weights([layer.get_weights()[0], np.full_like(layer.get_weights()[1], 0.5)])
    n, c = 41, 20
    lr = np.random.default_rng(2).random((1, n, n, 1), np.float32) * 255
    lr2 = lr.copy()
    lr2[0, c, c, 0] += 50
    diff = np.abs(_run(model, lr2) - _run(model, lr))[0, ..., 0] > 1e-4
    ys, xs = np.nonzero(diff)
    reach = max(np.abs(ys // scale - c).max(), np.abs(xs // scale - c).max())
    r = cfg.receptive_radius()
    assert reach <= r
    assert reach >= r - 2  # the bound is not loose


def test_save_load_round_trip(tmp_path: Path) -> None:
    cfg = DcscnConfig.from_preset("c-dcscn", 3, dropout_keep=0.8, l2=1e-4)
    model = build_dcscn(cfg)
    lr = np.random.default_rng(3).random((1, 6, 5, 1), np.float32) * 255
    path = tmp_path / "m.keras"
    save_keras(model, path)
    again = load_model(path)
    assert model_config(again) == cfg
    np.testing.assert_allclose(_run(again, lr), _run(model, lr), atol=1e-5)


def test_saved_models_are_byte_reproducible(tmp_path: Path) -> None:
    """No save time or memory address in the archive: equal weights give equal files (and dvc.lock md5s)."""
    import keras

    def seeded() -> object:  # a new model object (new shared-object addresses) with the same weights
        keras.utils.set_random_seed(0)
        return build_dcscn(DcscnConfig.from_preset("c-dcscn", 2, l2=1e-4))

    save_keras(seeded(), tmp_path / "a.keras")
    with zipfile.ZipFile(tmp_path / "a.keras") as zf:
        assert {info.date_time for info in zf.infolist()} == {(1980, 1, 1, 0, 0, 0)}
        assert "date_saved" not in json.loads(zf.read("metadata.json"))
    save_keras(seeded(), tmp_path / "b.keras")
    assert (tmp_path / "a.keras").read_bytes() == (tmp_path / "b.keras").read_bytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.keras", "b.keras"]  # no temporaries left


def test_bad_presets_and_models(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="unknown DCSCN preset 'fsrcnn'"):
        DcscnConfig.from_preset("fsrcnn", 2)
    with pytest.raises(ModelError, match="scales 2, 3 and 4"):
        DcscnConfig.from_preset("c-dcscn", 5)
    with pytest.raises(ModelError, match="not found"):
        load_model(tmp_path / "missing.keras")
    bad = tmp_path / "bad.keras"
    bad.write_bytes(b"not a zip")
    with pytest.raises(ModelError) as exc:
        load_model(bad)
    assert "\n" not in str(exc.value) and "bad.keras" in str(exc.value)
