"""Segmentation metrics: hand-computed confusion matrices and agreement with cityscapesscripts."""

from __future__ import annotations

import glob
import math
import time
from pathlib import Path

import numpy as np
import pytest

from srseg.errors import ImageError, SrsegError
from srseg.labels import IGNORE, NUM_CLASSES, TRAIN_NAMES, TRAIN_TO_ID
from srseg.metrics.seg import SegMeter, confusion_matrix, load_per_image, pacc_miou, save_per_image, scores
from tests.results.test_stats import C, random_cms


def test_confusion_matrix_by_hand() -> None:
    gt = np.array([[0, 0, 1], [1, 2, IGNORE]])
    pred = np.array([[0, 1, 1], [1, IGNORE, 0]])
    cm = confusion_matrix(gt, pred, num_classes=3)
    expected = np.array([
        [1, 1, 0, 0],  # gt 0: one right, one as 1
        [0, 2, 0, 0],  # gt 1: both right
        [0, 0, 0, 1],  # gt 2: predicted 255 (outside the classes) → a miss
    ])
    np.testing.assert_array_equal(cm, expected)  # the gt-255 pixel is not counted


def test_scores_by_hand() -> None:
    cm = np.array([
        [1, 1, 0, 0],
        [0, 2, 0, 0],
        [0, 0, 0, 1],
    ])
    s = scores(cm, names=["a", "b", "c"])
    assert s["pacc"] == pytest.approx(3 / 5)
    # IoU a = 1/(1+0+1), b = 2/(2+1+0), c = 0/(0+0+1)
    assert s["iou"] == pytest.approx({"a": 0.5, "b": 2 / 3, "c": 0.0})
    assert s["miou"] == pytest.approx((0.5 + 2 / 3 + 0) / 3)
    assert s["macc"] == pytest.approx((0.5 + 1 + 0) / 3)


def test_absent_classes() -> None:
    # class 2 absent from gt but predicted → IoU 0 (counted); class 3 absent from both → None (excluded)
    gt = np.array([0, 0, 1, 1])
    pred = np.array([0, 2, 1, 1])
    s = scores(confusion_matrix(gt, pred, 4), names=["a", "b", "c", "d"])
    assert s["iou"] == pytest.approx({"a": 0.5, "b": 1.0, "c": 0.0, "d": None})
    assert s["miou"] == pytest.approx(0.5)
    assert s["macc"] == pytest.approx(0.75)  # over classes present in gt only


def test_meter_accumulates_over_images_and_checks() -> None:
    m = SegMeter()
    m.add(np.zeros((2, 2), np.uint8), np.zeros((2, 2), np.uint8))
    m.add(np.full((1, 3), 13, np.uint8), np.array([[13, 13, 0]], np.uint8))
    r = m.result()
    assert r["n_images"] == 2 and r["pacc"] == pytest.approx(6 / 7)
    assert r["iou"]["road"] == pytest.approx(4 / 5) and r["iou"]["car"] == pytest.approx(2 / 3)
    assert r["iou"]["sky"] is None and set(r["iou"]) == set(TRAIN_NAMES)
    with pytest.raises(ImageError, match="does not match"):
        m.add(np.zeros((2, 2), np.uint8), np.zeros((2, 3), np.uint8), name="x.png")
    with pytest.raises(ImageError, match="outside"):
        m.add(np.full((2, 2), 40, np.uint8), np.zeros((2, 2), np.uint8), name="x.png")


def _write_tiny_cityscapes(root: Path) -> None:
    """Two val images with labelIds incl. ignored ids (0, 1, 4, 5) and train ids spread around."""
    from srseg.io import write_png
    from srseg.labels import ID_TO_TRAIN
    from srseg.layout import Sample

    rng = np.random.default_rng(3)
    # labelIds: unlabeled 0, ego 1, static 4, dynamic 5, road 7, sidewalk 8, building 11, pole 17,
    # sky 23, person 24, car 26, bus 28 — bicycle (33) etc. never appear in the ground truth.
    ids = np.array([0, 1, 4, 5, 7, 8, 11, 17, 23, 24, 26, 28], np.uint8)
    for i, (h, w) in enumerate([(24, 40), (30, 22)]):
        s = Sample("val", "frankfurt", f"frankfurt_{i:06d}_{i * 7:06d}")
        gt = rng.choice(ids, size=(h, w)).astype(np.uint8)
        gt[:4] = 7
        write_png(s.label_ids(root), gt)
        write_png(s.label_train_ids(root), ID_TO_TRAIN[gt])
        # the "image" carries the prediction (a trainId per pixel) in its red channel: mostly right,
        # some confusions, some predictions of classes absent from the gt (train 18 bicycle, 9 terrain)
        pred = ID_TO_TRAIN[gt].copy()
        pred[pred == IGNORE] = rng.integers(0, NUM_CLASSES, size=int((pred == IGNORE).sum()))
        flip = rng.random((h, w)) < 0.3
        pred[flip] = rng.choice([0, 1, 2, 9, 10, 13, 18], size=int(flip.sum()))
        write_png(s.image(root), np.stack([pred, pred, pred], -1))


