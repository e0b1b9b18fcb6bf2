"""Jointed training and its separate control (srseg.sr.chained, srseg.methods.jointed / separate_ft): the loss term
by term, which networks each arm trains, λ = 0 against the MSE-only fine-tune, the stages' outputs, their params."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest

from srseg.errors import ParamsError, SrsegError
from srseg.methods.registry import get
from srseg.methods.registry import train as run_method
from srseg.params import validate
from srseg.paths import Paths
from srseg.sr.chained import INPUTS, TARGETS, PartOptimizer, chained_criterion, chained_model

TINY = {"scales": [2], "seg": {"retrain_scales": [2]},
        "combine": {"scales": [2], "finetune": {"max_steps": 2, "steps_per_epoch": 1, "patch": 16, "batch": 2,
                                                "holdout": 1},
                    "jointed": {"steps": 2, "steps_per_epoch": 1}},
        "data": {"synthetic": {"width": 96, "height": 48, "train": 3, "val": 2}}}


def _params(**jointed: object) -> Any:
    combine = {**TINY["combine"], "jointed": {**TINY["combine"]["jointed"], **jointed}}  # type: ignore[dict-item]
    return validate({**TINY, "combine": combine})


def test_the_loss_is_mse_plus_lambda_ce_term_by_term() -> None:
    import tensorflow as tf

    rng = np.random.default_rng(0)
    hr = rng.uniform(0, 255, (2, 8, 8, 1)).astype(np.float32)
    sr = rng.uniform(0, 255, (2, 8, 8, 1)).astype(np.float32)
    logits = rng.normal(size=(2, 8, 8, 19)).astype(np.float32)
    labels = rng.integers(0, 19, (2, 8, 8)).astype(np.int32)
    labels[0, :2] = 255  # ignored
    mse = np.mean((sr - hr) ** 2)
    z = logits - logits.max(-1, keepdims=True)
    nll = np.log(np.exp(z).sum(-1)) - np.take_along_axis(z, np.where(labels == 255, 0, labels)[..., None], -1)[..., 0]
    ce = nll[labels != 255].mean()
    targets = {"hr_y": tf.constant(hr), "labels": tf.constant(labels)}
    outputs = {"sr": tf.constant(sr), "seg": tf.constant(logits)}
    for w_mse, w_ce in ((1.0, 100.0), (1.0, 0.0), (0.0, 1.0), (2.0, 0.5)):
        total, parts = chained_criterion(w_mse, w_ce)(targets, outputs)
        assert float(parts["mse"]) == pytest.approx(mse, rel=1e-5) and float(parts["ce"]) == pytest.approx(ce, rel=1e-5)
        assert float(total) == pytest.approx(w_mse * mse + w_ce * ce, rel=1e-5)
    total, parts = chained_criterion(1.0, 0.0)(targets, tf.constant(sr))  # the SR model alone
    assert set(parts) == {"mse"} and float(total) == pytest.approx(mse, rel=1e-5)
    with pytest.raises(SrsegError, match="no term with a positive weight"):
        chained_criterion(0.0, 1.0)(targets, tf.constant(sr))
    for bad in ((0.0, 0.0), (-1.0, 1.0)):
        with pytest.raises(ValueError, match="chained_criterion: weights"):
            chained_criterion(*bad)


def _models(study: Paths) -> tuple[Any, Any]:
    from srseg import runtime
    from srseg.models.dcscn import load_model
    from srseg.models.pspnet import load_model as load_pspnet

    runtime.set_determinism(0)
    return load_model(study.sr_model(2, 0)), load_pspnet(study.seg_model("hr", 0))


def _fit(study: Paths, model: Any, optimizer: Any, criterion: Any, inputs: tuple[str, ...],
         targets: tuple[str, ...], steps: int = 2) -> None:
    from srseg.sr.finetune import PatchStream, load_split, patch_dataset, split_holdout
    from srseg.training.loop import fit

    train, _ = split_holdout(load_split(study, 2, "train"), 1)
    data = patch_dataset(PatchStream(train, 2, 16, seed=0), 2, inputs, targets)
    fit(model, data, criterion, optimizer, steps=steps, steps_per_epoch=steps)


def _weights(model: Any) -> list[np.ndarray]:
    return [w.copy() for w in model.get_weights()]


def _moved(before: list[np.ndarray], model: Any) -> list[bool]:
    return [not np.array_equal(a, b) for a, b in zip(before, model.get_weights(), strict=True)]


def _adam(lr: float = 1e-3, **kw: Any) -> Any:
    import keras

    return keras.optimizers.Adam(lr, **kw)


@pytest.mark.slow  # three fits of the chained model (~40 s on 2 cores)
def test_jointed_trains_both_networks_and_each_phase_of_the_control_one(study: Paths) -> None:
    """Jointed: the DCSCN's and the PSPNet's weights move (batch-norm statistics too: training mode). Control: the
    DCSCN phase is the SR model alone; the PSPNet phase leaves the DCSCN to the bit."""
    sr, seg = _models(study)
    sr0, seg0 = _weights(sr), _weights(seg)
    model = chained_model(sr, seg, train_sr=True, train_seg=True)
    _fit(study, model, PartOptimizer([(_adam(), sr.trainable_variables), (_adam(), seg.trainable_variables)]),
         chained_criterion(1.0, 100.0), INPUTS, TARGETS)
    assert any(_moved(sr0, sr)) and any(_moved(seg0, seg))
    moving = [not np.array_equal(a, b.numpy()) for a, b in zip(
        [w for w, v in zip(seg0, seg.weights, strict=True) if "moving" in v.path],
        [v for v in seg.weights if "moving" in v.path], strict=True)]
    assert moving and any(moving)  # batch norm in training mode

    sr, seg = _models(study)
    sr0, seg0 = _weights(sr), _weights(seg)
    _fit(study, sr, _adam(), chained_criterion(1.0, 0.0), ("lr", "bicubic"), ("hr_y",))  # phase 1: DCSCN
    assert any(_moved(sr0, sr)) and not any(_moved(seg0, seg))
    sr1 = _weights(sr)
    phase2 = chained_model(sr, seg, train_sr=False, train_seg=True)
    assert {v.path for v in phase2.trainable_variables} == {v.path for v in seg.trainable_variables}
    _fit(study, phase2, _adam(), chained_criterion(0.0, 1.0), INPUTS, TARGETS)  # phase 2: PSPNet
    assert not any(_moved(sr1, sr)) and any(_moved(seg0, seg))


@pytest.mark.slow  # three fits (~30 s on 2 cores)
def test_with_lambda_zero_jointed_moves_the_dcscn_as_the_mse_only_fine_tune(study: Paths) -> None:
    """λ = 0: the DCSCN of the jointed model gets the MSE gradient alone (the PSPNet trains beside it on no
    gradient, its batch norm only), so its weights follow the control's DCSCN phase; λ > 0 moves them elsewhere."""
    def jointed(lam: float) -> list[np.ndarray]:
        sr, seg = _models(study)
        opt = PartOptimizer([(_adam(1e-4, epsilon=1e-8, global_clipnorm=5.0), sr.trainable_variables),
                             (_adam(), seg.trainable_variables)])
        _fit(study, chained_model(sr, seg, train_sr=True, train_seg=True), opt, chained_criterion(1.0, lam),
             INPUTS, TARGETS, steps=3)
        return sr.get_weights()

    sr, _ = _models(study)
    start = _weights(sr)
    _fit(study, sr, _adam(1e-4, epsilon=1e-8, global_clipnorm=5.0), chained_criterion(1.0, 0.0),
         ("lr", "bicubic"), ("hr_y",), steps=3)
    mse_only = sr.get_weights()
    lam0, lam100 = jointed(0.0), jointed(100.0)
    step = max(float(np.abs(a - b).max()) for a, b in zip(start, mse_only, strict=True))
    assert step > 0
    for a, b in zip(mse_only, lam0, strict=True):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-3 * step)
    assert max(float(np.abs(a - b).max()) for a, b in zip(mse_only, lam100, strict=True)) > 1e-2 * step


