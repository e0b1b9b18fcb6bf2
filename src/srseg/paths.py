"""Every pipeline path, by scale, seed and method: the one copy of the layout that ``dvc.yaml`` spells out.

Stage scripts and library functions take their paths from a :class:`Paths` (rooted at the repository, or at a
temporary folder in tests); ``tests/test_paths.py`` checks ``dvc.yaml`` against it. The layout::

    data/params.ok                     check_params: params.yaml is valid (every stage runs after it)
    data/raw/                          download: HR images and labels (Cityscapes layout)
    data/downloads/                    download caches (archives, checkpoints)
    data/lr/x{s}/ data/bicubic/x{s}/   degrade@{s} (and metrics/sr/bicubic_x{s}.json: their Y-PSNR/SSIM)
    data/cliff/x{f}/                   cliff_degrade: the degradation sweep's val images, one folder per factor
    models/sr/seed{k}/x{s}.keras       pretrain_sr@{s}-{k} (…/{method}_x{s}.keras: the fine-tuned SR methods)
    data/{method}/seed{k}/x{s}/        images a method makes (super_resolve@{s}-{k}: method ``sr``)
    models/seg/seed{k}/{name}.keras    segmentation models (train_seg: ``hr``; retrain_seg: ``retrain_sr_x{s}``)
    data/pred/seed{k}/{variant}/       predictions of an evaluated variant (``hr`` or ``{method}_x{s}``)
    metrics/seg/seed{k}/{variant}.json its scores (.npz: every image's confusion matrix)
    metrics/sr/seed{k}/{variant}.json  Y-PSNR/SSIM of a method's images (mean and per image)
    metrics/cliff/seed{k}/{name}.json  evaluate_cliff: a segmenter on a sweep set (.npz: every image's matrix)
    metrics/train/seed{k}/{name}/      DVCLive training logs
    metrics/summary.json metrics/headline.json plots/series/    summarize
    plots/figures/ report.md           plots

Per-seed outputs sit one level below a folder per kind, so a stage that reads every seed (``summarize``) can
list that folder as one dep.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

#: A scale or a seed: an int, or the ``${item.…}`` placeholder :mod:`srseg.dvcfile` renders ``dvc.yaml`` with.
Slot = int | str


def factor_name(factor: float) -> str:
    """A degradation factor as it names folders and variants: ``2`` → ``"2"``, ``2.5`` → ``"2.5"``, ``3.0`` →
    ``"3"``."""
    f = float(factor)
    return str(int(f)) if f.is_integer() else repr(f)


def factor_folder(factor: float) -> str:
    """The folder of a sweep factor's images under :attr:`Paths.cliff_root`: ``x2.5``."""
    return f"x{factor_name(factor)}"


#: What a segmenter of the degradation sweep sees: the sweep's bicubic down-and-up images, or SR images.
DEGRADED, SUPER_RESOLVED = "bicubic", "sr"


def cliff_variant(segmenter: str, images: str, factor: float) -> str:
    """A segmenter's evaluation on one set of the sweep (``images``: :data:`DEGRADED` or :data:`SUPER_RESOLVED`):
    ``hr_bicubic_x2.5`` (the HR-trained PSPNet on the images degraded by 2.5), ``blur_aug_sr_x3`` (a sweep method's
    segmenter on the SR ×3 images)."""
    return f"{segmenter}_{images}_{factor_folder(factor)}"


def variant(method: str, scale: Slot | None) -> str:
    """Name of an evaluated variant: ``hr`` (no scale) or ``{method}_x{scale}``."""
    return method if scale is None else f"{method}_x{scale}"


