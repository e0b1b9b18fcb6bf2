"""Bicubic degradation: Pillow (what srseg uses) vs a NumPy port of MATLAB ``imresize``, side by side.

Prints, on the same images in one run: the PSNR-Y of the bicubic round trip by each implementation
(how closely Pillow reproduces the MATLAB numbers the literature publishes) and the time ratio.

    python benchmarks/bench_degrade.py [--images ../shared/data/sr/set5] [--repeat 3]

The default images are Set5 from the optional real data in ../shared (or in $SRSEG_SHARED, as for the tests);
without them the script stops with one line saying so.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np

from srseg.degrade import crop_to_multiple, downscale, upscale
from srseg.entry import stage
from srseg.errors import SrsegError
from srseg.io import list_images, read_image
from srseg.metrics.sr import y_scores


def _cubic(x: np.ndarray) -> np.ndarray:
    ax = np.abs(x)
    return ((1.5 * ax**3 - 2.5 * ax**2 + 1) * (ax <= 1)
            + (-0.5 * ax**3 + 2.5 * ax**2 - 4 * ax + 2) * ((ax > 1) & (ax <= 2)))


def _weights(n_in: int, n_out: int, scale: float) -> np.ndarray:
    """MATLAB imresize's (n_out, n_in) resampling matrix: cubic kernel, antialiased when shrinking."""
    kscale = min(scale, 1.0)
    width = 4.0 / kscale
    u = np.arange(1, n_out + 1, dtype=np.float64)
    x = u / scale + 0.5 * (1 - 1 / scale)
    left = np.floor(x - width / 2)
    idx = left[:, None] + np.arange(int(np.ceil(width)) + 2)[None, :]
    w = kscale * _cubic(kscale * (x[:, None] - idx))
    w /= w.sum(1, keepdims=True)
    idx = idx.astype(int) - 1  # to 0-based, then mirror at the borders like MATLAB's 'symmetric'
    idx = np.where(idx < 0, -idx - 1, idx)
    idx = np.where(idx >= n_in, 2 * n_in - idx - 1, idx)
    mat = np.zeros((n_out, n_in))
    np.add.at(mat, (np.repeat(np.arange(n_out), idx.shape[1]), idx.ravel()), w.ravel())
    return mat


def matlab_imresize(img: np.ndarray, scale: float) -> np.ndarray:
    """``imresize(img, scale, 'bicubic')`` for uint8 images (rounded back to uint8)."""
    h, w = img.shape[:2]
    oh, ow = int(np.ceil(h * scale)), int(np.ceil(w * scale))
    rows, cols = _weights(h, oh, scale), _weights(w, ow, scale)
    out = np.einsum("ij,jk...->ik...", rows, img.astype(np.float64))
    out = np.einsum("ij,kj...->ki...", cols, out)
    return np.clip(np.round(out), 0, 255).astype(np.uint8)


@stage
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    shared = Path(os.environ.get("SRSEG_SHARED", Path(__file__).resolve().parents[2] / "shared"))
    default = shared / "data" / "sr" / "set5"
    parser.add_argument("--images", default=str(default), help="folder of HR images (default: Set5 of ../shared)")
    parser.add_argument("--scales", default="2,3,4", help="comma-separated scale factors")
    parser.add_argument("--repeat", type=int, default=3, help="timing repeats (the fastest counts)")
    args = parser.parse_args()
    if not Path(args.images).is_dir():
        raise SrsegError(f"{args.images}: no such folder (Set5 comes with the optional ../shared data; set "
                         f"SRSEG_SHARED to the folder that holds data/sr/set5, or pass --images FOLDER)")
    hrs = [read_image(f, "auto") for f in list_images(args.images)]
    print(f"{len(hrs)} images from {args.images}")
    print(f"{'scale':>5} {'PSNR pillow':>12} {'PSNR matlab':>12} {'diff dB':>8} {'pillow s':>9} {'matlab s':>9} "
          f"{'speed-up':>9}")
    for s in (int(v) for v in args.scales.split(",")):
        crops = [crop_to_multiple(hr, s) for hr in hrs]
        t_pil = t_mat = float("inf")
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            pil = [upscale(downscale(hr, s), s) for hr in crops]
            t1 = time.perf_counter()
            mat = [matlab_imresize(matlab_imresize(hr, 1 / s), s) for hr in crops]
            t2 = time.perf_counter()
            t_pil, t_mat = min(t_pil, t1 - t0), min(t_mat, t2 - t1)
        p_pil = np.mean([y_scores(hr, o, s)[0] for hr, o in zip(crops, pil, strict=True)])
        p_mat = np.mean([y_scores(hr, o, s)[0] for hr, o in zip(crops, mat, strict=True)])
        print(f"  x{s:<3} {p_pil:12.3f} {p_mat:12.3f} {p_pil - p_mat:8.3f} {t_pil:9.3f} {t_mat:9.3f} "
              f"{t_mat / t_pil:8.1f}x")


if __name__ == "__main__":
    main()
