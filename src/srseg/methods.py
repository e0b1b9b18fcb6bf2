"""The compared methods as data: what each one feeds to which segmenter, made by which stage, drawn how.

A method is evaluated the same way whatever it is: its segmenter (a saved PSPNet-compatible model) predicts its
input images (HR-size images, or LR images for a model that upsamples itself) on the val split, scored against
the HR ground truth. The evaluation stages (``evaluate_{name}`` in ``dvc.yaml``), the summary, the figures and the
report iterate over :data:`METHODS`; adding a method is one :func:`register` call here plus the stage that makes
its images or its segmenter (``tests/test_methods.py`` does it with a dummy method).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from srseg.errors import SrsegError
from srseg.params import Params
from srseg.paths import Paths, variant

#: Where a method's input images come from: the HR tree, the degrade outputs, or images a stage made.
ImageSource = Literal["raw", "lr", "bicubic", "sr", "own"]
#: Which params list gives the scales a method runs at (``None``: the scale-free HR reference).
ScaleList = Literal["scales", "seg.retrain_scales", "combine.scales"]


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
    ``bound_of`` names the real method it bounds.
    """

    name: str
    label: str
    colour: str
    marker: str
    stage: str
    images: ImageSource
    segmenter: str
    scales: ScaleList | None
    group: Literal["reference", "chain", "retrain", "combine"]
    baseline: str | None = None
    quality: bool = False
    upper_bound: bool = False
    controls: tuple[str, ...] = ()
    bound_of: str | None = None

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

    def variant(self, scale: int | None) -> str:
        return variant(self.name, scale)

    def label_at(self, scale: int | None) -> str:
        """The label of the variant at ``scale``: ``{s}`` in the label is the scale, else `` ×s`` is appended."""
        if scale is None:
            return self.label
        return self.label.format(s=scale) if "{s}" in self.label else f"{self.label} ×{scale}"

    def image_root(self, paths: Paths, scale: int | None, seed: int) -> Path:
        """The folder (Cityscapes image layout) of the images the segmenter predicts."""
        if self.images == "raw":
            return paths.raw
        if scale is None:
            raise SrsegError(f"method {self.name}: needs a scale")
        return {
            "lr": lambda: paths.lr(scale),
            "bicubic": lambda: paths.bicubic(scale),
            "sr": lambda: paths.sr(scale, seed),
            "own": lambda: paths.method_images(self.name, scale, seed),
        }[self.images]()

    def quality_path(self, paths: Paths, scale: int, seed: int) -> Path:
        """Its images' Y-PSNR/SSIM record (written by the stage that makes or, for bicubic, degrades them)."""
        return paths.image_quality(self.variant(scale), None if self.images == "bicubic" else seed)

    def model_path(self, paths: Paths, scale: int | None, seed: int) -> Path:
        """The segmentation model that predicts this method's images."""
        if self.segmenter == "hr":
            return paths.seg_model("hr", seed)
        if scale is None:
            raise SrsegError(f"method {self.name}: a per-scale segmenter needs a scale")
        return paths.seg_model(variant(self.segmenter, scale), seed)


HR, BICUBIC, SR = "#000000", "#E69F00", "#0072B2"  # Okabe–Ito, as in every figure

METHODS: dict[str, Method] = {}


def register(method: Method) -> Method:
    """Add a method to the registry (its name must be new)."""
    if method.name in METHODS:
        raise ValueError(f"method {method.name!r} is already registered")
    METHODS[method.name] = method
    return method


def get(name: str) -> Method:
    """The registered method called ``name``; SrsegError listing the known ones otherwise."""
    try:
        return METHODS[name]
    except KeyError:
        raise SrsegError(f"unknown method {name!r} (known: {', '.join(METHODS)})") from None


def active(params: Params) -> Iterator[tuple[Method, int | None]]:
    """Every (method, scale) the params ask for, in registry order (the HR reference with scale ``None``)."""
    for m in METHODS.values():
        if m.scales is None:
            yield m, None
        else:
            for s in m.scale_list(params):
                yield m, s


register(Method("hr", "HR (no downscaling)", HR, "o", stage="download", images="raw", segmenter="hr",
                scales=None, group="reference"))
register(Method("bicubic", "bicubic LR", BICUBIC, "o", stage="degrade", images="bicubic", segmenter="hr",
                scales="scales", group="chain", quality=True))
register(Method("sr", "SR (DCSCN)", SR, "s", stage="super_resolve", images="sr", segmenter="hr",
                scales="scales", group="chain", baseline="bicubic", quality=True))
register(Method("retrain_sr", "SR ×{s}-trained PSPNet on SR ×{s} val", "#D55E00", "^", stage="retrain_seg",
                images="sr", segmenter="retrain_sr", scales="seg.retrain_scales", group="retrain", baseline="sr",
                controls=("retrain_bicubic",)))
register(Method("retrain_sr_on_hr", "SR ×{s}-trained PSPNet on HR val", "#CC79A7", "v", stage="retrain_seg",
                images="raw", segmenter="retrain_sr", scales="seg.retrain_scales", group="retrain", baseline="hr"))
# The combination study (research tasks 2-4) at combine.scales.
register(Method("retrain_bicubic", "bicubic ×{s}-trained PSPNet on bicubic ×{s} val", "#56B4E9", "D",
                stage="retrain_bicubic", images="bicubic", segmenter="retrain_bicubic", scales="combine.scales",
                group="retrain", baseline="bicubic"))
register(Method("ft_sr", "SR fine-tuned on the study's images (control)", "#999999", "P", stage="finetune_sr", images="own",
                segmenter="hr", scales="combine.scales", group="combine", baseline="sr", quality=True))
register(Method("task_sr", "task-driven SR (via the frozen PSPNet)", "#009E73", "*", stage="task_sr",
                images="own", segmenter="hr", scales="combine.scales", group="combine", baseline="ft_sr",
                quality=True))
register(Method("joint", "joint SR + segmentation model", "#F0E442", "X", stage="train_joint", images="lr",
                segmenter="joint", scales="combine.scales", group="combine", baseline="retrain_bicubic", quality=True))
register(Method("sft_sr", "segmentation-assisted SR", "#882255", "h", stage="sft_sr",
                images="own", segmenter="hr", scales="combine.scales", group="combine", baseline="ft_sr",
                quality=True))
register(Method("sft_oracle", "seg.-assisted SR, ORACLE maps (upper bound)", "#AA4499", "H",
                stage="sft_oracle", images="own", segmenter="hr", scales="combine.scales", group="combine",
                baseline="ft_sr", quality=True, upper_bound=True, bound_of="sft_sr"))
