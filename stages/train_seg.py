"""Stage `train_seg`: PSPNet on the HR train split of data/raw → models/seg/hr.keras (or `seg.weights`)."""

from srseg.cli import stage
from srseg.params import load_params


@stage
def main() -> None:
    params = load_params()
    from srseg.seg.pipeline import run_train_seg

    run_train_seg(params)


if __name__ == "__main__":
    main()
