"""SR quality with the literature's convention: Y-channel PSNR/SSIM with a shaved border.

Convention (SRCNN/VDSR/DCSCN evaluations): HR cropped to a multiple of the scale, luma
``Y = 16 + 65.481 R + 128.553 G + 24.966 B`` with R, G, B in [0, 1], ``scale`` pixels shaved
from every border, PSNR against peak 255, and the mean over images of per-image values.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from skimage.metrics import structural_similarity
from skimage.util import crop

from srseg.degrade import downscale, upscale
from srseg.errors import ImageError
from srseg.io import read_image, read_label
from srseg.labels import NUM_CLASSES
from srseg.layout import list_samples

Y_WEIGHTS = np.array([65.481, 128.553, 24.966], dtype=np.float64) / 255.0

#: Scores are computed over strips of about this many pixels (whole rows), so that their float64 temporaries
#: grow with the image width, not its area; results equal whole-image computation to the bit (see :class:`_YPlanes`).
STRIP_PIXELS = 1 << 20
#: SSIM as in the SR literature (Wang et al. 2004): Gaussian window σ = 1.5, which skimage truncates at 3.5 σ
#: (radius 5, an 11×11 window), population covariance.
_SSIM = dict(gaussian_weights=True, sigma=1.5, use_sample_covariance=False)
_SSIM_WIN = 2 * int(3.5 * 1.5 + 0.5) + 1


def rgb_to_y(rgb: np.ndarray) -> np.ndarray:
    """ITU-R BT.601 luma in [16, 235] as float64; a single-channel image is taken as Y already."""
    rgb = np.asarray(rgb, dtype=np.float64)
    if rgb.ndim == 2:
        return rgb
    return 16.0 + rgb[..., :3] @ Y_WEIGHTS


def luma(image: np.ndarray) -> np.ndarray:
    """Float32 Y of an RGB image, or the grey value of a single-channel one (the SR networks' input)."""
    return rgb_to_y(image).astype(np.float32)


def shave(arr: np.ndarray, border: int) -> np.ndarray:
    """Drop ``border`` pixels from every side."""
    return arr[border:-border, border:-border] if border > 0 else arr


def psnr(a: np.ndarray, b: np.ndarray, peak: float = 255.0) -> float:
    """PSNR in dB between two same-shaped arrays."""
    return _psnr_of_mse(float(np.mean((np.asarray(a, np.float64) - np.asarray(b, np.float64)) ** 2)), peak)


def _psnr_of_mse(mse: float, peak: float = 255.0) -> float:
    return float("inf") if mse == 0 else 10.0 * np.log10(peak * peak / mse)


def ssim(a: np.ndarray, b: np.ndarray, peak: float = 255.0) -> float:
    """SSIM of Wang et al. 2004 (11×11 Gaussian window, σ = 1.5), as in the SR literature."""
    return float(structural_similarity(np.asarray(a, np.float64), np.asarray(b, np.float64), data_range=peak,
                                       **_SSIM))


class _YPlanes:
    """The shaved Y planes of two same-sized images (RGB or single-channel), produced a strip of rows at a time.

    Every value equals that of the whole-image computation: :func:`rgb_to_y` works row by row (NumPy's matmul of
    an (H, W, 3) array runs one product per row), element-wise arithmetic is per pixel, and the SSIM map of a
    strip is computed with ``_SSIM_WIN - 1`` rows of context on each side, more than the Gaussian filter's radius.
    """

    def __init__(self, a: np.ndarray, b: np.ndarray, border: int) -> None:
        if a.shape[:2] != b.shape[:2]:
            raise ValueError(f"size mismatch: {a.shape[:2]} vs {b.shape[:2]}")
        self.a, self.b, self.border = a, b, max(int(border), 0)
        h, w = a.shape[:2]
        self.shape = (max(h - 2 * self.border, 0), max(w - 2 * self.border, 0))

    def strips(self) -> list[tuple[int, int]]:
        rows = max(1, STRIP_PIXELS // max(self.shape[1], 1))
        return [(r, min(r + rows, self.shape[0])) for r in range(0, self.shape[0], rows)]

    def y(self, r0: int, r1: int) -> tuple[np.ndarray, np.ndarray]:
        """Rows ``r0..r1`` of both shaved float64 Y planes."""
        b, w = self.border, self.a.shape[1]
        return tuple(rgb_to_y(img[r0 + b:r1 + b])[:, b:w - b] for img in (self.a, self.b))  # type: ignore[return-value]

    def squared_errors(self, r0: int, r1: int) -> np.ndarray:
        ya, yb = self.y(r0, r1)
        return (ya - yb) ** 2

    def scores(self, peak: float = 255.0) -> tuple[float, float]:
        """(PSNR, SSIM) with one full-size float64 buffer: the squared errors, then the SSIM map."""
        buf = np.empty(self.shape, np.float64)
        for r0, r1 in self.strips():
            buf[r0:r1] = self.squared_errors(r0, r1)
        mse = float(np.mean(buf))
        ctx = _SSIM_WIN - 1
        for r0, r1 in self.strips():
            lo, hi = max(r0 - ctx, 0), min(r1 + ctx, self.shape[0])
            _, smap = structural_similarity(*self.y(lo, hi), data_range=peak, full=True, **_SSIM)
            buf[r0:r1] = smap[r0 - lo:r1 - lo]
        # skimage's mean SSIM: the map without the filter radius at the borders, averaged in float64
        return _psnr_of_mse(mse, peak), float(crop(buf, (_SSIM_WIN - 1) // 2).mean(dtype=np.float64))


def y_scores(hr: np.ndarray, test: np.ndarray, scale: int) -> tuple[float, float]:
    """(PSNR, SSIM) on Y of ``test`` against ``hr``, with ``scale`` pixels shaved (memory: see STRIP_PIXELS)."""
    return _YPlanes(hr, test, scale).scores()


def y_scores_from_y(y_hr: np.ndarray, y_test: np.ndarray, scale: int) -> tuple[float, float]:
    """(PSNR, SSIM) of two Y planes in [0, 255] (float), with ``scale`` pixels shaved."""
    return _YPlanes(y_hr, y_test, scale).scores()


def mean_scores(pairs: list[tuple[float, float]]) -> dict[str, float | int]:
    """Mean of per-image (PSNR, SSIM) as the JSON entry ``{"psnr_y", "ssim_y", "n_images"}``."""
    arr = np.asarray(pairs, dtype=np.float64).reshape(-1, 2)
    return {"psnr_y": float(arr[:, 0].mean()), "ssim_y": float(arr[:, 1].mean()), "n_images": len(pairs)}


def bicubic_scores(hr: np.ndarray, scale: int) -> tuple[float, float]:
    """(PSNR, SSIM) of the bicubic down-up round trip of an HR image already cropped to ``scale``."""
    return y_scores(hr, upscale(downscale(hr, scale), scale), scale)


def class_squared_errors(hr: np.ndarray, test: np.ndarray, train_ids: np.ndarray, scale: int
                         ) -> tuple[list[float], list[int]]:
    """Per class of the ground truth: the sum of squared Y errors and the pixel count, ``scale`` pixels shaved
    (a class region's PSNR pools these over a split: 10·log10(255² / (Σ SSE / Σ pixels))).

    Sums run over the pixels in row-major order, a strip of rows at a time (``np.add.at`` adds in index order,
    as ``np.bincount`` does), so they equal the whole-image sums to the bit.
    """
    planes = _YPlanes(hr, test, scale)
    ids_all = shave(np.asarray(train_ids), scale)
    if ids_all.shape != planes.shape:
        raise ValueError(f"label size {train_ids.shape[:2]} does not match the image {hr.shape[:2]}")
    sse, n = np.zeros(NUM_CLASSES, np.float64), np.zeros(NUM_CLASSES, np.int64)
    for r0, r1 in planes.strips():
        ids = ids_all[r0:r1].astype(np.int64).ravel()
        keep = ids < NUM_CLASSES
        np.add.at(sse, ids[keep], planes.squared_errors(r0, r1).ravel()[keep])
        n += np.bincount(ids[keep], minlength=NUM_CLASSES)
    return sse.tolist(), n.tolist()


def quality(ids: list[str], pairs: list[tuple[float, float]], class_sse: list[list[float]] | None = None,
            class_pixels: list[list[int]] | None = None) -> dict[str, Any]:
    """The quality record of a variant's images: mean Y-PSNR/SSIM, and every image's (for the bootstrap), with
    the per-class squared errors where the ground truth is known."""
    per = {"ids": list(ids), "psnr_y": [float(p) for p, _ in pairs], "ssim_y": [float(s) for _, s in pairs]}
    if class_sse is not None:
        per |= {"class_sse": class_sse, "class_pixels": class_pixels}
    return {**mean_scores(pairs), "per_image": per}


def tree_quality(hr_root: str | Path, image_root: str | Path, scale: int, split: str = "val") -> dict[str, Any]:
    """:func:`quality` of the ``split`` images under ``image_root`` against the HR images of ``hr_root``."""
    samples = list_samples(hr_root, split)
    pairs, sse, counts = [], [], []
    for s in samples:
        hr, img = read_image(s.image(hr_root)), read_image(s.image(image_root))
        if hr.shape != img.shape:
            raise ImageError(f"{s.image(image_root)}: {img.shape[1]}x{img.shape[0]} does not match its HR image "
                             f"{s.image(hr_root)} ({hr.shape[1]}x{hr.shape[0]})")
        pairs.append(y_scores(hr, img, scale))
        e, n = class_squared_errors(hr, img, read_label(s.label_train_ids(hr_root)), scale)
        sse.append(e)
        counts.append(n)
    return quality([s.id for s in samples], pairs, sse, counts)
