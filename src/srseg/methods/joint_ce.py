"""The joint model's CE-only ablation: the joint network's segmentation path (``combine.joint.decoder``, by default
DSRL's learned upsampling, §3.2) trained on the LR image with the cross-entropy alone (``w_sr = w_fa = 0``, §3.4),
without SR branch — which, with those weights, would get no gradient. The joint model minus this is the effect of the
SR and feature-affinity terms at equal input and architecture. Trained by the joint method's trainer
(:func:`srseg.methods.joint.train_joint_model`), with the joint model's recipe and budget.
"""

from __future__ import annotations

from typing import Any

from srseg.methods.base import RUNTIME, Method, TrainSpec, register, seg_training_outputs
from srseg.methods.joint import JointSetup, joint_params, train_joint_model
from srseg.params import Params
from srseg.paths import Paths, variant
from srseg.provenance import DATA, RETRAIN, SEG

#: The method's name: its variants, models and logs are named after it.
NAME = "joint_ce"


def train(params: Params, scale: int, seed: int, paths: Paths, strategy: Any = None) -> Any:
    """Stage ``train_joint_ce@{scale}-{seed}``: ``models/seg/seed{k}/joint_ce_x{s}.keras``."""
    setup = JointSetup(decoder=joint_params(params).decoder, sr=False)
    return train_joint_model(params, scale, seed, paths, METHOD, setup, strategy)


SPEC = TrainSpec(
    run=train,
    reads=("seg.preset", "seg.aux_weight", "seg.dropout", "seg.train", "seg.retrain", "combine.joint.decoder",
           *RUNTIME, "runtime.precision.seg"),
    model_params=(*DATA, *SEG, *RETRAIN, "combine.joint.decoder", *RUNTIME),
    deps=lambda p, s, k: [p.raw, p.lr(s), p.seg_model("hr", k)],
    outs=lambda p, s, k: seg_training_outputs(p, variant(NAME, s), k),
    artifact="seg-joint-ce",
)
METHOD = register(Method(NAME, "joint model's segmenter trained on CE alone (w_sr = w_fa = 0)", "#CC79A7", "P",
                         stage="train_joint_ce", images="lr", segmenter=NAME, scales="combine.scales",
                         group="combine", baseline="lr_pspnet", train=SPEC, reported=("lr_pspnet",)))
