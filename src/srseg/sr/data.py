"""Pretraining images for the SR model and the random-patch ``tf.data`` pipeline.

Sources (``sr.pretrain.source``):

- ``skimage`` (default, offline): the natural photographs bundled with scikit-image (colour and grey,
  at least 300 px); the last ``val_images`` of :data:`SKIMAGE_IMAGES` are held out for validation.
- ``folder``: every image of the ``folders`` (e.g. ``../shared/data/sr/yang91`` + ``bsd200``, the DCSCN
  ver1 training set); the last ``val_images`` files in sorted order are held out.
- ``div2k``: DIV2K_train_HR (800 images) for training and the first ``val_images`` of DIV2K_valid_HR,
  from ``div2k_path`` (a folder with the two folders or zips) or downloaded from the ETH server (resumable,
  SHA-256 verified) into the download cache.

Patches follow the reference recipe: a random HR crop (``patch``, cropped to a multiple of the scale) of a
random image, one of the 8 flips/rotations, Y channel (float), the network input its Pillow-bicubic
downscale and the skip input that input's Pillow-bicubic ×s.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from srseg.archive import extract_archive
from srseg.degrade import crop_to_multiple, downscale_float, upscale_float
from srseg.errors import ImageError, SrsegError
from srseg.io import atomic_dir, list_images, read_image
from srseg.metrics.sr import luma
from srseg.params import PretrainParams
from srseg.sr.infer import dihedral

log = logging.getLogger(__name__)

# Natural photographs shipped inside scikit-image (no download); validation takes them from the end.
SKIMAGE_IMAGES = [
    "astronaut", "chelsea", "motorcycle_left", "brick", "grass", "gravel", "coins", "moon",
    "immunohistochemistry", "hubble_deep_field", "camera", "coffee", "rocket",
]

DIV2K_URL = "https://data.vision.ee.ethz.ch/cvl/DIV2K/"
DIV2K_FILES = {  # name: (bytes, sha256) — as listed by tensorflow_datasets' url_checksums/div2k.txt
    "DIV2K_train_HR": (3530603713, "9d0b9c463f6e35b6c62cc6a930ee2224f670b34c1df841a57670f9acf0f6c335"),
    "DIV2K_valid_HR": (448993893, "20dd31fd84d777bc1cf5d6b7654a3f569c0aec74458ae094122ad1d0489900fc"),
}
EAGER_MAX_IMAGES = 400  # more images than this are read lazily through a bounded pool


@dataclass(frozen=True)
class ImageRef:
    """A training or validation image: a name for messages and a loader returning uint8 RGB or grey."""

    name: str
    load: Callable[[], np.ndarray]


def _skimage(name: str) -> np.ndarray:
    import skimage.data

    if name == "motorcycle_left":
        return np.asarray(skimage.data.stereo_motorcycle()[0])
    arr = np.asarray(getattr(skimage.data, name)())
    if arr.ndim == 3 and arr.shape[2] == 4:
        arr = arr[..., :3]
    return arr.astype(np.uint8)


def _file_ref(path: Path) -> ImageRef:
    return ImageRef(str(path), lambda: read_image(path, "auto"))


def _div2k_folder(name: str, root: Path | None, cache_dir: Path) -> Path:
    """The folder of DIV2K ``name`` (``DIV2K_train_HR`` / ``DIV2K_valid_HR``).

    With ``root`` (``div2k_path``): ``root/name/`` as it is, or ``root/name.zip`` extracted into the cache.
    Without: ``name.zip`` downloaded from the ETH server (resumable, SHA-256 checked) and extracted.
    """
    archive: Path | None = None
    if root is not None:
        if (root / name).is_dir():
            return root / name
        archive = root / f"{name}.zip"
        if not archive.is_file():
            raise SrsegError(f"sr.pretrain.div2k_path: {root} has neither {name}/ nor {name}.zip")
    target = cache_dir / "div2k" / name
    if (target / name).is_dir():  # extracted by an earlier run (atomically, so complete)
        return target / name
    if archive is None:
        from srseg.download import fetch

        size, sha = DIV2K_FILES[name]
        archive = fetch(DIV2K_URL + f"{name}.zip", cache_dir / f"{name}.zip", sha256=sha, size=size,
                        desc=f"{name}.zip ({size / 1e9:.1f} GB)")
    with atomic_dir(target) as tmp:
        extract_archive(archive, tmp, members=[f"{name}/"])
        if not (tmp / name).is_dir():
            raise SrsegError(f"{archive}: no {name}/ folder inside")
    return target / name


def pretrain_images(p: PretrainParams, cache_dir: str | Path) -> tuple[list[ImageRef], list[ImageRef]]:
    """(train, val) image references of ``sr.pretrain.source``."""
    cache_dir = Path(cache_dir)
    if p.source == "skimage":
        refs = [ImageRef(f"skimage.data.{n}", partial(_skimage, n)) for n in SKIMAGE_IMAGES]
        train, val = refs[: -p.val_images], refs[-p.val_images:]
    elif p.source == "folder":
        if not p.folders:
            raise SrsegError("sr.pretrain.folders: empty (give folders of training images for source: folder)")
        files = sorted({f for folder in p.folders for f in list_images(folder)}, key=lambda f: (str(f.parent), f.name))
        refs = [_file_ref(f) for f in files]
        train, val = refs[: -p.val_images], refs[-p.val_images:]
    elif p.source == "div2k":
        root = Path(p.div2k_path) if p.div2k_path else None
        if root is not None and not root.is_dir():
            raise SrsegError(f"sr.pretrain.div2k_path: {root} is not a folder")
        train = [_file_ref(f) for f in list_images(_div2k_folder("DIV2K_train_HR", root, cache_dir))]
        val = [_file_ref(f) for f in list_images(_div2k_folder("DIV2K_valid_HR", root, cache_dir))[: p.val_images]]
    else:  # params validation makes this unreachable
        raise SrsegError(f"sr.pretrain.source: unknown source {p.source!r}")
    if not train:
        raise SrsegError(f"sr.pretrain: source {p.source!r} leaves no training images after holding out "
                         f"val_images = {p.val_images}")
    return train, val


def load_val_images(refs: list[ImageRef], scale: int) -> list[np.ndarray]:
    """Validation HR images cropped to a multiple of ``scale``."""
    out = []
    for ref in refs:
        img = crop_to_multiple(ref.load(), scale)
        if min(img.shape[:2]) < 2 * scale:
            raise ImageError(f"{ref.name}: too small for x{scale} validation ({img.shape[1]}x{img.shape[0]})")
        out.append(img)
    return out


class PatchSampler:
    """Random training patches, deterministic for a seed.

    Up to :data:`EAGER_MAX_IMAGES` images are held in memory; larger sets (DIV2K) are read through a pool
    of ``pool`` images of which one is replaced every ``refresh`` batches, in a shuffled order.
    """

    def __init__(self, refs: list[ImageRef], scale: int, patch: int, seed: int, pool: int = 48,
                 refresh: int = 4) -> None:
        self.scale = scale
        self.patch = patch - patch % scale
        if self.patch < 2 * scale:
            raise SrsegError(f"sr.pretrain.patch: {patch} is too small for x{scale} (need >= {2 * scale})")
        self.refs = refs
        self.rng = np.random.default_rng(seed)
        self.refresh = refresh
        self._batches = 0
        self.lazy = len(refs) > EAGER_MAX_IMAGES
        if not self.lazy:
            self.pool = OrderedDict((i, self._load(i)) for i in range(len(refs)))
            self._order: list[int] = []
        else:
            self._order = list(self.rng.permutation(len(refs)))
            self.pool = OrderedDict()
            for _ in range(min(pool, len(refs))):
                self._refill()

    def _load(self, i: int) -> np.ndarray:
        img = self.refs[i].load()
        h, w = img.shape[:2]
        if h < self.patch or w < self.patch:
            raise ImageError(
                f"{self.refs[i].name}: {w}x{h} is smaller than the {self.patch}x{self.patch} training patch "
                f"(sr.pretrain.patch)"
            )
        return img

    def _refill(self) -> None:
        """Add the next image of the shuffled order that is not in the pool (lazy mode only)."""
        while True:
            if not self._order:
                self._order = list(self.rng.permutation(len(self.refs)))
            i = int(self._order.pop())
            if i not in self.pool:
                self.pool[i] = self._load(i)
                return

    def batch(self, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(lr, bicubic, hr) float32 arrays (n, p/s, p/s, 1), (n, p, p, 1), (n, p, p, 1) on 0..255."""
        if self.lazy and self._batches and self._batches % self.refresh == 0:
            self.pool.popitem(last=False)
            self._refill()
        self._batches += 1
        p, s = self.patch, self.scale
        keys = list(self.pool)
        lr = np.empty((n, p // s, p // s, 1), np.float32)
        bic = np.empty((n, p, p, 1), np.float32)
        hr = np.empty((n, p, p, 1), np.float32)
        for j in range(n):
            img = self.pool[keys[self.rng.integers(len(keys))]]
            y0 = self.rng.integers(img.shape[0] - p + 1)
            x0 = self.rng.integers(img.shape[1] - p + 1)
            y = dihedral(luma(img[y0:y0 + p, x0:x0 + p]), int(self.rng.integers(8)))
            small = downscale_float(y, s)
            hr[j, ..., 0], lr[j, ..., 0], bic[j, ..., 0] = y, small, upscale_float(small, s)
        return lr, bic, hr


def patch_dataset(sampler: PatchSampler, batch: int) -> Any:
    """An endless ``tf.data`` pipeline of ``({"lr", "bicubic"}, hr)`` batches from ``sampler`` (prefetched)."""
    import tensorflow as tf

    p, s = sampler.patch, sampler.scale

    def gen() -> Iterator[tuple[dict[str, np.ndarray], np.ndarray]]:
        while True:
            lr, bic, hr = sampler.batch(batch)
            yield {"lr": lr, "bicubic": bic}, hr

    spec = (
        {"lr": tf.TensorSpec((batch, p // s, p // s, 1), tf.float32),
         "bicubic": tf.TensorSpec((batch, p, p, 1), tf.float32)},
        tf.TensorSpec((batch, p, p, 1), tf.float32),
    )
    return tf.data.Dataset.from_generator(gen, output_signature=spec).prefetch(2)
