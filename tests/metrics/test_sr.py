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
        [sys.executable, "-m", "srseg.cli", "sr-bench", "--images", str(tmp_path), "--scales", "2,3", "--json", str(out)],
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
