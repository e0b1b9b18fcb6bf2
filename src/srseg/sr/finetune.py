"""The SR fine-tune on the study's train split that the SR methods of the combination study share (research tasks
2 and 3): the plain fine-tune, task-driven SR and the conditioned SR (their modules in :mod:`srseg.methods`) differ
only in what :class:`FinetuneSpec` they give :func:`run_finetune`.

Every method starts from the PSNR-pretrained DCSCN ×s of its training seed and sees the same patches (a sampler
seeded by the training seed: LR-aligned random crops of the train split, horizontal flips), stopping rule and
optimiser (Adam at ``combine.finetune.lr``, global-norm clipping): only the criterion or the conditioning differs.
The stage then super-resolves the val split (``data/{method}/seed{k}/x{s}``) and scores it as ``super_resolve``
does.

How long: early stopping (:mod:`srseg.training.stopping`) on ``combine.finetune.holdout`` train images held out of
the patches (:func:`split_holdout`: the same images for every method and seed, never the study's val split, which
is what results are scored on), judged after every ``steps_per_epoch`` steps, capped at ``max_steps``; the best
epoch's weights are kept. What is judged there is the method's :attr:`FinetuneSpec.monitor`: the mean Y-PSNR
(:data:`MONITOR_PSNR`, the MSE-only fine-tunes) or the method's own training criterion on the held-out images as
a score in dB (:data:`MONITOR_CRITERION`, :func:`holdout_criterion`; task-driven SR, whose criterion is not the
PSNR). ``holdout/psnr`` is logged for every fine-tune either way.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from tqdm import tqdm

from srseg.degrade import upscale_float
from srseg.errors import SrsegError
from srseg.io import atomic_dir, read_image, read_label, save_keras, write_json, write_png
from srseg.labels import NUM_CLASSES
from srseg.layout import Sample, list_samples
from srseg.metrics.sr import class_squared_errors, luma, quality, y_scores
from srseg.params import Params, check_scale
from srseg.paths import Paths, variant
from srseg.provenance import data_description, model_record

log = logging.getLogger(__name__)


@dataclass
class Split:
    """One split of the study in memory: per image the LR, bicubic, HR images, trainIds and condition maps."""

    samples: list[Sample]
    lr: list[np.ndarray]  # uint8 (h, w, 3)
    bicubic: list[np.ndarray]  # uint8 (H, W, 3)
    hr: list[np.ndarray]  # uint8 (H, W, 3)
    labels: list[np.ndarray]  # uint8 trainIds (H, W)
    cond: list[np.ndarray] | None = None  # float32 (h, w, C)


def load_split(paths: Paths, scale: int, split: str) -> Split:
    """Read a split's LR (``degrade``), bicubic and HR images and labels, checking that their sizes agree."""
    samples = list_samples(paths.raw, split)
    out = Split(samples, [], [], [], [])
    for s in samples:
        hr = read_image(s.image(paths.raw))
        lr = read_image(s.image(paths.lr(scale)))
        bic = read_image(s.image(paths.bicubic(scale)))
        if lr.shape[0] * scale != hr.shape[0] or lr.shape[1] * scale != hr.shape[1] or bic.shape != hr.shape:
            raise SrsegError(f"{s.image(paths.lr(scale))}: LR/bicubic sizes do not match x{scale} of "
                             f"{s.image(paths.raw)} (did degrade@{scale} run on this data?)")
        out.lr.append(lr)
        out.bicubic.append(bic)
        out.hr.append(hr)
        out.labels.append(read_label(s.label_train_ids(paths.raw)))
    return out


#: The seed of the choice of held-out train images: fixed, so every method and training seed holds out the same ones.
HOLDOUT_SEED = 0


