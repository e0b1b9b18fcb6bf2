"""The degradation sweep (issue 29.5, "the ×3 cliff"): segmentation against the degradation factor, per class.

One CamVid run saw SR − bicubic PACC of +11.5 pp at ×3 from one class crossing a threshold (vegetation IoU 88.1 on
HR, 8.8 on bicubic ×3, 65.9 on SR ×3) while SR's PSNR gain was small. The sweep asks whether SR is what helps, or
whether any input that keeps the HR segmenter above its blur threshold does: every factor of ``cliff.factors`` is
its own bicubic down-and-up val set (:func:`srseg.degrade.down_up`), scored by the HR-trained PSPNet and by each
sweep method's segmenter (group ``sweep`` of :mod:`srseg.methods`: the blur-augmented PSPNet), both also on the SR
images where SR exists (the sweep's integer factors that are ``scales``: no DCSCN is trained for ×2.5 or ×3.5, and
none is substituted). Factor 1 is the HR images (the segmenters' own ``evaluate_<method>`` stages).

A *line* is a segmenter on one kind of input (``hr_bicubic``: the HR-trained PSPNet on the degraded sets, its factor
1 the HR images; ``hr_sr``: the same on SR images). The summarize stage writes three series
(:func:`write_series`): ``cliff.csv`` (a row per factor: PACC and mIoU of every line with 95 % intervals, for
``dvc plots``), ``cliff_class_iou.csv`` (IoU per factor, line and class) and ``cliff_diffs.csv`` (per factor, each
sweep segmenter against the HR-trained one on the same images, SR against bicubic input, and each sweep segmenter on
bicubic input against the HR-trained one on SR input: differences with intervals, Holm-adjusted — PACC and mIoU
over the whole sweep as one family, the classes of one comparison as another). The plots stage draws the figure
(:func:`srseg.results.scale_figures.fig_cliff`) and the report's section (:func:`cliff_section`) from them.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from srseg.errors import SrsegError
from srseg.labels import TRAIN_NAMES
from srseg.methods import registry as methods
from srseg.methods.base import Method
from srseg.metrics.seg import class_iou, load_per_image, pacc_miou
from srseg.params import Params
from srseg.paths import DEGRADED, REPO, SUPER_RESOLVED, Paths, cliff_variant, factor_name
from srseg.results.blocks import Design
from srseg.results.estimates import rounded
from srseg.results.families import class_family
from srseg.results.inputs import Evaluation
from srseg.results.schema import VariantKey, short_label
from srseg.results.series import write_csv
from srseg.results.stats import bootstrap_interval, holm, paired_bootstrap
from srseg.results.wording import and_list, effect, pct, table

CLIFF_CSV = "cliff.csv"
CLIFF_CLASS_CSV = "cliff_class_iou.csv"
CLIFF_DIFFS_CSV = "cliff_diffs.csv"
SEG = ("pacc", "miou")
BICUBIC_INPUT, SR_INPUT = DEGRADED, SUPER_RESOLVED


@dataclass(frozen=True)
class Line:
    """A segmenter (the HR method's, or a sweep method's) on one kind of input: the degraded sets or SR images."""

    method: Method
    source: str  # BICUBIC_INPUT | SR_INPUT

    @property
    def key(self) -> str:
        return f"{self.method.segmenter}_{self.source}"

    @property
    def segmenter(self) -> str:
        return "HR-trained PSPNet" if self.method is methods.HR else self.method.segmenter_label

    @property
    def label(self) -> str:
        return f"{self.segmenter}, {short_label(self.images)} input"

    @property
    def images(self) -> Method:
        """The chain method whose kind of images the line's segmenter sees: bicubic (the sweep's sets) or SR."""
        return methods.BICUBIC if self.source == BICUBIC_INPUT else methods.SR

    @property
    def colour(self) -> str:
        return self.images.colour if self.method is methods.HR else self.method.colour

    @property
    def marker(self) -> str:
        return self.images.marker if self.method is methods.HR else self.method.marker

    @property
    def dashed(self) -> bool:
        """A sweep method's SR line is dashed (its colour is its bicubic line's)."""
        return self.method is not methods.HR and self.source == SR_INPUT


def lines() -> list[Line]:
    """Every line of the sweep: the HR-trained PSPNet on bicubic and SR input, then each sweep method's."""
    return [Line(m, src) for m in (methods.HR, *methods.swept()) for src in (BICUBIC_INPUT, SR_INPUT)]


