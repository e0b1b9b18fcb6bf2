"""The chained SR → segmentation models fine-tuned after chaining (the seed book's plan, research task 2: "SR-assisted
segmentation, chained then trained jointly"), shared by the jointed arm and its separate-fine-tune control (their
modules in :mod:`srseg.methods`).

Both start from the chain as the study builds it: the PSNR-pretrained DCSCN ×s of the training seed and the HR-trained
PSPNet of the same seed. Both see the patches of the other SR fine-tunes (:class:`srseg.sr.finetune.PatchStream`
on the train split less ``combine.finetune.holdout``'s images, seeded by the training seed), the same optimisers
and a fixed step budget (no early stopping, so "the same steps" holds):

* **jointed**: DCSCN and PSPNet trained together, ``steps`` steps of ``MSE(SR, HR) + λ·CE(PSPNet(SR), labels)``;
* **separate**: ``steps`` steps of DCSCN by MSE alone, then ``steps`` steps of the PSPNet by CE alone on that
  (now fixed) SR model's outputs of the same patches.

Unlike task-driven SR (:mod:`srseg.methods.task_sr`), the PSPNet is not frozen: it trains (batch norm in training
mode, its dropout active, as in its own recipe) and is saved as the segmenter that scores the arm's SR images.

Optimisers: the DCSCN's is the SR fine-tunes' (Adam at ``combine.finetune.lr``, global-norm clipping at
``combine.finetune.clipnorm``); the PSPNet's is Adam at the arm's ``seg_lr`` without clipping, so its updates do not
depend on the scale λ puts on its only gradient (Adam is invariant to a constant scale of the loss, up to ε): the
PSPNet steps of both arms differ only in what they see, the SR images of the step's DCSCN or of a finished one.
The two optimisers update their own variables through :class:`PartOptimizer`, on the one training loop.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from srseg.errors import SrsegError
from srseg.io import save_keras
from srseg.labels import NUM_CLASSES
from srseg.params import Params, check_scale
from srseg.paths import Paths, variant
from srseg.provenance import data_description, model_record

log = logging.getLogger(__name__)

#: The fields of :class:`srseg.sr.finetune.PatchStream` the chained model reads and is judged on.
INPUTS, TARGETS = ("lr", "bicubic", "bicubic_rgb"), ("hr_y", "labels")


@dataclass(frozen=True)
class Budget:
    """What an arm's params section gives: ``steps`` per trained network (``steps_per_epoch`` each epoch, logged),
    the PSPNet's learning rate ``seg_lr`` and, for the jointed arm, the CE weight ``lambda_task``."""

    steps: int
    steps_per_epoch: int
    seg_lr: float
    lambda_task: float = 0.0


def chained_model(sr_model: Any, segmenter: Any, *, train_sr: bool, train_seg: bool) -> Any:
    """SR → RGB (:class:`srseg.models.ycbcr.LumaToRGB`) → PSPNet as one Keras model (inputs ``lr``, ``bicubic``,
    ``bicubic_rgb``; outputs ``sr`` luma and ``seg`` logits).

    A network that trains follows the outer call's ``training`` flag (batch norm in training mode, dropout active);
    one that does not is frozen: not trainable and called with ``training=False`` (batch norm on its moving
    statistics, no dropout).
    """
    import keras

    from srseg.models.ycbcr import LumaToRGB

    sr_model.trainable, segmenter.trainable = train_sr, train_seg
    lr = keras.Input((None, None, 1), name="lr")
    bic = keras.Input((None, None, 1), name="bicubic")
    rgb = keras.Input((None, None, 3), name="bicubic_rgb")
    sr_inputs = {"lr": lr, "bicubic": bic}
    sr_y = sr_model(sr_inputs) if train_sr else sr_model(sr_inputs, training=False)
    sr_rgb = LumaToRGB(name="sr_rgb")([sr_y, rgb])
    seg = segmenter(sr_rgb) if train_seg else segmenter(sr_rgb, training=False)
    return keras.Model({"lr": lr, "bicubic": bic, "bicubic_rgb": rgb}, {"sr": sr_y, "seg": seg}, name="chained_sr_seg")


