"""SR inference: tiling equals whole-image inference, self-ensemble, colour/grey images, `srseg upscale`."""

from __future__ import annotations

from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from srseg.cli import main as cli_main
from srseg.degrade import upscale
from srseg.errors import ImageError
from srseg.metrics.sr import rgb_to_y
from srseg.models.dcscn import DcscnConfig, build_dcscn
from srseg.sr.infer import Upscaler, dihedral, dihedral_inverse, load_upscaler, sr_image


def _upscaler(scale: int, preset: str = "c-dcscn", upsampler: str = "pixel_shuffle") -> Upscaler:
    import keras

    keras.utils.set_random_seed(scale)
    model = build_dcscn(DcscnConfig.from_preset(preset, scale, upsampler=upsampler))
    for layer in model.layers:  # small weights: a realistic residual instead of He-init's huge one
        if layer.get_weights() and "prelu" not in layer.name:
            layer.set_weights([w * 0.2 for w in layer.get_weights()])
    return Upscaler(model)


def _smooth(h: int, w: int, seed: int = 0, channels: int = 3) -> np.ndarray:
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, (max(2, h // 4), max(2, w // 4), channels), dtype=np.uint8)
    img = np.asarray(Image.fromarray(small.squeeze()).resize((w, h), Image.Resampling.BICUBIC))
    return img


@pytest.mark.parametrize(
    "scale,preset,upsampler",
    [(2, "c-dcscn", "pixel_shuffle"), (3, "c-dcscn", "pixel_shuffle"), (4, "c-dcscn", "pixel_shuffle"),
     (3, "c-dcscn", "transposed"), (2, "dcscn", "pixel_shuffle")],
)
def test_tiled_equals_whole_image(scale: int, preset: str, upsampler: str) -> None:
    up = _upscaler(scale, preset, upsampler)
    y = rgb_to_y(_smooth(45, 61)).astype(np.float32)
    whole = up.predict_y(y, tile=None)
    tiled = up.predict_y(y, tile=16, overlap=0)  # overlap is raised to the receptive radius
    assert tiled.shape == whole.shape == (45 * scale, 61 * scale)
    assert np.abs(tiled - whole).max() < 1e-3
    assert np.abs(up.predict_y(y, tile=200) - whole).max() < 1e-3  # one tile = whole


def test_dihedral_inverse() -> None:
    x = np.arange(12).reshape(3, 4)
    for k in range(8):
        np.testing.assert_array_equal(dihedral_inverse(dihedral(x, k), k), x)
    assert len({dihedral(x, k).tobytes() + bytes(dihedral(x, k).shape) for k in range(8)}) == 8


def test_self_ensemble_averages_eight_passes() -> None:
    up = _upscaler(2)
    y = rgb_to_y(_smooth(20, 26)).astype(np.float32)
    se = up.predict_y(y, self_ensemble=True)
    manual = np.mean([dihedral_inverse(up.predict_y(dihedral(y, k), tile=None), k) for k in range(8)], axis=0)
    assert se.shape == (40, 52) and np.abs(se - manual).max() < 1e-3


def test_colour_output_keeps_bicubic_chroma_and_model_luma() -> None:
    up = _upscaler(2)
    lr = _smooth(30, 40)
    out = sr_image(up, lr)
    assert out.shape == (60, 80, 3) and out.dtype == np.uint8
    y = up.predict_y(rgb_to_y(lr).astype(np.float32))
    inside = (out > 0).all(axis=2) & (out < 255).all(axis=2)  # no channel clipped
    assert inside.mean() > 0.5
    assert np.abs(rgb_to_y(out) - y)[inside].max() < 0.5  # rounding of RGB only
    bic = upscale(lr, 2).astype(np.float64)
    # Cb/Cr are those of the bicubic image: RGB differences are equal across channels (a pure luma shift).
    d = out.astype(np.float64) - bic
    spread = (d.max(axis=2) - d.min(axis=2))[inside]
    assert spread.max() <= 1.0 + 1e-9


def test_grey_in_grey_out() -> None:
    up = _upscaler(3)
    lr = _smooth(11, 7, channels=1)
    out = sr_image(up, lr)
    assert out.shape == (33, 21) and out.dtype == np.uint8
    with pytest.raises(ImageError, match=r"expected a uint8 RGB image .* got shape \(11, 7\)"):
        up.predict_rgb(lr)


@pytest.fixture
def x2_model(tmp_path: Path) -> Path:
    path = tmp_path / "x2.keras"
    _upscaler(2).model.save(path)
    return path


def test_upscale_cli_colour_and_grey_any_size(tmp_path: Path, x2_model: Path) -> None:
    Image.fromarray(_smooth(13, 29)).save(tmp_path / "c.png")
    Image.fromarray(_smooth(9, 5, channels=1)).save(tmp_path / "g.png")
    cli_main(["upscale", str(tmp_path / "c.png"), str(tmp_path / "c_x2.png"), "--scale", "2", "--model", str(x2_model),
              "--tile", "8"])
    cli_main(["upscale", str(tmp_path / "g.png"), str(tmp_path / "g_x2.bmp"), "--scale", "2", "--model", str(x2_model),
              "--self-ensemble"])
    with Image.open(tmp_path / "c_x2.png") as im:
        assert im.mode == "RGB" and im.size == (58, 26)
    with Image.open(tmp_path / "g_x2.bmp") as im:
        assert im.mode == "L" and im.size == (10, 18)


def _upscale_lines(caplog: pytest.LogCaptureFixture, argv: list[str]) -> list[str]:
    import logging

    caplog.clear()
    with caplog.at_level(logging.INFO):
        cli_main(["upscale", *argv])
    return [r.getMessage() for r in caplog.records if r.name.startswith("srseg")]


def test_upscale_names_the_model_and_warns_outside_the_study(tmp_path: Path, x2_model: Path,
                                                               monkeypatch: pytest.MonkeyPatch,
                                                               caplog: pytest.LogCaptureFixture) -> None:
    from srseg.io import save_keras

    monkeypatch.chdir(tmp_path)
    record = {"task": "super-resolution", "architecture": "DCSCN c-dcscn (pixel_shuffle)", "scale": 2, "seed": 0,
              "data_source": "synthetic", "trained_on": "synthetic street scenes (4 images)",
              "params_hash": "feedfacecafe", "srseg_version": "0.1.0"}
    save_keras(_upscaler(2).model, tmp_path / "rec.keras", record)
    Image.fromarray(_smooth(8, 10)).save(tmp_path / "photo.png")
    (tmp_path / "data").mkdir()
    Image.fromarray(_smooth(8, 10)).save(tmp_path / "data" / "lr.png")
    lines = _upscale_lines(caplog, ["photo.png", "out.png", "--scale", "2", "--model", "rec.keras"])
    assert lines[0] == ("model rec.keras: DCSCN c-dcscn (pixel_shuffle) x2, trained on synthetic street scenes "
                        "(4 images) (seed 0, params_hash feedfacecafe, srseg 0.1.0)")
    assert lines[1].startswith("warning: rec.keras was trained on synthetic street scenes only and photo.png")
    assert lines[2] == "out.png: 10x8 -> 20x16 (x2, rec.keras)" and len(lines) == 3
    lines = _upscale_lines(caplog, ["data/lr.png", "out.png", "--scale", "2", "--model", "rec.keras"])
    assert len(lines) == 2 and lines[1].startswith("out.png: ")  # inside data/: no warning
    lines = _upscale_lines(caplog, ["photo.png", "out.png", "--scale", "2", "--model", str(x2_model)])
    assert lines[0] == f"model {x2_model}: no training record" and len(lines) == 2


def _cli_error(capsys: pytest.CaptureFixture[str], argv: list[str]) -> str:
    with pytest.raises(SystemExit) as exc:
        cli_main(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err and "Traceback" not in err
    return err


def test_upscale_bad_inputs(tmp_path: Path, x2_model: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "corrupt.png").write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    out = tmp_path / "out.png"
    err = _cli_error(capsys, ["upscale", str(tmp_path / "corrupt.png"), str(out), "--scale", "2",
                              "--model", str(x2_model)])
    assert "corrupt.png" in err
    Image.fromarray(_smooth(8, 8)).save(tmp_path / "ok.png")
    err = _cli_error(capsys, ["upscale", str(tmp_path / "ok.png"), str(out), "--scale", "3", "--model", str(x2_model)])
    assert "x2 model, not x3" in err
    err = _cli_error(capsys, ["upscale", str(tmp_path / "ok.png"), str(tmp_path / "out.xyz"), "--scale", "2",
                              "--model", str(x2_model)])
    assert ".xyz" in err
    err = _cli_error(capsys, ["upscale", str(tmp_path / "ok.png"), str(out), "--scale", "2",
                              "--model", str(tmp_path / "nope.keras")])
    assert "not found" in err
    assert not out.exists() and not list(tmp_path.glob(".out.png*"))  # nothing half-written


def test_load_upscaler_needs_one_source(x2_model: Path) -> None:
    from srseg.errors import SrsegError

    with pytest.raises(SrsegError, match="either"):
        load_upscaler(2, model=x2_model, dcscn_checkpoint="x")
    assert load_upscaler(2, model=x2_model).scale == 2


def test_tile_windows_cover_their_context() -> None:
    from srseg.sr.infer import tile_windows

    for n in (1, 7, 16, 17, 100, 341, 512):
        for tile in (1, 5, 16, 128):
            for ov in (0, 3, 10):
                wins = tile_windows(n, tile, ov)
                assert [w[0] for w in wins][0] == 0 and wins[-1][1] == n
                assert all(a[1] == b[0] for a, b in pairwise(wins))  # tiles partition 0..n
                assert len({w[3] - w[2] for w in wins}) == 1  # one window size
                for start, stop, w0, w1 in wins:
                    assert stop - start <= tile and 0 <= w0 and w1 <= n
                    assert w0 <= max(start - ov, 0) and w1 >= min(stop + ov, n)


def test_upscale_refuses_to_overwrite_its_input(tmp_path: Path, x2_model: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    src = tmp_path / "a.png"
    Image.fromarray(_smooth(8, 10)).save(src)
    before = src.read_bytes()
    err = _cli_error(capsys, ["upscale", str(src), str(tmp_path / "." / "a.png"), "--scale", "2", "--model",
                              str(x2_model)])
    assert "a.png: is the input image" in err and "--overwrite" in err
    assert src.read_bytes() == before
    cli_main(["upscale", str(src), str(src), "--scale", "2", "--model", str(x2_model), "--overwrite"])
    with Image.open(src) as im:
        assert im.size == (20, 16)


def test_upscale_refuses_what_it_could_not_read_back_before_the_model_loads(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """Above the pixel limit (the input, or the output it would write) and 16-bit input: one line, no model read
    (the model file does not exist), nothing written."""
    src, out, absent = tmp_path / "a.png", tmp_path / "out.png", str(tmp_path / "absent.keras")
    Image.fromarray(_smooth(10, 12)).save(src)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)
    err = _cli_error(capsys, ["upscale", str(src), str(out), "--scale", "3", "--model", absent])
    assert err == (f"error: {out}: x3 output of 1,080 pixels (0.0 MP), above srseg's limit of 1,000 (Pillow's "
                   f"decompression-bomb limit); crop or downscale it first")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)
    err = _cli_error(capsys, ["upscale", str(src), str(out), "--scale", "2", "--model", absent])
    assert err.startswith(f"error: {src}: image of 120 pixels (0.0 MP), above srseg's limit of 100 (")
    monkeypatch.undo()
    Image.fromarray(np.full((6, 7), 40000, np.uint16)).save(src)
    err = _cli_error(capsys, ["upscale", str(src), str(out), "--scale", "2", "--model", absent])
    assert err.startswith(f"error: {src}: 16 bits per channel (16-bit grey); ")
    assert not out.exists()


def test_upscale_invalid_scale_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        cli_main(["upscale", "a.png", "b.png", "--scale", "0"])
    assert exc.value.code == 2 and "--scale: must be an integer >= 2, got '0'" in capsys.readouterr().err


def _cond_model(scale: int) -> Any:
    """A small conditioned SR model (named inputs lr, bicubic, cond) with DCSCN's architecture record."""
    import keras

    from srseg.models.dcscn import GlobalSkip, PixelShuffle

    keras.utils.set_random_seed(7)
    cfg = DcscnConfig(scale=scale, layers=2, filters=8, min_filters=4, nin_a=4, nin_b=2)
    lr = keras.Input((None, None, 1), name="lr")
    bic = keras.Input((None, None, 1), name="bicubic")
    cond = keras.Input((None, None, 3), name="cond")
    x = keras.layers.Concatenate()([lr, cond])
    x = keras.layers.Conv2D(8, 3, padding="same", activation="relu")(x)
    x = keras.layers.Conv2D(8, 3, padding="same", activation="relu")(x)  # radius 2 < cfg's receptive radius
    x = PixelShuffle(scale)(keras.layers.Conv2D(scale * scale, 3, padding="same")(x))
    out = GlobalSkip(cfg.to_dict(), name="global_skip")([x, bic])
    return keras.Model([lr, bic, cond], out)


def test_conditioned_model_tiles_like_whole_image() -> None:
    """The SR-model contract: named inputs, condition maps tiled on the LR grid with the image."""
    up = Upscaler(_cond_model(2))
    assert up.input_names == ["lr", "bicubic", "cond"] and up.cond_channels == 3
    rng = np.random.default_rng(0)
    lr = _smooth(37, 53)
    cond = rng.random((37, 53, 3)).astype(np.float32)
    whole = up.predict_y(rgb_to_y(lr).astype(np.float32), cond=cond, tile=None)
    tiled = up.predict_y(rgb_to_y(lr).astype(np.float32), cond=cond, tile=9, overlap=0)
    assert np.abs(tiled - whole).max() < 1e-3
    rgb_whole = up.predict_rgb(lr, cond=cond, tile=None)
    rgb_tiled = up.predict_rgb(lr, cond=cond, tile=9)
    assert rgb_whole.shape == (74, 106, 3) and np.abs(rgb_whole.astype(int) - rgb_tiled).max() <= 1
    # the condition matters, and bad maps are named
    other = up.predict_y(rgb_to_y(lr).astype(np.float32), cond=cond[::-1].copy(), tile=None)
    assert np.abs(other - whole).max() > 1e-3
    from srseg.errors import ImageError, SrsegError

    with pytest.raises(ImageError, match=r"condition maps \(37, 53, 2\) do not match"):
        up.predict_y(rgb_to_y(lr).astype(np.float32), cond=cond[..., :2])
    with pytest.raises(SrsegError, match="needs condition maps"):
        up.predict_y(rgb_to_y(lr).astype(np.float32))


def test_luma_to_rgb_layer_is_the_recombination_and_passes_gradients() -> None:
    import tensorflow as tf

    from srseg.models.ycbcr import LUMA_GAIN, LumaToRGB

    rng = np.random.default_rng(3)
    bic = rng.integers(0, 256, (1, 9, 11, 3)).astype(np.float32)
    y = rng.uniform(0, 255, (1, 9, 11, 1)).astype(np.float32)
    ref = bic + ((y[..., 0] - rgb_to_y(bic).astype(np.float32)) * np.float32(LUMA_GAIN))[..., None]
    out = LumaToRGB()([tf.constant(y), tf.constant(bic)]).numpy()
    np.testing.assert_array_equal(out, ref)
    np.testing.assert_allclose(rgb_to_y(out), y[..., 0], atol=1e-3)  # the output's luma is the SR luma
    yv = tf.Variable(y)
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(LumaToRGB()([yv, tf.constant(bic)]))
    np.testing.assert_allclose(tape.gradient(loss, yv).numpy(), 3 * LUMA_GAIN, rtol=1e-6)


def test_rgb_tiles_equal_whole_image() -> None:
    up = _upscaler(3)
    lr = _smooth(40, 57)
    whole = sr_image(up, lr, tile=None)
    tiled = sr_image(up, lr, tile=13)
    assert whole.shape == (120, 171, 3) and np.abs(whole.astype(int) - tiled).max() <= 1


@pytest.mark.parametrize("channels", [3, 1])
def test_memory_follows_the_tile_not_the_image(channels: int) -> None:
    """Tiled inference holds no full-size float plane: besides the uint8 output, what it allocates at once
    (numpy's allocations, traced by tracemalloc) is the same for an image 4x the area."""
    import tracemalloc

    up = _upscaler(2)
    lr = _smooth(300, 400, channels=channels).squeeze()
    sr_image(up, lr[:40, :40], tile=32)  # trace the network once, outside the measurement

    def excess(img: np.ndarray) -> int:
        tracemalloc.start()
        try:
            out = sr_image(up, img, tile=32)
            return tracemalloc.get_traced_memory()[1] - out.nbytes
        finally:
            tracemalloc.stop()

    small, big = excess(lr[:150, :200].copy()), excess(lr)
    float_plane = lr.shape[0] * lr.shape[1] * 2 * 2 * 4  # one float32 plane of the big output
    assert big < small + float_plane / 16, (small, big, float_plane)
    np.testing.assert_array_equal(sr_image(up, lr, tile=32), sr_image(up, lr, tile=None))  # x2: exact
