"""srseg from Python: the trained models on numpy images, as ``srseg upscale`` and ``srseg segment`` apply them.

    from srseg import api

    sr = api.upscale("street_lr.png", scale=4)  # uint8 RGB (4h, 4w, 3): the project's x4 DCSCN
    labels = api.segment(sr)                    # uint8 (4h, 4w) Cityscapes trainIds 0..18: the project's PSPNet
    colour = api.colorize(labels)               # the Cityscapes palette; api.to_label_ids(labels): labelIds

An image is a uint8 numpy array (RGB ``(h, w, 3)``; grey ``(h, w)`` too) or an image file's path, read as the
commands read it. ``model`` is a ``.keras`` file, a model :func:`load_upscaler` / :func:`load_segmenter` returned,
or None: the project's default model (this checkout's ``models/``, wherever Python runs). Each file loads once per
process. Large images are upscaled in tiles and segmented in sliding windows, within the commands' memory bounds;
the results do not depend on it. Errors are :class:`srseg.errors.SrsegError` with a one-line message.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from srseg.apply import check_model, default_seg_model, default_sr_model
from srseg.errors import SrsegError
from srseg.labels import colorize, to_label_ids
from srseg.params import SEG_OVERLAP

if TYPE_CHECKING:
    import keras

    from srseg.sr.infer import TileSize, Upscaler

__all__ = ["colorize", "load_segmenter", "load_upscaler", "segment", "to_label_ids", "upscale"]

ImageLike = np.ndarray | str | Path


def load_upscaler(scale: int, model: str | Path | None = None) -> Upscaler:
    """The ×``scale`` SR model saved at ``model`` (default: the project's ``models/sr/seed0/x{scale}.keras``),
    loaded once per process and file; pass it as :func:`upscale`'s ``model``."""
    path = Path(model) if model is not None else default_sr_model(scale, "model=")
    check_model(path, "super-resolution", "api.upscale")
    return _upscaler(scale, str(path.resolve()))


def load_segmenter(model: str | Path | None = None) -> keras.Model:
    """The PSPNet saved at ``model`` (default: the project's ``models/seg/seed0/hr.keras``, trained on the HR
    images), loaded once per process and file; pass it as :func:`segment`'s ``model``."""
    path = Path(model) if model is not None else default_seg_model()
    check_model(path, "segmentation", "api.segment")
    return _segmenter(str(path.resolve()))


def upscale(image: ImageLike, scale: int | None = None, model: str | Path | Upscaler | None = None, *,
            tile: TileSize = "auto", self_ensemble: bool = False, progress: bool = False) -> np.ndarray:
    """Super-resolve ``image`` ×``scale``: uint8 RGB ``(h, w, 3)`` → ``(h·s, w·s, 3)``, grey ``(h, w)`` → grey.

    ``model`` as in the module docstring (a loaded one brings its scale); ``tile``: LR tile side, ``"auto"``
    (memory bounded: :meth:`srseg.sr.infer.Upscaler.auto_tile`) or None (whole image); ``self_ensemble``
    averages 8 flips/rotations (8× slower); ``progress`` shows a bar over the tiles.
    """
    from srseg.sr.infer import Upscaler, sr_image

    if isinstance(model, Upscaler):
        if scale is not None and scale != model.scale:
            raise SrsegError(f"{model.source}: a x{model.scale} model, not x{scale}")
        upscaler = model
    elif scale is None:
        raise SrsegError("upscale: give scale (or a model from load_upscaler)")
    else:
        upscaler = load_upscaler(scale, model)
    return sr_image(upscaler, _image(image, "auto"), tile=tile, self_ensemble=self_ensemble, progress=progress)


def segment(image: ImageLike, model: str | Path | keras.Model | None = None, *, window: int | None = None,
            overlap: float = SEG_OVERLAP, sr_scale: int | None = None, sr_model: str | Path | Upscaler | None = None,
            progress: bool = False) -> np.ndarray:
    """Cityscapes trainIds (uint8 ``(H, W)``, 0..18) of an RGB ``image`` (grey is made RGB).

    ``model`` as in the module docstring; ``window`` segments in sliding windows of that side overlapping by
    ``overlap`` (default: whole up to 4.2 MP, windows of 512 above, as ``srseg segment``). With ``sr_scale``
    the image is first upscaled by :func:`upscale` (``sr_model``: default the project's x``sr_scale`` model) and
    the trainIds are those of the SR image, ``sr_scale`` times the size.
    """
    import keras

    from srseg.seg.infer import predictor_for

    rgb = _image(image, "RGB")
    if rgb.ndim == 2:
        rgb = np.repeat(rgb[..., None], 3, axis=-1)  # as Pillow converts grey to RGB
    if sr_scale is not None or sr_model is not None:
        rgb = upscale(rgb, sr_scale, sr_model, progress=progress)
    net = model if isinstance(model, keras.Model) else load_segmenter(model)
    return predictor_for(net, rgb.shape, window, overlap).train_ids(rgb, progress)


def _image(image: ImageLike, mode: str) -> np.ndarray:
    """An image argument as an array: a path is read by :func:`srseg.io.read_image` in ``mode``."""
    if isinstance(image, str | Path):
        from srseg.io import read_image

        return read_image(image, mode)
    return np.asarray(image)


@functools.lru_cache(maxsize=8)
def _upscaler(scale: int, path: str) -> Any:
    from srseg.sr.infer import load_upscaler as load

    return load(scale, model=path)


@functools.lru_cache(maxsize=4)
def _segmenter(path: str) -> Any:
    from srseg.models.pspnet import load_model

    return load_model(path)
