"""Stage `degrade@s`: bicubic LR (÷s) and bicubic-upscaled-back (×s) copies of every HR image."""

from srseg.cli import parse_scale, stage
from srseg.degrade import degrade_tree
from srseg.params import load_params


@stage
def main() -> None:
    scale = parse_scale(__doc__)
    params = load_params()
    degrade_tree("data/raw", scale, lr_out=f"data/lr/x{scale}", bicubic_out=f"data/bicubic/x{scale}",
                 allowed_scales=params.scales)


if __name__ == "__main__":
    main()
