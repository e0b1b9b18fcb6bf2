"""Segmentation stages on tiny data in a temp repo root: train, evaluate, retrain, segment, bad inputs."""

from __future__ import annotations

import json
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
from srseg.metrics.seg import load_per_image, scores
from srseg.params import validate
from srseg.paths import Paths

REPO = Path(__file__).resolve().parents[2]
TINY_SEG = {"epochs": 1, "steps_per_epoch": 2, "batch": 2, "crop": 32}


def _params(retrain: dict | None = None, **train):
    return validate({"scales": [2, 4], "seg": {"train": {**TINY_SEG, **train}, "retrain": retrain or {"epochs": 1},
                                               "retrain_scales": [2]}})


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
    from srseg.seg.train import run_train_seg

    root = tmp_path_factory.mktemp("repo")
    _make_tree(root)
    history = run_train_seg(_params(), 0, Paths(root))
    assert "val/miou" in history.last and len(history.epochs) == 1
    return root


def test_train_seg_outputs(trained: Path) -> None:
    paths = Paths(trained)
    assert paths.seg_model("hr", 0).is_file()
    live = json.loads((paths.train_log("seg_hr", 0) / "metrics.json").read_text())
    assert {"loss", "loss_main", "loss_aux"} <= set(live["train"]) and {"miou", "pacc"} <= set(live["val"])
    assert (paths.train_log("seg_hr", 0) / "plots/metrics/val/miou.tsv").is_file()
    assert _no_temp_left(paths.seg_model("hr", 0).parent) and _no_temp_left(paths.train_log("seg_hr", 0).parent)
    from srseg.io import model_metadata
    from srseg.seg.data import split_pairs
    from srseg.seg.train import model_record

    train_pairs = split_pairs(paths.raw, paths.raw, "train", "HR")
    assert model_metadata(paths.seg_model("hr", 0)) == model_record(_params(), train_pairs, 0, "train_seg")


def test_evaluate_hr(trained: Path) -> None:
    from srseg.methods.registry import evaluate as run_evaluate

    paths = Paths(trained)
    metrics = run_evaluate(_params(), "hr", None, 0, paths)
    on_disk = json.loads(paths.seg_metrics("hr", 0).read_text())
    assert set(on_disk) == {"pacc", "miou", "macc", "n_images", "iou", "objects"} and on_disk["n_images"] == 2
    assert on_disk["objects"] is None  # this tree has no instance ground truth: no object-level scores
    ids, cms = load_per_image(paths.seg_per_image("hr", 0))
    assert len(ids) == 2 and scores(cms.sum(0))["miou"] == on_disk["miou"]  # the per-image matrices sum to it
    assert set(on_disk["iou"]) == set(TRAIN_NAMES) and on_disk["iou"]["train"] in (None, 0.0)
    assert on_disk["miou"] == pytest.approx(metrics["miou"])
    for s in list_samples(trained / "data/raw", "val"):
        pred = read_label(s.prediction(paths.predictions("hr", 0)))
        assert pred.shape == (24, 40) and VALID_IDS[pred].all()


def test_evaluate_sliding_matches_shape(trained: Path) -> None:
    from srseg.models.pspnet import load_model
    from srseg.seg.infer import Predictor

    model = load_model(Paths(trained).seg_model("hr", 0))
    img = np.random.default_rng(1).integers(0, 255, (37, 70, 3)).astype(np.uint8)
    sliding = Predictor(model, "sliding", window=32, overlap=0.33).probabilities(img)
    assert sliding.shape == (37, 70, 19)
    np.testing.assert_allclose(sliding.sum(-1), 1, atol=1e-4)
    whole = Predictor(model, "whole").probabilities(img)
    # a window that covers the image is whole-image inference, not a padded one
    np.testing.assert_array_equal(Predictor(model, "sliding", window=128).probabilities(img), whole)
    np.testing.assert_array_equal(Predictor(model, "sliding", window=70).probabilities(img), whole)
    # taller than the window only: one column of windows, the full width each
    tall = Predictor(model, "sliding", window=50, overlap=0.5).probabilities(img)
    assert tall.shape == (37, 70, 19) and np.isfinite(tall).all()


