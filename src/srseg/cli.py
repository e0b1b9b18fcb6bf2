"""The ``srseg`` command: one-image tools (upscale, segment), the SR benchmark and the params check."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from srseg import __version__
from srseg.apply import (
    check_input,
    check_model,
    default_seg_model,
    default_sr_model,
    folder_jobs,
    segment_in,
    upscale_in,
)
from srseg.entry import stage, verbose_tensorflow
from srseg.errors import SrsegError
from srseg.params import SEG_WHOLE_MAX_PIXELS, SEG_WINDOW, TILE_MEMORY
from srseg.paths import REPO
from srseg.runtime import CPU_KERNELS

#: Image suffixes ``segment`` strips from OUT_PREFIX (``out/x.png`` → ``out/x_labelIds.png``).
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")


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
        scales = []
    if not scales or any(s < 2 for s in scales):  # argparse names the option: "argument --scales: must be …"
        raise argparse.ArgumentTypeError(f"must be integers >= 2 separated by commas, got {text!r}")
    return scales


def _positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"must be an integer >= 1, got {text!r}")
    return int(text)


def _tile(text: str) -> int | str:
    return "auto" if text == "auto" else _positive(text)


def segment_prefix(out_prefix: str) -> str:
    """OUT_PREFIX without an image suffix: ``out/x.png`` writes ``out/x_labelIds.png``, not ``x.png_labelIds.png``."""
    path = Path(out_prefix)
    return str(path.with_suffix("")) if path.suffix.lower() in IMAGE_SUFFIXES else out_prefix


def _cmd_sr_bench(args: argparse.Namespace) -> None:
    from srseg.sr.bench import run_sr_bench

    run_sr_bench(
        images=args.images, scales=args.scales, json_out=args.json,
        model=args.model, dcscn_checkpoint=args.dcscn_checkpoint, self_ensemble=args.self_ensemble,
    )


def _check_upscale(args: argparse.Namespace) -> None:
    """What ``upscale`` checks before TensorFlow loads: its input (a folder: every image and output), its model's
    presence and task."""
    if Path(args.input).is_dir():
        if args.segmentation_assisted:
            raise SrsegError("--segmentation-assisted takes one image file, not a folder")
        args.run = folder_jobs(args.input, args.output, upscale_in, args.overwrite)
    else:
        check_input(args.input)
    if args.model is None and args.dcscn_checkpoint is None and not args.segmentation_assisted:
        args.model = default_sr_model(args.scale)
    if args.model is not None:
        check_model(Path(args.model), "super-resolution", "srseg upscale")


def _cmd_upscale(args: argparse.Namespace) -> None:
    common: dict[str, Any] = dict(tile=args.tile, self_ensemble=args.self_ensemble, overwrite=args.overwrite,
                                  progress=None)
    if args.segmentation_assisted:
        from srseg.methods.sft_sr import assisted_upscale_file

        assisted_upscale_file(args.input, args.output, args.scale, model=args.model, seg_model=args.seg_model,
                              dcscn_checkpoint=args.dcscn_checkpoint, **common)
    elif args.run is None:
        from srseg.sr.infer import upscale_file

        upscale_file(args.input, args.output, args.scale, model=args.model, dcscn_checkpoint=args.dcscn_checkpoint,
                     **common)
    else:  # one model load for the folder
        from srseg.apply import run_folder
        from srseg.sr.infer import open_upscaler, upscale_file

        upscaler = open_upscaler(args.scale, args.model, args.dcscn_checkpoint, args.input)
        run_folder(args.run, lambda job: upscale_file(job.input, job.outputs[0], args.scale, upscaler=upscaler,
                                                      **common))


def _check_segment(args: argparse.Namespace) -> None:
    """What ``segment`` checks before TensorFlow loads: its input (a folder: every image and output), its
    models' presence and task."""
    if Path(args.input).is_dir():
        args.run = folder_jobs(args.input, args.out_prefix, segment_in, args.overwrite)
    else:
        check_input(args.input)
    if args.model is None:
        args.model = default_seg_model()
    check_model(Path(args.model), "segmentation", "srseg segment")
    if args.sr_model is not None and args.sr_scale is None:
        raise SrsegError("--sr-model needs --sr-scale (the model's scale)")
    if args.sr_scale is not None:
        if args.sr_model is None:
            args.sr_model = default_sr_model(args.sr_scale, "--sr-model")
        check_model(Path(args.sr_model), "super-resolution", "srseg segment --sr-scale")


