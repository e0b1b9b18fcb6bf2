"""What a saved model is for: the training record stored inside it (read back by :func:`srseg.io.model_metadata`).

A record names the params its model depends on (its stage's and those of every stage upstream of it) and their
hash, so two models with the same hash were trained under the same values. :data:`MODEL_PARAMS` lists them for the
base stages that train a model; each method's module lists its own (``TrainSpec.model_params``), from the groups
below. ``tests/test_provenance.py`` derives every list from ``dvc.yaml``.
"""

from __future__ import annotations

from typing import Any

from srseg import __version__
from srseg.io import params_hash
from srseg.labels import TRAIN_NAMES
from srseg.params import Params

#: How TensorFlow ran (threads, kernels, distribution).
RUNTIME = ("runtime.threads", "runtime.cpu_kernels", "runtime.distribute")
#: The pretrained SR model (``pretrain_sr``).
SR = ("sr.preset", "sr.upsampler", "sr.init", "sr.release_checkpoints", "sr.pretrain", "runtime.precision.sr")
#: Images an SR model made (``super_resolve`` and the SR fine-tunes' inference).
SR_IMAGES = (*SR, "sr.tile", "sr.tile_overlap", "sr.self_ensemble")
#: The study's images (``download``).
DATA = ("seed", "scales", "data")
#: A PSPNet's recipe (``train_seg``).
SEG = ("seg.preset", "seg.aux_weight", "seg.dropout", "seg.train", "runtime.precision.seg")
#: The PSPNets retrained on degraded images start from train_seg's model (``seg.retrain``).
RETRAIN = ("seg.retrain", "seg.weights")

#: The base stages' models (the methods' are in their modules).
MODEL_PARAMS: dict[str, tuple[str, ...]] = {
    "pretrain_sr": (*SR, *RUNTIME),
    "train_seg": (*DATA, *SEG, "seg.weights", *RUNTIME),
}


def data_description(params: Params) -> str:
    """The study's data (``data.source``) in a few words."""
    d = params.data
    if d.source == "synthetic":
        return f"synthetic street scenes ({d.synthetic.width}x{d.synthetic.height}, data seed {params.seed})"
    if d.source == "camvid":
        return "CamVid (real street scenes, its 11 classes mapped to Cityscapes ids)"
    return "Cityscapes" + (f" downscaled x{d.cityscapes.downscale}" if d.cityscapes.downscale > 1 else "")


def model_record(params: Params, stage: str, keys: tuple[str, ...], *, task: str, architecture: str, seed: int,
                 trained_on: str, data_source: str | None = None, scale: int | None = None) -> dict[str, Any]:
    """The record of a model trained by ``stage`` under ``params``; ``keys``: the params it depends on.

    ``data_source`` defaults to ``data.source`` (the study's images); segmentation models list their classes.
    """
    record: dict[str, Any] = {"task": task, "architecture": architecture}
    if scale is not None:
        record["scale"] = scale
    if task == "segmentation":
        record["classes"] = list(TRAIN_NAMES)
    return {**record, "seed": seed, "data_source": data_source or params.data.source, "trained_on": trained_on,
            "stage": stage, "params_hash": params_hash(params, keys), "params_keys": list(keys),
            "srseg_version": __version__}
