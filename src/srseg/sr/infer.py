"""SR inference: luma SR networks with tiling and self-ensemble; colour images get bicubic chroma.

The SR-model contract: a Keras model with named inputs ``lr`` (N, h, w, 1) and ``bicubic`` (N, h·s, w·s, 1), the
float luma of the LR image and its Pillow-bicubic ×s (DCSCN's global skip), and optionally ``cond``
(N, h, w, C), condition maps on the LR grid; one output, the SR luma (N, h·s, w·s, 1). Tiling crops every input
on its own grid (LR or HR) around each tile, with at least the model's receptive radius of context, so tiled
output equals whole-image output (up to the float rounding of different convolution sizes).

Protocol of the DCSCN authors (used by :func:`model_scores` and hence ``srseg sr-bench``): Y of the HR image
(BT.601, float, :func:`srseg.metrics.sr.rgb_to_y`, the same matrix as the authors' /256 form), the network
input is Pillow's bicubic downscale of that float Y ("F" mode, unrounded), the global-skip input Pillow's
bicubic ×s of the input; grey images use the grey value (uint8 Pillow resizes, as the reference code does).
The output Y is rounded and clipped to 0..255 like a saved image and scored on Y with ``scale`` pixels shaved.

For images (:func:`sr_image`, the ``super_resolve`` stage and ``srseg upscale``): Y of the LR image → network;
chroma from the bicubic ×s RGB image (:class:`srseg.models.ycbcr.LumaToRGB`), computed tile by tile into the
uint8 output, so memory grows with the uint8 input and output and the float luma planes, not with float RGB
copies of the whole image.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from srseg.degrade import downscale, downscale_float, upscale, upscale_float
from srseg.errors import ImageError, SrsegError
from srseg.io import atomic_file, describe_model, model_metadata, outside_study_warning, read_image
from srseg.metrics.sr import luma, rgb_to_y, y_scores_from_y
from srseg.models.dcscn import DcscnConfig, ModelError, load_model, model_config
from srseg.params import TILE, TILE_OVERLAP, check_scale
from srseg.paths import REPO

log = logging.getLogger(__name__)

#: The grid each named input lives on: LR pixels or HR (×scale) pixels.
_GRID = {"lr": "lr", "bicubic": "hr", "cond": "lr"}


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


Tile = tuple[tuple[int, int, int, int], tuple[int, int, int, int]]


# --- the upscaler ------------------------------------------------------------------------------------

class Upscaler:
    """An SR model wrapped for numpy planes: whole-image or tiled, optional 8× self-ensemble, RGB output.

    ``source`` names the model (its file) in messages; ``record`` is its training record
    (:func:`srseg.io.model_metadata`), None when it has none.
    """

    def __init__(self, model: Any, source: str = "model", record: dict[str, Any] | None = None) -> None:
        import tensorflow as tf

        from srseg.models.ycbcr import LumaToRGB

        self.model = model
        self.config: DcscnConfig = model_config(model)
        self.scale = self.config.scale
        self.source = source
        self.record = record
        self.input_names = [t.name for t in model.inputs]
        unknown = set(self.input_names) - set(_GRID)
        if unknown or not {"lr", "bicubic"} <= set(self.input_names):
            raise ModelError(f"{source}: SR models take named inputs lr, bicubic[, cond]; this one takes "
                             f"{', '.join(self.input_names)}")
        self.cond_channels = next((int(t.shape[-1]) for t in model.inputs if t.name == "cond"), 0)
        specs = {n: tf.TensorSpec([None, None, None, self.cond_channels if n == "cond" else 1], tf.float32)
                 for n in self.input_names}
        to_rgb = LumaToRGB()
        self._y = tf.function(lambda feed: model(feed, training=False), input_signature=[specs])
        self._rgb = tf.function(
            lambda feed, rgb: to_rgb([model(feed, training=False), rgb]),
            input_signature=[specs, tf.TensorSpec([None, None, None, 3], tf.float32)],
        )

    @property
    def radius(self) -> int:
        """LR pixels of context one output pixel needs (the minimum tile overlap)."""
        return self.config.receptive_radius()

    # --- inputs and tiles ------------------------------------------------------------------------------
    def _planes(self, lr_y: np.ndarray, bicubic_y: np.ndarray | None, cond: np.ndarray | None) -> dict[str, np.ndarray]:
        """The named input planes (float32, no batch axis), checked against each other."""
        lr_y = np.asarray(lr_y, np.float32)
        if lr_y.ndim != 2 or min(lr_y.shape) < 1:
            raise ImageError(f"expected a non-empty single-channel image, got shape {lr_y.shape}")
        h, w, s = lr_y.shape[0], lr_y.shape[1], self.scale
        bicubic_y = upscale_float(lr_y, s) if bicubic_y is None else np.asarray(bicubic_y, np.float32)
        if bicubic_y.shape != (h * s, w * s):
            raise ImageError(f"bicubic input {bicubic_y.shape} is not x{s} of the LR input {lr_y.shape}")
        planes = {"lr": lr_y, "bicubic": bicubic_y}
        if self.cond_channels:
            if cond is None:
                raise ModelError(f"{self.source}: a conditioned SR model needs condition maps (cond)")
            cond = np.asarray(cond, np.float32)
            if cond.shape != (h, w, self.cond_channels):
                raise ImageError(f"condition maps {cond.shape} do not match the LR image ({h}, {w}) with "
                                 f"{self.cond_channels} channels")
            planes["cond"] = cond
        elif cond is not None:
            raise ModelError(f"{self.source}: this SR model takes no condition maps")
        return planes

    def _tiles(self, h: int, w: int, tile: int | None, overlap: int) -> list[Tile]:
        if not tile or (h <= tile and w <= tile):
            return [((0, h, 0, h), (0, w, 0, w))]
        ov = max(int(overlap), self.radius)  # less overlap than the receptive field would change results
        return [(ty, tx) for ty in tile_windows(h, tile, ov) for tx in tile_windows(w, tile, ov)]

    def _feed(self, planes: dict[str, np.ndarray], window: Tile, k: int = 0) -> dict[str, np.ndarray]:
        """The named inputs cropped to a tile's window (each on its grid), transformed by dihedral ``k``."""
        (_, _, wy0, wy1), (_, _, wx0, wx1) = window
        s = self.scale
        feed = {}
        for name, plane in planes.items():
            f = s if _GRID[name] == "hr" else 1
            crop = dihedral(plane[wy0 * f:wy1 * f, wx0 * f:wx1 * f], k)
            feed[name] = np.ascontiguousarray(crop if crop.ndim == 3 else crop[..., None], np.float32)[None]
        return feed

    def _core(self, out: np.ndarray, window: Tile) -> tuple[slice, slice, np.ndarray]:
        """(HR rows, HR cols) of a tile's core, and that core cut from a window's output."""
        (y0, y1, wy0, _), (x0, x1, wx0, _) = window
        s = self.scale
        core = out[(y0 - wy0) * s:(y1 - wy0) * s, (x0 - wx0) * s:(x1 - wx0) * s]
        return slice(y0 * s, y1 * s), slice(x0 * s, x1 * s), core

    def _window_y(self, planes: dict[str, np.ndarray], window: Tile, self_ensemble: bool) -> np.ndarray:
        """SR luma (float32) of a window; the mean of the 8 dihedral passes with ``self_ensemble``."""
        if not self_ensemble:
            return self._y(self._feed(planes, window)).numpy()[0, ..., 0]
        acc = None
        for k in range(8):
            y = dihedral_inverse(self._y(self._feed(planes, window, k)).numpy()[0, ..., 0], k).astype(np.float64)
            acc = y if acc is None else acc + y
        return (acc / 8).astype(np.float32)

    # --- outputs ---------------------------------------------------------------------------------------
    def predict_y(self, lr_y: np.ndarray, bicubic_y: np.ndarray | None = None, cond: np.ndarray | None = None,
                  tile: int | None = TILE, overlap: int = TILE_OVERLAP, self_ensemble: bool = False) -> np.ndarray:
        """Float32 (h·s, w·s) Y from a float LR Y plane (0..255); ``bicubic_y`` defaults to Pillow bicubic."""
        planes = self._planes(lr_y, bicubic_y, cond)
        h, w = planes["lr"].shape
        out = np.empty((h * self.scale, w * self.scale), np.float32)
        for window in self._tiles(h, w, tile, overlap):
            rows, cols, core = self._core(self._window_y(planes, window, self_ensemble), window)
            out[rows, cols] = core
        return out

    def predict_rgb(self, lr: np.ndarray, cond: np.ndarray | None = None, tile: int | None = TILE,
                    overlap: int = TILE_OVERLAP, self_ensemble: bool = False) -> np.ndarray:
        """uint8 (h·s, w·s, 3) SR image of a uint8 RGB LR image: model luma, bicubic chroma, tile by tile."""
        from srseg.models.ycbcr import LumaToRGB

        planes = self._planes(luma(lr), None, cond)
        h, w = planes["lr"].shape
        s = self.scale
        bic = upscale(lr, s)  # uint8: the only full-size RGB copy besides the output
        out = np.empty((h * s, w * s, 3), np.uint8)
        to_rgb = LumaToRGB()
        for window in self._tiles(h, w, tile, overlap):
            (_, _, wy0, wy1), (_, _, wx0, wx1) = window
            bic_win = bic[wy0 * s:wy1 * s, wx0 * s:wx1 * s].astype(np.float32)[None]
            if self_ensemble:
                y = self._window_y(planes, window, True)[None, ..., None]
                rgb = to_rgb([y, bic_win]).numpy()[0]
            else:
                rgb = self._rgb(self._feed(planes, window), bic_win).numpy()[0]
            rows, cols, core = self._core(rgb, window)
            out[rows, cols] = np.clip(np.round(core), 0, 255).astype(np.uint8)
        return out


