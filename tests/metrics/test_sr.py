"""The SR metric convention and `srseg sr-bench` against the published bicubic numbers."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from srseg.io import write_png
from srseg.metrics.sr import psnr, rgb_to_y, shave, ssim, y_scores
from srseg.sr.bench import run_sr_bench
from tests.conftest import shared_path


def test_luma_of_primaries_and_grey_passthrough() -> None:
    px = np.array([[[0, 0, 0], [255, 255, 255], [255, 0, 0]]], dtype=np.uint8)
    np.testing.assert_allclose(rgb_to_y(px)[0], [16.0, 235.0, 16 + 65.481], atol=1e-9)
    grey = np.full((4, 4), 77, np.uint8)
    np.testing.assert_array_equal(rgb_to_y(grey), grey)


def test_psnr_known_value_and_shave() -> None:
    a = np.zeros((10, 10))
    b = np.full((10, 10), 255.0 / 10)  # MSE = 25.5**2 → PSNR = 20 dB
    assert psnr(a, b) == pytest.approx(20.0)
    assert shave(np.ones((10, 12)), 3).shape == (4, 6)
    assert psnr(a, a) == float("inf")
    flat = np.full((16, 16), 50.0)
    assert ssim(flat, flat) == pytest.approx(1.0)


def test_y_scores_ignore_the_border() -> None:
    hr = np.random.default_rng(0).integers(0, 256, (20, 20, 3), dtype=np.uint8)
    test = hr.copy()
    test[:2] = 0  # damage only inside the shaved border
    assert y_scores(hr, test, 2)[0] == float("inf")
    assert y_scores(hr, test, 1)[0] < 40


def test_sr_bench_json_format(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    for i in range(2):
        write_png(tmp_path / f"im{i}.png", rng.integers(0, 256, (50, 62, 3), dtype=np.uint8))
    write_png(tmp_path / "grey.png", rng.integers(0, 256, (50, 62), dtype=np.uint8))
    out = tmp_path / "out" / "bench.json"
    proc = subprocess.run(
        [sys.executable, "-m", "srseg.cli", "sr-bench", "--images", str(tmp_path), "--scales", "2,3",
         "--json", str(out)],
        capture_output=True, text=True,
    )
    assert proc.returncode == 0, proc.stderr
    res = json.loads(out.read_text())
    assert set(res) == {"x2", "x3"}
    assert set(res["x2"]["bicubic"]) == {"psnr_y", "ssim_y", "n_images"}
    assert res["x2"]["bicubic"]["n_images"] == 3
    assert res["x2"]["bicubic"]["psnr_y"] > res["x3"]["bicubic"]["psnr_y"] > 0


@pytest.mark.parametrize(
    ("name", "published"),
    [("set5", {2: 33.66, 3: 30.39, 4: 28.42}), ("set14", {2: 30.24, 3: 27.55, 4: 26.00})],
)
def test_bicubic_matches_published_numbers(name: str, published: dict[int, float]) -> None:
    folder = shared_path("sr", name)
    res = run_sr_bench(folder, list(published))
    for s, db in published.items():
        assert res[f"x{s}"]["bicubic"]["psnr_y"] == pytest.approx(db, abs=0.05), (name, s)


def _whole_image_scores(hr: np.ndarray, test: np.ndarray, train_ids: np.ndarray, scale: int
                        ) -> tuple[float, float, list[float], list[int]]:
    """The scores as computed before they went strip by strip: whole float64 planes (the reference)."""
    from skimage.metrics import structural_similarity

    from srseg.labels import NUM_CLASSES

    y_hr, y_test = shave(rgb_to_y(hr), scale), shave(rgb_to_y(test), scale)
    mse = float(np.mean((np.asarray(y_hr, np.float64) - np.asarray(y_test, np.float64)) ** 2))
    p = float("inf") if mse == 0 else 10.0 * np.log10(255.0 * 255.0 / mse)
    s = float(structural_similarity(y_hr, y_test, gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
                                    data_range=255.0))
    err = (y_hr - y_test) ** 2
    ids = shave(train_ids, scale).astype(np.int64).ravel()
    keep = ids < NUM_CLASSES
    sse = np.bincount(ids[keep], weights=err.ravel()[keep], minlength=NUM_CLASSES)
    return p, s, sse.tolist(), np.bincount(ids[keep], minlength=NUM_CLASSES).tolist()


@pytest.mark.parametrize("strip_pixels", [1, 300, 1 << 20])
@pytest.mark.parametrize("h,w,scale,grey", [(37, 53, 2, False), (64, 41, 3, True), (120, 90, 4, False),
                                            (23, 200, 2, False)])
def test_strip_scores_equal_whole_image_scores_to_the_bit(monkeypatch: pytest.MonkeyPatch, strip_pixels: int,
                                                          h: int, w: int, scale: int, grey: bool) -> None:
    """Y-PSNR/SSIM and the per-class squared errors run over strips of rows (bounded float64 memory); every value
    equals the whole-image computation exactly, one-row strips and strips at the SSIM window's edge included."""
    import srseg.metrics.sr as msr

    monkeypatch.setattr(msr, "STRIP_PIXELS", strip_pixels)
    rng = np.random.default_rng(h * w)
    shape = (h, w) if grey else (h, w, 3)
    hr = rng.integers(0, 256, shape, dtype=np.uint8)
    test = np.clip(hr.astype(int) + rng.integers(-20, 21, shape), 0, 255).astype(np.uint8)
    ids = rng.choice([0, 5, 13, 18, 255], size=(h, w)).astype(np.uint8)
    p, s, sse, n = _whole_image_scores(hr, test, ids, scale)
    assert msr.y_scores(hr, test, scale) == (p, s)
    assert msr.class_squared_errors(hr, test, ids, scale) == (sse, n)
    y_hr, y_test = rgb_to_y(hr), rgb_to_y(test).astype(np.float32)  # model_scores' float planes
    assert msr.y_scores_from_y(y_hr, y_test, scale) == _whole_image_scores(y_hr, y_test, ids, scale)[:2]
