"""The HR crop rule and bicubic degradation (Pillow, which matches MATLAB ``imresize``), at the study's integer
scales and at any factor of the degradation sweep (:func:`down_up`)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image
from tqdm import tqdm

from srseg.errors import ImageError, SrsegError
from srseg.io import atomic_dir, read_image, write_png
from srseg.layout import list_samples, splits_present
from srseg.paths import factor_folder


def crop_to_multiple(arr: np.ndarray, multiple: int) -> np.ndarray:
    """Crop an image or label to a multiple of ``multiple``, anchored at the top-left corner.

    Anchoring top-left keeps pixel (0, 0) fixed, so HR, LR (pixel i ↔ HR block i·s..i·s+s-1) and
    every upscaled variant address the same scene points.
    """
    h, w = arr.shape[:2]
    return arr[: h - h % multiple, : w - w % multiple]


def _resize(arr: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Bicubic resize of a uint8 (H, W) or (H, W, 3) array to ``size`` = (width, height)."""
    return np.asarray(Image.fromarray(arr).resize(size, Image.Resampling.BICUBIC))


def downscale(hr: np.ndarray, scale: int) -> np.ndarray:
    """Bicubic ÷scale (antialiased, like MATLAB imresize); HR must already be a multiple of ``scale``."""
    h, w = hr.shape[:2]
    if h % scale or w % scale:
        raise ValueError(f"HR size {w}x{h} is not a multiple of scale {scale}")
    return _resize(hr, (w // scale, h // scale))


def upscale(lr: np.ndarray, scale: int) -> np.ndarray:
    """Bicubic ×scale."""
    h, w = lr.shape[:2]
    return _resize(lr, (w * scale, h * scale))


def downscale_float(y: np.ndarray, scale: int) -> np.ndarray:
    """Pillow bicubic ÷scale of a float single-channel image (antialiased, unrounded)."""
    h, w = y.shape[:2]
    im = Image.fromarray(np.asarray(y, dtype=np.float32), mode="F")
    return np.asarray(im.resize((w // scale, h // scale), Image.Resampling.BICUBIC), dtype=np.float32)


def upscale_float(lr: np.ndarray, scale: int) -> np.ndarray:
    """Bicubic ×scale of a float32 single-channel image, without rounding (the DCSCN global skip)."""
    h, w = lr.shape[:2]
    im = Image.fromarray(np.asarray(lr, dtype=np.float32), mode="F")
    return np.asarray(im.resize((w * scale, h * scale), Image.Resampling.BICUBIC), dtype=np.float32)


def degrade_tree(hr_root: str | Path, scale: int, lr_out: str | Path, bicubic_out: str | Path) -> int:
    """Write LR and bicubic-back images of every split of ``hr_root`` (Cityscapes layout, same names).

    Both outputs are replaced atomically; returns the number of images.
    """
    samples = [s for split in splits_present(hr_root) for s in list_samples(hr_root, split)]
    if not samples:
        raise SrsegError(f"{hr_root}: no splits found (run the download stage first)")
    with atomic_dir(lr_out) as lr_tmp, atomic_dir(bicubic_out) as bic_tmp:
        for s in tqdm(samples, desc=f"degrade x{scale}", unit="img"):
            hr = read_image(s.image(hr_root))
            h, w = hr.shape[:2]
            if h % scale or w % scale:
                raise ImageError(f"{s.image(hr_root)}: HR size {w}x{h} is not a multiple of {scale}")
            lr = downscale(hr, scale)
            write_png(s.image(lr_tmp), lr)
            write_png(s.image(bic_tmp), upscale(lr, scale))
    return len(samples)


def down_up(hr: np.ndarray, factor: float) -> np.ndarray:
    """Bicubic ÷``factor`` to round(W/f) × round(H/f) (antialiased, uint8 like an LR file), then bicubic back to
    W × H: the degradation sweep's images. For an integer factor that divides the size this is :func:`downscale`
    then :func:`upscale`, byte for byte (the ``degrade`` stage's bicubic images)."""
    h, w = hr.shape[:2]
    small = (max(1, round(w / factor)), max(1, round(h / factor)))
    return _resize(_resize(hr, small), (w, h))


def degrade_sweep(hr_root: str | Path, factors: list[int | float], out_root: str | Path, split: str = "val") -> int:
    """Write :func:`down_up` copies of every ``split`` image of ``hr_root`` for each factor, under
    ``out_root/x{factor}`` (Cityscapes image layout, same names); the folder is replaced atomically. Returns the
    number of images per factor."""
    samples = list_samples(hr_root, split)
    if not samples:
        raise SrsegError(f"{hr_root}: no {split} images (run the download stage first)")
    with atomic_dir(out_root) as tmp:
        for s in tqdm(samples, desc=f"degrade {split} by {len(factors)} factors", unit="img"):
            hr = read_image(s.image(hr_root))
            for f in factors:
                write_png(s.image(Path(tmp) / factor_folder(f)), down_up(hr, f))
    return len(samples)
