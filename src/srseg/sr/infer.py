"""SR inference: Y-channel DCSCN with tiling and self-ensemble; colour images get bicubic chroma.

Protocol of the DCSCN authors (used by ``model_scores`` and hence ``srseg sr-bench``): Y of the HR image
(BT.601, float, :func:`srseg.metrics.sr.rgb_to_y`, the same matrix as the authors' /256 form), the network
input is Pillow's bicubic downscale of that float Y ("F" mode, unrounded), the global-skip input Pillow's
bicubic ×s of the input; grey images use the grey value (uint8 Pillow resizes, as the reference code does).
The output Y is rounded and clipped to 0..255 like a saved image and scored on Y with ``scale`` pixels shaved.

For images (``sr_image``, the ``super_resolve`` stage and ``srseg upscale``): Y of the LR image → network;
chroma from the bicubic ×s RGB image (the ``data/bicubic`` image): the output is that image shifted along
the luma axis, ``RGB = RGB_bic + (Y_sr − Y_bic)·255/219``, which keeps its Cb/Cr and sets Y to the model's.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from srseg.degrade import downscale, upscale, upscale_float
from srseg.errors import ImageError, SrsegError
from srseg.io import atomic_file, read_image
from srseg.metrics.sr import rgb_to_y, y_scores_from_y
from srseg.models.dcscn import DcscnConfig, ModelError, load_model, model_config

log = logging.getLogger(__name__)

DEFAULT_TILE = 512
DEFAULT_OVERLAP = 10
_LUMA_GAIN = 255.0 / 219.0  # Y(RGB + c·[1,1,1]) = Y(RGB) + c·219/255


# --- resampling helpers --------------------------------------------------------------------------

def downscale_float(y: np.ndarray, scale: int) -> np.ndarray:
    """Pillow bicubic ÷scale of a float single-channel image (antialiased, unrounded)."""
    h, w = y.shape[:2]
    im = Image.fromarray(np.asarray(y, dtype=np.float32), mode="F")
    return np.asarray(im.resize((w // scale, h // scale), Image.Resampling.BICUBIC), dtype=np.float32)


def luma(image: np.ndarray) -> np.ndarray:
    """Float32 Y of an RGB image, or the grey value of a single-channel one."""
    return rgb_to_y(image).astype(np.float32)


# --- dihedral transforms for self-ensemble ------------------------------------------------------------

def dihedral(x: np.ndarray, k: int) -> np.ndarray:
    """The k-th of 8 rotations/flips (k = 0 is identity)."""
    x = np.rot90(x, k % 4)
    return np.fliplr(x) if k >= 4 else x


def dihedral_inverse(x: np.ndarray, k: int) -> np.ndarray:
    x = np.fliplr(x) if k >= 4 else x
    return np.rot90(x, -(k % 4))


# --- tiling ------------------------------------------------------------------------------------------

def tile_windows(n: int, tile: int, overlap: int) -> list[tuple[int, int, int, int]]:
    """Split ``0..n`` into near-equal tiles of at most ``tile``; each with an input window of one fixed size.

    Returns ``(start, stop, win_start, win_stop)``: the window holds ``overlap`` pixels of context on each
    side of the tile, or reaches the image border (where the network's zero padding is the same as for the
    whole image), so the tile's output equals whole-image output.  All windows have the same length
    (``min(n, tile + 2·overlap)``), which keeps the number of distinct shapes the network sees at one.
    """
    count = -(-n // tile)
    size = -(-n // count)  # near-equal tiles: no thin last tile
    win = min(n, size + 2 * overlap)
    out = []
    for start in range(0, n, size):
        stop = min(start + size, n)
        w0 = min(max(start - overlap, 0), n - win)
        out.append((start, stop, w0, w0 + win))
    return out


# --- the upscaler ------------------------------------------------------------------------------------

class Upscaler:
    """A DCSCN model wrapped for numpy Y planes: whole-image or tiled, optional 8× self-ensemble."""

    def __init__(self, model: Any, source: str = "model") -> None:
        import tensorflow as tf

        self.model = model
        self.config: DcscnConfig = model_config(model)
        self.scale = self.config.scale
        self.source = source
        spec = tf.TensorSpec([None, None, None, 1], tf.float32)
        self._fn = tf.function(lambda lr, bic: model([lr, bic], training=False), input_signature=[spec, spec])

    @property
    def radius(self) -> int:
        """LR pixels of context one output pixel needs (the minimum tile overlap)."""
        return self.config.receptive_radius()

    def _run(self, lr: np.ndarray, bic: np.ndarray) -> np.ndarray:
        out = self._fn(np.ascontiguousarray(lr, np.float32)[None, ..., None],
                       np.ascontiguousarray(bic, np.float32)[None, ..., None])
        return out.numpy()[0, ..., 0]

    def _tiled(self, lr: np.ndarray, bic: np.ndarray, tile: int | None, overlap: int) -> np.ndarray:
        s = self.scale
        h, w = lr.shape
        if not tile or (h <= tile and w <= tile):
            return self._run(lr, bic)
        ov = max(int(overlap), self.radius)  # less overlap than the receptive field would change results
        out = np.empty((h * s, w * s), np.float32)
        for (y0, y1, wy0, wy1) in tile_windows(h, tile, ov):
            for (x0, x1, wx0, wx1) in tile_windows(w, tile, ov):
                res = self._run(lr[wy0:wy1, wx0:wx1], bic[wy0 * s:wy1 * s, wx0 * s:wx1 * s])
                out[y0 * s:y1 * s, x0 * s:x1 * s] = res[(y0 - wy0) * s:(y1 - wy0) * s, (x0 - wx0) * s:(x1 - wx0) * s]
        return out

    def predict_y(self, lr_y: np.ndarray, bicubic_y: np.ndarray | None = None, tile: int | None = DEFAULT_TILE,
                  overlap: int = DEFAULT_OVERLAP, self_ensemble: bool = False) -> np.ndarray:
        """Float32 (h·s, w·s) Y from a float LR Y plane (0..255); ``bicubic_y`` defaults to Pillow bicubic."""
        lr_y = np.asarray(lr_y, np.float32)
        if lr_y.ndim != 2 or min(lr_y.shape) < 1:
            raise ImageError(f"expected a non-empty single-channel image, got shape {lr_y.shape}")
        if bicubic_y is None:
            bicubic_y = upscale_float(lr_y, self.scale)
        if bicubic_y.shape != (lr_y.shape[0] * self.scale, lr_y.shape[1] * self.scale):
            raise ImageError(f"bicubic input {bicubic_y.shape} is not x{self.scale} of the LR input {lr_y.shape}")
        if not self_ensemble:
            return self._tiled(lr_y, bicubic_y, tile, overlap)
        acc = np.zeros(bicubic_y.shape, np.float64)
        for k in range(8):
            res = self._tiled(dihedral(lr_y, k), dihedral(bicubic_y, k), tile, overlap)
            acc += dihedral_inverse(res, k)
        return (acc / 8).astype(np.float32)


def load_upscaler(scale: int, model: str | Path | None = None, dcscn_checkpoint: str | Path | None = None) -> Upscaler:
    """An Upscaler from a saved ``.keras`` model or from the authors' checkpoints (folder or prefix).

    With neither, ``models/sr/x{scale}.keras`` (the ``pretrain_sr`` output) is used.
    """
    if model is not None and dcscn_checkpoint is not None:
        raise SrsegError("give either --model or --dcscn-checkpoint, not both")
    if dcscn_checkpoint is not None:
        from srseg.sr.checkpoint import model_from_checkpoint

        return Upscaler(model_from_checkpoint(dcscn_checkpoint, scale), source=str(dcscn_checkpoint))
    path = Path(model) if model is not None else Path(f"models/sr/x{scale}.keras")
    keras_model = load_model(path)
    got = model_config(keras_model).scale
    if got != scale:
        raise ModelError(f"{path}: this is a x{got} model, not x{scale}")
    return Upscaler(keras_model, source=str(path))


# --- scoring (the authors' protocol) ------------------------------------------------------------------

def model_scores(upscaler: Upscaler, hr: np.ndarray, scale: int, self_ensemble: bool = False) -> tuple[float, float]:
    """(PSNR, SSIM) on Y of the model's ×scale reconstruction of bicubic-downscaled ``hr``.

    ``hr`` is uint8 (H, W, 3) or grey (H, W), already cropped to a multiple of ``scale``.
    """
    if upscaler.scale != scale:
        raise ModelError(f"{upscaler.source}: a x{upscaler.scale} model cannot score x{scale}")
    hr = np.asarray(hr)
    h, w = hr.shape[:2]
    if h % scale or w % scale:
        raise ImageError(f"HR size {w}x{h} is not a multiple of scale {scale}")
    if hr.ndim == 2:  # grey: uint8 resizes like the reference code's mode-L images
        lr_u8 = downscale(hr, scale)
        lr_y, bic_y = lr_u8.astype(np.float32), upscale(lr_u8, scale).astype(np.float32)
        y_hr = hr.astype(np.float64)
    else:
        y_hr = rgb_to_y(hr)
        lr_y = downscale_float(y_hr, scale)
        bic_y = upscale_float(lr_y, scale)
    sr_y = upscaler.predict_y(lr_y, bic_y, tile=DEFAULT_TILE, self_ensemble=self_ensemble)
    sr_y = np.clip(np.round(sr_y), 0, 255)
    return y_scores_from_y(y_hr, sr_y, scale)


# --- whole images and files -----------------------------------------------------------------------

def sr_image(upscaler: Upscaler, lr: np.ndarray, tile: int | None = DEFAULT_TILE, overlap: int = DEFAULT_OVERLAP,
             self_ensemble: bool = False) -> np.ndarray:
    """Super-resolve a uint8 LR image: RGB (h, w, 3) → RGB (h·s, w·s, 3), grey (h, w) → grey."""
    lr = np.asarray(lr)
    if lr.dtype != np.uint8 or lr.ndim not in (2, 3) or (lr.ndim == 3 and lr.shape[2] != 3):
        raise ImageError(f"expected a uint8 RGB or grey image, got {lr.dtype} {lr.shape}")
    y_lr = luma(lr)
    sr_y = upscaler.predict_y(y_lr, upscale_float(y_lr, upscaler.scale), tile=tile, overlap=overlap,
                              self_ensemble=self_ensemble)
    if lr.ndim == 2:
        return np.clip(np.round(sr_y), 0, 255).astype(np.uint8)
    bic = upscale(lr, upscaler.scale).astype(np.float32)
    rgb = bic + ((sr_y - luma(bic)) * _LUMA_GAIN)[..., None]
    return np.clip(np.round(rgb), 0, 255).astype(np.uint8)


def _format_for(path: Path) -> str:
    fmt = Image.registered_extensions().get(path.suffix.lower())
    if fmt is None:
        raise ImageError(f"{path}: unknown image extension {path.suffix!r} (use .png, .bmp, .tif, ...)")
    return fmt


def upscale_file(input: str | Path, output: str | Path, scale: int, model: str | Path | None = None,
                 dcscn_checkpoint: str | Path | None = None, tile: int | None = DEFAULT_TILE,
                 self_ensemble: bool = False) -> Path:
    """``srseg upscale``: super-resolve one image file (colour or grey, any size); written atomically."""
    output = Path(output)
    fmt = _format_for(output)
    if tile is not None and tile < 1:
        raise SrsegError(f"--tile must be >= 1, got {tile}")
    lr = read_image(input, "auto")
    upscaler = load_upscaler(scale, model=model, dcscn_checkpoint=dcscn_checkpoint)
    out = sr_image(upscaler, lr, tile=tile, self_ensemble=self_ensemble)
    with atomic_file(output, "wb") as fh:
        Image.fromarray(out).save(fh, format=fmt)
    log.info("%s: %dx%d -> %dx%d (x%d, %s)", output, lr.shape[1], lr.shape[0], out.shape[1], out.shape[0], scale,
             upscaler.source)
    return output
