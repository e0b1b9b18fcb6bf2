"""The ``srseg`` command: one-image tools (upscale, segment), the SR benchmark and the params check."""

from __future__ import annotations

import argparse
import warnings
from pathlib import Path

from srseg import __version__
from srseg.codegraph import ROOT
from srseg.entry import stage, verbose_tensorflow
from srseg.errors import SrsegError, first_line
from srseg.params import SEG_WHOLE_MAX_PIXELS, SEG_WINDOW, TILE
from srseg.paths import REPO, Paths
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


def project() -> Paths:
    """The pipeline's files, wherever the command runs: this checkout's (an editable install), else the working
    directory's."""
    return Paths(ROOT) if (ROOT / "dvc.yaml").is_file() else REPO


def check_input(path: str | Path) -> None:
    """The input is a file Pillow can open, checked before TensorFlow loads (one line otherwise)."""
    from PIL import Image, UnidentifiedImageError

    path = Path(path)
    if not path.is_file():
        raise SrsegError(f"{path}: no such file" + (" (a folder)" if path.is_dir() else ""))
    try:
        with warnings.catch_warnings():  # too many pixels: srseg.io.read_image refuses it in its own words
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path):
                pass
    except Image.DecompressionBombError:
        return  # too many pixels: srseg.io.read_image refuses it in its own words
    except (UnidentifiedImageError, OSError) as exc:
        raise SrsegError(f"{path}: not an image ({first_line(exc)})") from None


def check_model(path: Path, task: str, command: str) -> None:
    """A model's training record says it does ``task``; else one line naming the command that uses it. A missing
    file is left to the loader, which names it after the input's own checks."""
    from srseg.io import model_metadata

    if not path.exists():
        return
    record = model_metadata(path) or {}
    kind = record.get("task")
    if kind is not None and kind != task:
        other = "srseg segment" if kind == "segmentation" else "srseg upscale"
        raise SrsegError(f"{path}: a {kind} model ({record.get('architecture', 'unknown architecture')}), not "
                         f"{task}: use it with `{other}`, or give {command} a {task} model (--model)")


def default_sr_model(scale: int) -> Path:
    """The pipeline's ×``scale`` SR model of seed 0; a one-line hint when it is absent."""
    paths = project()
    path = paths.sr_model(scale, 0)
    if not path.is_file():
        have = sorted(p.stem for p in path.parent.glob("x*.keras")) if path.parent.is_dir() else []
        raise SrsegError(f"{path}: no trained x{scale} SR model (models here: {', '.join(have) or 'none'}); run "
                         f"`dvc repro pretrain_sr@{scale}-0` or `dvc pull` in the project, or give --model "
                         "(or --dcscn-checkpoint)")
    return path


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
    """What ``upscale`` checks before TensorFlow loads: its input, its model's presence and task."""
    check_input(args.input)
    if args.model is None and args.dcscn_checkpoint is None and not args.segmentation_assisted:
        args.model = default_sr_model(args.scale)
    if args.model is not None:
        check_model(Path(args.model), "super-resolution", "srseg upscale")


def _cmd_upscale(args: argparse.Namespace) -> None:
    common = dict(model=args.model, dcscn_checkpoint=args.dcscn_checkpoint, tile=args.tile,
                  self_ensemble=args.self_ensemble, overwrite=args.overwrite)
    if args.segmentation_assisted:
        from srseg.methods.sft_sr import assisted_upscale_file

        assisted_upscale_file(args.input, args.output, args.scale, seg_model=args.seg_model, **common)
    else:
        from srseg.sr.infer import upscale_file

        upscale_file(args.input, args.output, args.scale, **common)


def _check_segment(args: argparse.Namespace) -> None:
    """What ``segment`` checks before TensorFlow loads: its input, its model's presence and task."""
    check_input(args.input)
    if args.model is None:
        args.model = project().seg_model("hr", 0)
        if not args.model.is_file():
            raise SrsegError(f"{args.model}: no trained segmentation model; run `dvc repro train_seg@0` or `dvc pull` "
                             "in the project, or give --model")
    check_model(Path(args.model), "segmentation", "srseg segment")


