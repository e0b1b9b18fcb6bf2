"""Joint super-resolution + segmentation network (research task 4: one architecture for two tasks).

After DSRL — Wang, Li, Zhu, Tian, Shan, "Dual Super-Resolution Learning for Semantic Segmentation",
CVPR 2020 — with PSPNet (:mod:`srseg.models.pspnet`) as the segmentation network. One network takes the
low-resolution RGB image ``(N, h, w, 3)``, 0..255, any size, and has::

    LR image ─ encoder (shared): normalise → dilated ResNet → pyramid pooling   [pspnet.encoder, 1/8]
       │        (stage-2 features, 1/4 → the SR skip)
       ├─ SSSR branch (DSRL §3.2): PSPNet head → logits (1/8) →
       │        decoder "learned" (default): bilinear ×8s + learned upsampling module [3×3 conv → BN → ReLU →
       │                 pixel shuffle ×r per prime factor r of 8·s, on the head's features → 3×3 conv to classes]
       │        decoder "bilinear": bilinear to (h·s, w·s)                                     → "seg" (+ "aux")
       │        feature-affinity features: the head's 3×3 conv output (before dropout + classifier) → "feat_seg"
       └─ SISR branch (DSRL §3.2): 1×1 reduce → one stage [3×3 conv → BN → ReLU → pixel shuffle ×r] per
                prime factor r of 8·s (up to ×8·s; with ``sr_skip`` the first is ×2 to 1/4, where the 1×1-reduced
                stage-2 features are concatenated) → crop to (h·s, w·s) → "feat_sr" → 3×3 conv to RGB
                (+ bicubic ×s) → "sr"

**HR size at run time.** Every output is at exactly ``(h·s, w·s)`` for any ``(h, w)``: the logits are
resized to ``s`` × the input's size read at run time (:class:`~srseg.models.pspnet.ResizeLikeScaled`); the
SR branch and the learned decoder upsample the ``ceil(h/8) × ceil(w/8)`` feature map by ``8·s`` and crop the
top-left ``(h·s, w·s)`` (TensorFlow's "same" padding puts any extra padding at the bottom/right, so the overhang
of ``8·ceil(h/8) > h`` lies there and the top-left crop keeps the sub-pixel grid aligned with the image; the same
holds for the crop to the skip's ``ceil(h/4)`` rows).

**Learned upsampling (DSRL §3.2, SSSR).** DSRL's SSSR branch ends in an upsampling module of learned layers
that takes the prediction to the HR size; ``decoder="learned"`` (:func:`learned_logits`) builds one of pixel-shuffle
stages on the head's features and adds its class scores to the bilinear logits, its last conv starting near zero so
the fine-tune from the HR PSPNet starts where that PSPNet is (a documented departure: DSRL's module is not
residual). ``decoder="bilinear"`` is PSPNet's resize of the logits (DSRL's baseline at LR input).

**Low-level skip (DSRL §3.2, SISR).** DSRL's SISR branch has its segmentation decoder's form — DeepLabv3+'s,
which joins the backbone's low-level (1/4) features to the upsampled 1/8 ones. ``sr_skip=True`` joins the
encoder's stage-2 output (1/4 of the LR size, the first dilated-ResNet stage after the stem) into the SR branch
after its first ×2 stage, so the SR image can draw on detail that the 1/8 pyramid features have lost.

**SISR branch vs DSRL's.** DSRL's SISR branch shares the encoder and has its own decoder (of the
segmentation decoder's form), then upsampling to the HR size and a last convolution to 3 channels; it is
dropped at inference. Ours keeps that shape — shared encoder, a separate decoder, sub-pixel
convolution (ESPCN's pixel shuffle, :class:`~srseg.models.dcscn.PixelShuffle`) to HR — but is narrow:
channels halve at every stage down to 16 (``small``: 48 → 24 → 16 …), so the branch costs 0.10 / 0.13 /
0.11 M parameters at ×2 / ×3 / ×4 with the skip (``small``; PSPNet itself 0.87 M; the learned decoder 0.12 / 0.22 /
0.13 M, kept in the saved segmenter) and the ``small`` preset still trains in minutes on a CPU. Its last convolution
starts near zero, so the SR output starts at the bicubic image.
The branch only has to shape the shared features, not to be a competitive SR network (DCSCN is that).

**Global residual (documented departure).** With ``sr_residual=True`` (default) the branch predicts the
residual over the bicubic ×s upscale of the input (``tf.image.resize`` bicubic, inside the model): the
1/8-resolution features cannot carry the image's fine colours, and the residual makes the SR target the
high-frequency detail the encoder should learn to keep. ``sr_residual=False`` regresses the whole image, as
DSRL does.

**Output units.** The last SR convolution works in the encoder's input units (ImageNet-normalised, the
space DSRL-style implementations regress their SR target in), and ``"sr"`` is that mapped back to 0..255 by
an inverted ``Normalization`` layer; :func:`srseg.training.joint_loss.sr_mse` measures the error in the
same normalised units.

**Features for the feature-affinity loss (DSRL §3.3).** ``"feat_seg"`` is the segmentation head's last
feature map before its classifier (1/8 of the LR size, ``spec.head`` channels) and ``"feat_sr"`` the SR
branch's last feature map before its RGB convolution (HR size, ≥ 16 channels). The affinity of a map is
the cosine similarity between its positions, so the two maps need neither the same size (the loss pools
both to one grid) nor the same channel count, and no channel-matching 1×1 projection is added.

The segmentation path is PSPNet's layers (same names; with the learned decoder, plus its ``seg_up_*`` layers), so
:func:`inference_model` — PSPNet's — returns the single-output model (LR RGB in → HR-size logits out) with no SR-branch
layer or weight, which
:func:`srseg.models.pspnet.save_model` / ``load_model`` save and read like any PSPNet. Under a
``mixed_float16`` policy every output is a float32 layer.
"""

