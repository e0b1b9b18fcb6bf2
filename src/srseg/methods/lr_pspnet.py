"""DSRL's baseline: PSPNet fed the LR image, its 1/8 logits bilinearly upsampled to the HR size, trained on the
cross-entropy against the HR labels (Wang et al., CVPR 2020, §4: the segmentation network at low-resolution input,
before the SSSR and SISR branches are added). The segmenter the joint model must beat at equal input. Trained by the
joint method's trainer with ``decoder: bilinear`` and no SR branch (:func:`srseg.methods.joint.train_joint_model`),
with the retrained PSPNets' recipe and budget.
"""

from __future__ import annotations

from typing import Any

from srseg.methods.base import RUNTIME, Method, TrainSpec, register, seg_training_outputs
from srseg.methods.joint import JointSetup, train_joint_model
from srseg.params import Params
from srseg.paths import Paths, variant
from srseg.provenance import DATA, RETRAIN, SEG

#: The method's name: its variants, models and logs are named after it.
NAME = "lr_pspnet"


def train(params: Params, scale: int, seed: int, paths: Paths, strategy: Any = None) -> Any:
    """Stage ``train_lr_pspnet@{scale}-{seed}``: ``models/seg/seed{k}/lr_pspnet_x{s}.keras``."""
    return train_joint_model(params, scale, seed, paths, METHOD, JointSetup(decoder="bilinear", sr=False), strategy)


SPEC = TrainSpec(
    run=train,
    reads=("seg.preset", "seg.aux_weight", "seg.dropout", "seg.train", "seg.retrain", *RUNTIME,
           "runtime.precision.seg"),
    model_params=(*DATA, *SEG, *RETRAIN, *RUNTIME),
    deps=lambda p, s, k: [p.raw, p.lr(s), p.seg_model("hr", k)],
    outs=lambda p, s, k: seg_training_outputs(p, variant(NAME, s), k),
    artifact="seg-lr-pspnet",
)
METHOD = register(Method(NAME, "PSPNet on the LR image, logits upsampled (DSRL's baseline)", "#999999", "v",
                         stage="train_lr_pspnet", images="lr", segmenter=NAME, scales="combine.scales",
                         group="combine", baseline="retrain_bicubic", train=SPEC, reported=("retrain_bicubic",)))