def line_keys() -> list[str]:
    """The lines' keys, the suffixes of ``cliff.csv``'s columns (``miou_hr_bicubic``)."""
    return [ln.key for ln in lines()]


def line(key: str) -> Line:
    return next(ln for ln in lines() if ln.key == key)


def factor_label(factor: float) -> str:
    """``HR`` for factor 1 (the undegraded images), else ``×2.5``."""
    return "HR" if float(factor) == 1 else f"×{factor_name(factor)}"


def points(line_: Line, params: Params) -> list[float]:
    """The factors a line has: 1 and every sweep factor on bicubic input; the SR scales of the sweep on SR input."""
    if line_.source == SR_INPUT:
        return [float(s) for s in params.sweep_sr_scales]
    return [1.0, *map(float, params.cliff.factors)]


# --- loading (the summarize stage) ------------------------------------------------------------------------------


def load_cms(line_: Line, factor: float, params: Params, paths: Paths, evaluations: dict[VariantKey, Evaluation],
             ids: list[str]) -> np.ndarray:
    """Every seed's per-image confusion matrices ``(S, N, C, C + 1)`` of a line at ``factor``, in the val order
    ``ids``: the methods' own evaluations (HR images; the HR-trained PSPNet on SR images) or ``evaluate_cliff``'s."""
    m = line_.method
    if factor == 1:
        return evaluations[VariantKey.of(m)].cms
    if line_.source == SR_INPUT and m is methods.HR:
        return evaluations[VariantKey.of(methods.SR, int(factor))].cms
    name = cliff_variant(m.segmenter, line_.source, factor)
    out = []
    for k in params.seeds:
        path = paths.cliff_per_image(name, k)
        if not path.is_file():
            raise SrsegError(f"{path}: missing input (written by the evaluate_cliff@{k} stage; run it first)")
        out.append(load_per_image(path, ids, expected_from="the other variants' val images")[1])
    return np.stack(out)


def _scores(sums: np.ndarray) -> dict[str, np.ndarray]:
    """:data:`srseg.results.stats.MetricFn` of the sweep: PACC, mIoU and every class's IoU."""
    pacc, miou = pacc_miou(sums)
    iou = class_iou(sums)
    return {"pacc": pacc, "miou": miou, **{name: iou[..., c] for c, name in enumerate(TRAIN_NAMES)}}


def _per_seed_mean(cms: np.ndarray) -> dict[str, float | None]:
    """Each score's mean over the seeds' own scores (as the summary's variants), None where a seed lacks it."""
    per_seed = _scores(cms.sum(axis=1))
    return {k: rounded(float(v.mean())) if np.all(np.isfinite(v)) else None for k, v in per_seed.items()}


@dataclass
class Sweep:
    """Every line's scores per factor with intervals, and the comparisons (:func:`compute`)."""

    values: dict[tuple[str, float], dict[str, tuple[float | None, float | None, float | None]]]
    diffs: list[dict[str, Any]]


def comparisons(params: Params) -> list[tuple[float, Line, Line]]:
    """``(factor, b, a)``: each sweep segmenter against the HR-trained one on the same degraded images (and HR
    images); where SR exists, SR against bicubic input for every segmenter, and each sweep segmenter on bicubic input
    against the HR-trained one on SR input."""
    hr_b, hr_s = Line(methods.HR, BICUBIC_INPUT), Line(methods.HR, SR_INPUT)
    out = []
    for m in methods.swept():
        mb = Line(m, BICUBIC_INPUT)
        out += [(f, mb, hr_b) for f in points(mb, params)]
    for s in map(float, params.sweep_sr_scales):
        out.append((s, hr_s, hr_b))
        for m in methods.swept():
            out += [(s, Line(m, BICUBIC_INPUT), hr_s), (s, Line(m, SR_INPUT), Line(m, BICUBIC_INPUT))]
    return out


