"""Stage `pretrain_sr@s-k`: pretrain DCSCN ×s on `sr.pretrain.source` for training seed k → models/sr/seed{k}/x{s}.keras
and its DVCLive log."""

from srseg.entry import stage, stage_args
from srseg.params import load_params
from srseg.paths import REPO


@stage
def main() -> None:
    args = stage_args(__doc__, scale=True, seed=True)
    params = load_params()
    from srseg import runtime

    runtime.configure(params.runtime.threads, params.runtime.cpu_kernels)
    from srseg.sr.train import train_sr

    s = train_sr(params, args.scale, args.seed, REPO)
    print(f"{s['model']}: val PSNR {s['val_psnr']:.2f} dB (bicubic {s['val_psnr_bicubic']:.2f} dB), "
          f"{s['seconds']:.0f}s")


if __name__ == "__main__":
    main()
