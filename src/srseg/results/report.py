"""``report.md``: the study's numbers as Markdown tables with their intervals, the figures, a reading computed from
the numbers, and the params that produced them. Written by the plots stage; every sentence is derived from the data.

The reading follows the intervals: a difference is called an improvement (or a loss) only when its 95 %
bootstrap interval excludes zero and, with several training seeds, so does the Student-t interval of its per-seed
values (:func:`measurable`); otherwise it is "no measurable difference", with the intervals.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from srseg.methods import registry as methods
from srseg.io import atomic_file
from srseg.labels import TRAIN_NAMES
from srseg.paths import REPO
from srseg.results.summary import ordered, retrain_rows

FIGURE_CAPTIONS = {
    "psnr": "Graph 1 — Y-PSNR and Y-SSIM of bicubic and SR vs downscaling factor",
    "pacc": "Graph 2 — PACC and mIoU of the HR-trained PSPNet on bicubic-LR and SR images; HR as reference",
    "gain": "Graph 3 — relative gain of SR over bicubic (%), with 95 % intervals",
    "class_iou": "Per-class IoU change, SR − bicubic (percentage points)",
    "retrain": "Retraining PSPNet on SR images (book §18)",
    "pedestrians": ("Pedestrian recall (person + rider instances found) vs downscaling factor, by instance size, "
                    "with the best combination method (by combined score)"),
    "methods": "Combining SR and segmentation (research tasks 2–4), ranked by the combined score",
    "tradeoff": "Y-PSNR of the images each segmenter sees against its mIoU",
    "class_psnr": "Segmentation-assisted SR (research task 3): Y-PSNR change per class region",
    "table4": "Table 4 — example val image and its segmentations",
}


def pct(frac: float | None, digits: int = 2) -> str:
    """A fraction as a percentage: ``0.9123`` → ``91.23 %``."""
    return "n/a" if frac is None else f"{frac * 100:.{digits}f} %"


def level(v: float | None, digits: int = 2) -> str:
    """A number with a real minus sign when negative (``n/a`` for None)."""
    return "n/a" if v is None else f"{v:.{digits}f}".replace("-", "−")


def signed(v: float | None, unit: str = "", digits: int = 2) -> str:
    """``+1.23 unit`` / ``−0.40 unit`` with a real minus sign (``n/a`` for None)."""
    if v is None:
        return "n/a"
    return f"{v:+.{digits}f}".replace("-", "−") + (f" {unit}" if unit else "")


def enough_digits(values: Sequence[float | None], digits: int = 2, most: int = 5, *, apart: bool = False) -> int:
    """At least ``digits`` decimals, more (up to ``most``) until no non-zero value reads as zero: an interval that
    excludes zero must not print as [+0.00, +0.01]. ``apart``: also until different values read differently
    (two numbers set side by side, "+0.005 against +0.012", not "+0.01 against +0.01")."""
    nonzero = [abs(x) for x in values if x]
    known = [x for x in values if x is not None]

    def unclear(d: int) -> bool:
        if any(round(x, d) == 0 for x in nonzero):
            return True
        return apart and len({round(x, d) for x in known}) < len(set(known))

    while digits < most and unclear(digits):
        digits += 1
    return digits


def interval(ci: Sequence[float | None] | None, factor: float = 1.0, unit: str = "", digits: int = 2) -> str:
    """``[−0.12, +0.34] unit`` (``n/a`` when missing)."""
    if not ci or ci[0] is None or ci[1] is None:
        return "n/a"
    lo, hi = (signed(x * factor, "", digits) for x in ci)
    return f"[{lo}, {hi}]" + (f" {unit}" if unit else "")


def level_interval(ci: Sequence[float | None] | None, factor: float = 1.0, unit: str = "", digits: int = 2) -> str:
    """``[0.12, 0.34] unit``: the interval of a level (a score, not a difference), without signs."""
    if not ci or ci[0] is None or ci[1] is None:
        return "n/a"
    lo, hi = (f"{x * factor:.{digits}f}".replace("-", "−") for x in ci)
    return f"[{lo}, {hi}]" + (f" {unit}" if unit else "")


def excludes_zero(ci: Sequence[float | None] | None) -> bool:
    """True when a difference's interval lies entirely above or below zero."""
    return bool(ci) and ci[0] is not None and ci[1] is not None and (ci[0] > 0 or ci[1] < 0)