def split_holdout(split: Split, n: int) -> tuple[Split, Split]:
    """``(rest, held)``: ``n`` train images (at most half of them) chosen by :data:`HOLDOUT_SEED`, the rest kept in
    order; the fine-tune's patches come from ``rest`` only and its early stopping judges ``held``."""
    total = len(split.samples)
    k = min(n, total // 2)
    if k < 1:
        raise SrsegError(f"combine.finetune.holdout: needs at least 2 train images to hold one out for early "
                         f"stopping (the split has {total})")
    if k < n:
        log.warning("combine.finetune.holdout: %d of %d train images hold out only %d (at most half)", n, total, k)
    chosen = set(np.random.default_rng(HOLDOUT_SEED).choice(total, size=k, replace=False).tolist())

    def part(keep: bool) -> Split:
        idx = [i for i in range(total) if (i in chosen) == keep]
        return Split([split.samples[i] for i in idx], [split.lr[i] for i in idx], [split.bicubic[i] for i in idx],
                     [split.hr[i] for i in idx], [split.labels[i] for i in idx],
                     None if split.cond is None else [split.cond[i] for i in idx])

    return part(False), part(True)


def mean_psnr(upscaler: Any, split: Split, scale: int) -> float:
    """Mean Y-PSNR (dB) of the split's images super-resolved whole (with their condition maps)."""
    conds: list[np.ndarray | None] = [None] * len(split.lr) if split.cond is None else [*split.cond]
    return float(np.mean([y_scores(hr, upscaler.predict_rgb(lr, cond=c), scale)[0]
                          for hr, lr, c in zip(split.hr, split.lr, conds, strict=True)]))


#: What :attr:`FinetuneSpec.monitor` may name.
Monitor = Literal["holdout/psnr", "holdout/criterion_db"]
#: The early-stopping monitor of the MSE-only fine-tunes: the mean Y-PSNR of the held-out images (:func:`mean_psnr`).
MONITOR_PSNR: Monitor = "holdout/psnr"
#: The early-stopping monitor of a fine-tune judged on its own criterion (:func:`holdout_criterion`).
MONITOR_CRITERION: Monitor = "holdout/criterion_db"
#: The peak of the criterion score: the MSE is on the 0..255 scale.
PEAK = 255.0


def whole_image(split: Split, i: int, scale: int, fields: tuple[str, ...]) -> dict[str, np.ndarray]:
    """Image ``i`` of ``split`` whole, as a batch of one of ``fields`` (the :class:`PatchStream` fields, computed as
    there but over the whole image and unflipped)."""
    lr_y = luma(split.lr[i])
    out: dict[str, np.ndarray] = {}
    for f in fields:
        if f == "lr":
            a = lr_y[..., None]
        elif f == "bicubic":
            a = upscale_float(lr_y, scale)[..., None]
        elif f == "hr_y":
            a = luma(split.hr[i])[..., None]
        elif f == "cond":
            assert split.cond is not None, "a conditioned method's split has its condition maps"
            a = np.asarray(split.cond[i], np.float32)
        elif f == "labels":
            a = split.labels[i].astype(np.int32)
        else:
            a = {"bicubic_rgb": split.bicubic, "hr_rgb": split.hr}[f][i].astype(np.float32)
        out[f] = np.ascontiguousarray(a)[None]
    return out


def holdout_criterion(model: Any, criterion: Callable[[Any, Any], Any], split: Split, scale: int,
                      inputs: tuple[str, ...], targets: tuple[str, ...]) -> tuple[float, float]:
    """``(L, score)``: ``criterion`` (:func:`finetune_criterion`) on the split's images, each whole through ``model``
    (the model the fine-tune trains) in inference mode, one image at a time; ``L`` is the mean of the images'
    criterion values weighted by their HR pixel counts (the plain mean for equal-sized images), ``score``
    ``10·log10(255² / L)`` dB, higher is better.

    With λ_task = λ_feat = 0, ``L`` is the MSE of all held-out luma pixels pooled and the score its PSNR: close to
    the mean per-image Y-PSNR (:func:`mean_psnr`) but not equal to it — that one averages per-image PSNRs, rounds
    and clips the output to 0..255 and shaves ``scale`` border pixels; this one scores the network's float output,
    whole, as the loss does.
    """
    import tensorflow as tf

    total, weight = 0.0, 0
    for i in range(len(split.hr)):
        batch = whole_image(split, i, scale, inputs + targets)
        feed = {k: tf.constant(batch[k]) for k in inputs}
        outputs = model(feed, training=False)
        loss, _ = criterion({k: tf.constant(batch[k]) for k in targets}, outputs)
        n = int(np.prod(split.hr[i].shape[:2]))
        total += float(loss) * n
        weight += n
    value = total / weight
    return value, float(10.0 * np.log10(PEAK ** 2 / max(value, 1e-12)))


Window = tuple[slice, slice]


def _cut(arr: np.ndarray, win: Window, flip: bool) -> np.ndarray:
    """The window of ``arr``, mirrored left-right when ``flip``."""
    a = arr[win]
    return a[:, ::-1] if flip else a


class PatchStream:
    """Random training patches of a :class:`Split`, the same for every method of a seed.

    Each patch: an image, an LR-aligned window (``patch`` HR pixels, a multiple of the scale) and a horizontal
    flip, all from one ``numpy`` generator seeded by the training seed, drawn in the same order whatever fields
    a method needs. Inputs are the float luma of the LR window and its Pillow-bicubic ×s (DCSCN's skip), like
    pretraining's but from the pipeline's own LR images.
    """

    def __init__(self, split: Split, scale: int, patch: int, seed: int) -> None:
        self.split, self.scale = split, scale
        self.patch = patch - patch % scale
        q = self.patch // scale
        small = [i for i, lr in enumerate(split.lr) if min(lr.shape[:2]) < q]
        if self.patch < 2 * scale or small:
            raise SrsegError(f"combine.finetune.patch: {patch} does not fit x{scale} patches in the LR images "
                             f"({'too small' if not small else split.samples[small[0]].id})")
        self.rng = np.random.default_rng(seed)

    def batch(self, n: int, fields: tuple[str, ...]) -> dict[str, np.ndarray]:
        """A batch of ``fields`` (lr, bicubic, hr_y, bicubic_rgb, hr_rgb, labels, cond)."""
        s, p = self.scale, self.patch
        q = p // s
        out: dict[str, list[np.ndarray]] = {f: [] for f in fields}
        for _ in range(n):
            i = int(self.rng.integers(len(self.split.lr)))
            h, w = self.split.lr[i].shape[:2]
            y0, x0 = int(self.rng.integers(h - q + 1)), int(self.rng.integers(w - q + 1))
            flip = bool(self.rng.integers(2))
            lr_win = (slice(y0, y0 + q), slice(x0, x0 + q))
            hr_win = (slice(y0 * s, y0 * s + p), slice(x0 * s, x0 * s + p))
            lr_y = luma(_cut(self.split.lr[i], lr_win, flip))
            for f in fields:
                out[f].append(np.ascontiguousarray(self._field(f, i, lr_win, hr_win, flip, lr_y)))
        return {f: np.stack(v) for f, v in out.items()}

    def _field(self, name: str, i: int, lr_win: Window, hr_win: Window, flip: bool, lr_y: np.ndarray) -> np.ndarray:
        """One field of the patch of image ``i`` at ``lr_win`` (LR grid) / ``hr_win`` (HR grid)."""
        sp = self.split
        if name == "lr":
            return lr_y[..., None]
        if name == "bicubic":
            return upscale_float(lr_y, self.scale)[..., None]
        if name == "hr_y":
            return luma(_cut(sp.hr[i], hr_win, flip))[..., None]
        if name == "cond":
            assert sp.cond is not None, "a conditioned method's split has its condition maps"
            return _cut(sp.cond[i], lr_win, flip)
        dtype = np.int32 if name == "labels" else np.float32
        source = {"bicubic_rgb": sp.bicubic, "hr_rgb": sp.hr, "labels": sp.labels}[name]
        return _cut(source[i], hr_win, flip).astype(dtype)


def patch_dataset(stream: PatchStream, batch: int, inputs: tuple[str, ...], targets: tuple[str, ...]) -> Any:
    """An endless ``tf.data`` pipeline of ``({inputs}, {targets})`` batches from ``stream`` (prefetched)."""
    import tensorflow as tf

    p, q, c = stream.patch, stream.patch // stream.scale, NUM_CLASSES
    shapes = {"lr": (q, q, 1), "bicubic": (p, p, 1), "hr_y": (p, p, 1), "bicubic_rgb": (p, p, 3),
              "hr_rgb": (p, p, 3), "labels": (p, p), "cond": (q, q, c)}
    dtypes = {"labels": tf.int32}
    fields = inputs + targets

    def gen() -> Iterator[tuple[dict[str, np.ndarray], dict[str, np.ndarray]]]:
        while True:
            b = stream.batch(batch, fields)
            yield {k: b[k] for k in inputs}, {k: b[k] for k in targets}

    spec = tuple({k: tf.TensorSpec((batch, *shapes[k]), dtypes.get(k, tf.float32)) for k in part}
                 for part in (inputs, targets))
    return tf.data.Dataset.from_generator(gen, output_signature=spec).prefetch(2)


def finetune_criterion(lambda_task: float = 0.0, lambda_feat: float = 0.0) -> Callable[[Any, Any], Any]:
    """``MSE(SR, HR) + λ_task·CE(seg, labels) + λ_feat·L1(feat_sr, feat_hr)`` on whatever the outputs hold.

    The MSE is DCSCN's (luma, 0..255 scale, as in pretraining); a term whose weight is 0 is left out of the loss
    (logged when its output exists), so λ_task = λ_feat = 0 is exactly the plain fine-tune.
    """
    import tensorflow as tf

    from srseg.training.losses import global_mean, mse_criterion, seg_loss

    def criterion(targets: dict[str, Any], outputs: Any) -> tuple[Any, dict[str, Any]]:
        sr = outputs["sr"] if isinstance(outputs, dict) else outputs
        total, parts = mse_criterion(targets["hr_y"], sr)
        if isinstance(outputs, dict) and "seg" in outputs:
            parts["ce"] = seg_loss(targets["labels"], outputs["seg"])
            if lambda_task > 0:
                total = total + lambda_task * parts["ce"]
        if isinstance(outputs, dict) and "feat_sr" in outputs:
            diff = tf.abs(tf.cast(outputs["feat_sr"], tf.float32) - tf.cast(outputs["feat_hr"], tf.float32))
            parts["feat"] = global_mean(tf.reduce_sum(diff), tf.cast(tf.size(diff), tf.float32))
            if lambda_feat > 0:
                total = total + lambda_feat * parts["feat"]
        return total, parts

    return criterion


def task_monitor(lambda_task: float, lambda_feat: float) -> Monitor:
    """The monitor of a fine-tune with these task weights: its own criterion (:data:`MONITOR_CRITERION`) when a task
    term counts, else the Y-PSNR (:data:`MONITOR_PSNR`), so that λ_task = λ_feat = 0 stays exactly the plain
    fine-tune, stopping included."""
    return MONITOR_CRITERION if lambda_task > 0 or lambda_feat > 0 else MONITOR_PSNR


@dataclass(frozen=True)
class FinetuneSpec:
    """What one SR fine-tune method adds to the shared recipe of :func:`run_finetune`.

    ``build(pretrained)`` returns ``(sr_model, trained)``: the SR model saved and used for inference, and the model
    the loop trains (the SR model itself, or one wrapping it); it runs inside the precision and distribution
    scope. ``condition(splits)`` fills each split's condition maps (conditioned SR). ``inputs`` and ``targets``
    name the :class:`PatchStream` fields the trained model reads; ``lambda_task`` and ``lambda_feat`` weigh the
    criterion's task terms (:func:`finetune_criterion`). ``architecture`` and ``what`` go into the model's
    training record. ``monitor``: the held-out score early stopping judges (:data:`MONITOR_PSNR`, the default, or
    :data:`MONITOR_CRITERION`, the method's own criterion, for a criterion that is not the MSE alone).
    """

    architecture: str
    what: str
    build: Callable[[Any], tuple[Any, Any]] = lambda pretrained: (pretrained, pretrained)
    condition: Callable[[list[Split]], None] | None = None
    inputs: tuple[str, ...] = ("lr", "bicubic")
    targets: tuple[str, ...] = ("hr_y",)
    lambda_task: float = 0.0
    lambda_feat: float = 0.0
    monitor: Monitor = MONITOR_PSNR


def run_finetune(params: Params, name: str, stage: str, model_params: tuple[str, ...], scale: int, seed: int,
                 paths: Paths, method: FinetuneSpec) -> dict[str, Any]:
    """Stage ``{stage}@{scale}-{seed}`` of method ``name``: fine-tune the pretrained DCSCN as ``method`` says, save
    the model (its record hashing ``model_params``), super-resolve and score the val split."""
    import keras

    from srseg import runtime
    from srseg.models.dcscn import load_model as load_dcscn
    from srseg.training.loop import train
    from srseg.training.stopping import EarlyStopping

    check_scale(scale)
    if method.monitor not in (MONITOR_PSNR, MONITOR_CRITERION):
        raise SrsegError(f"{name}: unknown early-stopping monitor {method.monitor!r} "
                         f"(known: {MONITOR_PSNR}, {MONITOR_CRITERION})")
    ft = params.combine.finetune
    runtime.set_determinism(seed)
    policy = params.runtime.precision.sr
    train_split, val_split = load_split(paths, scale, "train"), load_split(paths, scale, "val")
    if method.condition is not None:
        method.condition([train_split, val_split])
    train_split, holdout = split_holdout(train_split, ft.holdout)
    pretrained = load_dcscn(paths.sr_model(scale, seed))
    stream = PatchStream(train_split, scale, ft.patch, seed)
    strategy = runtime.strategy(params.runtime.distribute)
    with runtime.precision(policy), strategy.scope():
        sr_model, model = method.build(pretrained)
        optimizer = runtime.wrap_optimizer(
            keras.optimizers.Adam(learning_rate=ft.lr, epsilon=1e-8, global_clipnorm=ft.clipnorm), policy)
    dataset = patch_dataset(stream, ft.batch, method.inputs, method.targets) if ft.max_steps else None
    from srseg.sr.infer import Upscaler

    upscaler = Upscaler(sr_model)
    criterion = finetune_criterion(method.lambda_task, method.lambda_feat)

    def epoch_metrics(epoch: int, logs: dict[str, float]) -> dict[str, float]:
        train_logs = {f"train/{k}": v for k, v in logs.items() if k != "epoch_seconds"}
        # holdout: the stopping criterion (method.monitor); val: the study's val split, logged to watch, never to
        # decide
        held: dict[str, float] = {MONITOR_PSNR: mean_psnr(upscaler, holdout, scale)}
        if method.monitor == MONITOR_CRITERION:
            held[MONITOR_CRITERION] = holdout_criterion(model, criterion, holdout, scale, method.inputs,
                                                        method.targets)[1]
        return {**train_logs, **held, "val/psnr": mean_psnr(upscaler, val_split, scale)}

    model_out = paths.method_sr_model(name, scale, seed)
    stopping = EarlyStopping(method.monitor, ft.patience, ft.min_delta)
    judged = "" if method.monitor == MONITOR_PSNR else " on the fine-tune's criterion"
    record = model_record(params, stage, model_params, task="super-resolution", scale=scale, seed=seed,
                          architecture=method.architecture,
                          trained_on=(f"the PSNR-pretrained x{scale} model, fine-tuned ({method.what}) on "
                                      f"{len(train_split.hr)} train images of {data_description(params)} "
                                      f"({len(holdout.hr)} more held out for early stopping{judged})"))

    def save() -> None:
        save_keras(sr_model, model_out, {**record, "stopping": stopping.record()} if ft.max_steps else record)

    history = train(model, dataset, criterion, optimizer,
                    steps=ft.max_steps, steps_per_epoch=ft.steps_per_epoch,
                    live_dir=paths.train_log(variant(name, scale), seed), save=save, epoch_metrics=epoch_metrics,
                    strategy=strategy, name=name, stopping=stopping,
                    memory_params=f"combine.finetune.patch {ft.patch}, combine.finetune.batch {ft.batch}")
    metrics = write_images(Upscaler(sr_model), val_split, scale, paths.method_images(name, scale, seed),
                           paths.image_quality(variant(name, scale), seed), params)
    log.info("%s x%d (seed %d): val Y-PSNR %.2f dB after %.0f s (%s)", name, scale, seed, metrics["psnr_y"],
             history.seconds, f"stopped after epoch {stopping.stopped_epoch} ({stopping.reason}), kept epoch "
             f"{stopping.best_epoch}" if ft.max_steps else "not fine-tuned")
    return metrics


def write_images(upscaler: Any, split: Split, scale: int, out: Any, quality_path: Any, params: Params
                 ) -> dict[str, Any]:
    """Super-resolve a split (with its condition maps) into ``out`` atomically; write and return its quality."""
    sr = params.sr
    ids, pairs, sse, counts = [], [], [], []
    with atomic_dir(out) as tmp:
        images = list(zip(split.samples, split.lr, split.hr, strict=True))
        for k, (s, lr, hr) in enumerate(tqdm(images, desc="super-resolve", unit="img")):
            cond = None if split.cond is None else split.cond[k]
            img = upscaler.predict_rgb(lr, cond=cond, tile=sr.tile, overlap=sr.tile_overlap,
                                       self_ensemble=sr.self_ensemble)
            ids.append(s.id)
            pairs.append(y_scores(hr, img, scale))
            e, n = class_squared_errors(hr, img, split.labels[k], scale)
            sse.append(e)
            counts.append(n)
            write_png(s.image(tmp), img)
    metrics = quality(ids, pairs, sse, counts)
    write_json(quality_path, metrics)
    return metrics
