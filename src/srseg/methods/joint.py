"""The joint SR + segmentation model (research task 4, DSRL-style): its params, data, training on the one loop, and
the SR head's quality.

The network (:mod:`srseg.models.joint`) sees the LR image and predicts the segmentation at HR size, with an SR head
trained beside it on ``CE + w_sr·MSE + w_fa·FA`` (:mod:`srseg.training.joint_loss`); the saved model drops the SR head.
It trains with the recipe of the retrained PSPNets it is compared with (``seg.train`` with ``seg.retrain``'s
start, epochs and learning rate: :func:`srseg.seg.train.retrain_recipe`), so it spends their budget; by default its
segmentation path starts from the HR PSPNet, as theirs does, and its SR branch from scratch. Its augmentation is
theirs applied to the HR image (random resize and mirror, a ``crop``-sided window, :func:`srseg.seg.data.augment`);
the LR input is the Pillow-bicubic ÷s of that window, rounded to uint8, as ``degrade`` makes the LR images it is
evaluated on.

The network follows DSRL's structure (:mod:`srseg.models.joint`): by default the segmentation output is upsampled by
a learned decoder (``decoder: learned``, §3.2's SSSR upsampling module) and the SR branch also reads the encoder's
low-level features (``sr_skip: true``, §3.2's SISR branch of the segmentation decoder's DeepLabv3+ form). After every
epoch the gradient norm of each loss term per layer group is logged (``grad/{ce,sr,fa}/{backbone,seg_head,sr_branch}``,
:func:`gradient_norms`). :func:`train_joint_model` also trains the two CE-only models it is ranked against at equal
input (:mod:`srseg.methods.joint_ce`, :mod:`srseg.methods.lr_pspnet`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from pydantic import Field

from srseg.errors import SrsegError
from srseg.methods.base import RUNTIME, Method, Outputs, TrainSpec, register, seg_training_outputs
from srseg.params import Params, PosInt, Section, check_scale, register_section
from srseg.paths import Paths, Slot, variant
from srseg.provenance import DATA, RETRAIN, SEG

#: The method's name: its variants, images, models and logs are named after it.
NAME = "joint"

if TYPE_CHECKING:
    import tensorflow as tf

    from srseg.seg.data import Pairs
    from srseg.training.loop import History

log = logging.getLogger(__name__)


class JointParams(Section):
    """``combine.joint``: one network on the LR image (DSRL-style), trained on CE + w_sr·MSE + w_fa·FA."""

    w_sr: float = Field(1.0, ge=0)  # w_sr = w_fa = 0: a segmenter trained on LR input
    w_fa: float = Field(1.0, ge=0)
    fa_grid: PosInt = 16  # both heads' features pooled to this grid for the affinity matrices
    sr_residual: bool = True  # the SR head predicts a residual over bicubic
    decoder: Literal["learned", "bilinear"] = "learned"  # segmentation output: DSRL's learned upsampling or bilinear
    sr_skip: bool = True  # the SR branch also reads the encoder's low-level (1/4) features, as DSRL's


register_section("combine.joint", JointParams)


def joint_params(params: Params) -> JointParams:
    """This method's params section."""
    section: JointParams = params.combine.section("joint")
    return section


