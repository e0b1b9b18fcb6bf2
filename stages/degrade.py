"""Stage `degrade@s`: bicubic LR (÷s) and bicubic-upscaled-back (×s) copies of every HR image."""

import argparse

from srseg.cli import stage
from srseg.degrade import degrade_tree
from srseg.params import load_params


@stage
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scale", type=int, required=True)
    args = parser.parse_args()
    params = load_params()
    degrade_tree("data/raw", args.scale, lr_out=f"data/lr/x{args.scale}", bicubic_out=f"data/bicubic/x{args.scale}",
                 allowed_scales=params.scales)


if __name__ == "__main__":
    main()