def _cmd_segment(args: argparse.Namespace) -> None:
    from srseg.seg.infer import open_segmenter, segment_file
    from srseg.sr.infer import open_upscaler, sr_segment_file

    common: dict[str, Any] = dict(window=args.window, overwrite=args.overwrite, progress=None)
    sr = {} if args.sr_scale is None else dict(scale=args.sr_scale, sr_model=args.sr_model)
    run = sr_segment_file if sr else segment_file
    if args.run is None:
        run(args.input, segment_prefix(args.out_prefix), model=args.model, **sr, **common)
        return
    from srseg.apply import run_folder

    # one load of each model for the folder, the SR model first (the chain's order)
    if sr:
        sr["sr_model"] = open_upscaler(args.sr_scale, args.sr_model, input=args.input)
    net = open_segmenter(args.model, args.input)
    run_folder(args.run, lambda job: run(job.input, args.run.output / job.input.stem, model=net, **sr, **common))


def _cmd_check_params(args: argparse.Namespace) -> None:
    from srseg.dvcfile import load_params

    load_params(args.params)
    print(f"{args.params}: ok")


FOLDER_RULES = ("A folder INPUT: its images (png, jpg, bmp, tif) in name order, the models loaded once; an "
                "image that cannot be read is named in one line and skipped, the others are written, and the "
                "command ends with an error line counting the skipped ones (exit status 2).")

