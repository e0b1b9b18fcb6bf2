"""The DCSCN authors' released TensorFlow checkpoints: find, download, read, and import into Keras.

The reference code names checkpoints after their architecture, e.g.
``dcscn_L7_F32to8_G1.20_Sc3_NIN_A24_B8_PS_R1F32.ckpt`` (7 layers, 32 → 8 filters, gamma 1.2, ×3, NIN with
A1 = 24 and B = 8, pixel shuffler); ×2 has no ``_Sc`` part.  The architecture is read from the variables'
shapes (the name is only used to pick the file for a scale), so any ver2 checkpoint with a network-in-network
reconstruction and a 1-channel shuffler output imports.

Variable ↔ layer map (TF scope → Keras layer):
``CNN{i}/conv_W, conv_B, prelu/CNN{i}_prelu`` → ``cnn{i}``, ``cnn{i}_prelu``; likewise ``A1``, ``B1``, ``B2``;
``Up-PS/Up-PS_CNN/conv_{W,B}`` → ``up_ps_conv`` (``Up-PS2`` → ``up_ps2_conv`` at ×4);
``Up-TCNN/Tconv_W`` → ``up_tconv``; ``R-CNN1/conv_W`` → ``r_cnn1``.  Adam slots are ignored.
"""

from __future__ import annotations

import logging
import math
import re
from pathlib import Path
from typing import Any

import numpy as np

from srseg.errors import SrsegError, first_line
from srseg.models.dcscn import (
    PRESETS,
    DcscnConfig,
    ModelError,
    build_dcscn,
    feature_filters,
    model_config,
    preset_sizes,
)

log = logging.getLogger(__name__)

RELEASE_URL = "https://raw.githubusercontent.com/jiny2001/dcscn-super-resolution/master/models/"
SUFFIXES = (".ckpt.index", ".ckpt.data-00000-of-00001")
# Checksums of the released c-DCSCN files (as in ../shared/data/dcscn-weights); others are fetched unverified.
RELEASE_SHA256 = {
    "dcscn_L7_F32to8_G1.20_NIN_A24_B8_PS_R1F32.ckpt.index":
        "f834fdc2411a6e47ffd647267ac2d90f47c459c746e8abda477741ce991719af",
    "dcscn_L7_F32to8_G1.20_NIN_A24_B8_PS_R1F32.ckpt.data-00000-of-00001":
        "59adb10ce55d8be27f9ca57975174fa7e7b6f5df3cef7698bcc70f22a09f3045",
    "dcscn_L7_F32to8_G1.20_Sc3_NIN_A24_B8_PS_R1F32.ckpt.index":
        "e95e6b541483f8071e716b44a77e1181ce314cfcac838dc9614ea68ab1c8f186",
    "dcscn_L7_F32to8_G1.20_Sc3_NIN_A24_B8_PS_R1F32.ckpt.data-00000-of-00001":
        "3400c9a3cf15236211273eec5f661938bd1325529e9e12367b700c2ce85b2397",
    "dcscn_L7_F32to8_G1.20_Sc4_NIN_A24_B8_PS_R1F32.ckpt.index":
        "73d4cf7f77734905514ea8a2e3cc97e26afde17305a519fa59964e715eb43f91",
    "dcscn_L7_F32to8_G1.20_Sc4_NIN_A24_B8_PS_R1F32.ckpt.data-00000-of-00001":
        "fe5f862919bbede44336b6f35039577a24bf63666a88315413e8e52a74cdfc6b",
}


class CheckpointError(ModelError):
    """A checkpoint is missing, unreadable, for another scale, or does not fit the model."""


# --- names -------------------------------------------------------------------------------------------

def release_name(preset: str, scale: int) -> str:
    """The authors' checkpoint prefix (file name without ``.ckpt.*``) of a preset at a scale."""
    p = preset_sizes(preset)
    name = f"dcscn_L{p['layers']}_F{p['filters']}to{p['min_filters']}"
    if p["gamma"] != 1.5:
        name += f"_G{p['gamma']:2.2f}"
    if scale != 2:
        name += f"_Sc{scale}"
    name += f"_NIN_A{p['nin_a']}"
    if p["nin_b"] != p["nin_a"] // 2:
        name += f"_B{p['nin_b']}"
    return name + "_PS_R1F32"


def scale_from_name(prefix: str | Path) -> int | None:
    """The scale encoded in a checkpoint name (``_Sc3_`` → 3; a ``dcscn_`` name without it → 2)."""
    name = Path(prefix).name
    m = re.search(r"_Sc(\d+)(?:_|\.|$)", name)
    if m:
        return int(m.group(1))
    return 2 if name.startswith("dcscn_") else None


def _strip(path: Path) -> Path:
    """A checkpoint prefix from a prefix or from one of its files."""
    name = path.name
    for suffix in (".index", ".data-00000-of-00001", ".meta"):
        if name.endswith(suffix):
            return path.with_name(name[: -len(suffix)])
    return path


