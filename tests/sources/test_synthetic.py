"""The synthetic street-scene source: API, determinism, per-index independence, labels, consistency."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from srseg.labels import VALID_IDS, label_id
from srseg.params import Params, validate
from srseg.sources import RawSample
from srseg.sources.synthetic import render_sample_figure, render_scene, samples, scene_rng

REQUIRED = [
    "road", "sidewalk", "building", "sky", "vegetation", "terrain", "fence", "pole", "traffic sign",
    "traffic light", "car", "truck", "bus", "person", "rider", "bicycle",
]


def _params(seed: int = 0, **synthetic: int) -> Params:
    cfg = {"width": 96, "height": 48, "train": 3, "val": 2, "cities": 2, **synthetic}
    return validate({"seed": seed, "data": {"synthetic": cfg}})


def _render(params: Params, tmp_path: Path) -> list[RawSample]:
    return list(samples(params, tmp_path))


@pytest.fixture(scope="module")
def default_set() -> list[tuple[np.ndarray, np.ndarray]]:
    """Twelve val scenes at the default size (384×192)."""
    return [render_scene(scene_rng(0, "val", i), 384, 192) for i in range(12)]


def test_samples_api(tmp_path: Path) -> None:
    out = _render(_params(train=3, val=2, cities=2), tmp_path)
    assert [s.split for s in out] == ["train"] * 3 + ["val"] * 2
    for s in out:
        assert s.image.shape == (48, 96, 3) and s.image.dtype == np.uint8
        assert s.label_ids.shape == (48, 96) and s.label_ids.dtype == np.uint8
        assert re.fullmatch(rf"{s.city}_\d{{6}}_\d{{6}}", s.id), s.id
        assert s.origin
    assert len({s.id for s in out}) == len(out)
    assert len({s.city for s in out if s.split == "train"}) == 2
    assert not {s.city for s in out if s.split == "train"} & {s.city for s in out if s.split == "val"}


def test_deterministic_per_seed(tmp_path: Path) -> None:
    a, b = _render(_params(seed=3), tmp_path), _render(_params(seed=3), tmp_path)
    for x, y in zip(a, b):
        assert np.array_equal(x.image, y.image) and np.array_equal(x.label_ids, y.label_ids)
    c = _render(_params(seed=4), tmp_path)
    assert all(not np.array_equal(x.image, z.image) for x, z in zip(a, c))
    assert any(not np.array_equal(x.label_ids, z.label_ids) for x, z in zip(a, c))


def test_image_i_independent_of_counts(tmp_path: Path) -> None:
    small = _render(_params(train=2, val=1), tmp_path)
    large = _render(_params(train=4, val=3), tmp_path)
    by_id = {(s.split, s.id): s for s in large}
    for s in small:
        other = by_id[(s.split, s.id)]
        assert np.array_equal(s.image, other.image) and np.array_equal(s.label_ids, other.label_ids)


def test_only_valid_label_ids(default_set: list[tuple[np.ndarray, np.ndarray]]) -> None:
    for _, labels in default_set:
        assert VALID_IDS[labels].all()
        assert (labels != label_id("unlabeled")).all()


def test_every_listed_class_appears(default_set: list[tuple[np.ndarray, np.ndarray]]) -> None:
    present = set(np.unique(np.concatenate([lab.ravel() for _, lab in default_set])).tolist())
    missing = [name for name in REQUIRED if label_id(name) not in present]
    assert not missing, f"classes never rendered in 12 images: {missing}"


def test_images_are_textured(default_set: list[tuple[np.ndarray, np.ndarray]]) -> None:
    for image, labels in default_set:
        assert image.std() > 20
        road = image[labels == label_id("road")].astype(float)
        assert road.std(axis=0).min() > 2  # noise and texture, not flat fills


def test_labels_match_image_content(default_set: list[tuple[np.ndarray, np.ndarray]]) -> None:
    """Sky is bluer and brighter than road, vegetation greener than road; image edges follow label edges."""
    sky_id, road_id, veg_id = label_id("sky"), label_id("road"), label_id("vegetation")
    pix = {k: [] for k in (sky_id, road_id, veg_id)}
    ratios = []
    for image, labels in default_set:
        img = image.astype(np.float64)
        for k in pix:
            pix[k].append(img[labels == k])
        grey = img.mean(axis=2)
        grad = np.hypot(np.diff(grey, axis=1)[:-1], np.diff(grey, axis=0)[:, :-1])
        edge = (labels[:-1, 1:] != labels[:-1, :-1]) | (labels[1:, :-1] != labels[:-1, :-1])
        ratios.append(grad[edge].mean() / grad[~edge].mean())
    sky, road, veg = (np.concatenate(pix[k]).mean(axis=0) for k in (sky_id, road_id, veg_id))
    assert sky.mean() > road.mean() + 40
    assert sky[2] - sky[0] > road[2] - road[0] + 10
    assert veg[1] - veg[[0, 2]].mean() > road[1] - road[[0, 2]].mean() + 10
    assert np.median(ratios) > 3.5, ratios  # a 2-pixel label shift gives about 2.5


def test_other_sizes() -> None:
    image, labels = render_scene(scene_rng(0, "train", 5), 1024, 512)
    assert image.shape == (512, 1024, 3) and labels.shape == (512, 1024)
    assert VALID_IDS[labels].all()
    image, labels = render_scene(scene_rng(0, "train", 5), 50, 30)
    assert image.shape == (30, 50, 3) and VALID_IDS[labels].all()


def test_render_sample_figure(tmp_path: Path) -> None:
    from PIL import Image

    path = render_sample_figure(tmp_path / "sample.png", width=96, height=48)
    with Image.open(path) as im:
        assert im.size == (2 * 96 + 4, 48) and im.mode == "RGB"
