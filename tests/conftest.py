"""Shared fixtures: paths of the optional real data in ../shared and tiny Cityscapes-layout trees."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pytest

if TYPE_CHECKING:
    from srseg.paths import Paths

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")  # the default runtime.cpu_kernels (onednn), for in-process stages

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("SRSEG_SHARED", REPO.parent / "shared")) / "data"

#: The loopback HTTP server fixture (``http_server``) for every test that asks for it by name.
pytest_plugins = ["tests._http"]


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


@pytest.fixture(scope="session")
def tiny_study(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A repository root after the first stages on tiny synthetic scenes (96×48, 3 train + 2 val): data/raw
    (with instances), data/lr and data/bicubic at ×2, and untrained seeded models of seed 0 — the ×2 c-DCSCN
    and a small HR PSPNet. Shared by a session's tests: copy it before writing into it."""
    import keras

    from srseg.degrade import degrade_tree
    from srseg.io import save_keras
    from srseg.models.dcscn import DcscnConfig, build_dcscn
    from srseg.models.pspnet import build_pspnet, save_model
    from srseg.params import validate
    from srseg.paths import Paths
    from srseg.sources import build_raw

    paths = Paths(tmp_path_factory.mktemp("study"))
    params = validate({"scales": [2], "seg": {"retrain_scales": [2]}, "combine": {"scales": [2]},
                       "data": {"synthetic": {"width": 96, "height": 48, "train": 3, "val": 2}}})
    build_raw(params, paths.raw, cache_dir=paths.downloads, metrics_path=None)
    degrade_tree(paths.raw, 2, paths.lr(2), paths.bicubic(2))
    keras.utils.set_random_seed(0)
    save_keras(build_dcscn(DcscnConfig.from_preset("c-dcscn", 2, dropout_keep=0.8, l2=1e-4)), paths.sr_model(2, 0))
    save_model(build_pspnet(19, "small"), paths.seg_model("hr", 0))
    return paths.root


@pytest.fixture
def study(tiny_study: Path, tmp_path: Path) -> Paths:
    """A writable copy of :func:`tiny_study`, as :class:`srseg.paths.Paths`."""
    import shutil

    from srseg.paths import Paths

    root = tmp_path / "repo"
    shutil.copytree(tiny_study, root)
    return Paths(root)

