"""The study's third criterion, "the average between PSNR and PACC": every method that works from the LR image,
ranked per combination scale by the combined score, with the margin of the first over the second."""

from __future__ import annotations

from typing import Any

import numpy as np

from srseg.errors import SrsegError
from srseg.labels import NUM_CLASSES
from srseg.methods import registry as methods
from srseg.params import Params
from srseg.results.blocks import Design
from srseg.results.estimates import quality_records, rounded, seed_spread
from srseg.results.inputs import Evaluation
from srseg.results.schema import VariantKey, image_source
from srseg.results.stats import bootstrap_interval, paired_bootstrap, seg_metrics


def psnr_source(v: Evaluation, variants: dict[VariantKey, Evaluation]) -> Evaluation | None:
    """The variant whose images the segmenter of ``v`` sees (for their PSNR): its own, or the SR / bicubic ones."""
    if v.quality is not None:
        return v
    source = image_source(v.method)
    if v.scale is None or source is None:
        return None
    return variants.get(VariantKey.of(source, v.scale))


def combined_fn(n_classes_cells: int, count: int):
    """:data:`srseg.results.stats.MetricFn` of the combined score from summed records
    ``[cms (C·(C+1)) | HR's cms | Σ PSNR of the images | Σ PSNR of bicubic]`` (see :func:`combined`)."""
    def fn(sums: np.ndarray) -> dict[str, np.ndarray]:
        c = NUM_CLASSES
        shape = (-1, c, c + 1)
        pacc = seg_metrics(sums[:, :n_classes_cells].reshape(shape))["pacc"]
        pacc_hr = seg_metrics(sums[:, n_classes_cells:2 * n_classes_cells].reshape(shape))["pacc"]
        gain_db = (sums[:, -2] - sums[:, -1]) / count
        return {"score": 0.5 * (pacc / pacc_hr + 1 - 10 ** (-gain_db / 10)), "pacc_rel": pacc / pacc_hr,
                "mse_removed": 1 - 10 ** (-gain_db / 10)}
    return fn


def _combined_records(v: Evaluation, hr: Evaluation, src: Evaluation, bic: Evaluation) -> np.ndarray:
    """``(S, N, ·)`` per-image records of every training seed for :func:`combined_fn`."""
    s, n = v.cms.shape[:2]

    def cms(u: Evaluation) -> np.ndarray:
        return u.cms.reshape(s, n, -1)

    return np.concatenate([cms(v), cms(hr), quality_records(src)[..., :1], quality_records(bic)[..., :1]], axis=2)


def _seed_scores(v: Evaluation, hr: Evaluation, src: Evaluation, bic: Evaluation) -> list[float]:
    """The combined score of each training seed's models alone."""
    fn = combined_fn(NUM_CLASSES * (NUM_CLASSES + 1), v.cms.shape[1])
    return [float(fn(r.sum(0, keepdims=True))["score"][0]) for r in _combined_records(v, hr, src, bic)]


def combined(variants: dict[VariantKey, Evaluation], params: Params, d: Design) -> dict[int, dict[str, Any]]:
    """Per combination scale, the study's third criterion, "the average between PSNR and PACC":

        score = ½ · ( PACC / PACC_HR  +  1 − MSE / MSE_bicubic )

    the share of the HR images' pixel accuracy kept and the share of bicubic's luma error removed (from the mean
    Y-PSNR gain over bicubic, ``1 − 10^(−ΔPSNR/10)``), each 1 for a perfect method; the PSNR is that of the images
    the method's segmenter sees (SR head for the joint model). Every method at the scale that works from the LR
    image is ranked (upper bounds aside); the margin of the first over the second gets a paired bootstrap interval
    and, with several seeds, the spread of the per-seed margins.
    """
    st = params.stats
    hr = variants[VariantKey.of(methods.HR)]
    out: dict[int, dict[str, Any]] = {}
    for s in params.combine.scales:
        bic = variants[VariantKey.of(methods.BICUBIC, s)]
        count = len(params.seeds) * hr.cms.shape[1]
        fn = combined_fn(NUM_CLASSES * (NUM_CLASSES + 1), count)
        rows: list[dict[str, Any]] = []
        records: dict[str, np.ndarray] = {}
        sources: dict[str, tuple[Evaluation, Evaluation]] = {}
        for v in variants.values():
            src = psnr_source(v, variants)
            if v.scale != s or v.method.images == "raw" or src is None:
                continue
            records[v.name], sources[v.name] = _combined_records(v, hr, src, bic), (v, src)
            iv = bootstrap_interval(records[v.name], fn, st.resamples, st.seed, st.confidence, d, by_seed=True)
            score, pacc_rel, mse_removed = iv["score"], iv["pacc_rel"], iv["mse_removed"]
            if score is None or pacc_rel is None or mse_removed is None:
                raise SrsegError(f"combined score of {v.name}: undefined on the val images (HR's pixel accuracy "
                                 "is 0, or a Y-PSNR is not finite)")
            rows.append({"variant": v.name, "label": v.method.label_at(s), "upper_bound": v.method.upper_bound,
                         "score": rounded(score.point), "pacc_rel": rounded(pacc_rel.point),
                         "mse_removed": rounded(mse_removed.point),
                         "score_ci95": [rounded(score.low), rounded(score.high)]})
        ranked = sorted((r for r in rows if not r["upper_bound"]), key=lambda r: -r["score"])
        for rank, r in enumerate(ranked, start=1):
            r["rank"] = rank
        entry: dict[str, Any] = {"rows": ranked + [r for r in rows if r["upper_bound"]]}
        if len(ranked) >= 2:
            first, second = ranked[0]["variant"], ranked[1]["variant"]
            c = paired_bootstrap(records[second], records[first], fn, st.resamples, st.seed, st.confidence, d,
                                 by_seed=True)["score"]
            if c is None:
                raise SrsegError(f"combined score at ×{s}: the margin of {first} over {second} is undefined on the "
                                 "val images")
            entry["margin"] = {"first": first, "second": second, "diff": rounded(c.diff.point),
                               "ci95": [rounded(c.diff.low), rounded(c.diff.high)],
                               "p_opposite": rounded(c.diff.p_opposite), "p": rounded(c.diff.p_value)}
            if len(params.seeds) > 1:
                (vf, sf), (vs, ss) = sources[first], sources[second]
                diffs = np.subtract(_seed_scores(vf, hr, sf, bic), _seed_scores(vs, hr, ss, bic))
                entry["margin"]["seeds"] = seed_spread(diffs.tolist(), st.confidence)
        out[s] = entry
    return out
