"""What every entry point shares (the stage scripts and the ``srseg`` command): one-line errors, stage arguments."""

from __future__ import annotations

import argparse
import functools
import logging
import os
import sys
from collections.abc import Callable
from typing import Any

import srseg
from srseg.errors import SrsegError, first_line
from srseg.params import check_scale

#: TensorFlow comes from an extra (pyproject.toml): ``cpu`` (tensorflow-cpu) or ``gpu`` (tensorflow[and-cuda]).
NO_TENSORFLOW = ("TensorFlow is not installed: pip install -c constraints.txt -e '.[cpu]' (or '.[gpu]' on a CUDA "
                 "machine; see the README)")


def os_error_line(exc: OSError) -> str:
    """One line for an OSError: ``PATH: reason`` (``A -> B: reason`` for a rename), or its message when it names
    no file (a full disk while writing)."""
    reason = exc.strerror or first_line(exc)
    if exc.filename is None:
        return reason
    where = os.fsdecode(exc.filename)
    if exc.filename2 is not None:
        where += f" -> {os.fsdecode(exc.filename2)}"
    return f"{where}: {reason}"


def stage(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Run ``fn`` as a program: SrsegError (or a missing TensorFlow) → one line on stderr and exit status 2; so is
    an OSError (an output that cannot be written: no permission, a file in place of a folder, a full disk), naming
    the file (:func:`os_error_line`)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        logging.basicConfig(level=logging.INFO, format="%(message)s")
        try:
            return fn(*args, **kwargs)
        except SrsegError as exc:
            print(f"error: {exc}", file=sys.stderr)
            raise SystemExit(2) from None
        except ModuleNotFoundError as exc:
            if (exc.name or "").split(".")[0] != "tensorflow":
                raise
            print(f"error: {NO_TENSORFLOW}", file=sys.stderr)
            raise SystemExit(2) from None
        except OSError as exc:
            print(f"error: {os_error_line(exc)}", file=sys.stderr)
            raise SystemExit(2) from None
        except KeyboardInterrupt:
            print("interrupted", file=sys.stderr)
            raise SystemExit(130) from None

    return wrapper


def verbose_tensorflow() -> None:
    """Let TensorFlow log its C++ start-up lines again (``srseg --verbose``): undo :data:`srseg.QUIET_ENV`.

    Takes effect only before TensorFlow is imported (the ``srseg`` command imports it after parsing).
    """
    for key in srseg.QUIETED:
        os.environ.pop(key, None)
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "0"


def stage_args(description: str | None, *, scale: bool | None = False, seed: bool = False,
               method: bool = False) -> argparse.Namespace:
    """The arguments of a stage script: ``--scale S`` (required when ``scale`` is True, optional when None),
    ``--seed K`` (a training seed, one of ``seeds``) and ``--method M`` (a registered method).

    A scale below 2 is refused here, before params or TensorFlow load: SrsegError ``--scale 0: must be an
    integer >= 2`` (one line through :func:`stage`)."""
    parser = argparse.ArgumentParser(description=description)
    if method:
        parser.add_argument("--method", required=True, help="a method of srseg.methods (e.g. bicubic, sr)")
    if scale is not False:
        parser.add_argument("--scale", type=int, required=scale is True, help="scale factor, one of `scales`")
    if seed:
        parser.add_argument("--seed", type=int, required=True, help="training seed, one of `seeds`")
    args = parser.parse_args()
    if getattr(args, "scale", None) is not None:
        check_scale(args.scale)
    return args
