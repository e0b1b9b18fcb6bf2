"""Task-driven SR (research task 2b): the pretrained DCSCN ×s fine-tuned through the HR-trained PSPNet, **frozen**
(weights fixed, batch norm in inference mode), on MSE + λ_task·CE(PSPNet(SR), labels) + λ_feat·L1(PSPNet features of
SR and HR) — the task-driven loss of SR4IR-style training. λ_task = 0 is the plain fine-tune
(:mod:`srseg.methods.ft_sr`), which it is compared with (a test checks the two agree weight for weight).

Early stopping judges the held-out value of this criterion (:func:`srseg.sr.finetune.holdout_criterion`, logged
as ``holdout/criterion_db``), not the held-out Y-PSNR the MSE-only fine-tunes stop on: the model is trained for the
segmenter's loss as well as the pixels', and the PSNR alone would stop it while its own criterion still falls. With
λ_task = λ_feat = 0 the criterion is the MSE alone and it stops on the Y-PSNR, exactly as the plain fine-tune."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from srseg.methods.base import RUNTIME, Method, TrainSpec, register, sr_training_outputs
from srseg.methods.ft_sr import FINETUNE_READS, SR_RUNTIME, finetune_deps
from srseg.params import Params, Section, register_section
from srseg.paths import Paths
from srseg.provenance import DATA, SEG, SR_IMAGES

#: The method's name: its variants, images, models and logs are named after it.
NAME = "task_sr"

#: The PSPNet feature map the optional feature loss compares (the pyramid-pooling output).
FEATURE_LAYER = "ppm_concat"


class TaskParams(Section):
    """``combine.task``: MSE + lambda_task·CE(frozen HR PSPNet(SR)) + lambda_feat·L1(PSPNet features)."""

    lambda_task: float = Field(100.0, ge=0)  # MSE is on the 0..255 scale (as in pretraining); 0: the plain fine-tune
    lambda_feat: float = Field(0.0, ge=0)


register_section("combine.task", TaskParams)


def task_params(params: Params) -> TaskParams:
    """This method's params section."""
    section: TaskParams = params.combine.section("task")
    return section


def task_model(sr_model: Any, segmenter: Any, with_features: bool) -> Any:
    """SR → RGB (:class:`srseg.models.ycbcr.LumaToRGB`) → the frozen segmenter, as one Keras model.

    Inputs ``lr``, ``bicubic`` (luma) and ``bicubic_rgb`` (and ``hr_rgb`` for the feature loss); outputs ``sr``
    (luma), ``seg`` (logits) and ``feat_sr`` / ``feat_hr``. Only the SR model's weights train: the segmenter is
    called with ``training=False`` (batch norm uses its moving statistics) and is not trainable.
    """
    import keras

    from srseg.models.ycbcr import LumaToRGB

    segmenter.trainable = False
    lr = keras.Input((None, None, 1), name="lr")
    bic = keras.Input((None, None, 1), name="bicubic")
    rgb = keras.Input((None, None, 3), name="bicubic_rgb")
    sr_y = sr_model({"lr": lr, "bicubic": bic})
    sr_rgb = LumaToRGB(name="sr_rgb")([sr_y, rgb])
    inputs = {"lr": lr, "bicubic": bic, "bicubic_rgb": rgb}
    outputs = {"sr": sr_y}
    if with_features:
        features = keras.Model(segmenter.input, [segmenter.output, segmenter.get_layer(FEATURE_LAYER).output])
        features.trainable = False
        hr = keras.Input((None, None, 3), name="hr_rgb")
        inputs["hr_rgb"] = hr
        outputs["seg"], outputs["feat_sr"] = features(sr_rgb, training=False)
        outputs["feat_hr"] = features(hr, training=False)[1]
    else:
        outputs["seg"] = segmenter(sr_rgb, training=False)
    return keras.Model(inputs, outputs, name="task_driven_sr")


def train(params: Params, scale: int, seed: int, paths: Paths) -> dict[str, Any]:
    """Stage ``task_sr@{scale}-{seed}``: the task-driven model, its val images and their quality."""
    from srseg.labels import NUM_CLASSES
    from srseg.models.pspnet import load_model as load_pspnet
    from srseg.sr.finetune import FinetuneSpec, run_finetune, task_monitor

    tp = task_params(params)
    feat = tp.lambda_feat > 0

    def build(pretrained: Any) -> tuple[Any, Any]:
        return pretrained, task_model(pretrained, load_pspnet(paths.seg_model("hr", seed), NUM_CLASSES), feat)

    spec = FinetuneSpec(architecture=f"DCSCN {params.sr.preset}",
                        what=f"task-driven through the frozen HR PSPNet, λ_task {tp.lambda_task}", build=build,
                        inputs=("lr", "bicubic", "bicubic_rgb", *(("hr_rgb",) if feat else ())),
                        targets=("hr_y", "labels"), lambda_task=tp.lambda_task, lambda_feat=tp.lambda_feat,
                        monitor=task_monitor(tp.lambda_task, tp.lambda_feat))
    return run_finetune(params, NAME, METHOD.stage, SPEC.model_params, scale, seed, paths, spec)


SPEC = TrainSpec(
    run=train,
    reads=(*FINETUNE_READS, "combine.task", *SR_RUNTIME),
    model_params=(*DATA, *SR_IMAGES, *SEG, "seg.weights", "combine.finetune", "combine.task", *RUNTIME),
    deps=lambda p, s, k: [*finetune_deps(p, s, k), p.seg_model("hr", k)],
    outs=lambda p, s, k: sr_training_outputs(p, NAME, s, k),
    artifact="sr-task",
)
METHOD = register(Method(NAME, "task-driven SR (via the frozen PSPNet)", "#009E73", "*", stage="task_sr",
                         images="own", segmenter="hr", scales="combine.scales", group="combine", baseline="ft_sr",
                         quality=True, train=SPEC, reported=("ft_sr",)))
