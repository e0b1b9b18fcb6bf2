"""SR inference: tiling equals whole-image inference, self-ensemble, colour/grey images, `srseg upscale`."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from srseg.cli import main as cli_main
from srseg.degrade import upscale
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
    err = _cli_error(capsys, ["upscale", str(tmp_path / "corrupt.png"), str(out), "--scale", "2", "--model", str(x2_model)])
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
                assert all(a[1] == b[0] for a, b in zip(wins, wins[1:]))  # tiles partition 0..n
                assert len({w[3] - w[2] for w in wins}) == 1  # one window size
                for start, stop, w0, w1 in wins:
                    assert stop - start <= tile and 0 <= w0 and w1 <= n
                    assert w0 <= max(start - ov, 0) and w1 >= min(stop + ov, n)
