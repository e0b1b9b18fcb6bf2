"""The plain SR fine-tune (the control of the combination study): the pretrained DCSCN ×s fine-tuned on the study's
train split by MSE alone (``combine.finetune``), so that task-driven and segmentation-assisted SR are compared with
an SR model that saw the same images, patches and steps."""

from __future__ import annotations

from typing import Any

from srseg.methods.base import RUNTIME, Method, TrainSpec, register, sr_training_outputs
from srseg.params import Params
from srseg.paths import Paths
from srseg.provenance import DATA, SR_IMAGES

#: The method's name: its variants, images, models and logs are named after it.
NAME = "ft_sr"

#: The params every SR fine-tune stage reads, besides its own section.
FINETUNE_READS = ("combine.finetune", "sr.tile", "sr.tile_overlap", "sr.self_ensemble")
#: The runtime params of an SR training stage.
SR_RUNTIME = (*RUNTIME, "runtime.precision.sr")


def finetune_deps(p: Paths, s: Any, k: Any) -> list[Any]:
    """What every SR fine-tune reads: the HR, LR and bicubic images and the pretrained DCSCN ×s of its seed."""
    return [p.raw, p.lr(s), p.bicubic(s), p.sr_model(s, k)]


def train(params: Params, scale: int, seed: int, paths: Paths) -> dict[str, Any]:
    """Stage ``finetune_sr@{scale}-{seed}``: the fine-tuned model, its val images and their quality."""
    from srseg.sr.finetune import FinetuneSpec, run_finetune

    return run_finetune(params, NAME, METHOD.stage, SPEC.model_params, scale, seed, paths,
                        FinetuneSpec(architecture=f"DCSCN {params.sr.preset}", what="plain fine-tune"))


SPEC = TrainSpec(
    run=train,
    reads=(*FINETUNE_READS, *SR_RUNTIME),
    model_params=(*DATA, *SR_IMAGES, "combine.finetune", *RUNTIME),
    deps=finetune_deps,
    outs=lambda p, s, k: sr_training_outputs(p, NAME, s, k),
    artifact="sr-ft",
)
METHOD = register(Method(NAME, "SR fine-tuned on the study's images (control)", "#999999", "P", stage="finetune_sr",
                         images="own", segmenter="hr", scales="combine.scales", group="combine", baseline="sr",
                         quality=True, train=SPEC, reported=("sr",)))