def measurable(diff: dict[str, Any] | None, ci: Sequence[float | None] | None = None) -> bool:
    """Whether a difference reads as a change: its bootstrap interval (``ci``, default ``diff["ci95"]``) excludes
    zero and, when there are several training seeds, so does the t-interval of the per-seed differences. The
    bootstrap resamples images and holds each trained model fixed; only the seeds show how far training noise moves
    a difference."""
    if not diff:
        return False
    spread = diff.get("seeds")
    return excludes_zero(diff["ci95"] if ci is None else ci) and (not spread or excludes_zero(spread["ci95"]))


def _table(header: Sequence[str], rows: Sequence[Sequence[str]], align: str = "") -> str:
    """A Markdown table; ``align`` is one char per column (l or r, default r except the first)."""
    align = align or "l" + "r" * (len(header) - 1)
    sep = ["---:" if a == "r" else ":---" for a in align]
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join(sep) + " |"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def _and(items: Sequence[str]) -> str:
    """``["a"]`` → ``a``; ``["a", "b", "c"]`` → ``a, b and c``."""
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _effect(diff: dict[str, Any] | None, where: str, *, up: str, down: str, what: str = "", relative: bool = True,
            unit: str = "%", factor: float = 1.0) -> str:
    """One clause about a difference, worded by its interval: "<up> [what] <where> by +1.16 % (95 % CI
    [+0.40, +1.90] %)", or "no measurable difference [in what] <where>: +0.05 % (95 % CI [−0.30, +0.20] %)"."""

    def words(*parts: str) -> str:
        return " ".join(p for p in parts if p)

    if diff is None:
        return words(what or "the difference", "is undefined", where)
    value, ci = (diff["gain_pct"], diff["gain_pct_ci95"]) if relative else (diff["diff"], diff["ci95"])
    if value is None:
        return words("the relative change", f"in {what}" if what else "", "is undefined", where,
                     "(the reference scores 0)")
    d = enough_digits([value * factor, *(x * factor for x in ci or () if x is not None)])
    shown = f"{signed(value * factor, unit, d)} (95 % CI {interval(ci, factor, unit, d)}"
    if spread := diff.get("seeds"):  # the per-seed differences are absolute: pp for a relative gain
        f, u = (100.0, "pp") if relative else (factor, unit)
        shown += f"; across seeds {interval(spread['ci95'], f, u, enough_digits([x * f for x in spread['ci95']]))}"
    shown += ")"
    if not measurable(diff, ci):
        return words("no measurable difference", f"in {what}" if what else "", where) + f": {shown}"
    return words(up if value > 0 else down, what, where, "by", shown)


