"""Shared fixtures: paths of the optional real data in ../shared and tiny Cityscapes-layout trees."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("SRSEG_SHARED", REPO.parent / "shared")) / "data"


def shared_path(*parts: str) -> Path:
    """A path under ../shared/data, skipping the test with a reason when it is absent."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"{path} not present (real data from ../shared is optional)")
    return path


@pytest.fixture
def tiny_tree(tmp_path: Path) -> Path:
    """A Cityscapes-layout tree of 2 train + 1 val random images (48×36) with valid labels."""
    from srseg.io import write_png
    from srseg.labels import ID_TO_TRAIN
    from srseg.layout import Sample

    rng = np.random.default_rng(0)
    root = tmp_path / "raw"
    for split, n in (("train", 2), ("val", 1)):
        for i in range(n):
            s = Sample(split, "testcity", f"testcity_{i:06d}_000019")
            write_png(s.image(root), rng.integers(0, 256, (36, 48, 3), dtype=np.uint8))
            ids = rng.choice([7, 8, 11, 21, 23, 26], size=(36, 48)).astype(np.uint8)
            write_png(s.label_ids(root), ids)
            write_png(s.label_train_ids(root), ID_TO_TRAIN[ids])
    return root
