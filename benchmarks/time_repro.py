"""Wall time of the whole default pipeline, per stage, from a fresh clone (the ≤ 10-minute budget).

Clones a commit of this repository (HEAD unless ``--rev``) into a temporary folder (nothing of this
checkout's data, DVC cache or models comes along), runs ``dvc repro --force`` there and prints each stage's
wall time and the total. ``--force`` because the clone holds the committed cache-free outputs (metrics, plots): when the
re-run reproduces them exactly, plain ``dvc repro`` skips ``summarize`` and ``plots`` and the total would
miss them. Run it on an otherwise idle machine; with ``--keep``, ``git status`` / ``dvc metrics diff`` in
the clone show whether it reproduced the committed results.

    python benchmarks/time_repro.py [--keep] [--rev REV]     # REV: e.g. $(git stash create) for uncommitted work
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

STAGE_LINE = re.compile(r"^Running stage '([^']+)'")


def run_timed(cmd: list[str], cwd: Path, log_path: Path) -> tuple[list[tuple[str, float]], float, int]:
    """Run ``cmd``; return ``[(stage, seconds)]`` in run order, the total seconds and the exit status."""
    stages: list[tuple[str, float]] = []
    current, since = "(start-up)", time.perf_counter()
    start = since
    with open(log_path, "w", encoding="utf-8") as log:
        # The clone's own src/ first, whatever srseg the running environment has installed.
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(cwd / "src"),
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--keep", action="store_true", help="keep the clone and print its path")
    parser.add_argument("--rev", default="HEAD", help="the commit to time (default HEAD)")
    args = parser.parse_args()

    repo = Path(subprocess.check_output(["git", "rev-parse", "--show-toplevel"], text=True).strip())
    rev = subprocess.check_output(["git", "rev-parse", "--short", args.rev], cwd=repo, text=True).strip()
    work = Path(tempfile.mkdtemp(prefix="srseg-time-repro-"))
    clone = work / "srseg"
    subprocess.run(["git", "clone", "--quiet", "--no-checkout", str(repo), str(clone)], check=True)
    subprocess.run(["git", "checkout", "--quiet", "--detach", rev], cwd=clone, check=True)
    cmd = ["dvc", "repro", "--force"]
    print(f"{' '.join(cmd)} in a fresh clone of {rev} ({clone})", flush=True)
    stages, total, status = run_timed(cmd, clone, work / "repro.log")

    width = max(len(name) for name, _ in stages)
    print(f"\n{'stage':<{width}}  seconds   share")
    for name, seconds in stages:
        print(f"{name:<{width}}  {seconds:7.1f}  {seconds / total:6.1%}")
    print(f"{'total':<{width}}  {total:7.1f}  ({total / 60:.1f} min), exit status {status}")
    if args.keep or status:
        print(f"clone and log kept: {clone}, {work / 'repro.log'}")
    else:
        shutil.rmtree(work)
    sys.exit(status)


if __name__ == "__main__":
    main()
