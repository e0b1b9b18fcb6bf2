"""``report.md``: the study's numbers as Markdown tables with their intervals, the figures, a reading computed from
the numbers (:mod:`srseg.results.reading`), and the params that produced them. Written by the plots stage from the
typed summary (:class:`~srseg.results.schema.Summary`) and the series; every sentence is derived from the data and
worded by :mod:`srseg.results.wording` (a difference is a change only when its intervals exclude zero).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from srseg.io import atomic_file
from srseg.labels import TRAIN_NAMES
from srseg.methods import registry as methods
from srseg.paths import REPO
from srseg.results.cliff import cliff_section
from srseg.results.pedestrians import gate, gate_words
from srseg.results.reading import reading
from srseg.results.schema import Comparison, Summary, VariantResult, short_label
from srseg.results.series import column, retrain_rows, seen_images
from srseg.results.wording import (
    diff_cell,
    enough_digits,
    interval,
    level,
    level_cell,
    level_interval,
    measurable,
    pct,
    signed,
    table,
)

HR, BICUBIC, SR = methods.HR, methods.BICUBIC, methods.SR

FIGURE_CAPTIONS = {
    "psnr": "Graph 1 — Y-PSNR and Y-SSIM of bicubic and SR vs downscaling factor",
    "pacc": ("Graph 2 — PACC and mIoU of the HR-trained PSPNet on bicubic-LR and SR images; HR as reference; labels: "
             "the paired difference SR − bicubic (pp), * where its verdict holds"),
    "gain": "Graph 3 — gain of SR over bicubic (SR − bicubic, pp), with 95 % paired intervals",
    "class_iou": "Per-class IoU change, SR − bicubic (percentage points)",
    "retrain": "Retraining PSPNet on SR images (book §18)",
    "pedestrians": ("Pedestrian recall (person + rider instances found) and precision (components that match one) vs "
                    "downscaling factor, by instance height, with the best combination method (by combined score)"),
    "methods": "Combining SR and segmentation (research tasks 2–4), ranked by the combined score",
    "tradeoff": "Y-PSNR of the images each segmenter sees against its mIoU",
    "class_psnr": "Segmentation-assisted SR (research task 3): Y-PSNR change per class region",
    "table4": "Table 4 — example val image and its segmentations",
    "cliff": ("The ×3 cliff — mIoU, PACC and the IoU of the classes whose IoU falls most, against the degradation "
              "factor (each factor its own bicubic down-and-up val set; HR = no degradation), for the HR-trained "
              "PSPNet on bicubic and SR input and the blur-augmented PSPNet on both; SR only at the sweep's integer "
              "factors that are study scales (no DCSCN exists for the others, and none is substituted)"),
}



def used_params(params: Any) -> dict[str, Any]:
    """The validated params (defaults filled in) with only the active data source's settings."""
    d = params.model_dump(mode="json")
    source = d["data"]["source"]
    d["data"] = {"source": source, source: d["data"][source]}
    return d


def _ci_cell(e: VariantResult, key: str) -> str:
    return level_cell(e[key], e.get(key + "_ci95"))


def _diff_cell(comp: dict[str, Any] | None, factor: float = 100.0, unit: str = "pp", digits: int = 2) -> str:
    """``+0.52 pp [+0.10, +0.93]``, with enough digits; ``*`` marks a measurable difference (:func:`measurable`)."""
    if comp is None:
        return "n/a"
    return diff_cell(comp["diff"], comp["ci95"], factor, unit, digits) + (" *" if measurable(comp) else "")


def _classtable(class_rows: list[dict[str, Any]], scales: Sequence[int]) -> str:
    idx = {(r["class"], r["scale"]): r for r in class_rows}
    names = list(dict.fromkeys(r["class"] for r in class_rows))
    header = ["class", "HR IoU"] + [f"{k} ×{s}" for s in scales
                                    for k in (short_label(BICUBIC), short_label(SR), "Δ pp [95 % CI]")]
    rows = []
    for name in names:
        first = idx.get((name, scales[0]), {})
        row = [name, pct(first.get(column("iou", HR)), 1)]
        for s in scales:
            r = idx.get((name, s), {})
            delta = r.get("delta")
            ci = (r.get("delta_lo"), r.get("delta_hi"))
            cell = "n/a" if delta is None else diff_cell(delta, ci, 100, digits=1) + (" *" if r.get("clear") else "")
            row += [pct(r.get(column("iou", BICUBIC)), 1), pct(r.get(column("iou", SR)), 1), cell]
        rows.append(row)
    return table(header, rows)