def _oracle_predictor():
    """A Predictor whose 'network' outputs one-hot logits of the red channel (a trainId)."""
    import keras
    import tensorflow as tf

    from srseg.seg.infer import Predictor

    inp = keras.Input((None, None, 3))
    out = keras.layers.Lambda(lambda x: 10.0 * tf.one_hot(tf.cast(x[..., 0], tf.int32), NUM_CLASSES))(inp)
    return Predictor(keras.Model(inp, out), "whole")


def test_miou_equals_official_cityscapes_evaluation(tmp_path: Path, monkeypatch) -> None:
    from cityscapesscripts.evaluation import evalPixelLevelSemanticLabeling as official

    from srseg.seg.evaluate import evaluate_split

    root, pred_dir = tmp_path / "raw", tmp_path / "pred"
    _write_tiny_cityscapes(root)
    meter, objects = evaluate_split(_oracle_predictor(), root, root, pred_dir, "val")
    assert objects is None  # no object spec asked for
    ours = meter.result()
    assert ours["n_images"] == 2
    ids, cms = meter.per_image()  # the per-image matrices sum to the split's, in the val list's order
    assert ids == sorted(ids) and len(ids) == 2 and np.array_equal(cms.sum(0), meter.cm)
    assert scores(cms.sum(0))["miou"] == ours["miou"]

    args = official.args
    for key, value in {
        "groundTruthSearch": str(root / "gtFine" / "val" / "*" / "*_gtFine_labelIds.png"),
        "predictionPath": str(pred_dir),
        "predictionWalk": None,
        "evalInstLevelScore": False,  # 2.3.0's instance path calls np.in1d (gone in NumPy 2.4)
        "evalPixelAccuracy": False,  # its pixel-accuracy option is buggy
        "JSONOutput": False,
        "quiet": True,
        "colorized": False,
    }.items():
        monkeypatch.setattr(args, key, value, raising=False)
    gts = sorted(glob.glob(args.groundTruthSearch))
    preds = [official.getPrediction(args, g) for g in gts]
    assert [Path(p).name for p in preds] == [Path(g).name.replace("gtFine_labelIds", "pred_labelIds") for g in gts]
    result = official.evaluateImgLists(preds, gts, args)

    assert ours["miou"] == pytest.approx(result["averageScoreClasses"], abs=1e-12)
    for name, value in ours["iou"].items():
        theirs = result["classScores"][name]
        if value is None:
            assert math.isnan(theirs), name
        else:
            assert value == pytest.approx(theirs, abs=1e-12), name
    # the fixture exercises all three cases: present, predicted-but-absent (IoU 0), absent (NaN)
    assert ours["iou"]["bicycle"] == 0.0 and ours["iou"]["train"] is None and ours["iou"]["road"] > 0.5
    # predictions were written as Cityscapes labelIds
    from PIL import Image

    written = np.unique(np.concatenate([np.asarray(Image.open(p)).ravel() for p in preds]))
    assert set(written.tolist()) <= set(TRAIN_TO_ID[:NUM_CLASSES].tolist())


@pytest.mark.parametrize("num_classes", [NUM_CLASSES, 70])
def test_pacc_miou_of_a_stack_equals_scores_matrix_by_matrix(num_classes: int) -> None:
    rng = np.random.default_rng(3)
    c = num_classes
    cms = rng.integers(0, 1000, (300, c, c + 1)) * (rng.random((300, c, c + 1)) < rng.random((300, 1, 1)))
    absent = rng.random((300, c)) < rng.random((300, 1))  # classes absent from gt and prediction: NaN IoU
    cms[np.broadcast_to(absent[:, :, None], cms.shape)] = 0
    cms[:, :, :c][np.broadcast_to(absent[:, None, :], (300, c, c))] = 0
    cms[0] = 0  # no labelled pixels: both NaN
    pacc, miou = pacc_miou(cms)
    assert pacc.shape == miou.shape == (300,) and np.isnan(pacc[0]) and np.isnan(miou[0])
    for i in range(1, 300):
        s = scores(cms[i], names=[str(k) for k in range(c)])
        # the same floats, not approximately (NaN where no class is defined)
        np.testing.assert_array_equal([pacc[i], miou[i]], [s["pacc"], s["miou"]])
        iou = np.array([np.nan if v is None else v for v in s["iou"].values()])
        if not np.isnan(iou).all():
            assert miou[i] == iou[~np.isnan(iou)].mean()


