"""The report's reading: the paragraphs that say what the numbers say, computed from the summary.

Every sentence is derived from the data and worded by its intervals (:func:`srseg.results.wording.measurable`). It
is built around the 2019 study's chain (:data:`~srseg.methods.registry.HR`, ``BICUBIC``, ``SR``) and the registry:
each retrain-group method against its baseline, each method against the methods its ``reported`` names, and each
upper bound against the real method it bounds (``bound_of``).
"""

from __future__ import annotations

from typing import Any

from srseg.methods import registry as methods
from srseg.results.pedestrians import gate, gate_words
from srseg.results.schema import Summary, VariantKey
from srseg.results.wording import (
    and_list,
    diff_cell,
    effect,
    enough_digits,
    interval,
    level,
    level_interval,
    measurable,
    pct,
    signed,
)

HR, BICUBIC, SR = methods.HR, methods.BICUBIC, methods.SR


def how_to_read(summary: Summary) -> str:
    """What the intervals and the verdict words mean in this run: the bootstrap's design, the families, and whether
    there are seeds enough for findings."""
    st, seeds = summary.settings, summary.seeds
    boot = st.get("bootstrap") or {}
    block = boot.get("block", 1)
    draws = ("single val images" if block == 1 else
             f"blocks of {block} consecutive val frames within their sequence (lag-1 autocorrelation of per-frame "
             f"scores up to {level(boot.get('lag1_max'))})")
    fams = st.get("families") or {}
    sizes = ", ".join(f"{f.get('title', name)} ({f['size']})" for name, f in fams.items() if f["size"])
    text = (f"How to read: every interval is a 95 % two-level bootstrap that draws the {len(seeds)} training seed"
            f"{'s' if len(seeds) != 1 else ''} and then {draws}, the same draws for both sides of a comparison. A "
            "difference is called a change only when its interval excludes zero and its p-value, Holm-adjusted "
            f"within its family of comparisons ({sizes}), is below 5 %.")
    need = boot.get("min_seeds_for_findings")
    if need and len(seeds) < need:
        text += (f" **This run has {len(seeds)} training seed{'s' if len(seeds) != 1 else ''}: every verdict below "
                 f"is indicative, not a finding** — one seed's models, and one CPU type's rounding, can flip it "
                 f"(findings need at least {need} seeds).")
    return text


def reading(summary: Summary, params: Any) -> str:
    """The paragraphs describing what the numbers say, computed from ``summary``."""
    scales = list(params.scales)
    text = [how_to_read(summary)]
    gains = {s: summary.comparison(SR, BICUBIC, s) for s in scales}
    psnr = [effect(gains[s]["psnr_y"], f"at ×{s}", up="SR raises it", down="SR lowers it", unit="dB",
                   factor=1) for s in scales]
    text.append("Y-PSNR of super-resolution against bicubic upscaling: " + "; ".join(psnr) + ".")
    for key, name in (("pacc", "pixel accuracy"), ("miou", "mean IoU")):
        parts = [effect(gains[s][key], f"at ×{s}", up="SR improves it", down="SR lowers it") for s in scales]
        text.append(f"The HR-trained PSPNet's {name} on SR input against bicubic input (SR − bicubic): "
                    + "; ".join(parts) + ".")
    # How much of the HR–bicubic gap SR closes, where bicubic is measurably below HR and SR measurably moves it.
    hr = summary.variant(HR)["pacc"]
    closed, widened = [], []
    for s in scales:
        gap, moved = summary.comparison(BICUBIC, HR, s)["pacc"], gains[s]["pacc"]
        if measurable(gap) and gap["diff"] < 0 and measurable(moved):
            share = (summary.variant(SR, s)["pacc"] - summary.variant(BICUBIC, s)["pacc"]) / -gap["diff"] * 100
            if share >= 0:
                closed.append(f"{share:.0f} % of the gap at ×{s}")
            else:
                widened.append(f"by {-share:.0f} % at ×{s}")
    parts = [f"SR recovers {and_list(closed)}"] if closed else []
    parts += [f"SR widens the gap {and_list(widened)}"] if widened else []
    if parts:
        text.append(f"Where bicubic input is measurably below HR pixel accuracy ({pct(hr)}), " + "; ".join(parts) + ".")
    for e in summary.variants:
        m = e.method
        if m.group != "retrain" or not m.baseline or methods.get(m.baseline) is HR:
            continue
        base = summary.variant(methods.get(m.baseline), e.scale)
        comp = summary.comparison(m, base.method, e.scale)
        clauses = [effect(comp[k], "", up="improves", down="lowers", what=label)
                   for k, label in (("pacc", "PACC"), ("miou", "mIoU"))]
        text.append(f"{m.label_at(e.scale)}, against the HR-trained PSPNet on the same images: "
                    + "; ".join(clauses) + f" (PACC {pct(e['pacc'])} vs {pct(base['pacc'])}).")
    text += pedestrian_reading(summary, scales)
    text += combination_reading(summary)
    text += convergence_reading(summary)
    seeds = summary.seeds
    if len(seeds) > 1:
        text.append(f"Every number is the mean over {len(seeds)} training seeds ({', '.join(map(str, seeds))}); "
                    "the tables also give the spread across seeds.")
    return "\n\n".join(text)


