"""Every stage lists exactly the params it reads (issue 11.1), measured by running it.

The model stages are checked through their training records (tests/test_provenance.py). Here the other stages
run in-process on tiny inputs while every read of a params field is recorded: attribute reads of a leaf, and
``model_dump`` of a section (which reads every leaf under it). Reads during validation do not count. Then each
read key must fall under a key the stage lists in dvc.yaml (else a change of it would not re-run the stage),
and each listed key must cover at least one read (else a change of it would re-run the stage for nothing).
"""

from __future__ import annotations

import contextlib
import runpy
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

import srseg.params as P
from srseg.paths import Paths
from tests.dvc_graph import REPO, rendered_stages


@contextlib.contextmanager
def traced_reads() -> Iterator[set[str]]:
    """The dotted keys of params.yaml read inside the block (validation's own reads excluded)."""
    reads: set[str] = set()
    where: dict[int, str] = {}
    paused = [False]
    get = P._Section.__getattribute__
    dump = P._Section.model_dump
    validate = P.validate

    def prefix(obj: Any) -> str | None:
        return "" if isinstance(obj, P.Params) else where.get(id(obj))

    def leaves(obj: P._Section, at: str) -> Iterator[str]:
        for name in type(obj).model_fields:
            value = get(obj, name)
            if isinstance(value, P._Section):
                where[id(value)] = f"{at}{name}."
                yield from leaves(value, f"{at}{name}.")
            else:
                yield f"{at}{name}"

    def getattribute(self: P._Section, name: str) -> Any:
        value = get(self, name)
        if not paused[0] and name in type(self).model_fields:
            at = prefix(self)
            assert at is not None, f"a params section read outside the loaded params: {type(self).__name__}.{name}"
            if isinstance(value, P._Section):
                where[id(value)] = f"{at}{name}."
            else:
                reads.add(f"{at}{name}")
        return value

    def model_dump(self: P._Section, *args: Any, **kwargs: Any) -> Any:
        at = prefix(self)
        if not paused[0] and at is not None:
            reads.update(leaves(self, at))
        return dump(self, *args, **kwargs)

    def quiet_validate(*args: Any, **kwargs: Any) -> P.Params:
        paused[0] = True
        try:
            return validate(*args, **kwargs)
        finally:
            paused[0] = False

    with pytest.MonkeyPatch.context() as m:
        m.setattr(P._Section, "__getattribute__", getattribute)
        m.setattr(P._Section, "model_dump", model_dump)
        m.setattr(P, "validate", quiet_validate)
        yield reads


def run_stage(monkeypatch: pytest.MonkeyPatch, root: Path, script: str, *argv: str) -> set[str]:
    """Run ``stages/<script>`` in ``root`` (which holds its params.yaml and inputs); the params it read."""
    with monkeypatch.context() as m:
        m.chdir(root)
        m.setattr(sys, "argv", [script, *argv])
        with traced_reads() as reads:
            runpy.run_path(str(REPO / "stages" / script), run_name="__main__")
    return reads


def check_listed(stage: str, reads: set[str]) -> None:
    listed = rendered_stages()[stage]["params"]
    under = lambda key, parent: key == parent or key.startswith(parent + ".")  # noqa: E731
    unlisted = sorted(k for k in reads if not any(under(k, p) for p in listed))
    unread = sorted(p for p in listed if not any(under(k, p) for k in reads))
    assert (unlisted, unread) == ([], []), \
        f"{stage}: reads but does not list {unlisted}; lists but does not read {unread}"


def write_params(root: Path, raw: dict[str, Any]) -> None:
    (root / "params.yaml").write_text(yaml.safe_dump(raw, sort_keys=False))


TINY = {"scales": [2], "seg": {"retrain_scales": [2]}, "combine": {"scales": [2]},
        "data": {"synthetic": {"width": 96, "height": 48, "train": 3, "val": 2}}}


def test_the_tracer_sees_reads_and_dumps_but_not_validation() -> None:
    with traced_reads() as reads:
        params = P.validate(TINY)
        assert reads == set()  # the validators' own reads do not count
        _ = params.seg.train.epochs, params.scales
        params.stats.model_dump()
    assert reads == {"seg.train.epochs", "scales"} | {f"stats.{k}" for k in P.StatsParams.model_fields}
    _ = params.seed, params.sr.model_dump()  # after the block nothing is recorded
    assert "seed" not in reads and not any(k.startswith("sr.") for k in reads)


