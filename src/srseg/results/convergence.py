"""Convergence is checked, not assumed: for every trained model, whether its training loss had flattened.

Every training stage logs its loss per epoch with DVCLive (``metrics/train/seed{k}/<run>/plots/metrics/train/
loss.tsv``). The check fits a least-squares line through the last third of the logged epochs (at least three) and
extrapolates it over a tenth of the training: the share of the current loss that the model would still lose over its
last tenth of training, ``−slope · (epochs / 10) / mean loss``. A model whose share exceeds ``stats.still_falling``
is flagged: more training would have changed it. With fewer than three logged epochs there is nothing to fit: the
model is listed as *not judged*, not as converged.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from srseg.errors import SrsegError
from srseg.paths import Paths

MIN_POINTS = 3
LOSS = Path("plots", "metrics", "train", "loss.tsv")


@dataclass(frozen=True)
class Curve:
    """One model's training-loss curve and its verdict."""

    run: str  # ``seed0/seg_hr``
    epochs: int
    last: float
    still_falling: float | None  # the share of the loss still lost per tenth of training; None: not judged
    flagged: bool

    def to_json(self) -> dict[str, Any]:
        share = None if self.still_falling is None else round(self.still_falling, 6)
        return {"run": self.run, "epochs": self.epochs, "last_loss": round(self.last, 6), "still_falling": share,
                "flagged": self.flagged}


def read_loss(path: Path) -> np.ndarray:
    """The loss column of a DVCLive TSV (``step<TAB>loss``), in step order; SrsegError naming the file when it does
    not parse."""
    try:
        with path.open(newline="") as f:
            rows = list(csv.DictReader(f, delimiter="\t"))
        pairs = sorted((int(r["step"]), float(r["loss"])) for r in rows)
    except (KeyError, ValueError, TypeError) as exc:
        raise SrsegError(f"{path}: not a DVCLive step/loss table ({exc})") from None
    return np.array([v for _, v in pairs], dtype=np.float64)


def still_falling(loss: np.ndarray) -> float | None:
    """The share of its loss a curve would still lose over a tenth of its length, from a line through its last third
    (None with fewer than three points or a non-finite loss)."""
    n = loss.size
    tail = loss[-max(MIN_POINTS, math.ceil(n / 3)):]
    if n < MIN_POINTS or not np.all(np.isfinite(tail)) or tail.mean() <= 0:
        return None
    slope = np.polyfit(np.arange(tail.size, dtype=np.float64), tail, 1)[0]
    return float(-slope * (n / 10) / tail.mean())


def check(paths: Paths, threshold: float) -> list[Curve]:
    """Every logged training run under ``metrics/train``, sorted by run."""
    root = paths.train_log("x", 0).parent.parent  # metrics/train
    curves = []
    for path in sorted(root.glob(f"seed*/*/{LOSS.as_posix()}")):
        loss = read_loss(path)
        if loss.size == 0:
            continue
        share = still_falling(loss)
        run = path.parents[len(LOSS.parts) - 1].relative_to(root).as_posix()
        curves.append(Curve(run, int(loss.size), float(loss[-1]), share, share is not None and share > threshold))
    return curves