def test_part_optimizer_owns_every_variable_once(study: Paths) -> None:
    sr, seg = _models(study)
    with pytest.raises(ValueError, match="is in two parts"):
        PartOptimizer([(_adam(), sr.trainable_variables), (_adam(), sr.trainable_variables[:1])])
    opt = PartOptimizer([(_adam(), sr.trainable_variables)])
    with pytest.raises(ValueError, match="belong to no part"):
        opt.build([*sr.trainable_variables, *seg.trainable_variables])


@pytest.mark.slow
@pytest.mark.parametrize("name", ["jointed", "separate_ft"])
def test_a_tiny_stage_writes_its_declared_outputs(study: Paths, name: str) -> None:
    from srseg.layout import list_samples
    from srseg.models.dcscn import load_model
    from srseg.models.pspnet import load_model as load_pspnet

    method = get(name)
    assert method.train is not None
    metrics = run_method(_params(), name, 2, 0, study)
    outs = method.train.outs(study, 2, 0)
    for path in [*outs.outs, *outs.uncached, *outs.plots]:
        assert path.exists(), path
    load_model(study.method_sr_model(name, 2, 0))
    load_pspnet(method.model_path(study, 2, 0))
    assert method.model_path(study, 2, 0) in outs.outs  # its segmenter is one the stage trains
    assert all(s.image(method.image_root(study, 2, 0)).is_file() for s in list_samples(study.raw, "val"))
    assert json.loads(method.quality_path(study, 2, 0).read_text()) == json.loads(json.dumps(metrics))
    for log in outs.uncached[1:]:
        train = json.loads(log.read_text())
        assert "loss" in train["train"] and {"psnr", "miou"} <= set(train["val"])


def test_half_precision_with_loss_scaling_is_refused(study: Paths) -> None:
    params = validate({**TINY, "runtime": {"precision": {"sr": "mixed_float16"}}})
    with pytest.raises(SrsegError, match=r"^runtime\.precision\.sr mixed_float16: the jointed stage trains"):
        run_method(params, "jointed", 2, 0, study)


@pytest.mark.parametrize(("key", "value", "allowed"), [
    ("lambda_task", -1.0, "must be a number >= 0"), ("steps", -1, "must be a number >= 0"),
    ("steps", 2.5, "must be a valid integer"), ("steps_per_epoch", 0, "must be a number >= 1"),
    ("seg_lr", 0.0, "must be a number > 0"), ("lr", 0.1, "unknown key")])
def test_params_are_checked_in_one_line(key: str, value: object, allowed: str) -> None:
    with pytest.raises(ParamsError, match=rf"^params\.yaml: combine\.jointed\.{key}: {allowed}[^\n]*$"):
        _params(**{key: value})
    defaults = validate({}).combine.section("jointed")
    assert (defaults.lambda_task, defaults.steps, defaults.steps_per_epoch) == (100.0, 150, 50)


def test_the_arms_share_their_budget_and_name_their_baselines() -> None:
    jointed, control = get("jointed"), get("separate_ft")
    assert jointed.baseline == "separate_ft" and "task_sr" in jointed.reported and jointed.segmenter == "jointed"
    assert control.segmenter == "separate_ft" and jointed.quality and control.quality
    assert jointed.train is not None and control.train is not None
    assert "combine.jointed" in jointed.train.model_params
    assert {"combine.jointed.steps", "combine.jointed.seg_lr"} <= set(control.train.model_params)