def compute(params: Params, paths: Paths, evaluations: dict[VariantKey, Evaluation], design: Design) -> Sweep:
    """Scores of every line at every factor (mean over seeds, 95 % bootstrap interval over seeds and val images as
    the summary's) and every comparison of :func:`comparisons` (paired bootstrap, Holm-adjusted)."""
    st = params.stats
    ids = evaluations[VariantKey.of(methods.HR)].ids
    cms = {(ln.key, f): load_cms(ln, f, params, paths, evaluations, ids) for ln in lines() for f in points(ln, params)}
    values: dict[tuple[str, float], dict[str, tuple[float | None, float | None, float | None]]] = {}
    for key, records in cms.items():
        mean = _per_seed_mean(records)
        ci = bootstrap_interval(records, _scores, st.resamples, st.seed, st.confidence, design, by_seed=True)
        values[key] = {k: (mean[k], *((None, None) if (iv := ci[k]) is None or mean[k] is None
                                      else (rounded(iv.low), rounded(iv.high)))) for k in mean}
    diffs: list[dict[str, Any]] = []
    for f, b, a in comparisons(params):
        comp = paired_bootstrap(cms[(a.key, f)], cms[(b.key, f)], _scores, st.resamples, st.seed, st.confidence,
                                design, by_seed=True)
        rows: dict[str, dict[str, Any]] = {}
        for metric, cmp in comp.items():
            rows[metric] = {"factor": f, "b": b.key, "a": a.key, "b_label": b.label, "a_label": a.label,
                            "metric": metric, "diff": None, "diff_lo": None, "diff_hi": None, "p": None,
                            "p_holm": None, "clear": None}
            if cmp is not None:
                rows[metric] |= {"diff": rounded(cmp.diff.point), "diff_lo": rounded(cmp.diff.low),
                                 "diff_hi": rounded(cmp.diff.high), "p": rounded(cmp.diff.p_value)}
        classes = {n: None if (cmp := comp[n]) is None else (cmp.diff.low, cmp.diff.high, cmp.diff.p_value)
                   for n in TRAIN_NAMES}
        for n, adj in class_family(classes, st.confidence).items():
            if adj is not None:
                rows[n] |= {"p_holm": rounded(adj[0]), "clear": int(adj[1])}
        diffs += rows.values()
    seg = [r for r in diffs if r["metric"] in SEG and r["diff"] is not None]
    for r, p in zip(seg, holm([r["p"] for r in seg]), strict=True):
        r |= {"p_holm": rounded(p), "clear": int(p < 1 - st.confidence and (r["diff_lo"] > 0 or r["diff_hi"] < 0))}
    return Sweep(values, diffs)


# --- the series -------------------------------------------------------------------------------------------------


def point_columns() -> list[str]:
    return ["factor", *(f"{k}_{ln}{end}" for ln in line_keys() for k in SEG for end in ("", "_lo", "_hi"))]


CLASS_COLUMNS = ["factor", "line", "label", "class", "train_id", "iou", "iou_lo", "iou_hi"]
DIFF_COLUMNS = ["factor", "b", "a", "b_label", "a_label", "metric", "diff", "diff_lo", "diff_hi", "p", "p_holm",
                "clear"]


def point_rows(sweep: Sweep, params: Params) -> list[dict[str, Any]]:
    """One row per factor (1: HR images): PACC and mIoU of every line with their intervals (empty where a line has
    no point, e.g. SR at ×2.5)."""
    rows = []
    for f in [1.0, *map(float, params.cliff.factors)]:
        row: dict[str, Any] = {"factor": f}
        for ln in line_keys():
            v = sweep.values.get((ln, f), {})
            for k in SEG:
                row[f"{k}_{ln}"], row[f"{k}_{ln}_lo"], row[f"{k}_{ln}_hi"] = v.get(k, (None, None, None))
        rows.append(row)
    return rows


def class_rows(sweep: Sweep) -> list[dict[str, Any]]:
    """One row per (factor, line, class): the class's IoU with its interval."""
    return [{"factor": f, "line": key, "label": line(key).label, "class": name, "train_id": c,
             "iou": v[name][0], "iou_lo": v[name][1], "iou_hi": v[name][2]}
            for (key, f), v in sweep.values.items() for c, name in enumerate(TRAIN_NAMES)]


def write_series(folder: Path, params: Params, paths: Paths, evaluations: dict[VariantKey, Evaluation],
                 design: Design) -> None:
    """The sweep's three CSV series into ``folder`` (the summarize stage's temporary ``plots/series``)."""
    sweep = compute(params, paths, evaluations, design)
    write_csv(folder / CLIFF_CSV, point_columns(), point_rows(sweep, params))
    write_csv(folder / CLIFF_CLASS_CSV, CLASS_COLUMNS, class_rows(sweep))
    write_csv(folder / CLIFF_DIFFS_CSV, DIFF_COLUMNS, sweep.diffs)


# --- reading the series (the plots stage) -------------------------------------------------------------------------


