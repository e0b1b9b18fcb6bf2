"""End-to-end: copy the repository to a temp dir and run `dvc repro` on tiny params."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from srseg.layout import list_samples

REPO = Path(__file__).resolve().parents[1]
COPY = ["dvc.yaml", "params.yaml", "pyproject.toml", ".dvc", ".dvcignore", ".gitignore", "stages", "src"]


def _copy_repo(dest: Path, **overrides: object) -> Path:
    dest.mkdir(parents=True)
    for name in COPY:
        src = REPO / name
        if src.is_dir():
            shutil.copytree(src, dest / name,
                            ignore=shutil.ignore_patterns("__pycache__", "*.egg-info", "tmp", "cache"))
        else:
            shutil.copy2(src, dest / name)
    params = yaml.safe_load((dest / "params.yaml").read_text())
    for dotted, value in overrides.items():
        *path, last = dotted.split("__")
        node = params
        for key in path:
            node = node[key]
        node[last] = value
    (dest / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@t"}
    subprocess.run(["git", "init", "-q"], cwd=dest, check=True, env=env)
    return dest


def _dvc(repo: Path, *args: str) -> subprocess.CompletedProcess:
    bindir = Path(sys.executable).parent
    env = {**os.environ, "PATH": f"{bindir}{os.pathsep}{os.environ.get('PATH', '')}", "DVC_NO_ANALYTICS": "1"}
    proc = subprocess.run([str(bindir / "dvc"), *args], cwd=repo, capture_output=True, text=True, env=env)
    assert proc.returncode == 0, f"dvc {' '.join(args)} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc


TINY = {
    "scales": [2, 4],
    "seg__retrain_scales": [4],
    "data__synthetic__width": 96,
    "data__synthetic__height": 48,
    "data__synthetic__train": 3,
    "data__synthetic__val": 2,
}


def test_repro_through_degrade(tmp_path: Path) -> None:
    repo = _copy_repo(tmp_path / "repo", **TINY)
    _dvc(repo, "repro", "degrade")
    data = json.loads((repo / "metrics" / "data.json").read_text())
    assert data["images"] == {"train": 3, "val": 2}
    assert data["hr_size"] == [96, 48]
    for s in (2, 4):
        for split, n in (("train", 3), ("val", 2)):
            assert len(list_samples(repo / f"data/lr/x{s}", split)) == n
            assert len(list_samples(repo / f"data/bicubic/x{s}", split)) == n
    assert not (repo / "data" / "lr" / "x3").exists()
    # Nothing changed → nothing re-runs; a changed scale list re-runs only what it touches.
    out = _dvc(repo, "status", "degrade").stdout
    assert "changed" not in out, out
    # Each scale is its own stage: damaging the ×4 output marks only degrade@4 as changed.
    victim = next((repo / "data/bicubic/x4/leftImg8bit/val").rglob("*.png"))
    victim.unlink()
    out = _dvc(repo, "status", "degrade").stdout
    assert "degrade@4" in out and "degrade@2" not in out, out


def test_repro_the_degradation_sweep(tmp_path: Path) -> None:
    """`dvc repro cliff_degrade`: one val set per factor, at HR size; at ×2 and ×4 the degrade stage's bicubic
    images byte for byte; another factor list re-runs the sweep, not degrade."""
    import numpy as np

    from srseg.io import read_image
    from srseg.paths import Paths

    repo = _copy_repo(tmp_path / "repo", **TINY, cliff__factors=[2, 2.5, 4])
    _dvc(repo, "repro", "cliff_degrade", "degrade")
    paths = Paths(repo)
    assert sorted(p.name for p in paths.cliff_root.iterdir()) == ["x2", "x2.5", "x4"]
    for s in list_samples(paths.raw, "val"):
        hr = read_image(s.image(paths.raw))
        for f in (2, 2.5, 4):
            img = read_image(s.image(paths.cliff(f)))
            assert img.shape == hr.shape and not np.array_equal(img, hr)
        for f in (2, 4):
            assert s.image(paths.cliff(f)).read_bytes() == s.image(paths.bicubic(f)).read_bytes()
    assert not (paths.cliff(2) / "leftImg8bit" / "train").exists()
    text = (repo / "params.yaml").read_text().replace("- 2.5\n", "- 3\n", 1)
    (repo / "params.yaml").write_text(text)
    out = _dvc(repo, "status", "cliff_degrade", "degrade").stdout
    assert "cliff_degrade" in out and "degrade@" not in out, out


@pytest.mark.slow  # trains tiny models (HR PSPNet, SR, the blur fine-tune): ≈ 3 min on 2 busy cores
def test_repro_through_the_sweeps_evaluation(tmp_path: Path) -> None:
    """`dvc repro evaluate_cliff@0` on tiny budgets: the blur-augmented PSPNet trains, and both segmenters are scored
    on every factor's set (the blur-augmented one on SR ×2 and ×4 too), with per-image confusion matrices."""
    from srseg.metrics.seg import load_per_image
    from srseg.paths import Paths

    repo = _copy_repo(tmp_path / "repo", **TINY, cliff__factors=[2, 3.5, 4], seg__train__epochs=1,
                      seg__train__steps_per_epoch=2, seg__train__batch=2, seg__train__crop=32,
                      sr__pretrain__steps=4, sr__pretrain__steps_per_epoch=2, sr__pretrain__batch=2)
    _commit(repo)
    _dvc(repo, "repro", "evaluate_cliff@0")
    paths = Paths(repo)
    names = [f"{seg}_bicubic_x{f}" for seg in ("hr", "blur_aug") for f in ("2", "3.5", "4")]
    names += ["blur_aug_sr_x2", "blur_aug_sr_x4"]
    assert sorted(p.name for p in (paths.cliff_metrics_root / "seed0").iterdir()) == \
        sorted(f"{n}.{ext}" for n in names for ext in ("json", "npz"))
    for n in names:
        ids, cms = load_per_image(paths.cliff_per_image(n, 0))
        assert len(ids) == 2 and cms.sum() > 0
        assert json.loads(paths.cliff_metrics(n, 0).read_text())["n_images"] == 2
    assert paths.seg_model("blur_aug", 0).is_file()


