"""Params validation: one line naming the key and what is allowed, before any work."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from srseg.errors import ParamsError
from srseg.params import Params, load_params, validate

REPO = Path(__file__).resolve().parents[1]


def _defaults() -> dict:
    return yaml.safe_load((REPO / "params.yaml").read_text())


def test_repo_params_are_valid_and_match_schema_defaults() -> None:
    import srseg.methods.registry  # noqa: F401 (declares the methods' sections, as any earlier test module may have)

    p = load_params(REPO / "params.yaml")
    assert p.scales == [2, 3, 4]
    assert p.crop_multiple == 12
    assert p.data.source == "synthetic"
    # A key left out of a user's params.yaml means the committed default, not some other value.
    assert p.model_dump() == Params().model_dump()


def _merge(base: dict, patch: dict) -> dict:
    out = dict(base)
    for k, v in patch.items():
        out[k] = _merge(base[k], v) if isinstance(v, dict) and isinstance(base.get(k), dict) else v
    return out


@pytest.mark.parametrize(
    ("patch", "key", "allowed"),
    [
        ({"scales": [1]}, "scales", ">= 2"),
        ({"scales": [2, 2]}, "scales", "distinct"),
        ({"scales": "2,3"}, "scales", "list"),
        ({"scales": [2.5]}, "scales.0", "integer"),
        ({"data": {"source": "imagenet"}}, "data.source", "synthetic, camvid or cityscapes"),
        ({"data": {"synthetic": {"train": -3}}}, "data.synthetic.train", ">= 1"),
        ({"data": {"synthetic": {"width": "big"}}}, "data.synthetic.width", "integer"),
        ({"seed": -1}, "seed", ">= 0"),
        ({"sr": {"preset": "edsr"}}, "sr.preset", "c-dcscn"),
        ({"seg": {"retrain_scales": [5]}}, "seg.retrain_scales", "subset of scales"),
        ({"data": {"sourcee": "synthetic"}}, "data.sourcee", "unknown key"),
        ({"seg": {"eval": {"overlap": 1.0}}}, "seg.eval.overlap", "< 1"),
        ({"seg": {"retrain": {"init": "imagenet"}}}, "seg.retrain.init", "hr or scratch"),
        ({"seg": {"retrain": {"epochs": 0}}}, "seg.retrain.epochs", ">= 1"),
        ({"seg": {"retrain": {"lr": -1e-4}}}, "seg.retrain.lr", "> 0"),
        ({"data": {"camvid": {"sha256": "abc123"}}}, "data.camvid.sha256", "64 hex digits"),
        ({"seeds": []}, "seeds", "non-empty list of distinct integers >= 0"),
        ({"seeds": [0, 0]}, "seeds", "distinct"),
        ({"seeds": [-1]}, "seeds.0", ">= 0"),
        ({"seeds": [1.5]}, "seeds.0", "integer"),
        ({"runtime": {"threads": 0}}, "runtime.threads", ">= 1"),
        ({"runtime": {"precision": {"seg": "bf16"}}}, "runtime.precision.seg", "mixed_bfloat16"),
        ({"runtime": {"distribute": "horovod"}}, "runtime.distribute", "multi_worker"),
        ({"runtime": {"cpu_kernels": True}}, "runtime.cpu_kernels", "onednn, eigen or auto"),  # YAML's `on`
        ({"cliff": {"factors": []}}, "cliff.factors", "non-empty list of numbers in (1, 8]"),
        ({"cliff": {"factors": 3}}, "cliff.factors", "non-empty list of numbers in (1, 8]"),
        ({"cliff": {"factors": [1, 2]}}, "cliff.factors", "1 is outside (1, 8]"),
        ({"cliff": {"factors": [2, 8.5]}}, "cliff.factors", "8.5 is outside (1, 8]"),
        ({"cliff": {"factors": [3, 2]}}, "cliff.factors", "not sorted or repeat a factor"),
        ({"cliff": {"factors": [2, 2.0]}}, "cliff.factors", "not sorted or repeat a factor"),
        ({"cliff": {"factors": [2, "3"]}}, "cliff.factors", "'3' is not a number"),
        ({"cliff": {"factors": [True]}}, "cliff.factors", "True is not a number"),
        ({"cliff": {"factors": [2, float("nan")]}}, "cliff.factors", "nan is not a number"),
        ({"cliff": {"classes": 0}}, "cliff.classes", ">= 1"),
        ({"cliff": {"blur": {"identity": 1.5}}}, "cliff.blur.identity", "<= 1"),
        ({"cliff": {"blur": {"epochs": 0}}}, "cliff.blur.epochs", ">= 1"),
        ({"cliff": {"sharp": 1}}, "cliff.sharp", "unknown key"),
        ({"objects": {"height_bins": [0, 20, 10, float("inf")]}}, "objects.height_bins",
         "must rise strictly from 0 to .inf, e.g. [0, 10, 20, 40, .inf]"),
        ({"objects": {"height_bins": [5, 10, float("inf")]}}, "objects.height_bins", "must rise strictly from 0"),
        ({"objects": {"height_bins": [0, 10, 20]}}, "objects.height_bins", "must rise strictly from 0 to .inf"),
        ({"objects": {"reasonable_height": 15}}, "objects.reasonable_height",
         "must be one of the finite objects.height_bins edges (0, 10, 20, 40) (got 15)"),
        ({"objects": {"height_bins": [0, 18, 36, float("inf")]}}, "objects.reasonable_height",
         "edges (0, 18, 36) (got 10)"),  # the default 10 is not an edge of these bins
        ({"objects": {"informative_recall": 1.5}}, "objects.informative_recall", "<= 1"),
        ({"objects": {"informative_recall": -0.1}}, "objects.informative_recall", ">= 0"),
        ({"objects": {"size_bins": [0, 32, 128, 512, float("inf")]}}, "objects.size_bins",
         "replaced by objects.height_bins (HR bounding-box heights in pixels"),
    ],
)
def test_bad_values_name_key_and_allowed(patch: dict, key: str, allowed: str) -> None:
    raw = _merge(_defaults(), patch)
    with pytest.raises(ParamsError) as info:
        validate(raw)
    msg = str(info.value)
    assert "\n" not in msg
    assert f" {key}:" in msg, msg
    assert allowed in msg, msg


def test_sweep_factors_keep_their_type_and_name_their_sets() -> None:
    """Integer and fractional factors as written; SR takes part only at the integer factors that are ``scales``."""
    from srseg.paths import Paths, factor_name

    p = validate({"scales": [2, 4], "cliff": {"factors": [1.5, 2, 3.0, 4]}})
    assert p.cliff.factors == [1.5, 2, 3.0, 4] and p.sweep_sr_scales == [2, 4]
    assert [factor_name(f) for f in p.cliff.factors] == ["1.5", "2", "3", "4"]
    assert Paths(Path("r")).cliff(2.5) == Path("r/data/cliff/x2.5")
    assert validate({}).sweep_sr_scales == [2, 3, 4]


def test_not_yaml_and_not_mapping(tmp_path: Path) -> None:
    bad = tmp_path / "params.yaml"
    bad.write_text("scales: [2, 3\n")
    with pytest.raises(ParamsError, match="not valid YAML"):
        load_params(bad)
    bad.write_text("- 1\n- 2\n")
    with pytest.raises(ParamsError, match="mapping"):
        load_params(bad)


def test_duplicate_keys_are_refused(tmp_path: Path) -> None:
    """PyYAML keeps the last of two equal keys; DVC refuses the file, and so does srseg, naming both lines."""
    bad = tmp_path / "params.yaml"
    bad.write_text("seed: 0\nscales: [2, 3]\nseg:\n  dropout: 0.1\n  dropout: 0.2\n")
    with pytest.raises(ParamsError, match=r"not valid YAML: duplicate key 'dropout' \(line 5; first on line 4\)"):
        load_params(bad)


@pytest.mark.parametrize("stage", ["download.py", "degrade.py --scale 2"])
def test_stage_with_bad_params_prints_one_line_and_writes_nothing(tmp_path: Path, stage: str) -> None:
    raw = _defaults()
    raw["scales"] = [1]
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(raw))
    script, *args = stage.split()
    proc = subprocess.run(
        [sys.executable, str(REPO / "stages" / script), *args], cwd=tmp_path, capture_output=True, text=True
    )
    assert proc.returncode != 0
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert lines == ["error: params.yaml: scales: must be a non-empty list of distinct integers >= 2 (got [1])"]
    assert "Traceback" not in proc.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["params.yaml"]


def test_check_params_cli(tmp_path: Path) -> None:
    raw = _defaults()
    raw["data"]["source"] = "kitti"
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(raw))
    proc = subprocess.run([sys.executable, "-m", "srseg.cli", "check-params"], cwd=tmp_path, capture_output=True,
                          text=True)
    assert proc.returncode == 2
    assert proc.stderr.strip() == (
        "error: params.yaml: data.source: must be one of synthetic, camvid or cityscapes (got 'kitti')"
    )


def test_param_choices_match_the_model_presets() -> None:
    """params.yaml's allowed presets/upsamplers are the models' own tables (the schema cannot import Keras)."""
    from typing import get_args

    from srseg.models import dcscn, pspnet
    from srseg.params import SegParams, SrParams

    assert set(get_args(SrParams.model_fields["preset"].annotation)) == set(dcscn.PRESETS)
    assert set(get_args(SrParams.model_fields["upsampler"].annotation)) == set(dcscn.UPSAMPLERS)
    assert set(get_args(SegParams.model_fields["preset"].annotation)) == set(pspnet.PRESETS)


# --- the whole file (check_params, `srseg check-params`): every key dvc.yaml reads, values that would fail later ---


def _write(tmp_path: Path, raw: dict | None, name: str = "params.yaml") -> Path:
    path = tmp_path / name
    path.write_text("" if raw is None else yaml.safe_dump(raw, sort_keys=False))
    return path


def _dvc_yaml_keys() -> set[str]:
    """The params keys the committed dvc.yaml reads: its stages' ``params:`` lists and its ``${...}`` variables."""
    import re

    text = (REPO / "dvc.yaml").read_text()
    keys = {v for v in re.findall(r"\$\{([^}]+)\}", text) if not v.startswith("item.")}
    for st in yaml.safe_load(text)["stages"].values():
        keys.update(st.get("params", []))
    return keys