def uncertainty(st: Mapping[str, Any]) -> str:
    """The report's paragraph on how every interval and verdict was computed."""
    boot = st.get("bootstrap") or {}
    block = boot.get("block", 1)
    seeds = len(st["seeds"])
    draws = ("the images with replacement" if block == 1 else
             f"blocks of {block} consecutive frames within their sequence, wrapping around at its end")
    suggested = boot.get("suggested_block")
    chosen = ""
    if suggested is not None:
        chosen = (f" The Politis–White block length from the per-frame scores' autocorrelation is {suggested} "
                  f"(lag-1 autocorrelation: median {level(boot.get('lag1_median'))}, largest "
                  f"{level(boot.get('lag1_max'))}); `stats.block: {boot.get('block_param')}` made it {block}"
                  + (" (synthetic scenes are rendered independently)" if boot.get("block_param") == "auto"
                     and block == 1 and suggested != 1 else "") + ".")
    fams = st.get("families") or {}
    return (f"Uncertainty: a paired two-level bootstrap over the {seeds} training seed{'s' if seeds != 1 else ''} "
            f"and the {st['val_images']} val images ({st['resamples']} resamples, seed {st['bootstrap_seed']}; "
            f"each resample draws the seeds with replacement, then {draws}, the same draws for both sides of a "
            "comparison, and recomputes PACC and mIoU from the summed confusion matrices)." + chosen
            + " Intervals are 95 % percentile intervals; a difference is read as a change only when its interval "
            "excludes zero and its two-sided p-value (normal approximation with the bootstrap standard error), "
            "Holm-adjusted within its family, is below 5 % (marked * in the tables). Families: "
            + "; ".join(f"{f.get('title', name)}: {f['description']} ({f['size']} differences, {f['verdicts']} "
                        "changes)" for name, f in fams.items())
            + ". Differences of PACC, mIoU, recall and precision are in percentage points (pp) throughout: SR − "
            "bicubic, never relative to bicubic. A value followed by \"(every resample)\" has no interval: every "
            "resample gave it (both sides found the same pedestrians on every image, say).")


def convergence_section(summary: Summary) -> list[str]:
    """Every trained model's training loss at its end and how fast it was still falling; flagged ones first."""
    curves = sorted(summary.convergence, key=lambda c: (not c["flagged"], c["run"]))
    if not curves:
        return []
    share = summary.settings.get("still_falling", 0.0)
    rows = [[c["run"], str(c["epochs"]), f"{c['last_loss']:.4g}",
             "not judged (< 3 epochs)" if c["still_falling"] is None else f"{c['still_falling'] * 100:+.1f} %",
             "still learning" if c["flagged"] else ""] for c in curves]
    return ["## Convergence", "",
            "Each trained model's training loss (DVCLive, per epoch): the share of it a line through the last third "
            "of the epochs would still lose over a tenth of the training. A model above "
            f"{share * 100:.0f} % is flagged: longer training would have changed it, and so may the comparisons "
            "that involve it.", "", table(["run", "epochs", "last loss", "still falling per tenth", ""], rows,
                                           "lrrrl"), ""]


