"""Stage `evaluate_seg_hr` / `evaluate_seg@kind-scale`: the HR PSPNet on a variant's val images.

`--variant hr | bicubic_x{s} | sr_x{s}` → data/pred/<variant> (labelIds PNGs) and metrics/seg/<variant>.json.
"""

import argparse

from srseg.cli import stage
from srseg.params import load_params


@stage
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--variant", required=True, help="hr, bicubic_x<scale> or sr_x<scale>")
    args = parser.parse_args()
    params = load_params()
    from srseg.seg.pipeline import run_evaluate_seg

    run_evaluate_seg(params, args.variant)


if __name__ == "__main__":
    main()