def reading(summary: dict[str, Any], params: Any) -> str:
    """The paragraphs describing what the numbers say, computed from ``summary``."""
    v, c = summary["variants"], summary["comparisons"]
    scales = list(params.scales)
    text = []
    psnr = [_effect(c[f"sr_x{s}-vs-bicubic_x{s}"]["psnr_y"], f"at ×{s}", up="SR raises it", down="SR lowers it",
                    relative=False, unit="dB") for s in scales]
    text.append("Y-PSNR of super-resolution against bicubic upscaling: " + "; ".join(psnr) + ".")
    for key, name in (("pacc", "pixel accuracy"), ("miou", "mean IoU")):
        parts = [_effect(c[f"sr_x{s}-vs-bicubic_x{s}"][key], f"at ×{s}", up="SR improves it", down="SR lowers it")
                 for s in scales]
        text.append(f"The HR-trained PSPNet's {name} on SR input, relative to bicubic input: " + "; ".join(parts) + ".")
    # How much of the HR–bicubic gap SR closes, where bicubic is measurably below HR and SR measurably moves it.
    hr = v["hr"]["pacc"]
    closed, widened = [], []
    for s in scales:
        gap, moved = c[f"bicubic_x{s}-vs-hr"]["pacc"], c[f"sr_x{s}-vs-bicubic_x{s}"]["pacc"]
        if measurable(gap) and gap["diff"] < 0 and measurable(moved):
            share = (v[f"sr_x{s}"]["pacc"] - v[f"bicubic_x{s}"]["pacc"]) / -gap["diff"] * 100
            if share >= 0:
                closed.append(f"{share:.0f} % of the gap at ×{s}")
            else:
                widened.append(f"by {-share:.0f} % at ×{s}")
    parts = [f"SR recovers {_and(closed)}"] if closed else []
    parts += [f"SR widens the gap {_and(widened)}"] if widened else []
    if parts:
        text.append(f"Where bicubic input is measurably below HR pixel accuracy ({pct(hr)}), " + "; ".join(parts) + ".")
    for name in ordered(v):
        e = v[name]
        m = methods.get(e["method"])
        if m.group != "retrain" or not m.baseline or m.baseline == "hr":
            continue
        base = methods.get(m.baseline).variant(e["scale"])
        comp = c[f"{name}-vs-{base}"]
        clauses = [_effect(comp[k], "", up="improves", down="lowers", what=label, relative=False, unit="pp",
                           factor=100) for k, label in (("pacc", "PACC"), ("miou", "mIoU"))]
        text.append(f"{m.label_at(e['scale'])}, against the HR-trained PSPNet on the same images: "
                    + "; ".join(clauses) + f" (PACC {pct(e['pacc'])} vs {pct(v[base]['pacc'])}).")
    if summary["settings"].get("objects"):
        parts = []
        for s in scales:
            o = c[f"sr_x{s}-vs-bicubic_x{s}"].get("objects") or {}
            parts.append(_effect(o.get("pedestrian_recall"), f"at ×{s}", up="SR raises it", down="SR lowers it",
                                 relative=False, unit="pp", factor=100))
        hr_rec = (v["hr"].get("objects") or {}).get("pedestrian_recall")
        text.append("Pedestrian recall (person and rider instances found by a segment overlapping them with IoU ≥ "
                    f"{summary['settings']['objects']['iou']}; on HR images "
                    f"{'n/a' if not hr_rec else pct(hr_rec['value'], 1)}), SR against bicubic input: "
                    + "; ".join(parts) + ".")
    text += combination_reading(summary)
    seeds = summary["settings"]["seeds"]
    if len(seeds) > 1:
        text.append(f"Every number is the mean over {len(seeds)} training seeds ({', '.join(map(str, seeds))}); "
                    "the intervals pool their images, and the tables give the spread across seeds.")
    return "\n\n".join(text)


def _label(v: dict[str, Any], name: str) -> str:
    return v[name]["label"] if name in v else name


def combination_reading(summary: dict[str, Any]) -> list[str]:
    """Sentences on the combination study: the ranking and its margin, and each method against its control."""
    v, c = summary["variants"], summary["comparisons"]
    text = []
    for key, entry in summary.get("combined", {}).items():
        rows = [r for r in entry["rows"] if not r["upper_bound"]]
        if not rows:
            continue
        first = rows[0]
        sentence = (f"At ×{key[1:]}, the combined score (½ · (PACC/PACC_HR + share of bicubic's luma error removed)) "
                    f"ranks {first['label']} first ({level(first['score'], 3)}, 95 % CI "
                    f"{level_interval(first['score_ci95'], digits=3)})")
        margin = entry.get("margin")
        if margin:
            spread = margin.get("seeds")
            d = enough_digits([margin["diff"], *margin["ci95"], *(spread["ci95"] if spread else ())], 3)
            sentence += (f"; its margin over {_label(v, margin['second'])} is {signed(margin['diff'], '', d)} "
                         f"(95 % CI {interval(margin['ci95'], 1, '', d)}"
                         + (f"; across seeds {interval(spread['ci95'], 1, '', d)}" if spread else "") + "), "
                         + ("which excludes zero: the ranking of the first two is measurable" if measurable(margin)
                            else "which contains zero: the first two are not measurably apart"))
        text.append(sentence + ".")
    for name in ordered(v):
        e = v[name]
        m = methods.get(e["method"])
        for base in m.reported:
            comp = c.get(f"{name}-vs-{methods.get(base).variant(e['scale'])}")
            if not comp:
                continue
            clauses = [_effect(comp[k], "", up="raises", down="lowers", what=label, relative=False, unit="pp",
                               factor=100) for k, label in (("pacc", "PACC"), ("miou", "mIoU"))]
            if comp.get("psnr_y"):
                clauses.append(_effect(comp["psnr_y"], "", up="raises", down="lowers", what="Y-PSNR",
                                       relative=False, unit="dB"))
            bound = " (an upper bound: it is given the ground-truth labels)" if m.upper_bound else ""
            text.append(f"{e['label']}{bound}, against {_label(v, comp['a'])}: " + "; ".join(clauses) + ".")
    text += _oracle_share(v, c)
    return text


