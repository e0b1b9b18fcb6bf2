"""How a bootstrap resample draws correlated val frames: circular blocks of consecutive frames within a sequence.

CamVid's frames come from video, and neighbouring frames are near-copies: resampling single frames would treat
them as independent and make the intervals too narrow. A :class:`Design` draws blocks of ``block`` consecutive
frames of one sequence, each block wrapping around within its sequence (the circular block bootstrap of Politis &
Romano 1992, "A circular block-resampling procedure for stationary data"); with ``block`` 1 it is the ordinary
bootstrap over images. :func:`choose_block` picks the length from the autocorrelation of per-frame scores
(Politis & White 2004, "Automatic block-length selection for the dependent bootstrap", with Patton, Politis &
White's 2009 correction, as :func:`arch.bootstrap.optimal_block_length` computes it).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from srseg.errors import ParamsError, SrsegError

_MIN_BLOCK_SERIES = 8  # shorter per-sequence series say nothing about autocorrelation


@dataclass(frozen=True)
class Design:
    """How a resample draws the val images: ``groups[i]`` is image i's sequence (images of one sequence
    consecutive, in frame order), drawn in circular blocks of ``block`` consecutive frames."""

    groups: tuple[int, ...]
    block: int = 1

    def __post_init__(self) -> None:
        g = np.asarray(self.groups)
        if g.size == 0 or np.any(np.diff(g) < 0):
            raise SrsegError("bootstrap design: each sequence's images must be consecutive (groups sorted)")
        if isinstance(self.block, bool) or not isinstance(self.block, int | np.integer) or self.block < 1:
            raise ParamsError(f"stats.block: {self.block!r} is not auto or an integer ≥ 1")
        sizes = [int(n) for n in np.unique(g, return_counts=True)[1]]
        smallest = min(sizes)
        if self.block > smallest:
            raise ParamsError(f"stats.block: {self.block} is longer than the shortest val sequence ({smallest} "
                              "images); use auto or a block ≤ that")

    @classmethod
    def iid(cls, n: int) -> Design:
        """Independent images: the ordinary bootstrap."""
        return cls(tuple([0] * n), 1)

    @classmethod
    def from_ids(cls, ids: Sequence[str], block: int = 1) -> Design:
        """Sequences from image ids ``<sequence>_<…>`` (a Cityscapes city, a CamVid sequence), in sorted order."""
        names = [i.split("_", 1)[0] for i in ids]
        if list(ids) != sorted(ids):
            raise SrsegError("bootstrap design: image ids must be sorted (sequence, then frame)")
        order = {name: k for k, name in enumerate(dict.fromkeys(names))}
        return cls(tuple(order[n] for n in names), block)

    @property
    def n(self) -> int:
        return len(self.groups)


@dataclass(frozen=True)
class BlockChoice:
    """The block length :func:`choose_block` chose, and what it chose it from."""

    block: int
    estimates: dict[str, float]  # per series: Politis–White circular block length (size-weighted over sequences)
    lag1: dict[str, float]  # per series: lag-1 autocorrelation within sequences (pooled)


def choose_block(series: Mapping[str, np.ndarray], design: Design) -> BlockChoice:
    """The block length for ``design``'s sequences from per-frame score series (``{name: (N,) values}``, e.g. the
    per-image pixel accuracy of each variant and the per-image differences of each comparison).

    Per series, the Politis–White circular block length of each sequence with at least 8 frames, averaged with the
    sequences' sizes as weights; the block is the largest of these, rounded up (the most dependent series sets it,
    so that no interval assumes less dependence than its series shows), and at most the shortest sequence. A
    constant series (no variation to correlate) is left out; no usable series gives 1.
    """
    from arch.bootstrap import optimal_block_length  # here: arch (pandas, statsmodels) takes ~1 s to import

    groups = np.asarray(design.groups)
    sizes = np.bincount(groups)
    estimates: dict[str, float] = {}
    lag1: dict[str, float] = {}
    for name, values in series.items():
        v = np.asarray(values, dtype=np.float64)
        if v.shape != groups.shape:
            raise SrsegError(f"block length: series {name!r} has {v.size} values for {groups.size} images")
        weighted, weight, num, den = 0.0, 0, 0.0, 0.0
        for g in range(sizes.size):
            x = v[groups == g]
            if x.size < _MIN_BLOCK_SERIES or not np.all(np.isfinite(x)) or np.ptp(x) == 0:
                continue
            weighted += float(optimal_block_length(x)["circular"].iloc[0]) * x.size
            weight += x.size
            c = x - x.mean()
            num, den = num + float(np.dot(c[:-1], c[1:])), den + float(np.dot(c, c))
        if weight:
            estimates[name] = weighted / weight
            lag1[name] = num / den
    block = max(1, math.ceil(max(estimates.values(), default=1.0) - 1e-9))
    return BlockChoice(block=min(block, int(sizes[sizes > 0].min())), estimates=estimates, lag1=lag1)


def image_counts(rng: np.random.Generator, m: int, design: Design) -> np.ndarray:
    """``(m, N)``: how often each image is in each of m resamples of N images.

    A resample draws ``ceil(N / block)`` block starts uniformly over the images; a block is the start and the
    next ``block − 1`` frames of its sequence, wrapping around to the sequence's first frame; the last block is
    cut so that the resample has N images. With ``block`` 1 row r is ``rng.integers(0, N, size=N)``.
    """
    n, length = design.n, design.block
    k = -(-n // length)
    starts = rng.integers(0, n, size=(m, k))
    if length == 1:
        idx = starts
    else:
        groups = np.asarray(design.groups)
        first = np.searchsorted(groups, groups, side="left")  # each image's sequence start
        size = np.bincount(groups)[groups]
        offset = (starts - first[starts])[..., None] + np.arange(length)
        idx = (first[starts][..., None] + offset % size[starts][..., None]).reshape(m, k * length)[:, :n]
    return np.bincount((idx + n * np.arange(m)[:, None]).ravel(), minlength=m * n).reshape(m, n)
