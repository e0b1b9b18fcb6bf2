"""DCSCN super-resolution network (Yamanaka, Kuwashima & Kurita 2017, reference code "ver2") in Keras 3.

Y channel in, Y channel out, values on the 0..255 scale as the authors trained.  The graph reads top to
bottom like Fig. 1 of the paper (and ``DCSCN.build_graph`` of jiny2001/dcscn-super-resolution)::

    lr (h, w, 1)
      │ Feature extraction net: L × [3×3 conv + bias → PReLU → dropout]
      │   filters of layer i: int((F − Fmin)·(1 − (i/(L−1))^(1/γ)) + Fmin)
      │ concat of all L feature outputs (the skip connections)
      │ Reconstruction net ("network in network"):
      │   A1 = 1×1 conv → PReLU        B1 = 1×1 conv → PReLU → B2 = 3×3 conv → PReLU
      │   concat([B2, A1])
      │ Up-sampling: pixel shuffler (3×3 conv to s² channels + depth_to_space; ×4 = two ×2 stages)
      │              or a transposed convolution (``upsampler="transposed"``)
      │ R-CNN1: 3×3 conv to 1 channel, no bias
      + bicubic (h·s, w·s, 1)  — global skip: the model learns the residual over bicubic
      = output (h·s, w·s, 1)

Global skip decision: the bicubic ×s image is a **second model input**, computed outside the model with
Pillow's bicubic on float Y (``srseg.degrade.upscale_float``) exactly as the authors fed ``x2``.  Two
reasons: (1) the released weights were trained against Pillow's bicubic, whose border handling differs
from ``tf.image.resize``; (2) tiled inference can crop the skip from the *whole-image* bicubic, so tiles
need no extra overlap for the skip and tiled output equals whole-image output.

Dropout follows the reference code: after every feature layer and after A1, B1 and B2 (active only in
training).  L2 weight decay (``l2``) is on every convolution kernel, as ``l2 · Σ tf.nn.l2_loss(W)``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any, Protocol

import keras
import numpy as np
from keras import layers

from srseg.errors import SrsegError, first_line
from srseg.runtime import float32_dtype


class ModelError(SrsegError):
    """A model or checkpoint cannot be built, loaded or used as asked."""


PRESETS: dict[str, dict[str, Any]] = {
    # ver2 defaults of the reference code (helper/args.py)
    "dcscn": dict(layers=12, filters=196, min_filters=48, gamma=1.5, nin_a=64, nin_b=32),
    # the compact model whose checkpoints the authors released (dcscn_L7_F32to8_G1.20_NIN_A24_B8_PS_R1F32)
    "c-dcscn": dict(layers=7, filters=32, min_filters=8, gamma=1.2, nin_a=24, nin_b=8),
}
UPSAMPLERS = ("pixel_shuffle", "transposed")


def preset_sizes(preset: str) -> dict[str, Any]:
    """The architecture sizes of a preset; ModelError naming the allowed presets for an unknown one."""
    if preset not in PRESETS:
        raise ModelError(f"unknown DCSCN preset {preset!r} (allowed: {', '.join(PRESETS)})")
    return PRESETS[preset]


@dataclass(frozen=True)
class DcscnConfig:
    """Every architecture hyper-parameter of a DCSCN model (stored inside saved models)."""

    scale: int
    layers: int = 7
    filters: int = 32
    min_filters: int = 8
    gamma: float = 1.2
    nin_a: int = 24
    nin_b: int = 8
    upsampler: str = "pixel_shuffle"
    dropout_keep: float = 0.8
    l2: float = 0.0
    preset: str | None = None

    def __post_init__(self) -> None:
        if self.scale < 2:
            raise ModelError(f"DCSCN scale must be >= 2, got {self.scale}")
        if self.upsampler not in UPSAMPLERS:
            raise ModelError(f"unknown upsampler {self.upsampler!r} (allowed: {', '.join(UPSAMPLERS)})")
        if self.upsampler == "pixel_shuffle" and self.scale not in (2, 3, 4):
            raise ModelError(f"the pixel shuffler supports scales 2, 3 and 4, got {self.scale}")
        if self.layers < 2 or self.filters < 1 or self.min_filters < 1 or self.nin_a < 1 or self.nin_b < 1:
            raise ModelError(f"invalid DCSCN sizes: {self}")
        if not 0 < self.dropout_keep <= 1:
            raise ModelError(f"dropout_keep must be in (0, 1], got {self.dropout_keep}")

    @classmethod
    def from_preset(cls, preset: str, scale: int, **overrides: Any) -> DcscnConfig:
        """The ``dcscn`` / ``c-dcscn`` architecture at ``scale`` (training options as keyword overrides)."""
        return cls(scale=scale, preset=preset, **{**preset_sizes(preset), **overrides})

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> DcscnConfig:
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def same_architecture(self, other: DcscnConfig) -> bool:
        """True when both have the same weights' shapes (training options and preset name ignored)."""
        keys = ("scale", "layers", "filters", "min_filters", "nin_a", "nin_b", "upsampler")
        return (all(getattr(self, k) == getattr(other, k) for k in keys)
                and self.feature_filters() == other.feature_filters())

    # --- derived sizes -------------------------------------------------------------------------
    def feature_filters(self) -> list[int]:
        """Filters of each feature-extraction layer, decaying from ``filters`` to ``min_filters``."""
        return feature_filters(self.layers, self.filters, self.min_filters, self.gamma)

    @property
    def nin_channels(self) -> int:
        """Channels entering the up-sampler: concat([B2, A1])."""
        return self.nin_a + self.nin_b

    @property
    def name(self) -> str:
        """A model name in the style of the authors' checkpoint names."""
        name = f"dcscn_L{self.layers}_F{self.filters}to{self.min_filters}_G{self.gamma:.2f}_A{self.nin_a}_B{self.nin_b}"
        return name + ("_PS" if self.upsampler == "pixel_shuffle" else "_TCNN") + f"_x{self.scale}"

    def receptive_radius(self) -> int:
        """LR pixels on each side that influence one output pixel (tiles need at least this overlap).

        Feature layers: 1 each (3×3); A1/B1 are 1×1; B2: 1.  Up-sampler, in LR pixels: the pixel
        shuffler's 3×3 conv on the LR grid adds 1, and the 3×3 convs at the sub-pixel grids (×4's second
        shuffler stage and R-CNN1) reach at most 1 LR pixel further together; a transposed conv with kernel
        2s − s%2 followed by R-CNN1 reaches at most 2 LR pixels, +1 margin.
        """
        return self.layers + 1 + (2 if self.upsampler == "pixel_shuffle" else 3)