def _files(repo: Path) -> dict[str, bytes]:
    """Every result file (check_params' own marker aside: DVC removes a stage's output before running it)."""
    return {str(p.relative_to(repo)): p.read_bytes() for d in ("data", "metrics") for p in sorted((repo / d).rglob("*"))
            if p.is_file() and p.name != "params.ok"}


def _without(text: str, key: str) -> str:
    raw = yaml.safe_load(text)
    del raw[key]
    return yaml.safe_dump(raw, sort_keys=False)


def test_bad_params_delete_nothing(tmp_path: Path) -> None:
    """A bad value fails the first stage (check_params) before DVC removes any output: every file stays. So do
    values the schema allows that would fail later (an HR crop multiple larger than the images) and a section
    left out (DVC reads it from the file, without srseg's defaults: here download would re-render the data at the
    default size)."""
    repo = _copy_repo(tmp_path / "repo", **TINY)
    _dvc(repo, "repro", "degrade")
    before = _files(repo)
    assert len([f for f in before if f.startswith("data/raw/")]) == 5 * 4  # image, labelIds, trainIds, instanceIds
    text = (repo / "params.yaml").read_text()
    bindir = Path(sys.executable).parent
    cases = [
        (text.replace("seed: 0", "seed: -1", 1), "error: params.yaml: seed: must be a number >= 0 (got -1)"),
        (text.replace("scales:\n- 2\n- 4\n", "scales: [2, 3, 4, 97]\n", 1),
         "error: params.yaml: scales: HR images are cropped to a multiple of lcm(2, 3, 4, 97) = 1164 px, which "
         "leaves nothing of the 96x48 images"),
        (_without(text, "data"), "error: params.yaml: data: missing (dvc.yaml reads data"),
    ]
    for bad, error in cases:
        assert bad != text
        (repo / "params.yaml").write_text(bad)
        proc = subprocess.run([str(bindir / "dvc"), "repro"], cwd=repo, capture_output=True, text=True,
                              env={**os.environ, "PATH": f"{bindir}{os.pathsep}{os.environ['PATH']}"})
        assert proc.returncode != 0
        assert error in proc.stdout + proc.stderr, proc.stdout[-2000:] + proc.stderr[-2000:]
        assert "Running stage 'download'" not in proc.stdout
        assert _files(repo) == before
    # Put right again, only the check comes back (re-run or restored from DVC's run cache): its marker is the
    # same, so nothing downstream is stale.
    (repo / "params.yaml").write_text(text)
    out = _dvc(repo, "repro", "degrade").stdout
    assert "Running stage 'download'" not in out and "Running stage 'degrade" not in out, out
    assert (repo / "data" / "params.ok").is_file() and _files(repo) == before


# --- A stage killed mid-write, then `dvc repro`: the same dvc.lock as a run never killed ------------------------

TINY_X2 = {**TINY, "scales": [2], "seg__retrain_scales": [2], "combine__scales": [2]}


