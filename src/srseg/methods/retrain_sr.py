"""PSPNet retrained on SR images (the book's §18, research task 2a): ``train_seg``'s recipe on the SR ×s train
images of the same seed (by default a fine-tune of the HR model, ``seg.retrain``), evaluated on SR ×s val images
against the HR-trained PSPNet on the same images and against its control, the PSPNet retrained on bicubic ×s."""

from __future__ import annotations

from typing import Any

from srseg.methods.base import RUNTIME, Method, TrainSpec, register, seg_training_outputs
from srseg.params import Params, check_scale
from srseg.paths import Paths, variant
from srseg.provenance import DATA, RETRAIN, SEG, SR_IMAGES

#: The method's name: its variants, images, models and logs are named after it.
NAME = "retrain_sr"


def train(params: Params, scale: int, seed: int, paths: Paths) -> Any:
    """Stage ``retrain_seg@{scale}-{seed}``: ``models/seg/seed{k}/retrain_sr_x{s}.keras``."""
    from srseg.seg.train import run_retrain

    check_scale(scale)
    return run_retrain(params, variant(NAME, scale), METHOD.stage, SPEC.model_params, paths.sr(scale, seed),
                       f"SR ×{scale} (super_resolve@{scale}-{seed})", seed, paths)


SPEC = TrainSpec(
    run=train,
    reads=("seg.preset", "seg.aux_weight", "seg.dropout", "seg.train", "seg.retrain", *RUNTIME,
           "runtime.precision.seg"),
    model_params=(*DATA, *SEG, *RETRAIN, *SR_IMAGES, "seg.retrain_scales", *RUNTIME),
    deps=lambda p, s, k: [p.raw, p.sr(s, k), p.seg_model("hr", k)],
    outs=lambda p, s, k: seg_training_outputs(p, variant(NAME, s), k),
    artifact="seg-retrain-sr",
)
METHOD = register(Method(NAME, "SR ×{s}-trained PSPNet on SR ×{s} val", "#D55E00", "^", stage="retrain_seg",
                         images="sr", segmenter="retrain_sr", scales="seg.retrain_scales", group="retrain",
                         baseline="sr", controls=("retrain_bicubic",), train=SPEC, reported=("retrain_bicubic",)))
