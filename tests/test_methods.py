"""The methods registry: a method is one module — a dozen lines here add one, and it gets its training and evaluation
stages in dvc.yaml, its row in metrics/summary.json, its point in the figures and its line in report.md with no
other file edited."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from srseg import params as params_module
from srseg.errors import ParamsError, SrsegError
from srseg.methods import base, registry
from srseg.methods.base import Method, Outputs, TrainSpec
from srseg.params import Params, Section, register_section, validate
from srseg.paths import Paths


# --- the dummy method: what a researcher writes in srseg/methods/identity.py -----------------------------------
class IdentityParams(Section):
    """``combine.identity``: how many times to copy (a param of its own, validated like any other)."""

    copies: int = 1


def train_identity(params: Params, scale: int, seed: int, paths: Paths) -> None:
    """'Super-resolves' by copying the bicubic images (and their Y-PSNR): the segmenter sees them as they are."""
    shutil.copytree(paths.bicubic(scale), paths.method_images("identity", scale, seed))
    shutil.copy(paths.image_quality(f"bicubic_x{scale}", None), paths.image_quality(f"identity_x{scale}", seed))


IDENTITY = Method("identity", "identity SR (bicubic copied)", "#999999", "x", stage="identity_sr", images="own",
                  segmenter="hr", scales="combine.scales", group="combine", baseline="ft_sr", reported=("ft_sr",),
                  quality=True,
                  train=TrainSpec(run=train_identity, reads=("combine.identity",), model_params=("combine.identity",),
                                  deps=lambda p, s, k: [p.bicubic(s)],
                                  outs=lambda p, s, k: Outputs([p.method_images("identity", s, k)],
                                                               [p.image_quality(f"identity_x{s}", k)])))
# ------------------------------------------------------------------------------------------------------------------


@pytest.fixture
def dummy() -> Iterator[Method]:
    """The registry with the dummy method and its params section added (both removed afterwards)."""
    register_section("combine.identity", IdentityParams)
    registry.register(IDENTITY)
    try:
        yield IDENTITY
    finally:
        del base.METHODS["identity"], params_module.SECTIONS["combine.identity"]


def test_registry_contents_and_lookup() -> None:
    assert list(registry.METHODS)[:3] == ["hr", "bicubic", "sr"]
    assert (registry.HR, registry.BICUBIC, registry.SR) == tuple(map(registry.get, ("hr", "bicubic", "sr")))
    assert registry.SR.baseline == "bicubic" and registry.SR.eval_stage == "evaluate_sr"
    with pytest.raises(SrsegError, match=r"unknown method 'srcnn' \(known: hr, bicubic, sr"):
        registry.get("srcnn")
    with pytest.raises(ValueError, match="already registered"):
        registry.register(registry.SR)
    for m in registry.METHODS.values():  # every method it is compared with is itself a method
        assert all(b in registry.METHODS for b in (m.baseline, *m.controls, *m.reported, m.bound_of) if b), m.name
        assert m.train is None or m.train.model_params, m.name


def test_paths_of_each_kind_of_method() -> None:
    p, get = Paths(Path("/r")), registry.get
    assert get("hr").image_root(p, None, 0) == Path("/r/data/raw")
    assert get("bicubic").image_root(p, 4, 1) == Path("/r/data/bicubic/x4")
    assert get("sr").image_root(p, 4, 1) == Path("/r/data/sr/seed1/x4")
    assert get("retrain_sr").model_path(p, 4, 1) == Path("/r/models/seg/seed1/retrain_sr_x4.keras")
    assert get("retrain_sr_on_hr").image_root(p, 4, 1) == Path("/r/data/raw")
    assert get("sr").model_path(p, 4, 1) == Path("/r/models/seg/seed1/hr.keras")
    assert get("joint").input_scale(4) == 4 and get("sr").input_scale(4) == 1
    blur = get("blur_aug")  # scale-free: one model per seed, evaluated on the HR images
    assert blur.image_root(p, None, 1) == Path("/r/data/raw")
    assert blur.model_path(p, None, 1) == Path("/r/models/seg/seed1/blur_aug.keras")
    assert registry.swept() == [blur] and blur.segmenter_label == "blur-augmented PSPNet"


def test_only_a_scale_free_method_on_hr_images_joins_the_sweep() -> None:
    for bad in ({"scales": "scales", "images": "bicubic"}, {"segmenter": "hr"}, {"label": "blur-augmented PSPNet"}):
        kw = {"label": "x on HR val", "segmenter": "x", "scales": None, "images": "raw", **bad}
        with pytest.raises(ValueError, match="can join the degradation sweep"):
            Method("x", colour="#000000", marker="o", stage="s", group="sweep", **kw)


def test_a_scale_free_method_trains_per_seed() -> None:
    from srseg.dvcfile import render

    stages = yaml.safe_load(render())["stages"]
    train = stages["train_blur_aug"]
    assert train["matrix"] == {"seed": "${seeds}"}
    assert train["cmd"] == "python stages/train.py --method blur_aug --seed ${item.seed}"
    assert train["deps"] == ["data/code/train_blur_aug.json", "data/raw", "models/seg/seed${item.seed}/hr.keras"]
    assert stages["evaluate_blur_aug"]["cmd"] == ("python stages/evaluate.py --variant blur_aug --images data/raw "
                                                  "--model models/seg/seed${item.seed}/blur_aug.keras "
                                                  "--seed ${item.seed}")


def test_no_method_name_outside_its_module() -> None:
    """A method's name appears (as a string) only in its own module and the registry: no name tuples, no
    ``== "task_sr"`` elsewhere in the library. The 2019 study's chain (HR, bicubic, SR) is made by the base stages
    (download, degrade, super_resolve), which name their own outputs; every method added to it is checked."""
    import ast

    src = Path(registry.__file__).parents[1]
    names = {m.name for m in registry.METHODS.values() if m.group not in ("reference", "chain")}
    found = []
    for path in sorted(src.rglob("*.py")):
        if path.parent.name in ("methods", "models"):  # models/ names architectures (the joint model's layers)
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        docs = {id(n.body[0].value) for n in ast.walk(tree)
                if isinstance(n, ast.Module | ast.FunctionDef | ast.ClassDef) and n.body
                and isinstance(n.body[0], ast.Expr)}
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docs:
                hits = [n for n in names if node.value == n or node.value.startswith((f"{n}_", f"{n}-"))]
                if hits:
                    found.append(f"{path.relative_to(src)}:{node.lineno}: {node.value!r}")
    assert not found, found


def test_active_follows_the_params(dummy: Method) -> None:
    params = validate({"scales": [2, 3, 4], "seg": {"retrain_scales": [4]}, "combine": {"scales": [2, 3]}})
    got = [(m.name, s) for m, s in registry.active(params)]
    combination = [(m, s) for m in ("retrain_bicubic", "ft_sr", "task_sr", "separate_ft", "jointed", "ft_sr_unseen",
                                    "task_sr_unseen", "lr_pspnet", "joint", "joint_ce", "sft_sr", "sft_oracle")
                   for s in (2, 3)]
    assert got == [("hr", None), ("bicubic", 2), ("bicubic", 3), ("bicubic", 4), ("sr", 2), ("sr", 3), ("sr", 4),
                   ("retrain_sr", 4), ("retrain_sr_on_hr", 4), *combination, ("blur_aug", None), ("identity", 2),
                   ("identity", 3)]


def test_a_method_declares_its_params_section(dummy: Method, tmp_path: Path) -> None:
    assert validate({"combine": {"identity": {"copies": 3}}}).combine.section("identity").copies == 3
    assert validate({}).combine.section("identity") == IdentityParams()  # defaults filled in
    with pytest.raises(ParamsError, match=r"combine\.identity\.copies: must be .*integer"):
        validate({"combine": {"identity": {"copies": "many"}}})
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump({"combine": {"identiti": {"copies": 2}}}))
    with pytest.raises(ParamsError, match=r"combine\.identiti: unknown key"):
        registry.load_params(path)


def test_a_new_method_gets_its_stages(dummy: Method) -> None:
    from srseg.dvcfile import render

    stages = yaml.safe_load(render())["stages"]
    train = stages["identity_sr"]
    assert train["cmd"] == "python stages/train.py --method identity --scale ${item.scale} --seed ${item.seed}"
    assert train["matrix"] == {"scale": "${combine.scales}", "seed": "${seeds}"}
    assert train["deps"] == ["data/code/identity_sr.json", "data/bicubic/x${item.scale}"]
    assert train["params"] == ["combine.identity"]
    assert train["outs"] == [{"data/identity/seed${item.seed}/x${item.scale}": {"persist": True}},
                             {"metrics/sr/seed${item.seed}/identity_x${item.scale}.json": {"cache": False,
                                                                                          "persist": True}}]
    ev = stages["evaluate_identity"]
    assert ev["cmd"] == ("python stages/evaluate.py --variant identity_x${item.scale} --images "
                         "data/identity/seed${item.seed}/x${item.scale} --model models/seg/seed${item.seed}/hr.keras "
                         "--seed ${item.seed}")
    assert "models/seg/seed${item.seed}/hr.keras" in ev["deps"]


def test_a_new_method_is_trained_and_evaluated(dummy: Method, tiny_repo: Path) -> None:
    paths = Paths(tiny_repo)
    params = validate({"scales": [2], "seg": {"retrain_scales": [2]}, "combine": {"scales": [2]}})
    paths.image_quality("identity_x2", 0).parent.mkdir(parents=True)
    registry.train(params, "identity", 2, 0, paths)
    got = registry.evaluate(params, "identity", 2, 0, paths)
    ref = registry.evaluate(params, "bicubic", 2, 0, paths)
    assert got == ref  # the same images, the same segmenter
    assert paths.seg_metrics("identity_x2", 0).is_file() and paths.predictions("identity_x2", 0).is_dir()
    with pytest.raises(SrsegError, match="method hr: has no training stage of its own"):
        registry.train(params, "hr", 2, 0, paths)


def test_a_new_method_is_in_the_summary_figures_and_report(dummy: Method, tmp_path: Path) -> None:
    from srseg.results.plots import run as plots
    from srseg.results.series import read_csv
    from srseg.results.summary import run as summarize
    from tests.results.test_plots import _params, write_images
    from tests.results.test_summary import write_metrics

    write_metrics(tmp_path, [2, 4], [4])  # every active method's evaluation outputs, the new one's too
    paths = write_images(tmp_path, [2, 4])
    params = _params([2, 4], [4])
    summarize(params, paths)
    summary = json.loads(paths.summary.read_text())
    row = summary["variants"]["identity_x4"]
    assert row["label"] == "identity SR (bicubic copied) ×4" and "pacc_ci95" in row
    assert any(c["b"] == "identity_x4" and c["a"] == "ft_sr_x4" for c in summary["comparisons"].values())
    plots(params, paths)
    methods_rows = read_csv(paths.series / "methods.csv")
    assert any(r["label"] == "identity SR (bicubic copied) ×4" for r in methods_rows)  # its point in the figure
    assert (paths.figures / "methods.png").is_file()
    assert "identity SR (bicubic copied) ×4, against SR fine-tuned on the study's images (control) ×4" in \
        paths.report.read_text(encoding="utf-8")


@pytest.fixture
def tiny_repo(tmp_path: Path, tiny_tree: Path) -> Path:
    """A repository root with data/raw, data/bicubic/x2 and an (untrained) HR PSPNet."""
    import keras

    from srseg.degrade import degrade_tree
    from srseg.models.pspnet import build_pspnet, save_model

    paths = Paths(tmp_path / "repo")
    shutil.copytree(tiny_tree, paths.raw)
    degrade_tree(paths.raw, 2, paths.lr(2), paths.bicubic(2))
    paths.image_quality("bicubic_x2", None).parent.mkdir(parents=True)
    paths.image_quality("bicubic_x2", None).write_text("{}")  # what the degrade stage scores
    keras.utils.set_random_seed(0)
    save_model(build_pspnet(19, "small"), paths.seg_model("hr", 0))
    return paths.root
