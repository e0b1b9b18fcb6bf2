"""``tf.data`` pipelines for segmentation training, deterministic for a seed.

Images come from any root in the Cityscapes image layout (HR ``data/raw`` or an SR variant) and
labels (``labelTrainIds``) always from the HR root. Augmentation is PSPNet's for Cityscapes (§4.1):
random resize by a factor in ``[scale_min, scale_max]`` and random mirror, then a random
``crop``×``crop`` window (padded with the ImageNet mean / ignore label where the image is smaller).
Every random draw is a stateless op seeded by ``(seed, element index)``, so the stream of batches
depends only on the seed, not on thread scheduling. A :class:`Blur` adds the degradation sweep's augmentation:
each crop bicubic down and up by a random factor (:func:`blur_crop`), drawn from its own fold of the element's seed
so the resize, mirror and crop draws stay those of the plain stream.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import tensorflow as tf
from PIL import Image

from srseg.errors import ImageError, SrsegError
from srseg.io import read_label
from srseg.labels import IGNORE, NUM_CLASSES
from srseg.layout import Sample, list_samples
from srseg.models.pspnet import IMAGENET_MEAN

#: Decoded training sets up to this many bytes are cached in memory (the synthetic and CamVid sets).
CACHE_BYTES = 2 << 30


@dataclass(frozen=True)
class Pairs:
    """Image files with their label files (same order), and the roots they come from."""

    image_root: Path
    label_root: Path
    split: str
    what: str
    samples: list[Sample]
    images: list[str]
    labels: list[str]
    input_scale: int = 1  # images are this many times smaller than their labels (LR input)


def _size(path: Path) -> tuple[int, int]:
    try:
        with Image.open(path) as im:
            return im.size
    except FileNotFoundError:
        raise ImageError(f"{path}: not found") from None
    except Exception as exc:
        raise ImageError(f"{path}: cannot read image ({type(exc).__name__}: {exc})") from None


def missing_images(image_root: str | Path, samples: list[Sample]) -> list[Path]:
    return [s.image(image_root) for s in samples if not s.image(image_root).is_file()]


def check_images_present(image_root: str | Path, samples: list[Sample], what: str) -> None:
    """One clear error when a variant (e.g. SR outputs) lacks images of the split."""
    missing = missing_images(image_root, samples)
    if missing:
        split = samples[0].split
        raise SrsegError(
            f"{Path(image_root) / 'leftImg8bit' / split}: {len(missing)} of {len(samples)} {split} images of "
            f"{what} are missing (first: {missing[0].name}); run the stage that writes {image_root} first"
        )


def split_pairs(image_root: str | Path, label_root: str | Path, split: str, what: str = "the images",
                input_scale: int = 1) -> Pairs:
    """The ``split`` images under ``image_root`` paired with ``labelTrainIds`` under ``label_root``.

    The sample list comes from the label root (the HR tree), so a variant missing images is an
    error rather than a silently smaller set; sizes are checked from the PNG headers (images ``input_scale``
    times smaller than their labels for LR input).
    """
    samples = list_samples(label_root, split)
    check_images_present(image_root, samples, what)
    images, labels = [], []
    for s in samples:
        img, lbl = s.image(image_root), s.label_train_ids(label_root)
        if not lbl.is_file():
            raise ImageError(f"{lbl}: label not found ({label_root} is incomplete; re-run the download stage)")
        (iw, ih), (lw, lh) = _size(img), _size(lbl)
        if (iw * input_scale, ih * input_scale) != (lw, lh):
            times = "" if input_scale == 1 else f" (×{input_scale} expected)"
            raise ImageError(f"{img}: image size {iw}x{ih} does not match its label {lw}x{lh}{times}")
        images.append(str(img))
        labels.append(str(lbl))
    return Pairs(Path(image_root), Path(label_root), split, what, samples, images, labels, input_scale)


def label_counts(pairs: Pairs, num_classes: int = NUM_CLASSES) -> np.ndarray:
    """Pixels per trainId over the label files of ``pairs``; a value other than 0..C-1 or 255 is an ImageError."""
    counts = np.zeros(num_classes, np.int64)
    for f in pairs.labels:
        lab = read_label(f)
        hist = np.bincount(lab.ravel(), minlength=256)
        bad = [int(v) for v in np.flatnonzero(hist) if v >= num_classes and v != IGNORE]
        if bad:
            raise ImageError(f"{f}: trainIds {bad[:10]} outside 0..{num_classes - 1} and {IGNORE} "
                             "(not a labelTrainIds image?)")
        counts += hist[:num_classes]
    return counts


def _decode(image_path: tf.Tensor, label_path: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    image = tf.io.decode_png(tf.io.read_file(image_path), channels=3)
    label = tf.io.decode_png(tf.io.read_file(label_path), channels=1)
    return image, label


def augment(
    image: tf.Tensor, label: tf.Tensor, seed: tf.Tensor, *, crop: int, scale_min: float, scale_max: float
) -> tuple[tf.Tensor, tf.Tensor]:
    """Random resize, mirror and crop of one ``(H, W, 3)`` uint8 image and ``(H, W, 1)`` uint8 label.

    Returns a float32 ``(crop, crop, 3)`` image in 0..255 and an int32 ``(crop, crop)`` label.
    """
    s_scale, s_flip, s_y, s_x = tf.unstack(tf.random.experimental.stateless_split(seed, 4))
    shape = tf.shape(image)
    h, w = tf.cast(shape[0], tf.float32), tf.cast(shape[1], tf.float32)
    scale = tf.random.stateless_uniform([], s_scale, scale_min, scale_max)
    size = tf.maximum(tf.cast(tf.round(tf.stack([h * scale, w * scale])), tf.int32), 1)
    image = tf.image.resize(tf.cast(image, tf.float32), size, method="bilinear")
    label = tf.image.resize(label, size, method="nearest")
    label = tf.cast(label, tf.int32)

    flip = tf.random.stateless_uniform([], s_flip) < 0.5
    image = tf.cond(flip, lambda: tf.reverse(image, [1]), lambda: image)
    label = tf.cond(flip, lambda: tf.reverse(label, [1]), lambda: label)

    # Pad to at least crop×crop: mean colour (0 after normalisation) and the ignore label.
    pad_h, pad_w = tf.maximum(crop - size[0], 0), tf.maximum(crop - size[1], 0)
    pads = [[0, pad_h], [0, pad_w], [0, 0]]
    image = tf.pad(image - IMAGENET_MEAN, pads) + IMAGENET_MEAN
    label = tf.pad(label, pads, constant_values=IGNORE)
    hh, ww = size[0] + pad_h, size[1] + pad_w
    y = tf.random.stateless_uniform([], s_y, 0, hh - crop + 1, dtype=tf.int32)
    x = tf.random.stateless_uniform([], s_x, 0, ww - crop + 1, dtype=tf.int32)
    image = tf.ensure_shape(image[y : y + crop, x : x + crop], (crop, crop, 3))
    label = tf.ensure_shape(label[y : y + crop, x : x + crop, 0], (crop, crop))
    return image, label


@dataclass(frozen=True)
class Blur:
    """Per-crop degradation: with probability ``identity`` the crop stays sharp, else it is resized bicubic to
    round(crop / f) and back, f uniform in [``low``, ``high``] (``cliff.blur``; the sweep's range)."""

    low: float
    high: float
    identity: float

    def describe(self) -> str:
        """The augmentation in a few words (for the training record)."""
        return (f"each crop bicubic down and up by a random factor in [{self.low:g}, {self.high:g}], "
                f"{self.identity:.0%} left sharp")


def _bicubic(image: tf.Tensor, size: tf.Tensor) -> tf.Tensor:
    """Keys' cubic (a = −0.5) resize, antialiased when shrinking, rounded to 0..255 as Pillow's uint8 images are:
    TensorFlow's ``antialias=True`` path uses the kernel of Pillow's BICUBIC (its plain bicubic is a = −0.75)."""
    out = tf.image.resize(image, size, method="bicubic", antialias=True)
    return tf.round(tf.clip_by_value(out, 0.0, 255.0))


def blur_crop(image: tf.Tensor, seed: tf.Tensor, blur: Blur) -> tf.Tensor:
    """``image`` (a float32 ``(crop, crop, 3)`` crop in 0..255) degraded as :class:`Blur` says, from the stateless
    ``seed``: the training-time twin of :func:`srseg.degrade.down_up` (TensorFlow's bicubic, not Pillow's: they
    agree to within a few grey levels, ``tests/seg/test_pipeline.py``)."""
    s_keep, s_factor = tf.unstack(tf.random.experimental.stateless_split(seed, 2))
    keep = tf.random.stateless_uniform([], s_keep) < blur.identity
    factor = tf.random.stateless_uniform([], s_factor, blur.low, blur.high) if blur.high > blur.low \
        else tf.constant(blur.low, tf.float32)
    shape = tf.shape(image)[:2]
    small = tf.maximum(tf.cast(tf.round(tf.cast(shape, tf.float32) / factor), tf.int32), 1)
    return tf.cond(keep, lambda: image, lambda: tf.ensure_shape(_bicubic(_bicubic(image, small), shape),
                                                                image.shape))


def train_dataset(
    pairs: Pairs,
    *,
    batch: int,
    crop: int,
    scale_min: float,
    scale_max: float,
    seed: int,
    cache: bool | None = None,
    blur: Blur | None = None,
) -> tf.data.Dataset:
    """An endless, shuffled, augmented stream of ``(images (B, crop, crop, 3) float32, labels (B, crop, crop)
    int32)``; with ``blur``, each crop then degraded by :func:`blur_crop`."""
    n = len(pairs.images)
    if cache is None:
        total = 0
        for p in pairs.images:
            w, h = _size(Path(p))
            total += w * h * 4
        cache = total <= CACHE_BYTES
    ds = tf.data.Dataset.from_tensor_slices((pairs.images, pairs.labels))
    ds = ds.map(_decode, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    if cache:
        ds = ds.cache()
    ds = ds.shuffle(n, seed=seed, reshuffle_each_iteration=True).repeat()
    ds = tf.data.Dataset.zip((ds, tf.data.Dataset.counter()))

    def _aug(pair, index):
        image, label = pair
        element_seed = tf.stack([tf.constant(seed, tf.int64), index])
        image, label = augment(image, label, element_seed, crop=crop, scale_min=scale_min, scale_max=scale_max)
        if blur is not None:
            image = blur_crop(image, tf.random.experimental.stateless_fold_in(element_seed, 1), blur)
        return image, label

    ds = ds.map(_aug, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    return ds.batch(batch, drop_remainder=True).prefetch(tf.data.AUTOTUNE)

