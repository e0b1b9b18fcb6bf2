"""benchmarks/bench_degrade.py: runs on a folder of images, and without ../shared stops with one line; bench_sr.py
--memory and bench_segment.py measure the real entry points."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
import yaml

from srseg.io import write_png

REPO = Path(__file__).resolve().parents[1]


def _bench(*argv: str, shared: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SRSEG_SHARED": str(shared),
           "PYTHONPATH": os.pathsep.join([str(REPO / "src"), os.environ.get("PYTHONPATH", "")])}
    return subprocess.run([sys.executable, str(REPO / "benchmarks" / "bench_degrade.py"), *argv], env=env,
                          capture_output=True, text=True, timeout=120)


def test_bench_degrade_without_shared_data_is_one_line(tmp_path: Path) -> None:
    proc = _bench(shared=tmp_path / "missing")
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.splitlines() == [proc.stderr.strip()] and "Traceback" not in proc.stderr
    assert proc.stderr.startswith(f"error: {tmp_path / 'missing' / 'data' / 'sr' / 'set5'}: no such folder")
    assert "SRSEG_SHARED" in proc.stderr and "--images" in proc.stderr


def test_bench_degrade_on_shared_style_folder(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    for i in range(2):
        write_png(tmp_path / "data" / "sr" / "set5" / f"{i}.png", rng.integers(0, 256, (24, 36, 3), dtype=np.uint8))
    proc = _bench("--scales", "2", "--repeat", "1", shared=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith(f"2 images from {tmp_path / 'data' / 'sr' / 'set5'}")
    assert proc.stdout.splitlines()[-1].split()[0] == "x2"


def _time_repro() -> ModuleType:
    """benchmarks/time_repro.py as a module (it is a script, not part of the package)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("time_repro", REPO / "benchmarks" / "time_repro.py")
    tr = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tr)
    return tr


def test_time_repro_lines_up_renamed_stages() -> None:
    """The two-commit comparison groups stages by kind: the old single evaluate_seg matrix and the per-method
    evaluate stages are one kind; stages a commit adds are reported apart from the study's."""
    tr = _time_repro()
    assert tr.kind("evaluate_seg@sr-4") == tr.kind("evaluate_sr@4-0") == tr.kind("evaluate_seg_hr") == "evaluate"
    assert tr.kind("evaluate_task_sr@4-0") == "evaluate_task_sr" and tr.kind("train_seg@0") == "train_seg"
    old = {"rev": "a", "total": 100.0,
           "stages": [("(start-up)", 2.0), ("train_seg", 60.0), ("evaluate_seg@sr-4", 38.0)]}
    new = {"rev": "b", "total": 90.0, "stages": [("(start-up)", 2.0), ("train_seg@0", 40.0), ("evaluate_sr@4-0", 18.0),
                                                 ("task_sr@4-0", 30.0)]}
    c = tr.compare(old, new)
    assert c["study_seconds"] == [100.0, 60.0] and c["study_ratio"] == 0.6 and c["added_seconds"] == 30.0


