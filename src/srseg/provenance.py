"""What a saved model is for: the training record stored inside it (read back by :func:`srseg.io.model_metadata`).

:data:`MODEL_PARAMS` lists, for every stage of ``dvc.yaml`` that trains a model, the params that model depends on:
its stage's and those of every stage upstream of it. Their hash goes into the record, so two models with the same
hash were trained under the same values. ``tests/test_provenance.py`` derives each list from ``dvc.yaml``.
"""

from __future__ import annotations

from typing import Any

from srseg import __version__
from srseg.io import params_hash
from srseg.labels import TRAIN_NAMES
from srseg.params import Params

_RUNTIME = ("runtime.threads", "runtime.cpu_kernels", "runtime.distribute")
_SR = ("sr.preset", "sr.upsampler", "sr.init", "sr.release_checkpoints", "sr.pretrain", "runtime.precision.sr")
_SR_IMAGES = (*_SR, "sr.tile", "sr.tile_overlap", "sr.self_ensemble")
_DATA = ("seed", "scales", "data")
_SEG = ("seg.preset", "seg.aux_weight", "seg.dropout", "seg.train", "runtime.precision.seg")
_RETRAIN = ("seg.retrain", "seg.weights")  # the retrained PSPNets start from train_seg's model

MODEL_PARAMS: dict[str, tuple[str, ...]] = {
    "pretrain_sr": (*_SR, *_RUNTIME),
    "train_seg": (*_DATA, *_SEG, "seg.weights", *_RUNTIME),
    "retrain_seg": (*_DATA, *_SEG, *_RETRAIN, *_SR_IMAGES, "seg.retrain_scales", *_RUNTIME),
    "retrain_bicubic": (*_DATA, *_SEG, *_RETRAIN, *_RUNTIME),
    "train_joint": (*_DATA, *_SEG, *_RETRAIN, "combine.joint", *_RUNTIME),
    "finetune_sr": (*_DATA, *_SR_IMAGES, "combine.finetune", *_RUNTIME),
    "task_sr": (*_DATA, *_SR_IMAGES, *_SEG, "seg.weights", "combine.finetune", "combine.task", *_RUNTIME),
    "sft_sr": (*_DATA, *_SR_IMAGES, *_SEG, *_RETRAIN, "combine.finetune", "combine.sft", *_RUNTIME),
    "sft_oracle": (*_DATA, *_SR_IMAGES, "combine.finetune", "combine.sft", *_RUNTIME),
}


def data_description(params: Params) -> str:
    """The study's data (``data.source``) in a few words."""
    d = params.data
    if d.source == "synthetic":
        return f"synthetic street scenes ({d.synthetic.width}x{d.synthetic.height}, data seed {params.seed})"
    if d.source == "camvid":
        return "CamVid (real street scenes, its 11 classes mapped to Cityscapes ids)"
    return "Cityscapes" + (f" downscaled x{d.cityscapes.downscale}" if d.cityscapes.downscale > 1 else "")


def model_record(params: Params, stage: str, *, task: str, architecture: str, seed: int, trained_on: str,
                 data_source: str | None = None, scale: int | None = None) -> dict[str, Any]:
    """The record of a model trained by ``stage`` (a key of :data:`MODEL_PARAMS`) under ``params``.

    ``data_source`` defaults to ``data.source`` (the study's images); segmentation models list their classes.
    """
    keys = MODEL_PARAMS[stage]
    record: dict[str, Any] = {"task": task, "architecture": architecture}
    if scale is not None:
        record["scale"] = scale
    if task == "segmentation":
        record["classes"] = list(TRAIN_NAMES)
    return {**record, "seed": seed, "data_source": data_source or params.data.source, "trained_on": trained_on,
            "stage": stage, "params_hash": params_hash(params, keys), "params_keys": list(keys),
            "srseg_version": __version__}