def _cmd_segment(args: argparse.Namespace) -> None:
    from srseg.seg.infer import segment_file

    segment_file(args.input, segment_prefix(args.out_prefix), model=args.model, window=args.window,
                 overwrite=args.overwrite)


def _cmd_check_params(args: argparse.Namespace) -> None:
    from srseg.dvcfile import load_params

    load_params(args.params)
    print(f"{args.params}: ok")


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
                           help="TensorFlow's intra- and inter-op threads, as the pipeline's runtime.threads "
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

    p = sub.add_parser("upscale", parents=[tf_common], help="super-resolve one image (colour or grey, any size)",
                       description="Super-resolve one image with a DCSCN model: the network sharpens the luma, the "
                                   "colour comes from bicubic. Prints the model and what it was trained on.")
    p.add_argument("input", metavar="INPUT", help="the low-resolution image to upscale")
    p.add_argument("output", metavar="OUTPUT",
                   help="where to write the result; the extension picks the format (.png, .bmp, .tif, ...)")
    p.add_argument("--scale", type=_scale, required=True, help="scale factor (2, 3, 4, …)")
    p.add_argument("--model", help=f"an srseg SR model (.keras); default {REPO.sr_model(2, 0).parent}/x<scale>.keras "
                                   "of the project (this checkout, wherever the command runs)")
    p.add_argument("--dcscn-checkpoint", help="use the DCSCN authors' TF checkpoints instead (a folder or "
                                              "checkpoint prefix)")
    p.add_argument("--tile", type=int, default=TILE, help="LR tile side (bounds memory; the result is the same)")
    p.add_argument("--self-ensemble", action="store_true", help="average 8 flips/rotations (8x slower)")
    p.add_argument("--overwrite", action="store_true", help="allow OUTPUT to be the INPUT file itself")
    p.add_argument("--segmentation-assisted", action="store_true",
                   help="segment the input first and condition the SR on the class maps (needs a conditioned "
                        "model; default: the segmentation-assisted SR stage's model of seed 0)")
    p.add_argument("--seg-model", help=f"the segmenter for --segmentation-assisted (default {REPO.seg_model('hr', 0)})")
    p.set_defaults(func=_cmd_upscale, check=_check_upscale, tensorflow=True)

    p = sub.add_parser("segment", parents=[tf_common],
                       help="segment one image: OUT_PREFIX_labelIds.png and OUT_PREFIX_color.png",
                       description="Segment one image with a PSPNet into the 19 Cityscapes classes. Prints the model "
                                   "and what it was trained on, then the two files it wrote.")
    p.add_argument("input", metavar="INPUT", help="the image to segment (RGB, any size)")
    p.add_argument("out_prefix", metavar="OUT_PREFIX",
                   help="writes OUT_PREFIX_labelIds.png (Cityscapes label ids) and OUT_PREFIX_color.png (colours); "
                        "an image suffix is dropped (out/x.png: out/x_labelIds.png)")
    p.add_argument("--model",
                   help=f"an srseg PSPNet (.keras); default {REPO.seg_model('hr', 0)} of the project (this "
                        "checkout, wherever the command runs), the pipeline's model trained on the HR images")
    p.add_argument("--window", type=_positive, metavar="N",
                   help=f"segment in sliding N×N windows overlapping by a third (bounds memory; as the pipeline's "
                        f"seg.eval.mode sliding). Default: the whole image up to {SEG_WHOLE_MAX_PIXELS / 1e6:.1f} MP, "
                        f"windows of {SEG_WINDOW} above")
    p.add_argument("--overwrite", action="store_true", help="allow an output file to be the INPUT file itself")
    p.set_defaults(func=_cmd_segment, check=_check_segment, tensorflow=True)

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

        configure(args.threads, args.cpu_kernels)  # before TensorFlow is imported; quietly, unless --verbose
    args.func(args)


if __name__ == "__main__":
    main()