def load_upscaler(scale: int, model: str | Path | None = None, dcscn_checkpoint: str | Path | None = None,
                  seed: int = 0) -> Upscaler:
    """An Upscaler from a saved ``.keras`` model or from the authors' checkpoints (folder or prefix).

    With neither, the ``pretrain_sr`` output of ``seed`` (``models/seed{seed}/sr/x{scale}.keras``) is used.
    """
    check_scale(scale)
    if model is not None and dcscn_checkpoint is not None:
        raise SrsegError("give either --model or --dcscn-checkpoint, not both")
    if dcscn_checkpoint is not None:
        from srseg.models.dcscn_release import model_from_checkpoint

        return Upscaler(model_from_checkpoint(dcscn_checkpoint, scale), source=str(dcscn_checkpoint))
    path = Path(model) if model is not None else REPO.sr_model(scale, seed)
    keras_model = load_model(path)
    got = model_config(keras_model).scale
    if got != scale:
        raise ModelError(f"{path}: this is a x{got} model, not x{scale}")
    return Upscaler(keras_model, source=str(path), record=model_metadata(path))


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
    sr_y = upscaler.predict_y(lr_y, bic_y, self_ensemble=self_ensemble)
    sr_y = np.clip(np.round(sr_y), 0, 255)
    return y_scores_from_y(y_hr, sr_y, scale)


