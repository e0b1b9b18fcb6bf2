"""The training engine: model losses enter the loss, DVCLive logs and saves only on success, schedules, and N
replicas training exactly like one."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf

from srseg.training.loop import fit, train
from srseg.training.losses import mse_criterion
from srseg.training.schedules import StepHalvings


def _tiny(l2: float) -> keras.Model:
    keras.utils.set_random_seed(0)
    reg = keras.regularizers.L2(l2) if l2 else None
    x = keras.Input((4, 4, 1), name="lr")
    y = keras.layers.Conv2D(1, 3, padding="same", kernel_regularizer=reg, name="conv")(x)
    return keras.Model(x, y)


def _data() -> tf.data.Dataset:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 4, 4, 1)).astype("float32")
    return tf.data.Dataset.from_tensors((x, 2 * x)).repeat()


def test_model_losses_enter_the_loss() -> None:
    """DCSCN's L2 penalty lives in ``model.losses``: the logged loss is MSE + penalty, and it shrinks weights."""
    plain, reg = _tiny(0.0), _tiny(0.5)
    np.testing.assert_array_equal(plain.get_weights()[0], reg.get_weights()[0])
    penalty = float(tf.add_n(reg.losses))
    assert penalty > 0
    logs = {}
    for name, model in (("plain", plain), ("reg", reg)):
        opt = keras.optimizers.SGD(0.01)
        logs[name] = fit(model, _data(), mse_criterion, opt, steps=1, steps_per_epoch=1)[0]
    assert logs["reg"]["mse"] == pytest.approx(logs["plain"]["mse"], rel=1e-6)
    assert logs["reg"]["loss"] == pytest.approx(logs["plain"]["mse"] + penalty, rel=1e-5)
    # the penalty's gradient 2·l2·W pulls every kernel weight towards 0 beyond what MSE does
    diff = reg.get_weights()[0] - plain.get_weights()[0]
    w0 = _tiny(0.0).get_weights()[0]
    np.testing.assert_allclose(diff, -0.01 * 2 * 0.5 * w0, rtol=1e-4, atol=1e-7)


def test_epochs_and_last_short_epoch() -> None:
    seen = []
    hist = fit(_tiny(0.0), _data(), mse_criterion, keras.optimizers.SGD(0.01), steps=5, steps_per_epoch=2,
               on_epoch_end=lambda e, logs: seen.append(e))
    assert seen == [1, 2, 3] and len(hist) == 3 and {"loss", "mse", "epoch_seconds"} <= set(hist[0])


def test_train_writes_logs_and_model_only_on_success(tmp_path: Path) -> None:
    model, live_dir, out = _tiny(0.0), tmp_path / "metrics" / "run", tmp_path / "model.keras"

    def metrics(epoch: int, logs: dict) -> dict:
        return {"train/loss": logs["loss"], "val/score": float(epoch)}

    hist = train(model, _data(), mse_criterion, keras.optimizers.SGD(0.01), steps=4, steps_per_epoch=2,
                 live_dir=live_dir, save=lambda: model.save(out), epoch_metrics=metrics, summary={"note": "x"})
    assert hist.last["val/score"] == 2.0 and out.is_file()
    logged = json.loads((live_dir / "metrics.json").read_text())
    assert logged["val"]["score"] == 2.0 and logged["note"] == "x" and logged["step"] == 1
    assert (live_dir / "plots" / "metrics" / "train" / "loss.tsv").read_text().count("\n") == 3
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []

    def fail() -> None:
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        train(model, _data(), mse_criterion, keras.optimizers.SGD(0.01), steps=2, steps_per_epoch=2,
              live_dir=live_dir, save=fail, epoch_metrics=lambda e, logs: {"val/score": 9.0})
    assert json.loads((live_dir / "metrics.json").read_text())["val"]["score"] == 2.0  # the old log is kept
    assert [p.name for p in (tmp_path / "metrics").iterdir()] == ["run"]


def test_untrained_run_logs_one_evaluation(tmp_path: Path) -> None:
    model = _tiny(0.0)
    hist = train(model, None, None, None, steps=0, steps_per_epoch=1, live_dir=tmp_path / "live",
                 save=lambda: None, epoch_metrics=lambda e, logs: {"val/psnr": 30.0})
    assert hist.epochs == [] and hist.last == {"val/psnr": 30.0}
    assert json.loads((tmp_path / "live" / "metrics.json").read_text())["val"]["psnr"] == 30.0


