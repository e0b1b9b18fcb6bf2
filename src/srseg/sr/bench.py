"""``srseg sr-bench``: Y-PSNR/SSIM of bicubic (and SR models) on a folder of HR images."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tqdm import tqdm

from srseg.degrade import crop_to_multiple
from srseg.io import list_images, read_image, write_json
from srseg.metrics.sr import bicubic_scores, mean_scores


def run_sr_bench(
    images: str | Path,
    scales: list[int],
    json_out: str | Path | None = None,
    model: str | None = None,
    dcscn_checkpoint: str | None = None,
    self_ensemble: bool = False,
) -> dict[str, Any]:
    """Score bicubic (and a model, if given) at every scale; print a table and optionally write JSON."""
    files = list_images(images)
    hrs = {f: read_image(f, "auto") for f in files}
    results: dict[str, Any] = {}
    for s in scales:
        entry: dict[str, Any] = {}
        pairs = [bicubic_scores(crop_to_multiple(hr, s), s)
                 for hr in tqdm(hrs.values(), desc=f"bicubic x{s}", leave=False)]
        entry["bicubic"] = mean_scores(pairs)
        if model or dcscn_checkpoint:
            from srseg.sr.infer import load_upscaler, model_scores  # TensorFlow only when a model is scored

            upscaler = load_upscaler(scale=s, model=model, dcscn_checkpoint=dcscn_checkpoint)
            pairs = [
                model_scores(upscaler, crop_to_multiple(hr, s), s, self_ensemble=self_ensemble)
                for hr in tqdm(hrs.values(), desc=f"model x{s}", leave=False)
            ]
            entry["model"] = mean_scores(pairs)
        results[f"x{s}"] = entry
    for key, entry in results.items():
        line = "  ".join(f"{name}: {v['psnr_y']:.2f} dB / {v['ssim_y']:.4f}" for name, v in entry.items())
        print(f"{key}  {line}  ({len(files)} images)")
    if json_out:
        write_json(json_out, results)
    return results