# --- whole images and files -----------------------------------------------------------------------

def sr_image(upscaler: Upscaler, lr: np.ndarray, tile: int | None = TILE, overlap: int = TILE_OVERLAP,
             self_ensemble: bool = False, cond: np.ndarray | None = None) -> np.ndarray:
    """Super-resolve a uint8 LR image: RGB (h, w, 3) → RGB (h·s, w·s, 3), grey (h, w) → grey."""
    lr = np.asarray(lr)
    if lr.dtype != np.uint8 or lr.ndim not in (2, 3) or (lr.ndim == 3 and lr.shape[2] != 3):
        raise ImageError(f"expected a uint8 RGB or grey image, got {lr.dtype} {lr.shape}")
    if lr.ndim == 3:
        return upscaler.predict_rgb(lr, cond=cond, tile=tile, overlap=overlap, self_ensemble=self_ensemble)
    sr_y = upscaler.predict_y(luma(lr), cond=cond, tile=tile, overlap=overlap, self_ensemble=self_ensemble)
    return np.clip(np.round(sr_y), 0, 255).astype(np.uint8)


def _format_for(path: Path) -> str:
    fmt = Image.registered_extensions().get(path.suffix.lower())
    if fmt is None:
        raise ImageError(f"{path}: unknown image extension {path.suffix!r} (use .png, .bmp, .tif, ...)")
    return fmt


def _same_file(a: Path, b: Path) -> bool:
    try:
        return b.exists() and a.samefile(b)
    except OSError:
        return False


def upscale_file(input: str | Path, output: str | Path, scale: int, model: str | Path | None = None,
                 dcscn_checkpoint: str | Path | None = None, tile: int | None = TILE,
                 self_ensemble: bool = False, overwrite: bool = False,
                 condition: Callable[[np.ndarray], np.ndarray] | None = None) -> Path:
    """``srseg upscale``: super-resolve one image file (colour or grey, any size); written atomically.

    Logs which model runs and what it was trained on, and a warning when a model trained on synthetic scenes
    is applied to a file outside the study (:func:`srseg.io.outside_study_warning`). Refuses to replace the
    input file itself unless ``overwrite``. ``condition`` maps the LR image to the condition maps of a
    segmentation-conditioned model (see :func:`srseg.sr.condition.assisted_upscale_file`).
    """
    input, output = Path(input), Path(output)
    check_scale(scale, what="--scale")
    fmt = _format_for(output)
    if tile is not None and tile < 1:
        raise SrsegError(f"--tile must be >= 1, got {tile}")
    if _same_file(input, output) and not overwrite:
        raise SrsegError(f"{output}: is the input image; give another output file (or --overwrite to replace it)")
    lr = read_image(input, "auto")
    upscaler = load_upscaler(scale, model=model, dcscn_checkpoint=dcscn_checkpoint)
    if dcscn_checkpoint is not None:
        log.info("model %s: the DCSCN authors' checkpoint, no training record", dcscn_checkpoint)
    else:
        log.info("%s", describe_model(upscaler.source, upscaler.record))
    warning = outside_study_warning(upscaler.record, upscaler.source, input, REPO.data)
    if warning:
        log.warning("%s", warning)
    cond = None
    if condition is not None:
        if lr.ndim != 3:
            raise SrsegError(f"{input}: --segmentation-assisted needs a colour image (the segmenter takes RGB)")
        if not upscaler.cond_channels:
            raise ModelError(f"{upscaler.source}: not a segmentation-conditioned SR model (it takes no cond input); "
                             "give one with --model, e.g. the sft_sr stage's")
        cond = condition(lr)
    out = sr_image(upscaler, lr, tile=tile, self_ensemble=self_ensemble, cond=cond)
    with atomic_file(output, "wb") as fh:
        Image.fromarray(out).save(fh, format=fmt)
    log.info("%s: %dx%d -> %dx%d (x%d, %s)", output, lr.shape[1], lr.shape[0], out.shape[1], out.shape[0], scale,
             upscaler.source)
    return output