def feature_filters(layers: int, filters: int, min_filters: int, gamma: float) -> list[int]:
    """``int((F − Fmin)·(1 − (i/(L−1))^(1/γ)) + Fmin)`` for i = 0..L−1 (32 26 22 18 14 11 8 for c-DCSCN)."""
    min_filters = min(filters, min_filters)
    return [int((filters - min_filters) * (1 - (i / (layers - 1)) ** (1.0 / gamma)) + min_filters)
            for i in range(layers)]


# --- custom layers (registered, so .keras files load without custom_objects) ------------------------

@keras.saving.register_keras_serializable(package="srseg")
class PixelShuffle(layers.Layer):
    """depth_to_space: (h, w, C·r²) → (h·r, w·r, C), the TensorFlow channel order the authors used."""

    def __init__(self, block_size: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.block_size = int(block_size)

    def call(self, x: Any) -> Any:
        return keras.ops.depth_to_space(x, self.block_size)

    def compute_output_shape(self, shape: tuple) -> tuple:
        r = self.block_size
        mul = lambda d: None if d is None else d * r  # noqa: E731
        return (shape[0], mul(shape[1]), mul(shape[2]), shape[3] // (r * r))

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "block_size": self.block_size}


@keras.saving.register_keras_serializable(package="srseg")
class GlobalSkip(layers.Layer):
    """Adds the bicubic ×s input to the reconstructed residual; its config carries the architecture.

    Always float32, whatever the Keras policy: under ``mixed_bfloat16`` / ``mixed_float16`` the float32 bicubic
    input keeps its precision (bfloat16 spaces 0..255 values up to 1 apart) and the model's output is float32.
    """

    def __init__(self, arch: dict[str, Any], **kwargs: Any) -> None:
        kwargs.setdefault("dtype", float32_dtype())
        super().__init__(**kwargs)
        self.arch = dict(arch)

    def call(self, inputs: list[Any]) -> Any:
        residual, bicubic = inputs
        return residual + bicubic

    def compute_output_shape(self, shapes: list[tuple]) -> tuple:
        return shapes[1]

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "arch": self.arch}


def bilinear_upsample_kernel(scale: int, channels: int) -> np.ndarray:
    """The reference code's transposed-conv initialiser: a bilinear kernel per channel (k = 2s − s%2)."""
    size = 2 * scale - scale % 2
    factor = (size + 1) // 2
    center = factor - 1 if size % 2 == 1 else factor - 0.5
    og = np.ogrid[:size, :size]
    filt = (1 - abs(og[0] - center) / factor) * (1 - abs(og[1] - center) / factor)
    kernel = np.zeros((size, size, channels, channels), dtype=np.float32)
    for c in range(channels):
        kernel[:, :, c, c] = filt
    return kernel


# --- the network -------------------------------------------------------------------------------------

class Conditioning(Protocol):
    """How a conditioned variant changes the feature extractor (implemented in :mod:`srseg.models.sft_dcscn`).

    Every other layer, and every layer name, stays that of the plain DCSCN.
    """

    inputs: list[Any]  # extra named inputs, after ``lr`` and ``bicubic``
    arch: dict[str, Any]  # kept under ``"condition"`` in the architecture the GlobalSkip layer carries

    def feature_input(self, lr: Any) -> Any:
        """The tensor the first feature conv (``cnn1``) convolves."""

    def modulate(self, index: int, x: Any) -> Any:
        """Feature conv ``cnn{index}``'s output, before its PReLU, as the rest of the network sees it."""


