"""Full-resolution PSPNet inference: whole image or sliding window, for images of any size."""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterator
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from srseg.apply import segment_outputs
from srseg.errors import SrsegError
from srseg.io import (
    atomic_file,
    describe_model,
    model_metadata,
    outside_study_warning,
    png_bytes,
    read_image,
    refuse_overwriting,
)
from srseg.labels import colorize, to_label_ids
from srseg.models.pspnet import load_model
from srseg.params import SEG_OVERLAP, SEG_WHOLE_MAX_PIXELS, SEG_WINDOW
from srseg.paths import REPO
from srseg.progress import Progress, progress_steps

log = logging.getLogger(__name__)

MODES = ("whole", "sliding")


class Predictor:
    """Wraps a segmentation model with one traced forward pass for every input size.

    ``probabilities(image)`` → float32 ``(H, W, C)`` softmax; ``train_ids(image)`` → uint8 ``(H, W)``.
    ``mode="sliding"`` averages the softmax of ``window``×``window`` crops overlapping by ``overlap``; the window
    is clipped to the image (an image smaller than the window is predicted whole). In sliding mode
    ``train_ids`` holds the average of one row of windows at a time, so its memory follows the window, not the
    image (``probabilities`` returns the whole average, by definition as large as the image).
    """

    def __init__(self, model: keras.Model, mode: str = "whole", window: int = SEG_WINDOW,
                 overlap: float = SEG_OVERLAP):
        if mode not in MODES:
            raise SrsegError(f"seg.eval.mode {mode!r}: must be one of {', '.join(MODES)}")
        if not 0 <= overlap < 1:
            raise SrsegError(f"seg.eval.overlap {overlap}: must be in [0, 1)")
        if int(window) < 1:
            raise SrsegError(f"seg.eval.window {window}: must be >= 1")
        self.model, self.mode, self.window, self.overlap = model, mode, int(window), float(overlap)
        self._forward = tf.function(
            lambda x: tf.nn.softmax(tf.cast(model(x, training=False), tf.float32), axis=-1),
            input_signature=[tf.TensorSpec((None, None, None, 3), tf.float32)],
        )

    def batch_probabilities(self, images: np.ndarray) -> np.ndarray:
        """Softmax of the whole images of a ``(N, H, W, 3)`` batch."""
        return self._forward(tf.convert_to_tensor(np.asarray(images, np.float32))).numpy()

    def probabilities(self, image: np.ndarray) -> np.ndarray:
        image = _checked(image)
        if self.mode == "whole":
            return self.batch_probabilities(image[None])[0]
        out: np.ndarray | None = None
        for y0, y1, band in self._sliding(image):
            if out is None:
                out = np.empty((*image.shape[:2], band.shape[-1]), np.float32)
            out[y0:y1] = band
        assert out is not None  # _sliding yields at least one band
        return out

    def train_ids(self, image: np.ndarray, progress: Progress = False) -> np.ndarray:
        """uint8 ``(H, W)`` trainIds; ``progress`` shows a bar over the sliding windows (:mod:`srseg.progress`)."""
        image = _checked(image)
        if self.mode == "whole":
            return np.argmax(self.batch_probabilities(image[None])[0], axis=-1).astype(np.uint8)
        out = np.empty(image.shape[:2], np.uint8)
        for y0, y1, band in self._sliding(image, progress):
            out[y0:y1] = np.argmax(band, axis=-1)
        return out

    def _sliding(self, image: np.ndarray, progress: Progress = False) -> Iterator[tuple[int, int, np.ndarray]]:
        """``(first row, end row, softmax of those rows)``, top to bottom, averaged over ``window``-sided crops.

        A side longer than the image is clipped to it, so a window that covers the image is exactly whole-image
        inference (padding would feed the model borders that no real image has). The windows run row by row;
        the rows above the next row of windows are final when a row is done, so the running sum covers one
        window's height. Sums are taken in the same order as over a whole-image sum, and each pixel is divided by
        the number of windows covering it: the bands are the whole-image average, bit for bit.
        """
        h, w = image.shape[:2]
        win_h, win_w = min(self.window, h), min(self.window, w)
        ys = _starts(h, win_h, max(1, math.ceil(win_h * (1 - self.overlap))))
        xs = _starts(w, win_w, max(1, math.ceil(win_w * (1 - self.overlap))))
        count_y, count_x = _coverage(h, ys, win_h), _coverage(w, xs, win_w)
        acc: np.ndarray | None = None  # sums of rows top .. top + win_h
        top = 0
        with progress_steps(len(ys) * len(xs), progress, "windows", "window") as step:
            for y in ys + [h]:
                if acc is not None and y > top:  # rows top .. y are covered by no later window
                    done = min(y, top + win_h) - top
                    band = acc[:done]
                    band /= (count_y[top:top + done, None] * count_x[None, :])[..., None]
                    yield top, top + done, band  # a view of the running sum, valid until the next band
                    if y == h:
                        return
                    acc[:-done] = acc[done:].copy()
                    acc[-done:] = 0
                    top = y
                for x in xs:
                    p = self.batch_probabilities(image[None, y : y + win_h, x : x + win_w])[0]
                    if acc is None:
                        acc = np.zeros((win_h, w, p.shape[-1]), np.float32)
                    acc[:, x : x + win_w] += p
                    step()


