"""dvc.yaml spells out srseg.paths: every stage's outputs and data deps are what the library reads and writes, for
every matrix item, and every registered method has its evaluation stage."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from srseg.methods import registry as methods
from srseg.params import Params, load_params
from srseg.paths import Paths
from tests.dvc_graph import REPO, rendered_stages


def _s(p: Path) -> str:
    return p.as_posix()


def expected(params: Params) -> dict[str, dict[str, list[str]]]:
    """{stage: {"outs", "metrics", "plots", "data"}} from srseg.paths and srseg.methods (data: non-code deps)."""
    P = Paths()
    exp: dict[str, dict[str, list[Path]]] = {
        "code": {"outs": [Path("data/code")], "metrics": [], "plots": [], "data": []},
        "check_params": {"outs": [P.params_ok], "metrics": [], "plots": [], "data": [Path("params.yaml")]},
        "download": {"outs": [P.raw, P.data_metrics], "metrics": [], "plots": [], "data": [P.params_ok]},
        "summarize": {"outs": [P.summary, P.headline, P.series], "metrics": [], "plots": [],
                      "data": [Path("metrics/sr"), Path("metrics/seg"), Path("metrics/train"), P.cliff_metrics_root]},
        "cliff_degrade": {"outs": [P.cliff_root], "metrics": [], "plots": [], "data": [P.raw]},
        "plots": {"outs": [P.figures, P.report], "metrics": [], "plots": [],
                  "data": [P.summary, P.series, P.raw, Path("data/bicubic"), Path("data/sr"), Path("data/pred")]},
    }
    for s in params.scales:
        exp[f"degrade@{s}"] = {"outs": [P.lr(s), P.bicubic(s), P.image_quality(f"bicubic_x{s}", None)],
                               "metrics": [], "plots": [], "data": [P.raw]}
    for k in params.seeds:
        for s in params.scales:
            log = P.train_log(f"sr_x{s}", k)
            exp[f"pretrain_sr@{s}-{k}"] = {"outs": [P.sr_model(s, k), log / "metrics.json", log / "plots"],
                                           "metrics": [], "plots": [], "data": [P.params_ok]}
            exp[f"super_resolve@{s}-{k}"] = {"outs": [P.sr(s, k), P.image_quality(f"sr_x{s}", k)], "metrics": [],
                                             "plots": [], "data": [P.sr_model(s, k), P.raw, P.lr(s)]}
        log = P.train_log("seg_hr", k)
        exp[f"train_seg@{k}"] = {"outs": [P.seg_model("hr", k), log / "metrics.json", log / "plots"], "metrics": [],
                                 "plots": [], "data": [P.raw]}
        log = P.train_log("seg_blur_aug", k)
        exp[f"train_blur_aug@{k}"] = {"outs": [P.seg_model("blur_aug", k), log / "metrics.json", log / "plots"],
                                      "metrics": [], "plots": [], "data": [P.raw, P.seg_model("hr", k)]}
        exp[f"evaluate_cliff@{k}"] = {"outs": [P.cliff_metrics_root / f"seed{k}"], "metrics": [], "plots": [],
                                      "data": [P.raw, P.cliff_root, P.sr_root(k), P.seg_model("hr", k),
                                               P.seg_model("blur_aug", k)]}
        for s in params.seg.retrain_scales:
            log = P.train_log(f"seg_retrain_sr_x{s}", k)
            exp[f"retrain_seg@{s}-{k}"] = {"outs": [P.seg_model(f"retrain_sr_x{s}", k), log / "metrics.json",
                                                    log / "plots"], "metrics": [], "plots": [],
                                           "data": [P.raw, P.sr(s, k), P.seg_model("hr", k)]}
        for s in params.combine.scales:
            log = P.train_log(f"seg_retrain_bicubic_x{s}", k)
            exp[f"retrain_bicubic@{s}-{k}"] = {"outs": [P.seg_model(f"retrain_bicubic_x{s}", k), log / "metrics.json",
                                                        log / "plots"], "metrics": [], "plots": [],
                                               "data": [P.raw, P.bicubic(s), P.seg_model("hr", k)]}
            for method, stage, extra in (("ft_sr", "finetune_sr", []), ("task_sr", "task_sr", [P.seg_model("hr", k)]),
                                         ("sft_sr", "sft_sr", [P.seg_model("hr", k),
                                                               P.seg_model(f"retrain_bicubic_x{s}", k)]),
                                         ("sft_oracle", "sft_oracle", [])):
                log = P.train_log(f"{method}_x{s}", k)
                exp[f"{stage}@{s}-{k}"] = {
                    "outs": [P.method_sr_model(method, s, k), P.method_images(method, s, k),
                             P.image_quality(f"{method}_x{s}", k), log / "metrics.json", log / "plots"],
                    "metrics": [], "plots": [],
                    "data": [P.raw, P.lr(s), P.bicubic(s), P.sr_model(s, k)] + extra}
            for method, seg_log in (("jointed", False), ("separate_ft", True)):  # DCSCN and PSPNet fine-tuned
                log, v = P.train_log(f"{method}_x{s}", k), f"{method}_x{s}"
                logs = [log, P.train_log(f"seg_{v}", k)] if seg_log else [log]
                exp[f"{method}@{s}-{k}"] = {
                    "outs": [P.method_sr_model(method, s, k), P.method_images(method, s, k), P.seg_model(v, k),
                             P.image_quality(v, k), *(g / "metrics.json" for g in logs), *(g / "plots" for g in logs)],
                    "metrics": [], "plots": [],
                    "data": [P.raw, P.lr(s), P.bicubic(s), P.sr_model(s, k), P.seg_model("hr", k)]}
            log = P.train_log(f"seg_joint_x{s}", k)
            exp[f"train_joint@{s}-{k}"] = {"outs": [P.seg_model(f"joint_x{s}", k), P.image_quality(f"joint_x{s}", k),
                                                    log / "metrics.json", log / "plots"], "metrics": [], "plots": [],
                                           "data": [P.raw, P.lr(s), P.seg_model("hr", k)]}
            for name in ("joint_ce", "lr_pspnet"):  # the CE-only models it is ranked against: no SR head
                log = P.train_log(f"seg_{name}_x{s}", k)
                exp[f"train_{name}@{s}-{k}"] = {"outs": [P.seg_model(f"{name}_x{s}", k), log / "metrics.json",
                                                         log / "plots"], "metrics": [], "plots": [],
                                                "data": [P.raw, P.lr(s), P.seg_model("hr", k)]}
        for m, s in methods.active(params):
            name = m.eval_stage + ("" if s is None else f"@{s}") + f"{'@' if s is None else '-'}{k}"
            data = [P.raw] + ([] if m.images == "raw" else [m.image_root(P, s, k)]) + [m.model_path(P, s, k)]
            v = m.variant(s)
            exp[name] = {"outs": [P.predictions(v, k), P.seg_metrics(v, k), P.seg_per_image(v, k)], "metrics": [],
                         "plots": [], "data": data}
    return {name: {key: [_s(p) for p in v] for key, v in e.items()} for name, e in exp.items()}


def _check(repo: Path) -> None:
    params = load_params(repo / "params.yaml")
    stages = rendered_stages(repo)
    exp = expected(params)
    assert sorted(stages) == sorted(exp)
    for name, e in exp.items():
        got = stages[name]
        for key in ("outs", "metrics", "plots"):
            assert got[key] == e[key], (name, key)
        data = [d for d in got["deps"] if not d.startswith(("src/", "stages", "data/code/"))]
        assert data == e["data"], (name, data)


def test_dvc_yaml_follows_srseg_paths() -> None:
    _check(REPO)


def test_top_level_metrics_are_the_headline_only() -> None:
    """`dvc exp show` columns: the headline numbers, not per-class detail or DVCLive's step."""
    dvc_yaml = yaml.safe_load((REPO / "dvc.yaml").read_text())
    assert dvc_yaml["metrics"] == [_s(Paths().headline)]
    assert all(not s["metrics"] for s in rendered_stages().values())


