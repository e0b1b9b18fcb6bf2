"""Stage `retrain_seg@S`: the train_seg recipe on the SR ×S train images → models/seg/sr_xS.keras,
scored on SR and HR val (data/pred/retrain_xS/{on_sr,on_hr}, metrics/seg/retrain_xS.json)."""

import argparse

from srseg.cli import stage
from srseg.params import load_params


@stage
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scale", type=int, required=True)
    args = parser.parse_args()
    params = load_params()
    from srseg.seg.pipeline import run_retrain_seg

    run_retrain_seg(params, args.scale)


if __name__ == "__main__":
    main()
