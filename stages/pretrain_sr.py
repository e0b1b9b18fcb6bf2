"""Stage `pretrain_sr@s`: pretrain DCSCN ×s on `sr.pretrain.source` → models/sr/x{s}.keras + DVCLive logs."""

import argparse

from srseg.cli import stage
from srseg.params import load_params


@stage
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scale", type=int, required=True)
    args = parser.parse_args()
    params = load_params()

    from srseg.sr.train import train_sr

    s = args.scale
    summary = train_sr(params, s, out=f"models/sr/x{s}.keras", metrics_dir=f"metrics/train/sr_x{s}",
                       cache_dir="data/downloads")
    print(f"models/sr/x{s}.keras: val PSNR {summary['val_psnr']:.2f} dB "
          f"(bicubic {summary['val_psnr_bicubic']:.2f} dB), {summary['seconds']:.0f}s")


if __name__ == "__main__":
    main()