@dataclass(frozen=True)
class Paths:
    """The pipeline's files under ``root``."""

    root: Path = Path(".")

    def _p(self, *parts: str) -> Path:
        return Path(self.root, *parts)

    # --- data ---------------------------------------------------------------------------------------
    @property
    def params_ok(self) -> Path:
        """Written by the first stage once params.yaml validates; its content never depends on the values."""
        return self._p("data", "params.ok")

    @property
    def data(self) -> Path:
        """Every image the pipeline renders, imports or makes lies under here ("inside the study")."""
        return self._p("data")

    @property
    def raw(self) -> Path:
        return self._p("data", "raw")

    @property
    def downloads(self) -> Path:
        return self._p("data", "downloads")

    @property
    def data_metrics(self) -> Path:
        return self._p("metrics", "data.json")

    def lr(self, scale: Slot) -> Path:
        return self._p("data", "lr", f"x{scale}")

    def bicubic(self, scale: Slot) -> Path:
        return self._p("data", "bicubic", f"x{scale}")

    @property
    def cliff_root(self) -> Path:
        """The degradation sweep's val sets (``cliff_degrade``), one folder per factor."""
        return self._p("data", "cliff")

    def cliff(self, factor: float) -> Path:
        """The val images degraded by ``factor`` (bicubic down, then up to HR size), e.g. ``data/cliff/x2.5``."""
        return self.cliff_root / factor_folder(factor)

    def method_images(self, method: str, scale: Slot, seed: Slot) -> Path:
        """Images a trained method writes (HR size, Cityscapes image layout), e.g. ``data/sr/seed0/x4``."""
        return self._p("data", method, f"seed{seed}", f"x{scale}")

    def sr(self, scale: Slot, seed: Slot) -> Path:
        return self.method_images("sr", scale, seed)

    def sr_root(self, seed: Slot) -> Path:
        """Every scale's SR images of one training seed (``data/sr/seed{k}``)."""
        return self.sr(0, seed).parent

    # --- models and training logs ---------------------------------------------------------------------
    def sr_model(self, scale: Slot, seed: Slot) -> Path:
        return self._p("models", "sr", f"seed{seed}", f"x{scale}.keras")

    def method_sr_model(self, method: str, scale: Slot, seed: Slot) -> Path:
        """An SR model a method fine-tunes, e.g. ``models/sr/seed0/task_sr_x4.keras``."""
        return self._p("models", "sr", f"seed{seed}", f"{variant(method, scale)}.keras")

    def seg_model(self, name: str, seed: Slot) -> Path:
        """A segmentation model: ``hr`` (train_seg) or ``retrain_sr_x{s}`` and the like."""
        return self._p("models", "seg", f"seed{seed}", f"{name}.keras")

    def train_log(self, name: str, seed: Slot) -> Path:
        """DVCLive folder of a training stage, e.g. ``metrics/train/seed0/seg_hr``."""
        return self._p("metrics", "train", f"seed{seed}", name)

    # --- evaluation -----------------------------------------------------------------------------------
    def predictions(self, variant_name: str, seed: Slot) -> Path:
        return self._p("data", "pred", f"seed{seed}", variant_name)

    def seg_metrics(self, variant_name: str, seed: Slot) -> Path:
        return self._p("metrics", "seg", f"seed{seed}", f"{variant_name}.json")

    def seg_per_image(self, variant_name: str, seed: Slot) -> Path:
        """Every val image's confusion matrix of a variant (``.npz``; what the bootstrap resamples)."""
        return self._p("metrics", "seg", f"seed{seed}", f"{variant_name}.npz")

    @property
    def cliff_metrics_root(self) -> Path:
        return self._p("metrics", "cliff")

    def cliff_metrics(self, name: str, seed: Slot) -> Path:
        """A segmenter's scores on one set of the sweep (``evaluate_cliff``), e.g. ``hr_bicubic_x2.5``."""
        return self.cliff_metrics_root / f"seed{seed}" / f"{name}.json"

    def cliff_per_image(self, name: str, seed: Slot) -> Path:
        """Every val image's confusion matrix of :meth:`cliff_metrics` (``.npz``, what a bootstrap resamples)."""
        return self.cliff_metrics_root / f"seed{seed}" / f"{name}.npz"

    def image_quality(self, variant_name: str, seed: Slot | None) -> Path:
        """Y-PSNR/SSIM of a variant's images; ``seed`` None for images no training made (``bicubic_x{s}``)."""
        if seed is None:
            return self._p("metrics", "sr", f"{variant_name}.json")
        return self._p("metrics", "sr", f"seed{seed}", f"{variant_name}.json")

    # --- results --------------------------------------------------------------------------------------
    @property
    def summary(self) -> Path:
        return self._p("metrics", "summary.json")

    @property
    def headline(self) -> Path:
        """The few headline numbers declared as DVC metrics (``dvc exp show``, ``dvc metrics diff``)."""
        return self._p("metrics", "headline.json")

    @property
    def series(self) -> Path:
        return self._p("plots", "series")

    @property
    def figures(self) -> Path:
        return self._p("plots", "figures")

    @property
    def report(self) -> Path:
        return self._p("report.md")


#: The repository's own layout (paths relative to the working directory, where DVC runs the stages).
REPO = Paths()
