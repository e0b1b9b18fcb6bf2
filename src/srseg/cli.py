"""The ``srseg`` command and the error handling shared by every DVC stage entry point."""

from __future__ import annotations

import argparse

from srseg.entry import stage
from srseg.params import TILE
from srseg.paths import REPO


def _scale(text: str) -> int:
    try:
        scale = int(text)
    except ValueError:
        scale = 0
    if scale < 2:
        raise argparse.ArgumentTypeError(f"must be an integer >= 2, got {text!r}")
    return scale


def _scales(text: str) -> list[int]:
    try:
        scales = [int(s) for s in text.split(",") if s.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"--scales must be integers >= 2 separated by commas, got {text!r}")
    if not scales or any(s < 2 for s in scales):
        raise argparse.ArgumentTypeError(f"--scales must be integers >= 2 separated by commas, got {text!r}")
    return scales


def _cmd_sr_bench(args: argparse.Namespace) -> None:
    from srseg.sr.bench import run_sr_bench

    run_sr_bench(
        images=args.images, scales=args.scales, json_out=args.json,
        model=args.model, dcscn_checkpoint=args.dcscn_checkpoint, self_ensemble=args.self_ensemble,
    )


def _cmd_upscale(args: argparse.Namespace) -> None:
    common = dict(model=args.model, dcscn_checkpoint=args.dcscn_checkpoint, tile=args.tile,
                  self_ensemble=args.self_ensemble, overwrite=args.overwrite)
    if args.segmentation_assisted:
        from srseg.sr.condition import assisted_upscale_file

        assisted_upscale_file(args.input, args.output, args.scale, seg_model=args.seg_model, **common)
    else:
        from srseg.sr.infer import upscale_file

        upscale_file(args.input, args.output, args.scale, **common)


def _cmd_segment(args: argparse.Namespace) -> None:
    from srseg.seg.infer import segment_file

    segment_file(args.input, args.out_prefix, model=args.model)


def _cmd_check_params(args: argparse.Namespace) -> None:
    from srseg.params import load_params

    load_params(args.params)
    print(f"{args.params}: ok")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="srseg", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("sr-bench", help="PSNR/SSIM (Y) of bicubic and SR models on a folder of images")
    p.add_argument("--images", required=True, help="folder of HR images (png, bmp, jpg)")
    p.add_argument("--scales", type=_scales, default=[2, 3, 4], help="comma-separated, e.g. 2,3,4")
    p.add_argument("--json", help="write the results here as JSON")
    p.add_argument("--model", help="an srseg SR model (.keras)")
    p.add_argument("--dcscn-checkpoint", help="folder or prefix of the DCSCN authors' TF checkpoints")
    p.add_argument("--self-ensemble", action="store_true", help="8x geometric self-ensemble")
    p.set_defaults(func=_cmd_sr_bench)

    p = sub.add_parser("upscale", help="super-resolve one image (colour or grey, any size)")
    p.add_argument("input")
    p.add_argument("output")
    p.add_argument("--scale", type=_scale, required=True, help="scale factor (2, 3, 4, …)")
    p.add_argument("--model", help=f"an srseg SR model (.keras); default {REPO.sr_model(2, 0).parent}/x<scale>.keras")
    p.add_argument("--dcscn-checkpoint", help="folder or prefix of the DCSCN authors' TF checkpoints")
    p.add_argument("--tile", type=int, default=TILE, help="LR tile side (bounds memory; the result is the same)")
    p.add_argument("--self-ensemble", action="store_true", help="8x geometric self-ensemble")
    p.add_argument("--overwrite", action="store_true", help="allow OUTPUT to be the INPUT file itself")
    p.add_argument("--segmentation-assisted", action="store_true",
                   help="segment the input first and condition the SR on the class maps (needs a conditioned "
                        f"model; default {REPO.method_sr_model('sft_sr', 4, 0).parent}/sft_sr_x<scale>.keras)")
    p.add_argument("--seg-model", help=f"the segmenter for --segmentation-assisted (default {REPO.seg_model('hr', 0)})")
    p.set_defaults(func=_cmd_upscale)

    p = sub.add_parser("segment", help="segment one image: OUT_PREFIX_labelIds.png and OUT_PREFIX_color.png")
    p.add_argument("input")
    p.add_argument("out_prefix")
    p.add_argument("--model", default=str(REPO.seg_model("hr", 0)), help="an srseg PSPNet (.keras)")
    p.set_defaults(func=_cmd_segment)

    p = sub.add_parser("check-params", help="validate params.yaml and exit")
    p.add_argument("params", nargs="?", default="params.yaml")
    p.set_defaults(func=_cmd_check_params)

    return parser


@stage
def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    args.func(args)


if __name__ == "__main__":
    main()
