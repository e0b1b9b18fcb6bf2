"""DCSCN conditioned on segmentation maps: SFT layers (Wang, Yu, Dong & Loy, CVPR 2018) or extra input channels.

Research task 3 of the 2019 study turns the chain around: give the SR network the segmentation as well
("adopt the SR to work on 4 channel (RGB+label)").  Two ways, both on top of the unchanged DCSCN graph of
:mod:`srseg.models.dcscn` (every shared layer keeps its plain-DCSCN name, so plain weights transfer by name):

``mode="concat"`` — the "extra input channels" wording: ``cond`` is concatenated with ``lr`` and ``cnn1``
convolves all ``1 + C`` channels.

``mode="sft"`` — Spatial Feature Transform (SFT-GAN §3.1): a condition network maps the prior Ψ (here the
per-pixel class probabilities) to a modulation pair (γ, β) per SFT layer, and the layer computes
``SFT(F | γ, β) = F ⊙ (1 + γ) + β``.  The paper writes ``γ ⊙ F + β``; as in the authors' PyTorch code γ is
an offset from 1, so that γ = β = 0 is the identity.  The graph, after SFT-GAN §3.2::

    cond (h, w, C) ─ condition network: depth × [1×1 conv (hidden) → LeakyReLU 0.1] → 1×1 conv (features)
                       │ shared by all SFT layers
                       ├─ per SFT layer i: 1×1 conv (features) → LeakyReLU 0.1 → 1×1 conv (n_i) = γ_i
                       └─                  1×1 conv (features) → LeakyReLU 0.1 → 1×1 conv (n_i) = β_i
    lr ─ cnn_i conv (n_i filters) → SFT_i(·| γ_i, β_i) → PReLU → dropout  (i in ``sft_layers``, default all)

The SFT sits where a normalisation's affine would, between the conv and its activation (as in the authors'
Torch model, ``ReLU(SFT(F))``); its output reaches both the next feature layer and the skip concatenation.

Identity start: the γ and β output convs are zero-initialised (kernel and bias), so a freshly built SFT
model computes the plain DCSCN for any ``cond``; in concat mode :func:`transfer_dcscn_weights` writes zeros
into ``cnn1``'s condition slices (a fresh concat model is He-initialised over all ``1 + C`` channels).

Receptive radius: the condition path has only 1×1 convolutions and point-wise SFT, and in concat mode
``cond`` enters ``cnn1`` exactly where ``lr`` does, so a condition pixel reaches no further than an LR
pixel: ``DcscnConfig.receptive_radius()`` (the tiling overlap) holds unchanged for conditioned models.
1×1 kernels are also SFT-GAN's choice, to keep categorical regions from influencing each other (§3.2).

Condition-network sizes: SFT-GAN modulates 64 feature channels from 8 classes with 4 hidden 1×1 layers of
128 and a 32-channel shared output.  c-DCSCN's feature layers have 32…8 channels (21 k of its 64 k weights
at ×4), so the defaults here are 2 hidden layers of 32 and a 16-channel shared output, keeping SFT-GAN's
ratio of shared output to the widest modulated layer (32/64 there, 16/32 here).  With SFT on all 7 feature
layers that adds 10.5 k weights to c-DCSCN ×4 (+16 %): 2.2 k in the shared network, 8.3 k in the per-layer
γ/β convs (544 per layer + 34 per modulated channel).  Concat mode adds only ``cnn1``'s 9·C·32 weights.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import keras
import numpy as np
from keras import layers

from srseg.models.dcscn import DcscnConfig, ModelError, build_dcscn, kernel_regularizer, load_model, model_config

MODES = ("sft", "concat")
LEAKY_SLOPE = 0.1  # SFT-GAN's LeakyReLU slope in the condition network and the SFT layers


@dataclass(frozen=True)
class ConditionConfig:
    """How a DCSCN is conditioned (stored in saved models next to the DCSCN architecture).

    ``hidden``, ``depth``, ``features`` and ``sft_layers`` size the SFT condition path (unused in concat mode);
    ``sft_layers`` are 1-based feature-layer indices, None for every feature layer.
    """

    mode: str = "sft"
    channels: int = 19
    hidden: int = 32
    depth: int = 2
    features: int = 16
    sft_layers: tuple[int, ...] | None = None

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ModelError(f"unknown conditioning mode {self.mode!r} (allowed: {', '.join(MODES)})")
        if self.channels < 1 or self.hidden < 1 or self.depth < 0 or self.features < 1:
            raise ModelError(f"invalid condition-network sizes: {self}")
        if self.sft_layers is not None:
            object.__setattr__(self, "sft_layers", tuple(int(i) for i in self.sft_layers))
            if not self.sft_layers or len(set(self.sft_layers)) != len(self.sft_layers):
                raise ModelError(f"sft_layers must be distinct feature-layer indices, got {list(self.sft_layers)}")

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ConditionConfig:
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["sft_layers"] = None if self.sft_layers is None else list(self.sft_layers)  # JSON: a list, not a tuple
        return d

    def modulated(self, layers_: int) -> tuple[int, ...]:
        """The feature layers (1-based) that get an SFT layer in a DCSCN of ``layers_`` feature layers."""
        if self.mode != "sft":
            return ()
        chosen = tuple(range(1, layers_ + 1)) if self.sft_layers is None else self.sft_layers
        if not all(1 <= i <= layers_ for i in chosen):
            raise ModelError(f"sft_layers {list(chosen)} outside the feature layers 1..{layers_}")
        return chosen


# --- the SFT layer (registered, so .keras files load without custom_objects) ------------------------

@keras.saving.register_keras_serializable(package="srseg")
class SpatialFeatureTransform(layers.Layer):
    """``[F, γ, β] → F ⊙ (1 + γ) + β``: SFT-GAN §3.1, γ an offset from 1 so that γ = β = 0 is the identity."""

    def call(self, inputs: list[Any]) -> Any:
        features, gamma, beta = inputs
        return features * (1.0 + gamma) + beta

    def compute_output_shape(self, shapes: list[tuple]) -> tuple:
        return shapes[0]


class _Conditioner:
    """The :class:`srseg.models.dcscn.Conditioning` of a conditioned DCSCN: the ``cond`` input and its path."""

    def __init__(self, cfg: DcscnConfig, cc: ConditionConfig) -> None:
        self.cc = cc
        self.cond = keras.Input((None, None, cc.channels), name="cond")
        self.inputs = [self.cond]
        self.arch = cc.to_dict()
        self._modulated = set(cc.modulated(cfg.layers))
        self._reg = kernel_regularizer(cfg)
        self._shared: Any = None

    def _conv1x1(self, x: Any, filters: int, name: str, zero: bool = False) -> Any:
        return layers.Conv2D(filters, 1, kernel_initializer="zeros" if zero else "he_normal",
                             bias_initializer="zeros", kernel_regularizer=self._reg, name=name)(x)

    def _conv1x1_leaky(self, x: Any, filters: int, name: str) -> Any:
        return layers.LeakyReLU(negative_slope=LEAKY_SLOPE, name=f"{name}_lrelu")(self._conv1x1(x, filters, name))

    def feature_input(self, lr: Any) -> Any:
        return layers.Concatenate(name="cond_concat")([lr, self.cond]) if self.cc.mode == "concat" else lr

    def _condition_features(self) -> Any:
        """The shared condition network, built at the first SFT layer (so layers are made in graph order)."""
        if self._shared is None:
            x = self.cond
            for k in range(1, self.cc.depth + 1):
                x = self._conv1x1_leaky(x, self.cc.hidden, f"cond_conv{k}")
            self._shared = self._conv1x1(x, self.cc.features, "cond_out")
        return self._shared

    def modulate(self, index: int, x: Any) -> Any:
        if index not in self._modulated:
            return x
        shared = self._condition_features()
        gamma, beta = (
            self._conv1x1(self._conv1x1_leaky(shared, self.cc.features, f"sft{index}_{kind}_conv"),
                          x.shape[-1], f"sft{index}_{kind}", zero=True)
            for kind in ("gamma", "beta")
        )
        return SpatialFeatureTransform(name=f"sft{index}")([x, gamma, beta])


# --- building, reading back, loading ------------------------------------------------------------------

def build_conditioned_dcscn(cfg: DcscnConfig, cond_channels: int = 19, mode: str = "sft", *, hidden: int = 32,
                            depth: int = 2, features: int = 16,
                            sft_layers: tuple[int, ...] | None = None) -> keras.Model:
    """A DCSCN with named inputs ``lr`` (N, h, w, 1), ``bicubic`` (N, h·s, w·s, 1) and ``cond`` (N, h, w, C).

    ``cond`` holds condition maps on the LR grid (class probabilities or one-hot labels).  At build time an SFT
    model equals a plain DCSCN for any ``cond`` (zero γ/β convs); start from trained plain weights with
    :func:`transfer_dcscn_weights`.  Seed via ``keras.utils.set_random_seed``.
    """
    cc = ConditionConfig(mode=mode, channels=cond_channels, hidden=hidden, depth=depth, features=features,
                         sft_layers=sft_layers)
    return build_dcscn(cfg, _Conditioner(cfg, cc))


def _condition_arch(model: keras.Model) -> dict[str, Any] | None:
    model_config(model)  # ModelError for a model that is not a DCSCN
    return model.get_layer("global_skip").arch.get("condition")


def is_conditioned(model: keras.Model) -> bool:
    """True for a conditioned DCSCN, False for a plain one (ModelError for a model that is neither)."""
    return _condition_arch(model) is not None


def conditioned_config(model: keras.Model) -> ConditionConfig:
    """How ``model`` is conditioned (ModelError for a plain DCSCN or a model that is not a DCSCN)."""
    arch = _condition_arch(model)
    if arch is None:
        raise ModelError(f"model {model.name!r} is a plain DCSCN, not a conditioned one (it has no cond input)")
    return ConditionConfig.from_dict(arch)


def condition_layers(model: keras.Model) -> list[keras.layers.Layer]:
    """The weighted layers a conditioned model adds to the plain DCSCN (condition network, γ/β convs)."""
    conditioned_config(model)
    return [layer for layer in model.layers if layer.weights and layer.name.startswith(("cond_", "sft"))]


def load_conditioned(path: str | Path) -> keras.Model:
    """Load a saved conditioned DCSCN (one ModelError for a missing file, a non-DCSCN or a plain DCSCN)."""
    model = load_model(path)
    if not is_conditioned(model):
        raise ModelError(f"{path}: a plain DCSCN model, not a conditioned one (it has no cond input)")
    cc = conditioned_config(model)
    got = [int(t.shape[-1]) for t in model.inputs if t.name == "cond"]
    if got != [cc.channels]:
        raise ModelError(f"{path}: its cond input does not match its stored architecture ({cc.channels} channels)")
    return model


# --- weights and inputs -----------------------------------------------------------------------------------

def transfer_dcscn_weights(plain: keras.Model, conditioned: keras.Model) -> None:
    """Copy every weight of a plain DCSCN into the same-named layer of a conditioned one (ModelError on mismatch).

    In concat mode ``cnn1``'s kernel goes to the ``lr`` input channel and the condition channels get zeros, so
    the conditioned model then computes the plain one for any ``cond`` (as an SFT model with zero γ/β convs).
    Nothing is written unless every layer fits.
    """
    if is_conditioned(plain):
        raise ModelError(f"transfer source {plain.name!r} must be a plain DCSCN, not a conditioned one")
    cc = conditioned_config(conditioned)
    src, dst = model_config(plain), model_config(conditioned)
    if not src.same_architecture(dst):
        raise ModelError(f"cannot transfer DCSCN weights: plain model {src.name} and conditioned model {dst.name} "
                         "differ in architecture")
    plan = []
    for layer in plain.layers:
        weights = layer.get_weights()
        if not weights:
            continue
        try:
            target = conditioned.get_layer(layer.name)
        except ValueError:
            raise ModelError(f"cannot transfer DCSCN weights: conditioned model has no layer {layer.name!r}") from None
        if cc.mode == "concat" and layer.name == "cnn1":
            kernel = np.zeros(target.kernel.shape, np.float32)
            kernel[:, :, :1, :] = weights[0]
            weights = [kernel, *weights[1:]]
        want = [tuple(w.shape) for w in target.get_weights()]
        if [w.shape for w in weights] != want:
            raise ModelError(f"cannot transfer DCSCN weights: layer {layer.name!r} has shapes "
                             f"{[w.shape for w in weights]} in the plain model, {want} in the conditioned one")
        plan.append((target, weights))
    for target, weights in plan:
        target.set_weights(weights)


def check_condition(model: keras.Model, lr: np.ndarray, cond: np.ndarray) -> None:
    """ModelError unless ``cond`` fits ``model`` and ``lr``: shape (N, h, w, C) for lr (N, h, w, 1), finite.

    Unbatched planes are accepted too: lr (h, w) or (h, w, 1) with cond (h, w, C).
    """
    cc = conditioned_config(model)
    lr_shape, cond_shape = np.shape(lr), np.shape(cond)
    want: tuple[int, ...]
    if len(lr_shape) == 2 or (len(lr_shape) == 3 and lr_shape[-1] == 1):
        want = (*lr_shape[:2], cc.channels)
    elif len(lr_shape) == 4 and lr_shape[-1] == 1:
        want = (*lr_shape[:3], cc.channels)
    else:
        raise ModelError(f"LR input of shape {lr_shape} is not a luma plane (h, w[, 1]) or batch (N, h, w, 1)")
    if cond_shape != want:
        raise ModelError(f"condition maps of shape {cond_shape} do not fit LR input {lr_shape}: expected {want} "
                         f"({cc.channels} class maps on the LR grid)")
    if not np.isfinite(cond).all():
        raise ModelError("condition maps contain NaN or infinite values")
