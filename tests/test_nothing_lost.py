"""Nothing lost: `dvc repro` in a small copy, with a params.yaml that DVC cannot parse, bad local data, and a stage
that fails, leaves every existing output as it was and says what is wrong in one line."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.dvc_graph import REPO
from tests.test_pipeline_e2e import TINY, _copy_repo, _dvc

BINDIR = Path(sys.executable).parent


def _run(repo: Path, *argv: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PATH": f"{BINDIR}{os.pathsep}{os.environ.get('PATH', '')}", "DVC_NO_ANALYTICS": "1"}
    return subprocess.run(argv, cwd=repo, capture_output=True, text=True, env=env)


def _snapshot(repo: Path) -> dict[str, Any]:
    """Every file outside the copied sources and .dvc/ (outputs, the check's marker), and every lock entry but
    check_params' (which records the params.yaml it checked when it ran)."""
    skip = ("src", "stages", ".dvc", ".git")
    files: dict[str, Any] = {str(p.relative_to(repo)): p.read_bytes() for p in sorted(repo.rglob("*"))
                             if p.is_file() and p.relative_to(repo).parts[0] not in skip
                             and p.name not in ("params.yaml", "dvc.lock")}
    lock = yaml.safe_load((repo / "dvc.lock").read_text())["stages"]
    files["dvc.lock"] = {name: entry for name, entry in lock.items() if name != "check_params"}
    return files


@pytest.fixture(scope="module")
def degraded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small copy after `dvc repro degrade` (code, check_params, download, degrade@2, degrade@4)."""
    repo = _copy_repo(tmp_path_factory.mktemp("nothing-lost") / "repo", **TINY)
    _dvc(repo, "repro", "degrade")
    return repo


@pytest.fixture
def repo(degraded: Path, tmp_path: Path) -> Path:
    """A writable copy of :func:`degraded` (DVC's cache and lock included)."""
    dest = tmp_path / "repo"
    shutil.copytree(degraded, dest, symlinks=True)
    return dest


def _edit(repo: Path, change: Callable[[dict[str, Any]], None]) -> None:
    raw = yaml.safe_load((repo / "params.yaml").read_text())
    change(raw)
    (repo / "params.yaml").write_text(yaml.safe_dump(raw, sort_keys=False))


def _set(key: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def change(raw: dict[str, Any]) -> None:
        *parents, last = key.split(".")
        node = raw
        for part in parents:
            node = node[part]
        node[last] = value
    return change


def _drop(key: str) -> Callable[[dict[str, Any]], None]:
    def change(raw: dict[str, Any]) -> None:
        *parents, last = key.split(".")
        node = raw
        for part in parents:
            node = node[part]
        del node[last]
    return change


def _one_error_line(text: str) -> str:
    """The only ``error:`` line of a stage's or the CLI's output (no traceback)."""
    assert "Traceback" not in text, text[-3000:]
    lines = [ln for ln in text.splitlines() if ln.startswith("error: ")]
    assert len(lines) == 1, text[-3000:]
    return lines[0]


@pytest.mark.parametrize(
    ("change", "dvc_says", "error"),
    [
        (_set("seeds", 0), "'Value' object is not iterable",
         "error: params.yaml: seeds: must be a list of distinct integers >= 0, e.g. [0]: dvc.yaml runs pretrain_sr "
         "and "),
        (_set("seg.retrain_scales", 4), "'Value' object is not iterable",
         "error: params.yaml: seg.retrain_scales: must be a list of distinct integers out of scales, e.g. [4]: "),
        (_drop("scales"), "Could not find 'scales'",
         "error: params.yaml: scales: missing (dvc.yaml reads scales; the default params.yaml has every key)"),
        (_set("combine", None), "Could not find 'combine.scales'",
         "error: params.yaml: combine: must be a mapping of keys to values, as in the default params.yaml (got None)"),
    ],
)
def test_what_dvc_cannot_parse_deletes_nothing_and_check_params_names_the_key(
        repo: Path, change: Callable[[dict[str, Any]], None], dvc_says: str, error: str) -> None:
    """DVC expands the matrix variables while it parses dvc.yaml: it stops before any stage runs (so before
    check_params) with its own message, and deletes nothing; `srseg check-params` names the key in one line."""
    before = _snapshot(repo)
    _edit(repo, change)
    proc = _run(repo, str(BINDIR / "dvc"), "repro")
    assert proc.returncode != 0 and dvc_says in proc.stderr + proc.stdout, proc.stdout + proc.stderr
    assert "Running stage" not in proc.stdout
    assert _snapshot(repo) == before  # the check's own marker too: no stage ran
    check = _run(repo, sys.executable, "-m", "srseg.cli", "check-params")
    assert check.returncode == 2
    assert check.stderr.strip().startswith(error) and len(check.stderr.strip().splitlines()) == 1, check.stderr


def _camvid_with_a_truncated_png(root: Path) -> tuple[dict[str, Any], Path]:
    from tests.sources.test_camvid import _make_layout

    folder = _make_layout(root / "CamVid")
    bad = folder / "train" / "0001TP_006720.png"
    bad.write_bytes(bad.read_bytes()[:200])
    return {"source": "camvid", "camvid": {"path": str(folder)}}, bad


def _cityscapes_tree_with_a_truncated_png(root: Path) -> tuple[dict[str, Any], Path]:
    from tests.sources.test_cityscapes import _write_tree

    tree = _write_tree(root / "cityscapes")
    bad = next((tree / "gtFine" / "val").rglob("*_gtFine_labelIds.png"))
    bad.write_bytes(bad.read_bytes()[:100])
    return {"source": "cityscapes", "cityscapes": {"path": str(tree)}}, bad


@pytest.mark.parametrize("make", [_camvid_with_a_truncated_png, _cityscapes_tree_with_a_truncated_png])
def test_bad_local_data_keeps_data_raw(repo: Path, tmp_path: Path,
                                       make: Callable[[Path], tuple[dict[str, Any], Path]]) -> None:
    """A truncated PNG in a local CamVid folder or Cityscapes tree passes check_params (reading every image is no
    check of params) and stops `download` with one line naming the file. Its outputs are persisted, so DVC does not
    delete them first, and download replaces data/raw only once every image is read: data/raw, metrics/data.json and
    everything after them stay, still matching dvc.lock."""
    before = _snapshot(repo)
    data, bad = make(tmp_path)
    _edit(repo, lambda raw: raw["data"].update(source=data["source"], **{data["source"]: {
        **raw["data"][data["source"]], **data[data["source"]]}}))
    proc = _run(repo, str(BINDIR / "dvc"), "repro", "degrade")
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0 and "Running stage 'download'" in proc.stdout, out[-3000:]
    line = _one_error_line(out)
    assert line.startswith(f"error: {bad}: ") and "truncated" in line, line
    assert _snapshot(repo) == before
    status = _dvc(repo, "status", "download").stdout
    assert "changed outs" not in status, status  # what is there is what dvc.lock records


def test_a_failing_plots_stage_keeps_report_and_figures(repo: Path) -> None:
    """report.md and plots/figures are uncached (git keeps them), so DVC could never restore them: a plots stage
    that fails (here on a summary of another schema) leaves them as they were."""
    for folder in ("data/sr/seed0/x2", "data/pred/seed0/hr", "plots/series"):
        (repo / folder).mkdir(parents=True)
        (repo / folder / "stand-in").write_text("x")
    (repo / "metrics" / "summary.json").write_text("{}\n")
    shutil.copy2(REPO / "report.md", repo / "report.md")
    shutil.copytree(REPO / "plots" / "figures", repo / "plots" / "figures")
    before = _snapshot(repo)
    assert "report.md" in before and len([f for f in before if f.startswith("plots/figures/")]) >= 10
    proc = _run(repo, str(BINDIR / "dvc"), "repro", "--single-item", "plots")
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0 and "Running stage 'plots'" in proc.stdout, out[-3000:]
    assert _one_error_line(out).startswith("error: metrics/summary.json: ")
    assert _snapshot(repo) == before


def test_a_failing_training_stage_keeps_its_model_and_logs(repo: Path) -> None:
    """The model (cached) and its DVCLive logs (uncached) of an earlier training stay when the stage fails: here on
    `seg.weights` naming no file, before TensorFlow loads (an out-of-memory kill an hour in is the same case)."""
    model = repo / "models" / "seg" / "seed0" / "hr.keras"
    logs = repo / "metrics" / "train" / "seed0" / "seg_hr"
    for path, text in ((model, "an earlier model"), (logs / "metrics.json", "{}\n"),
                       (logs / "plots" / "metrics" / "train" / "loss.tsv", "step\tloss\n0\t1.0\n")):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    _edit(repo, _set("seg.weights", "no-such-model.keras"))
    before = _snapshot(repo)
    proc = _run(repo, str(BINDIR / "dvc"), "repro", "train_seg@0")
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0 and "Running stage 'train_seg@0'" in proc.stdout, out[-3000:]
    assert _one_error_line(out) == "error: no-such-model.keras: segmentation model not found"
    assert _snapshot(repo) == before
