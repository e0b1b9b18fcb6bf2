"""Segmentation stages on tiny data in a temp repo root: train, evaluate, retrain, segment, bad inputs."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from srseg.errors import ImageError, SrsegError
from srseg.io import read_label, write_png
from srseg.labels import ID_TO_TRAIN, TRAIN_NAMES, VALID_IDS
from srseg.layout import Sample, list_samples
from srseg.params import validate

REPO = Path(__file__).resolve().parents[1]
TINY_SEG = {"epochs": 1, "steps_per_epoch": 2, "batch": 2, "crop": 32}


def _params(**train):
    return validate({"scales": [2, 4], "seg": {"train": {**TINY_SEG, **train}, "retrain_scales": [2]}})


def _make_tree(root: Path, n_train: int = 2, n_val: int = 2, h: int = 24, w: int = 40) -> Path:
    """``root/data/raw``: sky above buildings above road, a car and a pole; colours follow the classes."""
    rng = np.random.default_rng(0)
    raw = root / "data" / "raw"
    for split, n in (("train", n_train), ("val", n_val)):
        for i in range(n):
            s = Sample(split, "tinycity", f"tinycity_{i:06d}_000019")
            ids = np.full((h, w), 7, np.uint8)
            ids[: h // 3] = 23
            ids[h // 3 : h // 2] = 11
            ids[h // 2 : h // 2 + 5, 3 + i : 15 + i] = 26
            ids[:, w - 6 : w - 4] = 17
            ids[-2:, :4] = 1  # ego vehicle: ignored
            c = ids.astype(int)
            img = np.stack([c * 9 % 256, c * 5 % 256, 255 - c * 7 % 256], -1)
            img = np.clip(img.astype(int) + rng.integers(-10, 10, img.shape), 0, 255).astype(np.uint8)
            write_png(s.image(raw), img)
            write_png(s.label_ids(raw), ids)
            write_png(s.label_train_ids(raw), ID_TO_TRAIN[ids])
    return raw


def _copy_images(raw: Path, dest: Path) -> None:
    shutil.copytree(raw / "leftImg8bit", dest / "leftImg8bit")


def _no_temp_left(folder: Path) -> bool:
    return not [p for p in folder.iterdir() if p.name.startswith(".")] if folder.exists() else True


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    """A tiny repo root after train_seg."""
    from srseg.seg.pipeline import run_train_seg

    root = tmp_path_factory.mktemp("repo")
    _make_tree(root)
    summary = run_train_seg(_params(), root)
    assert "val_miou" in summary and len(summary["history"]) == 1
    return root


def test_train_seg_outputs(trained: Path) -> None:
    assert (trained / "models/seg/hr.keras").is_file()
    live = json.loads((trained / "metrics/train/seg_hr/metrics.json").read_text())
    assert {"loss", "loss_main", "loss_aux"} <= set(live["train"]) and {"miou", "pacc"} <= set(live["val"])
    assert (trained / "metrics/train/seg_hr/plots/metrics/val/miou.tsv").is_file()
    assert _no_temp_left(trained / "models/seg") and _no_temp_left(trained / "metrics/train")


def test_evaluate_hr(trained: Path) -> None:
    from srseg.seg.pipeline import run_evaluate_seg

    metrics = run_evaluate_seg(_params(), "hr", trained)
    on_disk = json.loads((trained / "metrics/seg/hr.json").read_text())
    assert set(on_disk) == {"pacc", "miou", "macc", "n_images", "iou"} and on_disk["n_images"] == 2
    assert set(on_disk["iou"]) == set(TRAIN_NAMES) and on_disk["iou"]["train"] in (None, 0.0)
    assert on_disk["miou"] == pytest.approx(metrics["miou"])
    for s in list_samples(trained / "data/raw", "val"):
        pred = read_label(s.prediction(trained / "data/pred/hr"))
        assert pred.shape == (24, 40) and VALID_IDS[pred].all()


def test_evaluate_sliding_matches_shape(trained: Path) -> None:
    from srseg.models.pspnet import load_model
    from srseg.seg.infer import Predictor

    model = load_model(trained / "models/seg/hr.keras")
    img = np.random.default_rng(1).integers(0, 255, (37, 70, 3)).astype(np.uint8)
    sliding = Predictor(model, "sliding", window=32, overlap=0.33).probabilities(img)
    assert sliding.shape == (37, 70, 19)
    np.testing.assert_allclose(sliding.sum(-1), 1, atol=1e-4)
    big = Predictor(model, "sliding", window=128).probabilities(img)  # one padded window
    assert big.shape == (37, 70, 19)


def test_evaluate_missing_variant_images(trained: Path) -> None:
    from srseg.seg.pipeline import run_evaluate_seg

    with pytest.raises(SrsegError, match="missing"):
        run_evaluate_seg(_params(), "sr_x2", trained)
    sr = trained / "data/sr/x2"
    _copy_images(trained / "data/raw", sr)
    victim = next((sr / "leftImg8bit/val").rglob("*.png"))
    victim.unlink()
    with pytest.raises(SrsegError, match=r"1 of 2 val images of SR ×2 .* missing"):
        run_evaluate_seg(_params(), "sr_x2", trained)
    assert not (trained / "data/pred/sr_x2").exists() and not (trained / "metrics/seg/sr_x2.json").exists()
    shutil.rmtree(sr)
    with pytest.raises(SrsegError, match="bicubic_x<scale>"):
        run_evaluate_seg(_params(), "nearest_x2", trained)
    with pytest.raises(SrsegError, match="not in params scales"):
        run_evaluate_seg(_params(), "bicubic_x3", trained)


def test_evaluate_wrong_size_variant(trained: Path) -> None:
    from srseg.seg.pipeline import run_evaluate_seg

    bic = trained / "data/bicubic/x4"
    _copy_images(trained / "data/raw", bic)
    victim = sorted((bic / "leftImg8bit/val").rglob("*.png"))[1]
    write_png(victim, np.zeros((24, 36, 3), np.uint8))
    with pytest.raises(ImageError, match="36x24 but its ground truth .* 40x24"):
        run_evaluate_seg(_params(), "bicubic_x4", trained)
    assert not (trained / "data/pred/bicubic_x4").exists() and _no_temp_left(trained / "data/pred")
    shutil.rmtree(bic)


def test_bad_label_ids(tmp_path: Path, trained: Path) -> None:
    from srseg.seg.pipeline import run_evaluate_seg

    root = tmp_path / "r"
    shutil.copytree(trained / "data/raw", root / "data/raw")
    shutil.copytree(trained / "models", root / "models")
    s = list_samples(root / "data/raw", "val")[0]
    lab = read_label(s.label_ids(root / "data/raw"))
    lab[0, 0] = 77
    write_png(s.label_ids(root / "data/raw"), lab)
    with pytest.raises(ImageError, match=r"label ids \[77\] are not in the Cityscapes label table"):
        run_evaluate_seg(_params(), "hr", root)
    assert not (root / "data/pred").exists() or not any((root / "data/pred").iterdir())


def test_weights_param(tmp_path: Path, trained: Path) -> None:
    from srseg.models.pspnet import build_pspnet, save_model
    from srseg.seg.pipeline import run_train_seg

    root = tmp_path / "w"
    shutil.copytree(trained / "data/raw", root / "data/raw")
    ten = tmp_path / "ten.keras"
    save_model(build_pspnet(10, "small"), ten)
    params = validate({"seg": {"weights": str(ten)}})
    with pytest.raises(SrsegError, match="predicts 10 classes, expected 19"):
        run_train_seg(params, root)
    assert not (root / "models").exists() and not (root / "metrics").exists()
    params = validate({"seg": {"weights": str(trained / "models/seg/hr.keras")}})
    summary = run_train_seg(params, root)
    assert (root / "models/seg/hr.keras").is_file() and summary["val_miou"] >= 0
    assert json.loads((root / "metrics/train/seg_hr/metrics.json").read_text())["weights"].endswith("hr.keras")


def test_retrain_seg(trained: Path) -> None:
    from srseg.seg.pipeline import run_retrain_seg

    with pytest.raises(SrsegError, match="missing"):
        run_retrain_seg(_params(), 2, trained)
    with pytest.raises(SrsegError, match="retrain_scales"):
        run_retrain_seg(_params(), 4, trained)
    _copy_images(trained / "data/raw", trained / "data/sr/x2")
    metrics = run_retrain_seg(_params(), 2, trained)
    on_disk = json.loads((trained / "metrics/seg/retrain_x2.json").read_text())
    assert set(on_disk) == {"sr_model_on_sr", "sr_model_on_hr"}
    assert on_disk["sr_model_on_sr"]["n_images"] == 2 and set(on_disk["sr_model_on_hr"]["iou"]) == set(TRAIN_NAMES)
    # SR images are copies of HR here, so both evaluations agree
    assert metrics["sr_model_on_sr"]["miou"] == pytest.approx(metrics["sr_model_on_hr"]["miou"])
    assert (trained / "models/seg/sr_x2.keras").is_file()
    assert (trained / "metrics/train/seg_sr_x2/metrics.json").is_file()
    for sub in ("on_sr", "on_hr"):
        for s in list_samples(trained / "data/raw", "val"):
            assert s.prediction(trained / "data/pred/retrain_x2" / sub).is_file()


def test_segment_file_any_size(tmp_path: Path, trained: Path) -> None:
    from srseg.cli import main
    from srseg.labels import TRAIN_PALETTE, TRAIN_TO_ID

    src = tmp_path / "in.png"
    write_png(src, np.random.default_rng(2).integers(0, 255, (53, 97, 3)).astype(np.uint8))
    main(["segment", str(src), str(tmp_path / "out" / "x"), "--model", str(trained / "models/seg/hr.keras")])
    ids = read_label(tmp_path / "out" / "x_labelIds.png")
    from srseg.io import read_image

    color = read_image(tmp_path / "out" / "x_color.png")
    assert ids.shape == (53, 97) and color.shape == (53, 97, 3)
    assert set(np.unique(ids).tolist()) <= set(TRAIN_TO_ID[:19].tolist())
    train_ids = ID_TO_TRAIN[ids]
    np.testing.assert_array_equal(color, TRAIN_PALETTE[train_ids])


def test_segment_file_bad_model(tmp_path: Path) -> None:
    from srseg.seg.infer import segment_file

    src = tmp_path / "in.png"
    write_png(src, np.zeros((8, 8, 3), np.uint8))
    with pytest.raises(SrsegError, match="not found"):
        segment_file(src, tmp_path / "x", model=tmp_path / "none.keras")
    assert not list(tmp_path.glob("x_*"))


def test_pipeline_is_deterministic(tmp_path: Path) -> None:
    from srseg.seg.data import split_pairs, train_dataset

    raw = _make_tree(tmp_path, n_train=3)
    pairs = split_pairs(raw, raw, "train")
    kw = dict(batch=2, crop=20, scale_min=0.5, scale_max=2.0)
    a = [b for _, b in zip(range(3), train_dataset(pairs, seed=1, **kw))]
    b = [b for _, b in zip(range(3), train_dataset(pairs, seed=1, **kw))]
    c = [b for _, b in zip(range(3), train_dataset(pairs, seed=2, **kw))]
    for (xa, ya), (xb, yb) in zip(a, b):
        np.testing.assert_array_equal(xa.numpy(), xb.numpy())
        np.testing.assert_array_equal(ya.numpy(), yb.numpy())
    assert any(not np.array_equal(xa.numpy(), xc.numpy()) for (xa, _), (xc, _) in zip(a, c))
    x, y = a[0]
    assert x.shape == (2, 20, 20, 3) and y.shape == (2, 20, 20) and y.dtype.name == "int32"
    assert set(np.unique(y.numpy()).tolist()) <= {0, 2, 5, 10, 13, 255}


def test_seg_loss_ignores_255_and_weights() -> None:
    import tensorflow as tf

    from srseg.seg.train import pspnet_criterion, seg_loss

    logits = tf.constant(np.random.default_rng(0).normal(size=(1, 2, 3, 4)), tf.float32)
    labels = tf.constant([[[0, 1, 255], [3, 3, 2]]])
    logp = tf.nn.log_softmax(logits).numpy()[0]
    lab = labels.numpy()[0]
    ce = {(i, j): -logp[i, j, lab[i, j]] for i in range(2) for j in range(3) if lab[i, j] != 255}
    assert float(seg_loss(labels, logits)) == pytest.approx(np.mean(list(ce.values())), rel=1e-5)
    w = np.array([1.0, 2.0, 0.5, 3.0])
    expected = sum(w[lab[k]] * v for k, v in ce.items()) / sum(w[lab[k]] for k in ce)
    assert float(seg_loss(labels, logits, w)) == pytest.approx(expected, rel=1e-5)
    total, parts = pspnet_criterion(0.4)(labels, {"seg": logits, "aux": logits})
    assert float(total) == pytest.approx(1.4 * float(parts["loss_main"]), rel=1e-5)
    assert float(seg_loss(tf.fill((1, 2, 3), 255), logits)) == 0.0


_MIRRORED = r"""
import os, sys
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
import numpy as np, tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
from srseg.models.pspnet import build_pspnet
from srseg.seg.train import fit, make_optimizer, pspnet_criterion
from srseg.params import SegTrainParams
strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
assert strategy.num_replicas_in_sync == 2
with strategy.scope():
    model = build_pspnet(19, "small", aux=True)
    opt = make_optimizer(SegTrainParams(), 1)
