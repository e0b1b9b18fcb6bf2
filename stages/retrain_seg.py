"""Stage `retrain_seg@S`: the train_seg recipe on the SR ×S train images → models/seg/sr_xS.keras,
scored on SR and HR val (data/pred/retrain_xS/{on_sr,on_hr}, metrics/seg/retrain_xS.json)."""

from srseg.cli import parse_scale, stage
from srseg.params import load_params


@stage
def main() -> None:
    scale = parse_scale(__doc__)
    params = load_params()
    from srseg.seg.pipeline import run_retrain_seg

    run_retrain_seg(params, scale)


if __name__ == "__main__":
    main()