def test_matrices_follow_other_params(tmp_path: Path) -> None:
    """Other scales, seeds and retrain scales re-plan every matrix stage with the same paths."""
    repo = tmp_path / "repo"
    repo.mkdir()
    shutil.copy2(REPO / "dvc.yaml", repo)
    raw = yaml.safe_load((REPO / "params.yaml").read_text())
    raw.update(scales=[2, 4, 8], seeds=[0, 3])
    raw["seg"]["retrain_scales"] = [2, 8]
    raw["combine"]["scales"] = [4, 8]
    (repo / "params.yaml").write_text(yaml.safe_dump(raw))
    subprocess.run(["git", "init", "-q"], cwd=repo, check=True)
    subprocess.run(["dvc", "init", "-q"], cwd=repo, check=True)
    _check(repo)
    assert "evaluate_retrain_sr_on_hr@8-3" in rendered_stages(repo)


def test_params_are_checked_before_any_stage() -> None:
    """Every stage runs after check_params (directly or through its inputs), so a bad params.yaml stops `dvc
    repro` before DVC removes any output."""
    stages = rendered_stages()
    producer = {o: n for n, s in stages.items() for o in s["outs"] + s["metrics"] + s["plots"]}

    def upstream(name: str, seen: set[str]) -> set[str]:
        for dep in stages[name]["deps"]:
            for out, stage in producer.items():
                if (dep == out or dep.startswith(out + "/") or out.startswith(dep + "/")) and stage not in seen:
                    seen.add(stage)
                    upstream(stage, seen)
        return seen

    for name in stages:
        if name not in ("check_params", "code"):  # code reads no params: it fingerprints the source files
            assert "check_params" in upstream(name, set()), f"{name} can run before check_params"
    assert not stages["code"]["params"]


