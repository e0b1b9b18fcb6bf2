"""Segmentation-assisted SR with ORACLE maps: :mod:`srseg.methods.sft_sr` conditioned on the ground-truth labels
(one-hot, area-averaged onto the LR grid) instead of a PSPNet's — an upper bound of what the real maps can give,
reported as a bound and never ranked (a real system never has the labels)."""

from __future__ import annotations

from typing import Any

from srseg.methods.base import RUNTIME, Method, TrainSpec, register, sr_training_outputs
from srseg.methods.ft_sr import FINETUNE_READS, SR_RUNTIME, finetune_deps
from srseg.methods.sft_sr import conditioned_build, sft_params
from srseg.params import Params
from srseg.paths import Paths
from srseg.provenance import DATA, SR_IMAGES

#: The method's name: its variants, images, models and logs are named after it.
NAME = "sft_oracle"


def train(params: Params, scale: int, seed: int, paths: Paths) -> dict[str, Any]:
    """Stage ``sft_oracle@{scale}-{seed}``: the oracle-conditioned model, its val images and their quality."""
    from srseg.sr.condition import oracle_maps
    from srseg.sr.finetune import FinetuneSpec, Split, run_finetune

    def condition(splits: list[Split]) -> None:
        for sp in splits:
            sp.cond = [oracle_maps(lab, scale) for lab in sp.labels]

    spec = FinetuneSpec(architecture=f"DCSCN {params.sr.preset} + {sft_params(params).mode}",
                        what="conditioned on ground-truth maps (oracle)", build=conditioned_build(params),
                        condition=condition, inputs=("lr", "bicubic", "cond"))
    return run_finetune(params, NAME, METHOD.stage, SPEC.model_params, scale, seed, paths, spec)


SPEC = TrainSpec(
    run=train,
    reads=(*FINETUNE_READS, "combine.sft", *SR_RUNTIME),
    model_params=(*DATA, *SR_IMAGES, "combine.finetune", "combine.sft", *RUNTIME),
    deps=finetune_deps,
    outs=lambda p, s, k: sr_training_outputs(p, NAME, s, k),
    artifact="sr-sft-oracle",
)
METHOD = register(Method(NAME, "seg.-assisted SR, ORACLE maps (upper bound)", "#AA4499", "H",
                         stage="sft_oracle", images="own", segmenter="hr", scales="combine.scales", group="combine",
                         baseline="ft_sr", quality=True, upper_bound=True, bound_of="sft_sr", train=SPEC,
                         reported=("ft_sr",), class_regions=True))