DESCRIPTION = """\
Tools around the srseg study: does super-resolving low-resolution street images help semantic segmentation?
The study itself is a DVC pipeline (`dvc repro` runs it on params.yaml); these commands apply its trained models
to single images, benchmark SR models and check params. The pipeline's models are trained on the study's data
(by default synthetic street scenes): they say so, and warn on images from elsewhere. README.md explains the
study, its params and every command."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="srseg", description=DESCRIPTION,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"srseg {__version__}",
                        help="print the version and exit")
    verbose_help = "show TensorFlow's start-up log lines (hidden by default)"
    parser.add_argument("-v", "--verbose", action="store_true", help=verbose_help)
    sub = parser.add_subparsers(dest="command", required=True, title="commands", metavar="COMMAND",
                                help="`srseg COMMAND --help` describes its arguments")
    # --verbose after the command too; SUPPRESS keeps the subcommand from resetting a --verbose given before it
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS, help=verbose_help)
    # the commands that run a model take the pipeline's runtime.threads and runtime.cpu_kernels
    tf_common = argparse.ArgumentParser(add_help=False, parents=[common])
    tf_common.add_argument("--threads", type=_positive,
                           help="TensorFlow's intra-op threads, as the pipeline's runtime.threads "
                                "(default: TensorFlow's own choice, about one per core)")
    tf_common.add_argument("--cpu-kernels", choices=CPU_KERNELS, default="onednn",
                           help="TensorFlow's CPU kernels, as the pipeline's runtime.cpu_kernels (default onednn, "
                                "as there)")

    p = sub.add_parser("sr-bench", parents=[tf_common],
                       help="PSNR/SSIM (Y) of bicubic and SR models on a folder of images",
                       description="Y-PSNR/SSIM of bicubic (and of an SR model) at each scale, by the DCSCN authors' "
                                   "protocol: bicubic-downscale each image, upscale, compare on Y with the border "
                                   "shaved.")
    p.add_argument("--images", required=True, help="folder of HR images (png, bmp, jpg, tif)")
    p.add_argument("--scales", type=_scales, default=[2, 3, 4], help="comma-separated scale factors (default 2,3,4)")
    p.add_argument("--json", help="also write the results to this JSON file")
    p.add_argument("--model", help="an srseg SR model (.keras) to score beside bicubic; give its scale in --scales")
    p.add_argument("--dcscn-checkpoint", help="score the DCSCN authors' TF checkpoints instead (a folder or "
                                              "checkpoint prefix)")
    p.add_argument("--self-ensemble", action="store_true", help="average 8 flips/rotations (8x slower)")
    p.set_defaults(func=_cmd_sr_bench, tensorflow=True)

    p = sub.add_parser("upscale", parents=[tf_common],
                       help="super-resolve an image or a folder of images (colour or grey, any size)",
                       description="Super-resolve an image (or every image of a folder) with a DCSCN model: the "
                                   "network sharpens the luma, the colour comes from bicubic. Prints the model and "
                                   "what it was trained on; on a terminal, a progress bar over the images and "
                                   f"tiles. {FOLDER_RULES}")
    p.add_argument("input", metavar="INPUT", help="the low-resolution image to upscale, or a folder of them")
    p.add_argument("output", metavar="OUTPUT",
                   help="where to write the result; the extension picks the format (.png, .bmp, .tif, ...). For a "
                        "folder INPUT, a folder (created if needed): each image under its own name and format")
    p.add_argument("--scale", type=_scale, required=True, help="scale factor (2, 3, 4, …)")
    p.add_argument("--model", help=f"an srseg SR model (.keras); default {REPO.sr_model(2, 0).parent}/x<scale>.keras "
                                   "of the project (this checkout, wherever the command runs)")
    p.add_argument("--dcscn-checkpoint", help="use the DCSCN authors' TF checkpoints instead (a folder or "
                                              "checkpoint prefix)")
    p.add_argument("--tile", type=_tile, default="auto",
                   help="LR tile side in pixels, or auto (default): the largest whose activations fit in "
                        f"{TILE_MEMORY // 2**20} MB (c-DCSCN x2: 336). Bounds memory; the result is the same")
    p.add_argument("--self-ensemble", action="store_true", help="average 8 flips/rotations (8x slower)")
    p.add_argument("--overwrite", action="store_true", help="allow an output to be its input file itself")
    p.add_argument("--segmentation-assisted", action="store_true",
                   help="segment the input first and condition the SR on the class maps (needs a conditioned "
                        "model; default: the segmentation-assisted SR stage's model of seed 0)")
    p.add_argument("--seg-model", help=f"the segmenter for --segmentation-assisted (default {REPO.seg_model('hr', 0)})")
    p.set_defaults(func=_cmd_upscale, check=_check_upscale, tensorflow=True, run=None)

    p = sub.add_parser("segment", parents=[tf_common],
                       help="segment an image or a folder: OUT_PREFIX_labelIds.png and OUT_PREFIX_color.png",
                       description="Segment an image (or every image of a folder) with a PSPNet into the 19 "
                                   "Cityscapes classes; with --sr-scale, super-resolve it first (the study's "
                                   "SR-then-segment chain). Prints the models and what they were trained on, then "
                                   "the files it wrote; on a terminal, a progress bar over the images, tiles and "
                                   f"windows. {FOLDER_RULES}")
    p.add_argument("input", metavar="INPUT", help="the image to segment (RGB, any size), or a folder of them")
    p.add_argument("out_prefix", metavar="OUT_PREFIX",
                   help="writes OUT_PREFIX_labelIds.png (Cityscapes label ids) and OUT_PREFIX_color.png (colours); "
                        "an image suffix is dropped (out/x.png: out/x_labelIds.png). For a folder INPUT, a folder: "
                        "OUT_PREFIX/NAME_labelIds.png and NAME_color.png for each image NAME.ext")
    p.add_argument("--model",
                   help=f"an srseg PSPNet (.keras); default {REPO.seg_model('hr', 0)} of the project (this "
                        "checkout, wherever the command runs), the pipeline's model trained on the HR images")
    p.add_argument("--window", type=_positive, metavar="N",
                   help=f"segment in sliding N×N windows overlapping by a third (bounds memory; as the pipeline's "
                        f"seg.eval.mode sliding). Default: the whole image up to {SEG_WHOLE_MAX_PIXELS / 1e6:.1f} MP, "
                        f"windows of {SEG_WINDOW} above")
    p.add_argument("--sr-scale", type=_scale, metavar="N",
                   help="super-resolve the image xN first and segment the SR image (outputs N times the size)")
    p.add_argument("--sr-model", help=f"the SR model of --sr-scale (default {REPO.sr_model(2, 0).parent}/xN.keras of "
                                      "the project)")
    p.add_argument("--overwrite", action="store_true", help="allow an output file to be its input file itself")
    p.set_defaults(func=_cmd_segment, check=_check_segment, tensorflow=True, run=None)

    p = sub.add_parser("check-params", parents=[common], help="validate params.yaml and exit",
                       description="Check a params file as the check_params stage does (the schema, every key "
                                   "dvc.yaml reads present, values that would certainly fail a later stage); "
                                   "prints one line naming the first bad key and what it allows.")
    p.add_argument("params", nargs="?", default="params.yaml", metavar="PARAMS",
                   help="the params file (default params.yaml)")
    p.set_defaults(func=_cmd_check_params)

    return parser


@stage
def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    if args.verbose:
        verbose_tensorflow()  # before any command imports TensorFlow
    if getattr(args, "check", None):
        args.check(args)  # the inputs, before TensorFlow loads
    if getattr(args, "tensorflow", False):
        from srseg.runtime import configure

        # Before TensorFlow is imported; quietly, unless --verbose. Called in a process that already runs TensorFlow
        # (tests call main() in-process) without --threads, it could apply nothing and would warn about thread
        # pools the caller never asked to set, so it is skipped there.
        if args.threads is not None or "tensorflow" not in sys.modules:
            configure(args.threads, args.cpu_kernels)
    args.func(args)


if __name__ == "__main__":
    main()