def test_step_halvings() -> None:
    s = StepHalvings(2e-3, 600, 3, 2e-5)
    assert [s.rate(i) for i in (0, 149, 150, 299, 300, 450, 599)] == [2e-3, 2e-3, 1e-3, 1e-3, 5e-4, 2.5e-4, 2.5e-4]
    assert [float(s(i)) for i in (0, 149, 150, 450)] == [np.float32(r) for r in (2e-3, 2e-3, 1e-3, 2.5e-4)]
    odd = StepHalvings(1.0, 1000, 6, 0.02)  # boundaries at 142.857…: step 142 is before, 143 after
    assert odd.rate(142) == 1.0 and odd.rate(143) == 0.5 and odd.rate(285) == 0.5 and odd.rate(286) == 0.25
    assert odd.rate(999) == 0.02  # 1/64 is below the floor
    assert StepHalvings(1.0, 0, 3, 0.1).rate(0) == 1.0


_REPLICAS = r"""
import os, sys, json
import numpy as np, tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
import keras
from srseg.models.pspnet import build_pspnet
from srseg.params import SegTrainParams
from srseg.training.loop import fit
from srseg.training.losses import pspnet_criterion
from srseg.training.optimizers import make_optimizer

def run(strategy):
    keras.utils.set_random_seed(0)
    with strategy.scope():
        model = build_pspnet(19, "small", aux=True, dropout=0.0, sync_bn=strategy.num_replicas_in_sync > 1)
        opt = make_optimizer(SegTrainParams(optimizer="sgd", lr=0.01), 3)
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 255, (3, 4, 24, 24, 3)).astype("float32")
    y = rng.integers(0, 19, (3, 4, 24, 24)).astype("int32")
    y[:, :2, :12] = 255  # replicas get different numbers of labelled pixels: the global mean must still hold
    weights = np.linspace(0.5, 2.0, 19).astype("float32")
    ds = tf.data.Dataset.from_tensor_slices((x, y))
    hist = fit(model, ds, pspnet_criterion(0.4, weights), opt, steps=3, steps_per_epoch=3, strategy=strategy)
    return [v.numpy() for v in model.trainable_variables], hist[0]["loss"]

one, loss1 = run(tf.distribute.OneDeviceStrategy("/cpu:0"))
two, loss2 = run(tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"]))
err = max(float(np.abs(a - b).max() / (np.abs(a).max() + 1e-6)) for a, b in zip(one, two))
print(json.dumps({"err": err, "loss1": loss1, "loss2": loss2}))
"""


@pytest.mark.slow
def test_two_replicas_train_like_one() -> None:
    """MirroredStrategy on 2 logical CPUs, each replica half of the global batch, synchronised BN: the same
    weights as one device on the whole batch (float tolerance). Slow (about 35 s): in the default run the same
    loop is checked across replicas by tests/training/test_multi_worker.py."""
    proc = subprocess.run([sys.executable, "-c", _REPLICAS], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "CUDA_VISIBLE_DEVICES": "", "TF_CPP_MIN_LOG_LEVEL": "3"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["err"] < 1e-4, out
    assert out["loss1"] == pytest.approx(out["loss2"], rel=1e-5)


#: What TensorFlow says when a step's tensors do not fit: the OOM line comes after a trace.
OOM = ("Graph execution error:\n\nDetected at node conv/Conv2D defined at (most recent call last):\n  File \"x.py\"\n"
       "OOM when allocating tensor with shape[2,4,4,1] and type float on /job:localhost/replica:0/task:0/device:CPU:0 "
       "by allocator cpu\n\t [[{{node conv/Conv2D}}]]")


@pytest.mark.parametrize("error", [tf.errors.ResourceExhaustedError(None, None, OOM),
                                   MemoryError("Unable to allocate 1.21 GiB for an array with shape (8, 713, 713)")])
def test_a_step_out_of_memory_is_one_line_naming_the_params(error: Exception, tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 31: out of memory in a training step is an SrsegError of one line naming the params that size a step;
    nothing is saved."""
    from srseg.errors import SrsegError
    from srseg.training import loop

    real = loop._split_for_replicas

    def failing(dataset: tf.data.Dataset, strategy: tf.distribute.Strategy) -> object:
        batches = iter(real(dataset, strategy))
        yield next(batches)
        raise error  # the second step runs out of memory

    monkeypatch.setattr(loop, "_split_for_replicas", failing)
    saved = []
    with pytest.raises(SrsegError) as exc:
        train(_tiny(0.0), _data(), mse_criterion, keras.optimizers.SGD(0.01), steps=3, steps_per_epoch=3,
              live_dir=tmp_path / "live", save=lambda: saved.append(1), epoch_metrics=lambda e, logs: {},
              memory_params="seg.train.crop 160, seg.train.batch 8")
    reason = ("ResourceExhaustedError: OOM when allocating tensor with shape[2,4,4,1] and type float on "
              "/job:localhost/replica:0/task:0/device:CPU:0 by allocator cpu"
              if isinstance(error, tf.errors.ResourceExhaustedError) else f"MemoryError: {error}")
    assert str(exc.value) == f"out of memory in a training step ({reason}); lower seg.train.crop 160, seg.train.batch 8"
    assert not saved and not (tmp_path / "live").exists() and not list(tmp_path.iterdir())