def pedestrian_reading(summary: Summary, scales: list[int]) -> list[str]:
    """The pedestrian measure: "uninformative: …, so methods are not ranked by it" where the gate fails
    (:mod:`srseg.results.pedestrians`); else pedestrian recall of SR against bicubic, worded by its verdicts, with
    precision beside it (reported, never a verdict). Summaries written before the gate: recall as it was worded."""
    o = summary.settings.get("objects")
    if not o:
        return []
    g = gate(summary)
    where = (f"person and rider instances found by a segment overlapping them with IoU ≥ {o['iou']}")
    if g is not None and not g.informative:
        return [f"Pedestrians ({where}): {gate_words(g)}. Their comparisons have no verdict and are left out of the "
                "families."]
    gains = {s: summary.comparison(SR, BICUBIC, s) for s in scales}
    parts = [effect((gains[s].objects or {}).get("pedestrian_recall"), f"at ×{s}", up="SR raises it",
                    down="SR lowers it") for s in scales]
    hr = summary.variant(HR).get("objects") or {}
    hr_rec = hr.get("pedestrian_recall")
    sentence = (f"Pedestrian recall ({where}; on HR images {'n/a' if not hr_rec else pct(hr_rec['value'], 1)}), SR "
                "against bicubic input: " + "; ".join(parts) + ".")
    if g is None:
        return [sentence]
    hr_prec = hr.get("pedestrian_precision")
    precision = [f"×{s} {diff_cell(d['diff'], d['ci95'], 100, 'pp')}" if d else f"×{s} n/a"
                 for s in scales for d in [(gains[s].objects or {}).get("pedestrian_precision")]]
    return [f"The measure is {gate_words(g)}. " + sentence
            + f" Precision (the share of segments that match a pedestrian; on HR images "
            f"{'n/a' if not hr_prec else pct(hr_prec['value'], 1)}), SR − bicubic, reported without a verdict: "
            + "; ".join(precision) + "."]


def convergence_reading(summary: Summary) -> list[str]:
    """One sentence naming the models whose training loss was still falling (convergence is checked)."""
    curves = summary.convergence
    if not curves:
        return []
    flagged = [f"{c['run']} ({c['still_falling'] * 100:.1f} %)" for c in curves if c["flagged"]]
    unjudged = [c["run"] for c in curves if c["still_falling"] is None]
    share = summary.settings.get("still_falling", 0.0) * 100
    sentence = (f"Convergence: {len(flagged)} of {len(curves)} trained models were still learning (training loss "
                f"still falling by more than {share:.0f} % per tenth of training)")
    sentence += (": " + and_list(flagged) + "; comparisons that involve them may change with longer training"
                 if flagged else "")
    if unjudged:
        sentence += f"; {len(unjudged)} logged fewer than 3 epochs and are not judged ({and_list(unjudged)})"
    return [sentence + "."]


def combination_reading(summary: Summary) -> list[str]:
    """Sentences on the combination study: the ranking and its margin, and each method against its control."""
    text = []
    for s, entry in summary.combined.items():
        rows = [r for r in entry["rows"] if not r["upper_bound"]]
        if not rows:
            continue
        first = rows[0]
        sentence = (f"At ×{s}, the combined score (½ · (PACC/PACC_HR + share of bicubic's luma error removed)) "
                    f"ranks {first['label']} first ({level(first['score'], 3)}, 95 % CI "
                    f"{level_interval(first['score_ci95'], digits=3)})")
        margin = entry.get("margin")
        if margin:
            spread = margin.get("seeds")
            d = enough_digits([margin["diff"], *margin["ci95"], *(spread["ci95"] if spread else ())], 3)
            sentence += (f"; its margin over {summary.label(margin['second'])} is {signed(margin['diff'], '', d)} "
                         f"(95 % CI {interval(margin['ci95'], 1, '', d)}"
                         + (f"; across seeds {interval(spread['ci95'], 1, '', d)}" if spread else "") + "), "
                         + ("which excludes zero: the ranking of the first two is measurable" if measurable(margin)
                            else "which contains zero: the first two are not measurably apart"))
        text.append(sentence + ".")
    for e in summary.variants:
        m = e.method
        for base in m.reported:
            comp = summary.find_comparison(m, methods.get(base), e.scale)
            if not comp:
                continue
            clauses = [effect(comp[k], "", up="raises", down="lowers", what=label)
                       for k, label in (("pacc", "PACC"), ("miou", "mIoU"))]
            if comp.psnr_y:
                clauses.append(effect(comp.psnr_y, "", up="raises", down="lowers", what="Y-PSNR", unit="dB",
                                      factor=1))
            bound = " (an upper bound: it is given the ground-truth labels)" if m.upper_bound else ""
            text.append(f"{e['label']}{bound}, against {summary.label(comp.a)}: " + "; ".join(clauses) + ".")
    text += _oracle_share(summary)
    return text


def _oracle_share(summary: Summary) -> list[str]:
    """Per scale: how much of an upper bound's Y-PSNR gain over the common baseline the real method it bounds gets
    (segmentation-assisted SR: real segmentation maps against ground-truth ones)."""
    text = []
    for e in summary.variants:
        m = e.method
        if not m.bound_of or not m.baseline:
            continue
        s, base, real = e.scale, methods.get(m.baseline), methods.get(m.bound_of)
        oracle_comp, ours_comp = summary.find_comparison(m, base, s), summary.find_comparison(real, base, s)
        oracle = oracle_comp.psnr_y if oracle_comp else None
        ours = ours_comp.psnr_y if ours_comp else None
        if not oracle or not ours:
            continue
        d = enough_digits([ours["diff"], oracle["diff"]], apart=True)
        sentence = (f"{real.label_at(s)}: the real maps change Y-PSNR by {signed(ours['diff'], 'dB', d)} over "
                    f"{summary.label(VariantKey.of(base, s))}, the ground-truth maps of the upper bound by "
                    f"{signed(oracle['diff'], 'dB', d)}")
        if measurable(oracle) and oracle["diff"] > 0:
            sentence += f": the real maps get {100 * ours['diff'] / oracle['diff']:.0f} % of the upper bound's gain"
        else:
            sentence += ": even the ground-truth maps give no measurable Y-PSNR gain"
        text.append(sentence + ".")
    return text
