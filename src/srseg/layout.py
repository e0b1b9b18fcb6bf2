"""Paths of the Cityscapes layout that every data source writes and every stage reads.

``<root>/leftImg8bit/<split>/<city>/<city>_<seq>_<frame>_leftImg8bit.png`` and
``<root>/gtFine/<split>/<city>/<id>_gtFine_{labelIds,labelTrainIds,instanceIds}.png`` (instanceIds only where
the source provides instances, see :mod:`srseg.instances`). Variants (LR, bicubic, SR)
use the image part of the layout under their own root with the same file names.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from srseg.errors import SrsegError

IMG_SUFFIX = "_leftImg8bit.png"
LABEL_SUFFIX = "_gtFine_labelIds.png"
TRAIN_LABEL_SUFFIX = "_gtFine_labelTrainIds.png"
INSTANCE_SUFFIX = "_gtFine_instanceIds.png"
PRED_SUFFIX = "_pred_labelIds.png"
SPLITS = ("train", "val", "test")


@dataclass(frozen=True)
class Sample:
    """One image of a split: ``id`` is ``<city>_<seq>_<frame>``."""

    split: str
    city: str
    id: str

    def image(self, root: str | Path) -> Path:
        return Path(root) / "leftImg8bit" / self.split / self.city / f"{self.id}{IMG_SUFFIX}"

    def label_ids(self, root: str | Path) -> Path:
        return Path(root) / "gtFine" / self.split / self.city / f"{self.id}{LABEL_SUFFIX}"

    def label_train_ids(self, root: str | Path) -> Path:
        return Path(root) / "gtFine" / self.split / self.city / f"{self.id}{TRAIN_LABEL_SUFFIX}"

    def instance_ids(self, root: str | Path) -> Path:
        return Path(root) / "gtFine" / self.split / self.city / f"{self.id}{INSTANCE_SUFFIX}"

    def prediction(self, root: str | Path) -> Path:
        return Path(root) / self.split / self.city / f"{self.id}{PRED_SUFFIX}"


def list_samples(root: str | Path, split: str) -> list[Sample]:
    """All images of ``split`` under ``root`` (sorted, so every stage sees the same order)."""
    base = Path(root) / "leftImg8bit" / split
    if not base.is_dir():
        raise SrsegError(f"{base}: no such folder (did the previous stage run?)")
    out = [
        Sample(split, p.parent.name, p.name[: -len(IMG_SUFFIX)])
        for p in sorted(base.glob(f"*/*{IMG_SUFFIX}"))
    ]
    if not out:
        raise SrsegError(f"{base}: no *{IMG_SUFFIX} images")
    return out


def splits_present(root: str | Path) -> list[str]:
    """The splits that exist under ``root``, in canonical order."""
    return [s for s in SPLITS if (Path(root) / "leftImg8bit" / s).is_dir()]