def joint_dataset(pairs: Pairs, scale: int, *, batch: int, crop: int, scale_min: float, scale_max: float,
                  seed: int) -> tf.data.Dataset:
    """An endless, shuffled stream of ``(lr (B, c/s, c/s, 3), {"labels": (B, c, c), "hr": (B, c, c, 3)})``."""
    import tensorflow as tf

    from srseg.degrade import downscale
    from srseg.seg.data import augment

    crop -= crop % scale
    n = len(pairs.images)
    ds = tf.data.Dataset.from_tensor_slices((pairs.images, pairs.labels))
    ds = ds.map(lambda i, lab: (tf.io.decode_png(tf.io.read_file(i), channels=3),
                                tf.io.decode_png(tf.io.read_file(lab), channels=1)),
                num_parallel_calls=tf.data.AUTOTUNE, deterministic=True).cache()
    ds = ds.shuffle(n, seed=seed, reshuffle_each_iteration=True).repeat()
    ds = tf.data.Dataset.zip((ds, tf.data.Dataset.counter()))

    def degrade(hr: np.ndarray) -> np.ndarray:
        return downscale(np.clip(np.round(hr), 0, 255).astype(np.uint8), scale).astype(np.float32)

    def element(pair: Any, index: tf.Tensor) -> tuple[tf.Tensor, dict[str, tf.Tensor]]:
        element_seed = tf.stack([tf.constant(seed, tf.int64), index])
        image, label = pair
        hr, labels = augment(image, label, element_seed, crop=crop, scale_min=scale_min, scale_max=scale_max)
        hr = tf.clip_by_value(tf.round(hr), 0, 255)
        lr = tf.ensure_shape(tf.numpy_function(degrade, [hr], tf.float32), (crop // scale, crop // scale, 3))
        return lr, {"labels": labels, "hr": hr}

    ds = ds.map(element, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    return ds.batch(batch, drop_remainder=True).prefetch(tf.data.AUTOTUNE)


@dataclass(frozen=True)
class JointSetup:
    """What distinguishes the models :func:`train_joint_model` trains: architecture, loss weights, SR branch.

    ``sr=False``: no SR branch is built and the loss is the cross-entropy alone (the CE-only models).
    """

    decoder: str = "learned"
    sr_skip: bool = True
    sr_residual: bool = True
    w_sr: float = 0.0
    w_fa: float = 0.0
    fa_grid: int = 16
    sr: bool = True


def train(params: Params, scale: int, seed: int, paths: Paths, strategy: Any = None) -> History:
    """Stage ``train_joint@{scale}-{seed}``: train, save the segmentation model, score the SR head on val."""
    jp = joint_params(params)
    setup = JointSetup(decoder=jp.decoder, sr_skip=jp.sr_skip, sr_residual=jp.sr_residual, w_sr=jp.w_sr,
                       w_fa=jp.w_fa, fa_grid=jp.fa_grid)
    return train_joint_model(params, scale, seed, paths, METHOD, setup, strategy)


def group_of(layer: str) -> str:
    """The layer group whose gradient norms are logged: ``sr_branch``, ``seg_head`` (heads and the learned
    decoder) or ``backbone`` (the shared encoder: dilated ResNet and pyramid pooling)."""
    from srseg.models.joint import SEG_UP_PREFIX, SR_LAYER_PREFIX

    if layer.startswith(SR_LAYER_PREFIX):
        return "sr_branch"
    if layer.startswith(("head_", "aux_", SEG_UP_PREFIX)):
        return "seg_head"
    return "backbone"


def gradient_norms(model: Any, batch: Any, setup: JointSetup, aux_weight: float, groups: dict[str, list[int]],
                   class_weights: np.ndarray | None = None) -> dict[str, float]:
    """``{"grad/{term}/{group}": norm}`` of the weighted terms ``ce`` (main + aux_weight·aux), ``sr`` (w_sr·MSE)
    and ``fa`` (w_fa·FA) of DSRL's loss (§3.4) on one batch — the training criterion's own terms
    (:func:`srseg.training.joint_loss.joint_terms`, with its ``class_weights``), each differentiated by
    :func:`srseg.training.grad_norms.term_gradient_norms`; the model is left as it was. The CE-only models have the
    ``ce`` term only."""
    from srseg.training.grad_norms import term_gradient_norms
    from srseg.training.joint_loss import joint_terms

    terms = joint_terms(class_weights, aux_weight, setup.w_sr, setup.w_fa, setup.fa_grid)
    inputs, targets = batch
    norms = term_gradient_norms(model, inputs, targets, lambda t, o: terms(t, o)[0], groups)
    return {f"grad/{k}": v for k, v in norms.items()}


def train_joint_model(params: Params, scale: int, seed: int, paths: Paths, method: Method, setup: JointSetup,
                      strategy: Any = None) -> History:
    """Train ``method``'s model — the joint network of ``setup`` on LR crops, the retrained PSPNets' recipe — save
    its segmentation model and, when it has an SR branch, score the SR head on val."""
    from srseg import runtime
    from srseg.io import write_json
    from srseg.labels import NUM_CLASSES
    from srseg.models.joint import build_joint
    from srseg.models.pspnet import inference_model, init_from, save_model
    from srseg.provenance import data_description, model_record
    from srseg.seg.data import label_counts, split_pairs
    from srseg.seg.evaluate import evaluate_pairs
    from srseg.seg.infer import Predictor
    from srseg.seg.train import retrain_init, retrain_recipe, started_from
    from srseg.training.grad_norms import layer_groups
    from srseg.training.joint_loss import joint_criterion
    from srseg.training.loop import train as train_loop
    from srseg.training.losses import enet_class_weights
    from srseg.training.optimizers import make_optimizer

    check_scale(scale)
    assert method.train is not None
    seg, tp = params.seg, retrain_recipe(params)
    runtime.set_determinism(seed)
    strategy = strategy or runtime.strategy(params.runtime.distribute)
    if tp.batch % strategy.num_replicas_in_sync:
        raise SrsegError(f"seg.train.batch {tp.batch}: must be a multiple of the {strategy.num_replicas_in_sync} "
                         "replicas")
    train_pairs = split_pairs(paths.raw, paths.raw, "train", "HR")
    val = split_pairs(paths.lr(scale), paths.raw, "val", f"LR ×{scale} (degrade@{scale})", input_scale=scale)
    counts = label_counts(train_pairs)
    class_weights = enet_class_weights(counts) if tp.class_weights == "enet" else None
    def stream(pairs: Pairs) -> tf.data.Dataset:
        return joint_dataset(pairs, scale, batch=tp.batch, crop=tp.crop, scale_min=tp.scale_min,
                             scale_max=tp.scale_max, seed=seed)

    dataset = stream(train_pairs)
    # The gradient norms' batch: a fixed one, from a stream of its own, so the training stream is untouched.
    probe = next(iter(stream(replace(train_pairs, samples=train_pairs.samples[: tp.batch],
                                     images=train_pairs.images[: tp.batch], labels=train_pairs.labels[: tp.batch]))))
    total = tp.epochs * tp.steps_per_epoch
    policy = params.runtime.precision.seg
    with runtime.precision(policy), strategy.scope():
        model = build_joint(NUM_CLASSES, seg.preset, scale, aux=seg.aux_weight > 0, dropout=seg.dropout,
                            sr_residual=setup.sr_residual, decoder=setup.decoder, sr_skip=setup.sr_skip,
                            sr=setup.sr, sync_bn=strategy.num_replicas_in_sync > 1)
        optimizer = runtime.wrap_optimizer(make_optimizer(tp, total), policy)
    init = retrain_init(params, paths, seed)
    if init is not None:
        log.info("%s model from %s; fresh: %s", method.name, init, ", ".join(init_from(model, init)))
    criterion = joint_criterion(class_weights, seg.aux_weight, setup.w_sr, setup.w_fa, setup.fa_grid)
    predictor = Predictor(inference_model(model), "whole")
    groups = layer_groups(model, group_of)
    # One replica only: the norms are measured outside the strategy's replica context.
    log_gradients = strategy.num_replicas_in_sync == 1

    def epoch_metrics(epoch: int, logs: dict[str, float]) -> dict[str, float]:
        m = evaluate_pairs(predictor, val)
        grads = gradient_norms(model, probe, setup, seg.aux_weight, groups, class_weights) if log_gradients else {}
        return {**{f"train/{k}": v for k, v in logs.items() if k != "epoch_seconds"},
                "val/miou": m["miou"], "val/pacc": m["pacc"], **grads}

    name = variant(method.name, scale)
    out = paths.seg_model(name, seed)
    if setup.sr:
        architecture = (f"joint SR + PSPNet {seg.preset} on x{scale} LR input ({setup.decoder} decoder, SR skip "
                        f"{'yes' if setup.sr_skip else 'no'}; SR head dropped)")
        trained_on = f", w_sr {setup.w_sr}, w_fa {setup.w_fa}"
    else:
        architecture = f"PSPNet {seg.preset} on x{scale} LR input, {setup.decoder} decoder to HR size"
        trained_on = ", cross-entropy only"
    record = model_record(params, method.stage, method.train.model_params, task="segmentation", seed=seed,
                          architecture=architecture,
                          trained_on=(f"x{scale} LR crops of the {len(train_pairs.images)} train images of "
                                      f"{data_description(params)}{trained_on}{started_from(init)}"))
    history = train_loop(model, dataset, criterion, optimizer, steps=total, steps_per_epoch=tp.steps_per_epoch,
                         live_dir=paths.train_log(f"seg_{name}", seed), save=lambda: save_model(model, out, record),
                         epoch_metrics=epoch_metrics, strategy=strategy, name=method.name,
                         memory_params=f"seg.train.crop {tp.crop}, seg.train.batch {tp.batch}")
    if not setup.sr:
        log.info("%s: val mIoU %.4f after %.0f s", out, history.last.get("val/miou", np.nan), history.seconds)
        return history
    q = sr_head_quality(model, paths, scale)
    write_json(paths.image_quality(name, seed), q)
    log.info("%s: val mIoU %.4f, SR head Y-PSNR %.2f dB, after %.0f s", out, history.last.get("val/miou", np.nan),
             q["psnr_y"], history.seconds)
    return history


def sr_head_quality(model: Any, paths: Paths, scale: int, split: str = "val") -> dict[str, Any]:
    """Y-PSNR/SSIM (and per class region) of the SR head's images of ``split``, as the SR methods are scored."""
    import tensorflow as tf
    from tqdm import tqdm

    from srseg.io import read_image, read_label
    from srseg.layout import list_samples
    from srseg.metrics.sr import class_squared_errors, quality, y_scores

    forward = tf.function(lambda x: model(x, training=False)["sr"])
    ids, pairs, sse, counts = [], [], [], []
    for s in tqdm(list_samples(paths.raw, split), desc="joint SR head", unit="img", leave=False):
        lr, hr = read_image(s.image(paths.lr(scale))), read_image(s.image(paths.raw))
        sr = np.clip(np.round(forward(lr[None].astype(np.float32)).numpy()[0]), 0, 255).astype(np.uint8)
        ids.append(s.id)
        pairs.append(y_scores(hr, sr, scale))
        e, n = class_squared_errors(hr, sr, read_label(s.label_train_ids(paths.raw)), scale)
        sse.append(e)
        counts.append(n)
    return quality(ids, pairs, sse, counts)



def outputs(p: Paths, s: Slot, k: Slot) -> Outputs:
    """Its segmentation model and training log, and its SR head's Y-PSNR/SSIM on val."""
    name = variant(NAME, s)
    seg = seg_training_outputs(p, name, k)
    return Outputs(seg.outs, [p.image_quality(name, k), *seg.uncached], seg.plots)


SPEC = TrainSpec(
    run=train,
    reads=("seg.preset", "seg.aux_weight", "seg.dropout", "seg.train", "seg.retrain", "combine.joint", *RUNTIME,
           "runtime.precision.seg"),
    model_params=(*DATA, *SEG, *RETRAIN, "combine.joint", *RUNTIME),
    deps=lambda p, s, k: [p.raw, p.lr(s), p.seg_model("hr", k)],
    outs=lambda p, s, k: outputs(p, s, k),
    artifact="seg-joint",
)
METHOD = register(Method(NAME, "joint SR + segmentation model", "#F0E442", "X", stage="train_joint", images="lr",
                         segmenter="joint", scales="combine.scales", group="combine", baseline="retrain_bicubic",
                         controls=("joint_ce", "lr_pspnet", "bicubic"), quality=True, train=SPEC,
                         reported=("retrain_bicubic", "joint_ce", "lr_pspnet")))
