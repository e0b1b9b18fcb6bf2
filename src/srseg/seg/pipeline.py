"""The segmentation stages as functions of a repository root (the stage scripts call these).

* :func:`run_train_seg` — ``train_seg``: PSPNet on the HR train split → ``models/seg/hr.keras``
  (or a user's ``seg.weights`` file, checked and copied).
* :func:`run_evaluate_seg` — ``evaluate_seg_hr`` / ``evaluate_seg@…``: the HR model on a variant's val
  images → ``data/pred/<variant>`` and ``metrics/seg/<variant>.json``.
* :func:`run_retrain_seg` — ``retrain_seg@S``: the same recipe on the SR ×S train images →
  ``models/seg/sr_xS.keras``, scored on SR and HR val.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import tensorflow as tf

from srseg.errors import SrsegError
from srseg.io import atomic_dir, write_json
from srseg.labels import NUM_CLASSES
from srseg.models.pspnet import load_model, save_model
from srseg.params import Params
from srseg.seg.data import split_pairs
from srseg.seg.evaluate import evaluate_pairs, evaluate_split, variant_root
from srseg.seg.infer import Predictor

log = logging.getLogger(__name__)

RAW = "data/raw"
HR_MODEL = "models/seg/hr.keras"


def predictor_for(params: Params, model) -> Predictor:
    ev = params.seg.eval
    return Predictor(model, ev.mode, ev.window, ev.overlap)


def _short(m: dict[str, Any]) -> str:
    return f"mIoU {m['miou']:.4f}, PACC {m['pacc']:.4f}, mAcc {m['macc']:.4f} on {m['n_images']} images"


def run_train_seg(params: Params, root: str | Path = ".", strategy: tf.distribute.Strategy | None = None) -> dict[str, Any]:
    """Stage ``train_seg``."""
    root = Path(root)
    raw = root / RAW
    model_out = root / HR_MODEL
    live_dir = root / "metrics/train/seg_hr"
    val = split_pairs(raw, raw, "val", "HR")
    if params.seg.weights:
        return _use_weights(params, Path(params.seg.weights), val, model_out, live_dir)
    from srseg.seg.train import train_pspnet

    train = split_pairs(raw, raw, "train", "HR")
    summary = train_pspnet(params, train, val, model_out, live_dir, strategy=strategy)
    log.info("%s: val mIoU %.4f, PACC %.4f after %.0f s", model_out, summary.get("val_miou", float("nan")),
             summary.get("val_pacc", float("nan")), summary["train_seconds"])
    return summary


def _use_weights(params: Params, weights: Path, val, model_out: Path, live_dir: Path) -> dict[str, Any]:
    """``seg.weights``: check the user's model (19 classes, RGB), copy it, log its val scores once."""
    from dvclive import Live

    model = load_model(weights, NUM_CLASSES)
    m = evaluate_pairs(Predictor(model, "whole"), val)
    with atomic_dir(live_dir) as tmp:
        live = Live(dir=str(tmp), dvcyaml=None, save_dvc_exp=False)
        live.log_metric("val/miou", m["miou"])
        live.log_metric("val/pacc", m["pacc"])
        live.summary["weights"] = str(weights)
        live.end()
        save_model(model, model_out)
    log.info("%s: using %s (%s)", model_out, weights, _short(m))
    return {"weights": str(weights), "val_miou": m["miou"], "val_pacc": m["pacc"]}


def run_evaluate_seg(params: Params, variant: str, root: str | Path = ".") -> dict[str, Any]:
    """Stage ``evaluate_seg_hr`` / ``evaluate_seg@<kind>-<scale>``."""
    root = Path(root)
    rel, what = variant_root(variant, params.scales)
    image_root = root / rel
    if not image_root.is_dir():
        raise SrsegError(f"{image_root}: no such folder; the {what} images of variant {variant} are missing")
    model = load_model(root / HR_MODEL, NUM_CLASSES)
    predictor = predictor_for(params, model)
    with atomic_dir(root / "data/pred" / variant) as tmp:
        metrics = evaluate_split(predictor, image_root, root / RAW, tmp, "val", what)
    write_json(root / "metrics/seg" / f"{variant}.json", metrics)
    log.info("%s: %s", variant, _short(metrics))
    return metrics


def run_retrain_seg(params: Params, scale: int, root: str | Path = ".",
                    strategy: tf.distribute.Strategy | None = None) -> dict[str, Any]:
    """Stage ``retrain_seg@S``: train on SR ×S train images, score on SR and HR val."""
    if scale not in params.seg.retrain_scales:
        raise SrsegError(f"--scale {scale}: not in params seg.retrain_scales {params.seg.retrain_scales}")
    from srseg.seg.train import train_pspnet

    root = Path(root)
    raw, sr = root / RAW, root / f"data/sr/x{scale}"
    what = f"SR ×{scale} (super_resolve@{scale})"
    if not sr.is_dir():
        raise SrsegError(f"{sr}: no such folder; the {what} images are missing")
    train = split_pairs(sr, raw, "train", what)
    val = split_pairs(sr, raw, "val", what)
    model_out = root / f"models/seg/sr_x{scale}.keras"
    summary = train_pspnet(params, train, val, model_out, root / f"metrics/train/seg_sr_x{scale}")
    model = load_model(model_out, NUM_CLASSES)
    predictor = predictor_for(params, model)
    with atomic_dir(root / f"data/pred/retrain_x{scale}") as tmp:
        on_sr = evaluate_split(predictor, sr, raw, tmp / "on_sr", "val", what)
        on_hr = evaluate_split(predictor, raw, raw, tmp / "on_hr", "val", "HR")
    metrics = {"sr_model_on_sr": on_sr, "sr_model_on_hr": on_hr}
    write_json(root / f"metrics/seg/retrain_x{scale}.json", metrics)
    log.info("retrain ×%d (%.0f s): on SR %s; on HR %s", scale, summary["train_seconds"], _short(on_sr), _short(on_hr))
    return metrics