def chained_criterion(w_mse: float, w_ce: float) -> Callable[[Any, Any], tuple[Any, dict[str, Any]]]:
    """``w_mse·MSE(SR, HR) + w_ce·CE(seg, labels)``, each term present in the outputs logged as ``mse`` / ``ce``.

    The MSE is DCSCN's (luma, 0..255 scale, as in pretraining and the other SR fine-tunes); the CE is the pixel
    cross-entropy of task-driven SR (:func:`srseg.training.losses.seg_loss`, ignore label, no class weights). A
    term of weight 0 is left out of the loss, so its network gets no gradient from it. ``outputs`` is the chained
    model's dict or the SR model's luma alone.
    """
    if w_mse < 0 or w_ce < 0 or w_mse == w_ce == 0:
        raise ValueError(f"chained_criterion: weights must be >= 0 and not both 0 (got {w_mse}, {w_ce})")

    from srseg.training.losses import mse_criterion, seg_loss

    def criterion(targets: dict[str, Any], outputs: Any) -> tuple[Any, dict[str, Any]]:
        out = outputs if isinstance(outputs, dict) else {"sr": outputs}
        parts: dict[str, Any] = {}
        total: Any = 0.0
        if "sr" in out:
            parts["mse"] = mse_criterion(targets["hr_y"], out["sr"])[0]
            if w_mse > 0:
                total = total + w_mse * parts["mse"]
        if "seg" in out:
            parts["ce"] = seg_loss(targets["labels"], out["seg"])
            if w_ce > 0:
                total = total + w_ce * parts["ce"]
        if not any(k in out for k, w in (("sr", w_mse), ("seg", w_ce)) if w > 0):
            raise SrsegError("chained_criterion: the outputs hold no term with a positive weight")
        return total, parts

    return criterion


class PartOptimizer:
    """Several Keras optimisers, each updating its own variables, behind the one interface the training loop uses
    (``built``, ``build(variables)``, ``apply_gradients(pairs)``).

    ``parts``: ``(optimizer, variables)`` pairs; every variable the loop trains must belong to exactly one part. A
    part whose variables all get no gradient (a loss term of weight 0) skips the step. Loss scaling
    (``mixed_float16``) is not supported: the loop scales only a :class:`keras.optimizers.LossScaleOptimizer`.
    """

    def __init__(self, parts: Sequence[tuple[Any, Sequence[Any]]]) -> None:
        self.parts = [(opt, list(vs)) for opt, vs in parts]
        self._owner: dict[int, int] = {}
        for i, (_, vs) in enumerate(self.parts):
            for v in vs:
                if id(v) in self._owner:
                    raise ValueError(f"PartOptimizer: variable {v.path} is in two parts")
                self._owner[id(v)] = i

    @property
    def built(self) -> bool:
        return all(opt.built for opt, _ in self.parts)

    def build(self, variables: Sequence[Any]) -> None:
        missing = [v.path for v in variables if id(v) not in self._owner]
        if missing:
            raise ValueError(f"PartOptimizer: {len(missing)} trained variables belong to no part ({missing[0]}, ...)")
        for opt, vs in self.parts:
            if not opt.built:
                opt.build(vs)

    def apply_gradients(self, pairs: Any) -> None:
        grouped: list[list[tuple[Any, Any]]] = [[] for _ in self.parts]
        for g, v in pairs:
            if id(v) not in self._owner:
                raise ValueError(f"PartOptimizer: variable {v.path} belongs to no part")
            if g is not None:
                grouped[self._owner[id(v)]].append((g, v))
        for (opt, _), got in zip(self.parts, grouped, strict=True):
            if got:
                opt.apply_gradients(got)


def _val_scores(upscaler: Any, predictor: Any, val: Any, scale: int) -> dict[str, float]:
    """Mean Y-PSNR of the val split super-resolved whole, and the mIoU of ``predictor`` on those SR images."""
    from srseg.metrics.seg import SegMeter
    from srseg.metrics.sr import y_scores

    psnr, meter = [], SegMeter()
    for hr, lr, labels in zip(val.hr, val.lr, val.labels, strict=True):
        sr = upscaler.predict_rgb(lr)
        psnr.append(y_scores(hr, sr, scale)[0])
        meter.add(labels, predictor.train_ids(sr))
    return {"val/psnr": float(np.mean(psnr)), "val/miou": float(meter.result()["miou"])}


