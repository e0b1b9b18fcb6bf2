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
def default_set() -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Twelve val scenes at the default size (384×192): (image, label_ids, instance_ids)."""
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
    assert len(samples(_params(train=3, val=2), tmp_path)) == 5  # the download progress bar's total


def test_deterministic_per_seed(tmp_path: Path) -> None:
    a, b = _render(_params(seed=3), tmp_path), _render(_params(seed=3), tmp_path)
    for x, y in zip(a, b, strict=True):
        assert np.array_equal(x.image, y.image) and np.array_equal(x.label_ids, y.label_ids)
    c = _render(_params(seed=4), tmp_path)
    assert all(not np.array_equal(x.image, z.image) for x, z in zip(a, c, strict=True))
    assert any(not np.array_equal(x.label_ids, z.label_ids) for x, z in zip(a, c, strict=True))


def test_same_samples_on_worker_processes(tmp_path: Path) -> None:
    """The download stage renders on one process per CPU: the samples, in order, must not depend on it."""
    params = _params(train=3, val=2)
    serial, spawned = list(samples(params, tmp_path, workers=1)), list(samples(params, tmp_path, workers=2))
    assert [(s.split, s.id, s.origin) for s in serial] == [(s.split, s.id, s.origin) for s in spawned]
    for x, y in zip(serial, spawned, strict=True):
        for a, b in ((x.image, y.image), (x.label_ids, y.label_ids), (x.instance_ids, y.instance_ids)):
            assert a.dtype == b.dtype and np.array_equal(a, b)


def test_image_i_independent_of_counts(tmp_path: Path) -> None:
    small = _render(_params(train=2, val=1), tmp_path)
    large = _render(_params(train=4, val=3), tmp_path)
    by_id = {(s.split, s.id): s for s in large}
    for s in small:
        other = by_id[(s.split, s.id)]
        assert np.array_equal(s.image, other.image) and np.array_equal(s.label_ids, other.label_ids)


def test_only_valid_label_ids(default_set: list[tuple[np.ndarray, np.ndarray, np.ndarray]]) -> None:
    for _, labels, _ in default_set:
        assert VALID_IDS[labels].all()
        assert (labels != label_id("unlabeled")).all()


def test_every_listed_class_appears(default_set: list[tuple[np.ndarray, np.ndarray, np.ndarray]]) -> None:
    present = set(np.unique(np.concatenate([lab.ravel() for _, lab, _ in default_set])).tolist())
    missing = [name for name in REQUIRED if label_id(name) not in present]
    assert not missing, f"classes never rendered in 12 images: {missing}"


def test_images_are_textured(default_set: list[tuple[np.ndarray, np.ndarray, np.ndarray]]) -> None:
    for image, labels, _ in default_set:
        assert image.std() > 20
        road = image[labels == label_id("road")].astype(float)
        assert road.std(axis=0).min() > 2  # noise and texture, not flat fills


def test_labels_match_image_content(default_set: list[tuple[np.ndarray, np.ndarray, np.ndarray]]) -> None:
    """Sky is bluer and brighter than road, vegetation greener than road; image edges follow label edges."""
    sky_id, road_id, veg_id = label_id("sky"), label_id("road"), label_id("vegetation")
    pix = {k: [] for k in (sky_id, road_id, veg_id)}
    ratios = []
    for image, labels, _ in default_set:
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
    image, labels, instances = render_scene(scene_rng(0, "train", 5), 1024, 512)
    assert image.shape == (512, 1024, 3) and labels.shape == instances.shape == (512, 1024)
    assert VALID_IDS[labels].all()
    image, labels, _ = render_scene(scene_rng(0, "train", 5), 50, 30)
    assert image.shape == (30, 50, 3) and VALID_IDS[labels].all()


def test_render_sample_figure(tmp_path: Path) -> None:
    from PIL import Image

    path = render_sample_figure(tmp_path / "sample.png", width=96, height=48)
    with Image.open(path) as im:
        assert im.size == (2 * 96 + 4, 48) and im.mode == "RGB"


# --- instances ------------------------------------------------------------------------------------


def test_instance_png_round_trip(tmp_path: Path) -> None:
    """build_raw writes instanceIds beside the labels; read back, every instance's pixels carry its class's
    labelId in the label PNG, other pixels their labelId, and cityscapesscripts sees the same instances."""
    from cityscapesscripts.evaluation.instances2dict import instances2dict
    from PIL import Image

    from srseg.sources import build_raw

    params = validate({"seed": 0, "data": {"synthetic": {"width": 192, "height": 96, "train": 1, "val": 2}}})
    summary = build_raw(params, tmp_path / "raw", tmp_path / "cache", None)
    assert summary["instances"] == "rendered"
    files = sorted((tmp_path / "raw/gtFine").rglob("*_gtFine_instanceIds.png"))
    assert len(files) == 3
    n_instances = 0
    for path in files:
        with Image.open(path) as im:
            assert im.mode == "I;16"
            inst = np.asarray(im).astype(np.int64)
        with Image.open(str(path).replace("instanceIds", "labelIds")) as im:
            labels = np.asarray(im)
        ids = np.unique(inst[inst >= 1000])
        for iid in ids:
            assert (labels[inst == iid] == iid // 1000).all(), (path.name, iid)
        assert (inst[inst < 1000] == labels[inst < 1000]).all()
        thing = np.isin(labels, [label_id(n) for n in ("person", "rider", "car", "truck", "bus", "bicycle")])
        assert (inst[thing] >= 1000).all()  # every rendered object is an instance: no groups
        n_instances += len(ids)
        seen = instances2dict([str(path)])[str(path.resolve())]
        assert sorted(d["instID"] for v in seen.values() for d in v if d["instID"] >= 1000) == ids.tolist()
    counted = {s: sum(c.values()) for s, c in summary["instance_counts"].items()}
    assert counted["train"] + counted["val"] == n_instances > 5


def test_occluded_instances_keep_distinct_ids(default_set: list[tuple[np.ndarray, np.ndarray, np.ndarray]]) -> None:
    """Objects of one class that touch on screen (one partly hides the other) stay separate instances,
    and an object cut in two by a nearer one keeps one id on both visible parts."""
    from scipy import ndimage

    eight = np.ones((3, 3))
    touching = split = 0
    for _, labels, inst in default_set:
        for name in ("person", "car"):
            lid = label_id(name)
            ids = np.unique(inst[labels == lid])
            assert (ids // 1000 == lid).all()
            touching += len(ids) - ndimage.label(labels == lid, structure=eight)[1]
            split += sum(ndimage.label(inst == i, structure=eight)[1] > 1 for i in ids)
    assert touching > 10  # instances more numerous than the class's connected components
    assert split > 5  # instances whose visible pixels form several components


def test_painting_order_decides_visible_instance_pixels() -> None:
    """Canvas.paint: a later object covers an earlier one; the covered object keeps its id where visible,
    a stuff class (a pole) painted over an object leaves its plain labelId; rider and bicycle are two."""
    import math

    from srseg.sources.synthetic import (
        Canvas,
        Ctx,
        Stroke,
        build_street,
        draw_rider,
        make_camera,
        make_lighting,
    )

    rng = scene_rng(0, "val", 0)
    cam, light, street = make_camera(rng, 96, 48), make_lighting(rng), build_street(rng)
    cv = Canvas(96, 48, light, rng)

    def rect(x0: int, x1: int, y0: int, y1: int) -> Stroke:
        s = Stroke()
        s.poly(np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], float), np.ones(3, np.float32))
        return s

    person, car, pole = label_id("person"), label_id("car"), label_id("pole")
    cv.paint(rect(10, 30, 5, 40), person)  # far person
    cv.paint(rect(25, 50, 20, 45), car)  # nearer car covers its lower right
    cv.paint(rect(18, 20, 0, 47), pole)  # a pole cuts the person in two
    cv.paint(rect(60, 70, 5, 40), person)  # a second person
    inst = cv.instance_ids()
    assert set(np.unique(inst[inst >= 1000]).tolist()) == {24000, 24001, 26000}
    assert (inst[10:15, 12:16] == 24000).all() and (inst[10:15, 22:24] == 24000).all()  # both sides of the pole
    assert (inst[30:40, 27:30] == 26000).all() and (inst[10:15, 19] == pole).all()
    assert (inst[10:15, 62:68] == 24001).all()

    ctx = Ctx(Canvas(96, 48, light, rng), cam, light, street, rng)
    draw_rider(ctx, 0.3, 6.0, math.radians(0))
    ids = set(np.unique(ctx.cv.instance_ids()).tolist())
    assert {25000, 33000} <= ids and not any(i >= 1000 and i not in (25000, 33000) for i in ids)
