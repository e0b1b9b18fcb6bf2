"""Early stopping: the rule on hand-made epoch scores (no network), and the loop keeping the best epoch's weights
and respecting the cap."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from srseg.training.stopping import EarlyStopping, Verdict, stop_rule


def _run(scores: list[float], patience: int, min_delta: float, cap: int) -> tuple[int, int, str]:
    """Drive the rule as the loop does: (epochs trained, best epoch, reason) for these per-epoch scores."""
    rule = EarlyStopping("holdout/psnr", patience, min_delta)
    for epoch, score in enumerate(scores[:cap], start=1):
        if rule.update(score).stop:
            rule.finish(epoch, True)
            break
    else:
        rule.finish(min(cap, len(scores)), False)
    assert rule.reason is not None
    return rule.stopped_epoch, rule.best_epoch, rule.reason


def test_stops_after_patience_epochs_without_progress() -> None:
    # progress at 1, 2, 3; epoch 4 gains 0.005 < 0.01 (no progress), 5 is lower: stop after 5, keep 3
    scores = [30.0, 30.2, 30.3, 30.305, 30.29, 31.0]
    assert _run(scores, patience=2, min_delta=0.01, cap=10) == (5, 3, "patience")
    assert stop_rule(scores[:4], 2, 0.01) == Verdict(3, False)
    assert stop_rule(scores[:5], 2, 0.01) == Verdict(3, True)


def test_progress_is_measured_against_the_best_not_the_last_epoch() -> None:
    # each epoch gains 0.006 on the last one: never 0.01 over epoch 1 until epoch 3 (0.012), then 5 (0.012 more)
    scores = [30.0, 30.006, 30.012, 30.018, 30.024]
    assert [stop_rule(scores[:n], 2, 0.01).best_epoch for n in range(1, 6)] == [1, 1, 3, 3, 5]
    assert _run(scores, patience=2, min_delta=0.01, cap=5) == (5, 5, "cap")
    assert _run(scores, patience=1, min_delta=0.01, cap=5) == (2, 1, "patience")


def test_the_cap_ends_a_rising_curve_and_patience_zero_never_stops() -> None:
    rising = [30.0 + i for i in range(10)]
    assert _run(rising, patience=2, min_delta=0.01, cap=6) == (6, 6, "cap")
    falling = [30.0 - i for i in range(10)]
    assert _run(falling, patience=0, min_delta=0.01, cap=4) == (4, 4, "cap")  # off: the last epoch is kept
    assert _run(falling, patience=3, min_delta=0.0, cap=10) == (4, 1, "patience")
    assert stop_rule([], 2, 0.01) == Verdict(0, False)


def test_min_delta_zero_counts_a_tie_as_progress() -> None:
    assert stop_rule([30.0, 30.0, 30.0], 2, 0.0) == Verdict(3, False)
    assert stop_rule([30.0, 29.0, 29.5], 2, 0.0) == Verdict(1, True)


def test_the_loop_keeps_the_best_epochs_weights_and_records_why(tmp_path: Path) -> None:
    """train() with a rule on a logged score that peaks at epoch 2: it stops after epoch 4 (patience 2), restores
    epoch 2's weights before saving, and writes how it ended into DVCLive's metrics.json."""
    import keras
    import numpy as np

    from srseg.training.loop import train
    from srseg.training.losses import mse_criterion
    from tests.training.test_loop import _data, _tiny

    model = _tiny(0.0)
    weights: dict[int, list] = {}
    scores = {1: 30.0, 2: 31.0, 3: 30.5, 4: 30.9, 5: 32.0}

    def metrics(epoch: int, logs: dict) -> dict:
        weights[epoch] = [w.copy() for w in model.get_weights()]
        return {"train/loss": logs["loss"], "holdout/psnr": scores[epoch]}

    saved: list = []
    rule = EarlyStopping("holdout/psnr", patience=2, min_delta=0.01)
    live = tmp_path / "live"
    hist = train(model, _data(), mse_criterion, keras.optimizers.SGD(0.05), steps=10, steps_per_epoch=2,
                 live_dir=live, save=lambda: saved.append(model.get_weights()), epoch_metrics=metrics,
                 stopping=rule)
    assert len(hist.epochs) == 4 and hist.stopping is rule
    assert (rule.stopped_epoch, rule.best_epoch, rule.reason) == (4, 2, "patience")
    assert all(np.array_equal(a, b) for a, b in zip(saved[0], weights[2], strict=True))
    assert not all(np.array_equal(a, b) for a, b in zip(weights[2], weights[4], strict=True))
    logged = json.loads((live / "metrics.json").read_text())
    assert logged["stopping"] == {"monitor": "holdout/psnr", "patience": 2, "min_delta": 0.01, "epochs": 4,
                                  "best_epoch": 2, "reason": "patience", "best_score": 31.0}
    assert (live / "plots" / "metrics" / "holdout" / "psnr.tsv").read_text().count("\n") == 5

    # the cap: a score rising every epoch trains all 3 epochs and keeps the last
    model = _tiny(0.0)
    rule = EarlyStopping("holdout/psnr", patience=2, min_delta=0.01)
    train(model, _data(), mse_criterion, keras.optimizers.SGD(0.05), steps=5, steps_per_epoch=2,
          live_dir=tmp_path / "cap", save=lambda: None, epoch_metrics=lambda e, logs: {"holdout/psnr": 30.0 + e},
          stopping=rule)
    assert (rule.stopped_epoch, rule.best_epoch, rule.reason) == (3, 3, "cap")


def test_a_rule_on_a_metric_not_logged_is_one_line(tmp_path: Path) -> None:
    import keras

    from srseg.errors import SrsegError
    from srseg.training.loop import train
    from srseg.training.losses import mse_criterion
    from tests.training.test_loop import _data, _tiny

    with pytest.raises(SrsegError, match=r"monitors 'holdout/psnr', which the epoch's metrics lack \(val/psnr\)"):
        train(_tiny(0.0), _data(), mse_criterion, keras.optimizers.SGD(0.05), steps=2, steps_per_epoch=1,
              live_dir=tmp_path / "x", save=lambda: None, epoch_metrics=lambda e, logs: {"val/psnr": 1.0},
              stopping=EarlyStopping("holdout/psnr", 2, 0.01))


def test_the_record_names_the_monitored_metric() -> None:
    """Whatever the score, the record says which logged metric it is (the task-driven SR fine-tune's criterion)."""
    rule = EarlyStopping("holdout/criterion_db", patience=1, min_delta=0.01)
    for score in (20.0, 20.001):
        rule.update(score)
    rule.finish(2, True)
    assert rule.record() == {"monitor": "holdout/criterion_db", "patience": 1, "min_delta": 0.01, "epochs": 2,
                             "best_epoch": 1, "reason": "patience", "best_score": 20.0}
