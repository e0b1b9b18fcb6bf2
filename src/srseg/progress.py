"""Progress bars of the inference commands (tqdm on stderr), off unless asked for."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import TypeVar

T = TypeVar("T")

#: ``progress`` arguments: True shows a bar, False none, None one on a terminal only (not in logs or pipes).
Progress = bool | None


def progress_bar(items: Sequence[T], progress: Progress, desc: str, unit: str, *, leave: bool = False,
                 least: int = 2) -> Iterable[T]:
    """``items`` as a tqdm bar when ``progress`` asks for one and there are at least ``least`` of them, else as
    they are. Bars nest (a folder's files, then one image's tiles)."""
    if progress is False or len(items) < least:
        return items
    from tqdm import tqdm

    return tqdm(items, desc=desc, unit=unit, leave=leave, disable=None if progress is None else False,
                dynamic_ncols=True)


@contextlib.contextmanager
def progress_steps(total: int, progress: Progress, desc: str, unit: str, *, least: int = 2
                   ) -> Iterator[Callable[[], None]]:
    """A function to call after each of ``total`` steps: it advances a bar as :func:`progress_bar` shows one."""
    if progress is False or total < least:
        yield lambda: None
        return
    from tqdm import tqdm

    with tqdm(total=total, desc=desc, unit=unit, leave=False, disable=None if progress is None else False,
              dynamic_ncols=True) as bar:

        def step() -> None:
            bar.update(1)

        yield step