def _checked(image: np.ndarray) -> np.ndarray:
    """``image`` as an array, refused unless it is ``(H, W, 3)`` (kept in its dtype: windows are made float one by
    one)."""
    image = np.asarray(image)
    if image.ndim != 3 or image.shape[2] != 3:
        raise SrsegError(f"expected an RGB image (H, W, 3), got shape {image.shape}")
    return image


def _coverage(length: int, starts: list[int], win: int) -> np.ndarray:
    """How many windows of side ``win`` starting at ``starts`` cover each position of ``[0, length)``."""
    count = np.zeros(length, np.float32)
    for s in starts:
        count[s : s + win] += 1
    return count


def _starts(length: int, win: int, stride: int) -> list[int]:
    """Window origins covering ``[0, length)``; the last window is flush with the end."""
    if length <= win:
        return [0]
    n = math.ceil((length - win) / stride) + 1
    return sorted({min(i * stride, length - win) for i in range(n)})


#: The model :func:`segment_file` uses unless told: the study's HR PSPNet of seed 0.
DEFAULT_SEG_MODEL = REPO.seg_model("hr", 0)


def open_segmenter(model: str | Path = DEFAULT_SEG_MODEL, input: str | Path | None = None) -> keras.Model:
    """The PSPNet saved at ``model``, logging what it was trained on, and a warning when a model trained on
    synthetic scenes is applied to ``input`` (a file or folder) outside the study
    (:func:`srseg.io.outside_study_warning`)."""
    net = load_model(model)
    record = model_metadata(model)
    log.info("%s", describe_model(str(model), record))
    warning = input is not None and outside_study_warning(record, str(model), input, REPO.data)
    if warning:
        log.warning("%s", warning)
    return net


def predictor_for(net: keras.Model, shape: tuple[int, ...], window: int | None = None,
                  overlap: float = SEG_OVERLAP, name: str = "image") -> Predictor:
    """The Predictor for an image of ``shape``: sliding ``window``-sided windows when given; else the whole image
    up to :data:`srseg.params.SEG_WHOLE_MAX_PIXELS` and windows of :data:`srseg.params.SEG_WINDOW` above (logged,
    naming ``name``), so memory stays bounded."""
    if window is not None and window < 1:
        raise SrsegError(f"--window must be >= 1, got {window}")
    h, w = shape[:2]
    if window is None and h * w > SEG_WHOLE_MAX_PIXELS:
        window = SEG_WINDOW
        log.info("%s: %dx%d is above %.1f MP: segmented in sliding windows of %d pixels (--window sets the side)",
                 name, w, h, SEG_WHOLE_MAX_PIXELS / 1e6, window)
    return Predictor(net, "whole") if window is None else Predictor(net, "sliding", window, overlap)


def segment_file(input: str | Path, out_prefix: str | Path, model: str | Path | keras.Model = DEFAULT_SEG_MODEL,
                 window: int | None = None, overlap: float = SEG_OVERLAP, overwrite: bool = False,
                 prepare: Callable[[np.ndarray], np.ndarray] | None = None, progress: Progress = False
                 ) -> tuple[Path, Path]:
    """Segment one image: write ``OUT_PREFIX_labelIds.png`` and ``OUT_PREFIX_color.png`` (Cityscapes palette).

    Refused before the model loads: an output that is the input file itself (unless ``overwrite``), and an input
    that :func:`srseg.io.read_image` refuses (unreadable, 16 bits per channel, above the pixel limit). ``window``
    (``--window``) segments in sliding windows of that side overlapping by ``overlap``; without it, images up to
    :data:`srseg.params.SEG_WHOLE_MAX_PIXELS` are segmented whole and larger ones in windows of
    :data:`srseg.params.SEG_WINDOW`, so memory stays bounded (:func:`predictor_for`). ``prepare`` maps the image
    read to the one segmented, before the segmenter loads (the SR of ``srseg segment --sr-scale``:
    :func:`srseg.sr.infer.sr_segment_file`). ``progress`` shows a bar over the sliding windows.

    Both files are encoded before either is written, and each is written atomically. A model given as a file
    is loaded by :func:`open_segmenter`, which logs it; the written files are logged last.
    """
    paths = segment_outputs(out_prefix)
    refuse_overwriting(input, paths, overwrite, "another OUT_PREFIX")
    if window is not None and window < 1:
        raise SrsegError(f"--window must be >= 1, got {window}")
    image = read_image(input, "RGB")
    if prepare is not None:
        image = prepare(image)
    net = model if isinstance(model, keras.Model) else open_segmenter(model, input)
    h, w = image.shape[:2]
    train_ids = predictor_for(net, image.shape, window, overlap, str(input)).train_ids(image, progress)
    del image
    labels = png_bytes(to_label_ids(train_ids))
    colour = png_bytes(colorize(train_ids))
    del train_ids
    for path, data in zip(paths, (labels, colour), strict=True):
        with atomic_file(path, "wb") as fh:
            fh.write(data)
    log.info("wrote %s (Cityscapes labelIds) and %s (colour), %dx%d", *paths, w, h)
    return paths
