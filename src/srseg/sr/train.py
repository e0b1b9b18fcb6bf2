"""Pretraining of DCSCN (the ``pretrain_sr`` stage), following the reference recipe, on :mod:`srseg.training`.

Random HR patches with flips/rotations (``sr.pretrain.patch``, ``batch``), Adam (β = 0.9/0.999, ε = 1e-8)
at ``lr`` halved ``lr_halvings`` times at evenly spaced steps (never below ``lr_end``), MSE on the 0..255
scale plus ``l2``·Σ‖W‖²/2 on the kernels (the model's own losses), global gradient-norm clipping at
``clipnorm``, He initialisation, dropout keeping ``dropout_keep``. ``sr.init: release`` starts from the authors'
checkpoints (``steps`` may be 0 to use them as they are). Deterministic for the seed: one seeded sampler feeds
the ``tf.data`` pipeline, ``keras.utils.set_random_seed`` seeds initialisers and dropout, and TF op determinism
is on.

Per epoch (``steps_per_epoch`` steps) DVCLive logs the training loss/PSNR, the learning rate and the
validation PSNR on the held-out images (the sr-bench protocol), beside their bicubic PSNR. The saved model
carries its training record (:func:`model_record`).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np

from srseg.errors import SrsegError
from srseg.io import save_keras
from srseg.models.dcscn import DcscnConfig, build_dcscn
from srseg.params import Params, check_scale
from srseg.paths import Paths
from srseg.provenance import MODEL_PARAMS
from srseg.provenance import model_record as provenance_record

log = logging.getLogger(__name__)

_SOURCES = {"skimage": "scikit-image's sample photographs", "div2k": "DIV2K train HR"}


def model_record(params: Params, scale: int, seed: int, train_images: int) -> dict[str, Any]:
    """What an SR model is for, saved inside it (:func:`srseg.io.model_metadata`)."""
    p = params.sr.pretrain
    data = _SOURCES.get(p.source) or f"the images of {', '.join(p.folders)}"
    trained_on = f"{data} ({train_images} images, {p.steps} steps of {p.patch}px patches)"
    source: str = p.source
    if params.sr.init == "release":
        trained_on = "the DCSCN authors' released weights" + (f", fine-tuned on {trained_on}" if p.steps else "")
        source = p.source if p.steps else "dcscn-release"
    elif not p.steps:
        trained_on, source = "nothing (sr.pretrain.steps 0: the random initialisation)", "none"
    return provenance_record(params, "pretrain_sr", MODEL_PARAMS["pretrain_sr"], task="super-resolution",
                             architecture=f"DCSCN {params.sr.preset} ({params.sr.upsampler})", scale=scale,
                             seed=seed, data_source=source, trained_on=trained_on)


def build_training_model(params: Params, scale: int, cache_dir: str | Path) -> Any:
    """The DCSCN of ``sr.preset`` at ``scale`` with the training options, from scratch or the release."""
    p = params.sr.pretrain
    cfg = DcscnConfig.from_preset(params.sr.preset, scale, upsampler=params.sr.upsampler,
                                  dropout_keep=p.dropout_keep, l2=p.l2)
    model = build_dcscn(cfg)
    if params.sr.init == "release":
        from srseg.models.dcscn_release import load_checkpoint_weights, release_checkpoint

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
    from srseg.degrade import downscale, downscale_float, upscale, upscale_float
    from srseg.metrics.sr import psnr, rgb_to_y, shave

    vals = []
    for hr in hrs:
        if hr.ndim == 2:
            bic = upscale(downscale(hr, scale), scale).astype(np.float64)
        else:
            bic = upscale_float(downscale_float(rgb_to_y(hr), scale), scale)
        vals.append(psnr(shave(rgb_to_y(hr), scale), shave(np.clip(np.round(bic), 0, 255), scale)))
    return float(np.mean(vals))


def train_sr(params: Params, scale: int, seed: int, paths: Paths) -> dict[str, Any]:
    """Pretrain the ×``scale`` SR model of training run ``seed``; save it and its DVCLive logs under ``paths``."""
    import keras

    from srseg import runtime
    from srseg.sr.data import PatchSampler, load_val_images, patch_dataset, pretrain_images
    from srseg.sr.infer import Upscaler
    from srseg.training.loop import train
    from srseg.training.losses import mse_criterion
    from srseg.training.schedules import StepHalvings

    check_scale(scale)
    p = params.sr.pretrain
    runtime.set_determinism(seed)
    policy = params.runtime.precision.sr

    train_refs, val_refs = pretrain_images(p, paths.downloads)
    val_hr = load_val_images(val_refs, scale)
    strategy = runtime.strategy(params.runtime.distribute)
    with runtime.precision(policy), strategy.scope():
        model = build_training_model(params, scale, paths.downloads)
        schedule = StepHalvings(p.lr, p.steps, p.lr_halvings, p.lr_end)
        optimizer = runtime.wrap_optimizer(
            keras.optimizers.Adam(learning_rate=schedule, beta_1=0.9, beta_2=0.999, epsilon=1e-8,
                                  global_clipnorm=p.clipnorm), policy)
    upscaler = Upscaler(model)  # one traced inference function, reused for every validation
    bic_psnr = bicubic_psnr(val_hr, scale)
    # Training images are read (and checked) before anything is written.
    dataset = patch_dataset(PatchSampler(train_refs, scale, p.patch, seed=seed), p.batch) if p.steps else None

    def epoch_metrics(epoch: int, logs: dict[str, float]) -> dict[str, float]:
        val = validate(upscaler, val_hr, scale)
        if not logs:  # steps: 0, the model as it is
            return {"val/psnr": val, "val/psnr_bicubic": bic_psnr}
        step = min(epoch * p.steps_per_epoch, p.steps)
        return {"train/loss": logs["loss"], "train/psnr": float(10 * np.log10(255.0**2 / max(logs["mse"], 1e-12))),
                "lr": schedule.rate(step - 1), "val/psnr": val, "val/psnr_bicubic": bic_psnr}

    out = paths.sr_model(scale, seed)
    record = model_record(params, scale, seed, len(train_refs))
    history = train(model, dataset, mse_criterion, optimizer, steps=p.steps, steps_per_epoch=p.steps_per_epoch,
                    live_dir=paths.train_log(f"sr_x{scale}", seed), save=lambda: save_keras(model, out, record),
                    epoch_metrics=epoch_metrics, strategy=strategy, name=f"x{scale}",
                    memory_params=f"sr.pretrain.patch {p.patch}, sr.pretrain.batch {p.batch}")
    return {"scale": scale, "steps": p.steps, "train_images": len(train_refs), "val_images": len(val_hr),
            "val_psnr_bicubic": bic_psnr, "val_psnr": history.last["val/psnr"], "seconds": history.seconds,
            "patches_per_s": p.steps * p.batch / max(history.seconds, 1e-9), "model": str(out)}