def resolve_checkpoint(path: str | Path, scale: int) -> Path:
    """The checkpoint prefix for ``scale`` from a folder of checkpoints, a prefix, or one of its files."""
    path = Path(path)
    if path.is_dir():
        prefixes = sorted(_strip(p) for p in path.glob("*.index"))
        if not prefixes:
            raise CheckpointError(f"{path}: no TensorFlow checkpoints (*.index) in this folder")
        matches = [p for p in prefixes if scale_from_name(p) == scale]
        if not matches:
            found = (", ".join(f"x{scale_from_name(p)}" for p in prefixes if scale_from_name(p))
                     or "none with a known scale")
            raise CheckpointError(f"{path}: no DCSCN checkpoint for x{scale} (found {found})")
        if len(matches) > 1:
            # Prefer a released preset's name; otherwise the caller must say which one.
            preferred = [p for p in matches if p.name in {release_name(k, scale) + ".ckpt" for k in PRESETS}]
            if len(preferred) != 1:
                raise CheckpointError(
                    f"{path}: several x{scale} checkpoints ({', '.join(p.name for p in matches)}); give the prefix"
                )
            matches = preferred
        return matches[0]
    prefix = _strip(path)
    if not Path(str(prefix) + ".index").is_file():
        raise CheckpointError(f"{path}: checkpoint not found (expected {prefix}.index and its .data file)")
    return prefix


# --- reading -----------------------------------------------------------------------------------------

def read_variables(prefix: str | Path) -> dict[str, np.ndarray]:
    """The model variables of a TF checkpoint (optimizer slots and counters dropped)."""
    import tensorflow as tf

    prefix = Path(prefix)
    try:
        reader = tf.train.load_checkpoint(str(prefix))
        names = reader.get_variable_to_shape_map()
        out = {
            n: np.asarray(reader.get_tensor(n), dtype=np.float32)
            for n in names
            if not re.search(r"/Adam(_\d+)?$", n) and not n.startswith("beta") and n != "global_step"
        }
    except Exception as exc:  # tf raises NotFoundError/DataLossError/... for bad files
        raise CheckpointError(f"{prefix}: cannot read checkpoint ({first_line(exc)})") from None
    if not out:
        raise CheckpointError(f"{prefix}: checkpoint has no variables")
    return out


def _scale_from_shapes(v: dict[str, np.ndarray]) -> tuple[int, str]:
    if "Up-PS/Up-PS_CNN/conv_W" in v:
        if "Up-PS2/Up-PS2_CNN/conv_W" in v:
            return 4, "pixel_shuffle"
        n = v["Up-PS/Up-PS_CNN/conv_W"].shape[-1]
        s = math.isqrt(n)
        if s * s != n:
            raise CheckpointError(f"pixel shuffler with {n} output channels is not a 1-channel shuffler")
        return s, "pixel_shuffle"
    if "Up-TCNN/Tconv_W" in v:
        k = v["Up-TCNN/Tconv_W"].shape[0]
        for s in range(2, 9):
            if 2 * s - s % 2 == k:
                return s, "transposed"
    raise CheckpointError("no Up-PS or Up-TCNN up-sampling layer in the checkpoint")


def config_from_variables(v: dict[str, np.ndarray], prefix: str | Path = "checkpoint") -> DcscnConfig:
    """Read the architecture off the variables' shapes (the name's gamma is only a hint)."""
    try:
        filters: list[int] = []
        while f"CNN{len(filters) + 1}/conv_W" in v:
            filters.append(int(v[f"CNN{len(filters) + 1}/conv_W"].shape[-1]))
        if len(filters) < 2:
            raise CheckpointError("fewer than 2 feature layers (CNN1, CNN2, ...)")
        if "A1/conv_W" not in v or "B1/conv_W" not in v:
            raise CheckpointError("no network-in-network reconstruction (A1/B1) — a ver1 checkpoint?")
        if "R-CNN1/conv_W" not in v:
            raise CheckpointError("no reconstruction layer R-CNN1")
        if v["R-CNN1/conv_W"].shape[2] != 1 and "Up-TCNN/Tconv_W" not in v:
            raise CheckpointError("pixel shuffler output is not 1 channel (unsupported variant)")
        scale, upsampler = _scale_from_shapes(v)
        m = re.search(r"_G(\d+(?:\.\d+)?)", Path(prefix).name)
        hint = float(m.group(1)) if m else 1.5
        gammas = [hint] + [round(g, 2) for g in np.arange(0.5, 4.0, 0.01)]
        layers, first, last = len(filters), filters[0], filters[-1]
        gamma = next((g for g in gammas if feature_filters(layers, first, last, g) == filters), None)
        if gamma is None:
            raise CheckpointError(f"feature filters {filters} do not follow the DCSCN decay rule")
        return DcscnConfig(
            scale=scale, layers=layers, filters=first, min_filters=last, gamma=gamma,
            nin_a=int(v["A1/conv_W"].shape[-1]), nin_b=int(v["B1/conv_W"].shape[-1]), upsampler=upsampler,
        )
    except CheckpointError as exc:
        raise CheckpointError(f"{prefix}: unsupported DCSCN checkpoint: {exc}") from None


