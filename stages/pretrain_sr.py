"""Stage `pretrain_sr@s`: pretrain DCSCN ×s on `sr.pretrain.source` → models/sr/x{s}.keras + DVCLive logs."""

from srseg.cli import parse_scale, stage
from srseg.params import load_params


@stage
def main() -> None:
    scale = parse_scale(__doc__)
    params = load_params()

    from srseg.sr.train import train_sr

    summary = train_sr(params, scale, out=f"models/sr/x{scale}.keras", metrics_dir=f"metrics/train/sr_x{scale}",
                       cache_dir="data/downloads")
    print(f"models/sr/x{scale}.keras: val PSNR {summary['val_psnr']:.2f} dB "
          f"(bicubic {summary['val_psnr_bicubic']:.2f} dB), {summary['seconds']:.0f}s")


if __name__ == "__main__":
    main()
