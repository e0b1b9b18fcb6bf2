"""Jointed training (the seed book's plan, research task 2: "SR-assisted segmentation, chained then trained
jointly"): the chain of the study — the pretrained DCSCN ×s and the HR PSPNet of the seed — fine-tuned together on
``MSE(SR, HR) + λ·CE(PSPNet(SR), labels)`` for a fixed ``combine.jointed.steps`` (:mod:`srseg.sr.chained`).

What differs from task-driven SR (:mod:`srseg.methods.task_sr`, the same loss on the same patches): the PSPNet is
not frozen. It trains with the DCSCN (batch norm in training mode, its dropout active), and the fine-tuned PSPNet,
not the HR one, scores the arm's SR images. Its baseline is the separate fine-tune of the same two networks for the
same steps (:mod:`srseg.methods.separate_ft`), so the comparison isolates joint against separate training; task_sr
is reported beside it (jointed against the frozen-PSPNet task-driven SR).
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from srseg.methods.base import RUNTIME, Method, Outputs, TrainSpec, register, seg_training_outputs, sr_training_outputs
from srseg.methods.ft_sr import FINETUNE_READS, SR_RUNTIME, finetune_deps
from srseg.params import NonNegInt, Params, PosFloat, PosInt, Section, register_section
from srseg.paths import Paths, Slot, variant
from srseg.provenance import DATA, SEG, SR_IMAGES

#: The method's name: its variants, images, models and logs are named after it.
NAME = "jointed"


class JointedParams(Section):
    """``combine.jointed``: the jointed arm and its separate control (:mod:`srseg.methods.separate_ft`)."""

    lambda_task: float = Field(100.0, ge=0)  # the CE weight; MSE on the 0..255 scale, as combine.task.lambda_task
    steps: NonNegInt = 150  # per trained network: jointed trains both for `steps`, the control each for `steps`
    steps_per_epoch: PosInt = 50  # logged epochs (>= 3 for the convergence check)
    seg_lr: PosFloat = 2e-4  # the PSPNet's Adam learning rate (seg.retrain.lr's default: fine-tuning)


register_section("combine.jointed", JointedParams)


def jointed_params(params: Params) -> JointedParams:
    """The params section the jointed arm and its control share."""
    section: JointedParams = params.combine.section("jointed")
    return section


def budget(params: Params) -> Any:
    """The section as the engine's :class:`srseg.sr.chained.Budget`."""
    from srseg.sr.chained import Budget

    jp = jointed_params(params)
    return Budget(jp.steps, jp.steps_per_epoch, jp.seg_lr, jp.lambda_task)


#: The model params of both arms (the control's section keys are the same section).
CHAINED_MODEL_PARAMS = (*DATA, *SR_IMAGES, *SEG, "seg.weights", "combine.finetune", *RUNTIME)


def chained_deps(p: Paths, s: Any, k: Any) -> list[Any]:
    """What both arms read: the SR fine-tunes' inputs and the HR PSPNet of the seed."""
    return [*finetune_deps(p, s, k), p.seg_model("hr", k)]


def chained_outputs(p: Paths, name: str, s: Slot, k: Slot, *, seg_log: bool) -> Outputs:
    """An arm's outputs: its DCSCN, SR val images, their quality and its log; its PSPNet (and, with ``seg_log``,
    the log of a separate PSPNet phase)."""
    sr = sr_training_outputs(p, name, s, k)
    seg = seg_training_outputs(p, variant(name, s), k)
    if not seg_log:
        return Outputs([*sr.outs, *seg.outs], sr.uncached, sr.plots)
    return Outputs([*sr.outs, *seg.outs], [*sr.uncached, *seg.uncached], [*sr.plots, *seg.plots])


def train(params: Params, scale: int, seed: int, paths: Paths) -> dict[str, Any]:
    """Stage ``jointed@{scale}-{seed}``: the jointly fine-tuned DCSCN and PSPNet, the SR val images and quality."""
    from srseg.sr.chained import run_chained

    return run_chained(params, NAME, METHOD.stage, SPEC.model_params, scale, seed, paths, budget(params), joint=True)


SPEC = TrainSpec(
    run=train,
    reads=(*FINETUNE_READS, "combine.jointed", *SR_RUNTIME),
    model_params=(*CHAINED_MODEL_PARAMS, "combine.jointed"),
    deps=chained_deps,
    outs=lambda p, s, k: chained_outputs(p, NAME, s, k, seg_log=False),
    artifact="sr-jointed",
)
METHOD = register(Method(NAME, "DCSCN + PSPNet trained jointly", "#117733", "s", stage="jointed",
                         images="own", segmenter=NAME, scales="combine.scales", group="combine",
                         baseline="separate_ft", quality=True, train=SPEC, controls=("task_sr",),
                         reported=("separate_ft", "task_sr")))
