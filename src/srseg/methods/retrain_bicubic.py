"""PSPNet retrained on bicubic ×s images: the control of retraining on SR images (the same recipe on the images SR
started from), and the segmenter the joint model must beat at LR input."""

from __future__ import annotations

from typing import Any

from srseg.methods.base import RUNTIME, Method, TrainSpec, register, seg_training_outputs
from srseg.params import Params, check_scale
from srseg.paths import Paths, variant
from srseg.provenance import DATA, RETRAIN, SEG

#: The method's name: its variants, images, models and logs are named after it.
NAME = "retrain_bicubic"


def train(params: Params, scale: int, seed: int, paths: Paths) -> Any:
    """Stage ``retrain_bicubic@{scale}-{seed}``: ``models/seg/seed{k}/retrain_bicubic_x{s}.keras``."""
    from srseg.seg.train import run_retrain

    check_scale(scale)
    return run_retrain(params, variant(NAME, scale), METHOD.stage, SPEC.model_params, paths.bicubic(scale),
                       f"bicubic ×{scale} (degrade@{scale})", seed, paths)


SPEC = TrainSpec(
    run=train,
    reads=("seg.preset", "seg.aux_weight", "seg.dropout", "seg.train", "seg.retrain", *RUNTIME,
           "runtime.precision.seg"),
    model_params=(*DATA, *SEG, *RETRAIN, *RUNTIME),
    deps=lambda p, s, k: [p.raw, p.bicubic(s), p.seg_model("hr", k)],
    outs=lambda p, s, k: seg_training_outputs(p, variant(NAME, s), k),
    artifact="seg-retrain-bicubic",
)
METHOD = register(Method(NAME, "bicubic ×{s}-trained PSPNet on bicubic ×{s} val", "#56B4E9", "D",
                         stage="retrain_bicubic", images="bicubic", segmenter="retrain_bicubic",
                         scales="combine.scales", group="retrain", baseline="bicubic", train=SPEC))
