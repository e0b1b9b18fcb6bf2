"""The control of jointed training (:mod:`srseg.methods.jointed`; the seed book's plan, research task 2: "SR-assisted
segmentation, chained then trained jointly"): the same chain fine-tuned separately for the same steps — the
pretrained DCSCN ×s by MSE alone for ``combine.jointed.steps`` steps, then the HR PSPNet by CE alone for as many
steps on that fine-tuned DCSCN's SR images of the same patches (:mod:`srseg.sr.chained`). Same data, patches,
seeds, optimisers and step counts as the jointed arm: only joint against separate differs. Its fine-tuned PSPNet
scores its SR images; its baseline is the plain SR fine-tune scored by the HR PSPNet (:mod:`srseg.methods.ft_sr`).
"""

from __future__ import annotations

from typing import Any

from srseg.methods.base import Method, TrainSpec, register
from srseg.methods.ft_sr import FINETUNE_READS, SR_RUNTIME
from srseg.methods.jointed import CHAINED_MODEL_PARAMS, budget, chained_deps, chained_outputs
from srseg.params import Params
from srseg.paths import Paths

#: The method's name: its variants, images, models and logs are named after it.
NAME = "separate_ft"

#: The keys of ``combine.jointed`` the control reads (not lambda_task: its phases have one loss term each).
SECTION_READS = ("combine.jointed.steps", "combine.jointed.steps_per_epoch", "combine.jointed.seg_lr")


def train(params: Params, scale: int, seed: int, paths: Paths) -> dict[str, Any]:
    """Stage ``separate_ft@{scale}-{seed}``: the DCSCN fine-tuned by MSE, then the PSPNet by CE on its SR images."""
    from srseg.sr.chained import run_chained

    return run_chained(params, NAME, METHOD.stage, SPEC.model_params, scale, seed, paths, budget(params), joint=False)


SPEC = TrainSpec(
    run=train,
    reads=(*FINETUNE_READS, *SECTION_READS, *SR_RUNTIME),
    model_params=(*CHAINED_MODEL_PARAMS, *SECTION_READS),
    deps=chained_deps,
    outs=lambda p, s, k: chained_outputs(p, NAME, s, k, seg_log=True),
    artifact="sr-separate-ft",
)
METHOD = register(Method(NAME, "DCSCN, then PSPNet, fine-tuned separately", "#44AA99", "8",
                         stage="separate_ft", images="own", segmenter=NAME, scales="combine.scales", group="combine",
                         baseline="ft_sr", quality=True, train=SPEC, reported=("ft_sr",)))
