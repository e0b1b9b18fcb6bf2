"""Stage `super_resolve@s`: DCSCN ×s of data/lr/x{s} → data/sr/x{s} (val; train if s in seg.retrain_scales)
and metrics/sr/x{s}.json (Y-PSNR/SSIM of bicubic and SR on val)."""

from srseg.cli import parse_scale, stage
from srseg.params import load_params


@stage
def main() -> None:
    scale = parse_scale(__doc__)
    params = load_params()

    from srseg.sr.pipeline import super_resolve_tree

    m = super_resolve_tree(params, scale)
    print(f"data/sr/x{scale}: val Y-PSNR SR {m['sr']['psnr_y']:.2f} dB vs bicubic {m['bicubic']['psnr_y']:.2f} dB "
          f"({m['sr']['n_images']} images)")


if __name__ == "__main__":
    main()
