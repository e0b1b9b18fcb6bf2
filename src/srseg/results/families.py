"""The study's families of comparisons, and the verdicts they allow after Holm's adjustment within each.

Every difference the summary makes belongs to one declared family (:data:`FAMILIES`); the two-sided bootstrap
p-values of a family's differences are adjusted together (Holm 1979, :func:`srseg.results.stats.holm`), and a
difference gets a verdict — ``higher`` or ``lower`` — only when its interval excludes zero *and* its adjusted
p-value is below 1 − confidence; otherwise ``none``. A verdict is a ``finding`` only with at least
:data:`~srseg.results.stats.MIN_SEEDS` training seeds: with fewer, one seed's models (and one CPU's rounding) can
flip it, and the report says so instead of stating it.

Pedestrian recall is in its two families (SR vs bicubic, gaps to HR) only when the measure is informative
(:mod:`srseg.results.pedestrians`: the HR segmenter finds enough of the reasonably sized pedestrians); otherwise its
differences are left out of every family and get no verdict. Pedestrian precision is reported beside recall and
never carries a verdict.

The per-class tables are families of their own: the per-class IoU changes of one scale (:func:`class_family`), and
the class-region Y-PSNR changes of one comparison (adjusted in :func:`adjust`).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from srseg.methods import registry as methods
from srseg.results.schema import Comparison
from srseg.results.stats import MIN_SEEDS, holm

FAMILIES: dict[str, str] = {
    "super_resolution": "SR against bicubic input at every scale: Y-PSNR, PACC, mIoU and pedestrian recall",
    "retrain": "each retrained PSPNet against its baseline and controls: PACC and mIoU",
    "combination": "each combination method against its baseline and controls: PACC, mIoU and Y-PSNR",
    "reference_gap": "every variant against the HR reference: PACC, mIoU and pedestrian recall",
}
TITLES: dict[str, str] = {"super_resolution": "SR vs bicubic", "retrain": "retrained PSPNets",
                          "combination": "combination methods", "reference_gap": "gaps to HR"}
#: The descriptions of the families that hold pedestrian recall, when the measure is uninformative.
WITHOUT_PEDESTRIANS: dict[str, str] = {
    "super_resolution": "SR against bicubic input at every scale: Y-PSNR, PACC and mIoU (pedestrian recall left "
                        "out: uninformative)",
    "reference_gap": "every variant against the HR reference: PACC and mIoU (pedestrian recall left out: "
                     "uninformative)",
}
VERDICT_METRICS = ("psnr_y", "pacc", "miou")  # with objects.pedestrian_recall where informative


def family(comp: Comparison) -> str:
    """The family of a comparison (see :data:`FAMILIES`)."""
    if comp.a.method is methods.HR:
        return "reference_gap"
    if comp.b.method is methods.SR and comp.a.method is methods.BICUBIC:
        return "super_resolution"
    return "retrain" if comp.b.method.group == "retrain" else "combination"


def _entries(comp: Comparison, pedestrians: bool = True) -> Iterator[dict[str, Any]]:
    """The differences of a comparison that carry a verdict (pedestrian recall only with ``pedestrians``)."""
    fam = family(comp)
    for key in VERDICT_METRICS:
        entry = comp.get(key)
        if entry is not None and not (key == "psnr_y" and fam in ("retrain", "reference_gap")):
            yield entry
    recall = (comp.objects or {}).get("pedestrian_recall")
    if pedestrians and recall is not None and fam in WITHOUT_PEDESTRIANS:
        yield recall


def verdict(entry: dict[str, Any], p_adjusted: float, alpha: float) -> str:
    """``higher`` / ``lower`` when the interval excludes zero and the adjusted p-value is below ``alpha``."""
    low, high = entry["ci95"]
    if p_adjusted < alpha and low is not None and high is not None and (low > 0 or high < 0):
        return "higher" if entry["diff"] > 0 else "lower"
    return "none"


def adjust(comparisons: Sequence[Comparison], confidence: float, seeds: int, pedestrians: bool = True
           ) -> dict[str, dict[str, Any]]:
    """Holm-adjust every family in place: each difference entry gets ``family``, ``p_holm``, ``verdict`` and
    ``finding``. Returns, per family, its description, its size and its number of verdicts (for the summary).
    ``pedestrians``: whether pedestrian recall is informative (else its differences stay out of every family)."""
    members: dict[str, list[dict[str, Any]]] = {name: [] for name in FAMILIES}
    for comp in comparisons:
        members[family(comp)] += list(_entries(comp, pedestrians))
    alpha = 1 - confidence
    out = {}
    for name, entries in members.items():
        for entry, p in zip(entries, holm([e["p"] for e in entries]), strict=True):
            entry.update(family=name, p_holm=round(p, 6), verdict=verdict(entry, p, alpha),
                         finding=seeds >= MIN_SEEDS and verdict(entry, p, alpha) != "none")
        text = FAMILIES[name] if pedestrians else WITHOUT_PEDESTRIANS.get(name, FAMILIES[name])
        out[name] = {"title": TITLES[name], "description": text, "size": len(entries),
                     "verdicts": sum(e["verdict"] != "none" for e in entries)}
    for comp in comparisons:  # each class-region table: a family of its classes
        regions = [e for e in (comp.class_psnr or {}).values() if e is not None]
        for entry, p in zip(regions, holm([e["p"] for e in regions]), strict=True):
            entry.update(p_holm=round(p, 6), verdict=verdict(entry, p, alpha))
    return out


def class_family(intervals: dict[str, tuple[float, float, float] | None], confidence: float
                 ) -> dict[str, tuple[float, bool] | None]:
    """The per-class IoU differences of one scale as a family: per class, the Holm-adjusted p-value and whether the
    difference is clear (interval excludes zero, adjusted p below 1 − confidence)."""
    known = {name: iv for name, iv in intervals.items() if iv is not None}
    adjusted = dict(zip(known, holm([iv[2] for iv in known.values()]), strict=True))
    out: dict[str, tuple[float, bool] | None] = {}
    for name, iv in intervals.items():
        if iv is None:
            out[name] = None
            continue
        p = adjusted[name]
        out[name] = (p, p < 1 - confidence and (iv[0] > 0 or iv[1] < 0))
    return out
