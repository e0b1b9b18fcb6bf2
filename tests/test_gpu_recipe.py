"""The recipes under ``params/`` (the GPU Cityscapes study, the CamVid study): only keys of params.yaml that they
change, valid once merged, the paper's Cityscapes recipe, and the ``dvc exp run -S`` line in each header applying
exactly it."""

from __future__ import annotations

import copy
import shlex
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from srseg.cli import main as srseg_main
from srseg.params import load_params

REPO = Path(__file__).resolve().parents[1]
RECIPE = REPO / "params" / "gpu-cityscapes.yaml"
RECIPES = sorted((REPO / "params").glob("*.yaml"))


def _leaves(tree: dict[str, Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    for key, value in tree.items():
        if isinstance(value, dict):
            yield from _leaves(value, f"{prefix}{key}.")
        else:
            yield f"{prefix}{key}", value


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for key, value in over.items():
        out[key] = _merge(out[key], value) if isinstance(value, dict) else value
    return out


def _get(tree: dict[str, Any], dotted: str) -> Any:
    for part in dotted.split("."):
        if not isinstance(tree, dict) or part not in tree:
            raise KeyError(dotted)
        tree = tree[part]
    return tree


def _yaml(path: Path) -> dict[str, Any]:
    return yaml.safe_load(path.read_text())


def _documented_overrides(recipe: Path) -> list[str]:
    """The ``-S key=value`` arguments of the ``dvc exp run`` line in the recipe's header comment."""
    lines = [ln.lstrip("# ").strip() for ln in recipe.read_text().splitlines() if ln.startswith("#")]
    runs = [ln for ln in lines if ln.startswith("dvc exp run ")]
    assert len(runs) == 1, runs
    args = shlex.split(runs[0])[3:]
    assert args[::2] == ["-S"] * (len(args) // 2) and len(args) % 2 == 0, args
    return args[1::2]


@pytest.mark.parametrize("path", RECIPES, ids=lambda p: p.stem)
def test_recipe_holds_only_keys_it_changes(path: Path) -> None:
    base, recipe = _yaml(REPO / "params.yaml"), _yaml(path)
    for key, value in _leaves(recipe):
        assert _get(base, key) != value, f"{key}: {value!r} is already the params.yaml value"


def test_merged_recipe_is_valid_and_the_papers(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Zhao et al. 2017, Implementation Details: poly lr 0.01 (power 0.9), momentum 0.9, weight decay 1e-4, 90K
    iterations for Cityscapes, batch 16, random resize 0.5-2; 713 crops; ResNet-101; full-resolution Cityscapes."""
    merged = tmp_path / "params.yaml"
    merged.write_text(yaml.safe_dump(_merge(_yaml(REPO / "params.yaml"), _yaml(RECIPE)), sort_keys=False))
    srseg_main(["check-params", str(merged)])
    assert capsys.readouterr().out.strip() == f"{merged}: ok"
    p = load_params(merged)
    tp = p.seg.train
    assert (p.data.source, p.data.cityscapes.downscale, p.data.cityscapes.train, p.data.cityscapes.val) == (
        "cityscapes", 1, None, None)
    assert p.seg.preset == "resnet101" and (p.seg.aux_weight, p.seg.dropout) == (0.4, 0.1)
    assert (tp.optimizer, tp.lr, tp.poly_power, tp.momentum, tp.weight_decay) == ("sgd", 0.01, 0.9, 0.9, 1e-4)
    assert (tp.epochs * tp.steps_per_epoch, tp.batch, tp.crop) == (90_000, 16, 713)
    assert (tp.scale_min, tp.scale_max, tp.class_weights) == (0.5, 2.0, "none")
    assert (p.seg.eval.mode, p.seg.eval.window) == ("sliding", 713)
    assert (p.runtime.precision.seg, p.runtime.distribute) == ("mixed_float16", "auto")


@pytest.mark.parametrize("path", RECIPES, ids=lambda p: p.stem)
def test_documented_dvc_line_applies_exactly_the_recipe(path: Path, tmp_path: Path) -> None:
    """DVC's own ``--set-param`` code (Hydra overrides) on a copy of params.yaml gives the merged recipe."""
    from dvc.utils.hydra import apply_overrides

    overrides = _documented_overrides(path)
    assert [o.split("=", 1)[0] for o in overrides] == [k for k, _ in _leaves(_yaml(path))]
    target = tmp_path / "params.yaml"
    shutil.copy(REPO / "params.yaml", target)
    apply_overrides(target, overrides)
    assert _yaml(target) == _merge(_yaml(REPO / "params.yaml"), _yaml(path))
    load_params(target)


def test_camvid_recipe_is_the_by_sequence_study(tmp_path: Path) -> None:
    """Three seeds, the split by sequence with no shared sequence, and the earlier CamVid run's segmentation budget."""
    merged = tmp_path / "params.yaml"
    merged.write_text(yaml.safe_dump(_merge(_yaml(REPO / "params.yaml"), _yaml(REPO / "params" / "camvid.yaml")),
                                     sort_keys=False))
    p = load_params(merged)
    cv = p.data.camvid
    assert p.data.source == "camvid" and cv.split == "by_sequence" and len(p.seeds) >= 3
    assert not set(cv.train_sequences) & set(cv.val_sequences)
    assert (p.seg.train.crop, p.seg.train.epochs * p.seg.train.steps_per_epoch) == (224, 2100)
    assert p.stats.block == "auto"