def test_per_image_file_round_trip_and_same_bytes(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    cms = random_cms(np.random.default_rng(18), 4)
    ids = ["a_000001", "b_000002", "c_000003", "d_000004"]
    path = tmp_path / "per_image.npz"
    save_per_image(path, ids, cms)
    first = path.read_bytes()
    got_ids, got = load_per_image(path, ids)
    assert got_ids == ids and got.dtype == np.int64 and np.array_equal(got, cms)
    monkeypatch.setattr(time, "time", lambda: 2_000_000_000.0)  # another clock: zip dates must not follow it
    save_per_image(path, ids, cms.astype(np.int32))
    assert path.read_bytes() == first
    assert sorted(p.name for p in tmp_path.iterdir()) == ["per_image.npz"]  # no temporary left behind
    # the same images in another order come back in the expected order
    got_ids, got = load_per_image(path, ids[::-1])
    assert got_ids == ids[::-1] and np.array_equal(got, cms[::-1])


def test_per_image_file_errors_name_the_file(tmp_path) -> None:
    cms = random_cms(np.random.default_rng(19), 23)
    ids = [f"img_{i:03d}" for i in range(23)]
    path = tmp_path / "sr_x4.npz"
    with pytest.raises(SrsegError, match=r"sr_x4\.npz: per-image confusion matrices not found"):
        load_per_image(path)
    save_per_image(path, ids, cms)
    with pytest.raises(SrsegError, match=r"sr_x4\.npz: 23 images, but 24 in its predictions"):
        load_per_image(path, ids + ["img_023"], expected_from="its predictions")
    with pytest.raises(SrsegError, match=r"sr_x4\.npz: images differ from the expected list: 1 missing"):
        load_per_image(path, ids[:-1] + ["other"])
    bad = {
        "garbage.npz": b"not a zip file at all",
        "truncated.npz": path.read_bytes()[:200],
    }
    for name, data in bad.items():
        (tmp_path / name).write_bytes(data)
        with pytest.raises(SrsegError, match=rf"{name}: cannot read"):
            load_per_image(tmp_path / name)
    np.save(tmp_path / "plain.npy", cms)
    with pytest.raises(SrsegError, match=r"plain\.npy: not an \.npz"):
        load_per_image(tmp_path / "plain.npy")
    np.savez(tmp_path / "keys.npz", cms=cms)
    with pytest.raises(SrsegError, match=r"keys\.npz: not per-image .*missing \['ids', 'version'\]"):
        load_per_image(tmp_path / "keys.npz")
    np.savez(tmp_path / "version.npz", version=2, ids=np.array(ids), cms=cms)
    with pytest.raises(SrsegError, match=r"version\.npz: format version 2, this code reads 1"):
        load_per_image(tmp_path / "version.npz")
    np.savez(tmp_path / "shape.npz", version=1, ids=np.array(ids), cms=cms[:, :, :C])
    with pytest.raises(SrsegError, match=r"shape\.npz: confusion matrices must be"):
        load_per_image(tmp_path / "shape.npz")
    np.savez(tmp_path / "count.npz", version=1, ids=np.array(ids[:22]), cms=cms)
    with pytest.raises(SrsegError, match=r"count\.npz: 22 image ids for 23 confusion matrices"):
        load_per_image(tmp_path / "count.npz")
    np.savez(tmp_path / "text_version.npz", version="one", ids=np.array(ids), cms=cms)
    with pytest.raises(SrsegError, match=r"text_version\.npz: format version one, this code reads 1"):
        load_per_image(tmp_path / "text_version.npz")
    np.savez(tmp_path / "negative.npz", version=1, ids=np.array(ids), cms=-cms)
    with pytest.raises(SrsegError, match=r"negative\.npz: negative pixel counts"):
        load_per_image(tmp_path / "negative.npz")
    with pytest.raises(SrsegError, match="negative pixel counts"):
        save_per_image(tmp_path / "x.npz", ids, -cms)
    with pytest.raises(SrsegError, match="2 image ids for 23"):
        save_per_image(tmp_path / "x.npz", ids[:2], cms)
