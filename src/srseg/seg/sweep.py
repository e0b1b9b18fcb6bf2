"""The degradation sweep's evaluation (stage ``evaluate_cliff@k``): segmenters on every factor's degraded val set
(``cliff_degrade``, :func:`srseg.degrade.down_up`) and, for some, on the SR images of the sweep's integer factors.

Each evaluation is scored as the ``evaluate_<method>`` stages score theirs (:func:`srseg.seg.evaluate.evaluate_split`
against the HR ground truth), and saves its scores and every val image's confusion matrix
(``metrics/cliff/seed{k}/<segmenter>_<bicubic|sr>_x<f>.json`` and ``.npz``), which the summarize stage bootstraps.
No predictions and no object counts are written: the sweep asks about classes, not instances. Like every
evaluation it is given its models and imports no training or method code.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from srseg.errors import SrsegError
from srseg.io import write_json
from srseg.labels import NUM_CLASSES
from srseg.metrics.seg import save_per_image
from srseg.params import Params
from srseg.paths import DEGRADED, REPO, SUPER_RESOLVED, Paths, cliff_variant
from srseg.seg.evaluate import evaluate_split, predictor_for
from srseg.seg.infer import Predictor

log = logging.getLogger(__name__)


def score(predictor: Predictor, images: Path, name: str, seed: int, paths: Paths) -> dict[str, Any]:
    """One segmenter on the val images under ``images`` → ``paths.cliff_metrics(name, seed)`` and its ``.npz``."""
    if not images.is_dir():
        raise SrsegError(f"{images}: no such folder; the images of {name} are missing")
    meter, _ = evaluate_split(predictor, images, paths.raw, None, "val", name, progress=False)
    metrics = meter.result()
    save_per_image(paths.cliff_per_image(name, seed), *meter.per_image())
    write_json(paths.cliff_metrics(name, seed), metrics)
    log.info("%s (seed %d): mIoU %.4f, PACC %.4f on %d images", name, seed, metrics["miou"], metrics["pacc"],
             metrics["n_images"])
    return metrics


def run_sweep(params: Params, models: dict[str, Path], on_sr: set[str], seed: int, paths: Paths = REPO
              ) -> dict[str, dict[str, Any]]:
    """Stage ``evaluate_cliff@{seed}``: every segmenter of ``models`` (name → ``.keras``) on each factor's set of
    ``cliff.factors``, and those named in ``on_sr`` also on the SR images of :attr:`Params.sweep_sr_scales`.
    Returns {evaluation name: its scores}."""
    from srseg.models.pspnet import load_model

    unknown = sorted(on_sr - set(models))
    if unknown:
        raise SrsegError(f"--on-sr {unknown[0]}: not one of the models ({', '.join(models)})")
    out = {}
    for name, model in models.items():
        predictor = predictor_for(params, load_model(model, NUM_CLASSES))
        for f in params.cliff.factors:
            v = cliff_variant(name, DEGRADED, f)
            out[v] = score(predictor, paths.cliff(f), v, seed, paths)
        if name in on_sr:
            for s in params.sweep_sr_scales:
                v = cliff_variant(name, SUPER_RESOLVED, s)
                out[v] = score(predictor, paths.sr(s, seed), v, seed, paths)
    return out