def test_required_keys_are_those_dvc_yaml_reads() -> None:
    from srseg.dvcfile import required_params

    keys = required_params()
    assert len(keys) == len(set(keys)) and set(keys) == _dvc_yaml_keys()
    assert {"scales", "seeds", "seg.retrain_scales", "combine.scales", "seg.train", "plots"} <= set(keys)


@pytest.mark.parametrize(
    ("edit", "error"),
    [
        (lambda raw: None, "no keys (dvc.yaml reads seed, scales, data and "),
        (lambda raw: {k: v for k, v in raw.items() if k != "combine"},
         "combine: missing (dvc.yaml reads combine.scales, combine.finetune, combine.task and 8 more; "
         "the default params.yaml has every key)"),
        (lambda raw: {**raw, "combine": {}}, "combine.scales: missing (dvc.yaml reads combine.scales;"),
        (lambda raw: {**raw, "seg": {k: v for k, v in raw["seg"].items() if k != "train"}},
         "seg.train: missing (dvc.yaml reads seg.train;"),
        (lambda raw: {**raw, "runtime": {**raw["runtime"], "precision": {"seg": "float32"}}},
         "runtime.precision.sr: missing (dvc.yaml reads runtime.precision.sr;"),
        (lambda raw: {k: v for k, v in raw.items() if k != "seeds"}, "seeds: missing (dvc.yaml reads seeds;"),
    ],
)
def test_file_without_a_key_dvc_yaml_reads_is_refused(tmp_path: Path, edit, error: str) -> None:
    from srseg.dvcfile import load_params as check_file
    from srseg.methods import registry

    raw = edit(_defaults())
    path = _write(tmp_path, raw)
    validate(raw)  # the schema alone stays lenient: defaults fill in
    load_params(path)  # and so does every stage's own loader
    registry.load_params(path)  # without the keys to require
    with pytest.raises(ParamsError) as info:
        check_file(path)
    msg = str(info.value)
    assert "\n" not in msg and msg.startswith(f"{path}: {error}"), msg


