"""Pretraining of DCSCN (the ``pretrain_sr`` stage), following the reference recipe.

Random HR patches with flips/rotations (``sr.pretrain.patch``, ``batch``), Adam (β = 0.9/0.999, ε = 1e-8)
at ``lr`` halved ``lr_halvings`` times at evenly spaced steps (never below ``lr_end``), MSE on the 0..255
scale plus ``l2``·Σ‖W‖²/2 on the kernels, global gradient-norm clipping at ``clipnorm``, He initialisation,
dropout keeping ``dropout_keep``.  ``sr.init: release`` starts from the authors' checkpoints (``steps`` may
be 0 to use them as they are).  Deterministic for ``seed``: one seeded sampler feeds the ``tf.data``
pipeline, ``keras.utils.set_random_seed`` seeds initialisers and dropout, and TF op determinism is on.

Per epoch (``steps_per_epoch`` steps) DVCLive logs the training loss/PSNR, the learning rate and the
validation PSNR on the held-out images (the sr-bench protocol), beside their bicubic PSNR.
"""

from __future__ import annotations

import logging
import math
import time
from pathlib import Path
from typing import Any

import numpy as np

from srseg.errors import SrsegError
from srseg.io import save_keras
from srseg.models.dcscn import DcscnConfig, build_dcscn
from srseg.params import Params, PretrainParams
from srseg.seeding import set_determinism

log = logging.getLogger(__name__)


def lr_at(step: int, p: PretrainParams) -> float:
    """Learning rate of ``step``: ``lr`` halved at ``steps·k/(lr_halvings+1)``, k = 1..lr_halvings, ≥ ``lr_end``."""
    if p.steps == 0:
        return p.lr
    halvings = sum(step >= p.steps * k / (p.lr_halvings + 1) for k in range(1, p.lr_halvings + 1))
    return max(p.lr * 0.5**halvings, p.lr_end)


def build_training_model(params: Params, scale: int, cache_dir: str | Path = "data/downloads") -> Any:
    """The DCSCN of ``sr.preset`` at ``scale`` with the training options, from scratch or the release."""
    p = params.sr.pretrain
    cfg = DcscnConfig.from_preset(params.sr.preset, scale, upsampler=params.sr.upsampler,
                                  dropout_keep=p.dropout_keep, l2=p.l2)
    model = build_dcscn(cfg)
    if params.sr.init == "release":
        from srseg.sr.checkpoint import load_checkpoint_weights, release_checkpoint

        if params.sr.upsampler != "pixel_shuffle":
            raise SrsegError("sr.init: release needs sr.upsampler: pixel_shuffle (the authors released only that)")
        prefix = release_checkpoint(params.sr.preset, scale, params.sr.release_checkpoints, Path(cache_dir) / "dcscn")
        load_checkpoint_weights(model, prefix)
        log.info("x%d: initialised from %s", scale, prefix)
    return model


def validate(upscaler: Any, hrs: list[np.ndarray], scale: int) -> float:
    """Mean Y-PSNR of an Upscaler on validation HR images (sr-bench protocol)."""
    from srseg.sr.infer import model_scores

    return float(np.mean([model_scores(upscaler, hr, scale)[0] for hr in hrs]))


def bicubic_psnr(hrs: list[np.ndarray], scale: int) -> float:
    """Mean Y-PSNR of bicubic on the same inputs (float Y down, Pillow bicubic up) for reference."""
    from srseg.degrade import downscale, upscale, upscale_float
    from srseg.metrics.sr import psnr, rgb_to_y, shave
    from srseg.sr.infer import downscale_float

    vals = []
    for hr in hrs:
        if hr.ndim == 2:
            bic = upscale(downscale(hr, scale), scale).astype(np.float64)
        else:
            bic = upscale_float(downscale_float(rgb_to_y(hr), scale), scale)
        vals.append(psnr(shave(rgb_to_y(hr), scale), shave(np.clip(np.round(bic), 0, 255), scale)))
    return float(np.mean(vals))


