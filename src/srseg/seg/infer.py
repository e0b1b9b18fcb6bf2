"""Full-resolution PSPNet inference: whole image or sliding window, for images of any size."""

from __future__ import annotations

import logging
import math
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from srseg.errors import SrsegError
from srseg.io import atomic_file, describe_model, model_metadata, outside_study_warning, png_bytes, read_image
from srseg.labels import TRAIN_TO_ID, colorize
from srseg.models.pspnet import load_model
from srseg.paths import REPO

log = logging.getLogger(__name__)

MODES = ("whole", "sliding")


class Predictor:
    """Wraps a segmentation model with one traced forward pass for every input size.

    ``probabilities(image)`` → float32 ``(H, W, C)`` softmax; ``train_ids(image)`` → uint8 ``(H, W)``.
    ``mode="sliding"`` averages the softmax of ``window``×``window`` crops overlapping by ``overlap``; the window
    is clipped to the image (an image smaller than the window is predicted whole).
    """

    def __init__(self, model: keras.Model, mode: str = "whole", window: int = 512, overlap: float = 0.33):
        if mode not in MODES:
            raise SrsegError(f"seg.eval.mode {mode!r}: must be one of {', '.join(MODES)}")
        if not 0 <= overlap < 1:
            raise SrsegError(f"seg.eval.overlap {overlap}: must be in [0, 1)")
        self.model, self.mode, self.window, self.overlap = model, mode, int(window), float(overlap)
        self._forward = tf.function(
            lambda x: tf.nn.softmax(tf.cast(model(x, training=False), tf.float32), axis=-1),
            input_signature=[tf.TensorSpec((None, None, None, 3), tf.float32)],
        )

    def batch_probabilities(self, images: np.ndarray) -> np.ndarray:
        """Softmax of the whole images of a ``(N, H, W, 3)`` batch."""
        return self._forward(tf.convert_to_tensor(np.asarray(images, np.float32))).numpy()

    def probabilities(self, image: np.ndarray) -> np.ndarray:
        image = np.asarray(image, np.float32)
        if image.ndim != 3 or image.shape[2] != 3:
            raise SrsegError(f"expected an RGB image (H, W, 3), got shape {image.shape}")
        if self.mode == "whole":
            return self.batch_probabilities(image[None])[0]
        return self._sliding(image)

    def _sliding(self, image: np.ndarray) -> np.ndarray:
        """Softmax averaged over ``window``-sided crops; a side longer than the image is clipped to it, so a
        window that covers the image is exactly whole-image inference (padding would feed the model borders
        that no real image has)."""
        h, w = image.shape[:2]
        win_h, win_w = min(self.window, h), min(self.window, w)
        ys = _starts(h, win_h, max(1, math.ceil(win_h * (1 - self.overlap))))
        xs = _starts(w, win_w, max(1, math.ceil(win_w * (1 - self.overlap))))
        acc = None
        count = np.zeros((h, w, 1), np.float32)
        for y in ys:
            for x in xs:
                p = self.batch_probabilities(image[None, y : y + win_h, x : x + win_w])[0]
                if acc is None:
                    acc = np.zeros((h, w, p.shape[-1]), np.float32)
                acc[y : y + win_h, x : x + win_w] += p
                count[y : y + win_h, x : x + win_w] += 1
        assert acc is not None  # _starts gives at least one origin per axis
        return acc / count

    def train_ids(self, image: np.ndarray) -> np.ndarray:
        return np.argmax(self.probabilities(image), axis=-1).astype(np.uint8)


def _starts(length: int, win: int, stride: int) -> list[int]:
    """Window origins covering ``[0, length)``; the last window is flush with the end."""
    if length <= win:
        return [0]
    n = math.ceil((length - win) / stride) + 1
    return sorted({min(i * stride, length - win) for i in range(n)})


def to_label_ids(train_ids: np.ndarray) -> np.ndarray:
    """trainIds → Cityscapes labelIds (the format of prediction PNGs for the official evaluation)."""
    return TRAIN_TO_ID[train_ids]


#: The model :func:`segment_file` uses unless told: the study's HR PSPNet of seed 0.
DEFAULT_SEG_MODEL = REPO.seg_model("hr", 0)


def segment_file(input: str | Path, out_prefix: str | Path, model: str | Path | keras.Model = DEFAULT_SEG_MODEL,
                 mode: str = "whole", window: int = 512, overlap: float = 0.33) -> tuple[Path, Path]:
    """Segment one image: write ``OUT_PREFIX_labelIds.png`` and ``OUT_PREFIX_color.png`` (Cityscapes palette).

    Both files are encoded before either is written, and each is written atomically. A model given as a file
    is named in the log with what it was trained on, with a warning when a model trained on synthetic scenes
    is applied to a file outside the study (:func:`srseg.io.outside_study_warning`); the written files are
    logged last.
    """
    image = read_image(input, "RGB")
    if isinstance(model, keras.Model):
        net = model
    else:
        net = load_model(model)
        record = model_metadata(model)
        log.info("%s", describe_model(str(model), record))
        warning = outside_study_warning(record, str(model), input, REPO.data)
        if warning:
            log.warning("%s", warning)
    train_ids = Predictor(net, mode, window, overlap).train_ids(image)
    prefix = str(out_prefix)
    outputs = {
        Path(f"{prefix}_labelIds.png"): png_bytes(to_label_ids(train_ids)),
        Path(f"{prefix}_color.png"): png_bytes(colorize(train_ids)),
    }
    for path, data in outputs.items():
        with atomic_file(path, "wb") as fh:
            fh.write(data)
    labels, colour = outputs
    log.info("wrote %s (Cityscapes labelIds) and %s (colour), %dx%d", labels, colour, image.shape[1], image.shape[0])
    return tuple(outputs)  # type: ignore[return-value]
