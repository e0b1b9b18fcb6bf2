"""Stage `retrain_seg@s-k` / `retrain_bicubic@s-k`: the train_seg recipe on the SR (or bicubic) ×s train images of
seed k → models/seg/seed{k}/retrain_sr_x{s}.keras (retrain_bicubic_x{s}), validated on the same kind of val images."""

from srseg.entry import stage
from srseg.params import check_scale, load_params

import argparse  # after srseg, whose import sets TensorFlow's quiet defaults


@stage
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--on", choices=["sr", "bicubic"], default="sr", help="the images to train on")
    parser.add_argument("--scale", type=int, required=True, help="scale factor")
    parser.add_argument("--seed", type=int, required=True, help="training seed, one of `seeds`")
    args = parser.parse_args()
    check_scale(args.scale)  # before params and TensorFlow load, like srseg.entry.stage_args
    params = load_params()
    from srseg import runtime

    runtime.configure(params.runtime.threads, params.runtime.cpu_kernels)
    from srseg.seg.pipeline import run_retrain_seg

    run_retrain_seg(params, args.scale, args.seed, on=args.on)


if __name__ == "__main__":
    main()
