"""Segmentation-assisted SR (research task 3): DCSCN ×s conditioned on class-probability maps of the LR image — a
PSPNet's softmax (``combine.sft.condition: soft``, the default) or its one-hot argmax (``hard``) on its bicubic
upscale, area-averaged s×s onto the LR grid (:mod:`srseg.sr.condition`) — through
spatial feature transform layers (SFT-GAN, Wang et al. 2018, §3.1) or extra input channels
(:mod:`srseg.models.sft_dcscn`), fine-tuned by MSE on the study's train split from the pretrained DCSCN and compared
with the plain fine-tune (:mod:`srseg.methods.ft_sr`). :mod:`srseg.methods.sft_oracle` is its upper bound."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from srseg.methods.base import RUNTIME, Method, TrainSpec, register, sr_training_outputs
from srseg.methods.ft_sr import FINETUNE_READS, SR_RUNTIME, finetune_deps
from srseg.params import Params, PosInt, Section, register_section
from srseg.paths import REPO, Paths, variant
from srseg.provenance import DATA, RETRAIN, SEG, SR_IMAGES

#: The method's name: its variants, images, models and logs are named after it.
NAME = "sft_sr"


class SftParams(Section):
    """``combine.sft``: how DCSCN is conditioned on segmentation maps of the LR image."""

    mode: Literal["sft", "concat"] = "sft"  # spatial feature transform | extra input channels
    segmenter: Literal["hr", "retrain_bicubic"] = "hr"  # whose maps of the bicubic image are the condition
    # soft: its softmax probabilities (SFT-GAN's probability maps, Wang et al. 2018, section 3); hard: one-hot argmax
    condition: Literal["hard", "soft"] = "soft"
    hidden: PosInt = 32  # condition network: depth 1x1 layers of hidden channels, then features channels
    depth: PosInt = 2
    features: PosInt = 16


register_section("combine.sft", SftParams)


def sft_params(params: Params) -> SftParams:
    """This method's params section (shared with its oracle)."""
    section: SftParams = params.combine.section("sft")
    return section


def conditioned_build(params: Params) -> Any:
    """``FinetuneSpec.build`` of a conditioned DCSCN: the pretrained model's weights in the conditioned network."""

    def build(pretrained: Any) -> tuple[Any, Any]:
        from srseg.labels import NUM_CLASSES
        from srseg.models.dcscn import model_config
        from srseg.models.sft_dcscn import build_conditioned_dcscn, transfer_dcscn_weights

        sft = sft_params(params)
        sr_model = build_conditioned_dcscn(model_config(pretrained), NUM_CLASSES, sft.mode, hidden=sft.hidden,
                                           depth=sft.depth, features=sft.features)
        transfer_dcscn_weights(pretrained, sr_model)
        return sr_model, sr_model

    return build


def segmenter_path(params: Params, paths: Paths, scale: Any, seed: Any) -> Path:
    """The PSPNet whose maps condition the SR (``combine.sft.segmenter``)."""
    name = "hr" if sft_params(params).segmenter == "hr" else variant("retrain_bicubic", scale)
    return paths.seg_model(name, seed)


def train(params: Params, scale: int, seed: int, paths: Paths) -> dict[str, Any]:
    """Stage ``sft_sr@{scale}-{seed}``: the conditioned model, its val images and their quality."""
    from srseg.sr.finetune import FinetuneSpec, Split, run_finetune

    def condition(splits: list[Split]) -> None:
        from srseg.labels import NUM_CLASSES
        from srseg.models.pspnet import load_model
        from srseg.sr.condition import segmenter_maps

        model = load_model(segmenter_path(params, paths, scale, seed), NUM_CLASSES)
        for sp in splits:
            sp.cond = segmenter_maps(model, sp.bicubic, scale, condition=sft_params(params).condition)

    spec = FinetuneSpec(architecture=f"DCSCN {params.sr.preset} + {sft_params(params).mode}",
                        what=f"conditioned on the PSPNet's {sft_params(params).condition} maps",
                        build=conditioned_build(params), condition=condition, inputs=("lr", "bicubic", "cond"))
    return run_finetune(params, NAME, METHOD.stage, SPEC.model_params, scale, seed, paths, spec)


def assisted_upscale_file(input: str | Path, output: str | Path, scale: int, model: str | Path | None = None,
                          seg_model: str | Path | None = None, maps: Literal["hard", "soft"] = "soft",
                          **kwargs: Any) -> Path:
    """``srseg upscale --segmentation-assisted``: segment the input first, then super-resolve conditioned on it.

    ``seg_model`` (default: the HR-trained PSPNet of seed 0) segments the bicubic upscale; ``model`` defaults to
    this stage's conditioned DCSCN of seed 0; ``maps`` must be the ``combine.sft.condition`` it was trained
    with. Other arguments as :func:`srseg.sr.infer.upscale_file`.
    """
    import numpy as np

    from srseg.degrade import upscale
    from srseg.labels import NUM_CLASSES
    from srseg.models.pspnet import load_model as load_segmenter
    from srseg.sr.condition import segmenter_maps
    from srseg.sr.infer import upscale_file

    def condition(lr: np.ndarray) -> np.ndarray:
        segmenter = load_segmenter(seg_model or REPO.seg_model("hr", 0), NUM_CLASSES)
        return segmenter_maps(segmenter, [upscale(lr, scale)], scale, progress=False, condition=maps)[0]

    if model is None and kwargs.get("dcscn_checkpoint") is None:
        model = REPO.method_sr_model(NAME, scale, 0)
    return upscale_file(input, output, scale, model=model, condition=condition, **kwargs)


SPEC = TrainSpec(
    run=train,
    reads=(*FINETUNE_READS, "combine.sft", *SR_RUNTIME),
    model_params=(*DATA, *SR_IMAGES, *SEG, *RETRAIN, "combine.finetune", "combine.sft", *RUNTIME),
    # both segmenters combine.sft.segmenter can name
    deps=lambda p, s, k: [*finetune_deps(p, s, k), p.seg_model("hr", k), p.seg_model(variant("retrain_bicubic", s), k)],
    outs=lambda p, s, k: sr_training_outputs(p, NAME, s, k),
    artifact="sr-sft",
)
METHOD = register(Method(NAME, "segmentation-assisted SR", "#882255", "h", stage="sft_sr", images="own",
                         segmenter="hr", scales="combine.scales", group="combine", baseline="ft_sr", quality=True,
                         train=SPEC, reported=("ft_sr",), class_regions=True))
