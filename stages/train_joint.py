"""Stage `train_joint@s-k`: the joint SR + segmentation model on ×s LR input for training seed k →
models/seg/seed{k}/joint_x{s}.keras (the segmentation model, SR head dropped) and the SR head's Y-PSNR
(metrics/sr/seed{k}/joint_x{s}.json)."""

from srseg.entry import stage, stage_args
from srseg.params import load_params
from srseg.paths import REPO


@stage
def main() -> None:
    args = stage_args(__doc__, scale=True, seed=True)
    params = load_params()
    from srseg import runtime

    runtime.configure(params.runtime.threads, params.runtime.cpu_kernels)
    from srseg.seg.joint import run_train_joint

    run_train_joint(params, args.scale, args.seed, REPO)


if __name__ == "__main__":
    main()
