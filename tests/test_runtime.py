"""``runtime.strategy``: the strategy kinds and the one-line errors of a multi-worker set-up that cannot work."""

from __future__ import annotations

import json

import pytest

from srseg import runtime
from srseg.errors import SrsegError


def test_unknown_strategy_and_missing_tf_config(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(SrsegError, match="runtime.distribute 'horovod': must be one of auto, none"):
        runtime.strategy("horovod")
    monkeypatch.delenv("TF_CONFIG", raising=False)
    with pytest.raises(SrsegError, match="multi_worker needs the TF_CONFIG"):
        runtime.strategy("multi_worker")


def test_multi_worker_after_tensorflow_started_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    """MultiWorkerMirroredStrategy configures collective ops at start-up; once an op ran it cannot (the
    two-worker training itself: tests/training/test_multi_worker.py)."""
    import tensorflow as tf

    tf.constant(1.0) + 1.0  # TensorFlow's runtime is up
    cluster = {"worker": ["127.0.0.1:1", "127.0.0.1:2"]}
    monkeypatch.setenv("TF_CONFIG", json.dumps({"cluster": cluster, "task": {"type": "worker", "index": 0}}))
    with pytest.raises(SrsegError, match="multi_worker must be set up before TensorFlow runs any op") as err:
        runtime.strategy("multi_worker")
    assert "\n" not in str(err.value)


def test_none_and_auto_below_two_gpus_are_the_default_strategy() -> None:
    import tensorflow as tf

    assert runtime.strategy("none") is tf.distribute.get_strategy()
    if len(tf.config.list_logical_devices("GPU")) < 2:
        assert runtime.strategy("auto") is tf.distribute.get_strategy()
