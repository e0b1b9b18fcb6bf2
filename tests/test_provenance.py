"""The training record saved in every model: its params hash covers exactly the params dvc.yaml says the model
depends on, for every stage that trains one, and the record says what the model was trained on."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from srseg.io import params_hash
from srseg.labels import TRAIN_NAMES
from srseg.methods import registry
from srseg.params import validate
from srseg.provenance import MODEL_PARAMS as BASE_MODEL_PARAMS
from srseg.provenance import model_record
from srseg.seg.data import split_pairs
from tests.dvc_graph import rendered_stages, upstream_params

#: Every stage that trains a model and the params its model's record hashes: the base stages' and each method's.
MODEL_PARAMS = {**BASE_MODEL_PARAMS, **{m.stage: m.train.model_params for m in registry.trained()
                                         if m.train is not None}}


def test_every_model_stage_has_its_params_listed() -> None:
    stages = rendered_stages()
    trains = {name.split("@")[0] for name, s in stages.items() if any(o.endswith(".keras") for o in s["outs"])}
    assert trains == set(MODEL_PARAMS)


@pytest.mark.parametrize("stage", sorted(MODEL_PARAMS))
def test_hashed_params_are_the_models_params_in_dvc_yaml(stage: str) -> None:
    stages = rendered_stages()
    name = next(n for n in stages if n.split("@")[0] == stage)
    assert set(MODEL_PARAMS[stage]) == upstream_params(stages, name)
    assert len(set(MODEL_PARAMS[stage])) == len(MODEL_PARAMS[stage])


def test_record_of_hr_and_sr_trained_segmenters(tiny_tree: Path, tmp_path: Path) -> None:
    from srseg.seg.train import model_record as seg_record

    params = validate({"data": {"synthetic": {"width": 200, "height": 100}}, "seed": 3})
    hr = seg_record(params, split_pairs(tiny_tree, tiny_tree, "train", "HR"), 2, "train_seg")
    assert hr["task"] == "segmentation" and hr["architecture"] == "PSPNet small" and hr["stage"] == "train_seg"
    assert hr["classes"] == TRAIN_NAMES and len(hr["classes"]) == 19
    assert hr["data_source"] == "synthetic" and hr["seed"] == 2
    assert hr["trained_on"] == "HR train images (2) of synthetic street scenes (200x100, data seed 3)"
    keys = MODEL_PARAMS["train_seg"]
    assert hr["params_keys"] == list(keys) and hr["params_hash"] == params_hash(params, keys)

    sr_root = tmp_path / "sr"
    shutil.copytree(tiny_tree / "leftImg8bit", sr_root / "leftImg8bit")
    sr_pairs = split_pairs(sr_root, tiny_tree, "train", "SR ×4 (super_resolve@4-0)")
    sr = seg_record(params, sr_pairs, 2, "retrain_seg", MODEL_PARAMS["retrain_seg"])
    assert sr["trained_on"].startswith("SR ×4 (super_resolve@4-0) train images (2) of synthetic street scenes")
    assert sr["params_keys"] == list(MODEL_PARAMS["retrain_seg"])
    # the SR chain's params enter the hash of a model trained on SR images only
    other_sr = validate({"data": {"synthetic": {"width": 200, "height": 100}}, "seed": 3,
                         "sr": {"pretrain": {"steps": 7}}})
    hr_pairs = split_pairs(tiny_tree, tiny_tree, "train", "HR")
    assert seg_record(other_sr, hr_pairs, 2, "train_seg")["params_hash"] == hr["params_hash"]
    retrain = ("retrain_seg", MODEL_PARAMS["retrain_seg"])
    bicubic = ("retrain_bicubic", MODEL_PARAMS["retrain_bicubic"])
    assert seg_record(other_sr, sr_pairs, 2, *retrain)["params_hash"] != sr["params_hash"]
    assert seg_record(other_sr, hr_pairs, 2, *bicubic)["params_hash"] == \
        seg_record(params, hr_pairs, 2, *bicubic)["params_hash"]

    camvid = seg_record(validate({"data": {"source": "camvid"}}), hr_pairs, 0, "train_seg")
    assert camvid["data_source"] == "camvid" and "CamVid" in camvid["trained_on"]


def test_combination_params_enter_only_their_models() -> None:
    base, tuned = validate({}), validate({"combine": {"joint": {"w_fa": 0.0}}})
    for stage in MODEL_PARAMS:
        same = params_hash(base, MODEL_PARAMS[stage]) == params_hash(tuned, MODEL_PARAMS[stage])
        assert same == (stage != "train_joint"), stage
    record = model_record(base, "sft_sr", MODEL_PARAMS["sft_sr"], task="super-resolution", architecture="x", seed=1,
                          trained_on="y", scale=4)
    assert record["scale"] == 4 and "classes" not in record and record["data_source"] == "synthetic"