def run_chained(params: Params, name: str, stage: str, model_params: tuple[str, ...], scale: int, seed: int,
                paths: Paths, budget: Budget, *, joint: bool) -> dict[str, Any]:
    """Stage ``{stage}@{scale}-{seed}`` of arm ``name`` (``joint``: the jointed arm, else the separate control):
    fine-tune the chain, save the DCSCN (``models/sr/seed{k}/{name}_x{s}``) and the PSPNet
    (``models/seg/seed{k}/{name}_x{s}``) with their records hashing ``model_params``, super-resolve and score the
    val split. DVCLive logs: ``{name}_x{s}`` (the jointed training, or the control's DCSCN phase) and
    ``seg_{name}_x{s}`` (the control's PSPNet phase)."""
    import keras

    from srseg import runtime
    from srseg.models.dcscn import load_model as load_dcscn
    from srseg.models.pspnet import load_model as load_pspnet
    from srseg.models.pspnet import save_model as save_pspnet
    from srseg.seg.infer import Predictor
    from srseg.sr.finetune import PatchStream, load_split, patch_dataset, split_holdout, write_images
    from srseg.sr.infer import Upscaler
    from srseg.training.loop import train

    check_scale(scale)
    ft, v = params.combine.finetune, variant(name, scale)
    policy = params.runtime.precision.sr
    if policy == "mixed_float16":
        raise SrsegError(f"runtime.precision.sr mixed_float16: the {stage} stage trains DCSCN and PSPNet with two "
                         f"optimisers, which the loop's loss scaling does not cover; use float32 or mixed_bfloat16")
    runtime.set_determinism(seed)
    train_split, val_split = load_split(paths, scale, "train"), load_split(paths, scale, "val")
    train_split, holdout = split_holdout(train_split, ft.holdout)
    strategy = runtime.strategy(params.runtime.distribute)
    with runtime.precision(policy), strategy.scope():
        sr_model = load_dcscn(paths.sr_model(scale, seed))
        segmenter = load_pspnet(paths.seg_model("hr", seed), NUM_CLASSES)
        sr_opt = keras.optimizers.Adam(learning_rate=ft.lr, epsilon=1e-8, global_clipnorm=ft.clipnorm)
        seg_opt = keras.optimizers.Adam(learning_rate=budget.seg_lr)
        model = chained_model(sr_model, segmenter, train_sr=True, train_seg=True) if joint else sr_model
    upscaler, predictor = Upscaler(sr_model), Predictor(segmenter, "whole")
    data = f"{len(train_split.hr)} train images of {data_description(params)} ({len(holdout.hr)} held out, unused)"
    what = (f"jointly with the HR PSPNet of seed {seed}, {budget.steps} steps of MSE + {budget.lambda_task}·CE"
            if joint else f"{budget.steps} steps of MSE alone, before the PSPNet's {budget.steps} steps of CE")
    sr_record = model_record(params, stage, model_params, task="super-resolution", scale=scale, seed=seed,
                             architecture=f"DCSCN {params.sr.preset}",
                             trained_on=f"the PSNR-pretrained x{scale} model, fine-tuned ({what}) on {data}")
    seg_what = ("jointly with the DCSCN on its SR images" if joint
                else "by CE alone on the SR images of the DCSCN fine-tuned before it")
    seg_record = model_record(params, stage, model_params, task="segmentation", scale=scale, seed=seed,
                              architecture=f"PSPNet {params.seg.preset}",
                              trained_on=(f"the HR PSPNet of seed {seed} (hr.keras), fine-tuned {budget.steps} steps "
                                          f"({seg_what}, x{scale} patches) on {data}"))
    sr_out, seg_out = paths.method_sr_model(name, scale, seed), paths.seg_model(v, seed)
    memory = f"combine.finetune.patch {ft.patch}, combine.finetune.batch {ft.batch}"

    def epoch_metrics(epoch: int, logs: dict[str, float]) -> dict[str, float]:
        # the study's val split, logged to watch the curves, never to decide (the budget is fixed)
        train_logs = {f"train/{k}": x for k, x in logs.items() if k != "epoch_seconds"}
        return {**train_logs, **_val_scores(upscaler, predictor, val_split, scale)}

    def run(trained: Any, optimizer: Any, criterion: Any, inputs: tuple[str, ...], targets: tuple[str, ...],
            live: str, save: Callable[[], None], label: str) -> float:
        stream = PatchStream(train_split, scale, ft.patch, seed)  # every phase sees the same patches, in order
        dataset = patch_dataset(stream, ft.batch, inputs, targets) if budget.steps else None
        history = train(trained, dataset, criterion, optimizer, steps=budget.steps,
                        steps_per_epoch=budget.steps_per_epoch, live_dir=paths.train_log(live, seed), save=save,
                        epoch_metrics=epoch_metrics, strategy=strategy, name=label, memory_params=memory)
        return history.seconds

    def save_sr() -> None:
        save_keras(sr_model, sr_out, sr_record)

    def save_seg() -> None:
        save_pspnet(segmenter, seg_out, seg_record)

    if joint:
        optimizer = PartOptimizer([(sr_opt, sr_model.trainable_variables),
                                   (seg_opt, segmenter.trainable_variables)])

        def save_both() -> None:
            save_sr()
            save_seg()

        seconds = run(model, optimizer, chained_criterion(1.0, budget.lambda_task), INPUTS, TARGETS, v, save_both,
                      name)
    else:
        seconds = run(sr_model, sr_opt, chained_criterion(1.0, 0.0), ("lr", "bicubic"), ("hr_y",), v, save_sr,
                      f"{name} (DCSCN)")
        with runtime.precision(policy), strategy.scope():
            seg_phase = chained_model(sr_model, segmenter, train_sr=False, train_seg=True)
        seconds += run(seg_phase, seg_opt, chained_criterion(0.0, 1.0), INPUTS, TARGETS, f"seg_{v}", save_seg,
                       f"{name} (PSPNet)")
    metrics = write_images(Upscaler(sr_model), val_split, scale, paths.method_images(name, scale, seed),
                           paths.image_quality(v, seed), params)
    log.info("%s x%d (seed %d): val Y-PSNR %.2f dB after %.0f s of training", name, scale, seed, metrics["psnr_y"],
             seconds)
    return metrics
