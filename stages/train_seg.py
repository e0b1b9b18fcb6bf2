"""Stage `train_seg@k`: PSPNet on the HR train split of data/raw for training seed k → models/seg/seed{k}/hr.keras
(or `seg.weights`)."""

from srseg.entry import stage, stage_args
from srseg.params import load_params


@stage
def main() -> None:
    args = stage_args(__doc__, seed=True)
    params = load_params()
    from srseg import runtime

    runtime.configure(params.runtime.threads, params.runtime.cpu_kernels)
    from srseg.paths import REPO
    from srseg.seg.train import run_train_seg

    run_train_seg(params, args.seed, REPO)


if __name__ == "__main__":
    main()
