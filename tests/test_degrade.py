"""The HR crop rule, the degrade stage's sizes and the degradation sweep's sets (cliff_degrade)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from srseg.degrade import crop_to_multiple, degrade_sweep, degrade_tree, down_up, downscale, upscale
from srseg.errors import ImageError, SrsegError
from srseg.io import read_image, write_png
from srseg.layout import list_samples


def test_crop_is_top_left_anchored_to_multiple() -> None:
    arr = np.arange(37 * 50).reshape(37, 50)
    out = crop_to_multiple(arr, 12)
    assert out.shape == (36, 48)
    np.testing.assert_array_equal(out, arr[:36, :48])  # pixel (0, 0) stays put
    assert crop_to_multiple(arr[:36, :48], 12).shape == (36, 48)  # idempotent


@pytest.mark.parametrize("scale", [2, 3, 4, 5])
def test_down_and_up_sizes(scale: int) -> None:
    hr = np.random.default_rng(scale).integers(0, 256, (12 * scale, 7 * scale, 3), dtype=np.uint8)
    lr = downscale(hr, scale)
    assert lr.shape == (12, 7, 3) and lr.dtype == np.uint8
    assert upscale(lr, scale).shape == hr.shape


def test_downscale_refuses_non_multiple() -> None:
    with pytest.raises(ValueError, match="not a multiple"):
        downscale(np.zeros((13, 12, 3), np.uint8), 2)


def test_downscale_is_antialiased_bicubic() -> None:
    # A 1-pixel checkerboard averages to mid-grey when shrunk with an antialiasing kernel;
    # point sampling would return pure black or white.
    hr = (np.indices((32, 32)).sum(0) % 2 * 255).astype(np.uint8)
    lr = downscale(np.stack([hr] * 3, -1), 2)
    assert abs(float(lr[4:-4, 4:-4].mean()) - 127.5) < 2


def test_degrade_tree_writes_same_names_and_sizes(tiny_tree: Path, tmp_path: Path) -> None:
    n = degrade_tree(tiny_tree, 3, lr_out=tmp_path / "lr", bicubic_out=tmp_path / "bic")
    assert n == 3
    for split in ("train", "val"):
        for s in list_samples(tiny_tree, split):
            hr = read_image(s.image(tiny_tree))
            assert read_image(s.image(tmp_path / "lr")).shape == (hr.shape[0] // 3, hr.shape[1] // 3, 3)
            assert read_image(s.image(tmp_path / "bic")).shape == hr.shape
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp leftovers


def test_degrade_tree_names_bad_image_and_leaves_nothing(tiny_tree: Path, tmp_path: Path) -> None:
    victim = list_samples(tiny_tree, "val")[0].image(tiny_tree)
    victim.write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    with pytest.raises(ImageError, match=str(victim)):
        degrade_tree(tiny_tree, 2, lr_out=tmp_path / "lr", bicubic_out=tmp_path / "bic")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["raw"]


def test_degrade_tree_refuses_hr_not_multiple(tiny_tree: Path, tmp_path: Path) -> None:
    s = list_samples(tiny_tree, "train")[0]
    write_png(s.image(tiny_tree), np.zeros((35, 48, 3), np.uint8))
    with pytest.raises(ImageError, match="not a multiple of 2"):
        degrade_tree(tiny_tree, 2, lr_out=tmp_path / "lr", bicubic_out=tmp_path / "bic")


def test_scale_check() -> None:
    from srseg.params import check_scale

    assert check_scale(3) == 3
    for bad in (1, 0, -2, True, 2.0):
        with pytest.raises(SrsegError, match=f"--scale {bad}: must be an integer >= 2"):
            check_scale(bad)  # type: ignore[arg-type]
    with pytest.raises(SrsegError, match=r"--scale 5: not in params scales \[2, 3\]"):
        check_scale(5, [2, 3])


@pytest.mark.parametrize("factor", [2, 2.5, 3, 3.5, 4, 8])
def test_down_up_keeps_the_size_and_degrades(factor: float) -> None:
    """Any factor: back at HR size, uint8, and farther from HR the larger the factor (a smooth scene)."""
    rng = np.random.default_rng(0)
    small = rng.integers(0, 256, (9, 13, 3), dtype=np.uint8)
    hr = upscale(small, 4)[:34, :50]  # 34×50: a multiple of none of the factors but 2
    out = down_up(hr, factor)
    assert out.shape == hr.shape and out.dtype == np.uint8
    assert not np.array_equal(out, hr)
    err = float(np.mean((out.astype(float) - hr) ** 2))
    assert err > float(np.mean((down_up(hr, 1.5).astype(float) - hr) ** 2))


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_down_up_at_an_integer_scale_is_the_degrade_stages_bicubic(scale: int) -> None:
    hr = np.random.default_rng(scale).integers(0, 256, (12 * scale, 10 * scale, 3), dtype=np.uint8)
    np.testing.assert_array_equal(down_up(hr, scale), upscale(downscale(hr, scale), scale))
    np.testing.assert_array_equal(down_up(hr, float(scale)), down_up(hr, scale))


def test_degrade_sweep_writes_the_val_images_of_every_factor(tiny_tree: Path, tmp_path: Path) -> None:
    from srseg.paths import Paths

    paths = Paths(tmp_path)
    assert degrade_sweep(tiny_tree, [2, 2.5, 3.0], paths.cliff_root) == 1
    assert sorted(p.name for p in paths.cliff_root.iterdir()) == ["x2", "x2.5", "x3"]
    (s,) = list_samples(tiny_tree, "val")
    hr = read_image(s.image(tiny_tree))
    for f in (2, 2.5, 3):
        img = read_image(s.image(paths.cliff(f)))
        assert img.shape == hr.shape and not np.array_equal(img, hr)
        np.testing.assert_array_equal(img, down_up(hr, f))
        assert not (paths.cliff(f) / "leftImg8bit" / "train").exists()  # val only
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # written atomically, nothing left
