"""PSPNet: Zhao, Shi, Qi, Wang, Jia, "Pyramid Scene Parsing Network", CVPR 2017 — in Keras 3.

Read next to the paper:

* **Backbone** (§3.2, §4): a ResNet whose last two stages use dilated convolutions instead of
  strides, so the feature map is 1/8 of the input ("output stride 8"). As in the authors' code the
  stem is three 3×3 convolutions instead of one 7×7. Stage 4 uses dilation 2, stage 5 dilation 4.
  ``resnet50`` / ``resnet101`` use bottleneck blocks (the paper's backbones); ``small`` uses basic
  blocks and narrow widths so that it trains from scratch on a CPU in minutes.
* **Pyramid pooling module** (§3.2, Fig. 3): the final feature map is average-pooled to
  1×1, 2×2, 3×3 and 6×6 bins (:class:`AdaptivePool2D`, computed from the feature map's *actual*
  size at run time, like PyTorch's ``AdaptiveAvgPool2d``), each level is reduced by a 1×1
  convolution to 1/N of the channels (N = 4 levels), upsampled bilinearly to the feature map's
  size and concatenated with it.
* **Head**: 3×3 conv → BN → ReLU → dropout 0.1 → 1×1 conv to the class logits, which are
  upsampled bilinearly to the input size (:class:`ResizeLike`).
* **Auxiliary loss** (§3.3, Fig. 4): a second, lighter head on the stage-4 features, weighted
  0.4 in training and dropped at inference (:func:`inference_model`).

Inputs are RGB float images in 0..255 (any size, any batch); the model normalises them with the
ImageNet mean/std. Outputs are float32 logits ``(N, H, W, num_classes)`` at the input size.

The pieces are separate functions (:func:`encoder` = normalisation + :func:`resnet_backbone` +
:func:`pyramid_pooling_module`, :func:`seg_head`, :func:`upsampled_logits`) so that the joint
SR + segmentation model (:mod:`srseg.models.joint`) shares them.
Custom layers are registered under the ``srseg`` package, so ``keras.models.load_model`` reads
saved ``.keras`` files without ``custom_objects`` once this module is imported.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import keras
import tensorflow as tf
from keras import layers

from srseg.errors import SrsegError, first_line
from srseg.io import save_keras
from srseg.runtime import float32_dtype

#: ImageNet statistics on the 0..255 scale (the convention of the paper's Caffe / PyTorch code).
IMAGENET_MEAN = (123.675, 116.28, 103.53)
IMAGENET_STD = (58.395, 57.12, 57.375)

PPM_BINS = (1, 2, 3, 6)


@dataclass(frozen=True)
class BackboneSpec:
    """A dilated ResNet: block type, blocks per stage (conv2_x..conv5_x), stage widths, stem widths.

    ``head`` / ``aux_head`` are the channels of the 3×3 convolution of the main / auxiliary heads
    (512 / 256 in the paper for ResNet: 1/4 of the 2048 / 1024 input channels).
    """

    block: str  # "basic" | "bottleneck"
    depths: tuple[int, int, int, int]
    widths: tuple[int, int, int, int]
    stem: tuple[int, int, int]
    head: int
    aux_head: int

    @property
    def expansion(self) -> int:
        return 4 if self.block == "bottleneck" else 1

    @property
    def out_channels(self) -> int:
        return self.widths[3] * self.expansion


PRESETS: dict[str, BackboneSpec] = {
    "resnet50": BackboneSpec("bottleneck", (3, 4, 6, 3), (64, 128, 256, 512), (64, 64, 128), 512, 256),
    "resnet101": BackboneSpec("bottleneck", (3, 4, 23, 3), (64, 128, 256, 512), (64, 64, 128), 512, 256),
    # CPU default: basic blocks (a ResNet-10-like depth) at reduced width; ~0.87M parameters.
    "small": BackboneSpec("basic", (1, 1, 2, 1), (32, 48, 96, 128), (16, 16, 32), 96, 48),
}

#: (stride, dilation) of conv2_x..conv5_x: output stride 8 (§4: "dilated network strategy").
STAGE_STRIDES = (1, 2, 1, 1)
STAGE_DILATIONS = (1, 1, 2, 4)


# --------------------------------------------------------------------------------------------
# Custom layers
# --------------------------------------------------------------------------------------------


def _bin_edges(length: tf.Tensor, bins: int) -> tuple[tf.Tensor, tf.Tensor]:
    i = tf.range(bins, dtype=tf.int32)
    start = (i * length) // bins
    end = -((-(i + 1) * length) // bins)  # ceil division
    return start, end


def adaptive_average_pool(x: tf.Tensor, bins: int) -> tf.Tensor:
    """Average-pool ``x (N, H, W, C)`` to ``(N, bins, bins, C)`` by the rule of :class:`AdaptivePool2D`."""
    dtype = x.dtype
    x = tf.cast(x, tf.float32)
    shape = tf.shape(x)
    y0, y1 = _bin_edges(shape[1], bins)
    x0, x1 = _bin_edges(shape[2], bins)
    integral = tf.pad(tf.cumsum(tf.cumsum(x, axis=1), axis=2), [[0, 0], [1, 0], [1, 0], [0, 0]])

    def corner(rows, cols):
        return tf.gather(tf.gather(integral, rows, axis=1), cols, axis=2)

    total = corner(y1, x1) - corner(y0, x1) - corner(y1, x0) + corner(y0, x0)
    area = tf.cast(tf.tensordot(y1 - y0, x1 - x0, axes=0), tf.float32)
    return tf.cast(total / area[None, :, :, None], dtype)


@keras.saving.register_keras_serializable(package="srseg")
class AdaptivePool2D(layers.Layer):
    """Average-pool a ``(N, H, W, C)`` map to ``(N, bins, bins, C)`` for whatever H, W it gets.

    Bin ``i`` along an axis of length L covers ``[floor(i·L/b), ceil((i+1)·L/b))`` — the rule of
    PyTorch's ``AdaptiveAvgPool2d`` used by the authors' code — so bins may overlap by one pixel
    when L is not a multiple of b and every bin is non-empty for any L ≥ 1. Sums come from an
    integral image, so the cost does not depend on the number of bins.
    """

    def __init__(self, bins: int, **kwargs):
        super().__init__(**kwargs)
        self.bins = int(bins)

    def call(self, x):
        return adaptive_average_pool(x, self.bins)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.bins, self.bins, input_shape[3])

    def get_config(self):
        return {**super().get_config(), "bins": self.bins}


@keras.saving.register_keras_serializable(package="srseg")
class ResizeLike(layers.Layer):
    """Bilinearly resize ``x`` to the spatial size of ``ref`` (both NHWC), read at run time."""

    def call(self, x, ref):
        out = tf.image.resize(x, self._size(tf.shape(ref)[1:3]), method="bilinear")
        return tf.cast(out, x.dtype)

    def _size(self, ref_size):
        return ref_size

    def compute_output_shape(self, x_shape, ref_shape):
        return (x_shape[0], self._size(ref_shape[1]), self._size(ref_shape[2]), x_shape[3])


@keras.saving.register_keras_serializable(package="srseg")
class ResizeLikeScaled(ResizeLike):
    """Bilinearly resize ``x`` to ``scale`` × the spatial size of ``ref``: the HR size of an LR input.

    The joint SR + segmentation model (:mod:`srseg.models.joint`) predicts at ``(h·s, w·s)`` from an
    ``(h, w)`` input; it lives here so that :func:`load_model` reads such a model with this module alone.
    """

    def __init__(self, scale: int, **kwargs):
        super().__init__(**kwargs)
        self.scale = int(scale)

    def _size(self, ref_size):
        return None if ref_size is None else ref_size * self.scale

    def get_config(self):
        return {**super().get_config(), "scale": self.scale}


# --------------------------------------------------------------------------------------------
# Building blocks
# --------------------------------------------------------------------------------------------


def conv_bn(x, filters: int, kernel: int, *, stride: int = 1, dilation: int = 1, relu: bool = True, name: str,
            sync_bn: bool = False):
    """Convolution without bias → BN (→ ReLU): layers ``{name}_conv``, ``{name}_bn``, ``{name}_relu``.

    ``sync_bn``: batch statistics over all replicas of a distribution strategy, so N replicas train like one.
    """
    x = layers.Conv2D(filters, kernel, strides=stride, dilation_rate=dilation, padding="same", use_bias=False,
                      kernel_initializer="he_normal", name=f"{name}_conv")(x)
    x = layers.BatchNormalization(momentum=0.9, epsilon=1e-5, synchronized=sync_bn, name=f"{name}_bn")(x)
    return layers.ReLU(name=f"{name}_relu")(x) if relu else x


def _basic_block(x, width: int, stride: int, dilation: int, name: str, sync_bn: bool = False):
    """Two 3×3 convolutions with an identity (or 1×1 projection) shortcut (He et al. 2016, Fig. 5 left)."""
    shortcut = x
    if stride != 1 or x.shape[-1] != width:
        shortcut = conv_bn(x, width, 1, stride=stride, relu=False, name=f"{name}_proj", sync_bn=sync_bn)
    y = conv_bn(x, width, 3, stride=stride, dilation=dilation, name=f"{name}_a", sync_bn=sync_bn)
    y = conv_bn(y, width, 3, dilation=dilation, relu=False, name=f"{name}_b", sync_bn=sync_bn)
    return layers.ReLU(name=f"{name}_out")(layers.Add(name=f"{name}_add")([shortcut, y]))


def _bottleneck_block(x, width: int, stride: int, dilation: int, name: str, sync_bn: bool = False):
    """1×1 reduce → 3×3 (stride / dilation) → 1×1 expand ×4, with shortcut (He et al. 2016, Fig. 5 right)."""
    out = 4 * width
    shortcut = x
    if stride != 1 or x.shape[-1] != out:
        shortcut = conv_bn(x, out, 1, stride=stride, relu=False, name=f"{name}_proj", sync_bn=sync_bn)
    y = conv_bn(x, width, 1, name=f"{name}_a", sync_bn=sync_bn)
    y = conv_bn(y, width, 3, stride=stride, dilation=dilation, name=f"{name}_b", sync_bn=sync_bn)
    y = conv_bn(y, out, 1, relu=False, name=f"{name}_c", sync_bn=sync_bn)
    return layers.ReLU(name=f"{name}_out")(layers.Add(name=f"{name}_add")([shortcut, y]))


def resnet_backbone(x, spec: BackboneSpec, *, sync_bn: bool = False, low_level: bool = False):
    """Dilated ResNet on a normalised image tensor → (stage-4 features, stage-5 features), both at 1/8.

    ``low_level``: ``(stage-2 features at 1/4, stage-4, stage-5)``, the early features a decoder skip reads.
    """
    x = conv_bn(x, spec.stem[0], 3, stride=2, name="stem1", sync_bn=sync_bn)
    x = conv_bn(x, spec.stem[1], 3, name="stem2", sync_bn=sync_bn)
    x = conv_bn(x, spec.stem[2], 3, name="stem3", sync_bn=sync_bn)
    x = layers.MaxPooling2D(3, strides=2, padding="same", name="stem_pool")(x)
    block = _bottleneck_block if spec.block == "bottleneck" else _basic_block
    feats = []
    stages = zip(spec.depths, spec.widths, STAGE_STRIDES, STAGE_DILATIONS, strict=True)
    for s, (depth, width, stride, dilation) in enumerate(stages):
        for b in range(depth):
            x = block(x, width, stride if b == 0 else 1, dilation, name=f"conv{s + 2}_{b + 1}", sync_bn=sync_bn)
        feats.append(x)
    return (feats[0], feats[2], feats[3]) if low_level else (feats[2], feats[3])


def pyramid_pooling_module(x, bins: tuple[int, ...] = PPM_BINS, name: str = "ppm", *, sync_bn: bool = False):
    """Fig. 3(c): pool to each bin size, 1×1 conv to C/len(bins), upsample, concat with the input."""
    reduced = x.shape[-1] // len(bins)
    branches = [x]
    for b in bins:
        y = AdaptivePool2D(b, name=f"{name}_pool{b}")(x)
        y = conv_bn(y, reduced, 1, name=f"{name}_{b}", sync_bn=sync_bn)
        branches.append(ResizeLike(name=f"{name}_up{b}")(y, x))
    return layers.Concatenate(name=f"{name}_concat")(branches)


def seg_head(x, channels: int, num_classes: int, dropout: float, name: str, *, features: bool = False,
             sync_bn: bool = False):
    """3×3 conv → BN → ReLU → dropout → 1×1 conv to logits (at the feature map's resolution).

    With ``features=True`` returns ``(logits, f)``, ``f`` the ReLU output before dropout and the classifier
    (what the joint model's feature-affinity loss compares).
    """
    f = conv_bn(x, channels, 3, name=f"{name}_conv", sync_bn=sync_bn)
    x = layers.Dropout(dropout, name=f"{name}_dropout")(f)
    logits = layers.Conv2D(num_classes, 1, name=f"{name}_cls")(x)
    return (logits, f) if features else logits


def encoder(image, spec: BackboneSpec, *, sync_bn: bool = False, low_level: bool = False):
    """ImageNet normalisation → dilated ResNet → pyramid pooling: (stage-4 features, PPM output), both at 1/8.

    ``low_level``: ``(stage-2 features at 1/4, stage-4, PPM output)`` (the joint model's SR skip).
    """
    x = layers.Normalization(mean=IMAGENET_MEAN, variance=[s * s for s in IMAGENET_STD], name="normalize")(image)
    if low_level:
        c2, c4, c5 = resnet_backbone(x, spec, sync_bn=sync_bn, low_level=True)
        return c2, c4, pyramid_pooling_module(c5, sync_bn=sync_bn)
    c4, c5 = resnet_backbone(x, spec, sync_bn=sync_bn)
    return c4, pyramid_pooling_module(c5, sync_bn=sync_bn)


def upsampled_logits(logits, image, *, resize_name: str, name: str, scale: int = 1):
    """``logits`` bilinearly resized to ``scale`` × the input's size, as a float32 output layer ``name``.

    The resize itself runs in float32 under a mixed policy, so the full-size logits are interpolated from the
    low-precision ones, not rounded to bfloat16 / float16 after the interpolation.
    """
    kind = dict(name=resize_name, dtype=float32_dtype())
    resize = ResizeLike(**kind) if scale == 1 else ResizeLikeScaled(scale, **kind)
    return layers.Activation("linear", dtype="float32", name=name)(resize(logits, image))


def preset_spec(preset: str) -> BackboneSpec:
    """The backbone of a preset name; SrsegError (one line) for an unknown one."""
    if preset not in PRESETS:
        raise SrsegError(f"PSPNet preset {preset!r}: must be one of {', '.join(PRESETS)}")
    return PRESETS[preset]


# --------------------------------------------------------------------------------------------
# Models
# --------------------------------------------------------------------------------------------


def build_pspnet(
    num_classes: int = 19,
    preset: str = "small",
    *,
    aux: bool = False,
    dropout: float = 0.1,
    name: str | None = None,
    sync_bn: bool = False,
) -> keras.Model:
    """PSPNet for RGB 0..255 inputs of any size.

    With ``aux=False`` the model outputs logits ``(N, H, W, num_classes)``; with ``aux=True`` it
    outputs ``{"seg": logits, "aux": aux_logits}`` (both at input size) for training, and
    :func:`inference_model` gives the single-output model to save. ``sync_bn`` synchronises batch statistics
    across the replicas of a distribution strategy (for training on several replicas).
    """
    spec = preset_spec(preset)
    image = keras.Input((None, None, 3), name="image")
    c4, features = encoder(image, spec, sync_bn=sync_bn)
    logits = seg_head(features, spec.head, num_classes, dropout, name="head", sync_bn=sync_bn)
    logits = upsampled_logits(logits, image, resize_name="seg", name="seg_logits")
    name = name or f"pspnet_{preset}"
    if not aux:
        return keras.Model(image, logits, name=name)
    aux_logits = seg_head(c4, spec.aux_head, num_classes, dropout, name="aux", sync_bn=sync_bn)
    aux_logits = upsampled_logits(aux_logits, image, resize_name="aux_up", name="aux_logits")
    return keras.Model(image, {"seg": logits, "aux": aux_logits}, name=name)


def inference_model(model: keras.Model) -> keras.Model:
    """The single-output model (main logits) sharing ``model``'s layers; identity if it has one output."""
    if isinstance(model.output, dict):
        return keras.Model(model.input, model.output["seg"], name=model.name)
    return model


def save_model(model: keras.Model, path: str | Path, record: dict[str, Any] | None = None) -> None:
    """Save the inference model (main logits only) as ``.keras``, atomically and byte-reproducibly, with its
    training ``record`` (:func:`srseg.io.save_keras`)."""
    save_keras(inference_model(model), path, record)


def load_model(path: str | Path, num_classes: int | None = 19) -> keras.Model:
    """Load a PSPNet ``.keras`` file; SrsegError (one line) if unreadable or for another class count."""
    path = Path(path)
    if not path.is_file():
        raise SrsegError(f"{path}: segmentation model not found")
    # the joint models' own layers (their learned upsampling, the SR head) register on import; a PSPNet needs none
    from srseg.models import joint  # noqa: F401

    try:
        model = keras.models.load_model(path, compile=False)
    except Exception as exc:  # Keras raises many types for a bad archive
        msg = first_line(exc)[:200]
        raise SrsegError(f"{path}: cannot load segmentation model ({type(exc).__name__}: {msg})") from None
    model = inference_model(model)
    shape = model.output_shape
    if not (isinstance(shape, tuple) and len(shape) == 4):
        raise SrsegError(f"{path}: not a segmentation model (output shape {shape}, expected (N, H, W, classes))")
    if num_classes is not None and shape[-1] != num_classes:
        raise SrsegError(f"{path}: model predicts {shape[-1]} classes, expected {num_classes} (Cityscapes trainIds)")
    if model.input_shape[-1] != 3:
        raise SrsegError(f"{path}: model takes {model.input_shape[-1]}-channel input, expected RGB")
    return model


def init_from(model: keras.Model, path: str | Path) -> list[str]:
    """Start ``model`` (a PSPNet or the joint model, in training form) from the PSPNet saved at ``path``.

    Every layer of the saved model gives its weights (BN statistics included) to ``model``'s layer of the same
    name; the joint model's segmentation path has PSPNet's names. Returns the names of ``model``'s layers with
    weights that the file does not hold, left as initialised (the auxiliary head, which saved models drop; the
    joint model's SR branch). SrsegError naming the file when ``model`` lacks one of its layers or shapes it
    differently (a model of another ``seg.preset``).
    """
    source = load_model(path, num_classes=None)
    targets = {layer.name: layer for layer in model.layers}
    for layer in source.layers:
        weights = layer.get_weights()
        if not weights:
            continue
        target = targets.get(layer.name)
        shapes = [w.shape for w in weights]
        if target is None or [tuple(v.shape) for v in target.weights] != shapes:
            where = "has no such layer" if target is None else f"shapes it {[tuple(v.shape) for v in target.weights]}"
            raise SrsegError(f"{path}: cannot start {model.name} from it: its layer {layer.name} has weights "
                             f"{shapes} and {model.name} {where} (another seg.preset or class count?)")
        target.set_weights(weights)
    held = {layer.name for layer in source.layers}
    return [layer.name for layer in model.layers if layer.weights and layer.name not in held]

