"""The blur-augmented HR PSPNet: the degradation sweep's control (issue 29.5, "the ×3 cliff").

The HR-trained PSPNet of the same seed fine-tuned by ``seg.retrain``'s recipe (its start and learning rate;
``cliff.blur.epochs`` epochs) on the HR train images, each crop degraded bicubic down and up by a factor drawn
uniformly from the range of ``cliff.factors`` or, with probability ``cliff.blur.identity``, left sharp
(:class:`srseg.seg.data.Blur`; augmenting with the degradation of the test images, as in Vasiljevic et al. 2016,
"Examining the impact of blur on recognition by convolutional networks"). It answers whether SR is needed at all:
a segmenter that stays above its blur threshold on bicubic input may do as well. Its own evaluation is on the HR
val images (what the augmentation costs on sharp input); on the sweep's degraded sets and on SR images it is
evaluated by ``evaluate_cliff`` (its group, ``sweep``).
"""

from __future__ import annotations

from typing import Any

from srseg.methods.base import RUNTIME, Method, TrainSpec, register, seg_training_outputs
from srseg.params import Params
from srseg.paths import Paths
from srseg.provenance import DATA, RETRAIN, SEG

#: The method's name: its model, variant and log are named after it.
NAME = "blur_aug"


def train(params: Params, scale: int | None, seed: int, paths: Paths) -> Any:
    """Stage ``train_blur_aug@{seed}``: ``models/seg/seed{k}/blur_aug.keras``."""
    from srseg.seg.data import Blur
    from srseg.seg.train import retrain_recipe, run_retrain

    c = params.cliff
    recipe = retrain_recipe(params)
    if c.blur.epochs is not None:
        recipe = recipe.model_copy(update={"epochs": c.blur.epochs})
    blur = Blur(float(min(c.factors)), float(max(c.factors)), c.blur.identity)
    return run_retrain(params, NAME, METHOD.stage, SPEC.model_params, paths.raw, f"HR ({blur.describe()})", seed,
                       paths, recipe=recipe, blur=blur)


SPEC = TrainSpec(
    run=train,
    reads=("seg.preset", "seg.aux_weight", "seg.dropout", "seg.train", "seg.retrain", "cliff.factors", "cliff.blur",
           *RUNTIME, "runtime.precision.seg"),
    model_params=(*DATA, *SEG, *RETRAIN, "cliff.factors", "cliff.blur", *RUNTIME),
    deps=lambda p, s, k: [p.raw, p.seg_model("hr", k)],
    outs=lambda p, s, k: seg_training_outputs(p, NAME, k),
    artifact="seg-blur-aug",
)
METHOD = register(Method(NAME, "blur-augmented PSPNet on HR val", "#332288", "p", stage="train_blur_aug",
                         images="raw", segmenter=NAME, scales=None, group="sweep", train=SPEC))
