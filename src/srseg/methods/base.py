"""What a compared method is: its registry entry (:class:`Method`) and, for one that trains a model, its training
stage (:class:`TrainSpec`).

Every method lives in one module of this package (``srseg.methods.<name>``), which declares everything about it:
its :class:`Method` (what its segmenter sees, its baseline, colour, what the report says about it), its params
section (:func:`srseg.params.register_section`), the params its model depends on and the function that trains it.
:mod:`srseg.methods.registry` imports them all; ``dvc.yaml`` is rendered from them (:mod:`srseg.dvcfile`), and the
summary, the figures and the report iterate over the registry. A method is evaluated the same way whatever it is:
its segmenter (a saved PSPNet-compatible model) predicts its input images on the val split, scored against the HR
ground truth (the ``evaluate_<name>`` stages, which import no method code).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from srseg.errors import SrsegError
from srseg.params import Params
from srseg.paths import Paths, Slot, variant

#: Where a method's input images come from: the HR tree, the degrade outputs, or images a stage made.
ImageSource = Literal["raw", "lr", "bicubic", "sr", "own"]
#: Which params list gives the scales a method runs at (``None``: the scale-free HR reference).
ScaleList = Literal["scales", "seg.retrain_scales", "combine.scales"]

#: The params every training stage reads: how TensorFlow runs (threads, kernels, distribution).
RUNTIME = ("runtime.threads", "runtime.cpu_kernels", "runtime.distribute")

HR_COLOUR, BICUBIC_COLOUR, SR_COLOUR = "#000000", "#E69F00", "#0072B2"  # Okabe–Ito, as in every figure
#: How a sweep method's label ends: its own evaluation is on the HR val images.
SWEEP_LABEL_END = " on HR val"


@dataclass(frozen=True)
class Outputs:
    """A training stage's outputs: cached files and folders, small uncached files (git-tracked metrics), and
    DVCLive plot folders."""

    outs: list[Path]
    uncached: list[Path] = field(default_factory=list)
    plots: list[Path] = field(default_factory=list)


@dataclass(frozen=True)
class TrainSpec:
    """The stage that trains a method's model (``Method.stage``: a matrix over its scales and ``seeds``, or over
    ``seeds`` alone for a scale-free method, whose functions get ``None`` for the scale).

    ``run(params, scale, seed, paths)`` trains and saves. ``reads``: the params the stage reads itself (its
    ``dvc.yaml`` params); ``model_params``: every param its model depends on, upstream stages' included (hashed
    into the model's training record, :func:`srseg.provenance.model_record`). ``deps`` and ``outs`` give its data
    deps and outputs for a scale and seed (``dvc.yaml`` renders them with placeholders); the first of ``outs`` is
    its model.
    """

    # The scale argument (Any): an int (or dvc.yaml's placeholder, a Slot) for a method with scales; None without.
    run: Callable[[Params, Any, int, Paths], Any]
    reads: tuple[str, ...]
    model_params: tuple[str, ...]
    deps: Callable[[Paths, Any, Slot], list[Path]]
    outs: Callable[[Paths, Any, Slot], Outputs]
    artifact: str = ""  # the name prefix of its models in dvc.yaml's artifacts (``<artifact>-x<s>``)


@dataclass(frozen=True)
class Method:
    """One compared method.

    ``images``: the segmenter's input (``own`` = ``data/{name}/seed{k}/x{s}``, written by ``stage``; ``lr``: the
    LR images, for a model that predicts at HR size). ``segmenter``: ``"hr"`` (the HR-trained PSPNet of
    ``train_seg``) or the base name of a model that ``stage`` trains per scale
    (``models/seg/seed{k}/{segmenter}_x{s}.keras``). ``baseline``: the method it is compared with besides HR
    (``None`` for none); ``controls``: further methods it is compared with at the same scale (where both run).
    ``group``: the figure/table it belongs to. ``quality``: it has a Y-PSNR/SSIM record of HR-size images
    (``metrics/sr/…/{variant}.json``: its own images, or the joint model's SR head). ``upper_bound``: it uses
    knowledge a real system lacks (ground-truth labels): reported as a bound, never ranked with the others;
    ``bound_of`` names the real method it bounds. ``stage``: the stage that makes what it needs (its images, or
    its segmenter); ``train``: how that stage trains its model, when the method owns it (``None`` when another
    method's or a base stage makes what it needs). ``reported``: the methods the report's reading compares it with
    (besides its place in the tables); ``class_regions``: the report tables its Y-PSNR change per class region
    against its baseline (methods that should help some classes' textures). ``images_of``: with ``images`` "own",
    the method whose images these are (default: its own), for a method that only scores another's images with
    another segmenter. Group ``sweep``: its segmenter is
    also evaluated on the degradation sweep (``evaluate_cliff``, :mod:`srseg.results.cliff`) beside the HR-trained
    one, and reported there; only a scale-free method on HR images (``scales`` None, ``images`` ``raw``: its own
    evaluation is the sweep's factor 1) with a segmenter of its own can be.
    """

    name: str
    label: str
    colour: str
    marker: str
    stage: str
    images: ImageSource
    segmenter: str
    scales: ScaleList | None
    group: Literal["reference", "chain", "retrain", "combine", "sweep"]
    baseline: str | None = None
    quality: bool = False
    upper_bound: bool = False
    controls: tuple[str, ...] = ()
    bound_of: str | None = None
    train: TrainSpec | None = None
    reported: tuple[str, ...] = ()
    class_regions: bool = False
    images_of: str | None = None

    def __post_init__(self) -> None:
        if self.group == "sweep" and (self.scales is not None or self.images != "raw" or self.segmenter == "hr"
                           or not self.label.endswith(SWEEP_LABEL_END)):
            raise ValueError(f"method {self.name!r}: only a scale-free method on HR images with its own segmenter "
                             f"(label '<segmenter>{SWEEP_LABEL_END}') can join the degradation sweep")

    @property
    def segmenter_label(self) -> str:
        """What a sweep method's segmenter is called (its label without "on HR val")."""
        return self.label.removesuffix(SWEEP_LABEL_END)

    @property
    def eval_stage(self) -> str:
        """The ``dvc.yaml`` stage (a matrix over its scales and ``seeds``) that evaluates this method."""
        return f"evaluate_{self.name}"

    def scale_list(self, params: Params) -> list[int]:
        """The scales this method runs at under ``params`` (``[]`` for the HR reference)."""
        if self.scales is None:
            return []
        return list({"scales": params.scales, "seg.retrain_scales": params.seg.retrain_scales,
                     "combine.scales": params.combine.scales}[self.scales])

    def variant(self, scale: Slot | None) -> str:
        return variant(self.name, scale)

    def label_at(self, scale: int | None) -> str:
        """The label of the variant at ``scale``: ``{s}`` in the label is the scale, else `` ×s`` is appended."""
        if scale is None:
            return self.label
        return self.label.format(s=scale) if "{s}" in self.label else f"{self.label} ×{scale}"

    def image_root(self, paths: Paths, scale: Slot | None, seed: Slot) -> Path:
        """The folder (Cityscapes image layout) of the images the segmenter predicts."""
        if self.images == "raw":
            return paths.raw
        if scale is None:
            raise SrsegError(f"method {self.name}: needs a scale")
        return {
            "lr": lambda: paths.lr(scale),
            "bicubic": lambda: paths.bicubic(scale),
            "sr": lambda: paths.sr(scale, seed),
            "own": lambda: paths.method_images(self.images_of or self.name, scale, seed),
        }[self.images]()

    def input_scale(self, scale: int | None) -> int:
        """How many times smaller than the ground truth its input images are (LR input: the scale; else 1)."""
        return scale if self.images == "lr" and scale is not None else 1

    def quality_path(self, paths: Paths, scale: Slot, seed: Slot) -> Path:
        """Its images' Y-PSNR/SSIM record (written by the stage that makes or, for bicubic, degrades them)."""
        return paths.image_quality(self.variant(scale), None if self.images == "bicubic" else seed)

    def model_path(self, paths: Paths, scale: Slot | None, seed: Slot) -> Path:
        """The segmentation model that predicts this method's images (a scale-free method's: one per seed)."""
        if self.segmenter == "hr" or self.scales is None:
            return paths.seg_model(self.segmenter, seed)
        if scale is None:
            raise SrsegError(f"method {self.name}: a per-scale segmenter needs a scale")
        return paths.seg_model(variant(self.segmenter, scale), seed)


def seg_training_outputs(paths: Paths, model: str, seed: Slot) -> Outputs:
    """A PSPNet-style training stage's outputs: ``models/seg/seed{k}/{model}.keras`` and its DVCLive log."""
    log = paths.train_log(f"seg_{model}", seed)
    return Outputs([paths.seg_model(model, seed)], [log / "metrics.json"], [log / "plots"])


def sr_training_outputs(paths: Paths, name: str, scale: Slot, seed: Slot) -> Outputs:
    """An SR method's training stage's outputs: its model, its val images and their Y-PSNR/SSIM, its DVCLive log."""
    v = variant(name, scale)
    log = paths.train_log(v, seed)
    return Outputs([paths.method_sr_model(name, scale, seed), paths.method_images(name, scale, seed)],
                   [paths.image_quality(v, seed), log / "metrics.json"], [log / "plots"])


#: Every registered method by name, in registration order (:mod:`srseg.methods.registry` imports them all).
METHODS: dict[str, Method] = {}


def register(method: Method) -> Method:
    """Add a method to the registry (its name must be new)."""
    if method.name in METHODS:
        raise ValueError(f"method {method.name!r} is already registered")
    METHODS[method.name] = method
    return method