def _hash_tree_stage(repo: Path, *folders: str) -> None:
    """Add a stage to the copy's dvc.yaml that depends on whole top folders, as `summarize` (metrics/sr) and
    `plots` (data/sr, data/pred, …) depend on folders around other stages' outputs: a leftover file anywhere
    under them that DVC hashes changes this stage's entry in dvc.lock. (Run alone, `repro -s`: it would
    otherwise pull in every stage with an output under those folders.)"""
    text = (repo / "dvc.yaml").read_text()
    deps = "".join(f"      - {f}\n" for f in folders)
    stage = f"  hash_tree:\n    cmd: python -c pass\n    deps:\n{deps}"
    (repo / "dvc.yaml").write_text(text.replace("\nstages:\n", f"\nstages:\n{stage}", 1))


def _commit(repo: Path) -> None:
    """DVCLive (training stages) needs a commit in the copy."""
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@t"}
    subprocess.run(["git", "add", "-A"], cwd=repo, check=True, env=env)
    subprocess.run(["git", "commit", "-qm", "copy"], cwd=repo, check=True, env=env)


def _repro_killing(repo: Path, target: str, temp_glob: str) -> Path:
    """`dvc repro target`, SIGKILLing the stage process (DVC's child running stages/*.py) once a file appears
    in its temporary folder ``temp_glob``. Returns the temporary left behind."""
    import psutil  # a DVC dependency

    bindir = Path(sys.executable).parent
    env = {**os.environ, "PATH": f"{bindir}{os.pathsep}{os.environ.get('PATH', '')}", "DVC_NO_ANALYTICS": "1"}
    proc = subprocess.Popen([str(bindir / "dvc"), "repro", target], cwd=repo, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, env=env)
    deadline = time.monotonic() + 300
    while True:
        temps = [t for t in repo.glob(temp_glob) if any(p.is_file() for p in t.rglob("*"))]
        if temps:
            break
        assert proc.poll() is None and time.monotonic() < deadline, \
            f"no file in {temp_glob} before the stage ended:\n{proc.communicate()[0][-3000:]}"
        time.sleep(0.002)
    (temp,) = temps
    stages = [p for p in psutil.Process(proc.pid).children(recursive=True)
              if any(a.startswith("stages/") for a in p.cmdline())]
    assert len(stages) == 1, stages
    stages[0].send_signal(signal.SIGKILL)
    out = proc.communicate(timeout=120)[0]
    assert proc.returncode != 0 and "failed to reproduce" in out, out[-3000:]
    assert temp.is_dir()  # the kill left it, as a crash or an out-of-memory kill would
    return temp


def _leftovers(repo: Path) -> list[str]:
    return [str(p.relative_to(repo)) for d in ("data", "metrics", "models") if (repo / d).exists()
            for p in (repo / d).rglob(".*") if ".tmp-" in p.name or ".old-" in p.name]


def _killed_then_repro_lock(tmp_path: Path, overrides: dict, folders: tuple[str, ...], target: str,
                            temp_glob: str) -> None:
    """An uninterrupted `dvc repro` and a killed one followed by `dvc repro`, each in its own copy; the second's
    dvc.lock has the same entry for every stage (hashes of every dep and output) and no temporary is left."""
    locks = []
    for name in ("uninterrupted", "killed"):
        repo = _copy_repo(tmp_path / name, **overrides)
        _hash_tree_stage(repo, *folders)
        _commit(repo)
        if name == "killed":
            temp = _repro_killing(repo, target, temp_glob)
        _dvc(repo, "repro", target)
        _dvc(repo, "repro", "-s", "hash_tree")
        if name == "killed":
            assert not temp.exists()  # the stage's next write of that output removed the dead writer's temp
        assert _leftovers(repo) == []
        locks.append(yaml.safe_load((repo / "dvc.lock").read_bytes()))
    # Every stage's entry is the same; not the entries' order: DVC writes them in run order, and the order of
    # independent stages (pretrain_sr and download) varies between any two `dvc repro` invocations (hash seed).
    assert locks[0] == locks[1]


def test_a_stage_killed_mid_write_then_repro_gives_the_same_lock(tmp_path: Path) -> None:
    """SIGKILL of `download` while it renders into data/.raw.tmp-PID-*, inside the folder `data` that a stage
    hashes; `dvc repro` re-runs it and every lock entry equals that of a run never killed. (Always run: ≈ 40 s.)"""
    overrides = {**TINY_X2, "data__synthetic__train": 8}
    _killed_then_repro_lock(tmp_path, overrides, ("data",), "download", "data/.raw.tmp-*")