def test_evaluate_missing_variant_images(trained: Path) -> None:
    from srseg.methods.registry import evaluate as run_evaluate

    paths = Paths(trained)
    with pytest.raises(SrsegError, match="missing"):
        run_evaluate(_params(), "sr", 2, 0, paths)
    sr = paths.sr(2, 0)
    _copy_images(paths.raw, sr)
    victim = next((sr / "leftImg8bit/val").rglob("*.png"))
    victim.unlink()
    with pytest.raises(SrsegError, match=r"1 of 2 val images of SR \(DCSCN\) ×2 .* missing"):
        run_evaluate(_params(), "sr", 2, 0, paths)
    assert not paths.predictions("sr_x2", 0).exists() and not paths.seg_metrics("sr_x2", 0).exists()
    shutil.rmtree(sr)
    with pytest.raises(SrsegError, match=r"unknown method 'nearest' \(known: hr, bicubic, sr"):
        run_evaluate(_params(), "nearest", 2, 0, paths)
    with pytest.raises(SrsegError, match="--scale 1: must be an integer >= 2"):
        run_evaluate(_params(), "bicubic", 1, 0, paths)
    with pytest.raises(SrsegError, match="method hr: takes no scale"):
        run_evaluate(_params(), "hr", 2, 0, paths)


def test_evaluate_wrong_size_variant(trained: Path) -> None:
    from srseg.methods.registry import evaluate as run_evaluate

    paths = Paths(trained)
    bic = paths.bicubic(4)
    _copy_images(paths.raw, bic)
    victim = sorted((bic / "leftImg8bit/val").rglob("*.png"))[1]
    write_png(victim, np.zeros((24, 36, 3), np.uint8))
    with pytest.raises(ImageError, match="36x24 but its ground truth .* 40x24"):
        run_evaluate(_params(), "bicubic", 4, 0, paths)
    pred = paths.predictions("bicubic_x4", 0)
    assert not pred.exists() and _no_temp_left(pred.parent)
    shutil.rmtree(bic)


def test_bad_label_ids(tmp_path: Path, trained: Path) -> None:
    from srseg.methods.registry import evaluate as run_evaluate

    root = tmp_path / "r"
    shutil.copytree(trained / "data/raw", root / "data/raw")
    shutil.copytree(trained / "models", root / "models")
    s = list_samples(root / "data/raw", "val")[0]
    lab = read_label(s.label_ids(root / "data/raw"))
    lab[0, 0] = 77
    write_png(s.label_ids(root / "data/raw"), lab)
    with pytest.raises(ImageError, match=r"label ids \[77\] are not in the Cityscapes label table"):
        run_evaluate(_params(), "hr", None, 0, Paths(root))
    pred = Paths(root).predictions("hr", 0)
    assert not pred.exists() and _no_temp_left(pred.parent)


def test_weights_param(tmp_path: Path, trained: Path) -> None:
    from srseg.models.pspnet import build_pspnet, save_model
    from srseg.seg.train import run_train_seg

    root = tmp_path / "w"
    shutil.copytree(trained / "data/raw", root / "data/raw")
    ten = tmp_path / "ten.keras"
    save_model(build_pspnet(10, "small"), ten)
    params = validate({"seg": {"weights": str(ten)}})
    paths = Paths(root)
    with pytest.raises(SrsegError, match="predicts 10 classes, expected 19"):
        run_train_seg(params, 0, paths)
    assert not (root / "models").exists() and not (root / "metrics").exists()
    params = validate({"seg": {"weights": str(Paths(trained).seg_model("hr", 0))}})
    history = run_train_seg(params, 0, paths)
    assert paths.seg_model("hr", 0).is_file() and history.last["val/miou"] >= 0
    assert json.loads((paths.train_log("seg_hr", 0) / "metrics.json").read_text())["weights"].endswith("hr.keras")
    from srseg.io import model_metadata

    source = Paths(trained).seg_model("hr", 0)  # the copy keeps the file's record and says where it came from
    assert model_metadata(paths.seg_model("hr", 0)) == {**model_metadata(source), "copied_from": str(source)}
    keras_own = tmp_path / "keras_own.keras"
    build_pspnet(19, "small").save(keras_own)
    run_train_seg(validate({"seg": {"weights": str(keras_own)}}), 0, paths)
    record = model_metadata(paths.seg_model("hr", 0))
    assert record["data_source"] == "unknown" and record["copied_from"] == str(keras_own)