def _weight_map(cfg: DcscnConfig) -> list[tuple[str, list[str]]]:
    """(Keras layer, [checkpoint variables in layer.get_weights() order]) for every weighted layer."""
    out: list[tuple[str, list[str]]] = []
    for scope in [f"CNN{i}" for i in range(1, cfg.layers + 1)] + ["A1", "B1", "B2"]:
        out.append((scope.lower(), [f"{scope}/conv_W", f"{scope}/conv_B"]))
        out.append((f"{scope.lower()}_prelu", [f"{scope}/prelu/{scope}_prelu"]))
    if cfg.upsampler == "pixel_shuffle":
        out.append(("up_ps_conv", ["Up-PS/Up-PS_CNN/conv_W", "Up-PS/Up-PS_CNN/conv_B"]))
        if cfg.scale == 4:
            out.append(("up_ps2_conv", ["Up-PS2/Up-PS2_CNN/conv_W", "Up-PS2/Up-PS2_CNN/conv_B"]))
    else:
        out.append(("up_tconv", ["Up-TCNN/Tconv_W"]))
    out.append(("r_cnn1", ["R-CNN1/conv_W"]))
    return out


def _describe(cfg: DcscnConfig) -> str:
    return (f"L{cfg.layers} F{cfg.filters}to{cfg.min_filters} A{cfg.nin_a} B{cfg.nin_b} "
            f"{'PS' if cfg.upsampler == 'pixel_shuffle' else 'TCNN'} x{cfg.scale}")


def load_checkpoint_weights(model: Any, prefix: str | Path, variables: dict[str, np.ndarray] | None = None) -> None:
    """Copy a checkpoint into a DCSCN Keras model; one CheckpointError naming the first misfit."""
    cfg = model_config(model)
    v = read_variables(prefix) if variables is None else variables

    def misfit(detail: str) -> CheckpointError:
        try:  # what the checkpoint is, worked out only for the message
            ck_desc = _describe(config_from_variables(v, prefix))
        except CheckpointError:
            ck_desc = "an unsupported architecture"
        what = f"the {cfg.preset or 'DCSCN'} model ({_describe(cfg)})"
        return CheckpointError(f"{prefix}: does not fit {what}: {detail} (checkpoint is {ck_desc})")

    assignments = []
    for layer_name, names in _weight_map(cfg):
        layer = model.get_layer(layer_name)
        values = []
        for name, weight in zip(names, layer.weights, strict=True):
            shape = tuple(weight.shape)
            if name not in v:
                raise misfit(f"variable {name} missing")
            val = v[name]
            if val.size != math.prod(shape) or val.shape[-1] != shape[-1]:
                raise misfit(f"{name} is {list(val.shape)}, the model needs {list(shape)}")
            values.append(val.reshape(shape))
        assignments.append((layer, values))
    for layer, values in assignments:
        layer.set_weights(values)


def model_from_checkpoint(path: str | Path, scale: int) -> Any:
    """A Keras DCSCN with a checkpoint's architecture and weights, for inference at ``scale``."""
    prefix = resolve_checkpoint(path, scale)
    v = read_variables(prefix)
    cfg = config_from_variables(v, prefix)
    if cfg.scale != scale:
        raise CheckpointError(f"{prefix}: checkpoint was trained for x{cfg.scale}, not x{scale}")
    preset = next((k for k in PRESETS if DcscnConfig.from_preset(k, scale).same_architecture(cfg)), None)
    cfg = DcscnConfig.from_dict({**cfg.to_dict(), "preset": preset})
    model = build_dcscn(cfg)
    load_checkpoint_weights(model, prefix, v)
    return model


# --- download ----------------------------------------------------------------------------------------

def download_release(preset: str, scale: int, dest: str | Path, base_url: str = RELEASE_URL,
                     session: Any = None) -> Path:
    """Fetch the authors' checkpoint of ``preset`` at ``scale`` into ``dest``; return its prefix.

    Resumable and (for the released c-DCSCN files) checksum-verified via :func:`srseg.download.fetch`.
    """
    from srseg.download import fetch

    name = release_name(preset, scale)
    dest = Path(dest)
    base = base_url if base_url.endswith("/") else base_url + "/"
    for suffix in SUFFIXES:
        fname = name + suffix
        fetch(base + fname, dest / fname, sha256=RELEASE_SHA256.get(fname), session=session, desc=fname)
    return dest / (name + ".ckpt")


def release_checkpoint(preset: str, scale: int, source: str | None, cache_dir: str | Path,
                       session: Any = None) -> Path:
    """The checkpoint prefix for ``sr.init: release``: a local folder/prefix, or a download.

    ``source`` None downloads from the authors' repository into ``cache_dir``; an ``http(s)://`` base URL
    downloads from there; anything else is a local folder or prefix.
    """
    if source is None or re.match(r"^https?://", str(source)):
        try:
            return download_release(preset, scale, Path(cache_dir), base_url=source or RELEASE_URL, session=session)
        except SrsegError:
            raise
        except Exception as exc:  # network stack errors not wrapped by fetch
            raise CheckpointError(f"downloading the DCSCN release checkpoint failed: {exc}") from None
    return resolve_checkpoint(source, scale)
