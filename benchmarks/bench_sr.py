"""SR benchmarks (not tests): DCSCN inference speed, tiling cost, peak memory and training throughput.

    python benchmarks/bench_sr.py                 # everything (a few minutes on 2 cores)
    python benchmarks/bench_sr.py --quick         # c-DCSCN only, dcscn ×4 only
    python benchmarks/bench_sr.py --json out.json
    python benchmarks/bench_sr.py --memory        # only: peak RSS of `srseg upscale` and `super_resolve` by size
    python benchmarks/bench_sr.py --memory --mp 24 --scale 4 --entry upscale -- --tile 512   # after --: upscale's

Every configuration runs in its own subprocess so that its peak RSS (``ru_maxrss``) is its own.  Times are
the minimum over ``--repeat`` runs after one warm-up run (the minimum is the least disturbed by other load on
the machine).  Inference is at a 2048×1024 output (LR = 2048/s × 1024/s, rounded down), on a random image
with randomly initialised weights (speed does not depend on the weights), with the default tile/overlap of
params.yaml unless ``--tile`` / ``--overlap`` say otherwise.  The load average printed before and after tells
whether other processes shared the CPU during the run.

Goals: c-DCSCN ≥ 3 MP/s output; tiled time ≤ 1.10 × whole-image time; dcscn ×4 at 2048×1024 < 3 GB peak RSS.

``--memory`` measures what a user runs: the peak RSS (``ru_maxrss`` of the child, from ``os.wait4``) of the real
``srseg upscale`` command and of the real ``super_resolve`` stage script (one val image, in a scratch copy of the
pipeline layout) for 1, 6 and 24 megapixel outputs at ×2 (``--scale``) with the default model (c-DCSCN, untrained
and seeded: weights do not change memory) and the default tile (upscale: ``auto``; the stage: ``sr.tile``), plus a
128×128 image for the fixed cost (Python, TensorFlow, the model); ``--entry`` picks one of the two, and arguments
after ``--`` go to ``srseg upscale``.  It prints the CPU and the load average.  Goal: < 1.5 GB at 24 MP ×2 for
both, and for ``srseg upscale`` at ×4 (1500×1000 → 6000×4000).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

OUT_W, OUT_H = 2048, 1024
REPO = Path(__file__).resolve().parents[1]
#: --memory: output sizes (W, H) at ×2, 3:2 like a camera photo, by nominal megapixels (0: the fixed cost).
MEMORY_SIZES = {0: (128, 128), 1: (1224, 816), 6: (3000, 2000), 24: (6000, 4000)}
MEMORY_GOAL_MB = 1536


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux: kB


def _child(cfg: dict[str, Any]) -> dict[str, Any]:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import numpy as np

    from srseg.models.dcscn import DcscnConfig, build_dcscn

    s = cfg["scale"]
    rng = np.random.default_rng(0)
    if cfg["kind"] == "infer":
        from srseg.sr.infer import Upscaler

        up = Upscaler(build_dcscn(DcscnConfig.from_preset(cfg["preset"], s)))
        h, w = OUT_H // s, OUT_W // s
        lr = (rng.random((h, w)) * 255).astype(np.float32)
        rss_before = _rss_mb()
        tile = cfg["tile"] or None
        times, cpu = [], []
        for _ in range(cfg["repeat"] + 1):
            t, c = time.perf_counter(), time.process_time()
            up.predict_y(lr, tile=tile, overlap=cfg["overlap"])
            times.append(time.perf_counter() - t)
            cpu.append(time.process_time() - c)
        best = min(times[1:])
        return {**cfg, "lr_size": [w, h], "seconds": best, "cpu_seconds": min(cpu[1:]),
                "mp_per_s": h * w * s * s / best / 1e6, "rss_model_mb": rss_before, "peak_rss_mb": _rss_mb(),
                "overlap_used": max(cfg["overlap"], up.radius)}
    # training throughput of the pretrain_sr recipe's step (patch 48, batch 20) in the one training loop
    import keras

    from srseg.sr.data import ImageRef, PatchSampler, patch_dataset
    from srseg.training.loop import fit
    from srseg.training.losses import mse_criterion

    keras.utils.set_random_seed(0)
    model = build_dcscn(DcscnConfig.from_preset(cfg["preset"], s, dropout_keep=0.8, l2=1e-4))
    opt = keras.optimizers.Adam(2e-3, epsilon=1e-8, global_clipnorm=5.0)
    img = (rng.random((256, 256, 3)) * 255).astype(np.uint8)
    data = patch_dataset(PatchSampler([ImageRef("random", lambda: img)], s, cfg["patch"], 0), cfg["batch"])
    n = cfg["steps"]
    epochs = fit(model, data, mse_criterion, opt, steps=2 * n, steps_per_epoch=n)  # epoch 1 traces and warms up
    dt = epochs[1]["epoch_seconds"]
    return {**cfg, "seconds": dt, "patches_per_s": cfg["steps"] * cfg["batch"] / dt, "peak_rss_mb": _rss_mb()}


def _run(cfg: dict[str, Any]) -> dict[str, Any]:
    proc = subprocess.run([sys.executable, __file__, "--child", json.dumps(cfg)], capture_output=True, text=True)
    if proc.returncode != 0:
        return {**cfg, "error": (proc.stderr.strip().splitlines() or ["?"])[-1]}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _default_tiling() -> tuple[int, int]:
    try:
        from srseg.params import load_params

        p = load_params("params.yaml").sr
        return p.tile, p.tile_overlap
    except Exception:
        return 128, 12


# --- --memory: peak RSS of the real entry points ---------------------------------------------------------

def _peak_rss_of(cmd: list[str], cwd: Path) -> tuple[float, float]:
    """(peak RSS in MB, wall seconds) of one child process; raises with its last error line when it fails."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO / "src"), os.environ.get("PYTHONPATH", "")]),
           "TF_CPP_MIN_LOG_LEVEL": "3"}
    t = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    err = proc.stderr.read()  # type: ignore[union-attr]
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd[:4])}…: exit {proc.returncode}: {(err.strip().splitlines() or ['?'])[-1]}")
    return usage.ru_maxrss / 1024.0, time.perf_counter() - t  # Linux: kB