def _kernels(path: Path) -> list[np.ndarray]:
    from srseg.models.pspnet import load_model

    return [v.numpy() for v in load_model(path).trainable_weights]


@pytest.mark.slow
def test_retrain_seg(trained: Path) -> None:
    from srseg.methods.registry import evaluate as run_evaluate
    from srseg.methods.registry import train as run_method

    paths = Paths(trained)
    with pytest.raises(SrsegError, match="missing"):
        run_method(_params(), "retrain_sr", 2, 0, paths)
    _copy_images(paths.raw, paths.sr(2, 0))
    # init hr (the default) with a vanishing learning rate: the retrained model is train_seg's
    run_method(_params({"init": "hr", "epochs": 1, "lr": 1e-12}), "retrain_sr", 2, 0, paths)
    tuned, hr = _kernels(paths.seg_model("retrain_sr_x2", 0)), _kernels(paths.seg_model("hr", 0))
    assert len(tuned) == len(hr) and all(np.allclose(a, b, atol=1e-7) for a, b in zip(tuned, hr, strict=True))
    from srseg.io import model_metadata
    from srseg.methods.registry import get

    record = model_metadata(paths.seg_model("retrain_sr_x2", 0))
    assert record["params_keys"] == list(get("retrain_sr").train.model_params)
    assert record["trained_on"].startswith("SR ×2")
    assert record["trained_on"].endswith(", fine-tuned from seed0/hr.keras")  # no machine's path in the model
    assert (paths.train_log("seg_retrain_sr_x2", 0) / "metrics.json").is_file()
    on_sr = run_evaluate(_params(), "retrain_sr", 2, 0, paths)
    on_hr = run_evaluate(_params(), "retrain_sr_on_hr", 2, 0, paths)
    assert on_sr["n_images"] == 2 and set(on_hr["iou"]) == set(TRAIN_NAMES)
    # SR images are copies of HR here, so both evaluations agree
    assert on_sr["miou"] == pytest.approx(on_hr["miou"])
    for name in ("retrain_sr_x2", "retrain_sr_on_hr_x2"):
        assert json.loads(paths.seg_metrics(name, 0).read_text())["n_images"] == 2
        for s in list_samples(paths.raw, "val"):
            assert s.prediction(paths.predictions(name, 0)).is_file()


def test_retrain_init_is_the_hr_model_of_the_seed_or_none(tmp_path: Path) -> None:
    """``seg.retrain.init``: hr names train_seg's model of the seed (one line naming the file when it is missing),
    scratch gives None (random weights, as train_seg starts)."""
    from srseg.seg.train import retrain_init

    paths = Paths(tmp_path)
    assert retrain_init(_params({"init": "scratch"}), paths, 3) is None
    with pytest.raises(SrsegError, match=r"seed3/hr\.keras: no such file; seg\.retrain\.init hr starts from "
                                         r"train_seg@3"):
        retrain_init(_params({"init": "hr"}), paths, 3)
    paths.seg_model("hr", 3).parent.mkdir(parents=True)
    paths.seg_model("hr", 3).write_bytes(b"")
    assert retrain_init(_params({"init": "hr"}), paths, 3) == paths.seg_model("hr", 3)


def test_retrain_recipe_is_seg_train_with_its_own_length_and_rate() -> None:
    from srseg.seg.train import retrain_recipe

    own = retrain_recipe(_params({"epochs": 3, "lr": 1e-4}))
    assert (own.epochs, own.lr) == (3, 1e-4) and own.crop == TINY_SEG["crop"] and own.batch == TINY_SEG["batch"]
    inherited = retrain_recipe(_params({"epochs": None, "lr": None}, epochs=5, lr=3e-3))
    assert inherited == _params(epochs=5, lr=3e-3).seg.train


