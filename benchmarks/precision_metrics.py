"""The final metrics of the training recipes in float32 and in mixed bfloat16, at the default params.

    python benchmarks/precision_metrics.py --work /tmp/prec [--runs seg sr4] [--precisions float32 mixed_bfloat16]

``seg``: the ``train_seg`` recipe (:func:`srseg.seg.pipeline.run_train_seg`, seed 0) on the ``data/raw`` tree
the download stage makes from params.yaml (:func:`srseg.sources.build_raw`, built once into ``--work``), its
val PACC / mIoU after the last epoch (the study's bar for the HR model: PACC ≥ 0.85, mIoU ≥ 0.50).
``sr{s}``: the ``pretrain_sr`` recipe at ×s (:func:`srseg.sr.train.train_sr`, seed 0), its val PSNR.

Only ``runtime.precision`` changes between runs. Each run is a child process (a fresh TensorFlow configured with
``runtime.threads`` like a stage), the runs go one after the other, and each prints its wall time with the load
average before and after: the wall times are only comparable when the load was alike. Results are appended as
JSON lines to ``--json`` (default ``<work>/precision_metrics.jsonl``). Several minutes per run on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]


def _params(precision: str) -> Any:
    from srseg.params import load_params, validate

    base = load_params(REPO / "params.yaml").model_dump()
    base["runtime"]["precision"] = {"sr": precision, "seg": precision}
    return validate(base)


def _child(run: str, precision: str, work: Path) -> dict[str, Any]:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s", stream=sys.stderr)
    from srseg import runtime
    from srseg.paths import Paths

    params = _params(precision)
    runtime.configure(params.runtime.threads)
    paths = Paths(work / precision)
    paths.raw.parent.mkdir(parents=True, exist_ok=True)
    if not paths.raw.exists():
        paths.raw.symlink_to(work / "raw")
    load0, start = os.getloadavg(), time.perf_counter()
    if run == "seg":
        from srseg.seg.pipeline import run_train_seg

        history = run_train_seg(params, 0, paths)
        out = {"val_pacc": history.last["val/pacc"], "val_miou": history.last["val/miou"],
               "per_epoch": [{k: m[k] for k in ("val/pacc", "val/miou")} for m in history.metrics]}
    else:
        from srseg.sr.train import train_sr

        res = train_sr(params, int(run.removeprefix("sr")), 0, paths)
        out = {"val_psnr": res["val_psnr"], "val_psnr_bicubic": res["val_psnr_bicubic"]}
    return {"run": run, "precision": precision, **out, "wall_s": time.perf_counter() - start,
            "load_start": load0, "load_end": os.getloadavg(), "threads": params.runtime.threads}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--work", type=Path, required=True, help="folder for data/raw and the runs' outputs")
    ap.add_argument("--runs", nargs="+", default=["seg", "sr4"], help="seg and/or sr2 / sr3 / sr4")
    ap.add_argument("--precisions", nargs="+", default=["float32", "mixed_bfloat16"])
    ap.add_argument("--json", type=Path)
    ap.add_argument("--child", nargs=2, metavar=("RUN", "PRECISION"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    work = args.work.resolve()
    if args.child:
        print(json.dumps(_child(args.child[0], args.child[1], work)), flush=True)
        return
    for run in args.runs:
        if run != "seg" and run not in ("sr2", "sr3", "sr4"):
            ap.error(f"--runs {run!r}: must be seg, sr2, sr3 or sr4")
    if not (work / "raw").exists():
        from srseg.params import load_params
        from srseg.sources import build_raw

        s = build_raw(load_params(REPO / "params.yaml"), work / "raw", cache_dir=work / "downloads", metrics_path=None)
        print(f"{work / 'raw'}: {s['images']} images, HR {s['hr_size']}", flush=True)
    out = args.json or work / "precision_metrics.jsonl"
    for run in args.runs:
        for precision in args.precisions:
            proc = subprocess.run([sys.executable, __file__, "--work", str(work), "--child", run, precision],
                                  stdout=subprocess.PIPE, text=True, check=True)
            line = proc.stdout.strip().splitlines()[-1]
            with out.open("a") as fh:
                fh.write(line + "\n")
            print(line, flush=True)


if __name__ == "__main__":
    main()