from __future__ import annotations

from numbers import Integral
from typing import Any

import keras
import tensorflow as tf
from keras import layers

from srseg.errors import SrsegError
from srseg.models.dcscn import PixelShuffle
from srseg.models.pspnet import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    ResizeLikeScaled,
    conv_bn,
    encoder,
    inference_model,  # noqa: F401  (re-exported: the joint model's inference form is PSPNet's)
    preset_spec,
    seg_head,
    upsampled_logits,
)
from srseg.runtime import float32_dtype

#: The encoder's output stride (PSPNet's dilated ResNet, §4): feature maps are ceil(h/8) × ceil(w/8).
OUTPUT_STRIDE = 8
#: Every layer of the SISR branch is named with this prefix (the FA features' float32 layer is ``feat_sr``).
SR_LAYER_PREFIX = "sr_"
#: Fewest channels of an SR stage (the stages at HR size, where the cost is).
SR_MIN_CHANNELS = 16
#: Standard deviation of the initial weights of the SR branch's last convolution (see sr_branch).
SR_OUT_INIT_STD = 1e-3

_VARIANCE = [s * s for s in IMAGENET_STD]


# --------------------------------------------------------------------------------------------
# SR-branch layers (registered, so a saved joint model loads without custom_objects)
# --------------------------------------------------------------------------------------------


def _times(dim: int | None, scale: int) -> int | None:
    return None if dim is None else dim * scale


