"""Whether the pedestrian measure carries signal, and the words for it (issue 30.6).

Pedestrian recall can rank methods only where the segmenter finds pedestrians at all: when even the HR-trained
PSPNet on HR images misses almost every one, a degraded input can only move recall among a handful of found
instances, and a "difference" between methods is noise at the floor. The gate: the HR segmenter's recall of
*reasonably sized* pedestrians (person and rider instances at least ``objects.reasonable_height`` HR pixels high,
CityPersons-style) must reach ``objects.informative_recall`` with the lower bound of its 95 % interval. The
summarize stage decides it from the data (:func:`informative`) and records it in ``settings.objects``; when it
fails, the pedestrian comparisons stay out of the Holm families (:func:`srseg.results.families.adjust`) and get
no verdict, and the report, the reading and the figure say "uninformative" (:func:`gate_words`) instead of
ranking methods by it. Summaries written before the gate (no ``informative`` key) have no :class:`Gate`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from srseg.methods import registry as methods
from srseg.results.schema import Summary
from srseg.results.wording import degenerate, level_cell, pct


def informative(hr_objects: Mapping[str, Any] | None, threshold: float) -> bool:
    """Whether the HR variant's ``reasonable_recall`` entry (``{value, ci95}`` as the summary stores it) has the
    lower bound of its interval at ``threshold`` or above; False without one (no reasonably sized pedestrian)."""
    entry = (hr_objects or {}).get("reasonable_recall")
    if not entry or not entry.get("ci95") or entry["ci95"][0] is None:
        return False
    return bool(entry["ci95"][0] >= threshold)


@dataclass(frozen=True)
class Gate:
    """The gate of a summary: its outcome, the HR recall it was decided on, the threshold and the height."""

    informative: bool
    recall: Mapping[str, Any] | None  # the HR variant's reasonable_recall entry, {value, ci95}, or None
    threshold: float  # objects.informative_recall
    min_height: float  # objects.reasonable_height, HR pixels


def gate(summary: Summary) -> Gate | None:
    """The summary's gate; None without instance ground truth or for a summary written before the gate."""
    o = summary.settings.get("objects")
    if not o or "informative" not in o:
        return None
    hr = summary.find_variant(methods.HR)
    recall = ((hr.get("objects") or {}) if hr else {}).get("reasonable_recall")
    return Gate(bool(o["informative"]), recall, float(o["informative_recall"]), float(o["reasonable_height"]))


def found(g: Gate, compact: bool = False) -> str:
    """``2.1 % (95 % CI [0.0, 4.8])``, or ``compact`` ``2.1 % [0.0, 4.8]`` (a title, a table): the HR recall of
    reasonably sized pedestrians with its interval."""
    if not g.recall:
        return "n/a"
    cell = level_cell(g.recall["value"], g.recall["ci95"], digits=1)
    if compact or degenerate(g.recall["ci95"]):
        return cell
    head, _, ends = cell.partition(" [")
    return f"{head} (95 % CI [{ends})"


def reasonable(g: Gate) -> str:
    """What "reasonably sized" means here."""
    return f"at least {g.min_height:g} px high in HR pixels"


def gate_words(g: Gate) -> str:
    """The gate's sentence: "uninformative: the HR segmenter finds only …, so methods are not ranked by it", or
    "informative: …"."""
    need = f"its interval's lower bound must reach {pct(g.threshold, 0)}, `objects.informative_recall`"
    if g.informative:
        return (f"informative: the HR segmenter (the HR-trained PSPNet on HR images) finds {found(g)} of reasonably "
                f"sized pedestrians ({reasonable(g)}; {need}), so methods are compared by it")
    if not g.recall:
        return (f"uninformative: the val images hold no reasonably sized pedestrian ({reasonable(g)}), so methods "
                "are not ranked by it")
    return (f"uninformative: the HR segmenter (the HR-trained PSPNet on HR images) finds only {found(g)} of "
            f"reasonably sized pedestrians ({reasonable(g)}; {need}), so methods are not ranked by it")


def title_words(g: Gate) -> str:
    """The gate in a figure title: "uninformative: HR finds only 2.1 % [0.0, 4.8] of pedestrians ≥ 10 px high"."""
    if g.informative:
        return f"HR finds {found(g, compact=True)} of pedestrians ≥ {g.min_height:g} px high"
    return (f"uninformative: HR finds only {found(g, compact=True)} of pedestrians ≥ {g.min_height:g} px high, so "
            "methods are not ranked by it")