def _memory_tree(root: Path, out_w: int, out_h: int, scale: int) -> tuple[Path, Path]:
    """A scratch pipeline layout under ``root``: params.yaml, one val HR image with its trainIds label, its LR
    image, a seeded default SR model; returns (LR image, model)."""
    import keras
    import numpy as np
    from PIL import Image

    from srseg.degrade import downscale
    from srseg.io import save_keras, write_png
    from srseg.layout import Sample
    from srseg.models.dcscn import DcscnConfig, build_dcscn
    from srseg.params import load_params
    from srseg.paths import Paths

    params = load_params(REPO / "params.yaml")
    paths = Paths(root)
    (root / "params.yaml").write_bytes((REPO / "params.yaml").read_bytes())
    rng = np.random.default_rng(0)
    small = rng.integers(0, 256, (out_h // 8, out_w // 8, 3), dtype=np.uint8)
    hr = np.asarray(Image.fromarray(small).resize((out_w, out_h), Image.Resampling.BICUBIC))
    sample = Sample("val", "bench", "bench_000000_000019")
    write_png(sample.image(paths.raw), hr)
    write_png(sample.image(paths.lr(scale)), downscale(hr, scale))
    write_png(sample.label_train_ids(paths.raw), rng.integers(0, 19, (out_h, out_w), dtype=np.uint8))
    keras.utils.set_random_seed(0)
    model = build_dcscn(DcscnConfig.from_preset(params.sr.preset, scale, upsampler=params.sr.upsampler))
    save_keras(model, paths.sr_model(scale, 0))
    return sample.image(paths.lr(scale)), paths.sr_model(scale, 0)


def _cpu_name() -> str:
    """The CPU's model name (Linux), as ``lscpu`` prints it."""
    try:
        with open("/proc/cpuinfo") as fh:
            return next((line.split(":", 1)[1].strip() for line in fh if line.startswith("model name")), "?")
    except OSError:
        return "?"


def run_memory(scale: int = 2, sizes: list[int] | None = None, entries: tuple[str, ...] = ("upscale", "super_resolve"),
               extra: list[str] | None = None) -> list[dict[str, Any]]:
    """Peak RSS of ``srseg upscale`` (with ``extra`` arguments) and of the ``super_resolve`` stage script for each
    size of MEMORY_SIZES (or those of ``sizes``, nominal megapixels); ``entries`` picks the two."""
    tile, _ = _default_tiling()
    print(f"bench_sr --memory: {_cpu_name()}, {os.cpu_count()} CPUs, x{scale}, default model; `srseg upscale "
          f"{' '.join(extra or [])}` (tile auto unless given), super_resolve with sr.tile {tile}; peak RSS of the "
          f"child process (ru_maxrss); goal < {MEMORY_GOAL_MB / 1024:.1f} GB at 24 MP", flush=True)
    rows = []
    for mp, (w, h) in MEMORY_SIZES.items():
        if sizes is not None and mp not in sizes:
            continue
        with tempfile.TemporaryDirectory(prefix="bench_sr_mem_") as tmp:
            root = Path(tmp)
            lr, model = _memory_tree(root, w, h, scale)
            runs = {
                "upscale": [sys.executable, "-m", "srseg.cli", "upscale", str(lr), str(root / "out.png"),
                            "--scale", str(scale), "--model", str(model), *(extra or [])],
                "super_resolve": [sys.executable, str(REPO / "stages" / "super_resolve.py"), "--scale", str(scale),
                                  "--seed", "0"],
            }
            for name, cmd in runs.items():
                if name not in entries:
                    continue
                load = os.getloadavg()[0]
                rss, secs = _peak_rss_of(cmd, root)
                row = {"entry": name, "mp": w * h / 1e6, "size": [w, h], "peak_rss_mb": rss, "seconds": secs,
                       "load": load}
                rows.append(row)
                print(f"  {name:13s} {w}x{h} ({w * h / 1e6:5.2f} MP): peak RSS {rss:6.0f} MB, {secs:5.1f} s, "
                      f"load average {load:.2f}", flush=True)
    for name in entries:
        big = max((r for r in rows if r["entry"] == name), key=lambda r: r["mp"])
        if big["mp"] < 24:
            continue
        print(f"  goal {name} 24 MP x{scale} < {MEMORY_GOAL_MB / 1024:.1f} GB: {big['peak_rss_mb'] / 1024:.2f} GB -> "
              f"{'met' if big['peak_rss_mb'] < MEMORY_GOAL_MB else 'NOT met'}")
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--quick", action="store_true", help="c-dcscn at every scale, dcscn only at x4")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--tile", type=int)
    ap.add_argument("--overlap", type=int)
    ap.add_argument("--json", help="write all results here")
    ap.add_argument("--from-json", help="only print the summary of a saved run")
    ap.add_argument("--memory", action="store_true", help="only the peak RSS of srseg upscale / super_resolve by size")
    ap.add_argument("--mp", help=f"--memory: comma-separated output sizes in MP, of {','.join(map(str, MEMORY_SIZES))}")
    ap.add_argument("--scale", type=int, default=2, choices=(2, 3, 4), help="--memory: the scale (default 2)")
    ap.add_argument("--entry", choices=("upscale", "super_resolve"), help="--memory: only this entry point")
    ap.add_argument("extra", nargs="*", help="--memory: arguments for `srseg upscale` (after --), e.g. --tile 512")
    args = ap.parse_args()
    if args.child:
        print(json.dumps(_child(json.loads(args.child))))
        return
    if args.memory:
        sizes = [int(x) for x in args.mp.split(",")] if args.mp else None
        if sizes and not set(sizes) <= set(MEMORY_SIZES):
            ap.error(f"--mp: sizes must be among {', '.join(map(str, MEMORY_SIZES))}")
        entries = (args.entry,) if args.entry else ("upscale", "super_resolve")
        rows = run_memory(args.scale, sizes, entries, args.extra)
        if args.json:
            with open(args.json, "w") as fh:
                json.dump({"memory": rows}, fh, indent=2)
        return
    if args.from_json:
        with open(args.from_json) as fh:
            summarize(json.load(fh))
        return

    tile, overlap = _default_tiling()
    tile = args.tile or tile
    overlap = args.overlap if args.overlap is not None else overlap
    load0 = os.getloadavg()
    print(f"bench_sr: {os.cpu_count()} CPUs, load average {load0[0]:.2f} at start; output {OUT_W}x{OUT_H}; "
          f"tile {tile} overlap {overlap} (raised to the receptive radius when smaller)")
    infer, train = [], []
    plan = [("c-dcscn", s) for s in (2, 3, 4)] + [("dcscn", s) for s in ((4,) if args.quick else (2, 3, 4))]
    for preset, s in plan:
        rep = args.repeat if preset == "c-dcscn" else 1
        for t in (0, tile):
            if preset == "dcscn" and t == 0 and s != 4:
                continue  # whole-image dcscn at x2/x3 needs ~6-10 GB and minutes; x4 shows the point
            r = _run({"kind": "infer", "preset": preset, "scale": s, "tile": t, "overlap": overlap, "repeat": rep})
            infer.append(r)
            if "error" in r:
                print(f"  {preset} x{s} tile {t or 'whole'}: FAILED {r['error']}")
            else:
                print(f"  {preset:7s} x{s} {'tiled' if t else 'whole'}: {r['seconds']:.3f}s "
                      f"(CPU {r['cpu_seconds']:.3f}s)  "
                      f"{r['mp_per_s']:.2f} MP/s  "
                      f"peak RSS {r['peak_rss_mb']:.0f} MB (model loaded: {r['rss_model_mb']:.0f} MB)", flush=True)
    for preset in ("c-dcscn",) if args.quick else ("c-dcscn", "dcscn"):
        for s in (2, 3, 4):
            r = _run({"kind": "train", "preset": preset, "scale": s, "patch": 48, "batch": 20,
                      "steps": 20 if preset == "c-dcscn" else 5})
            train.append(r)
            if "error" in r:
                print(f"  train {preset} x{s}: FAILED {r['error']}")
            else:
                print(f"  train {preset:7s} x{s}: {r['patches_per_s']:.0f} patches/s (48x48 HR, batch 20)", flush=True)
    memory = run_memory()
    load1 = os.getloadavg()
    result = {"tile": tile, "overlap": overlap, "plan": plan, "infer": infer, "train": train, "memory": memory,
              "load": [load0, load1]}
    summarize(result)
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(result, fh, indent=2)


def summarize(res: dict[str, Any]) -> None:
    """Print the ratios and goals of one run (``--from-json`` re-prints a saved run)."""
    print("\nSummary (ratios measured in this run; 'per CPU-s' = output MP per second of CPU time the process got,"
          " which stays meaningful when other processes share the cores)")
    by = {(r["preset"], r["scale"], bool(r["tile"])): r for r in res["infer"] if "error" not in r}
    plan = [tuple(x) for x in res["plan"]]
    for preset, s in plan:
        tiled, whole = by.get((preset, s, True)), by.get((preset, s, False))
        if not tiled:
            print(f"  {preset} x{s}: -")
            continue
        mp = OUT_W // s * s * (OUT_H // s * s) / 1e6
        line = f"  {preset:7s} x{s}: tiled {tiled['mp_per_s']:.2f} MP/s ({mp / tiled['cpu_seconds']:.2f} per CPU-s)"
        if whole:
            line += (f", whole {whole['mp_per_s']:.2f} MP/s ({mp / whole['cpu_seconds']:.2f} per CPU-s)"
                     f", tiled/whole wall {tiled['seconds'] / whole['seconds']:.3f} "
                     f"CPU {tiled['cpu_seconds'] / whole['cpu_seconds']:.3f}"
                     f", peak RSS tiled/whole {tiled['peak_rss_mb']:.0f}/{whole['peak_rss_mb']:.0f} MB")
        else:
            line += f", peak RSS {tiled['peak_rss_mb']:.0f} MB"
        print(line)
    for r in res["train"]:
        if "error" not in r:
            print(f"  train {r['preset']:7s} x{r['scale']}: {r['patches_per_s']:.0f} patches/s")
    c = [by[k] for k in by if k[0] == "c-dcscn" and k[2]]
    if c:
        worst = min(c, key=lambda r: r["mp_per_s"])
        worst_cpu = min(OUT_W // r["scale"] * r["scale"] * (OUT_H // r["scale"] * r["scale"]) / 1e6 / r["cpu_seconds"]
                        for r in c)
        print(f"  goal c-DCSCN >= 3 MP/s (tiled, every scale): slowest x{worst['scale']} "
              f"{worst['mp_per_s']:.2f} MP/s wall "
              f"-> {'met' if worst['mp_per_s'] >= 3 else 'NOT met'}; slowest per CPU-s {worst_cpu:.2f} "
              f"-> {'met' if worst_cpu >= 3 else 'NOT met'}")
    for preset in ("c-dcscn", "dcscn"):
        pairs = [(by[(p, s, True)], by[(p, s, False)]) for p, s in plan
                 if p == preset and (p, s, True) in by and (p, s, False) in by]
        if pairs:
            wall = max(t["seconds"] / w["seconds"] for t, w in pairs)
            cpu = max(t["cpu_seconds"] / w["cpu_seconds"] for t, w in pairs)
            print(f"  goal tiling cost <= 10 % ({preset}): worst tiled/whole CPU time {cpu:.3f} "
                  f"-> {'met' if cpu <= 1.10 else 'NOT met'} (wall time {wall:.3f})")
    d4 = by.get(("dcscn", 4, True))
    if d4:
        print(f"  goal dcscn x4 2048x1024 < 3 GB peak RSS (tiled): {d4['peak_rss_mb'] / 1024:.2f} GB -> "
              f"{'met' if d4['peak_rss_mb'] < 3072 else 'NOT met'}")
    load0, load1 = res["load"]
    print(f"  load average {load0[0]:.2f} at start, {load1[0]:.2f} at end on {os.cpu_count()} CPUs"
          + (" - the CPU was shared with other processes: wall times are pessimistic and noisy"
             if max(load0[0], load1[0]) > 1.5 else ""))


if __name__ == "__main__":
    main()
