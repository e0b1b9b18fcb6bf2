"""The joint SR + segmentation stage on tiny synthetic scenes: its data stream, one short training on the shared
loop, the saved segmentation-only model, the SR head's quality record and the evaluation by the registry."""

from __future__ import annotations

import json

import numpy as np
import pytest

from srseg.degrade import downscale
from srseg.layout import list_samples
from srseg.models.joint import SR_LAYER_PREFIX
from srseg.params import validate
from srseg.paths import Paths
from srseg.seg.data import split_pairs

TINY = {"scales": [2], "seg": {"retrain_scales": [2], "preset": "small",
                               "train": {"epochs": 1, "steps_per_epoch": 2, "batch": 2, "crop": 32},
                               "retrain": {"epochs": 1}},
        "combine": {"scales": [2]}, "data": {"synthetic": {"width": 96, "height": 48, "train": 3, "val": 2}}}


def test_stream_pairs_an_hr_window_with_its_bicubic_lr(study: Paths) -> None:
    from srseg.methods.joint import joint_dataset

    pairs = split_pairs(study.raw, study.raw, "train", "HR")
    kw = dict(batch=2, crop=33, scale_min=0.75, scale_max=1.25)  # 33 → 32, a multiple of the scale
    a = next(iter(joint_dataset(pairs, 2, seed=1, **kw)))
    b = next(iter(joint_dataset(pairs, 2, seed=1, **kw)))
    c = next(iter(joint_dataset(pairs, 2, seed=2, **kw)))
    lr, hr, labels = a[0].numpy(), a[1]["hr"].numpy(), a[1]["labels"].numpy()
    assert lr.shape == (2, 16, 16, 3) and hr.shape == (2, 32, 32, 3) and labels.shape == (2, 32, 32)
    for i in range(2):  # the LR input is exactly what degrade makes of the HR window
        np.testing.assert_array_equal(lr[i], downscale(hr[i].astype(np.uint8), 2))
    assert np.array_equal(lr, b[0].numpy()) and not np.array_equal(lr, c[0].numpy())


@pytest.mark.slow
def test_train_joint_saves_a_segmenter_and_scores_its_sr_head(study: Paths) -> None:
    from srseg.methods.registry import evaluate as run_evaluate
    from srseg.methods.registry import train as run_method
    from srseg.models.pspnet import load_model

    params = validate(TINY)
    history = run_method(params, "joint", 2, 0, study)
    assert len(history.epochs) == 1 and {"val/miou", "train/loss"} <= set(history.last)
    model = load_model(study.seg_model("joint_x2", 0), 19)
    assert not [ly.name for ly in model.layers if ly.name.startswith(SR_LAYER_PREFIX)]  # SR head dropped
    assert model(np.zeros((1, 24, 48, 3), np.float32)).shape == (1, 48, 96, 19)  # LR in, HR-size logits out
    q = json.loads(study.image_quality("joint_x2", 0).read_text())
    val = [s.id for s in list_samples(study.raw, "val")]
    assert q["per_image"]["ids"] == val and np.isfinite(q["psnr_y"]) and len(q["per_image"]["class_sse"]) == 2
    logged = study.train_log("seg_joint_x2", 0)
    assert (logged / "metrics.json").is_file() and not [p for p in logged.parent.iterdir() if p.name.startswith(".")]
    for term in ("ce", "sr", "fa"):  # the gradient norms of DSRL's three terms per layer group, one row per epoch
        for group in ("backbone", "seg_head", "sr_branch"):
            rows = (logged / "plots" / "metrics" / "grad" / term / f"{group}.tsv").read_text().splitlines()
            assert rows[0].split("\t") == ["step", group] and len(rows) == 2
            assert float(rows[1].split("\t")[1]) >= 0
    assert float(history.last["grad/sr/sr_branch"]) > 0 and history.last["grad/ce/sr_branch"] == 0
    scores = run_evaluate(params, "joint", 2, 0, study)  # LR images in, at HR size out
    assert scores["n_images"] == 2 and study.seg_per_image("joint_x2", 0).is_file()


def test_ablation_weights_zero_is_a_plain_lr_segmenter() -> None:
    """w_sr = w_fa = 0 is valid (the LR-input segmenter); negative weights are one line naming the key."""
    from srseg.errors import ParamsError

    assert validate({**TINY, "combine": {"scales": [2], "joint": {"w_sr": 0, "w_fa": 0}}}).combine.joint.w_sr == 0
    with pytest.raises(ParamsError, match=r"combine\.joint\.w_fa"):
        validate({**TINY, "combine": {"scales": [2], "joint": {"w_fa": -1}}})


@pytest.mark.slow  # 27 s for both: the CI selection is near its 10-min limit
@pytest.mark.parametrize(("name", "decoder"), [("joint_ce", True), ("lr_pspnet", False)])
def test_the_ce_only_models_train_on_lr_input(study: Paths, name: str, decoder: bool) -> None:
    """The CE-only ablation (the joint model's learned decoder) and DSRL's baseline (bilinear logits): LR in, HR-size
    logits out, no SR branch, no SR-quality record, the CE term's gradient norms only."""
    from srseg.methods.registry import evaluate as run_evaluate
    from srseg.methods.registry import train as run_method
    from srseg.models.joint import SEG_UP_PREFIX
    from srseg.models.pspnet import load_model

    params = validate(TINY)
    history = run_method(params, name, 2, 0, study)
    grads = {k for k in history.last if k.startswith("grad/")}
    assert grads == {"grad/ce/backbone", "grad/ce/seg_head"}
    model = load_model(study.seg_model(f"{name}_x2", 0), 19)
    assert not [ly for ly in model.layers if ly.name.startswith(SR_LAYER_PREFIX)]
    assert bool([ly for ly in model.layers if ly.name.startswith(SEG_UP_PREFIX)]) == decoder
    assert model(np.zeros((1, 24, 48, 3), np.float32)).shape == (1, 48, 96, 19)
    assert not study.image_quality(f"{name}_x2", 0).exists()
    assert run_evaluate(params, name, 2, 0, study)["n_images"] == 2