@keras.saving.register_keras_serializable(package="srseg")
class BicubicUpscale(layers.Layer):
    """Bicubic ×``scale`` upscale of an NHWC image (``tf.image.resize``), the base of the SR residual."""

    def __init__(self, scale: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.scale = int(scale)

    def call(self, x):
        return tf.cast(tf.image.resize(x, tf.shape(x)[1:3] * self.scale, method="bicubic"), x.dtype)

    def compute_output_shape(self, shape):
        return (shape[0], _times(shape[1], self.scale), _times(shape[2], self.scale), shape[3])

    def get_config(self):
        return {**super().get_config(), "scale": self.scale}


@keras.saving.register_keras_serializable(package="srseg")
class CropLikeScaled(layers.Layer):
    """The top-left ``scale`` × (spatial size of ``ref``) of ``x`` (``x`` at least that large)."""

    def __init__(self, scale: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.scale = int(scale)

    def call(self, x, ref):
        size = tf.shape(ref)[1:3] * self.scale
        return x[:, : size[0], : size[1], :]

    def compute_output_shape(self, x_shape, ref_shape):
        return (x_shape[0], _times(ref_shape[1], self.scale), _times(ref_shape[2], self.scale), x_shape[3])

    def get_config(self):
        return {**super().get_config(), "scale": self.scale}


# --------------------------------------------------------------------------------------------
# Model
# --------------------------------------------------------------------------------------------


def sr_stage_factors(scale: int) -> list[int]:
    """Pixel-shuffle factors from the 1/8 feature map to ×``scale``: the primes of 8·s, largest first.

    Largest first so a ×3 (or ×5…) stage runs on the smallest map; ×2 → [2, 2, 2, 2], ×3 → [3, 2, 2, 2].
    """
    n, factors, p = OUTPUT_STRIDE * scale, [], 2
    while n > 1:
        while n % p == 0:
            factors.append(p)
            n //= p
        p += 1
    return sorted(factors, reverse=True)


#: The decoders of the segmentation output: DSRL's learned upsampling, or PSPNet's bilinear resize of the logits.
DECODERS = ("learned", "bilinear")
#: Every layer of the learned segmentation decoder is named with this prefix (part of the saved segmenter).
SEG_UP_PREFIX = "seg_up_"
#: Channels of the 1×1 reduction of the low-level skip into the SR branch (DeepLabv3+'s 48, scaled like ours).
SKIP_CHANNELS = 16


def _upsampling_stages(x, width: int, factors: list[int], prefix: str, *, sync_bn: bool, skip=None):
    """Stages ``[3×3 conv → BN → ReLU → pixel shuffle ×r]``, channels halving to :data:`SR_MIN_CHANNELS`.

    ``skip`` (a 1/4-LR map, the first factor being 2 so the first stage reaches 1/4): after the first stage the
    map is cropped top-left to the skip's size (``2·ceil(h/8) ≥ ceil(h/4)``, the overhang at the bottom/right)
    and concatenated with the skip reduced by a 1×1 conv (DeepLabv3+'s decoder, which DSRL's branches use).
    """
    channels = width
    for k, r in enumerate(factors, start=1):
        channels = max(SR_MIN_CHANNELS, channels // 2)
        x = conv_bn(x, channels * r * r, 3, name=f"{prefix}up{k}", sync_bn=sync_bn)
        x = PixelShuffle(r, name=f"{prefix}up{k}_shuffle")(x)
        if k == 1 and skip is not None:
            low = conv_bn(skip, SKIP_CHANNELS, 1, name=f"{prefix}skip", sync_bn=sync_bn)
            x = CropLikeScaled(1, name=f"{prefix}skip_crop")(x, low)
            x = layers.Concatenate(name=f"{prefix}skip_concat")([x, low])
    return x


def skip_stage_factors(scale: int) -> list[int]:
    """:func:`sr_stage_factors` with a ×2 first, so the first stage reaches the 1/4-LR skip (×3 → [2, 3, 2, 2])."""
    factors = sr_stage_factors(scale)
    factors.remove(2)
    return [2, *factors]


def learned_logits(logits, feat_seg, image, scale: int, width: int, *, sync_bn: bool = False):
    """DSRL's SSSR upsampling module (§3.2): the segmentation output at HR size through learned upsampling.

    DSRL appends to the segmentation decoder an upsampling module of learned layers (deconvolutions in the
    authors' code) that takes the prediction to the HR size instead of interpolating it. Here the head's features
    (``feat_seg``, 1/8 LR) go through pixel-shuffle stages (:func:`_upsampling_stages`, the SR branch's form) to
    ``8·s`` × their size, are cropped to ``(h·s, w·s)`` and a 3×3 conv makes class scores there.
    **Documented departure**: those scores are added to the bilinear ×``8·s`` resize of the head's logits, and
    their conv starts near zero (as the SR branch's output), so the model starts as the PSPNet it is fine-tuned
    from (``seg.retrain.init``) and learns the upsampling as a correction: a freshly initialised classifier
    would throw the pretrained one away.
    """
    num_classes = logits.shape[-1]
    x = _upsampling_stages(feat_seg, width, sr_stage_factors(scale), SEG_UP_PREFIX, sync_bn=sync_bn)
    x = CropLikeScaled(scale, name=f"{SEG_UP_PREFIX}crop")(x, image)
    init = keras.initializers.RandomNormal(stddev=SR_OUT_INIT_STD)
    detail = layers.Conv2D(num_classes, 3, padding="same", kernel_initializer=init,
                           name=f"{SEG_UP_PREFIX}cls")(x)
    base = ResizeLikeScaled(scale, name="seg", dtype=float32_dtype())(logits, image)
    summed = layers.Add(dtype=float32_dtype(), name=f"{SEG_UP_PREFIX}add")([base, detail])
    return layers.Activation("linear", dtype="float32", name="seg_logits")(summed)


def sr_branch(features, image, scale: int, width: int, *, residual: bool, sync_bn: bool = False, skip=None):
    """SISR branch (DSRL §3.2) on the shared features: ``(sr image 0..255 float32, last features)`` at HR size.

    ``skip``: the encoder's stage-2 features (1/4 LR), joined after the first ×2 stage — DSRL's SISR branch
    has the segmentation decoder's form, DeepLabv3+'s, which reads the backbone's low-level features besides
    the 1/8 ones, so the SR image can draw on detail the 1/8 features have lost.
    """
    x = conv_bn(features, width, 1, name=f"{SR_LAYER_PREFIX}reduce", sync_bn=sync_bn)
    factors = sr_stage_factors(scale) if skip is None else skip_stage_factors(scale)
    x = _upsampling_stages(x, width, factors, SR_LAYER_PREFIX, sync_bn=sync_bn, skip=skip)
    feats = CropLikeScaled(scale, name=f"{SR_LAYER_PREFIX}crop")(x, image)
    # Small initial weights: the branch starts at the bicubic image (or the mean image), not at noise of
    # ~2 std whose MSE would outweigh the cross-entropy for the first steps.
    init = keras.initializers.RandomNormal(stddev=SR_OUT_INIT_STD)
    out = layers.Conv2D(3, 3, padding="same", kernel_initializer=init,
                        name=f"{SR_LAYER_PREFIX}conv_out")(feats)  # in normalised units
    if residual:
        bicubic = BicubicUpscale(scale, dtype="float32", name=f"{SR_LAYER_PREFIX}bicubic")(image)
        base = layers.Normalization(mean=IMAGENET_MEAN, variance=_VARIANCE, dtype="float32",
                                    name=f"{SR_LAYER_PREFIX}bicubic_norm")(bicubic)
        out = layers.Add(dtype="float32", name=f"{SR_LAYER_PREFIX}add")([out, base])
    sr = layers.Normalization(mean=IMAGENET_MEAN, variance=_VARIANCE, invert=True, dtype="float32",
                              name=f"{SR_LAYER_PREFIX}image")(out)
    return sr, feats


def build_joint(
    num_classes: int = 19,
    preset: str = "small",
    scale: int = 4,
    *,
    aux: bool = True,
    dropout: float = 0.1,
    sr_residual: bool = True,
    decoder: str = "learned",
    sr_skip: bool = True,
    sr: bool = True,
    name: str | None = None,
    sync_bn: bool = False,
) -> keras.Model:
    """The joint model in training form, for RGB 0..255 LR inputs ``(N, h, w, 3)`` of any size.

    Outputs a dict, every entry float32: ``"seg"`` logits ``(N, h·s, w·s, num_classes)``; ``"aux"`` (when
    ``aux``) the auxiliary logits at the same size; ``"sr"`` the SR image ``(N, h·s, w·s, 3)`` on 0..255
    (not clipped); ``"feat_seg"`` ``(N, ceil(h/8), ceil(w/8), spec.head)`` and ``"feat_sr"``
    ``(N, h·s, w·s, ≥16)``, the maps the feature-affinity loss compares. :func:`inference_model` gives the
    segmentation-only model to save.

    ``decoder``: ``"learned"`` (DSRL §3.2's SSSR upsampling module, :func:`learned_logits`) or ``"bilinear"``
    (PSPNet's resize of the 1/8 logits); ``sr_skip``: the SR branch also reads the encoder's stage-2 features
    (:func:`sr_branch`). ``sr=False`` builds no SR branch (outputs ``"seg"``, ``"aux"`` only): the CE-only
    models, whose SR branch would get no gradient.
    """
    spec = preset_spec(preset)
    if isinstance(scale, bool) or not isinstance(scale, Integral) or scale < 1:
        raise SrsegError(f"joint model scale {scale!r}: must be an integer ≥ 1")
    scale = int(scale)
    if decoder not in DECODERS:
        raise SrsegError(f"joint model decoder {decoder!r}: must be one of {', '.join(DECODERS)}")
    image = keras.Input((None, None, 3), name="image")
    c2, c4, features = encoder(image, spec, sync_bn=sync_bn, low_level=True)
    logits, feat_seg = seg_head(features, spec.head, num_classes, dropout, name="head", features=True,
                                sync_bn=sync_bn)
    if decoder == "learned":
        outputs = {"seg": learned_logits(logits, feat_seg, image, scale, spec.head // 2, sync_bn=sync_bn)}
    else:
        outputs = {"seg": upsampled_logits(logits, image, resize_name="seg", name="seg_logits", scale=scale)}
    if aux:
        aux_logits = seg_head(c4, spec.aux_head, num_classes, dropout, name="aux", sync_bn=sync_bn)
        outputs["aux"] = upsampled_logits(aux_logits, image, resize_name="aux_up", name="aux_logits", scale=scale)
    if not sr:
        return keras.Model(image, outputs, name=name or f"joint_{preset}_x{scale}")
    sr_image, feat_sr = sr_branch(features, image, scale, spec.head // 2, residual=sr_residual, sync_bn=sync_bn,
                                  skip=c2 if sr_skip else None)
    outputs["sr"] = sr_image
    outputs["feat_seg"] = layers.Activation("linear", dtype="float32", name="feat_seg")(feat_seg)
    outputs["feat_sr"] = layers.Activation("linear", dtype="float32", name="feat_sr")(feat_sr)
    return keras.Model(image, outputs, name=name or f"joint_{preset}_x{scale}")