def test_segment_file_any_size(tmp_path: Path, trained: Path) -> None:
    from srseg.cli import main
    from srseg.labels import TRAIN_PALETTE, TRAIN_TO_ID

    src = tmp_path / "in.png"
    write_png(src, np.random.default_rng(2).integers(0, 255, (53, 97, 3)).astype(np.uint8))
    main(["segment", str(src), str(tmp_path / "out" / "x"), "--model", str(Paths(trained).seg_model("hr", 0))])
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
    a = [b for _, b in zip(range(3), train_dataset(pairs, seed=1, **kw), strict=False)]
    b = [b for _, b in zip(range(3), train_dataset(pairs, seed=1, **kw), strict=False)]
    c = [b for _, b in zip(range(3), train_dataset(pairs, seed=2, **kw), strict=False)]
    for (xa, ya), (xb, yb) in zip(a, b, strict=True):
        np.testing.assert_array_equal(xa.numpy(), xb.numpy())
        np.testing.assert_array_equal(ya.numpy(), yb.numpy())
    assert any(not np.array_equal(xa.numpy(), xc.numpy()) for (xa, _), (xc, _) in zip(a, c, strict=True))
    x, y = a[0]
    assert x.shape == (2, 20, 20, 3) and y.shape == (2, 20, 20) and y.dtype.name == "int32"
    assert set(np.unique(y.numpy()).tolist()) <= {0, 2, 5, 10, 13, 255}


def test_stage_script_error_is_one_line(tmp_path: Path) -> None:
    shutil.copy(REPO / "params.yaml", tmp_path / "params.yaml")
    _make_tree(tmp_path)
    proc = subprocess.run([sys.executable, str(REPO / "stages/evaluate.py"), "--variant", "sr_x4", "--images",
                           "data/sr/seed0/x4", "--model", "models/seg/seed0/hr.keras", "--seed", "0"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2
    lines = [ln for ln in proc.stderr.splitlines() if ln.startswith("error:")]
    assert len(lines) == 1 and "data/sr/seed0/x4" in lines[0] and "Traceback" not in proc.stderr


def test_training_out_of_memory_is_one_line_naming_crop_and_batch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    """Issue 31: TensorFlow running out of memory in a PSPNet step (simulated: the criterion raises it while the
    step is traced) is ``error: …`` naming seg.train.crop and seg.train.batch, exit status 2, nothing saved."""
    import tensorflow as tf

    from srseg.entry import stage
    from srseg.seg import train as seg_train
    from srseg.seg.train import run_train_seg

    def criterion(*args: object, **kwargs: object):
        def oom(targets: object, outputs: object):
            raise tf.errors.ResourceExhaustedError(None, None, "Graph execution error:\n\nOOM when allocating "
                                                   "tensor with shape[2,64,32,32] and type float\n\t [[{{node x}}]]")
        return oom

    monkeypatch.setattr(seg_train, "pspnet_criterion", criterion)
    _make_tree(tmp_path)
    with pytest.raises(SystemExit) as exc:
        stage(run_train_seg)(_params(), 0, Paths(tmp_path))
    assert exc.value.code == 2 and capsys.readouterr().err == (
        "error: out of memory in a training step (ResourceExhaustedError: OOM when allocating tensor with "
        "shape[2,64,32,32] and type float); lower seg.train.crop 32, seg.train.batch 2\n")
    assert not [p for p in tmp_path.rglob("*") if p.is_file() and p.parts[len(tmp_path.parts)] != "data"]


def test_bad_train_labels_fail_before_training(tmp_path: Path) -> None:
    from srseg.seg.train import run_train_seg

    raw = _make_tree(tmp_path)
    s = list_samples(raw, "train")[1]
    lab = read_label(s.label_train_ids(raw))
    lab[3, 3] = 33  # a labelId, not a trainId
    write_png(s.label_train_ids(raw), lab)
    with pytest.raises(ImageError, match=r"trainIds \[33\] outside 0..18 and 255"):
        run_train_seg(_params(), 0, Paths(tmp_path))
    assert not (tmp_path / "models").exists() and not (tmp_path / "metrics").exists()