@pytest.mark.slow  # two tiny runs to super_resolve (≈ 45 s each on 2 busy cores)
def test_training_killed_mid_epoch_then_repro_gives_the_same_lock(tmp_path: Path) -> None:
    """SIGKILL of `pretrain_sr` during training, with its DVCLive folder half-written in
    metrics/train/seed0/.sr_x2.tmp-PID-*; the whole tree (data, metrics, models) is hashed."""
    overrides = {**TINY_X2, "sr__pretrain__steps": 20, "sr__pretrain__steps_per_epoch": 5, "sr__pretrain__batch": 4}
    _killed_then_repro_lock(tmp_path, overrides, ("data", "metrics", "models"), "super_resolve",
                            "metrics/train/seed0/.sr_x2.tmp-*")


def _git(repo: Path, *args: str) -> str:
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@t"}
    return subprocess.run(["git", *args], cwd=repo, check=True, env=env, capture_output=True, text=True).stdout


@pytest.mark.slow
def test_remote_push_then_a_fresh_clone_pulls_and_reruns_nothing(tmp_path: Path) -> None:
    """The README's sharing workflow: `dvc remote add -d`, `dvc push`; a fresh `git clone` + `dvc pull` gets every
    output of the commit byte for byte, and `dvc repro` then runs nothing (no TensorFlow stage: kept quick)."""
    repo = _copy_repo(tmp_path / "repo", **TINY)
    _dvc(repo, "repro", "degrade")
    _dvc(repo, "remote", "add", "-d", "store", str(tmp_path / "remote"))
    _git(repo, "add", "-A")
    _git(repo, "commit", "-qm", "run")
    _dvc(repo, "push")
    clone = tmp_path / "clone"
    _git(tmp_path, "clone", "-q", str(repo), str(clone))
    assert not (clone / "data" / "raw").exists()
    # this tiny run ran only up to degrade; a full run's commit: plain `dvc pull`
    _dvc(clone, "pull", "--with-deps", "degrade")
    assert _files(clone) == _files(repo)
    out = _dvc(clone, "repro", "degrade").stdout
    assert "Running stage" not in out, out
    assert "changed" not in _dvc(clone, "status", "degrade").stdout


@pytest.mark.slow  # two queued experiments through the degrade stage (≈ 1 min on 2 cores)
def test_queued_seed_sweep_comes_back(tmp_path: Path) -> None:
    """The README's sweep workflow: `dvc exp run --queue` per seed, `dvc queue start -j 2`, then the results in
    `dvc exp show`, one applied to the workspace (`dvc exp apply`) and one kept as a branch (`dvc exp branch`).
    The pipeline is cut after degrade: applying an experiment checks out every output of the pipeline."""
    repo = _copy_repo(tmp_path / "repo", **TINY)
    pipeline = yaml.safe_load((repo / "dvc.yaml").read_text())
    (repo / "dvc.yaml").write_text(yaml.safe_dump(
        {"stages": {k: pipeline["stages"][k] for k in ("code", "check_params", "download", "degrade")}},
        sort_keys=False))
    _git(repo, "add", "-A")
    _git(repo, "commit", "-qm", "tiny")
    for seed in (1, 2):
        _dvc(repo, "exp", "run", "--queue", "degrade", "-S", f"seed={seed}", "-n", f"seed-{seed}")
    _dvc(repo, "queue", "start", "-j", "2")
    deadline = time.monotonic() + 600
    while "Worker status: 0 active" not in (status := _dvc(repo, "queue", "status").stdout):
        assert time.monotonic() < deadline, status
        time.sleep(2)
    assert status.count("Success") == 2, status
    shown = json.loads(_dvc(repo, "exp", "show", "--json").stdout)
    exps = {e["name"]: e for rev in shown for e in (rev.get("experiments") or [])}
    assert set(exps) == {"seed-1", "seed-2"}
    for name, exp in exps.items():
        params = exp["revs"][0]["data"]["params"]["params.yaml"]["data"]
        assert params["seed"] == int(name[-1])
    _dvc(repo, "exp", "apply", "seed-1")
    assert yaml.safe_load((repo / "params.yaml").read_text())["seed"] == 1
    assert "changed" not in _dvc(repo, "status", "degrade").stdout  # the experiment's outputs came with it
    _dvc(repo, "exp", "branch", "seed-2", "sweep-seed-2")
    assert "sweep-seed-2" in _git(repo, "branch", "--list", "sweep-seed-2")