def test_data_and_sr_stages(monkeypatch: pytest.MonkeyPatch, study: Paths) -> None:
    write_params(study.root, TINY)
    check_listed("download", run_stage(monkeypatch, study.root, "download.py"))
    check_listed("degrade@2", run_stage(monkeypatch, study.root, "degrade.py", "--scale", "2"))
    check_listed("super_resolve@2-0", run_stage(monkeypatch, study.root, "super_resolve.py", "--scale", "2",
                                                "--seed", "0"))


def test_evaluation_stages(monkeypatch: pytest.MonkeyPatch, study: Paths) -> None:
    """Every evaluate_<method> stage runs the same code: hr (no scale), bicubic (HR-size images of a scale) and
    joint (LR images, its own model) cover its branches."""
    from srseg.methods.registry import get
    from srseg.models.joint import build_joint
    from srseg.models.pspnet import save_model

    write_params(study.root, TINY)
    save_model(build_joint(19, "small", 2), get("joint").model_path(study, 2, 0))
    rel = Paths()
    for method, scale in (("hr", None), ("bicubic", 2), ("joint", 2)):
        m = get(method)
        argv = ["--variant", m.variant(scale), "--images", str(m.image_root(rel, scale, 0)),
                "--model", str(m.model_path(rel, scale, 0)), "--seed", "0", "--input-scale", str(m.input_scale(scale))]
        reads = run_stage(monkeypatch, study.root, "evaluate.py", *argv)
        stage = next(n for n in rendered_stages() if n.startswith(f"evaluate_{method}@"))
        check_listed(stage, reads)


@pytest.mark.slow
def test_summary_and_plots_stages(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from tests.results.test_plots import write_images
    from tests.results.test_summary import write_metrics

    raw = yaml.safe_load((REPO / "params.yaml").read_text())
    raw.update(scales=[2, 3], stats={**raw["stats"], "resamples": 300})
    raw["seg"]["retrain_scales"] = raw["combine"]["scales"] = [3]
    write_params(tmp_path, raw)
    write_metrics(tmp_path, [2, 3], [3], objects=True)
    write_images(tmp_path, [2, 3])
    check_listed("summarize", run_stage(monkeypatch, tmp_path, "summarize.py"))
    check_listed("plots", run_stage(monkeypatch, tmp_path, "plots.py"))


def test_degradation_sweep_stages(monkeypatch: pytest.MonkeyPatch, study: Paths) -> None:
    """cliff_degrade and evaluate_cliff@0, run with dvc.yaml's own commands: each reads exactly its params, and the
    sweep's ×2 set (its own folder) is the degrade stage's bicubic ×2, so their scores agree."""
    import json
    import shlex
    import shutil

    from srseg.methods.registry import get

    write_params(study.root, {**TINY, "cliff": {"factors": [2, 2.5]}})
    stages = rendered_stages()
    check_listed("cliff_degrade", run_stage(monkeypatch, study.root, "cliff_degrade.py"))
    shutil.copy(study.seg_model("hr", 0), get("blur_aug").model_path(study, None, 0))  # stand-ins: the HR model,
    shutil.copytree(study.bicubic(2), study.sr(2, 0))  # and the bicubic images as SR ×2
    argv = shlex.split(stages["evaluate_cliff@0"]["cmd"])[2:]
    check_listed("evaluate_cliff@0", run_stage(monkeypatch, study.root, "evaluate_cliff.py", *argv))
    got = sorted(p.name for p in study.cliff_metrics_root.joinpath("seed0").iterdir())
    assert got == sorted(f"{n}.{ext}" for n in ("hr_bicubic_x2", "hr_bicubic_x2.5", "blur_aug_bicubic_x2",
                                                "blur_aug_bicubic_x2.5", "blur_aug_sr_x2") for ext in ("json", "npz"))
    m = get("bicubic")
    run_stage(monkeypatch, study.root, "evaluate.py", "--variant", m.variant(2), "--images",
              str(m.image_root(Paths(), 2, 0)), "--model", str(m.model_path(Paths(), 2, 0)), "--seed", "0")
    sweep = json.loads(study.cliff_metrics("hr_bicubic_x2", 0).read_text())
    own = json.loads(study.seg_metrics("bicubic_x2", 0).read_text())
    assert {k: sweep[k] for k in ("pacc", "miou", "iou")} == {k: own[k] for k in ("pacc", "miou", "iou")}