def _oracle_share(v: dict[str, Any], c: dict[str, Any]) -> list[str]:
    """Per scale: how much of an upper bound's Y-PSNR gain over the common baseline the real method it bounds gets
    (segmentation-assisted SR: real segmentation maps against ground-truth ones)."""
    text = []
    for name in ordered(v):
        m = methods.get(v[name]["method"])
        if not m.bound_of or not m.baseline:
            continue
        s, base = v[name]["scale"], methods.get(m.baseline).variant(v[name]["scale"])
        real = methods.get(m.bound_of)
        oracle = c.get(f"{name}-vs-{base}", {}).get("psnr_y")
        ours = c.get(f"{real.variant(s)}-vs-{base}", {}).get("psnr_y")
        if not oracle or not ours:
            continue
        d = enough_digits([ours["diff"], oracle["diff"]], apart=True)
        sentence = (f"{real.label_at(s)}: the real maps change Y-PSNR by {signed(ours['diff'], 'dB', d)} over "
                    f"{_label(v, base)}, the ground-truth maps of the upper bound by {signed(oracle['diff'], 'dB', d)}")
        if measurable(oracle) and oracle["diff"] > 0:
            sentence += f": the real maps get {100 * ours['diff'] / oracle['diff']:.0f} % of the upper bound's gain"
        else:
            sentence += ": even the ground-truth maps give no measurable Y-PSNR gain"
        text.append(sentence + ".")
    return text


def used_params(params: Any) -> dict[str, Any]:
    """The validated params (defaults filled in) with only the active data source's settings."""
    d = params.model_dump(mode="json")
    source = d["data"]["source"]
    d["data"] = {"source": source, source: d["data"][source]}
    return d


def _ci_cell(e: dict[str, Any], key: str) -> str:
    return f"{pct(e[key])} {level_interval(e.get(key + '_ci95'), 100)}"


def _diff_cell(comp: dict[str, Any] | None, relative: bool = False) -> str:
    """``+0.52 pp [+0.10, +0.93]`` (or relative %); ``*`` marks a measurable difference (:func:`measurable`)."""
    if comp is None:
        return "n/a"
    if relative:
        value, ci, unit, f = comp["gain_pct"], comp["gain_pct_ci95"], "%", 1.0
    else:
        value, ci, unit, f = comp["diff"], comp["ci95"], "pp", 100.0
    if value is None:
        return "n/a"
    mark = " *" if measurable(comp, ci) else ""
    return f"{signed(value * f, unit)} {interval(ci, f)}{mark}"