@pytest.mark.parametrize(
    ("edit", "error"),
    [
        (lambda raw: {**raw, "seeds": 0}, "seeds: must be a list of distinct integers >= 0, e.g. [0]: dvc.yaml runs "
         "pretrain_sr and "),
        (lambda raw: {**raw, "seeds": None}, "seeds: must be a list of distinct integers >= 0, e.g. [0]: "),
        (lambda raw: {**raw, "seeds": {"a": 1}}, "seeds: must be a list of distinct integers >= 0, e.g. [0]: "),
        (lambda raw: {**raw, "scales": "24"}, "scales: must be a list of distinct integers >= 2, e.g. [2, 3, 4]: "
         "dvc.yaml runs degrade and "),
        (lambda raw: {**raw, "seg": {**raw["seg"], "retrain_scales": 4}},
         "seg.retrain_scales: must be a list of distinct integers out of scales, e.g. [4]: "),
        (lambda raw: {**raw, "combine": {**raw["combine"], "scales": 4}},
         "combine.scales: must be a list of distinct integers out of scales, e.g. [4]: "),
        (lambda raw: {**raw, "seg": 5},
         "seg: must be a mapping of keys to values, as in the default params.yaml (got 5)"),
        (lambda raw: {**raw, "combine": None},
         "combine: must be a mapping of keys to values, as in the default params.yaml (got None)"),
    ],
)
def test_a_matrix_variable_dvc_cannot_expand_is_named(tmp_path: Path, edit, error: str) -> None:
    """What DVC refuses while parsing dvc.yaml, in its own words and before check_params could run (tested with
    `dvc repro` in tests/test_nothing_lost.py), `srseg check-params` names in one line."""
    from srseg.dvcfile import load_params as check_file

    path = _write(tmp_path, edit(_defaults()))
    with pytest.raises(ParamsError) as info:
        check_file(path)
    msg = str(info.value)
    assert "\n" not in msg and msg.startswith(f"{path}: {error}"), msg


