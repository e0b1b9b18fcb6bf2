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
chroma from the bicubic ×s RGB image (:class:`srseg.models.ycbcr.LumaToRGB`). Every float plane (luma,
bicubic luma, bicubic RGB) is computed per tile from the LR crop (:class:`_Window`) and written into the uint8
output, so memory is the uint8 input and output plus what one tile needs, whatever the image size. At ×2 and
×4 tiled output is byte-identical to whole-image output; at ×3 Pillow's bicubic coefficients of a crop can
differ from the whole image's in the last float bit (its sample positions are multiples of 1/3).

Memory of one prediction: TensorFlow, Keras and the model (≈ 0.6 GB RSS on CPU), the uint8 input and output, and
one window's activations: every layer's output over the window, ≈ 2 KB per LR pixel for c-DCSCN ×2 (≈ 17 KB for
dcscn), so ≈ 0.5 GB for the pipeline's 512-pixel tile. ``tile="auto"`` (``srseg upscale`` and :mod:`srseg.api`)
takes the largest tile whose activations fit in :data:`srseg.params.TILE_MEMORY` (:meth:`Upscaler.auto_tile`;
c-DCSCN ×2: 336).
"""

from __future__ import annotations

import functools
import logging
import math
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
from PIL import Image

from srseg.degrade import downscale, downscale_float, upscale, upscale_float
from srseg.errors import ImageError, SrsegError
from srseg.io import (
    atomic_file,
    check_pixels,
    describe_model,
    model_metadata,
    outside_study_warning,
    read_image,
    refuse_overwriting,
)
from srseg.metrics.sr import luma, rgb_to_y, y_scores_from_y
from srseg.models.dcscn import DcscnConfig, ModelError, load_model, model_config
from srseg.params import TILE, TILE_MEMORY, TILE_OVERLAP, check_scale
from srseg.paths import REPO
from srseg.progress import Progress, progress_bar

log = logging.getLogger(__name__)

#: The named inputs an SR model may take (see the module docstring and :class:`_Window`).
_INPUTS = frozenset({"lr", "bicubic", "cond"})
#: A tile side: LR pixels, ``"auto"`` (:meth:`Upscaler.auto_tile`) or None (the whole image at once).
TileSize = int | Literal["auto"] | None


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


def check_tile(tile: TileSize) -> TileSize:
    """``tile`` itself when it is a valid :data:`TileSize`, else SrsegError."""
    if tile is None or tile == "auto" or (isinstance(tile, int) and not isinstance(tile, bool) and tile >= 1):
        return tile
    raise SrsegError(f"--tile must be an integer >= 1 or 'auto', got {tile!r}")


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
        unknown = set(self.input_names) - _INPUTS
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

    @functools.cached_property
    def activation_bytes(self) -> int:
        """Bytes of float32 layer outputs per LR pixel of a window: every layer's output at once (an upper bound of
        what TensorFlow holds), from the model's graph; 0 when the model is not a Keras functional model."""
        import keras

        layers = [la for la in self.model.layers if not isinstance(la, keras.layers.InputLayer | keras.layers.Dropout)]
        n = 16
        try:
            probe = keras.Model(self.model.inputs, [la.output for la in layers])
            specs = [keras.KerasTensor((1, n * self.scale, n * self.scale, 1) if t.name == "bicubic"
                                       else (1, n, n, int(t.shape[-1]))) for t in self.model.inputs]
            outs = probe.compute_output_spec(specs)
        except (AttributeError, TypeError, ValueError):  # a subclassed model: no graph to read
            return 0
        return 4 * math.ceil(sum(math.prod(o.shape[1:]) for o in outs) / (n * n))

    def auto_tile(self, budget: int = TILE_MEMORY, overlap: int = TILE_OVERLAP) -> int:
        """The largest LR tile side (a multiple of 16, at least 32) whose window's activations
        (:attr:`activation_bytes`) fit in ``budget`` bytes; the pipeline's :data:`srseg.params.TILE` for a model
        whose graph cannot be read."""
        if not self.activation_bytes:
            return TILE
        side = math.isqrt(budget // self.activation_bytes) - 2 * max(overlap, self.radius)
        return max(32, side // 16 * 16)

    def tile_side(self, tile: TileSize) -> int | None:
        """``tile`` as LR pixels: ``"auto"`` → :meth:`auto_tile`; an int or None (whole image) as given."""
        tile = check_tile(tile)
        return self.auto_tile() if isinstance(tile, str) else tile

    # --- inputs and tiles ------------------------------------------------------------------------------
    def _source(self, lr: np.ndarray, bicubic_y: np.ndarray | None, cond: np.ndarray | None) -> _Source:
        """The full-size inputs (LR image or float luma, optional bicubic luma and condition maps), checked."""
        lr = np.asarray(lr)
        rgb = lr.ndim == 3
        if lr.ndim not in (2, 3) or min(lr.shape[:2]) < 1 or (rgb and (lr.dtype != np.uint8 or lr.shape[2] != 3)):
            raise ImageError(f"expected a non-empty single-channel or uint8 RGB image, got {lr.dtype} {lr.shape}")
        h, w, s = lr.shape[0], lr.shape[1], self.scale
        if bicubic_y is not None:
            bicubic_y = np.asarray(bicubic_y, np.float32)
            if bicubic_y.shape != (h * s, w * s):
                raise ImageError(f"bicubic input {bicubic_y.shape} is not x{s} of the LR input {lr.shape[:2]}")
        if self.cond_channels:
            if cond is None:
                raise ModelError(f"{self.source}: a conditioned SR model needs condition maps (cond)")
            cond = np.asarray(cond, np.float32)
            if cond.shape != (h, w, self.cond_channels):
                raise ImageError(f"condition maps {cond.shape} do not match the LR image ({h}, {w}) with "
                                 f"{self.cond_channels} channels")
        elif cond is not None:
            raise ModelError(f"{self.source}: this SR model takes no condition maps")
        return _Source(lr, s, bicubic_y, cond)

    def _tiles(self, h: int, w: int, tile: TileSize, overlap: int, progress: Progress = False) -> Iterable[Tile]:
        """The tiles of an ``h``×``w`` LR image; a progress bar over them with ``progress`` (:mod:`srseg.progress`)."""
        side = self.tile_side(tile)
        if not side or (h <= side and w <= side):
            return [((0, h, 0, h), (0, w, 0, w))]
        ov = max(int(overlap), self.radius)  # less overlap than the receptive field would change results
        tiles = [(ty, tx) for ty in tile_windows(h, side, ov) for tx in tile_windows(w, side, ov)]
        return progress_bar(tiles, progress, f"x{self.scale} tiles", "tile")

    def _feed(self, window: _Window, k: int = 0) -> dict[str, np.ndarray]:
        """The named model inputs of a window, transformed by dihedral ``k``, with a batch axis."""
        planes = {"lr": window.lr_y, "bicubic": window.bicubic_y, "cond": window.cond}
        feed = {}
        for name in self.input_names:
            plane = planes[name]
            if plane is None:  # unreachable: _source requires condition maps exactly when the model takes them
                raise ModelError(f"{self.source}: no {name!r} input for this window")
            crop = dihedral(plane, k)
            feed[name] = np.ascontiguousarray(crop if crop.ndim == 3 else crop[..., None], np.float32)[None]
        return feed

    def _core(self, out: np.ndarray, tile: Tile) -> tuple[slice, slice, np.ndarray]:
        """(HR rows, HR cols) of a tile's core, and that core cut from its window's output."""
        (y0, y1, wy0, _), (x0, x1, wx0, _) = tile
        s = self.scale
        core = out[(y0 - wy0) * s:(y1 - wy0) * s, (x0 - wx0) * s:(x1 - wx0) * s]
        return slice(y0 * s, y1 * s), slice(x0 * s, x1 * s), core

    def _window_y(self, window: _Window, self_ensemble: bool) -> np.ndarray:
        """SR luma (float32) of a window; the mean of the 8 dihedral passes with ``self_ensemble``."""
        if not self_ensemble:
            return self._y(self._feed(window)).numpy()[0, ..., 0]

        def one_pass(k: int) -> np.ndarray:
            return dihedral_inverse(self._y(self._feed(window, k)).numpy()[0, ..., 0], k).astype(np.float64)

        acc = one_pass(0)
        for k in range(1, 8):
            acc += one_pass(k)
        return (acc / 8).astype(np.float32)

    def _y_cores(self, source: _Source, tile: TileSize, overlap: int, self_ensemble: bool,
                 progress: Progress = False) -> Iterator[tuple[slice, slice, np.ndarray]]:
        """(HR rows, HR cols, float32 SR luma) of each tile's core."""
        h, w = source.lr.shape[:2]
        for t in self._tiles(h, w, tile, overlap, progress):
            yield self._core(self._window_y(source.window(t), self_ensemble), t)

    # --- outputs ---------------------------------------------------------------------------------------
    def predict_y(self, lr_y: np.ndarray, bicubic_y: np.ndarray | None = None, cond: np.ndarray | None = None,
                  tile: TileSize = TILE, overlap: int = TILE_OVERLAP, self_ensemble: bool = False) -> np.ndarray:
        """Float32 (h·s, w·s) Y from a float LR Y plane (0..255); ``bicubic_y`` defaults to Pillow bicubic."""
        source = self._source(np.asarray(lr_y, np.float32), bicubic_y, cond)
        h, w = source.lr.shape
        out = np.empty((h * self.scale, w * self.scale), np.float32)
        for rows, cols, core in self._y_cores(source, tile, overlap, self_ensemble):
            out[rows, cols] = core
        return out

    def predict_grey(self, lr: np.ndarray, cond: np.ndarray | None = None, tile: TileSize = TILE,
                     overlap: int = TILE_OVERLAP, self_ensemble: bool = False, progress: Progress = False
                     ) -> np.ndarray:
        """uint8 (h·s, w·s) SR image of a grey LR image (the grey value is the network's luma), tile by tile."""
        source = self._source(lr, None, cond)
        h, w = source.lr.shape
        out = np.empty((h * self.scale, w * self.scale), np.uint8)
        for rows, cols, core in self._y_cores(source, tile, overlap, self_ensemble, progress):
            out[rows, cols] = _to_uint8(core)
        return out

    def predict_rgb(self, lr: np.ndarray, cond: np.ndarray | None = None, tile: TileSize = TILE,
                    overlap: int = TILE_OVERLAP, self_ensemble: bool = False, progress: Progress = False
                    ) -> np.ndarray:
        """uint8 (h·s, w·s, 3) SR image of a uint8 RGB LR image: model luma, bicubic chroma, tile by tile."""
        from srseg.models.ycbcr import LumaToRGB

        source = self._source(lr, None, cond)
        h, w = source.lr.shape[:2]
        out = np.empty((h * self.scale, w * self.scale, 3), np.uint8)
        to_rgb = LumaToRGB()
        for t in self._tiles(h, w, tile, overlap, progress):
            window = source.window(t)
            if window.bicubic_rgb is None:
                raise ImageError(f"expected a uint8 RGB image (predict_grey takes grey ones), got shape {lr.shape}")
            bic = window.bicubic_rgb.astype(np.float32)[None]
            if self_ensemble:
                rgb = to_rgb([self._window_y(window, True)[None, ..., None], bic]).numpy()[0]
            else:
                rgb = self._rgb(self._feed(window), bic).numpy()[0]
            rows, cols, core = self._core(rgb, t)
            out[rows, cols] = _to_uint8(core)
        return out


def _to_uint8(x: np.ndarray) -> np.ndarray:
    return np.clip(np.round(x), 0, 255).astype(np.uint8)


#: LR pixels beyond a window that its bicubic ×s needs: Pillow's bicubic support is 2 input pixels when
#: upscaling; one more keeps the window's bicubic equal to the whole image's (up to float rounding).
_BICUBIC_MARGIN = 3


class _Window:
    """The network inputs of one tile's window, computed from its LR crop only (so memory follows the tile).

    ``lr_y`` and ``cond`` are on the LR grid, ``bicubic_y`` and ``bicubic_rgb`` (uint8, RGB sources only) on
    the HR grid.  Bicubic planes are resized from the crop plus ``_BICUBIC_MARGIN`` LR pixels (or up to the
    image border, where Pillow's border handling is the whole image's), then cut to the window.
    """

    def __init__(self, source: _Source, tile: Tile) -> None:
        (_, _, wy0, wy1), (_, _, wx0, wx1) = tile
        s, lr = source.scale, source.lr
        h, w = lr.shape[:2]
        my0, my1 = max(wy0 - _BICUBIC_MARGIN, 0), min(wy1 + _BICUBIC_MARGIN, h)
        mx0, mx1 = max(wx0 - _BICUBIC_MARGIN, 0), min(wx1 + _BICUBIC_MARGIN, w)
        inner = slice((wy0 - my0) * s, (wy1 - my0) * s), slice((wx0 - mx0) * s, (wx1 - mx0) * s)
        margin_lr = lr[my0:my1, mx0:mx1]
        margin_y = luma(margin_lr) if lr.ndim == 3 else np.asarray(margin_lr, np.float32)
        self.lr_y = margin_y[wy0 - my0:wy1 - my0, wx0 - mx0:wx1 - mx0]
        if source.bicubic_y is not None:
            self.bicubic_y = source.bicubic_y[wy0 * s:wy1 * s, wx0 * s:wx1 * s]
        else:
            self.bicubic_y = upscale_float(margin_y, s)[inner]
        self.bicubic_rgb = upscale(margin_lr, s)[inner] if lr.ndim == 3 else None
        self.cond = None if source.cond is None else source.cond[wy0:wy1, wx0:wx1]


@dataclass(frozen=True)
class _Source:
    """Full-size inputs of one prediction: a uint8 RGB or grey image, or a float32 luma plane; optionally the
    bicubic luma (the scoring protocol brings its own) and condition maps. Cut into :class:`_Window` s."""

    lr: np.ndarray
    scale: int
    bicubic_y: np.ndarray | None
    cond: np.ndarray | None

    def window(self, tile: Tile) -> _Window:
        return _Window(self, tile)


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

def sr_image(upscaler: Upscaler, lr: np.ndarray, tile: TileSize = TILE, overlap: int = TILE_OVERLAP,
             self_ensemble: bool = False, cond: np.ndarray | None = None, progress: Progress = False) -> np.ndarray:
    """Super-resolve a uint8 LR image: RGB (h, w, 3) → RGB (h·s, w·s, 3), grey (h, w) → grey.

    ``tile``: LR tile side, ``"auto"`` (:meth:`Upscaler.auto_tile`) or None (whole image); the result does not
    depend on it (module docstring). ``progress`` shows a bar over the tiles (:mod:`srseg.progress`)."""
    lr = np.asarray(lr)
    if lr.dtype != np.uint8 or lr.ndim not in (2, 3) or (lr.ndim == 3 and lr.shape[2] != 3):
        raise ImageError(f"expected a uint8 RGB or grey image, got {lr.dtype} {lr.shape}")
    predict = upscaler.predict_rgb if lr.ndim == 3 else upscaler.predict_grey
    return predict(lr, cond=cond, tile=tile, overlap=overlap, self_ensemble=self_ensemble, progress=progress)


def _format_for(path: Path) -> str:
    fmt = Image.registered_extensions().get(path.suffix.lower())
    if fmt is None:
        raise ImageError(f"{path}: unknown image extension {path.suffix!r} (use .png, .bmp, .tif, ...)")
    return fmt


def open_upscaler(scale: int, model: str | Path | None = None, dcscn_checkpoint: str | Path | None = None,
                  input: str | Path | None = None) -> Upscaler:
    """:func:`load_upscaler`, logging which model runs and what it was trained on, and a warning when a model
    trained on synthetic scenes is applied to ``input`` (a file or folder) outside the study
    (:func:`srseg.io.outside_study_warning`)."""
    upscaler = load_upscaler(scale, model=model, dcscn_checkpoint=dcscn_checkpoint)
    if dcscn_checkpoint is not None:
        log.info("model %s: the DCSCN authors' checkpoint, no training record", dcscn_checkpoint)
    else:
        log.info("%s", describe_model(upscaler.source, upscaler.record))
    warning = input is not None and outside_study_warning(upscaler.record, upscaler.source, input, REPO.data)
    if warning:
        log.warning("%s", warning)
    return upscaler


def check_upscale_output(input: str | Path, output: str | Path, overwrite: bool = False) -> str:
    """The Pillow format of ``output`` (from its extension); SrsegError when it is the ``input`` file itself unless
    ``overwrite``. Checked before anything loads."""
    fmt = _format_for(Path(output))
    refuse_overwriting(input, [output], overwrite, "another output file")
    return fmt


def upscale_file(input: str | Path, output: str | Path, scale: int, model: str | Path | None = None,
                 dcscn_checkpoint: str | Path | None = None, tile: TileSize = "auto",
                 self_ensemble: bool = False, overwrite: bool = False,
                 condition: Callable[[np.ndarray], np.ndarray] | None = None, upscaler: Upscaler | None = None,
                 progress: Progress = False) -> Path:
    """``srseg upscale``: super-resolve one image file (colour or grey, any size); written atomically.

    Loads the model with :func:`open_upscaler` (which logs it), unless ``upscaler`` is one already loaded (a
    folder's files share it; ``model`` and ``dcscn_checkpoint`` are then unused). Refused before the model loads:
    replacing the input file itself unless ``overwrite``, an input :func:`srseg.io.read_image` refuses, and an
    output above :func:`srseg.io.pixel_limit` (srseg could not read it back). ``tile`` as :func:`sr_image`
    (default ``"auto"``: memory bounded by :data:`srseg.params.TILE_MEMORY`); ``progress`` shows a bar over the tiles.
    ``condition`` maps the LR image to the condition maps of a segmentation-conditioned model (see
    :func:`srseg.methods.sft_sr.assisted_upscale_file`).
    """
    input, output = Path(input), Path(output)
    check_scale(scale, what="--scale")
    fmt = check_upscale_output(input, output, overwrite)
    check_tile(tile)
    lr = read_image(input, "auto")
    check_pixels(lr.shape[0] * lr.shape[1] * scale * scale, str(output), f"x{scale} output")
    if upscaler is None:
        upscaler = open_upscaler(scale, model, dcscn_checkpoint, input)
    elif upscaler.scale != scale:
        raise ModelError(f"{upscaler.source}: a x{upscaler.scale} model cannot upscale x{scale}")
    cond = None
    if condition is not None:
        if lr.ndim != 3:
            raise ImageError(f"{input}: --segmentation-assisted needs a colour image (the segmenter takes RGB)")
        if not upscaler.cond_channels:
            raise ModelError(f"{upscaler.source}: not a segmentation-conditioned SR model (it takes no cond input); "
                             "give one with --model, e.g. the sft_sr stage's")
        cond = condition(lr)
    out = sr_image(upscaler, lr, tile=tile, self_ensemble=self_ensemble, cond=cond, progress=progress)
    del lr
    with atomic_file(output, "wb") as fh:
        Image.fromarray(out).save(fh, format=fmt)
    log.info("%s: %dx%d -> %dx%d (x%d, %s)", output, out.shape[1] // scale, out.shape[0] // scale, out.shape[1],
             out.shape[0], scale, upscaler.source)
    return output


def sr_segment_file(input: str | Path, out_prefix: str | Path, scale: int,
                    sr_model: str | Path | Upscaler | None = None, progress: Progress = False,
                    **kwargs: Any) -> tuple[Path, Path]:
    """``srseg segment --sr-scale``: super-resolve the image ×``scale`` (:func:`sr_image`, tiles of ``"auto"``
    size) and segment the SR image (:func:`srseg.seg.infer.segment_file`, whose other arguments ``kwargs`` are):
    the study's SR-then-segment chain, outputs at the SR size.

    ``sr_model``: a file (default: the ``pretrain_sr`` model of seed 0), loaded by :func:`open_upscaler` after the
    input's checks, or an :class:`Upscaler` already loaded (a folder's images share it). ``progress`` shows bars
    over the SR tiles and the sliding windows.
    """
    from srseg.seg.infer import segment_file

    check_scale(scale, what="--sr-scale")

    def prepare(image: np.ndarray) -> np.ndarray:
        check_pixels(image.shape[0] * image.shape[1] * scale * scale, str(input), f"x{scale} SR image")
        if isinstance(sr_model, Upscaler):
            upscaler = sr_model
        else:
            upscaler = open_upscaler(scale, sr_model, input=input)
        if upscaler.scale != scale:
            raise ModelError(f"{upscaler.source}: a x{upscaler.scale} model, not x{scale}")
        sr = sr_image(upscaler, image, tile="auto", progress=progress)
        log.info("%s: %dx%d -> %dx%d (x%d, %s), then segmented", input, image.shape[1], image.shape[0], sr.shape[1],
                 sr.shape[0], scale, upscaler.source)
        return sr

    return segment_file(input, out_prefix, prepare=prepare, progress=progress, **kwargs)