def _class_table(class_rows: list[dict[str, Any]], scales: Sequence[int]) -> str:
    idx = {(r["class"], r["scale"]): r for r in class_rows}
    names = list(dict.fromkeys(r["class"] for r in class_rows))
    header = ["class", "HR IoU"] + [f"{k} ×{s}" for s in scales for k in ("bicubic", "SR", "Δ pp [95 % CI]")]
    rows = []
    for name in names:
        first = idx.get((name, scales[0]), {})
        row = [name, pct(first.get("iou_hr"), 1)]
        for s in scales:
            r = idx.get((name, s), {})
            delta = r.get("delta")
            ci = (r.get("delta_lo"), r.get("delta_hi"))
            cell = "n/a" if delta is None else (f"{signed(delta * 100, '', 1)} {interval(ci, 100, digits=1)}"
                                                + (" *" if excludes_zero(ci) else ""))
            row += [pct(r.get("iou_bicubic"), 1), pct(r.get("iou_sr"), 1), cell]
        rows.append(row)
    return _table(header, rows)


def combination_section(summary: dict[str, Any]) -> list[str]:
    """The combination study's tables: every method per combination scale with its scores and the combined score,
    and the segmentation-assisted SR per class region."""
    v, c = summary["variants"], summary["comparisons"]
    out: list[str] = []
    for key, entry in summary.get("combined", {}).items():
        s = key[1:]
        rows = []
        for r in entry["rows"]:
            e = v[r["variant"]]
            image = e if "psnr_y" in e else v.get(f"{methods.get(e['method']).images}_x{s}")
            psnr = "n/a" if not image or "psnr_y" not in image else \
                f"{image['psnr_y']:.2f} dB {level_interval(image.get('psnr_y_ci95'))}"
            rows.append([str(r["rank"]) if "rank" in r else "bound", r["label"], _ci_cell(e, "pacc"),
                         _ci_cell(e, "miou"), psnr, f"{level(r['score'], 3)} {level_interval(r['score_ci95'], digits=3)}"])
        out += [f"## Combining SR and segmentation at ×{s} (research tasks 2 and 4)", "",
                "Every method that works from the LR image, on the same val images and evaluator; HR images with the "
                f"HR-trained PSPNet score PACC {pct(v['hr']['pacc'])}, mIoU {pct(v['hr']['miou'])}. The combined "
                "score is the study's \"average between PSNR and PACC\": ½ · (PACC / PACC_HR + 1 − MSE / "
                "MSE_bicubic), the share of HR's pixel accuracy kept and the share of bicubic's luma error removed "
                "(1 − 10^(−ΔPSNR/10), ΔPSNR the mean Y-PSNR gain over bicubic of the images the segmenter sees). "
                "Upper bounds are shown, not ranked.", "",
                _table(["rank", "method", "PACC [95 % CI]", "mIoU [95 % CI]", "Y-PSNR [95 % CI]",
                        "combined score [95 % CI]"], rows, "llrrrr"), ""]
    sft = sorted((comp for comp in c.values() if comp.get("class_psnr") and methods.get(v[comp["b"]]["method"]).class_regions),
                 key=lambda comp: (v[comp["b"]]["scale"], methods.get(v[comp["b"]]["method"]).upper_bound))
    if sft:
        header = ["class"] + [f"{v[comp['b']]['label']}: Δ dB [95 % CI]" for comp in sft]
        rows = []
        for name in TRAIN_NAMES:
            cells = []
            for comp in sft:
                d = comp["class_psnr"].get(name)
                cells.append("n/a" if not d else f"{signed(d['diff'], '', 2)} {interval(d['ci95'])}"
                             + (" *" if excludes_zero(d["ci95"]) else ""))
            if any(x != "n/a" for x in cells):
                rows.append([name] + cells)
        out += ["## Segmentation-assisted SR (research task 3)", "",
                "Y-PSNR over the pixels of each ground-truth class (pooled squared error over the val images, "
                f"borders shaved), against {_label(v, sft[0]['a'])} (the same fine-tune without the maps); "
                "* the interval excludes zero. The ORACLE is given the ground-truth labels: an upper bound, not a "
                "method.", "", _table(header, rows), ""]
    return out


