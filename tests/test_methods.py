"""The methods registry: a new method is one entry (plus the stage that makes its images), and evaluation,
paths and the rest follow it."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from srseg import methods
from srseg.errors import SrsegError
from srseg.methods import Method
from srseg.params import validate
from srseg.paths import Paths

DUMMY = Method("identity", "identity SR (bicubic copied)", "#999999", "x", stage="identity_sr", images="own",
               segmenter="hr", scales="scales", group="chain", baseline="bicubic")


@pytest.fixture
def registry(monkeypatch: pytest.MonkeyPatch) -> dict[str, Method]:
    """The registry with the dummy method added (restored afterwards)."""
    monkeypatch.setattr(methods, "METHODS", dict(methods.METHODS))
    methods.register(DUMMY)
    return methods.METHODS


def test_registry_contents_and_lookup() -> None:
    assert list(methods.METHODS)[:3] == ["hr", "bicubic", "sr"]
    assert methods.get("sr").baseline == "bicubic" and methods.get("sr").eval_stage == "evaluate_sr"
    with pytest.raises(SrsegError, match=r"unknown method 'srcnn' \(known: hr, bicubic, sr"):
        methods.get("srcnn")
    with pytest.raises(ValueError, match="already registered"):
        methods.register(methods.get("sr"))
    for m in methods.METHODS.values():  # every baseline is itself a method
        assert m.baseline is None or m.baseline in methods.METHODS


def test_paths_of_each_kind_of_method() -> None:
    p, get = Paths(Path("/r")), methods.get
    assert get("hr").image_root(p, None, 0) == Path("/r/data/raw")
    assert get("bicubic").image_root(p, 4, 1) == Path("/r/data/bicubic/x4")
    assert get("sr").image_root(p, 4, 1) == Path("/r/data/sr/seed1/x4")
    assert get("retrain_sr").model_path(p, 4, 1) == Path("/r/models/seg/seed1/retrain_sr_x4.keras")
    assert get("retrain_sr_on_hr").image_root(p, 4, 1) == Path("/r/data/raw")
    assert get("sr").model_path(p, 4, 1) == Path("/r/models/seg/seed1/hr.keras")


def test_active_follows_the_params(registry: dict[str, Method]) -> None:
    params = validate({"scales": [2, 3, 4], "seg": {"retrain_scales": [4]}, "combine": {"scales": [2, 3]}})
    got = [(m.name, s) for m, s in methods.active(params)]
    combination = [(m, s) for m in ("retrain_bicubic", "ft_sr", "task_sr", "joint", "sft_sr", "sft_oracle")
                   for s in (2, 3)]
    assert got == [("hr", None), ("bicubic", 2), ("bicubic", 3), ("bicubic", 4), ("sr", 2), ("sr", 3), ("sr", 4),
                   ("retrain_sr", 4), ("retrain_sr_on_hr", 4), *combination,
                   ("identity", 2), ("identity", 3), ("identity", 4)]


def test_a_new_method_is_evaluated_without_other_code(registry: dict[str, Method], tiny_repo: Path) -> None:
    """Register a method whose 'stage' copies the bicubic images: the evaluation finds its images by the registry."""
    from srseg.seg.pipeline import run_evaluate

    paths = Paths(tiny_repo)
    params = validate({"scales": [2], "seg": {"retrain_scales": [2]}, "combine": {"scales": [2]}})
    shutil.copytree(paths.bicubic(2), DUMMY.image_root(paths, 2, 0))  # what its stage would write
    got = run_evaluate(params, "identity", 2, 0, paths)
    ref = run_evaluate(params, "bicubic", 2, 0, paths)
    assert got == ref  # the same images, the same segmenter
    assert paths.seg_metrics("identity_x2", 0).is_file() and paths.predictions("identity_x2", 0).is_dir()


@pytest.fixture
def tiny_repo(tmp_path: Path, tiny_tree: Path) -> Path:
    """A repository root with data/raw, data/bicubic/x2 and an (untrained) HR PSPNet."""
    import keras

    from srseg.degrade import degrade_tree
    from srseg.models.pspnet import build_pspnet, save_model

    paths = Paths(tmp_path / "repo")
    shutil.copytree(tiny_tree, paths.raw)
    degrade_tree(paths.raw, 2, paths.lr(2), paths.bicubic(2))
    keras.utils.set_random_seed(0)
    save_model(build_pspnet(19, "small"), paths.seg_model("hr", 0))
    return paths.root
