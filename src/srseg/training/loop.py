"""The one training loop: any model, ``(inputs, targets)`` dataset, criterion and ``tf.distribute`` strategy.

:func:`fit` runs the steps; :func:`train` wraps it with what every training stage needs: DVCLive logging of the
per-epoch metrics that the recipe's hook returns (validation included), written into a temporary folder that
replaces the stage's log folder only at the end, and the atomic save of the model.

Distribution: with several replicas the global batch of ``dataset`` is split into equal per-replica slices in
order (replica r of worker w gets slice w·R_w + r), so a run on N replicas sees exactly the batches of a
one-replica run; criteria return each replica's share of the global-batch loss (:mod:`srseg.training.losses`)
and Keras sums the gradients across replicas.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from srseg.errors import SrsegError, first_line
from srseg.io import atomic_dir
from srseg.training.losses import Criterion
from srseg.training.stopping import EarlyStopping

log = logging.getLogger(__name__)

#: ``epoch_metrics(epoch, logs) -> {name: value}``: what DVCLive logs after an epoch (``logs``: mean loss parts).
EpochMetrics = Callable[[int, dict[str, float]], Mapping[str, float]]


@dataclass
class History:
    """Per-epoch mean losses and the logged metrics of a training run."""

    epochs: list[dict[str, float]] = field(default_factory=list)
    metrics: list[dict[str, float]] = field(default_factory=list)
    seconds: float = 0.0
    stopping: EarlyStopping | None = None  # how training ended, where an early-stopping rule drove it

    @property
    def last(self) -> dict[str, float]:
        """The metrics logged after the last epoch (or of the evaluation of an untrained run)."""
        return self.metrics[-1] if self.metrics else {}


def _split_for_replicas(dataset: tf.data.Dataset, strategy: tf.distribute.Strategy) -> Any:
    """A distributed dataset whose replicas together see each global batch of ``dataset`` once, in order."""
    replicas = strategy.num_replicas_in_sync
    if replicas == 1:
        return strategy.experimental_distribute_dataset(dataset)

    def per_worker(ctx: tf.distribute.InputContext) -> tf.data.Dataset:
        local = replicas // ctx.num_input_pipelines
        first = ctx.input_pipeline_id * local

        def slices(*batch: Any) -> tf.data.Dataset:
            def part(x: tf.Tensor) -> tf.Tensor:
                x = tf.reshape(x, tf.concat([[replicas, -1], tf.shape(x)[1:]], 0))
                return x[first : first + local]
            return tf.data.Dataset.from_tensor_slices(tf.nest.map_structure(part, batch))

        return dataset.flat_map(slices)

    options = tf.distribute.InputOptions(experimental_fetch_to_device=True)
    return strategy.distribute_datasets_from_function(per_worker, options)


def fit(
    model: keras.Model,
    dataset: tf.data.Dataset,
    criterion: Criterion,
    optimizer: keras.optimizers.Optimizer,
    *,
    steps: int,
    steps_per_epoch: int,
    strategy: tf.distribute.Strategy | None = None,
    on_epoch_end: Callable[[int, dict[str, float]], bool | None] | None = None,
    memory_params: str | None = None,
) -> list[dict[str, float]]:
    """Train ``model`` for ``steps`` steps on ``(inputs, targets)`` batches; return per-epoch mean losses.

    The loss is the criterion's plus the model's own losses (``model.losses``: e.g. DCSCN's L2 weight penalty).
    Epochs have ``steps_per_epoch`` steps (the last may be shorter); ``on_epoch_end(epoch, logs)`` runs after
    each, ``epoch`` counting from 1, ``logs`` holding the mean of every loss part and ``epoch_seconds``; when it
    returns True, training stops there (early stopping: :mod:`srseg.training.stopping`).
    ``model`` and ``optimizer`` must have been created under ``strategy.scope()``.

    A step that runs out of memory (TensorFlow's ResourceExhaustedError, or MemoryError) is an SrsegError of one
    line naming ``memory_params``, the params that size a step (e.g. ``seg.train.crop 160, seg.train.batch 8``).
    """
    strategy = strategy or tf.distribute.get_strategy()
    replicas = strategy.num_replicas_in_sync
    variables = model.trainable_variables
    if not optimizer.built:  # slot variables now, not inside the traced replica step
        with strategy.scope():
            optimizer.build(variables)
    scaled_loss = isinstance(optimizer, keras.optimizers.LossScaleOptimizer)

    def replica_step(inputs: Any, targets: Any) -> dict[str, tf.Tensor]:
        with tf.GradientTape() as tape:
            outputs = model(inputs, training=True)
            loss, parts = criterion(targets, outputs)
            if model.losses:  # every replica adds them: each contributes 1/replicas
                reg = tf.add_n(model.losses)
                loss = loss + (reg / replicas if replicas > 1 else reg)
            grad_of = optimizer.scale_loss(loss) if scaled_loss else loss
        grads = tape.gradient(grad_of, variables)
        optimizer.apply_gradients(zip(grads, variables, strict=True))
        return {"loss": loss, **parts}

    @tf.function
    def train_step(batch: Any) -> dict[str, tf.Tensor]:
        per_replica = strategy.run(replica_step, args=batch)
        return {k: strategy.reduce(tf.distribute.ReduceOp.SUM, v, axis=None) for k, v in per_replica.items()}

    history: list[dict[str, float]] = []
    if steps <= 0:
        return history
    it = iter(_split_for_replicas(dataset, strategy))
    done, epoch = 0, 0
    while done < steps:
        epoch += 1
        start = time.perf_counter()
        values: dict[str, list[float]] = {}
        for _ in range(min(steps_per_epoch, steps - done)):
            try:
                for k, v in train_step(next(it)).items():
                    values.setdefault(k, []).append(float(v))
            except (tf.errors.ResourceExhaustedError, MemoryError) as exc:
                raise out_of_memory(exc, memory_params) from None
            done += 1
        logs = {k: float(np.mean(v)) for k, v in values.items()}
        logs["epoch_seconds"] = time.perf_counter() - start
        history.append(logs)
        if on_epoch_end is not None and on_epoch_end(epoch, logs):
            break
    return history


def out_of_memory(exc: BaseException, memory_params: str | None) -> SrsegError:
    """The one-line error of a training step that ran out of memory: TensorFlow's ``OOM when allocating …`` line
    (its message starts with "Graph execution error:" and a trace, which may quote source lines), and the params
    to lower."""
    oom = re.findall(r"OOM when allocating[^\n]*", str(exc))
    reason = oom[-1].strip() if oom else first_line(exc)
    lower = memory_params or "the batch or crop size"
    return SrsegError(f"out of memory in a training step ({type(exc).__name__}: {reason}); lower {lower}")


def train(
    model: keras.Model,
    dataset: tf.data.Dataset | None,
    criterion: Criterion | None,
    optimizer: keras.optimizers.Optimizer | None,
    *,
    steps: int,
    steps_per_epoch: int,
    live_dir: str | Path,
    save: Callable[[], None],
    epoch_metrics: EpochMetrics,
    strategy: tf.distribute.Strategy | None = None,
    summary: Mapping[str, Any] | None = None,
    name: str = "train",
    memory_params: str | None = None,
    stopping: EarlyStopping | None = None,
) -> History:
    """:func:`fit` with DVCLive logs in ``live_dir`` and the model saved by ``save()``, both only on success.

    After each epoch ``epoch_metrics(epoch, logs)`` gives the metrics to log (training losses from ``logs``,
    validation scores it computes), in the order to log them. With ``steps`` 0 nothing is trained and the
    metrics of ``epoch_metrics(0, {})`` are logged once (e.g. the validation of a model used as it is).
    ``summary`` entries go into DVCLive's ``metrics.json`` as they are. ``memory_params``: as :func:`fit`'s.

    ``stopping``: an early-stopping rule on one of the logged metrics (:mod:`srseg.training.stopping`): ``steps``
    is then the cap, training ends when the rule says so, the best epoch's weights are restored before ``save()``
    (and before the caller uses the model), and how it ended goes into ``History.stopping`` and, as
    a ``stopping`` entry, into DVCLive's ``metrics.json``.
    """
    from dvclive import Live

    out = History()
    start = time.perf_counter()
    with atomic_dir(live_dir) as tmp:
        live = Live(dir=str(tmp), dvcyaml=None, save_dvc_exp=False)

        def log_metrics(metrics: Mapping[str, float]) -> None:
            for key, value in metrics.items():
                live.log_metric(key, value)
            out.metrics.append(dict(metrics))

        best_weights: list[Any] | None = None
        stopped = False

        def on_epoch_end(epoch: int, logs: dict[str, float]) -> bool:
            nonlocal best_weights, stopped
            metrics = epoch_metrics(epoch, logs)
            log_metrics(metrics)
            live.next_step()
            shown = ", ".join(f"{k} {v:.4g}" for k, v in metrics.items())
            log.info("%s epoch %d: %s (%.1f s)", name, epoch, shown, logs["epoch_seconds"])
            if stopping is None:
                return False
            if stopping.monitor not in metrics:
                raise SrsegError(f"{name}: early stopping monitors {stopping.monitor!r}, which the epoch's "
                                 f"metrics lack ({', '.join(metrics)})")
            verdict = stopping.update(metrics[stopping.monitor])
            if verdict.best_epoch == epoch:
                best_weights = [w.copy() for w in model.get_weights()]
            stopped = verdict.stop
            if stopped:
                log.info("%s: stopping after epoch %d, %d epochs without a gain of %g in %s (best: epoch %d)",
                         name, epoch, stopping.patience, stopping.min_delta, stopping.monitor, verdict.best_epoch)
            return stopped

        if steps > 0:
            assert dataset is not None and criterion is not None and optimizer is not None
            out.epochs = fit(model, dataset, criterion, optimizer, steps=steps, steps_per_epoch=steps_per_epoch,
                             strategy=strategy, on_epoch_end=on_epoch_end, memory_params=memory_params)
            if stopping is not None:
                stopping.finish(len(out.epochs), stopped)
                if best_weights is not None and stopping.best_epoch != len(out.epochs):
                    model.set_weights(best_weights)
                    log.info("%s: kept the weights of epoch %d of %d", name, stopping.best_epoch, len(out.epochs))
        else:
            log_metrics(epoch_metrics(0, {}))
        out.stopping = stopping
        stop_summary = {} if stopping is None or not out.epochs else {"stopping": stopping.record()}
        for key, value in {**(summary or {}), **stop_summary}.items():
            live.summary[key] = value
        out.seconds = time.perf_counter() - start
        live.end()
        save()
    return out
