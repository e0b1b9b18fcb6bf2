"""An ordered map over worker processes, for CPU-bound pure-Python work such as the synthetic renderer.

Results come back in the order of the items, whatever the number of workers, so a stage that writes them as
they arrive writes the same bytes with one worker or several. Workers are spawned, not forked: a forked copy of
a process that has started TensorFlow's thread pools can deadlock.
"""

from __future__ import annotations

import multiprocessing
import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")


def cpu_count() -> int:
    """The CPUs this process may run on (its affinity mask, not the machine's total)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def ordered_map(fn: Callable[[T], R], items: Iterable[T], workers: int) -> Iterator[R]:
    """``map(fn, items)`` on ``workers`` spawned processes (in this process when ``workers`` <= 1).

    At most ``2 × workers`` items are in flight, so a slow consumer holds a bounded number of results. ``fn``
    must be picklable (a module-level function). An exception in a worker is raised here, at its item.
    """
    if workers <= 1:
        yield from map(fn, items)
        return
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        pending: deque[Future[R]] = deque()
        try:
            for item in items:
                pending.append(pool.submit(fn, item))
                if len(pending) >= 2 * workers:
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()
        finally:
            for future in pending:
                future.cancel()
