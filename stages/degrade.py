"""Stage `degrade@s`: bicubic LR (÷s) and bicubic-upscaled-back (×s) copies of every HR image, and the Y-PSNR/SSIM
of the bicubic val images (metrics/sr/bicubic_x{s}.json)."""

from srseg.degrade import degrade_tree
from srseg.entry import stage, stage_args
from srseg.io import write_json
from srseg.metrics.sr import tree_quality
from srseg.params import check_scale, load_params
from srseg.paths import REPO, variant


@stage
def main() -> None:
    args = stage_args(__doc__, scale=True)
    load_params()  # validated before any work, though degrade reads no param
    scale = check_scale(args.scale)
    degrade_tree(REPO.raw, scale, lr_out=REPO.lr(scale), bicubic_out=REPO.bicubic(scale))
    write_json(REPO.image_quality(variant("bicubic", scale), None), tree_quality(REPO.raw, REPO.bicubic(scale), scale))


if __name__ == "__main__":
    main()