def test_time_repro_runs_commits_in_the_users_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The script imports srseg, which quiets TensorFlow's logs in its own process; the timed `dvc repro` gets the
    environment the user started it with (an old commit's stages would otherwise run with other settings)."""
    import srseg

    tr = _time_repro()
    key = "TF_CPP_MIN_LOG_LEVEL"
    monkeypatch.setenv(key, "3")  # as srseg sets it, or as the user did (then it must reach the child)
    tr.run_timed(["sh", "-c", f"echo ${{{key}:-unset}}"], tmp_path, tmp_path / "log")
    assert (tmp_path / "log").read_text().strip() == ("unset" if key in srseg.QUIETED else "3")


def test_time_repro_reads_the_flags_that_decide_the_kernels(tmp_path: Path) -> None:
    """The header's CPU flags come from the cpuinfo "flags" line, whole words only."""
    tr = _time_repro()
    info = tmp_path / "cpuinfo"
    info.write_text("processor\t: 0\nmodel name\t: Test CPU\nflags\t\t: fpu avx2 avx512f avx512_vnni_x amx_bf16\n")
    flags = tr._cpu_flags(info)
    assert list(flags) == list(tr.CPU_FLAGS)
    assert {f for f, on in flags.items() if on} == {"avx2", "avx512f", "amx_bf16"}
    assert tr._cpu_flags(tmp_path / "missing") == {}


def test_time_repro_sets_params_of_the_clone_keeping_comments(tmp_path: Path) -> None:
    """--set edits the clone's params.yaml like `dvc exp run -S`: typed values, nested keys, comments kept; a key the
    file does not have, or an item without '=', is an error."""
    tr = _time_repro()
    params = tmp_path / "params.yaml"
    url = "https://example.org/" + "a" * 100
    before = (f"seeds: [0]   # training runs\nruntime:\n  precision:   # policies\n    seg: float32\n"
              f"data:\n  path: null             # a comment after a null\n  url: {url}\n")
    params.write_text(before)
    tr.set_params(params, tr.parse_sets(["runtime.precision.seg=mixed_bfloat16", "seeds=[0, 1]"]))
    text = params.read_text()
    assert yaml.safe_load(text) == {"seeds": [0, 1], "runtime": {"precision": {"seg": "mixed_bfloat16"}},
                                    "data": {"path": None, "url": url}}
    changed = [(a, b) for a, b in zip(before.splitlines(), text.splitlines(), strict=False) if a != b]
    assert len(text.splitlines()) == len(before.splitlines()) and [b for _, b in changed] == [
        "seeds: [0, 1] # training runs", "    seg: mixed_bfloat16"], changed  # every other line as it was
    with pytest.raises(KeyError, match="no key runtime.precision.segm"):
        tr.set_params(params, {"runtime.precision.segm": "float32"})
    with pytest.raises(KeyError, match="no key seeds.x"):
        tr.set_params(params, {"seeds.x": "1"})
    with pytest.raises(ValueError, match="expected KEY=VALUE"):
        tr.parse_sets(["runtime.precision.seg"])


def test_time_repro_refuses_a_wrong_key_before_running(tmp_path: Path) -> None:
    """A --set key that HEAD's params.yaml lacks stops the script with one line, before any clone or run."""
    proc = subprocess.run([sys.executable, str(REPO / "benchmarks" / "time_repro.py"), "--set", "runtime.nope=1"],
                          cwd=REPO, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.strip().splitlines()[-1].endswith("params.yaml has no key runtime.nope")


@pytest.mark.skipif(not Path("/proc/cpuinfo").exists() or os.uname().machine != "x86_64",
                    reason="TensorFlow's default-kernel rule read here is the Linux x86 one")
def test_time_repro_names_the_kernels_tensorflow_picks_here() -> None:
    """What a commit without runtime.cpu_kernels ran with (9ccf2b1): TensorFlow's own pick, from the CPU flags.
    Asked of a fresh TensorFlow, it agrees with the rule the README states (oneDNN with any of the flags)."""
    tr = _time_repro()
    expected = "onednn" if any(tr._cpu_flags()[f] for f in tr.ONEDNN_DEFAULT_FLAGS) else "eigen"
    assert tr._tensorflow_default_kernels() == expected


@pytest.mark.slow  # four TensorFlow start-ups (≈ 1 min on 2 busy cores)
def test_bench_sr_memory_runs_the_real_entry_points(tmp_path: Path) -> None:
    """bench_sr.py --memory (issue 10.5) measures `srseg upscale` and the super_resolve stage script in child
    processes; at 128×128 both must succeed and report a peak RSS of a process that loaded TensorFlow."""
    out = tmp_path / "mem.json"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO / "src"), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run([sys.executable, str(REPO / "benchmarks" / "bench_sr.py"), "--memory", "--mp", "0",
                           "--json", str(out)], cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    rows = json.loads(out.read_text())["memory"]
    assert [(r["entry"], r["size"]) for r in rows] == [("upscale", [128, 128]), ("super_resolve", [128, 128])]
    assert all(200 < r["peak_rss_mb"] < 1536 for r in rows), rows
    assert "load average" in proc.stdout


@pytest.mark.slow
def test_bench_segment_runs_the_real_command(tmp_path: Path) -> None:
    """bench_segment.py (issue 31) measures `srseg segment` in a child process, passing on its own arguments."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO / "src"), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run([sys.executable, str(REPO / "benchmarks" / "bench_segment.py"), "--mp", "0", "--",
                           "--window", "64"], cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "`srseg segment --window 64`" in proc.stdout and "128x128 ( 0.02 MP): peak RSS" in proc.stdout