@pytest.mark.parametrize("method", sorted(methods.METHODS))
def test_every_method_has_its_evaluation_stage(method: str) -> None:
    m = methods.get(method)
    stages = rendered_stages()
    items = {n.split("@")[1]: s["cmd"] for n, s in stages.items() if n.split("@")[0] == m.eval_stage}
    assert items, f"no {m.eval_stage} stage in dvc.yaml"
    P = Paths()
    for item, cmd in items.items():
        scale, seed = (None, int(item)) if m.scales is None else map(int, item.split("-"))
        assert (f"--variant {m.variant(scale)} --images {_s(m.image_root(P, scale, seed))} "
                f"--model {_s(m.model_path(P, scale, seed))} --seed {seed}") in cmd, cmd
        assert ("--input-scale" in cmd) == (m.input_scale(scale) != 1)


def test_artifacts_are_the_default_runs_models() -> None:
    """`artifacts:` names every .keras file the default params train (seed 0), each the output of its stage, with
    names DVC accepts; DVC itself reads the block."""
    from dvc.repo import Repo
    from dvc.repo.artifacts import name_is_compatible

    declared = yaml.safe_load((REPO / "dvc.yaml").read_text())["artifacts"]
    outs = {o for s in rendered_stages().values() for o in s["outs"] if o.endswith(".keras")}
    assert {a["path"] for a in declared.values()} == outs
    assert all(name_is_compatible(n) and a["type"] == "model" and a["desc"] for n, a in declared.items())
    params = load_params(REPO / "params.yaml")
    assert Paths().sr_model(4, params.seeds[0]).as_posix() == declared["sr-x4"]["path"]
    with Repo(str(REPO)) as repo:
        read = repo.artifacts.read()
    assert set(read["dvc.yaml"]) == set(declared)