def train_sr(params: Params, scale: int, out: str | Path, metrics_dir: str | Path,
             cache_dir: str | Path = "data/downloads") -> dict[str, Any]:
    """Pretrain the ×``scale`` SR model; write ``out`` (.keras, atomically) and DVCLive logs in ``metrics_dir``."""
    import keras
    import tensorflow as tf
    from dvclive import Live

    from srseg.sr.data import PatchSampler, load_val_images, patch_dataset, pretrain_images
    from srseg.sr.infer import Upscaler

    if scale not in params.scales:
        raise SrsegError(f"--scale {scale}: not in params scales {params.scales}")
    p = params.sr.pretrain
    set_determinism(params.seed)

    train_refs, val_refs = pretrain_images(p, cache_dir)
    val_hr = load_val_images(val_refs, scale)
    model = build_training_model(params, scale, cache_dir)
    upscaler = Upscaler(model)  # one traced inference function, reused for every validation
    bic_psnr = bicubic_psnr(val_hr, scale)
    # Training images are read (and checked) before anything is written.
    sampler = PatchSampler(train_refs, scale, p.patch, seed=params.seed) if p.steps else None

    opt = keras.optimizers.Adam(learning_rate=p.lr, beta_1=0.9, beta_2=0.999, epsilon=1e-8,
                                global_clipnorm=p.clipnorm)
    weights = model.trainable_variables
    opt.build(weights)  # slots created now, so train_step traces once

    @tf.function(reduce_retracing=True)
    def train_step(lr: Any, bic: Any, hr: Any) -> tuple[Any, Any]:
        with tf.GradientTape() as tape:
            pred = model([lr, bic], training=True)
            mse = tf.reduce_mean(tf.square(pred - hr))
            loss = mse + tf.add_n(model.losses) if model.losses else mse
        opt.apply_gradients(zip(tape.gradient(loss, weights), weights))
        return loss, mse

    summary: dict[str, Any] = {"scale": scale, "steps": p.steps, "train_images": len(train_refs),
                               "val_images": len(val_hr), "val_psnr_bicubic": bic_psnr}
    t0 = time.perf_counter()
    with Live(dir=str(metrics_dir), dvcyaml=None, save_dvc_exp=False) as live:
        if p.steps == 0:
            val = validate(upscaler, val_hr, scale)
            live.log_metric("val/psnr", val)
            live.log_metric("val/psnr_bicubic", bic_psnr)
            summary["val_psnr"] = val
        else:
            batches = iter(patch_dataset(sampler, p.batch))
            step, epochs = 0, math.ceil(p.steps / p.steps_per_epoch)
            for epoch in range(1, epochs + 1):
                losses, mses = [], []
                t_epoch = time.perf_counter()
                for _ in range(min(p.steps_per_epoch, p.steps - step)):
                    opt.learning_rate.assign(lr_at(step, p))
                    (lr, bic), hr = next(batches)
                    loss, mse = train_step(lr, bic, hr)
                    losses.append(float(loss))
                    mses.append(float(mse))
                    step += 1
                seconds = time.perf_counter() - t_epoch
                val = validate(upscaler, val_hr, scale)
                train_psnr = float(10 * np.log10(255.0**2 / max(np.mean(mses), 1e-12)))
                live.log_metric("train/loss", float(np.mean(losses)))
                live.log_metric("train/psnr", train_psnr)
                live.log_metric("lr", lr_at(step - 1, p))
                live.log_metric("val/psnr", val)
                live.log_metric("val/psnr_bicubic", bic_psnr)
                live.next_step()
                log.info("x%d epoch %d/%d: step %d loss %.2f train PSNR %.2f val PSNR %.3f (bicubic %.3f) %.1fs",
                         scale, epoch, epochs, step, np.mean(losses), train_psnr, val, bic_psnr, seconds)
            summary["val_psnr"] = val
            summary["patches_per_s"] = p.steps * p.batch / max(time.perf_counter() - t0, 1e-9)
    summary["seconds"] = time.perf_counter() - t0
    save_keras(model, out)
    return summary