def combination_section(summary: Summary) -> list[str]:
    """The combination study's tables: every method per combination scale with its scores and the combined score,
    and the methods with ``class_regions`` per class region."""
    hr = summary.variant(HR)
    out: list[str] = []
    for s, entry in summary.combined.items():
        rows = []
        for r in entry["rows"]:
            e = summary.named(r["variant"])
            image = seen_images(summary, e)
            psnr = "n/a" if not image or "psnr_y" not in image else \
                level_cell(image["psnr_y"], image.get("psnr_y_ci95"), 1, "dB")
            score = level_cell(r["score"], r["score_ci95"], 1, "", 3)
            rows.append([str(r["rank"]) if "rank" in r else "bound", r["label"], _ci_cell(e, "pacc"),
                         _ci_cell(e, "miou"), psnr, score])
        out += [f"## Combining SR and segmentation at ×{s} (research tasks 2 and 4)", "",
                "Every method that works from the LR image, on the same val images and evaluator; HR images with the "
                f"HR-trained PSPNet score PACC {pct(hr['pacc'])}, mIoU {pct(hr['miou'])}. The combined "
                "score is the study's \"average between PSNR and PACC\": ½ · (PACC / PACC_HR + 1 − MSE / "
                "MSE_bicubic), the share of HR's pixel accuracy kept and the share of bicubic's luma error removed "
                "(1 − 10^(−ΔPSNR/10), ΔPSNR the mean Y-PSNR gain over bicubic of the images the segmenter sees). "
                "Upper bounds are shown, not ranked.", "",
                table(["rank", "method", "PACC [95 % CI]", "mIoU [95 % CI]", "Y-PSNR [95 % CI]",
                        "combined score [95 % CI]"], rows, "llrrrr"), ""]
    regions: list[Comparison] = sorted((comp for comp in summary.comparisons
                                        if comp.class_psnr and comp.b.method.class_regions),
                                       key=lambda comp: (comp.scale, comp.b.method.upper_bound))
    if regions:
        header = ["class"] + [f"{summary.label(comp.b)}: Δ dB [95 % CI]" for comp in regions]
        rows = []
        for name in TRAIN_NAMES:
            cells = []
            for comp in regions:
                d = (comp.class_psnr or {}).get(name)  # regions: comparisons with class_psnr entries
                cells.append("n/a" if not d else diff_cell(d["diff"], d["ci95"]) + (" *" if measurable(d) else ""))
            if any(x != "n/a" for x in cells):
                rows.append([name] + cells)
        out += ["## Segmentation-assisted SR (research task 3)", "",
                "Y-PSNR over the pixels of each ground-truth class (pooled squared error over the val images, "
                f"borders shaved), against {summary.label(regions[0].a)} (the same fine-tune without the maps); "
                "* a change after Holm's adjustment over the classes of the column. The ORACLE is given the "
                "ground-truth labels: an upper bound, not a "
                "method.", "", table(header, rows), ""]
        out += conditioning_regions(summary, regions)
    return out


#: The class regions where segmentation maps should help SR most (SFT-GAN's case, Wang et al. 2018): thin
#: structures, whose edges a bicubic upscale blurs, and textures, whose class says what texture to restore.
CONDITIONING_REGIONS: dict[str, tuple[str, ...]] = {
    "thin": ("pole", "traffic sign", "traffic light", "person", "bicycle"),
    "textured": ("vegetation", "building", "terrain"),
}


def conditioning_regions(summary: Summary, regions: Sequence[Comparison]) -> list[str]:
    """The class regions where conditioning should help (:data:`CONDITIONING_REGIONS`), one column per class-region
    comparison, and a reading of the upper bound's largest change there — written from the numbers."""
    rows = []
    for group, names in CONDITIONING_REGIONS.items():
        for name in names:
            cells = []
            for comp in regions:
                d = (comp.class_psnr or {}).get(name)
                cells.append("n/a" if not d else diff_cell(d["diff"], d["ci95"]) + (" *" if measurable(d) else ""))
            if any(x != "n/a" for x in cells):
                rows.append([name, group] + cells)
    if not rows:
        return []
    header = ["class", "region"] + [f"{summary.label(comp.b)} − {summary.label(comp.a)}: Δ dB [95 % CI]"
                                     for comp in regions]
    out = ["Where conditioning should help: thin structures (a bicubic upscale blurs their edges) and textures (the "
           "class says which texture to restore).", "", table(header, rows), ""]
    for comp in (c for c in regions if c.b.method.upper_bound):
        found = [(name, d) for names in CONDITIONING_REGIONS.values() for name in names
                 if (d := (comp.class_psnr or {}).get(name))]
        if not found:
            continue
        name, d = max(found, key=lambda nd: abs(nd[1]["diff"] or 0.0))
        ends = [abs(x) for x in d["ci95"] or () if x is not None]
        size = "" if not ends else "; its interval lies within ±0.1 dB" if max(ends) < 0.1 else \
            "; its interval reaches 0.1 dB or more"
        tiny = bool(ends) and max(ends) < 0.1
        out += [f"Reading (×{comp.scale}): the largest change of the upper bound ({summary.label(comp.b)}) in these "
                f"regions is {diff_cell(d['diff'], d['ci95'], unit='dB', digits=3)} in {name}, "
                + ("a change" if measurable(d) else "no change after Holm's adjustment") + size
                + (": even ground-truth maps leave little for conditioning to gain in these regions with this "
                   "fine-tune (how it ended: the runs' stopping record)." if tiny else "."), ""]
    return out


