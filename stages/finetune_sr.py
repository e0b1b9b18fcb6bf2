"""Stage `finetune_sr@s-k`, `task_sr@s-k`, `sft_sr@s-k`, `sft_oracle@s-k`: fine-tune the pretrained DCSCN ×s of seed k
on the study's train split (plain, through the frozen HR PSPNet, or conditioned on segmentation maps) →
models/sr/seed{k}/<method>_x{s}.keras, the val images data/<method>/seed{k}/x{s} and their Y-PSNR/SSIM."""

from srseg.entry import stage, stage_args
from srseg.params import load_params
from srseg.paths import REPO


@stage
def main() -> None:
    args = stage_args(__doc__, method=True, scale=True, seed=True)
    params = load_params()
    from srseg import runtime

    runtime.configure(params.runtime.threads, params.runtime.cpu_kernels)
    from srseg.sr.finetune import run_finetune

    m = run_finetune(params, args.method, args.scale, args.seed, REPO)
    print(f"{REPO.method_images(args.method, args.scale, args.seed)}: val Y-PSNR {m['psnr_y']:.2f} dB, "
          f"SSIM {m['ssim_y']:.4f}")


if __name__ == "__main__":
    main()
