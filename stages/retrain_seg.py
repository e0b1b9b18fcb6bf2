"""Stage `retrain_seg@s-k`: the train_seg recipe on the SR ×s train images of seed k →
models/seg/seed{k}/retrain_sr_x{s}.keras (validated on SR ×s val)."""

from srseg.entry import stage, stage_args
from srseg.params import load_params


@stage
def main() -> None:
    args = stage_args(__doc__, scale=True, seed=True)
    params = load_params()
    from srseg import runtime

    runtime.configure(params.runtime.threads)
    from srseg.seg.pipeline import run_retrain_seg

    run_retrain_seg(params, args.scale, args.seed)


if __name__ == "__main__":
    main()