def _readme_exp_show_lines() -> list[list[str]]:
    """The `dvc exp show --drop … --keep …` lines of the README (the documented readable tables)."""
    import shlex

    lines = [ln.split("  #")[0].strip() for ln in (REPO / "README.md").read_text().splitlines()
             if ln.startswith("dvc exp show --drop")]
    assert lines, "the README shows no readable `dvc exp show` line"
    return [shlex.split(ln) for ln in dict.fromkeys(lines)]


@pytest.fixture(scope="module")
def exp_repo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """A repository with a headline from the summarize stage (on hand-made evaluations), the project's params and
    an experiment named as a queued seed would be; its workspace then gets the project's dvc.yaml, so `dvc exp show`
    has every param and dependency column a real checkout has."""
    import json
    import os
    import sys

    from srseg.results.summary import run as summarize
    from tests.results.test_summary import params_for, write_metrics

    repo = tmp_path_factory.mktemp("exp") / "repo"
    write_metrics(repo, [2, 3, 4], [4])
    summarize(params_for([2, 3, 4], [4]), Paths(repo))
    shutil.copy2(REPO / "params.yaml", repo)
    (repo / "dvc.yaml").write_text(yaml.safe_dump({"metrics": [_s(Paths().headline)]}))
    bindir = Path(sys.executable).parent
    env = {**os.environ, "PATH": f"{bindir}{os.pathsep}{os.environ['PATH']}", "COLUMNS": "120",
           "DVC_NO_ANALYTICS": "1", "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@t"}
    for cmd in (["git", "init", "-q"], ["dvc", "init", "-q"], ["git", "add", "-A"], ["git", "commit", "-qm", "run"]):
        subprocess.run(cmd, cwd=repo, env=env, check=True)
    headline_path = Paths(repo).headline
    committed = headline_path.read_text()
    changed = json.loads(committed)
    changed["sr_x3"] |= {"pacc_pp_lower": -0.5, "verdict": "none"}  # a verdict that flips in the experiment
    headline_path.write_text(json.dumps(changed))
    subprocess.run(["dvc", "exp", "save", "-q", "-n", "seed-3"], cwd=repo, env=env, check=True)
    headline_path.write_text(committed)
    shutil.copy2(REPO / "dvc.yaml", repo)
    return repo, env


@pytest.mark.parametrize("argv", _readme_exp_show_lines(), ids=lambda a: a[-1][:40])
def test_readme_exp_show_fits_120_columns(exp_repo: tuple[Path, dict[str, str]], argv: list[str]) -> None:
    """Each documented `dvc exp show` line, on a headline with an experiment beside it, fits a 120-column terminal
    with every kept column whole (no "…"), and shows its values and verdicts; a plain `dvc exp show` does not."""
    import json

    repo, env = exp_repo
    headline = json.loads(Paths(repo).headline.read_text())

    def show(*args: str) -> str:
        return subprocess.run([*args, "--no-pager"], cwd=repo, env=env, check=True, capture_output=True,
                              text=True).stdout

    assert "…" in show("dvc", "exp", "show")  # hundreds of params and dependency hashes
    out = show(*argv)
    lines = out.splitlines()
    assert max(map(len, lines)) <= 120 and "…" not in out, out
    rows = [ln for ln in lines if ln.strip() and not ln.strip().startswith("─")]
    assert len(rows) == 4 and "[seed-3]" in rows[-1], out  # header, workspace, main, the experiment
    header = rows[0].split()
    keep = argv[argv.index("--keep") + 1]
    assert header[0] == "Experiment" and len(header) >= 4 and all(re.match(keep, h) for h in header), header
    for column in header[1:]:
        variant, key = column.split(".")
        assert str(headline[variant][key]) in rows[1], (column, out)
    if "sr_x3.verdict" in header:
        assert rows[-1].split()[header.index("sr_x3.verdict") + 2] == "none", out  # └── <rev> [seed-3] …