def test_check_params_cli_refuses_an_empty_file(tmp_path: Path) -> None:
    _write(tmp_path, None)
    proc = subprocess.run([sys.executable, "-m", "srseg.cli", "check-params"], cwd=tmp_path, capture_output=True,
                          text=True)
    assert proc.returncode == 2
    assert proc.stderr.startswith("error: params.yaml: no keys (dvc.yaml reads seed, scales, data and "), proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize(
    ("patch", "size"),
    [
        ({"scales": [2, 3, 4, 97]}, "384x192 images (data.synthetic.width x height)"),
        ({"data": {"synthetic": {"width": 600, "height": 11}}}, "600x11 images"),  # lcm 12 > 11
        ({"scales": [2, 3, 4, 97], "data": {"source": "camvid"}}, "480x360 images (CamVid's download"),
        ({"data": {"source": "cityscapes", "cityscapes": {"downscale": 100}}},
         "20x10 images (Cityscapes' 2048x1024 / data.cityscapes.downscale 100)"),
    ],
)
def test_crop_multiple_larger_than_the_images_is_refused(tmp_path: Path, patch: dict, size: str) -> None:
    """HR images are cropped to a multiple of lcm(scales) at download: where the size is known before download,
    a multiple larger than it is refused up front (it would leave no pixels, after DVC deleted data/raw)."""
    from srseg.methods import registry

    raw = _merge(_defaults(), patch)
    params = validate(raw)
    with pytest.raises(ParamsError) as info:
        registry.load_params(_write(tmp_path, raw))
    msg = str(info.value)
    assert "\n" not in msg and " scales: HR images are cropped to a multiple of lcm(" in msg, msg
    assert f"= {params.crop_multiple} px, which leaves nothing of the {size}" in msg, msg


@pytest.mark.parametrize(
    "patch",
    [
        {"scales": [2, 3, 4, 97], "data": {"source": "camvid", "camvid": {"path": "/somewhere"}}},  # local files
        {"scales": [2, 3, 4, 97], "data": {"source": "camvid", "camvid": {"url": "https://example.org/c.zip"}}},
        {"scales": [2, 3, 4, 97], "data": {"source": "cityscapes", "cityscapes": {"path": "/somewhere"}}},
        {"scales": [2, 3, 4, 96]},  # lcm 96 fits 384x192 (download keeps 384x192)
        {"data": {"synthetic": {"width": 12, "height": 12}}},
    ],
)
def test_crop_multiple_unknown_or_fitting_size_passes(tmp_path: Path, patch: dict) -> None:
    from srseg.methods import registry

    registry.load_params(_write(tmp_path, _merge(_defaults(), patch)))


def test_training_crop_over_the_machines_memory_is_refused(tmp_path: Path) -> None:
    """seg.train.crop (and batch) against the memory one batch of float32 crops and int32 labels certainly takes."""
    from srseg.methods import registry
    from srseg.params import BATCH_BYTES_PER_PIXEL, check_feasible, total_memory

    memory = total_memory()
    assert memory is not None and memory > 2**28  # Linux and macOS say
    raw = _merge(_defaults(), {"seg": {"train": {"crop": 1_000_000}}})  # 16 TB a batch: no machine has it
    with pytest.raises(ParamsError) as info:
        registry.load_params(_write(tmp_path, raw))
    msg = str(info.value)
    assert "\n" not in msg and msg.startswith(f"{tmp_path / 'params.yaml'}: seg.train.crop: must be at most "), msg
    assert "with seg.train.batch 8 on this machine" in msg and msg.endswith("(got 1000000)"), msg
    # the bound, on a machine of a given memory: batch 8 of 160x160 crops takes 3,276,800 bytes
    params = validate(_defaults())
    assert 8 * 160 * 160 * BATCH_BYTES_PER_PIXEL == 3_276_800
    check_feasible(params, memory=3_276_800)
    with pytest.raises(ParamsError, match=r"^params.yaml: seg.train.crop: must be at most 159 with seg.train.batch 8"):
        check_feasible(params, memory=3_276_799)
    # the GPU recipes' crops are far below it
    check_feasible(validate(_merge(_defaults(), {"seg": {"train": {"crop": 713, "batch": 16}}})), memory=2**30)
