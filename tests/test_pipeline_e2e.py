"""End-to-end: copy the repository to a temp dir and run `dvc repro` on tiny params."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
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
            shutil.copytree(src, dest / name, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info", "tmp", "cache"))
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


def _files(repo: Path) -> dict[str, bytes]:
    """Every result file (check_params' own marker aside: DVC removes a stage's output before running it)."""
    return {str(p.relative_to(repo)): p.read_bytes() for d in ("data", "metrics") for p in sorted((repo / d).rglob("*"))
            if p.is_file() and p.name != "params.ok"}


def test_bad_params_delete_nothing(tmp_path: Path) -> None:
    """A bad value fails the first stage (check_params) before DVC removes any output: every file stays."""
    repo = _copy_repo(tmp_path / "repo", **TINY)
    _dvc(repo, "repro", "degrade")
    before = _files(repo)
    assert len([f for f in before if f.startswith("data/raw/")]) == 5 * 4  # image, labelIds, trainIds, instanceIds
    text = (repo / "params.yaml").read_text()
    (repo / "params.yaml").write_text(text.replace("seed: 0", "seed: -1", 1))
    bindir = Path(sys.executable).parent
    proc = subprocess.run([str(bindir / "dvc"), "repro"], cwd=repo, capture_output=True, text=True,
                          env={**os.environ, "PATH": f"{bindir}{os.pathsep}{os.environ['PATH']}"})
    assert proc.returncode != 0
    assert "error: params.yaml: seed: must be a number >= 0 (got -1)" in proc.stdout + proc.stderr
    assert _files(repo) == before
    # Put right again, only the check comes back (re-run or restored from DVC's run cache): its marker is the
    # same, so nothing downstream is stale.
    (repo / "params.yaml").write_text(text)
    out = _dvc(repo, "repro", "degrade").stdout
    assert "Running stage 'download'" not in out and "Running stage 'degrade" not in out, out
    assert (repo / "data" / "params.ok").is_file() and _files(repo) == before
