"""The training record of segmentation models: what it says, and that its params hash covers exactly the params
dvc.yaml says the model depends on."""

from __future__ import annotations

from pathlib import Path

from srseg.io import params_hash
from srseg.labels import TRAIN_NAMES
from srseg.params import validate
from srseg.seg.data import split_pairs
from srseg.seg.train import HR_MODEL_PARAMS, SR_IMAGES_MODEL_PARAMS, model_record
from tests.dvc_graph import rendered_stages, upstream_params


def test_hashed_params_are_the_models_params_in_dvc_yaml() -> None:
    stages = rendered_stages()
    assert set(HR_MODEL_PARAMS) == upstream_params(stages, "train_seg@0")
    assert set(SR_IMAGES_MODEL_PARAMS) == upstream_params(stages, "retrain_seg@4-0")
    assert len(set(HR_MODEL_PARAMS)) == len(HR_MODEL_PARAMS)
    assert len(set(SR_IMAGES_MODEL_PARAMS)) == len(SR_IMAGES_MODEL_PARAMS)


def test_record_of_hr_and_sr_trained_models(tiny_tree: Path, tmp_path: Path) -> None:
    import shutil

    params = validate({"data": {"synthetic": {"width": 200, "height": 100}}, "seed": 3})
    hr = model_record(params, split_pairs(tiny_tree, tiny_tree, "train", "HR"), seed=2)
    assert hr["task"] == "segmentation" and hr["architecture"] == "PSPNet small"
    assert hr["classes"] == TRAIN_NAMES and len(hr["classes"]) == 19
    assert hr["data_source"] == "synthetic" and hr["seed"] == 2
    assert hr["trained_on"] == "HR train images (2) of synthetic street scenes (200x100, data seed 3)"
    assert hr["params_keys"] == list(HR_MODEL_PARAMS) and hr["params_hash"] == params_hash(params, HR_MODEL_PARAMS)

    sr_root = tmp_path / "sr"
    shutil.copytree(tiny_tree / "leftImg8bit", sr_root / "leftImg8bit")
    sr = model_record(params, split_pairs(sr_root, tiny_tree, "train", "SR ×4 (super_resolve@4-0)"), seed=2)
    assert sr["trained_on"].startswith("SR ×4 (super_resolve@4-0) train images (2) of synthetic street scenes")
    assert sr["params_keys"] == list(SR_IMAGES_MODEL_PARAMS)
    # the SR chain's params enter the hash of a model trained on SR images only
    other_sr = validate({"data": {"synthetic": {"width": 200, "height": 100}}, "seed": 3,
                         "sr": {"pretrain": {"steps": 7}}})
    hr_pairs = split_pairs(tiny_tree, tiny_tree, "train", "HR")
    sr_pairs = split_pairs(sr_root, tiny_tree, "train", "SR")
    assert model_record(other_sr, hr_pairs, 2)["params_hash"] == hr["params_hash"]
    assert model_record(other_sr, sr_pairs, 2)["params_hash"] != sr["params_hash"]

    camvid = model_record(validate({"data": {"source": "camvid"}}), split_pairs(tiny_tree, tiny_tree, "train", "HR"), 0)
    assert camvid["data_source"] == "camvid" and "CamVid" in camvid["trained_on"]
