"""The training recipes under each precision policy (``runtime.precision``): DCSCN and PSPNet train a few steps
under mixed bfloat16 (DCSCN also under mixed float16 with loss scaling) with float32 outputs and finite losses,
and two identical trainings give the same bytes in float32 and in mixed bfloat16 (the bfloat16 trainings of the
recipes and the seg recipe's check are ``slow``: ``pytest -m slow tests/training/test_precision.py``)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf

from srseg import runtime
from srseg.io import save_keras, write_png
from srseg.models.dcscn import DcscnConfig, build_dcscn, load_model
from srseg.models.pspnet import build_pspnet, save_model
from srseg.models.pspnet import load_model as load_pspnet
from srseg.params import validate
from srseg.paths import Paths
from srseg.training.loop import fit
from srseg.training.losses import mse_criterion, pspnet_criterion

LOW = {"mixed_bfloat16": "bfloat16", "mixed_float16": "float16"}


def _trains(model: keras.Model, policy: str, batch: tuple, criterion) -> list[dict[str, float]]:
    """Two ``fit`` steps of ``model`` (built under ``policy``) on one repeated batch; checks the update."""
    with runtime.precision(policy):
        optimizer = runtime.wrap_optimizer(keras.optimizers.Adam(1e-3), policy)
    before = [v.numpy().copy() for v in model.trainable_variables]
    logs = fit(model, tf.data.Dataset.from_tensors(batch).repeat(), criterion, optimizer, steps=2, steps_per_epoch=1)
    assert all(np.isfinite(v) for epoch in logs for k, v in epoch.items() if k != "epoch_seconds")
    assert all(v.dtype == "float32" for v in model.trainable_variables)
    moved = [not np.array_equal(a, v.numpy()) for a, v in zip(before, model.trainable_variables, strict=True)]
    if policy == "mixed_float16":
        # dynamic loss scaling: a step whose float16 gradients overflow is skipped and the scale halved (the
        # default initial scale 2**15 overflows DCSCN's MSE on the 0..255 scale at first); no NaN reaches a weight
        assert all(moved) or optimizer.dynamic_scale.numpy() < 2.0**15
        assert all(np.isfinite(v.numpy()).all() for v in model.trainable_variables)
    else:
        assert all(moved)
    return logs


@pytest.mark.parametrize("policy", ["mixed_bfloat16", "mixed_float16"])
def test_dcscn_trains_in_mixed_precision_with_float32_output(policy: str, tmp_path: Path) -> None:
    keras.utils.set_random_seed(0)
    with runtime.precision(policy):
        model = build_dcscn(DcscnConfig.from_preset("c-dcscn", 2, l2=1e-4))
    assert keras.config.dtype_policy().name == "float32"  # the context restored the global policy
    assert model.get_layer("cnn1").compute_dtype == LOW[policy] and model.get_layer("cnn1").kernel.dtype == "float32"
    assert model.get_layer("global_skip").compute_dtype == "float32" and model.output.dtype == "float32"
    rng = np.random.default_rng(0)
    hr = rng.uniform(0, 255, (2, 16, 16, 1)).astype(np.float32)
    lr, bicubic = hr[:, ::2, ::2], hr + np.float32(0.3)  # values bfloat16 cannot hold: the skip must keep them
    _trains(model, policy, ((lr, bicubic), hr), mse_criterion)

    # the global skip adds the float32 bicubic in float32: a zero residual returns it to the bit
    zero = [np.zeros_like(w) for w in model.get_layer("r_cnn1").get_weights()]
    model.get_layer("r_cnn1").set_weights(zero)
    np.testing.assert_array_equal(model([lr, bicubic]).numpy(), bicubic)
    save_keras(model, tmp_path / "sr.keras")
    loaded = load_model(tmp_path / "sr.keras")
    assert loaded.get_layer("cnn1").compute_dtype == LOW[policy]  # the policy is part of the saved model
    np.testing.assert_array_equal(loaded([lr, bicubic]).numpy(), model([lr, bicubic]).numpy())


def test_pspnet_builds_in_mixed_float16_with_float32_logits() -> None:
    """float16 convolutions are slow on a CPU (the policy is for GPUs): a forward pass only."""
    keras.utils.set_random_seed(0)
    with runtime.precision("mixed_float16"):
        model = build_pspnet(19, "small", aux=True)
    assert model.get_layer("head_cls").compute_dtype == "float16"
    out = model(np.random.default_rng(0).uniform(0, 255, (1, 24, 24, 3)).astype(np.float32), training=True)
    assert {k: v.dtype for k, v in out.items()} == {"seg": "float32", "aux": "float32"}
    assert all(np.isfinite(v.numpy()).all() for v in out.values())


@pytest.mark.slow  # ~25 s: bfloat16 PSPNet steps are 5-7x slower on a CPU without bfloat16 arithmetic (CI's);
# the default tests train DCSCN in mixed bfloat16 (test_dcscn_trains_in_mixed_precision_with_float32_output)
def test_pspnet_trains_in_mixed_bfloat16_with_float32_logits(tmp_path: Path) -> None:
    policy = "mixed_bfloat16"
    keras.utils.set_random_seed(0)
    with runtime.precision(policy):
        model = build_pspnet(19, "small", aux=True)
    assert model.get_layer("head_cls").compute_dtype == LOW[policy]
    for name in ("seg", "aux_up", "seg_logits", "aux_logits"):  # full-size resize and outputs in float32
        assert model.get_layer(name).compute_dtype == "float32", name
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 255, (2, 32, 32, 3)).astype(np.float32)
    y = rng.integers(0, 19, (2, 32, 32)).astype(np.int32)
    y[:, :4] = 255  # ignored pixels
    out = model(x, training=True)
    assert {k: v.dtype for k, v in out.items()} == {"seg": "float32", "aux": "float32"}
    logs = _trains(model, policy, (x, y), pspnet_criterion(0.4))
    assert {"loss_main", "loss_aux"} <= set(logs[0]) and 0 < logs[-1]["loss_main"] < 10
    save_model(model, tmp_path / "seg.keras")
    loaded = load_pspnet(tmp_path / "seg.keras")
    assert loaded.output.dtype == "float32"
    np.testing.assert_array_equal(loaded(x).numpy(), model(x)["seg"].numpy())


def _sr_params(policy: str, folder: Path):
    return validate({"runtime": {"precision": {"sr": policy}}, "scales": [2], "seg": {"retrain_scales": [2]},
                     "combine": {"scales": [2]},
                     "sr": {"pretrain": {"source": "folder", "folders": [str(folder)], "val_images": 1, "patch": 16,
                                         "batch": 2, "steps": 2, "steps_per_epoch": 2}}})


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("policy", ["float32",
                                    pytest.param("mixed_bfloat16", marks=pytest.mark.slow)])  # ~18 s on AVX2
def test_sr_training_is_deterministic_in_each_precision(policy: str, tmp_path: Path) -> None:
    """The pretrain_sr recipe twice with the same seed: the same model bytes (and a policy that is used)."""
    from srseg.sr.train import train_sr

    rng = np.random.default_rng(0)
    for i in range(3):
        write_png(tmp_path / "images" / f"img{i}.png", rng.integers(0, 256, (24, 24, 3), dtype=np.uint8))
    params = _sr_params(policy, tmp_path / "images")
    runs = []
    for name in ("a", "b"):
        res = train_sr(params, 2, 0, Paths(tmp_path / name))
        assert np.isfinite(res["val_psnr"])
        runs.append(Paths(tmp_path / name).sr_model(2, 0))
    assert _digest(runs[0]) == _digest(runs[1])
    assert load_model(runs[0]).get_layer("cnn1").compute_dtype == (LOW.get(policy) or "float32")


@pytest.mark.slow  # two PSPNet traces per precision: ~20 s in float32, ~40 s in bfloat16 on 2 AVX2 cores
@pytest.mark.parametrize("policy", ["float32", "mixed_bfloat16"])
def test_seg_training_is_deterministic_in_each_precision(policy: str, tiny_tree: Path, tmp_path: Path) -> None:
    """The train_seg recipe (PSPNet) twice with the same seed: the same model bytes and the same val scores."""
    from srseg.seg.data import split_pairs
    from srseg.seg.train import train_pspnet

    params = validate({"runtime": {"precision": {"seg": policy}},
                       "seg": {"train": {"epochs": 1, "steps_per_epoch": 2, "batch": 2, "crop": 32}}})
    train, val = split_pairs(tiny_tree, tiny_tree, "train"), split_pairs(tiny_tree, tiny_tree, "val")
    runs = []
    for name in ("a", "b"):
        out = tmp_path / name / "seg.keras"
        history = train_pspnet(params, train, val, out, tmp_path / name / "live", seed=0)
        assert np.isfinite(history.epochs[-1]["loss"]) and 0 <= history.last["val/pacc"] <= 1
        runs.append((_digest(out), history.epochs[-1]["loss"], history.last))
    assert runs[0] == runs[1]
    assert load_pspnet(tmp_path / "a" / "seg.keras").get_layer("head_cls").compute_dtype == \
        (LOW.get(policy) or "float32")
