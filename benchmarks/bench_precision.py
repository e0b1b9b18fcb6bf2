"""Training steps/s of each training stage in float32 against mixed bfloat16, and with oneDNN off against on,
side by side in one run.

    python benchmarks/bench_precision.py                 # pretrain_sr ×2 ×3 ×4 and train_seg, 5 repetitions
    python benchmarks/bench_precision.py --quick         # pretrain_sr ×4 and train_seg, 3 short repetitions
    python benchmarks/bench_precision.py --onednn off on --precisions float32 --json out.json

What is timed is the real engine (:func:`srseg.training.loop.fit`) on the real models and criteria, at the sizes
of params.yaml (:func:`srseg.params.load_params`): the ``pretrain_sr`` step (DCSCN of ``sr.preset`` built by the
recipe's :func:`srseg.sr.train.build_training_model`, ``sr.pretrain.patch`` × ``batch``, MSE + the L2 penalty,
Adam with gradient clipping) and the ``train_seg`` step (PSPNet of ``seg.preset`` with its auxiliary head,
``seg.train.crop`` × ``batch``, the PSPNet criterion with ENet class weights, the recipe's optimizer), on one
fixed random batch (the input pipeline is not timed), with ``runtime.threads`` threads and op determinism on,
as in the stages. Each (stage, precision, oneDNN setting) runs in its own child process, so each gets a fresh
TensorFlow; every child first traces and runs ``--steps`` steps (not timed), then the parent lets the children
of a stage take turns, one timed repetition of ``--steps`` steps each, ``--repeats`` times, so that the load of
the shared machine falls on every setting alike (only one child computes at a time). Reported: the median
steps/s per (oneDNN setting, precision) and its ratio to the first of them, the baseline (> 1: faster than it).

bfloat16 is fast only where the CPU has it (``avx512_bf16``, ``amx_bf16`` + ``amx_tile``) and TensorFlow uses
oneDNN. With ``TF_ENABLE_ONEDNN_OPTS`` unset TensorFlow turns oneDNN on by itself where the CPU has AVX-512 VNNI,
AVX-512 BF16, AVX-VNNI or AMX (recent Intel, AMD Zen 4 and newer); ``runtime.cpu_kernels`` turns it on for the
stages everywhere. Without bfloat16 arithmetic TensorFlow emulates it, slowly. The header prints the CPU's flags,
the TensorFlow version, the oneDNN state of each setting and the load average; the load is printed again at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
PRECISIONS = ("float32", "mixed_bfloat16")
ONEDNN_ENV = {"default": None, "on": "1", "off": "0"}  # TF_ENABLE_ONEDNN_OPTS; default: TensorFlow's choice


def cpu_info() -> dict[str, Any]:
    """The CPU model and which bfloat16-relevant flags /proc/cpuinfo lists (Linux; all absent elsewhere)."""
    from srseg.runtime import BF16_CPU_FLAGS, cpu_features, native_bf16

    model, flags = cpu_features()
    return {"model": model, "cores": os.cpu_count(), "native_bf16": native_bf16(flags),
            "flags": {f: f in flags for f in (*BF16_CPU_FLAGS, "avx512f", "avx2", "fma")}}


def _load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


# --- child: one stage at one precision ----------------------------------------------------------------


def _build(stage: str, precision: str, params: Any, strategy: Any) -> tuple[Any, Any, Any, Any]:
    """(model, optimizer, criterion, (inputs, targets)) of a stage's training step, as its recipe builds them."""
    import keras
    import numpy as np

    from srseg import runtime

    rng = np.random.default_rng(0)
    if stage.startswith("pretrain_sr"):
        from srseg.sr.train import build_training_model
        from srseg.training.losses import mse_criterion

        s, p = int(stage.rsplit("x", 1)[1]), params.sr.pretrain
        side = p.patch // s * s
        with runtime.precision(precision), strategy.scope():
            model = build_training_model(params, s, REPO / "data" / "downloads")
            optimizer = runtime.wrap_optimizer(keras.optimizers.Adam(p.lr, beta_1=0.9, beta_2=0.999, epsilon=1e-8,
                                                                     global_clipnorm=p.clipnorm), precision)
        hr = rng.uniform(0, 255, (p.batch, side, side, 1)).astype(np.float32)
        lr = rng.uniform(0, 255, (p.batch, side // s, side // s, 1)).astype(np.float32)
        return model, optimizer, mse_criterion, ((lr, hr), hr)
    from srseg.labels import NUM_CLASSES
    from srseg.models.pspnet import build_pspnet
    from srseg.training.losses import enet_class_weights, pspnet_criterion
    from srseg.training.optimizers import make_optimizer

    seg, tp = params.seg, params.seg.train
    with runtime.precision(precision), strategy.scope():
        model = build_pspnet(NUM_CLASSES, seg.preset, aux=seg.aux_weight > 0, dropout=seg.dropout)
        optimizer = runtime.wrap_optimizer(make_optimizer(tp, tp.epochs * tp.steps_per_epoch), precision)
    weights = enet_class_weights(rng.integers(1, 10**6, NUM_CLASSES)) if tp.class_weights == "enet" else None
    x = rng.uniform(0, 255, (tp.batch, tp.crop, tp.crop, 3)).astype(np.float32)
    y = rng.integers(0, NUM_CLASSES, (tp.batch, tp.crop, tp.crop)).astype(np.int32)
    return model, optimizer, pspnet_criterion(seg.aux_weight, weights), (x, y)


def child(stage: str, precision: str, steps: int, repeats: int) -> None:
    """Warm up, then one timed epoch of ``steps`` steps each time the parent writes a line on stdin."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    from srseg import runtime
    from srseg.params import load_params

    params = load_params(REPO / "params.yaml")
    runtime.configure(params.runtime.threads, "auto")  # auto: the parent's TF_ENABLE_ONEDNN_OPTS decides
    import tensorflow as tf
    from tensorflow.python.util import _pywrap_util_port  # the one place TF reports whether oneDNN is on

    from srseg.training.loop import fit

    runtime.set_determinism(0)
    strategy = runtime.strategy("none")
    model, optimizer, criterion, batch = _build(stage, precision, params, strategy)
    out = model(batch[0], training=False)
    dtypes = sorted({str(v.dtype.name) for v in (out.values() if isinstance(out, dict) else [out])})

    def say(msg: dict[str, Any]) -> None:
        print(json.dumps(msg), flush=True)

    def on_epoch_end(epoch: int, logs: dict[str, float]) -> None:
        say({"epoch": epoch, "seconds": logs["epoch_seconds"], "loss": logs["loss"]})
        if epoch <= repeats:
            sys.stdin.readline()  # wait for the parent's turn signal

    say({"ready": True, "tf": tf.__version__, "onednn": bool(_pywrap_util_port.IsMklEnabled()),
         "output_dtypes": dtypes, "threads": params.runtime.threads})
    sys.stdin.readline()
    fit(model, tf.data.Dataset.from_tensors(batch).repeat(), criterion, optimizer, steps=steps * (repeats + 1),
        steps_per_epoch=steps, strategy=strategy, on_epoch_end=on_epoch_end)


# --- parent ------------------------------------------------------------------------------------------


def _spawn(stage: str, precision: str, onednn: str, steps: int, repeats: int) -> subprocess.Popen:
    env = dict(os.environ)
    env.pop("TF_ENABLE_ONEDNN_OPTS", None)
    if ONEDNN_ENV[onednn] is not None:
        env["TF_ENABLE_ONEDNN_OPTS"] = ONEDNN_ENV[onednn]
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO / "src"), env.get("PYTHONPATH")]))
    cmd = [sys.executable, __file__, "--child", stage, precision, "--steps", str(steps), "--repeats", str(repeats)]
    return subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)


def _read(proc: subprocess.Popen) -> dict[str, Any]:
    line = proc.stdout.readline()
    if not line:
        raise SystemExit(f"a benchmark child exited with {proc.wait()}")
    return json.loads(line)


def _go(proc: subprocess.Popen) -> None:
    proc.stdin.write("\n")
    proc.stdin.flush()


def bench_stage(stage: str, onednn: list[str], precisions: list[str], steps: int,
                repeats: int) -> list[dict[str, Any]]:
    """One row per (oneDNN setting, precision): steps/s of every timed repetition, taken in turns."""
    configs = [(o, p) for o in onednn for p in precisions]
    rows = []
    for o, p in configs:  # warm up one child at a time: tracing is the heaviest part
        proc = _spawn(stage, p, o, steps, repeats)
        info = _read(proc)
        _go(proc)
        warm = _read(proc)
        rows.append({"stage": stage, "onednn_setting": o, "precision": p, "proc": proc, **info,
                     "warmup_s": warm["seconds"], "steps_per_s": []})
    for _ in range(repeats):
        for row in rows:
            _go(row["proc"])
            rec = _read(row["proc"])
            row["steps_per_s"].append(steps / rec["seconds"])
            row["last_loss"] = rec["loss"]
    for row in rows:
        proc = row.pop("proc")
        if proc.wait():  # the last epoch needs no signal: the child ends its fit and exits
            raise SystemExit(f"{stage} {row['precision']}: the benchmark child exited with {proc.returncode}")
        row["median_steps_per_s"] = statistics.median(row["steps_per_s"])
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="pretrain_sr ×4 and train_seg, 3 repetitions of 2 steps")
    ap.add_argument("--scales", type=int, nargs="+", help="pretrain_sr scales (default: params.yaml's scales)")
    ap.add_argument("--no-seg", action="store_true", help="skip the train_seg step")
    ap.add_argument("--steps", type=int, help="steps per timed repetition (default 10; --quick 2)")
    ap.add_argument("--repeats", type=int, help="timed repetitions per precision (default 5; --quick 3)")
    ap.add_argument("--onednn", nargs="+", choices=list(ONEDNN_ENV), default=["default"],
                    help="TF_ENABLE_ONEDNN_OPTS settings to compare: default (unset), on (1), off (0)")
    ap.add_argument("--precisions", nargs="+", choices=PRECISIONS, default=list(PRECISIONS),
                    help="precision policies to compare (default: both)")
    ap.add_argument("--json", type=Path, help="write every row here")
    ap.add_argument("--child", nargs=2, metavar=("STAGE", "PRECISION"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    steps = args.steps or (2 if args.quick else 10)
    repeats = args.repeats or (3 if args.quick else 5)
    if args.child:
        child(*args.child, steps, repeats)
        return

    from srseg.params import load_params

    params = load_params(REPO / "params.yaml")
    scales = args.scales or ([4] if args.quick else params.scales)
    stages = [f"pretrain_sr_x{s}" for s in scales] + ([] if args.no_seg else ["train_seg"])
    cpu = cpu_info()
    flags = ", ".join(f"{f} {'yes' if v else 'no'}" for f, v in cpu["flags"].items())
    print(f"CPU: {cpu['model']} ({cpu['cores']} logical cores); {flags}; native bfloat16: "
          f"{'yes' if cpu['native_bf16'] else 'no (TensorFlow emulates it)'}")
    print(f"TF_ENABLE_ONEDNN_OPTS in this shell: {os.environ.get('TF_ENABLE_ONEDNN_OPTS', 'unset')}; "
          f"runtime.threads {params.runtime.threads}; {steps} steps × {repeats} repetitions per setting")
    load_start = _load()
    print(f"load average at start: {load_start}", flush=True)
    print(f"sizes: pretrain_sr {params.sr.preset} patch {params.sr.pretrain.patch} batch {params.sr.pretrain.batch}; "
          f"train_seg PSPNet {params.seg.preset} crop {params.seg.train.crop} batch {params.seg.train.batch}")
    all_rows = []
    print(f"{'stage':16s} {'oneDNN':12s} {'precision':15s} {'steps/s':>8s} {'ratio':>6s}  outputs  (ratio: to the "
          "stage's first row)")
    for stage in stages:
        rows = bench_stage(stage, args.onednn, args.precisions, steps, repeats)
        all_rows += rows
        base = rows[0]["median_steps_per_s"]
        for row in rows:
            row["ratio_to_first"] = row["median_steps_per_s"] / base
            state = f"{row['onednn_setting']} ({'on' if row['onednn'] else 'off'})"
            print(f"{stage:16s} {state:12s} {row['precision']:15s} {row['median_steps_per_s']:8.3f} "
                  f"{row['ratio_to_first']:6.2f}  {','.join(row['output_dtypes'])}; load now {_load()}", flush=True)
    load_end = _load()
    tf_version = all_rows[0]["tf"] if all_rows else "?"
    print(f"TensorFlow {tf_version}; load average at end: {load_end} (a shared machine: compare the ratios)")
    if args.json:
        args.json.write_text(json.dumps({"cpu": cpu, "load_start": load_start, "load_end": load_end, "steps": steps,
                                         "repeats": repeats, "rows": all_rows}, indent=1))


if __name__ == "__main__":
    main()
