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
