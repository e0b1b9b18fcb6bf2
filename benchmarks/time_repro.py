"""Wall time of the whole default pipeline, per stage, from a fresh clone; two commits side by side.

Clones each ``--rev`` of this repository (HEAD unless given) into a temporary folder (nothing of this checkout's
data, DVC cache or models comes along), runs ``dvc repro --force`` there and prints each stage's wall time and the
total. ``--force`` because a clone holds the committed cache-free outputs (metrics, plots): when the re-run
reproduces them exactly, plain ``dvc repro`` skips ``summarize`` and ``plots`` and the total would miss them.

With two revisions (``--rev A --rev B``) they run one after the other on this machine, A first, and the
comparison groups the stages by kind so that renamed stages still line up (``evaluate_seg@sr-4`` of an old
commit and ``evaluate_sr@4-0`` of a new one are both "evaluate"). The ratio B/A is given for the stages that
both commits have ("the study's stages"), and separately for what B adds (the combination methods). Run it on
an otherwise idle machine; the load average before and after each run is printed. ``--keep`` keeps the clones,
where ``git status`` / ``dvc metrics diff`` show whether a run reproduced its commit's committed results.

The ratio depends on the machine, and the header says what it depends on: the CPU's vector and bfloat16 flags, and
the CPU kernels TensorFlow picks by itself there. A commit without ``runtime.cpu_kernels`` (9ccf2b1) runs with
TensorFlow's own choice: oneDNN where the CPU has AVX-512 VNNI, AVX-512 BF16, AVX-VNNI or AMX (recent Intel, AMD
Zen 4 and newer), Eigen elsewhere; today's commits pin oneDNN. Where TensorFlow picks Eigen, the newer commits gain
the oneDNN speed-up on top of their own.

    python benchmarks/time_repro.py                              # HEAD
    python benchmarks/time_repro.py --rev 9ccf2b1 --rev HEAD     # the budget as a ratio
    python benchmarks/time_repro.py --rev $(git stash create)   # uncommitted work
    python benchmarks/time_repro.py --rev 9ccf2b1 --rev HEAD --set runtime.precision.seg=mixed_bfloat16

``--set KEY=VALUE`` (repeatable) changes a param of the last ``--rev`` only, in its clone's ``params.yaml`` (comments
kept), as ``dvc exp run -S`` would: e.g. today's commit in bfloat16 against the 2019 study. Every key must exist in
that commit's ``params.yaml``; a wrong one stops the script before anything runs.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import srseg
from srseg.runtime import cpu_features

STAGE_LINE = re.compile(r"^Running stage '([^']+)'")
#: Stage kinds of the 2019 study's pipeline (the stages commit 9ccf2b1 has), whatever a commit calls them.
STUDY_KINDS = ("check_params", "download", "degrade", "pretrain_sr", "super_resolve", "train_seg", "retrain_seg",
               "evaluate", "summarize", "plots")
#: Evaluation stages of the study's variants (other evaluate_* stages belong to methods a commit adds).
STUDY_EVALUATIONS = ("evaluate_seg", "evaluate_seg_hr", "evaluate_hr", "evaluate_bicubic", "evaluate_sr",
                     "evaluate_retrain_sr", "evaluate_retrain_sr_on_hr")
#: /proc/cpuinfo flags with which TensorFlow turns oneDNN on by itself on Linux x86 (its DefaultOneDnnPolicy).
ONEDNN_DEFAULT_FLAGS = ("avx512_vnni", "avx512_bf16", "avx_vnni", "amx_tile", "amx_int8", "amx_bf16")
#: Flags the header shows: the vector width, and those that decide TensorFlow's kernels and bfloat16's speed.
CPU_FLAGS = ("avx2", "avx512f", *ONEDNN_DEFAULT_FLAGS)


def kind(stage: str) -> str:
    """The stage's kind: its name without the matrix item; the study's evaluations are all "evaluate"."""
    base = stage.split("@")[0]
    if base in STUDY_EVALUATIONS:
        return "evaluate"
    return base


def run_timed(cmd: list[str], cwd: Path, log_path: Path) -> tuple[list[tuple[str, float]], float, int]:
    """Run ``cmd``; return ``[(stage, seconds)]`` in run order, the total seconds and the exit status."""
    stages: list[tuple[str, float]] = []
    current, since = "(start-up)", time.perf_counter()
    start = since
    with open(log_path, "w", encoding="utf-8") as log:
        # The clone's own src/ first, whatever srseg the running environment has installed.
        # The user's environment, without the log settings importing srseg put into this process.
        user_env = {k: v for k, v in os.environ.items() if k not in srseg.QUIETED}
        env = {**user_env, "PYTHONPATH": os.pathsep.join(filter(None, [str(cwd / "src"),
                                                                      os.environ.get("PYTHONPATH")]))}
        proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                text=True, bufsize=1, errors="replace")
        assert proc.stdout is not None
        for line in proc.stdout:
            log.write(line)
            match = STAGE_LINE.match(line)
            if match:
                now = time.perf_counter()
                stages.append((current, now - since))
                current, since = match.group(1), now
                print(f"  {match.group(1)} …", flush=True)
        status = proc.wait()
    end = time.perf_counter()
    stages.append((current, end - since))
    return stages, end - start, status


def set_params(path: Path, overrides: dict[str, str]) -> None:
    """Set dotted ``overrides`` (values read as YAML) in the params file ``path``, keeping its comments.

    Raises ``KeyError`` naming the first key the file does not have.
    """
    from ruamel.yaml import YAML  # DVC's own YAML library, so always installed beside it

    yaml = YAML()
    yaml.width = 4096  # no re-wrapped long lines
    yaml.default_flow_style = None  # a list set here is written [a, b], as params.yaml writes its lists
    yaml.representer.add_representer(  # null stays "null", not an empty value
        type(None), lambda rep, _: rep.represent_scalar("tag:yaml.org,2002:null", "null"))
    data = yaml.load(path)
    for key, text in overrides.items():
        *parents, leaf = key.split(".")
        node = data
        for part in parents:
            node = node.get(part) if isinstance(node, dict) else None
        if not isinstance(node, dict) or leaf not in node:
            raise KeyError(f"params.yaml has no key {key}")
        node[leaf] = YAML(typ="safe").load(text)
    yaml.dump(data, path)


def parse_sets(items: list[str]) -> dict[str, str]:
    """``["a.b=1", …]`` → ``{"a.b": "1", …}``; ValueError for an item without ``=``."""
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ValueError(f"--set {item!r}: expected KEY=VALUE, e.g. runtime.precision.seg=mixed_bfloat16")
        out[key.strip()] = value.strip()
    return out


def time_rev(repo: Path, rev: str, work: Path, overrides: dict[str, str] | None = None) -> dict:
    """Clone ``rev`` into ``work``, apply the params ``overrides`` and time ``dvc repro --force`` there."""
    sha = subprocess.check_output(["git", "rev-parse", "--short", rev], cwd=repo, text=True).strip()
    clone = work / sha
    subprocess.run(["git", "clone", "--quiet", "--no-checkout", str(repo), str(clone)], check=True)
    subprocess.run(["git", "checkout", "--quiet", "--detach", sha], cwd=clone, check=True)
    if overrides:
        set_params(clone / "params.yaml", overrides)
    cmd = ["dvc", "repro", "--force"]
    load_before = os.getloadavg()
    shown = "".join(f" {k}={v}" for k, v in (overrides or {}).items())
    print(f"{' '.join(cmd)} in a fresh clone of {sha}{shown} ({clone}); load average {load_before[0]:.2f}",
          flush=True)
    stages, total, status = run_timed(cmd, clone, work / f"{sha}.log")
    return {"rev": sha, "params": dict(overrides or {}), "clone": str(clone), "log": str(work / f"{sha}.log"),
            "stages": stages, "total": total, "status": status, "load_before": load_before[0],
            "load_after": os.getloadavg()[0]}


def print_run(run: dict) -> None:
    stages, total = run["stages"], run["total"]
    width = max(len(name) for name, _ in stages)
    print(f"\n{run['rev']}: {'stage':<{width - len(run['rev']) - 2}}  seconds   share")
    for name, seconds in stages:
        print(f"{name:<{width}}  {seconds:7.1f}  {seconds / total:6.1%}")
    print(f"{'total':<{width}}  {total:7.1f}  ({total / 60:.1f} min), exit status {run['status']}, "
          f"load average {run['load_before']:.2f} before, {run['load_after']:.2f} after")


def by_kind(run: dict) -> dict[str, float]:
    out: dict[str, float] = {}
    for name, seconds in run["stages"]:
        out[kind(name)] = out.get(kind(name), 0.0) + seconds
    return out


def compare(a: dict, b: dict) -> dict:
    """Per-kind seconds of both runs and the B/A ratio of the study's stages and of everything."""
    ka, kb = by_kind(a), by_kind(b)
    kinds = [k for k in STUDY_KINDS if k in ka or k in kb]
    added = sorted(k for k in kb if k not in STUDY_KINDS and k != "(start-up)")
    print(f"\n{'kind':<22} {a['rev']:>10} {b['rev']:>10}  ratio")
    for k in [*kinds, "(start-up)", *added]:
        sa, sb = ka.get(k, 0.0), kb.get(k, 0.0)
        ratio = f"{sb / sa:5.2f}" if sa else "   — "
        print(f"{k:<22} {sa:10.1f} {sb:10.1f}  {ratio}")
    study_a = sum(ka.get(k, 0.0) for k in [*kinds, "(start-up)"])
    study_b = sum(kb.get(k, 0.0) for k in [*kinds, "(start-up)"])
    extra = sum(kb[k] for k in added)
    label = "the study's stages"
    print(f"{label:<22} {study_a:10.1f} {study_b:10.1f}  {study_b / study_a:5.2f}")
    print(f"{'added by ' + b['rev']:<22} {'':>10} {extra:10.1f}")
    print(f"{'total':<22} {a['total']:10.1f} {b['total']:10.1f}  {b['total'] / a['total']:5.2f}")
    return {"study_seconds": [study_a, study_b], "study_ratio": study_b / study_a, "added_seconds": extra,
            "total_seconds": [a["total"], b["total"]], "by_kind": {"a": ka, "b": kb}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--keep", action="store_true", help="keep the clones and print their paths")
    parser.add_argument("--rev", action="append", help="a commit to time (default HEAD); give two to compare")
    parser.add_argument("--json", help="write the timings here")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="a param of the last --rev, e.g. runtime.precision.seg=mixed_bfloat16 (repeatable)")
    args = parser.parse_args()
    revs = args.rev or ["HEAD"]
    if len(revs) > 2:
        parser.error("give at most two --rev")

    repo = Path(subprocess.check_output(["git", "rev-parse", "--show-toplevel"], text=True).strip())
    try:  # check the overrides on the last commit's params.yaml before anything runs
        overrides = parse_sets(args.set)
        if overrides:
            with tempfile.TemporaryDirectory() as tmp:
                probe = Path(tmp) / "params.yaml"
                probe.write_bytes(subprocess.check_output(["git", "show", f"{revs[-1]}:params.yaml"], cwd=repo))
                set_params(probe, overrides)
    except (KeyError, ValueError) as err:
        parser.error(err.args[0])
    work = Path(tempfile.mkdtemp(prefix="srseg-time-repro-"))
    machine = {"cpus": os.cpu_count(), "model": cpu_features()[0], "flags": _cpu_flags(),
               "tensorflow_default_kernels": _tensorflow_default_kernels()}
    flags = ", ".join(f"{f} {'yes' if on else 'no'}" for f, on in machine["flags"].items())
    print(f"{machine['cpus']} CPUs; {machine['model']}; {flags}; TensorFlow's own choice of CPU kernels here: "
          f"{machine['tensorflow_default_kernels']}", flush=True)
    runs = [time_rev(repo, rev, work, overrides if i == len(revs) - 1 else None) for i, rev in enumerate(revs)]
    for run in runs:
        print_run(run)
    result: dict = {"machine": machine, "runs": runs}
    if len(runs) == 2:
        result["comparison"] = compare(*runs)
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))
    failed = any(r["status"] for r in runs)
    if args.keep or failed:
        print(f"clones and logs kept under {work}")
    else:
        shutil.rmtree(work)
    sys.exit(1 if failed else 0)


def _cpu_flags(cpuinfo: str | Path = "/proc/cpuinfo") -> dict[str, bool]:
    """Which of :data:`CPU_FLAGS` the CPU lists (empty where cpuinfo lists no flags or cannot be read)."""
    _, present = cpu_features(cpuinfo)
    return {f: f in present for f in CPU_FLAGS} if present else {}


def _tensorflow_default_kernels() -> str:
    """The CPU kernels TensorFlow uses here when TF_ENABLE_ONEDNN_OPTS is unset, "onednn" or "eigen" (asked of a
    fresh TensorFlow process, which decides from the CPU's flags)."""
    env = {k: v for k, v in os.environ.items() if k != "TF_ENABLE_ONEDNN_OPTS"}  # TensorFlow's logs go to stderr
    code = ("import tensorflow; from tensorflow.python.util import _pywrap_util_port as p; "
            "print('onednn' if p.IsMklEnabled() else 'eigen')")
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    lines = proc.stdout.split()
    return lines[-1] if proc.returncode == 0 and lines else "unknown (TensorFlow did not start)"


if __name__ == "__main__":
    main()
