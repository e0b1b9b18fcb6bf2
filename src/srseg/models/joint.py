"""Joint super-resolution + segmentation network (research task 4: one architecture for two tasks).

After DSRL — Wang, Li, Zhu, Tian, Shan, "Dual Super-Resolution Learning for Semantic Segmentation",
CVPR 2020 — with PSPNet (:mod:`srseg.models.pspnet`) as the segmentation network. One network takes the
low-resolution RGB image ``(N, h, w, 3)``, 0..255, any size, and has::

    LR image ─ encoder (shared): normalise → dilated ResNet → pyramid pooling   [pspnet.encoder, 1/8]
       ├─ SSSR branch (DSRL §3.2): PSPNet head → logits → bilinear to (h·s, w·s)  → "seg" (+ "aux")
       │        feature-affinity features: the head's 3×3 conv output (before dropout + classifier) → "feat_seg"
       └─ SISR branch (DSRL §3.2): 1×1 reduce → one stage [3×3 conv → BN → ReLU → pixel shuffle ×r] per
                prime factor r of 8·s (up to ×8·s) → crop to (h·s, w·s) → "feat_sr" → 3×3 conv to RGB
                (+ bicubic ×s) → "sr"

**HR size at run time.** Every output is at exactly ``(h·s, w·s)`` for any ``(h, w)``: the logits are
resized to ``s`` × the input's size read at run time (:class:`~srseg.models.pspnet.ResizeLikeScaled`); the
SR branch upsamples the ``ceil(h/8) × ceil(w/8)`` feature map by ``8·s`` and crops the top-left
``(h·s, w·s)`` (TensorFlow's "same" padding puts any extra padding at the bottom/right, so the overhang
of ``8·ceil(h/8) > h`` lies there and the top-left crop keeps the sub-pixel grid aligned with the image).

**SISR branch vs DSRL's.** DSRL's SISR branch shares the encoder and has its own decoder (of the
segmentation decoder's form), then upsampling to the HR size and a last convolution to 3 channels; it is
dropped at inference. Ours keeps that shape — shared encoder, a separate decoder, sub-pixel
convolution (ESPCN's pixel shuffle, :class:`~srseg.models.dcscn.PixelShuffle`) to HR — but is narrow:
channels halve at every stage down to 16 (``small``: 48 → 24 → 16 …), so the branch costs 0.09 / 0.14 /
0.10 M parameters at ×2 / ×3 / ×4 (``small``; PSPNet itself 0.87 M) and the ``small`` preset still trains
in minutes on a CPU. Its last convolution starts near zero, so the SR output starts at the bicubic image.
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

The segmentation path is exactly PSPNet's layers (same names), so :func:`inference_model` — PSPNet's —
returns the single-output model (LR RGB in → HR-size logits out) with no SR-branch layer or weight, which
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
    conv_bn,
    encoder,
    inference_model,  # noqa: F401  (re-exported: the joint model's inference form is PSPNet's)
    preset_spec,
    seg_head,
    upsampled_logits,
)

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


def sr_branch(features, image, scale: int, width: int, *, residual: bool, sync_bn: bool = False):
    """SISR branch on the shared features: returns ``(sr image 0..255 float32, last features)`` at HR size."""
    x = conv_bn(features, width, 1, name=f"{SR_LAYER_PREFIX}reduce", sync_bn=sync_bn)
    channels = width
    for k, r in enumerate(sr_stage_factors(scale), start=1):
        channels = max(SR_MIN_CHANNELS, channels // 2)
        x = conv_bn(x, channels * r * r, 3, name=f"{SR_LAYER_PREFIX}up{k}", sync_bn=sync_bn)
        x = PixelShuffle(r, name=f"{SR_LAYER_PREFIX}up{k}_shuffle")(x)
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
    name: str | None = None,
    sync_bn: bool = False,
) -> keras.Model:
    """The joint model in training form, for RGB 0..255 LR inputs ``(N, h, w, 3)`` of any size.

    Outputs a dict, every entry float32: ``"seg"`` logits ``(N, h·s, w·s, num_classes)``; ``"aux"`` (when
    ``aux``) the auxiliary logits at the same size; ``"sr"`` the SR image ``(N, h·s, w·s, 3)`` on 0..255
    (not clipped); ``"feat_seg"`` ``(N, ceil(h/8), ceil(w/8), spec.head)`` and ``"feat_sr"``
    ``(N, h·s, w·s, ≥16)``, the maps the feature-affinity loss compares. :func:`inference_model` gives the
    segmentation-only model to save.
    """
    spec = preset_spec(preset)
    if isinstance(scale, bool) or not isinstance(scale, Integral) or scale < 1:
        raise SrsegError(f"joint model scale {scale!r}: must be an integer ≥ 1")
    scale = int(scale)
    image = keras.Input((None, None, 3), name="image")
    c4, features = encoder(image, spec, sync_bn=sync_bn)
    logits, feat_seg = seg_head(features, spec.head, num_classes, dropout, name="head", features=True,
                                sync_bn=sync_bn)
    outputs = {"seg": upsampled_logits(logits, image, resize_name="seg", name="seg_logits", scale=scale)}
    if aux:
        aux_logits = seg_head(c4, spec.aux_head, num_classes, dropout, name="aux", sync_bn=sync_bn)
        outputs["aux"] = upsampled_logits(aux_logits, image, resize_name="aux_up", name="aux_logits", scale=scale)
    sr, feat_sr = sr_branch(features, image, scale, spec.head // 2, residual=sr_residual, sync_bn=sync_bn)
    outputs["sr"] = sr
    outputs["feat_seg"] = layers.Activation("linear", dtype="float32", name="feat_seg")(feat_seg)
    outputs["feat_sr"] = layers.Activation("linear", dtype="float32", name="feat_sr")(feat_sr)
    return keras.Model(image, outputs, name=name or f"joint_{preset}_x{scale}")