def iou_index(rows: list[dict[str, Any]]) -> dict[tuple[str, float, str], dict[str, Any]]:
    """``cliff_class_iou.csv`` rows by (line, factor, class)."""
    return {(r["line"], float(r["factor"]), r["class"]): r for r in rows}


def focus_classes(rows: list[dict[str, Any]], factors: Sequence[float], n: int) -> list[str]:
    """The ``n`` classes whose IoU under the HR-trained PSPNet falls most from the first to the last factor of the
    sweep (from HR images to the factor when the sweep has one): the classes that cross a blur threshold."""
    idx = iou_index(rows)
    key = Line(methods.HR, BICUBIC_INPUT).key
    first, last = (float(factors[0]), float(factors[-1])) if len(factors) > 1 else (1.0, float(factors[0]))
    drops = []
    for name in TRAIN_NAMES:
        a, b = idx.get((key, first, name)), idx.get((key, last, name))
        if a and b and a["iou"] is not None and b["iou"] is not None:
            drops.append((a["iou"] - b["iou"], name))
    return [name for _, name in sorted(drops, key=lambda d: (-d[0], TRAIN_NAMES.index(d[1])))[:n]]


def _diff(diffs: list[dict[str, Any]], f: float, b: str, a: str, metric: str) -> dict[str, Any] | None:
    """A comparison row as :func:`srseg.results.wording.effect` reads it (``verdict`` from its Holm-adjusted
    p-value), None when absent or undefined."""
    for r in diffs:
        if float(r["factor"]) == f and (r["b"], r["a"], r["metric"]) == (b, a, metric) and r["diff"] is not None:
            return {"diff": r["diff"], "ci95": [r["diff_lo"], r["diff_hi"]],
                    "verdict": "none" if not r["clear"] else ("higher" if r["diff"] > 0 else "lower")}
    return None


def _steepest(idx: dict[tuple[str, float, str], dict[str, Any]], key: str, factors: list[float], name: str
              ) -> tuple[float, float, float] | None:
    """The largest IoU drop between consecutive factors (from HR images on): (from, to, drop)."""
    best = None
    for f0, f1 in itertools.pairwise(factors):
        a, b = idx.get((key, f0, name)), idx.get((key, f1, name))
        if not (a and b) or a["iou"] is None or b["iou"] is None:
            continue
        if best is None or a["iou"] - b["iou"] > best[2]:
            best = (f0, f1, a["iou"] - b["iou"])
    return best


