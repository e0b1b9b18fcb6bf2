"""The trained models applied to image files and folders (``srseg upscale`` / ``segment``, :mod:`srseg.api`).

What is checked before TensorFlow loads (inputs, the model's presence and task), the default models of the
project, and folder runs: every image of a folder (sorted) into an output folder, one model load, a progress bar.

A folder run is planned first (:func:`folder_jobs`): an output that is its own input file (unless ``overwrite``),
two inputs that would write the same output, or an output folder that is a file stop it before anything runs. An
input that cannot be read is **skipped**: one warning line names it (``skipped: PATH: reason``), the other images
are written, and the run ends with an error line counting what was skipped (exit status 2 in the command), so a
script notices. Errors that would repeat for every image (the model, an unwritable output folder) stop the run.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from srseg.codegraph import ROOT
from srseg.errors import ImageError, SrsegError, first_line
from srseg.io import list_images, refuse_overwriting
from srseg.paths import REPO, Paths
from srseg.progress import Progress, progress_bar

log = logging.getLogger(__name__)


# --- default models and checks before TensorFlow loads ---------------------------------------------------

def project() -> Paths:
    """The pipeline's files, wherever the command runs: this checkout's (an editable install), else the working
    directory's."""
    return Paths(ROOT) if (ROOT / "dvc.yaml").is_file() else REPO


def default_sr_model(scale: int, option: str = "--model (or --dcscn-checkpoint)") -> Path:
    """The pipeline's ×``scale`` SR model of seed 0; a one-line hint (naming ``option``) when it is absent."""
    path = project().sr_model(scale, 0)
    if not path.is_file():
        have = sorted(p.stem for p in path.parent.glob("x*.keras")) if path.parent.is_dir() else []
        raise SrsegError(f"{path}: no trained x{scale} SR model (models here: {', '.join(have) or 'none'}); run "
                         f"`dvc repro pretrain_sr@{scale}-0` or `dvc pull` in the project, or give {option}")
    return path


def default_seg_model() -> Path:
    """The pipeline's PSPNet trained on the HR images, seed 0; a one-line hint when it is absent."""
    path = project().seg_model("hr", 0)
    if not path.is_file():
        raise SrsegError(f"{path}: no trained segmentation model; run `dvc repro train_seg@0` or `dvc pull` "
                         "in the project, or give --model")
    return path


def check_input(path: str | Path) -> None:
    """The input is a file Pillow can open, checked before TensorFlow loads (one line otherwise)."""
    from PIL import Image, UnidentifiedImageError

    path = Path(path)
    if not path.is_file():
        raise ImageError(f"{path}: no such file" + (" (a folder)" if path.is_dir() else ""))
    try:
        with warnings.catch_warnings():  # too many pixels: srseg.io.read_image refuses it in its own words
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path):
                pass
    except Image.DecompressionBombError:
        return  # too many pixels: srseg.io.read_image refuses it in its own words
    except (UnidentifiedImageError, OSError) as exc:
        raise ImageError(f"{path}: not an image ({first_line(exc)})") from None


def check_model(path: str | Path, task: str, command: str) -> None:
    """A model's training record says it does ``task``; else one line naming the command that uses it. A missing
    file is left to the loader, which names it after the input's own checks."""
    from srseg.io import model_metadata

    path = Path(path)
    if not path.exists():
        return
    record = model_metadata(path) or {}
    kind = record.get("task")
    if kind is not None and kind != task:
        other = "srseg segment" if kind == "segmentation" else "srseg upscale"
        raise SrsegError(f"{path}: a {kind} model ({record.get('architecture', 'unknown architecture')}), not "
                         f"{task}: use it with `{other}`, or give {command} a {task} model (--model)")


# --- folder runs ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Job:
    """One input image of a folder run and the files it writes."""

    input: Path
    outputs: tuple[Path, ...]


@dataclass(frozen=True)
class FolderRun:
    """A planned folder run: the jobs to run, and the inputs already refused (one line each)."""

    input: Path
    output: Path
    jobs: list[Job]
    skipped: list[str]


def segment_outputs(out_prefix: str | Path) -> tuple[Path, Path]:
    """The two files ``srseg segment`` writes: ``OUT_PREFIX_labelIds.png`` and ``OUT_PREFIX_color.png``."""
    return Path(f"{out_prefix}_labelIds.png"), Path(f"{out_prefix}_color.png")


def upscale_in(image: Path, folder: Path) -> tuple[Path, ...]:
    """``srseg upscale`` into a folder: the input's own name (and so its format)."""
    return (folder / image.name,)


def segment_in(image: Path, folder: Path) -> tuple[Path, ...]:
    """``srseg segment`` into a folder: ``STEM_labelIds.png`` and ``STEM_color.png``."""
    return segment_outputs(folder / image.stem)


def folder_jobs(input: str | Path, output: str | Path, outputs: Callable[[Path, Path], tuple[Path, ...]],
                overwrite: bool = False) -> FolderRun:
    """Plan a folder run, before TensorFlow loads: the images of ``input`` (sorted), each with the files
    ``outputs(image, output)`` names.

    Stops (SrsegError): an ``output`` that is a file, an output that is its own input file (unless ``overwrite``),
    two inputs writing one file. Skips, with a warning line each: inputs Pillow cannot open.
    """
    input, output = Path(input), Path(output)
    if output.exists() and not output.is_dir():
        raise SrsegError(f"{output}: is a file; with a folder as INPUT, the output is a folder")
    jobs: list[Job] = []
    skipped: list[str] = []
    writers: dict[Path, Path] = {}  # output → the input writing it
    for image in list_images(input):
        outs = outputs(image, output)
        refuse_overwriting(image, outs, overwrite, "another output folder")
        for out in outs:
            other = writers.setdefault(out, image)
            if other != image:
                raise SrsegError(f"{other.name} and {image.name} would both write {out}; rename one of them")
        try:
            check_input(image)
        except ImageError as exc:
            log.warning("skipped: %s", exc)
            skipped.append(str(image))
            continue
        jobs.append(Job(image, outs))
    if not jobs:
        raise SrsegError(f"{input}: none of its {len(skipped)} images can be read")
    return FolderRun(input, output, jobs, skipped)


def run_folder(run: FolderRun, work: Callable[[Job], Any], progress: Progress = None) -> None:
    """``work`` on each job of ``run`` under a progress bar over the images; an input it refuses (ImageError) is
    one warning line and skipped, the others go on. Ends with SrsegError counting the skipped images, if any."""
    from tqdm.contrib.logging import logging_redirect_tqdm

    skipped = list(run.skipped)
    with logging_redirect_tqdm():  # log lines above the bars, not through them
        for job in progress_bar(run.jobs, progress, "images", "img", leave=True):
            try:
                work(job)
            except ImageError as exc:
                log.warning("skipped: %s", exc)
                skipped.append(str(job.input))
    if skipped:
        total = len(run.jobs) + len(run.skipped)
        raise SrsegError(f"{len(skipped)} of {total} images skipped ({_names(skipped)}); the other "
                         f"{total - len(skipped)} are in {run.output}")


def _names(paths: Sequence[str], most: int = 3) -> str:
    names = [Path(p).name for p in paths]
    return ", ".join(names[:most]) + (f" and {len(names) - most} more" if len(names) > most else "")