def object_section(summary: Summary) -> list[str]:
    """The object-level section: the gate's verdict on the measure (:mod:`srseg.results.pedestrians`), then recall
    and precision of every variant, overall, of reasonable heights and by height bin. A summary written before the
    height bins (area bins, ``size_<bin>`` keys, recall only) gets its recall table as it was."""
    o = summary.settings.get("objects")
    if not o:
        return []

    def cell(e: VariantResult, key: str) -> str:
        x = (e.get("objects") or {}).get(key)
        return "n/a" if not x else level_cell(x["value"], x["ci95"], digits=1)

    found = (f"A ground-truth person or rider instance is found when a connected component of its class in the "
             f"segmentation overlaps it with IoU ≥ {o['iou']} (one-to-one). Components are the detections, so "
             "touching objects merge: even a perfect segmentation does not reach 100 %.")
    head = ["## Object level: can a car still find the pedestrians?", ""]
    if "height_bins" not in o:  # before the height bins and the gate
        bins = o["size_bins"]
        return head + [found + " Recall overall and by instance size (HR pixel area), [95 % CI].", "",
                       table(["variant", "all"] + [f"{b} px" for b in bins],
                             [[e["label"], cell(e, "pedestrian_recall")] + [cell(e, f"size_{b}") for b in bins]
                              for e in summary.variants]), ""]
    bins = o["height_bins"]
    g = gate(summary)
    verdict = []
    if g is not None:
        words = gate_words(g)
        verdict = [f"**{words[0].upper()}{words[1:]}.**" + (
            " The pedestrian comparisons are left out of the families of comparisons and get no verdict; the "
            "numbers below describe the variants, they do not rank them." if not g.informative else
            " Recall differences are in their families (SR vs bicubic, gaps to HR); precision is reported beside "
            "them without a verdict."), ""]
    tall = f"≥ {o['reasonable_height']:g} px"
    columns = ["variant", "all", f"reasonable ({tall})"] + [f"{b} px" for b in bins]
    out = head + verdict + [
        found + " Precision is the share of the components that match an instance (components that match none "
        "and lie mostly on void or crowd regions are not counted). Heights are bounding-box heights in HR pixels: "
        "an instance's own; a component's that of the instance it matched, else its own. Pooled over person and "
        "rider, [95 % CI].", ""]
    for measure, title in (("recall", "Recall"), ("precision", "Precision")):
        out += [f"{title}:", "",
                table(columns, [[e["label"], cell(e, f"pedestrian_{measure}"), cell(e, f"reasonable_{measure}")]
                                + [cell(e, f"{measure}_{b}") for b in bins] for e in summary.variants]), ""]
    return out


#: The degradation sweep's series (:mod:`srseg.results.cliff`): points, class IoU and comparison rows.
CliffRows = tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]


