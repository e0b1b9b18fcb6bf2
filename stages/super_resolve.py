"""Stage `super_resolve@s-k`: the ×s SR model of seed k on data/lr/x{s} → data/sr/seed{k}/x{s} (val; train too if s is
in seg.retrain_scales) and metrics/sr/seed{k}/sr_x{s}.json (Y-PSNR/SSIM on val)."""

from srseg.entry import stage, stage_args
from srseg.params import load_params
from srseg.paths import REPO


@stage
def main() -> None:
    args = stage_args(__doc__, scale=True, seed=True)
    params = load_params()
    from srseg import runtime

    runtime.configure(params.runtime.threads, params.runtime.cpu_kernels)
    from srseg.sr.pipeline import super_resolve_tree

    m = super_resolve_tree(params, args.scale, args.seed, REPO)
    print(f"{REPO.sr(args.scale, args.seed)}: val Y-PSNR {m['psnr_y']:.2f} dB, SSIM {m['ssim_y']:.4f} "
          f"({m['n_images']} images)")


if __name__ == "__main__":
    main()