rng = np.random.default_rng(0)
x = rng.uniform(0, 255, (4, 24, 24, 3)).astype("float32"); y = rng.integers(0, 19, (4, 24, 24)).astype("int32")
ds = tf.data.Dataset.from_tensors((x, y)).repeat()
before = [v.numpy().copy() for v in model.trainable_variables]
hist = fit(model, ds, pspnet_criterion(0.4), opt, epochs=1, steps_per_epoch=1, strategy=strategy)
assert np.isfinite(hist[0]["loss"]), hist
assert any(not np.allclose(b, v.numpy()) for b, v in zip(before, model.trainable_variables))
print("MIRRORED OK", hist[0]["loss"])
"""


def test_mirrored_strategy_one_step() -> None:
    proc = subprocess.run([sys.executable, "-c", _MIRRORED], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "CUDA_VISIBLE_DEVICES": ""})
    assert proc.returncode == 0 and "MIRRORED OK" in proc.stdout, proc.stderr[-3000:]


def test_stage_script_error_is_one_line(tmp_path: Path) -> None:
    shutil.copy(REPO / "params.yaml", tmp_path / "params.yaml")
    _make_tree(tmp_path)
    proc = subprocess.run([sys.executable, str(REPO / "stages/evaluate_seg.py"), "--variant", "sr_x4"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2
    lines = [ln for ln in proc.stderr.splitlines() if ln.startswith("error:")]
    assert len(lines) == 1 and "data/sr/x4" in lines[0] and "Traceback" not in proc.stderr


def test_bad_train_labels_fail_before_training(tmp_path: Path) -> None:
    from srseg.seg.pipeline import run_train_seg

    raw = _make_tree(tmp_path)
    s = list_samples(raw, "train")[1]
    lab = read_label(s.label_train_ids(raw))
    lab[3, 3] = 33  # a labelId, not a trainId
    write_png(s.label_train_ids(raw), lab)
    with pytest.raises(ImageError, match=r"trainIds \[33\] outside 0..18 and 255"):
        run_train_seg(_params(), tmp_path)
    assert not (tmp_path / "models").exists() and not (tmp_path / "metrics").exists()


def test_enet_class_weights() -> None:
    from srseg.seg.train import enet_class_weights

    w = enet_class_weights(np.array([90, 10, 0]))
    np.testing.assert_allclose(w, [1 / np.log(1.02 + 0.9), 1 / np.log(1.02 + 0.1), 0.0], rtol=1e-6)