def build_report(summary: Summary, params: Any, figures: dict[str, Path],
                 class_rows: list[dict[str, Any]], report_dir: Path = Path("."), cliff: CliffRows | None = None) -> str:
    """The Markdown text of ``report.md`` (figure links relative to ``report_dir``; the degradation sweep's section
    from ``cliff``'s rows)."""
    st = summary.settings
    scales = list(params.scales)
    hr = summary.variant(HR)
    bic = {s: summary.variant(BICUBIC, s) for s in scales}
    sr = {s: summary.variant(SR, s) for s in scales}
    gain = {s: summary.comparison(SR, BICUBIC, s) for s in scales}
    out = [
        "# srseg report: does super-resolution help segmentation?",
        "",
        f"_Generated by the `plots` stage (`dvc repro`) from `{REPO.summary.as_posix()}`; do not edit by hand._",
        "",
        "## Reading",
        "",
        reading(summary, params),
        "",
        uncertainty(st),
        "",
        "## Super-resolution quality (Y channel)",
        "",
        table(
            ["scale", "PSNR bicubic", "PSNR SR", "Δ PSNR [95 % CI]", "SSIM bicubic", "SSIM SR"],
            [[f"×{s}", f"{b['psnr_y']:.2f} dB", f"{r['psnr_y']:.2f} dB",
              _diff_cell(d, 1, "dB"),
              f"{b['ssim_y']:.4f}", f"{r['ssim_y']:.4f}"]
             for s in scales for b, r, d in [(bic[s], sr[s], gain[s]["psnr_y"])]],
        ),
        "",
        "## Segmentation by the HR-trained PSPNet",
        "",
        table(
            ["input", "PACC [95 % CI]", "mIoU [95 % CI]", "Δ PACC vs bicubic", "Δ mIoU vs bicubic"],
            [["HR (reference)", _ci_cell(hr, "pacc"), _ci_cell(hr, "miou"), "", ""]]
            + [row for s in scales for row in (
                [f"{short_label(BICUBIC)} ×{s}", _ci_cell(bic[s], "pacc"), _ci_cell(bic[s], "miou"), "", ""],
                [f"{short_label(SR)} ×{s}", _ci_cell(sr[s], "pacc"), _ci_cell(sr[s], "miou"),
                 _diff_cell(gain[s]["pacc"]), _diff_cell(gain[s]["miou"])],
            )],
        ),
        "",
    ]
    retrain = retrain_rows(summary)
    out += ["## Retraining on super-resolved images (book §18)", ""]
    if retrain:
        out += [table(["model and val images", "PACC [95 % CI]", "mIoU [95 % CI]"],
                       [[r["label"], _ci_cell(summary.named(r["variant"]), "pacc"),
                         _ci_cell(summary.named(r["variant"]), "miou")] for r in retrain], "lrr"), ""]
    else:
        out += ["Not run: `seg.retrain_scales` is empty.", ""]
    out += object_section(summary)
    out += combination_section(summary)
    out += ["## Every comparison", "",
            "Differences B − A in percentage points, [95 % CI], and the share of bootstrap resamples whose "
            "difference has the opposite sign.", "",
            table(["B", "A", "Δ PACC", "p opp.", "Δ mIoU", "p opp."],
                   [[summary.label(comp.b), summary.label(comp.a),
                     _diff_cell(comp["pacc"]), "n/a" if comp["pacc"] is None else f"{comp['pacc']['p_opposite']:.3f}",
                     _diff_cell(comp["miou"]), "n/a" if comp["miou"] is None else f"{comp['miou']['p_opposite']:.3f}"]
                    for comp in summary.comparisons], "llrrrr"), ""]
    if len(st["seeds"]) > 1:
        rows = []
        for e in summary.variants:
            sp = [e.get(f"{k}_seeds") for k in ("pacc", "miou")]
            rows.append([e["label"]] + [f"{pct(s['mean'])} ± {s['std'] * 100:.2f} pp {level_interval(s['ci95'], 100)}"
                                        if s else "n/a" for s in sp])

        def spread(d: dict[str, Any] | None, factor: float, unit: str) -> str:
            s = (d or {}).get("seeds")
            if not s:
                return "n/a"
            n = enough_digits([x * factor for x in (s["mean"], s["std"], *s["ci95"])])
            return (f"{signed(s['mean'] * factor, unit, n)} ± {s['std'] * factor:.{n}f} "
                    f"{interval(s['ci95'], factor, digits=n)}" + (" *" if measurable(d) else ""))

        diffs = [[summary.label(comp.b), summary.label(comp.a), spread(comp["pacc"], 100, "pp"),
                  spread(comp["miou"], 100, "pp"), spread(comp.get("psnr_y"), 1, "dB") if comp.get("psnr_y") else ""]
                 for comp in summary.comparisons]
        out += ["## Across training seeds", "",
                f"Mean ± standard deviation over seeds {st['seeds']} and the 95 % Student-t interval of the mean.",
                "", table(["variant", "PACC", "mIoU"], rows), "",
                "The same for every comparison's per-seed difference B − A (each seed's models against each other); "
                "* a change by its family's verdict (two-level bootstrap, Holm).", "",
                table(["B", "A", "Δ PACC", "Δ mIoU", "Δ Y-PSNR"], diffs, "llrrr"), ""]
    out += convergence_section(summary)
    out += ["## Per-class IoU", "", "<details><summary>IoU per class (Δ pp = SR − bicubic, [95 % CI]; * a change "
            "after Holm's adjustment over the classes of the scale)</summary>", "", _classtable(class_rows, scales),
            "", "</details>", ""]
    if cliff is not None:
        out += cliff_section(*cliff, params)
    out += ["## Figures", ""]
    for key, caption in FIGURE_CAPTIONS.items():
        if key in figures:
            rel = Path(os.path.relpath(figures[key], report_dir)).as_posix()
            out += [f"**{caption}**", "", f"![{caption}]({rel})", ""]
    out += ["## Parameters", "", "The validated `params.yaml` settings the pipeline ran with "
            "(defaults filled in; only the active data source):", "", "```yaml",
            yaml.safe_dump(used_params(params), sort_keys=False, allow_unicode=True).rstrip(), "```", ""]
    return "\n".join(out)


def write_report(path: str | Path, summary: Summary, params: Any, figures: dict[str, Path],
                 class_rows: list[dict[str, Any]], cliff: CliffRows | None = None) -> Path:
    """Write ``report.md`` atomically."""
    path = Path(path)
    text = build_report(summary, params, figures, class_rows, report_dir=path.parent, cliff=cliff)
    with atomic_file(path, "wb") as fh:  # bytes: UTF-8 whatever the locale (the text has × and −)
        fh.write(text.encode("utf-8"))
    return path
