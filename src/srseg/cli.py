"""The ``srseg`` command and the error handling shared by every DVC stage entry point."""

from __future__ import annotations

import argparse
import functools
import logging
import sys
from collections.abc import Callable
from typing import Any

from srseg.errors import SrsegError


def stage(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Run ``fn`` as a program: SrsegError → one line on stderr and exit status 2, no traceback."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        logging.basicConfig(level=logging.INFO, format="%(message)s")
        try:
            return fn(*args, **kwargs)
        except SrsegError as exc:
            print(f"error: {exc}", file=sys.stderr)
            raise SystemExit(2) from None
        except KeyboardInterrupt:
            print("interrupted", file=sys.stderr)
            raise SystemExit(130) from None

    return wrapper


def parse_scale(description: str | None) -> int:
    """The ``--scale S`` argument of a per-scale stage script (``degrade``, ``pretrain_sr``, …)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--scale", type=int, required=True, help="scale factor, one of `scales` in params.yaml")
    return parser.parse_args().scale


def _scales(text: str) -> list[int]:
    try:
        scales = [int(s) for s in text.split(",") if s.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"--scales must be integers >= 2 separated by commas, got {text!r}")
    if not scales or any(s < 2 for s in scales):
        raise argparse.ArgumentTypeError(f"--scales must be integers >= 2 separated by commas, got {text!r}")
    return scales


def _cmd_sr_bench(args: argparse.Namespace) -> None:
    from srseg.srbench import run_sr_bench

    run_sr_bench(
        images=args.images, scales=args.scales, json_out=args.json,
        model=args.model, dcscn_checkpoint=args.dcscn_checkpoint, self_ensemble=args.self_ensemble,
    )


def _cmd_upscale(args: argparse.Namespace) -> None:
    from srseg.sr.infer import upscale_file

    upscale_file(
        args.input, args.output, scale=args.scale, model=args.model, dcscn_checkpoint=args.dcscn_checkpoint,
        tile=args.tile, self_ensemble=args.self_ensemble,
    )


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
    p.add_argument("--scale", type=int, required=True)
    p.add_argument("--model", help="an srseg SR model (.keras); default models/sr/x{scale}.keras")
    p.add_argument("--dcscn-checkpoint", help="folder or prefix of the DCSCN authors' TF checkpoints")
    p.add_argument("--tile", type=int, default=512, help="LR tile side (bounded memory; result is the same)")
    p.add_argument("--self-ensemble", action="store_true", help="8x geometric self-ensemble")
    p.set_defaults(func=_cmd_upscale)

    p = sub.add_parser("segment", help="segment one image: OUT_PREFIX_labelIds.png and OUT_PREFIX_color.png")
    p.add_argument("input")
    p.add_argument("out_prefix")
    p.add_argument("--model", default="models/seg/hr.keras", help="an srseg PSPNet (.keras)")
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
