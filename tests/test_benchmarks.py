"""benchmarks/bench_degrade.py: runs on a folder of images, and without ../shared stops with one line."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np

from srseg.io import write_png

REPO = Path(__file__).resolve().parents[1]


def _bench(*argv: str, shared: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SRSEG_SHARED": str(shared),
           "PYTHONPATH": os.pathsep.join([str(REPO / "src"), os.environ.get("PYTHONPATH", "")])}
    return subprocess.run([sys.executable, str(REPO / "benchmarks" / "bench_degrade.py"), *argv], env=env,
                          capture_output=True, text=True, timeout=120)


def test_bench_degrade_without_shared_data_is_one_line(tmp_path: Path) -> None:
    proc = _bench(shared=tmp_path / "missing")
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.splitlines() == [proc.stderr.strip()] and "Traceback" not in proc.stderr
    assert proc.stderr.startswith(f"error: {tmp_path / 'missing' / 'data' / 'sr' / 'set5'}: no such folder")
    assert "SRSEG_SHARED" in proc.stderr and "--images" in proc.stderr


def test_bench_degrade_on_shared_style_folder(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    for i in range(2):
        write_png(tmp_path / "data" / "sr" / "set5" / f"{i}.png", rng.integers(0, 256, (24, 36, 3), dtype=np.uint8))
    proc = _bench("--scales", "2", "--repeat", "1", shared=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith(f"2 images from {tmp_path / 'data' / 'sr' / 'set5'}")
    assert proc.stdout.splitlines()[-1].split()[0] == "x2"
