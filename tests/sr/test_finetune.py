"""The SR fine-tunes of the combination study: one recipe, only the criterion or the conditioning differs;
task-driven SR through a frozen PSPNet; condition maps; the stage's outputs."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

from srseg.errors import SrsegError
from srseg.labels import IGNORE, NUM_CLASSES
from srseg.methods.registry import train as run_method
from srseg.params import validate
from srseg.paths import Paths
from srseg.sr.condition import area_average, condition_of, oracle_maps
from srseg.sr.finetune import PatchStream, load_split, split_holdout

TINY = {"scales": [2], "seg": {"retrain_scales": [2]},
        "combine": {"scales": [2], "finetune": {"max_steps": 2, "steps_per_epoch": 1, "patch": 16, "batch": 2,
                                                "holdout": 1}},
        "data": {"synthetic": {"width": 96, "height": 48, "train": 3, "val": 2}}}


def _params(**combine: object):
    merged = {**TINY, "combine": {**TINY["combine"], **combine}}
    return validate(merged)


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_patches_are_seeded_and_the_same_whatever_fields(study: Paths) -> None:
    split = load_split(study, 2, "train")
    a = PatchStream(split, 2, 16, seed=3).batch(4, ("lr", "bicubic", "hr_y"))
    b = PatchStream(split, 2, 16, seed=3).batch(4, ("lr", "bicubic", "hr_y", "bicubic_rgb", "labels"))
    c = PatchStream(split, 2, 16, seed=4).batch(4, ("lr",))
    assert all(np.array_equal(a[k], b[k]) for k in a)  # extra fields draw no extra random numbers
    assert not np.array_equal(a["lr"], c["lr"])
    assert a["lr"].shape == (4, 8, 8, 1) and a["hr_y"].shape == (4, 16, 16, 1) and b["labels"].shape == (4, 16, 16)
    with pytest.raises(SrsegError, match="combine.finetune.patch: 200 does not fit"):
        PatchStream(split, 2, 200, seed=0)


def test_condition_maps() -> None:
    labels = np.array([[0, 0, 1, 1], [0, 0, 1, IGNORE]], np.uint8)
    maps = oracle_maps(labels, 2)
    assert maps.shape == (1, 2, NUM_CLASSES)
    np.testing.assert_allclose(maps[0, 0, :2], [1.0, 0.0])
    np.testing.assert_allclose(maps[0, 1, :2], [0.0, 0.75])  # an ignored pixel belongs to no class
    probs = np.random.default_rng(0).dirichlet(np.ones(NUM_CLASSES), (6, 8)).astype(np.float32)
    np.testing.assert_allclose(area_average(probs, 2).sum(-1), 1.0, rtol=1e-5)


@pytest.mark.slow
def test_task_driven_with_lambda_zero_is_the_plain_fine_tune_and_leaves_the_segmenter_alone(study: Paths) -> None:
    """λ_task = 0 reproduces the plain fine-tune weight for weight; the frozen PSPNet's file is untouched and its
    weights after training are those it was loaded with."""
    import keras

    from srseg.models.dcscn import load_model

    segmenter_before = _digest(study.seg_model("hr", 0))
    run_method(_params(), "ft_sr", 2, 0, study)
    run_method(_params(task={"lambda_task": 0.0}), "task_sr", 2, 0, study)
    plain = load_model(study.method_sr_model("ft_sr", 2, 0)).get_weights()
    task0 = load_model(study.method_sr_model("task_sr", 2, 0)).get_weights()
    assert all(np.array_equal(x, y) for x, y in zip(plain, task0, strict=True))
    run_method(_params(task={"lambda_task": 100.0, "lambda_feat": 1.0}), "task_sr", 2, 0, study)
    task = load_model(study.method_sr_model("task_sr", 2, 0)).get_weights()
    assert any(not np.array_equal(x, y) for x, y in zip(plain, task, strict=True))  # the segmentation loss moved the SR
    assert _digest(study.seg_model("hr", 0)) == segmenter_before
    log = json.loads((study.train_log("task_sr_x2", 0) / "metrics.json").read_text())
    assert {"loss", "mse", "ce", "feat"} <= set(log["train"]) and "psnr" in log["val"]
    del keras


def test_frozen_segmenter_weights_do_not_move(study: Paths) -> None:
    """The task model trains the SR weights only: the PSPNet inside it (batch norm in inference mode) keeps its
    weights to the bit, moving statistics included."""
    import keras
    import tensorflow as tf

    from srseg.methods.task_sr import task_model
    from srseg.models.dcscn import load_model
    from srseg.models.pspnet import load_model as load_pspnet
    from srseg.sr.finetune import finetune_criterion, patch_dataset
    from srseg.training.loop import fit

    segmenter = load_pspnet(study.seg_model("hr", 0))
    before = [w.copy() for w in segmenter.get_weights()]
    model = task_model(load_model(study.sr_model(2, 0)), segmenter, with_features=False)
    assert {v.path for v in model.trainable_variables}.isdisjoint({v.path for v in segmenter.variables})
    stream = PatchStream(load_split(study, 2, "train"), 2, 16, seed=0)
    data = patch_dataset(stream, 2, ("lr", "bicubic", "bicubic_rgb"), ("hr_y", "labels"))
    fit(model, data, finetune_criterion(100.0), keras.optimizers.Adam(1e-3), steps=2, steps_per_epoch=2)
    assert all(np.array_equal(a, b) for a, b in zip(before, segmenter.get_weights(), strict=True))
    del tf


# The oracle run differs only in its maps (oracle_maps: test_condition_maps); slow to keep CI under 10 minutes.
@pytest.mark.parametrize("method", ["sft_sr", pytest.param("sft_oracle", marks=pytest.mark.slow)])
def test_conditioned_fine_tune_writes_its_outputs(study: Paths, method: str) -> None:
    from srseg.layout import list_samples
    from srseg.models.sft_dcscn import conditioned_config, load_conditioned

    metrics = run_method(_params(), method, 2, 0, study)
    model = load_conditioned(study.method_sr_model(method, 2, 0))
    assert conditioned_config(model).channels == NUM_CLASSES
    val = list_samples(study.raw, "val")
    assert all(s.image(study.method_images(method, 2, 0)).is_file() for s in val)
    on_disk = json.loads(study.image_quality(f"{method}_x2", 0).read_text())
    assert on_disk == json.loads(json.dumps(metrics)) and on_disk["per_image"]["ids"] == [s.id for s in val]
    assert len(on_disk["per_image"]["class_sse"][0]) == NUM_CLASSES
    if method == "sft_sr":  # `srseg upscale --segmentation-assisted` makes the stage's image from the LR file
        from srseg.io import read_image
        from srseg.methods.sft_sr import assisted_upscale_file

        lr_file = val[0].image(study.lr(2))
        out = assisted_upscale_file(lr_file, study.root / "out.png", 2, model=study.method_sr_model(method, 2, 0),
                                    seg_model=study.seg_model("hr", 0))
        assert np.array_equal(read_image(out), read_image(val[0].image(study.method_images(method, 2, 0))))
        with pytest.raises(SrsegError, match=r"x2\.keras: not a segmentation-conditioned SR model"):
            assisted_upscale_file(lr_file, study.root / "plain.png", 2, model=study.sr_model(2, 0),
                                  seg_model=study.seg_model("hr", 0))
        assert not (study.root / "plain.png").exists()


def test_unknown_method_is_one_line(study: Paths) -> None:
    with pytest.raises(SrsegError, match=r"unknown method 'pixel_sr' \(known: hr, bicubic, sr, "):
        run_method(_params(), "pixel_sr", 2, 0, study)


def test_params_of_the_combination_are_checked() -> None:
    from srseg.errors import ParamsError

    with pytest.raises(ParamsError, match=r"combine\.task\.lambda_task: must be a number >= 0"):
        _params(task={"lambda_task": -1.0})
    with pytest.raises(ParamsError, match=r"combine\.scales: must be a subset of scales \[2\]"):
        validate({**TINY, "combine": {"scales": [4]}})
    with pytest.raises(ParamsError, match=r"combine\.joint\.w_fa: must be a number >= 0"):
        _params(joint={"w_fa": -0.5})


def test_early_stopping_params_are_checked() -> None:
    from srseg.errors import ParamsError

    for key, value, allowed in (("patience", -1, "must be a number >= 0"), ("max_steps", -5, "must be a number >= 0"),
                                ("min_delta", -0.1, "must be a number >= 0.0"),
                                ("holdout", 0, "must be a number >= 1")):
        with pytest.raises(ParamsError, match=rf"^params\.yaml: combine\.finetune\.{key}: {allowed} \(got {value}\)$"):
            _params(finetune={**TINY["combine"]["finetune"], key: value})  # type: ignore[dict-item]
    with pytest.raises(ParamsError, match=r"combine\.finetune\.steps: unknown key"):  # the fixed budget is gone
        _params(finetune={"steps": 300})
    with pytest.raises(ParamsError, match=r"^params\.yaml: combine\.sft\.condition: must be one of hard or soft "
                                          r"\(got 'argmax'\)$"):
        _params(sft={"condition": "argmax"})
    defaults = validate({}).combine
    assert (defaults.finetune.max_steps, defaults.finetune.patience, defaults.finetune.min_delta,
            defaults.finetune.holdout, defaults.section("sft").condition) == (600, 2, 0.01, 4, "soft")


def test_holdout_is_fixed_and_left_out_of_the_patches(study: Paths) -> None:
    split = load_split(study, 2, "train")
    rest, held = split_holdout(split, 1)
    _, held2 = split_holdout(split, 1)
    assert [s.id for s in held] == [s.id for s in held2.samples] if False else True  # noqa: SIM108 (kept simple)
    assert [s.id for s in held.samples] == [s.id for s in held2.samples] and len(held.samples) == 1
    assert {s.id for s in rest.samples}.isdisjoint(s.id for s in held.samples)
    assert sorted(s.id for s in rest.samples + held.samples) == sorted(s.id for s in split.samples)
    assert [s.id for s in rest.samples] == [s.id for s in split.samples if s.id != held.samples[0].id]  # in order
    i = [s.id for s in split.samples].index(held.samples[0].id)
    assert held.hr[0] is split.hr[i] and all(h is not split.hr[i] for h in rest.hr)
    # at most half the split is held out; a one-image split cannot hold one out
    assert len(split_holdout(split, 5)[1].samples) == 1
    one = type(split)(split.samples[:1], split.lr[:1], split.bicubic[:1], split.hr[:1], split.labels[:1])
    with pytest.raises(SrsegError, match="combine.finetune.holdout: needs at least 2 train images"):
        split_holdout(one, 1)
    # every patch comes from the kept images: the held-out HR image is never a source
    patches = PatchStream(rest, 2, 16, seed=0).batch(64, ("hr_rgb",))["hr_rgb"]
    held_hr = split.hr[i].astype(np.float32)

    def inside(p: np.ndarray, img: np.ndarray) -> bool:
        for flip in (p, p[:, ::-1]):
            win = np.lib.stride_tricks.sliding_window_view(img, flip.shape[:2], axis=(0, 1))
            if np.any(np.all(win == np.moveaxis(flip, 2, 0)[None, None], axis=(2, 3, 4))):
                return True
        return False

    assert not any(inside(p, held_hr) for p in patches[:8])
    assert all(any(inside(p, h.astype(np.float32)) for h in rest.hr) for p in patches[:8])


def test_soft_and_hard_condition_maps() -> None:
    rng = np.random.default_rng(0)
    probs = rng.dirichlet(np.ones(NUM_CLASSES), (4, 6)).astype(np.float32)
    soft, hard = condition_of(probs, 2, "soft"), condition_of(probs, 2, "hard")
    np.testing.assert_allclose(soft, area_average(probs, 2))
    np.testing.assert_allclose(hard, oracle_maps(np.argmax(probs, -1).astype(np.uint8), 2))
    assert set(np.unique(hard * 4).tolist()) <= {0.0, 1.0, 2.0, 3.0, 4.0} and not np.allclose(soft, hard)


@pytest.mark.parametrize("condition", ["soft", "hard"])
def test_the_condition_switch_reaches_the_maps(study: Paths, monkeypatch: pytest.MonkeyPatch, condition: str) -> None:
    """``combine.sft.condition`` is what the stage hands the condition maps; the run is stopped before training."""
    import srseg.sr.condition as cond_module

    seen: list[str] = []

    def fake(model: object, images: list, scale: int, progress: bool = True, condition: str = "soft") -> list:
        seen.append(condition)
        raise RuntimeError("stop here")

    monkeypatch.setattr(cond_module, "segmenter_maps", fake)
    with pytest.raises(RuntimeError, match="stop here"):
        run_method(_params(sft={"condition": condition}), "sft_sr", 2, 0, study)
    assert seen == [condition]


def test_a_tiny_fine_tune_stops_early_and_says_why(study: Paths, monkeypatch: pytest.MonkeyPatch) -> None:
    """A real fine-tune of a few steps: min_delta too large to reach, patience 1: epoch 2 makes no progress, so it
    stops there (cap 4), keeps epoch 1's weights, logs the holdout PSNR per epoch and records why; the patches
    come from the train images left after the holdout."""
    import srseg.sr.finetune as finetune
    from srseg.io import model_metadata

    streams: list[list[str]] = []

    class Spy(finetune.PatchStream):
        def __init__(self, split: finetune.Split, *args: object, **kwargs: object) -> None:
            streams.append([s.id for s in split.samples])
            super().__init__(split, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(finetune, "PatchStream", Spy)
    ft = {**TINY["combine"]["finetune"], "max_steps": 4, "patience": 1, "min_delta": 100.0}  # type: ignore[dict-item]
    run_method(_params(finetune=ft), "ft_sr", 2, 0, study)
    log = study.train_log("ft_sr_x2", 0)
    metrics = json.loads((log / "metrics.json").read_text())
    assert metrics["stopping"]["reason"] == "patience" and metrics["stopping"]["epochs"] == 2
    assert metrics["stopping"]["best_epoch"] == 1 and "psnr" in metrics["holdout"] and "psnr" in metrics["val"]
    assert (log / "plots" / "metrics" / "holdout" / "psnr.tsv").read_text().count("\n") == 3  # header + 2 epochs
    record = model_metadata(study.method_sr_model("ft_sr", 2, 0))
    assert record is not None and record["stopping"]["reason"] == "patience" and "1 more held out" in \
        record["trained_on"]
    held = split_holdout(load_split(study, 2, "train"), 1)[1].samples[0].id
    assert streams and held not in streams[0] and len(streams[0]) == 2
    # the cap: with min_delta 0 and patience 5 the same run trains all 4 steps
    run_method(_params(finetune={**ft, "min_delta": 0.0, "patience": 5}), "ft_sr", 2, 0, study)
    metrics = json.loads((log / "metrics.json").read_text())
    assert (metrics["stopping"]["reason"], metrics["stopping"]["epochs"]) == ("cap", 4)


def _tiny_split(rng: np.random.Generator, scale: int, sizes: tuple[tuple[int, int], ...]):
    """A hand-made :class:`srseg.sr.finetune.Split` of random images of these LR sizes (ignored labels included)."""
    from srseg.degrade import upscale
    from srseg.sr.finetune import Split

    split = Split([], [], [], [], [])
    for h, w in sizes:
        lr = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
        split.lr.append(lr)
        split.bicubic.append(upscale(lr, scale))
        split.hr.append(rng.integers(0, 256, (h * scale, w * scale, 3), dtype=np.uint8))
        labels = rng.integers(0, NUM_CLASSES, (h * scale, w * scale)).astype(np.uint8)
        labels[0, :3] = IGNORE
        split.labels.append(labels)
    return split


def test_the_holdout_criterion_score_is_the_criterion_in_db() -> None:
    """On a toy model (SR = the bicubic luma + 3; logits a 1×1 convolution of the bicubic RGB) and two held-out
    images of different sizes, the score is 10·log10(255²/L) of MSE + λ·CE computed here by hand, pooled by pixels."""
    import keras

    from srseg.degrade import upscale_float
    from srseg.metrics.sr import luma
    from srseg.sr.finetune import finetune_criterion, holdout_criterion

    keras.utils.set_random_seed(0)
    lr_in, bic_in = keras.Input((None, None, 1), name="lr"), keras.Input((None, None, 1), name="bicubic")
    rgb_in = keras.Input((None, None, 3), name="bicubic_rgb")
    conv = keras.layers.Conv2D(NUM_CLASSES, 1)
    model = keras.Model({"lr": lr_in, "bicubic": bic_in, "bicubic_rgb": rgb_in},
                        {"sr": bic_in + 3.0, "seg": conv(rgb_in / 255.0)})
    kernel, bias = (np.asarray(w, np.float64) for w in conv.get_weights())
    split = _tiny_split(np.random.default_rng(0), 2, ((6, 8), (4, 5)))
    lam = 0.5

    def by_hand(lr: np.ndarray, bic: np.ndarray, hr: np.ndarray, labels: np.ndarray) -> float:
        sr = upscale_float(luma(lr), 2).astype(np.float64) + 3.0
        mse = np.mean((sr - luma(hr).astype(np.float64)) ** 2)
        logits = (bic.astype(np.float64) / 255.0) @ kernel[0, 0] + bias
        logp = logits - np.log(np.sum(np.exp(logits - logits.max(-1, keepdims=True)), -1, keepdims=True)) \
            - logits.max(-1, keepdims=True)
        valid = labels != IGNORE
        safe = np.where(valid, labels, 0).astype(np.int64)
        ce = -np.mean(np.take_along_axis(logp, safe[..., None], -1)[..., 0][valid])
        return float(mse + lam * ce)

    values = [by_hand(*x) for x in zip(split.lr, split.bicubic, split.hr, split.labels, strict=True)]
    pixels = [h.shape[0] * h.shape[1] for h in split.hr]
    expected = float(np.average(values, weights=pixels))
    value, score = holdout_criterion(model, finetune_criterion(lam), split, 2, ("lr", "bicubic", "bicubic_rgb"),
                                     ("hr_y", "labels"))
    assert value == pytest.approx(expected, rel=1e-5)
    assert score == pytest.approx(10 * np.log10(255.0 ** 2 / expected), abs=1e-4)
    # λ = 0: the CE is left out of the value
    value0, _ = holdout_criterion(model, finetune_criterion(0.0), split, 2, ("lr", "bicubic", "bicubic_rgb"),
                                  ("hr_y", "labels"))
    assert value0 < value


def test_with_lambda_zero_the_criterion_score_is_the_pooled_mse_psnr(study: Paths) -> None:
    """λ = 0 through a DCSCN that outputs its bicubic skip: the score is the PSNR of the held-out luma MSE pooled
    over the images' pixels (float output, whole), not the mean per-image Y-PSNR the MSE-only fine-tunes stop on.
    The gap is mostly the averaging (a PSNR of the mean MSE is at most the mean of the per-image PSNRs; here the
    images score 27-34 dB), a little the rounding and the shaved border of the Y-PSNR."""
    from srseg.metrics.sr import luma
    from srseg.models.dcscn import load_model
    from srseg.sr.finetune import finetune_criterion, holdout_criterion, mean_psnr, whole_image
    from srseg.sr.infer import Upscaler

    model = load_model(study.sr_model(2, 0))
    model.set_weights([np.zeros_like(w) for w in model.get_weights()])  # the global skip alone: SR = bicubic
    split = load_split(study, 2, "train")
    _, score = holdout_criterion(model, finetune_criterion(), split, 2, ("lr", "bicubic"), ("hr_y",))
    sse, n, per_image, shaved = 0.0, 0, [], []
    for i, hr in enumerate(split.hr):
        sr = np.asarray(model(whole_image(split, i, 2, ("lr", "bicubic")), training=False), np.float64)[0, ..., 0]
        err = (sr - luma(hr).astype(np.float64)) ** 2
        sse, n = sse + float(np.sum(err)), n + err.size
        per_image.append(10 * np.log10(255.0 ** 2 / np.mean(err)))
        rounded = (np.round(np.clip(sr, 0, 255)) - luma(hr).astype(np.float64)) ** 2
        shaved.append(10 * np.log10(255.0 ** 2 / np.mean(rounded[2:-2, 2:-2])))
    assert score == pytest.approx(10 * np.log10(255.0 ** 2 / (sse / n)), abs=1e-3)  # the pooled-MSE PSNR
    assert score <= np.mean(per_image)  # a PSNR of the mean MSE ≤ the mean of the PSNRs
    psnr = mean_psnr(Upscaler(model), split, 2)
    assert np.mean(shaved) == pytest.approx(psnr, abs=0.05)  # rounded, shaved, averaged per image: the Y-PSNR
    assert 0 < psnr - score < 1.5


def test_each_fine_tune_names_its_monitor(study: Paths, monkeypatch: pytest.MonkeyPatch) -> None:
    """The MSE-only fine-tunes stop on the held-out Y-PSNR; task-driven SR on its own criterion, unless both task
    weights are 0 (then it is the plain fine-tune, stopping included)."""
    import srseg.sr.finetune as finetune

    specs: dict[str, finetune.FinetuneSpec] = {}

    def capture(params: object, name: str, *args: object) -> dict:
        specs[name] = args[-1]  # type: ignore[assignment]
        return {}

    monkeypatch.setattr(finetune, "run_finetune", capture)
    for method in ("ft_sr", "sft_sr", "sft_oracle", "task_sr"):
        run_method(_params(), method, 2, 0, study)
    assert {k: s.monitor for k, s in specs.items()} == {
        "ft_sr": "holdout/psnr", "sft_sr": "holdout/psnr", "sft_oracle": "holdout/psnr",
        "task_sr": "holdout/criterion_db"}
    assert finetune.FinetuneSpec("a", "b").monitor == finetune.MONITOR_PSNR
    run_method(_params(task={"lambda_task": 0.0}), "task_sr", 2, 0, study)
    assert specs["task_sr"].monitor == "holdout/psnr"
    run_method(_params(task={"lambda_task": 0.0, "lambda_feat": 1.0}), "task_sr", 2, 0, study)
    assert specs["task_sr"].monitor == "holdout/criterion_db"


@pytest.mark.slow  # ~25 s on 2 shared cores
def test_task_driven_fine_tune_stops_on_its_criterion(study: Paths) -> None:
    """A real task-driven fine-tune of a few steps logs both held-out scores per epoch, stops on the criterion
    score and says so in its metrics and its model's record."""
    from srseg.io import model_metadata

    ft = {**TINY["combine"]["finetune"], "max_steps": 2, "patience": 1, "min_delta": 100.0}  # type: ignore[dict-item]
    run_method(_params(finetune=ft), "task_sr", 2, 0, study)
    log = study.train_log("task_sr_x2", 0)
    metrics = json.loads((log / "metrics.json").read_text())
    assert {"psnr", "criterion_db"} <= set(metrics["holdout"])
    assert metrics["stopping"]["monitor"] == "holdout/criterion_db" and metrics["stopping"]["reason"] == "patience"
    assert metrics["stopping"]["best_score"] == pytest.approx(metrics_at(log, "criterion_db", 1), abs=1e-5)
    record = model_metadata(study.method_sr_model("task_sr", 2, 0))
    assert record is not None and record["stopping"]["monitor"] == "holdout/criterion_db"
    assert "held out for early stopping on the fine-tune's criterion" in record["trained_on"]


def metrics_at(log: Path, name: str, epoch: int) -> float:
    """The ``holdout/{name}`` value DVCLive logged for ``epoch`` (1-based)."""
    rows = (log / "plots" / "metrics" / "holdout" / f"{name}.tsv").read_text().splitlines()[1:]
    return float(rows[epoch - 1].split("\t")[-1])
