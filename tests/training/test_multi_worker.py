"""Multi-worker training: two worker processes on 127.0.0.1 (MultiWorkerMirroredStrategy, ``TF_CONFIG``) run the
real segmentation training loop and end with the weights of one process training on the whole global batch."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]
STEPS = 3
DEADLINE_S = 90  # both workers together; a worker that waits for a dead peer is killed, never left behind

_WORKER = r"""
import json, sys
import numpy as np
from srseg import runtime
from tests.training.test_multi_worker import _train

strategy = runtime.strategy("multi_worker")  # first: collective ops are configured before TensorFlow starts
weights, loss = _train(strategy)
np.savez(sys.argv[1], *weights)
resolver = strategy.cluster_resolver
print(json.dumps({"loss": loss, "replicas": strategy.num_replicas_in_sync, "task": resolver.task_id,
                  "workers": resolver.cluster_spec().num_tasks("worker")}))
"""


def _train(strategy: Any) -> tuple[list[np.ndarray], float]:
    """STEPS steps of :func:`srseg.training.loop.fit` on the small PSPNet, under ``strategy``, from seed 0.

    Global batches of 4 random 24×24 images whose replicas' halves hold different numbers of labelled pixels
    (ignore label, ENet-like class weights), so the criterion's global mean across workers is exercised.
    Dropout is 0: its masks differ per replica.
    """
    import keras
    import tensorflow as tf

    from srseg.models.pspnet import build_pspnet
    from srseg.params import SegTrainParams
    from srseg.training.loop import fit
    from srseg.training.losses import pspnet_criterion
    from srseg.training.optimizers import make_optimizer

    keras.utils.set_random_seed(0)
    with strategy.scope():
        model = build_pspnet(19, "small", aux=True, dropout=0.0, sync_bn=strategy.num_replicas_in_sync > 1)
        opt = make_optimizer(SegTrainParams(optimizer="sgd", lr=0.01), STEPS)
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 255, (STEPS, 4, 24, 24, 3)).astype("float32")
    y = rng.integers(0, 19, (STEPS, 4, 24, 24)).astype("int32")
    y[:, :2, :12] = 255
    class_weights = np.linspace(0.5, 2.0, 19).astype("float32")
    ds = tf.data.Dataset.from_tensor_slices((x, y))
    hist = fit(model, ds, pspnet_criterion(0.4, class_weights), opt, steps=STEPS, steps_per_epoch=STEPS,
               strategy=strategy)
    return [v.numpy() for v in model.trainable_variables], hist[0]["loss"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def _workers(tmp_path: Path) -> Iterator[Callable[[], list[tuple[dict, list[np.ndarray]]]]]:
    """Start both workers; yield ``wait()``, which returns each worker's (info, weights) once both are done.

    Both are killed on the first failure, at the deadline, and on leaving the block: none outlives the test.
    """
    cluster = {"worker": [f"127.0.0.1:{_free_port()}" for _ in range(2)]}
    deadline = time.monotonic() + DEADLINE_S
    procs: list[subprocess.Popen] = []

    def wait() -> list[tuple[dict, list[np.ndarray]]]:
        while any(p.poll() is None for p in procs):
            failed = [p for p in procs if p.returncode not in (None, 0)]
            assert not failed, failed[0].stderr.read()[-3000:]
            assert time.monotonic() < deadline, f"workers still running after {DEADLINE_S} s"
            time.sleep(0.2)
        out = []
        for i, p in enumerate(procs):
            stdout, stderr = p.communicate()
            assert p.returncode == 0, stderr[-3000:]
            npz = np.load(tmp_path / f"worker{i}.npz")
            out.append((json.loads(stdout.strip().splitlines()[-1]), [npz[k] for k in npz.files]))
        return out

    try:
        for i in range(2):
            tf_config = {"cluster": cluster, "task": {"type": "worker", "index": i}}
            env = {**os.environ, "TF_CONFIG": json.dumps(tf_config), "CUDA_VISIBLE_DEVICES": "",
                   "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": os.pathsep.join([str(REPO / "src"), str(REPO)])}
            procs.append(subprocess.Popen([sys.executable, "-c", _WORKER, str(tmp_path / f"worker{i}.npz")],
                                          cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                          text=True))
        yield wait
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
            p.communicate()


@pytest.mark.slow
def test_two_workers_train_like_one_process(tmp_path: Path) -> None:
    """Two workers, one replica each, each half of every global batch, synchronised BN across the workers:
    both end with bit-identical weights, equal to one process on the whole batches (float tolerance)."""
    import tensorflow as tf

    with _workers(tmp_path) as wait:
        one, loss1 = _train(tf.distribute.OneDeviceStrategy("/cpu:0"))  # meanwhile, in this process
        workers = wait()
    for i, (info, _) in enumerate(workers):
        # two replicas in sync over a two-worker cluster: neither worker trained alone on the whole batch
        assert info["task"] == i and info["workers"] == 2 and info["replicas"] == 2, info
        assert info["loss"] == pytest.approx(loss1, rel=1e-5)
    (_, w0), (_, w1) = workers
    assert len(w0) == len(w1) == len(one)
    for a, b in zip(w0, w1, strict=True):
        np.testing.assert_array_equal(a, b)
    err = max(float(np.abs(a - b).max() / (np.abs(b).max() + 1e-6)) for a, b in zip(w0, one, strict=True))
    assert err < 1e-4, err
