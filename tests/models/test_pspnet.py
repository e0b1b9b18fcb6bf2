"""PSPNet model: shapes on odd sizes for every preset, the pyramid pooling on any size, save/load."""

from __future__ import annotations

import math

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from srseg.errors import SrsegError  # noqa: E402
from srseg.models.pspnet import (  # noqa: E402
    PRESETS,
    AdaptivePool2D,
    build_pspnet,
    inference_model,
    init_from,
    load_model,
    pyramid_pooling_module,
    save_model,
)


def _adaptive_pool_reference(x: np.ndarray, bins: int) -> np.ndarray:
    """PyTorch AdaptiveAvgPool2d's rule, written out."""
    n, h, w, c = x.shape
    out = np.zeros((n, bins, bins, c))
    for i in range(bins):
        y0, y1 = (i * h) // bins, math.ceil((i + 1) * h / bins)
        for j in range(bins):
            x0, x1 = (j * w) // bins, math.ceil((j + 1) * w / bins)
            out[:, i, j] = x[:, y0:y1, x0:x1].mean(axis=(1, 2))
    return out


@pytest.mark.parametrize("bins", [1, 2, 3, 6])
@pytest.mark.parametrize("hw", [(1, 1), (2, 5), (7, 9), (13, 10), (12, 12)])
def test_adaptive_pool_matches_reference(bins: int, hw: tuple[int, int]) -> None:
    x = np.random.default_rng(bins).normal(size=(2, *hw, 3)).astype(np.float32)
    got = AdaptivePool2D(bins)(x).numpy()
    np.testing.assert_allclose(got, _adaptive_pool_reference(x, bins), atol=1e-5)


def test_ppm_runs_on_any_feature_size() -> None:
    inp = keras.Input((None, None, 8))
    model = keras.Model(inp, pyramid_pooling_module(inp))
    for h, w in [(1, 1), (3, 7), (10, 13), (45, 90)]:
        out = model(np.ones((1, h, w, 8), np.float32))
        assert tuple(out.shape) == (1, h, w, 16)  # input + 4 branches of 8/4 channels


@pytest.fixture(scope="module")
def small_aux() -> keras.Model:
    return build_pspnet(19, "small", aux=True)


@pytest.mark.parametrize("hw", [(75, 100), (131, 97), (8, 8)])
def test_small_output_shapes_odd_sizes(small_aux: keras.Model, hw: tuple[int, int]) -> None:
    out = small_aux(np.zeros((2, *hw, 3), np.float32), training=False)
    assert tuple(out["seg"].shape) == (2, *hw, 19)
    assert tuple(out["aux"].shape) == (2, *hw, 19)
    single = inference_model(small_aux)(np.zeros((1, *hw, 3), np.float32))
    assert tuple(single.shape) == (1, *hw, 19)


@pytest.mark.parametrize("preset", ["resnet50", "resnet101"])
def test_resnet_presets_build_and_run_tiny(preset: str) -> None:
    model = build_pspnet(7, preset, aux=True)
    spec = PRESETS[preset]
    assert model.get_layer("conv5_1_proj_conv").output.shape[-1] == 2048 == spec.out_channels
    assert model.get_layer("head_conv_conv").output.shape[-1] == 512
    assert len([b for b in model.layers if b.name.endswith("_add")]) == sum(spec.depths)
    for hw in [(27, 33), (41, 30)]:
        out = model(np.zeros((1, *hw, 3), np.float32), training=False)
        assert tuple(out["seg"].shape) == (1, *hw, 7)
        assert tuple(out["aux"].shape) == (1, *hw, 7)


def test_output_stride_8(small_aux: keras.Model) -> None:
    feats = keras.Model(small_aux.input, small_aux.get_layer("ppm_concat").output)
    assert tuple(feats(np.zeros((1, 96, 160, 3), np.float32)).shape[1:3]) == (12, 20)


def test_save_load_round_trip(tmp_path, small_aux: keras.Model) -> None:
    path = tmp_path / "m" / "psp.keras"
    save_model(small_aux, path)
    assert path.is_file() and not [p for p in path.parent.iterdir() if p.name.startswith(".")]
    loaded = load_model(path, 19)
    x = np.random.default_rng(0).uniform(0, 255, (1, 37, 53, 3)).astype(np.float32)
    np.testing.assert_allclose(loaded(x).numpy(), inference_model(small_aux)(x).numpy(), atol=1e-4)


def test_load_wrong_class_count_is_one_clear_error(tmp_path) -> None:
    path = tmp_path / "five.keras"
    save_model(build_pspnet(5, "small"), path)
    with pytest.raises(SrsegError, match="predicts 5 classes, expected 19"):
        load_model(path, 19)


def test_load_bad_files(tmp_path) -> None:
    with pytest.raises(SrsegError, match="not found"):
        load_model(tmp_path / "nope.keras")
    bad = tmp_path / "bad.keras"
    bad.write_bytes(b"not a zip")
    with pytest.raises(SrsegError, match="cannot load"):
        load_model(bad)


def test_init_from_a_saved_model_copies_every_saved_layer(tmp_path, small_aux: keras.Model) -> None:
    """The retrained PSPNets start from the HR model: every saved layer's weights, BN statistics included; the
    auxiliary head (not saved) keeps its initial weights and is named as fresh."""
    path = tmp_path / "hr.keras"
    save_model(small_aux, path)
    target = build_pspnet(19, "small", aux=True)
    fresh = init_from(target, path)
    assert fresh and all(n.startswith("aux") for n in fresh)
    assert set(fresh) == {ly.name for ly in target.layers if ly.name.startswith("aux") and ly.weights}
    for layer in inference_model(small_aux).layers:
        for a, b in zip(layer.get_weights(), target.get_layer(layer.name).get_weights(), strict=True):
            np.testing.assert_array_equal(a, b)
    x = np.random.default_rng(1).uniform(0, 255, (1, 24, 40, 3)).astype(np.float32)
    np.testing.assert_array_equal(inference_model(target)(x).numpy(), inference_model(small_aux)(x).numpy())
    with pytest.raises(SrsegError, match=r"hr\.keras: cannot start .* its layer head_cls has weights .* shapes it"):
        init_from(build_pspnet(5, "small"), path)  # another class count (or preset): one line naming the file


def test_unknown_preset() -> None:
    with pytest.raises(SrsegError, match="preset"):
        build_pspnet(19, "resnet18")