def build_report(summary: dict[str, Any], params: Any, figures: dict[str, Path],
                 class_rows: list[dict[str, Any]], report_dir: Path = Path(".")) -> str:
    """The Markdown text of ``report.md`` (figure links relative to ``report_dir``)."""
    v, c, st = summary["variants"], summary["comparisons"], summary["settings"]
    scales = list(params.scales)
    hr = v["hr"]
    out = [
        "# srseg report: does super-resolution help segmentation?",
        "",
        f"_Generated by the `plots` stage (`dvc repro`) from `{REPO.summary.as_posix()}`; do not edit by hand._",
        "",
        "## Reading",
        "",
        reading(summary, params),
        "",
        f"Uncertainty: a paired bootstrap over the {st['val_images']} val images ({st['resamples']} resamples, "
        f"seed {st['bootstrap_seed']}; each resample draws the images with replacement, the same draw for both "
        f"sides of a comparison{' and every training seed' if len(st['seeds']) > 1 else ''}, and recomputes "
        "PACC and mIoU from the summed confusion matrices). Intervals are 95 % percentile intervals; a "
        "difference is read as a change only when its interval excludes zero"
        + (" and so does the 95 % Student-t interval of its per-seed values (the bootstrap holds each trained "
           "model fixed; the seeds show training noise)" if len(st["seeds"]) > 1 else "")
        + " (marked * in the tables). Gains relative to bicubic are 100 · (SR − bicubic) / bicubic.",
        "",
        "## Super-resolution quality (Y channel)",
        "",
        _table(
            ["scale", "PSNR bicubic", "PSNR SR", "Δ PSNR [95 % CI]", "SSIM bicubic", "SSIM SR"],
            [[f"×{s}", f"{b['psnr_y']:.2f} dB", f"{r['psnr_y']:.2f} dB",
              f"{signed(d['diff'], 'dB')} {interval(d['ci95'])}" + (" *" if measurable(d) else ""),
              f"{b['ssim_y']:.4f}", f"{r['ssim_y']:.4f}"]
             for s in scales for b, r, d in [(v[f"bicubic_x{s}"], v[f"sr_x{s}"],
                                              c[f"sr_x{s}-vs-bicubic_x{s}"]["psnr_y"])]],
        ),
        "",
        "## Segmentation by the HR-trained PSPNet",
        "",
        _table(
            ["input", "PACC [95 % CI]", "mIoU [95 % CI]", "PACC gain vs bicubic", "mIoU gain vs bicubic"],
            [["HR (reference)", _ci_cell(hr, "pacc"), _ci_cell(hr, "miou"), "", ""]]
            + [row for s in scales for row in (
                [f"bicubic ×{s}", _ci_cell(v[f"bicubic_x{s}"], "pacc"), _ci_cell(v[f"bicubic_x{s}"], "miou"), "", ""],
                [f"SR ×{s}", _ci_cell(v[f"sr_x{s}"], "pacc"), _ci_cell(v[f"sr_x{s}"], "miou"),
                 _diff_cell(c[f"sr_x{s}-vs-bicubic_x{s}"]["pacc"], relative=True),
                 _diff_cell(c[f"sr_x{s}-vs-bicubic_x{s}"]["miou"], relative=True)],
            )],
        ),
        "",
    ]
    retrain = retrain_rows(summary)
    out += ["## Retraining on super-resolved images (book §18)", ""]
    if retrain:
        out += [_table(["model and val images", "PACC [95 % CI]", "mIoU [95 % CI]"],
                       [[r["label"], _ci_cell(v[r["variant"]], "pacc"), _ci_cell(v[r["variant"]], "miou")]
                        for r in retrain], "lrr"), ""]
    else:
        out += ["Not run: `seg.retrain_scales` is empty.", ""]
    if st.get("objects"):
        bins = st["objects"]["size_bins"]

        def rec(e: dict[str, Any], key: str) -> str:
            o = (e.get("objects") or {}).get(key)
            return "n/a" if not o else f"{pct(o['value'], 1)} {level_interval(o['ci95'], 100, digits=1)}"

        out += ["## Object level: can a car still find the pedestrians?", "",
                f"A ground-truth person or rider instance is found when a connected component of its class in the "
                f"segmentation overlaps it with IoU ≥ {st['objects']['iou']} (one-to-one). Recall overall and by "
                "instance size (HR pixel area), [95 % CI]. Components are the detections, so touching objects merge: "
                "even a perfect segmentation does not reach 100 %.", "",
                _table(["variant", "all"] + [f"{b} px" for b in bins],
                       [[e["label"], rec(e, "pedestrian_recall")] + [rec(e, f"size_{b}") for b in bins]
                        for e in (v[n] for n in ordered(v))]), ""]
    out += combination_section(summary)
    out += ["## Every comparison", "",
            "Differences B − A in percentage points, [95 % CI], and the share of bootstrap resamples whose "
            "difference has the opposite sign.", "",
            _table(["B", "A", "Δ PACC", "p opp.", "Δ mIoU", "p opp."],
                   [[v[comp["b"]]["label"], v[comp["a"]]["label"],
                     _diff_cell(comp["pacc"]), "n/a" if comp["pacc"] is None else f"{comp['pacc']['p_opposite']:.3f}",
                     _diff_cell(comp["miou"]), "n/a" if comp["miou"] is None else f"{comp['miou']['p_opposite']:.3f}"]
                    for comp in c.values()], "llrrrr"), ""]
    if len(st["seeds"]) > 1:
        rows = []
        for e in (v[n] for n in ordered(v)):
            sp = [e.get(f"{k}_seeds") for k in ("pacc", "miou")]
            rows.append([e["label"]] + [f"{pct(s['mean'])} ± {s['std'] * 100:.2f} pp {level_interval(s['ci95'], 100)}"
                                        if s else "n/a" for s in sp])

        def spread(d: dict[str, Any] | None, factor: float, unit: str) -> str:
            s = (d or {}).get("seeds")
            return "n/a" if not s else (f"{signed(s['mean'] * factor, unit)} ± {s['std'] * factor:.2f} "
                                        f"{interval(s['ci95'], factor)}" + (" *" if measurable(d) else ""))

        diffs = [[v[comp["b"]]["label"], v[comp["a"]]["label"], spread(comp["pacc"], 100, "pp"),
                  spread(comp["miou"], 100, "pp"), spread(comp.get("psnr_y"), 1, "dB") if comp.get("psnr_y") else ""]
                 for comp in c.values()]
        out += ["## Across training seeds", "",
                f"Mean ± standard deviation over seeds {st['seeds']} and the 95 % Student-t interval of the mean.",
                "", _table(["variant", "PACC", "mIoU"], rows), "",
                "The same for every comparison's per-seed difference B − A (each seed's models against each other); "
                "* both this interval and the bootstrap interval exclude zero.", "",
                _table(["B", "A", "Δ PACC", "Δ mIoU", "Δ Y-PSNR"], diffs, "llrrr"), ""]
    out += ["## Per-class IoU", "", "<details><summary>IoU per class (Δ pp = SR − bicubic, [95 % CI]; * the "
            "interval excludes zero)</summary>", "", _class_table(class_rows, scales), "", "</details>", "",
            "## Figures", ""]
    for key, caption in FIGURE_CAPTIONS.items():
        if key in figures:
            rel = Path(os.path.relpath(figures[key], report_dir)).as_posix()
            out += [f"**{caption}**", "", f"![{caption}]({rel})", ""]
    out += ["## Parameters", "", "The validated `params.yaml` settings the pipeline ran with "
            "(defaults filled in; only the active data source):", "", "```yaml",
            yaml.safe_dump(used_params(params), sort_keys=False, allow_unicode=True).rstrip(), "```", ""]
    return "\n".join(out)


def write_report(path: str | Path, summary: dict[str, Any], params: Any, figures: dict[str, Path],
                 class_rows: list[dict[str, Any]]) -> Path:
    """Write ``report.md`` atomically."""
    path = Path(path)
    text = build_report(summary, params, figures, class_rows, report_dir=path.parent)
    with atomic_file(path, "wb") as fh:  # bytes: UTF-8 whatever the locale (the text has × and −)
        fh.write(text.encode("utf-8"))
    return path