def kernel_regularizer(cfg: DcscnConfig) -> keras.regularizers.Regularizer | None:
    """``l2 · Σ‖W‖²/2`` per kernel, the reference code's ``l2 · Σ tf.nn.l2_loss(W)``; None without decay."""
    return keras.regularizers.L2(cfg.l2 / 2) if cfg.l2 > 0 else None


def build_dcscn(cfg: DcscnConfig, conditioning: Conditioning | None = None) -> keras.Model:
    """The DCSCN graph for ``cfg``: inputs ``[lr, bicubic]`` (N, h, w, 1) / (N, h·s, w·s, 1), output (N, h·s, w·s, 1).

    Weights are He-initialised (biases 0, PReLU alphas 0.1); seed via ``keras.utils.set_random_seed``.
    ``conditioning`` (for :func:`srseg.models.sft_dcscn.build_conditioned_dcscn`) adds inputs and changes the
    feature extractor; without it the graph is the plain DCSCN.
    """
    reg = kernel_regularizer(cfg)
    drop = 1.0 - cfg.dropout_keep

    def conv(x: Any, filters: int, size: int, name: str, bias: bool = True) -> Any:
        return layers.Conv2D(filters, size, padding="same", use_bias=bias, kernel_initializer="he_normal",
                             kernel_regularizer=reg, name=name)(x)

    def conv_prelu_dropout(x: Any, filters: int, size: int, name: str, index: int | None = None) -> Any:
        x = conv(x, filters, size, name)
        if conditioning is not None and index is not None:
            x = conditioning.modulate(index, x)
        x = layers.PReLU(alpha_initializer=keras.initializers.Constant(0.1), shared_axes=[1, 2],
                         name=f"{name}_prelu")(x)
        if drop > 0:
            x = layers.Dropout(drop, name=f"{name}_dropout")(x)
        return x

    lr = keras.Input((None, None, 1), name="lr")
    bicubic = keras.Input((None, None, 1), name="bicubic")

    # Feature extraction network
    features, x = [], lr if conditioning is None else conditioning.feature_input(lr)
    for i, n in enumerate(cfg.feature_filters(), start=1):
        x = conv_prelu_dropout(x, n, 3, f"cnn{i}", index=i)
        features.append(x)
    h = layers.Concatenate(name="features")(features)

    # Reconstruction network (network in network)
    a1 = conv_prelu_dropout(h, cfg.nin_a, 1, "a1")
    b1 = conv_prelu_dropout(h, cfg.nin_b, 1, "b1")
    b2 = conv_prelu_dropout(b1, cfg.nin_b, 3, "b2")
    x = layers.Concatenate(name="nin")([b2, a1])

    # Up-sampling
    c = cfg.nin_channels
    if cfg.upsampler == "pixel_shuffle":
        if cfg.scale == 4:
            x = PixelShuffle(2, name="up_ps")(conv(x, 4 * c, 3, "up_ps_conv"))
            x = PixelShuffle(2, name="up_ps2")(conv(x, 4, 3, "up_ps2_conv"))
        else:
            x = PixelShuffle(cfg.scale, name="up_ps")(conv(x, cfg.scale**2, 3, "up_ps_conv"))
    else:
        k = 2 * cfg.scale - cfg.scale % 2
        x = layers.Conv2DTranspose(
            c, k, strides=cfg.scale, padding="same", use_bias=False, kernel_regularizer=reg, name="up_tconv",
            kernel_initializer=keras.initializers.Constant(bilinear_upsample_kernel(cfg.scale, c)),
        )(x)

    # Reconstruction conv, then the global skip
    residual = conv(x, 1, 3, "r_cnn1", bias=False)
    arch, extra = (cfg.to_dict(), []) if conditioning is None else \
        ({**cfg.to_dict(), "condition": conditioning.arch}, conditioning.inputs)
    out = GlobalSkip(arch, name="global_skip")([residual, bicubic])
    return keras.Model([lr, bicubic, *extra], out, name=cfg.name.replace(".", "_"))


def model_config(model: keras.Model) -> DcscnConfig:
    """The architecture a model was built with (raises ModelError for a model that is not a DCSCN)."""
    try:
        layer = model.get_layer("global_skip")
    except ValueError:
        raise ModelError(f"model {model.name!r} is not an srseg DCSCN model (no global_skip layer)") from None
    return DcscnConfig.from_dict(layer.arch)


def load_model(path: Any) -> keras.Model:
    """Load a saved ``.keras`` DCSCN model (one clear error when missing or not a DCSCN model)."""
    from pathlib import Path

    path = Path(path)
    if not path.is_file():
        raise ModelError(f"{path}: model file not found")
    try:
        model = keras.saving.load_model(path, compile=False)
    except Exception as exc:  # keras raises many types for bad archives
        raise ModelError(f"{path}: cannot load model ({first_line(exc)})") from None
    model_config(model)
    return model