def cliff_section(points_: list[dict[str, Any]], class_rows_: list[dict[str, Any]], diffs: list[dict[str, Any]],
                  params: Params) -> list[str]:
    """The report's section on the sweep: what the numbers say, worded from them (every difference by its interval
    and Holm-adjusted verdict), and a table of the lines' scores per factor."""
    factors = [1.0, *map(float, params.cliff.factors)]
    idx = iou_index(class_rows_)
    by_factor = {float(r["factor"]): r for r in points_}
    hr_b, hr_s = Line(methods.HR, BICUBIC_INPUT), Line(methods.HR, SR_INPUT)
    focus = focus_classes(class_rows_, params.cliff.factors, params.cliff.classes)
    sweep_name = and_list([factor_label(f) for f in factors[1:]])
    text = [f"Each of {sweep_name} is its own val set: every HR val image bicubic down by the factor (to "
            "round(W/f) × round(H/f)) and back up to HR size. SR exists only where a DCSCN was trained "
            f"({and_list([factor_label(s) for s in params.sweep_sr_scales]) if params.sweep_sr_scales else 'none'} "
            "here: the sweep's integer factors that are `scales`); no model is substituted at the other factors."]

    def curve(key: str, metric: str) -> str:
        return ", ".join(f"{pct(by_factor[f].get(f'{metric}_{key}'), 1)} at {factor_label(f)}" for f in factors
                         if by_factor.get(f, {}).get(f"{metric}_{key}") is not None)

    text.append(f"The HR-trained PSPNet's mIoU from HR images through the sweep: {curve(hr_b.key, 'miou')}.")
    if focus:
        parts = []
        first, last = (factors[1], factors[-1]) if len(factors) > 2 else (1.0, factors[-1])
        for name in focus:
            a, b = (idx.get((hr_b.key, f, name)) for f in (first, last))
            step = _steepest(idx, hr_b.key, factors, name)
            part = f"{name} ({pct(a['iou'] if a else None, 1)} → {pct(b['iou'] if b else None, 1)}"
            if step:
                part += (f"; its steepest step {factor_label(step[0])} → {factor_label(step[1])}, "
                         f"{step[2] * 100:.1f} pp")
            parts.append(part + ")")
        text.append(f"The classes whose IoU falls most between {factor_label(first)} and {factor_label(last)}: "
                    f"{and_list(parts)}.")
    for m in methods.swept():
        mb, ms = Line(m, BICUBIC_INPUT), Line(m, SR_INPUT)
        own = [effect(_diff(diffs, 1.0, mb.key, hr_b.key, k), "", up="raises", down="lowers", what=name,
                      unit="pp", factor=100) for k, name in (("miou", "mIoU"), ("pacc", "PACC"))]
        text.append(f"On HR images, the {mb.segmenter} (the control) against the HR-trained PSPNet: "
                    + "; ".join(own) + ".")
        gains = [effect(_diff(diffs, f, mb.key, hr_b.key, "miou"), f"at {factor_label(f)}", up="raises it",
                        down="lowers it", unit="pp", factor=100) for f in factors[1:]]
        text.append(f"On the degraded images the {mb.segmenter}'s mIoU against the HR-trained PSPNet's: "
                    + "; ".join(gains) + ".")
        for s in map(float, params.sweep_sr_scales):
            sr_gain = effect(_diff(diffs, s, hr_s.key, hr_b.key, "miou"), "", up="SR input raises it",
                             down="SR input lowers it", unit="pp", factor=100)
            control = _diff(diffs, s, mb.key, hr_s.key, "miou")
            vs_sr = effect(control, "", up="the control is higher", down="the control is lower",
                           unit="pp", factor=100)
            on_top = effect(_diff(diffs, s, ms.key, mb.key, "miou"), "", up="SR raises it further",
                            down="SR lowers it", unit="pp", factor=100)
            text.append(f"At {factor_label(s)}, mIoU of the HR-trained PSPNet on SR against bicubic input: {sr_gain}; "
                        f"the {mb.segmenter} on bicubic input against the HR-trained PSPNet on SR input: {vs_sr}; "
                        f"the {mb.segmenter} on SR against bicubic input: {on_top}.")
        verdicts: dict[str, list[str]] = {"higher": [], "none": [], "lower": []}
        for s in map(float, params.sweep_sr_scales):
            d = _diff(diffs, s, mb.key, hr_s.key, "miou")
            if d is not None:
                verdicts[d["verdict"]].append(factor_label(s))
        said = [f"beats SR input at {and_list(v)}" if k == "higher" else
                f"is not measurably apart from SR input at {and_list(v)}" if k == "none" else
                f"falls short of SR input at {and_list(v)}" for k, v in verdicts.items() if v]
        if said:
            text.append(f"In short, by mIoU the {mb.segmenter} on plain bicubic input " + "; ".join(said)
                        + " (Holm-adjusted over the sweep's PACC and mIoU comparisons).")
        if focus and params.sweep_sr_scales:
            top = focus[0]
            clauses = [effect(_diff(diffs, s, mb.key, hr_s.key, top), f"at {factor_label(s)}", up="higher",
                              down="lower", unit="pp", factor=100) for s in params.sweep_sr_scales]
            text.append(f"For {top}, the class that falls most, the {mb.segmenter} on bicubic input against the "
                        "HR-trained PSPNet on SR input (Holm-adjusted over the classes of each comparison): "
                        + "; ".join(clauses) + ".")
    header = ["score", "segmenter, input"] + [factor_label(f) for f in factors]
    rows = []
    for metric in ("miou", "pacc", *focus):
        for ln in lines():
            cells = []
            for f in factors:
                if metric in SEG:
                    v = by_factor.get(f, {}).get(f"{metric}_{ln.key}")
                else:
                    r = idx.get((ln.key, f, metric))
                    v = None if r is None else r["iou"]
                cells.append("–" if f not in points(ln, params) else pct(v, 1))
            if any(c not in ("–", "n/a") for c in cells):
                rows.append([{"miou": "mIoU", "pacc": "PACC"}.get(metric, f"IoU {metric}"), ln.label, *cells])
    return ["## The ×3 cliff: segmentation against the degradation factor", "",
            "\n\n".join(text), "",
            f"Scores in % (mean over seeds; with their 95 % intervals in `{(REPO.series / CLIFF_CSV).as_posix()}` and "
            f"`{CLIFF_CLASS_CSV}`, the differences in `{CLIFF_DIFFS_CSV}`); – where a line has no point.", "",
            table(header, rows, "ll" + "r" * len(factors)), ""]
