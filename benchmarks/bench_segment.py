"""Peak memory of ``srseg segment`` by image size (not a test).

    python benchmarks/bench_segment.py                     # 128x128 (the fixed cost), 6 and 24 MP, default mode
    python benchmarks/bench_segment.py --mp 24 -- --window 1024   # arguments after -- go to `srseg segment`

Each size runs the real ``srseg segment`` command in its own child process and reports its peak RSS
(``ru_maxrss`` from ``os.wait4``, as ``bench_sr.py --memory`` does) and wall time, on a smooth random image
(3:2, like a camera photo) with the small PSPNet of params.yaml's ``seg.preset`` untrained and seeded (weights do
not change memory). Goal: < 2 GB at 24 MP (6000x4000) with the default mode (sliding windows above
:data:`srseg.params.SEG_WHOLE_MAX_PIXELS`).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

from bench_sr import _peak_rss_of  # benchmarks/ is the script's folder, hence on sys.path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # this process builds the model
REPO = Path(__file__).resolve().parents[1]
#: Image sizes (W, H) by nominal megapixels (0: the fixed cost of Python, TensorFlow and the model).
SIZES = {0: (128, 128), 2: (2048, 1024), 4: (2048, 2048), 6: (3000, 2000), 24: (6000, 4000), 85: (11300, 7500)}
GOAL_MB = 2048


def _scratch(root: Path, w: int, h: int) -> tuple[Path, Path]:
    """A smooth random ``w``×``h`` RGB image and a seeded untrained PSPNet under ``root``; returns both paths."""
    import keras
    import numpy as np
    from PIL import Image

    from srseg.io import write_png
    from srseg.labels import NUM_CLASSES
    from srseg.models.pspnet import build_pspnet, save_model
    from srseg.params import load_params

    rng = np.random.default_rng(0)
    small = rng.integers(0, 256, (max(h // 8, 1), max(w // 8, 1), 3), dtype=np.uint8)
    image = root / "in.png"
    write_png(image, np.asarray(Image.fromarray(small).resize((w, h), Image.Resampling.BICUBIC)))
    keras.utils.set_random_seed(0)
    model = root / "seg.keras"
    save_model(build_pspnet(NUM_CLASSES, load_params(REPO / "params.yaml").seg.preset), model)
    return image, model


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mp", help=f"comma-separated sizes in MP, of {','.join(map(str, SIZES))} (default 0,6,24)")
    ap.add_argument("extra", nargs="*", help="arguments for `srseg segment` (after --), e.g. --window 512")
    args = ap.parse_args()
    sizes = [int(x) for x in args.mp.split(",")] if args.mp else [0, 6, 24]
    if not set(sizes) <= set(SIZES):
        ap.error(f"--mp: sizes must be among {', '.join(map(str, SIZES))}")
    print(f"bench_segment: {os.cpu_count()} CPUs, `srseg segment {' '.join(args.extra)}`; peak RSS of the child "
          f"process (ru_maxrss); goal < {GOAL_MB / 1024:.0f} GB at 24 MP", flush=True)
    for mp in sizes:
        w, h = SIZES[mp]
        with tempfile.TemporaryDirectory(prefix="bench_segment_") as tmp:
            root = Path(tmp)
            image, model = _scratch(root, w, h)
            cmd = [sys.executable, "-m", "srseg.cli", "segment", str(image), str(root / "out"), "--model", str(model),
                   *args.extra]
            load = os.getloadavg()[0]
            try:
                rss, secs = _peak_rss_of(cmd, root)
            except RuntimeError as exc:
                print(f"  {w}x{h} ({w * h / 1e6:5.2f} MP): FAILED {exc}", flush=True)
                continue
            verdict = f" -> goal {'met' if rss < GOAL_MB else 'NOT met'}" if mp == 24 else ""
            print(f"  {w}x{h} ({w * h / 1e6:5.2f} MP): peak RSS {rss:6.0f} MB, {secs:5.1f} s, load average "
                  f"{load:.2f}{verdict}", flush=True)


if __name__ == "__main__":
    main()
