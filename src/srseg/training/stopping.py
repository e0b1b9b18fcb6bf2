"""Early stopping on a stated criterion, for any training of :func:`srseg.training.loop.train`.

The rule (:func:`stop_rule`, a pure function of the per-epoch scores): an epoch makes *progress* when its score
(higher is better; the SR fine-tunes use the Y-PSNR of a held-out part of the train split) beats the best score so
far by at least ``min_delta``; the first epoch always counts as progress. Training stops after ``patience``
consecutive epochs without progress, or at the step cap, whichever comes first; the weights kept are those of
the best epoch (the last one that made progress), restored when later epochs did not make progress. ``patience``
0 switches the rule off: train to the cap and keep the last epoch's weights.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

#: Why a training ended: ``patience`` epochs without progress, or the step cap (``cap``).
Reason = Literal["patience", "cap"]


@dataclass(frozen=True)
class Verdict:
    """What the rule says after the scores so far: the best epoch (1-based; 0 before any) and whether to stop."""

    best_epoch: int
    stop: bool


def stop_rule(scores: Sequence[float], patience: int, min_delta: float) -> Verdict:
    """The early-stopping verdict after epochs ``1..len(scores)`` with these scores (higher is better).

    An epoch makes progress when its score is at least ``min_delta`` above the best of the epochs that made
    progress before it (the first epoch always does); stop once the last ``patience`` epochs made none.
    ``patience`` 0: never stop, and the best epoch is the last one.
    """
    if not scores:
        return Verdict(0, False)
    if patience <= 0:
        return Verdict(len(scores), False)
    best_epoch, best = 1, float(scores[0])
    for epoch, score in enumerate(scores[1:], start=2):
        if float(score) >= best + min_delta:
            best_epoch, best = epoch, float(score)
    return Verdict(best_epoch, len(scores) - best_epoch >= patience)


@dataclass
class EarlyStopping:
    """The stateful side of :func:`stop_rule` that :func:`srseg.training.loop.train` drives: ``monitor`` names the
    logged metric (e.g. ``holdout/psnr``) whose per-epoch values are the scores."""

    monitor: str
    patience: int
    min_delta: float
    scores: list[float] = field(default_factory=list)
    best_epoch: int = 0
    stopped_epoch: int = 0
    reason: Reason | None = None

    def update(self, score: float) -> Verdict:
        """Add the next epoch's score; the verdict after it."""
        self.scores.append(float(score))
        verdict = stop_rule(self.scores, self.patience, self.min_delta)
        self.best_epoch = verdict.best_epoch
        return verdict

    def finish(self, epochs: int, stopped: bool) -> None:
        """Record that training ended after ``epochs`` epochs, by the rule (``stopped``) or at the cap."""
        self.stopped_epoch = epochs
        self.reason = "patience" if stopped else "cap"

    def record(self) -> dict[str, Any]:
        """What the model's training record and the run's metrics say about how training ended."""
        best = self.scores[self.best_epoch - 1] if self.best_epoch else None
        return {"monitor": self.monitor, "patience": self.patience, "min_delta": self.min_delta,
                "epochs": self.stopped_epoch, "best_epoch": self.best_epoch, "reason": self.reason,
                "best_score": None if best is None else round(best, 6)}
