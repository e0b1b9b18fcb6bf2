"""The plots stage on fixture metrics and tiny images: every figure, report.md, Table 4 crop, and DVC plots."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml
from PIL import Image

from srseg.errors import ImageError, SrsegError
from srseg.io import write_png
from srseg.labels import TRAIN_NAMES, TRAIN_PALETTE, TRAIN_TO_ID
from srseg.layout import Sample
from srseg.methods.registry import METHODS
from srseg.params import validate
from srseg.paths import Paths
from srseg.results.curves import KINDS, runs
from srseg.results.plots import FIGURE_NAMES, run
from srseg.results.reading import reading
from srseg.results.report import build_report
from srseg.results.schema import SCHEMA_VERSION, Summary, VariantKey, VariantResult
from srseg.results.summary import run as summarize
from srseg.results.table4 import small_object_crop
from srseg.results.wording import measurable
from tests.dvc_graph import rendered_stages
from tests.results.test_summary import write_metrics, write_variant

REPO = Path(__file__).resolve().parents[2]
T = {name: i for i, name in enumerate(TRAIN_NAMES)}


def street_scene(h: int, w: int, rng: np.random.Generator) -> np.ndarray:
    """A trainId map of a toy street: sky, buildings, road, sidewalk, cars, poles, signs and people."""
    t = np.full((h, w), T["sky"], np.uint8)
    t[h // 5: h // 2] = T["building"]
    t[h // 2: 3 * h // 5] = T["sidewalk"]
    t[3 * h // 5:] = T["road"]
    t[h // 2: 3 * h // 5, : w // 6] = T["vegetation"]
    for x in rng.integers(w // 5, w - 20, 3):
        t[h // 2 + 4: 3 * h // 4, x: x + w // 8] = T["car"]
    px = int(rng.integers(w // 2, w - 8))
    t[h // 4: 3 * h // 5, px: px + 2] = T["pole"]
    t[h // 4: h // 4 + 5, px - 2: px + 4] = T["traffic sign"]
    t[h // 2 - 6: 3 * h // 5 + 2, px + 6: px + 9] = T["person"]
    t[h // 3: h // 3 + 4, w // 3: w // 3 + 2] = 255  # an ignore blob
    return t


def write_images(root: Path, scales: list[int], n_val: int = 2, h: int = 48, w: int = 96, seed: int = 0) -> Paths:
    """HR images + labels, bicubic/SR variants and predictions (training seed 0) as the pipeline lays them out."""
    rng = np.random.default_rng(seed)
    paths = Paths(root)
    for i in range(n_val):
        s = Sample("val", "testcity", f"testcity_{i:06d}_000019")
        gt = street_scene(h, w, rng)
        colour = TRAIN_PALETTE[gt].astype(np.int16) + rng.integers(-25, 25, (h, w, 3))
        hr = np.clip(colour, 0, 255).astype(np.uint8)
        write_png(s.image(paths.raw), hr)
        write_png(s.label_train_ids(paths.raw), gt)
        write_png(s.label_ids(paths.raw), TRAIN_TO_ID[gt])
        variants = {"hr": (hr, 0.02)}
        for sc in scales:
            small = Image.fromarray(hr).resize((w // sc, h // sc), Image.Resampling.BICUBIC)
            bic = np.asarray(small.resize((w, h), Image.Resampling.BICUBIC))
            sr = np.clip(0.5 * bic.astype(np.int16) + 0.5 * hr, 0, 255).astype(np.uint8)
            write_png(s.image(paths.bicubic(sc)), bic)
            write_png(s.image(paths.sr(sc, 0)), sr)
            variants[f"bicubic_x{sc}"] = (bic, 0.03 * sc)
            variants[f"sr_x{sc}"] = (sr, 0.025 * sc)
        for name, (_, noise) in variants.items():
            pred = np.where(gt == 255, T["road"], gt).astype(np.uint8)
            flip = rng.random((h, w)) < noise
            pred[flip] = rng.choice([T["road"], T["building"], T["car"]], size=int(flip.sum()))
            write_png(s.prediction(paths.predictions(name, 0)), TRAIN_TO_ID[pred])
    return paths


def _params(scales: list[int], retrain: list[int], **plots) -> object:
    raw = yaml.safe_load((REPO / "params.yaml").read_text())
    raw["scales"], raw["seg"]["retrain_scales"], raw["combine"]["scales"] = scales, retrain, retrain
    raw["plots"] = {**raw.get("plots", {}), **plots}
    raw["stats"]["resamples"] = 300
    return validate(raw)


def _stage(tmp_path: Path, scales: list[int], retrain: list[int], objects: bool = True, **plots) -> tuple[dict, Path]:
    """Run summarize + plots into ``tmp_path``; return (figures, report path)."""
    write_metrics(tmp_path, scales, retrain, objects=objects)
    paths = write_images(tmp_path, scales)
    params = _params(scales, retrain, **plots)
    summarize(params, paths)
    figures = run(params, paths)
    return figures, paths.report


def _png_size(path: Path) -> tuple[int, int]:
    with Image.open(path) as im:
        return im.size


def test_all_figures_and_report(tmp_path: Path) -> None:
    figures, report = _stage(tmp_path, [2, 3, 4], [4])
    fig_dir = tmp_path / "plots" / "figures"
    assert sorted(p.name for p in fig_dir.iterdir()) == sorted(FIGURE_NAMES.values())
    for path in figures.values():
        w, h = _png_size(path)
        assert 600 <= w <= 1300 and h > 200, (path.name, w, h)
    text = report.read_text(encoding="utf-8")
    summary = json.loads((tmp_path / "metrics" / "summary.json").read_text())
    v, c = summary["variants"], summary["comparisons"]
    for s in (2, 3, 4):
        assert f"{v[f'sr_x{s}']['psnr_y']:.2f} dB" in text and f"{v[f'bicubic_x{s}']['pacc'] * 100:.2f} %" in text
        assert f"{100 * c[f'sr_x{s}-vs-bicubic_x{s}']['pacc']['diff']:+.2f} pp [".replace("-", "−") in text
    r = v["retrain_sr_on_hr_x4"]
    assert f"| SR ×4-trained PSPNet on HR val | {r['pacc'] * 100:.2f} %" in text
    for name in FIGURE_NAMES.values():
        assert f"](plots/figures/{name})" in text
    params_block = yaml.safe_load(text.split("```yaml\n")[1].split("```")[0])
    assert params_block["scales"] == [2, 3, 4] and params_block["data"] == {
        "source": "synthetic", "synthetic": params_block["data"]["synthetic"]}
    # the fixture's SR helps at ×2 and hurts at ×4, clearly: the reading says so, with the intervals
    assert "pixel accuracy on SR input against bicubic input (SR − bicubic): SR improves it at ×2 by +" in text
    assert "| Δ PACC vs bicubic | Δ mIoU vs bicubic |" in text and " % [" not in text.split("## Reading")[1].split(
        "## Super-resolution")[0]  # the reading gives differences in pp, never relative %
    assert "SR lowers it at ×4 by −" in text and "(95 % CI [" in text
    assert "## Object level: can a car still find the pedestrians?" in text and "Pedestrian recall (person" in text
    # the combination study: ranking with its margin, every method against its control, the upper bound labelled
    combined = summary["combined"]["x4"]
    first = combined["rows"][0]
    assert "At ×4, the combined score" in text and f"ranks {first['label']} first" in text
    assert ("which excludes zero" in text) == (combined["margin"]["ci95"][0] > 0)
    oracle = "seg.-assisted SR, ORACLE maps (upper bound) ×4"
    assert f"{oracle} (an upper bound: it is given the ground-truth labels)" in text
    assert "segmentation-assisted SR ×4: the real maps change Y-PSNR by" in text
    assert f"| bound | {oracle} |" in text
    assert not re.search(r"\[[−+]?0\.0+, [−+]?0\.0+\]", text)  # no degenerate (or unreadably small) interval
    hr = v["hr"]  # a level's interval has no signs; a difference's has
    assert f"| HR (reference) | {hr['pacc'] * 100:.2f} % [{hr['pacc_ci95'][0] * 100:.2f}, " in text


def test_cliff_figure_from_a_small_fixture() -> None:
    """The sweep's figure: mIoU, PACC and one panel per chosen class, against the factor (HR first); a line per
    segmenter and input, SR only where it has points."""
    from srseg.results.cliff import point_columns
    from srseg.results.scale_figures import fig_cliff

    factors = [1.0, 2.0, 2.5, 3.0]
    points = [dict.fromkeys(point_columns()) | {"factor": f} for f in factors]
    classes = []
    for r, f in zip(points, factors, strict=True):
        for line, v in (("hr_bicubic", 0.8 - 0.1 * f), ("blur_aug_bicubic", 0.78 - 0.05 * f)):
            r |= {f"miou_{line}": v, f"miou_{line}_lo": v - 0.02, f"miou_{line}_hi": v + 0.02, f"pacc_{line}": v + 0.1}
            classes.append({"factor": f, "line": line, "class": "vegetation", "iou": v if f < 3 else 0.05,
                            "iou_lo": None, "iou_hi": None})
        if f in (2.0, 3.0):
            r |= {"miou_hr_sr": 0.7, "pacc_hr_sr": 0.8}
            classes.append({"factor": f, "line": "hr_sr", "class": "vegetation", "iou": 0.6, "iou_lo": 0.5,
                            "iou_hi": 0.7})
    fig = fig_cliff(points, classes, ["vegetation"])
    axes = [ax for ax in fig.axes if ax.get_visible() and ax.has_data()]
    assert [ax.get_title() for ax in axes] == ["mean IoU", "pixel accuracy", "IoU of vegetation"]
    assert [t.get_text() for t in axes[0].get_xticklabels()] == ["HR", "2", "2.5", "3"]
    veg = axes[2]
    sr = next(line for line in veg.get_lines() if list(line.get_ydata()) == [60.0, 60.0])
    assert [round(float(x)) for x in sr.get_xdata()] == [2, 3]  # SR: ×2 and ×3 only
    reference = [line for line in veg.get_lines() if list(line.get_xdata()) == [0, 1]]
    assert [list(line.get_ydata()) for line in reference] == [[70.0, 70.0]]  # HR's value: the dashed reference
    labels = fig.legends[0].get_texts()
    assert {t.get_text() for t in labels} >= {"HR-trained PSPNet, bicubic input", "HR-trained PSPNet, SR input",
                                              "blur-augmented PSPNet, bicubic input"}


@pytest.mark.slow
def test_cliff_section_is_worded_from_the_data(tmp_path: Path) -> None:
    """The report's sweep section: the class that falls off the cliff (the fixture's vegetation, ×2.5 → ×3) is
    chosen and named, every difference is worded by its interval and verdict, and the table has each line's scores."""
    from srseg.results.cliff import CLIFF_DIFFS_CSV
    from srseg.results.series import read_csv

    _, report = _stage(tmp_path, [2, 3, 4], [4])
    text = report.read_text(encoding="utf-8")
    section = text.split("## The ×3 cliff: segmentation against the degradation factor")[1].split("## Figures")[0]
    assert "SR exists only where a DCSCN was trained (×2, ×3 and ×4 here" in section
    assert re.search(r"The classes whose IoU falls most between ×2 and ×4: vegetation \([\d.]+ % → [\d.]+ %; its "
                     r"steepest step ×2\.5 → ×3, [\d.]+ pp\)", section), section
    diffs = read_csv(tmp_path / "plots" / "series" / CLIFF_DIFFS_CSV)
    d = next(r for r in diffs if (r["factor"], r["b"], r["a"], r["metric"]) == (3, "blur_aug_bicubic", "hr_sr", "miou"))
    wording = "the control is higher" if d["clear"] and d["diff"] > 0 else "the control is lower" if d["clear"] \
        else "no measurable difference"
    assert "At ×3, mIoU of the HR-trained PSPNet on SR against bicubic input: " in section
    assert f"against the HR-trained PSPNet on SR input: {wording}" in section.split("At ×3,")[1]
    assert f"{d['diff'] * 100:+.2f} pp".replace("-", "−") in section.split("At ×3,")[1]
    assert "| IoU vegetation | HR-trained PSPNet, SR input | – |" in section  # SR has no HR-image point
    assert "In short, by mIoU the blur-augmented PSPNet on plain bicubic input" in section
    assert "**The ×3 cliff — mIoU, PACC" in text and "](plots/figures/cliff.png)" in text


def test_report_with_seeds(tmp_path: Path) -> None:
    """With several seeds the report adds each comparison's per-seed spread, draws the seeds in every interval, and
    reads a difference as a change where its family's verdict says so."""
    write_metrics(tmp_path, [2, 4], [4], seeds=(0, 1, 2))
    params = validate({**_params([2, 4], [4]).model_dump(mode="json"), "seeds": [0, 1, 2]})
    summary = summarize(params, Paths(tmp_path))
    # figures and per-class rows: test_all_figures_and_report
    text = build_report(Summary.from_json(summary), params, {}, [])
    v, c = summary["variants"], summary["comparisons"]
    assert "mean over 3 training seeds (0, 1, 2)" in text and "two-level bootstrap over the 3 training seeds" in text
    assert "indicative" not in text  # three seeds: verdicts are findings
    assert all(e["finding"] == (e["verdict"] != "none") for comp in c.values() for e in (comp["pacc"], comp["miou"])
               if e is not None and "verdict" in e)
    section = text.split("## Across training seeds")[1].split("## Per-class IoU")[0]
    d = c["sr_x4-vs-bicubic_x4"]
    s = d["pacc"]["seeds"]
    row = next(line for line in section.splitlines()
               if line.startswith(f"| {v['sr_x4']['label']} | {v['bicubic_x4']['label']} |"))
    assert f"{s['mean'] * 100:+.2f} pp ± {s['std'] * 100:.2f} ".replace("-", "−") in row
    assert row.split(" | ")[2].endswith(" *") == measurable(d["pacc"])
    assert " dB ± " in row  # Y-PSNR's per-seed difference too
    for comp in c.values():  # every comparison has its row
        assert comp["pacc"] is None or "seeds" in comp["pacc"]
    margin = summary["combined"]["x4"]["margin"]  # the ranking's margin: per-seed margins too
    assert margin["seeds"]["ci95"][0] <= margin["seeds"]["mean"] <= margin["seeds"]["ci95"][1]
    assert re.search(r"its margin over [^;]*; across seeds \[", text)
    assert ("which excludes zero" in text) == measurable(margin)


@pytest.mark.parametrize(("scales", "retrain"),
                         [pytest.param([2, 4], [], marks=pytest.mark.slow),
                          pytest.param([2, 3, 4, 8], [2, 8], marks=pytest.mark.slow)])
def test_other_scale_lists(tmp_path: Path, scales: list[int], retrain: list[int]) -> None:
    figures, report = _stage(tmp_path, scales, retrain)
    assert ("retrain" in figures) == bool(retrain)
    assert all(p.stat().st_size > 5000 for p in figures.values())
    text = report.read_text(encoding="utf-8")
    assert all(f"| SR ×{s} |" in text for s in scales)
    assert ("Not run: `seg.retrain_scales` is empty." in text) == (not retrain)


def test_missing_prediction_is_named(tmp_path: Path) -> None:
    write_metrics(tmp_path, [2], [])
    paths = write_images(tmp_path, [2])
    summarize(_params([2], []), paths)
    victim = Sample("val", "testcity", "testcity_000000_000019").prediction(paths.predictions("sr_x2", 0))
    victim.unlink()
    with pytest.raises(ImageError, match=str(victim) + ": label not found"):
        run(_params([2], []), paths)
    assert not paths.figures.exists() and not paths.report.exists()


def test_missing_summary_is_named(tmp_path: Path) -> None:
    with pytest.raises(SrsegError, match=r"summary\.json: missing input \(written by the summarize stage"):
        run(_params([2], []), Paths(tmp_path))


def test_table4_index_out_of_range(tmp_path: Path) -> None:
    with pytest.raises(SrsegError, match=r"plots\.table4_image: must be < 2"):
        _stage(tmp_path, [2], [], table4_image=2)


def test_small_object_crop_finds_the_pole() -> None:
    t = np.full((60, 120), T["road"], np.uint8)
    t[10:40, 100:102] = T["pole"]
    t[30:40, 5:8] = T["person"]  # fewer small-class pixels than the pole
    y0, x0, h, w = small_object_crop(t, 32)
    assert (h, w) == (32, 32)
    assert y0 <= 10 and y0 + h >= 40 and x0 <= 100 and x0 + w >= 102
    # no small classes: the busiest window (class boundaries), and never out of bounds
    t2 = np.full((60, 120), T["sky"], np.uint8)
    t2[40:, 80:] = T["car"]
    y0, x0, h, w = small_object_crop(t2, 100)
    assert (h, w) == (60, 100) and 0 <= x0 <= 20
    assert small_object_crop(np.zeros((10, 10), np.uint8), 4) == (3, 3, 4, 4)  # uniform → centre


def test_reading_follows_the_intervals() -> None:
    """A change is called an improvement (or a loss) only when its interval excludes zero."""

    def diff(d: float, lo: float, hi: float, base: float) -> dict:
        return {"diff": d, "ci95": [lo, hi], "p_opposite": 0.0, "gain_pct": 100 * d / base,
                "gain_pct_ci95": [100 * lo / base, 100 * hi / base]}

    def var(method: str, scale: int | None, pacc: float) -> dict:
        return {"method": method, "scale": scale, "label": method, "pacc": pacc, "miou": pacc - 0.3}

    def comp(b: str, a: str, **metrics: dict) -> dict:
        v = summary["variants"]
        return {"b": b, "a": a, "b_method": v[b]["method"], "a_method": v[a]["method"], "scale": v[b]["scale"],
                "miou": None, **metrics}

    summary = {
        "schema_version": SCHEMA_VERSION, "settings": {"seeds": [0]}, "combined": {}, "convergence": [],
        "variants": {"hr": var("hr", None, 0.95), "bicubic_x2": var("bicubic", 2, 0.90), "sr_x2": var("sr", 2, 0.905),
                     "bicubic_x4": var("bicubic", 4, 0.80), "sr_x4": var("sr", 4, 0.76)},
    }
    summary["comparisons"] = {
        "sr_x2-vs-bicubic_x2": comp("sr_x2", "bicubic_x2", psnr_y=diff(-1.0, -1.2, -0.8, 1),
                                    pacc=diff(0.005, -0.002, 0.012, 0.9), miou=diff(0.005, -0.002, 0.012, 0.6)),
        "sr_x4-vs-bicubic_x4": comp("sr_x4", "bicubic_x4", psnr_y=diff(0.05, -0.1, 0.2, 1),
                                    pacc=diff(-0.04, -0.06, -0.02, 0.8), miou=diff(-0.04, -0.06, -0.02, 0.5)),
        "bicubic_x2-vs-hr": comp("bicubic_x2", "hr", pacc=diff(-0.05, -0.06, -0.04, 0.95)),
        "bicubic_x4-vs-hr": comp("bicubic_x4", "hr", pacc=diff(-0.15, -0.17, -0.13, 0.95)),
    }
    params = validate({"scales": [2, 4], "seg": {"retrain_scales": []}, "combine": {"scales": []}})
    text = reading(Summary.from_json(summary), params)
    assert "SR lowers it at ×2 by −1.00 dB (95 % CI [−1.20, −0.80] dB)" in text
    assert "no measurable difference at ×4: +0.05 dB (95 % CI [−0.10, +0.20] dB)" in text
    assert "no measurable difference at ×2: +0.50 pp (95 % CI [−0.20, +1.20] pp)" in text
    assert "SR lowers it at ×4 by −4.00 pp (95 % CI [−6.00, −2.00] pp)" in text
    assert "improves" not in text and "raises" not in text
    # the share of the HR - bicubic gap: SR x4 widens 15 pp by 4 pp; SR x2's +0.5 pp is not measurable, so no share
    assert "(95.00 %), SR widens the gap by 27 % at ×4." in text
    assert "of the gap at ×2" not in text

    # a family's verdict decides: an interval that excludes zero is not enough when Holm's adjustment takes it
    summary["settings"]["seeds"] = [0, 1, 2]
    x4 = summary["comparisons"]["sr_x4-vs-bicubic_x4"]
    x4["pacc"] |= {"seeds": {"mean": -0.04, "std": 0.03, "ci95": [-0.11, 0.03]}, "p": 0.03, "p_holm": 0.12,
                   "verdict": "none"}
    x4["miou"] |= {"seeds": {"mean": -0.04, "std": 0.005, "ci95": [-0.05, -0.03]}, "p": 0.001, "p_holm": 0.004,
                   "verdict": "lower"}
    text = reading(Summary.from_json(summary), params)
    assert ("no measurable difference at ×4 once its family's comparisons are counted (Holm): −4.00 pp (95 % CI "
            "[−6.00, −2.00] pp; across seeds [−11.00, +3.00] pp)" in text)
    assert "SR lowers it at ×4 by −4.00 pp (95 % CI [−6.00, −2.00] pp; across seeds [−5.00, −3.00] pp)" in text
    assert "widens the gap" not in text  # the x4 PACC change is no longer measurable
    assert "mean over 3 training seeds" in text and "indicative" not in text
    summary["settings"] |= {"seeds": [0], "bootstrap": {"block": 1, "min_seeds_for_findings": 3}}
    assert "This run has 1 training seed: every verdict below is indicative, not a finding" in reading(
        Summary.from_json(summary), params)


def _dvc(repo: Path, *args: str) -> subprocess.CompletedProcess:
    bindir = Path(sys.executable).parent
    env = {**os.environ, "PATH": f"{bindir}{os.pathsep}{os.environ.get('PATH', '')}", "DVC_NO_ANALYTICS": "1",
           "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t"}
    proc = subprocess.run([str(bindir / "dvc"), *args], cwd=repo, capture_output=True, text=True, env=env)
    assert proc.returncode == 0, f"dvc {' '.join(args)} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc


def _dvclive_tsv(path: Path, name: str, n: int = 5) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("step\t" + name + "\n" + "".join(f"{i}\t{1.0 / (i + 1):.4f}\n" for i in range(n)))


def assert_offline(page: Path, charts: int) -> None:
    """The page ``dvc plots show`` / ``diff`` wrote loads nothing from another host: no element's ``src`` or
    ``href`` is a URL with a host, every script is inline, and it defines ``vegaEmbed`` (Vega, Vega-Lite and
    Vega-Embed inlined from .dvc/plots/offline.html) and calls it once per chart."""
    from html.parser import HTMLParser

    class Links(HTMLParser):
        def __init__(self) -> None:
            super().__init__()
            self.links: list[str] = []
            self.scripts = 0

        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            self.scripts += tag == "script"
            self.links += [v for k, v in attrs if k in ("src", "href") and v and re.match(r"([a-z]+:)?//", v, re.I)]

    text = page.read_text(encoding="utf-8")
    parser = Links()
    parser.feed(text)  # script bodies are raw text to the parser: a URL string in the bundle is no element
    assert parser.links == [], parser.links
    assert "cdn.jsdelivr" not in text and text.count("window.vegaEmbed=") == 1
    assert text.count("vegaEmbed('#") == charts and parser.scripts == charts + 1


@pytest.mark.skipif(shutil.which("git") is None, reason="git not installed")
@pytest.mark.slow
def test_dvc_plots_definitions_render(tmp_path: Path) -> None:
    """dvc.yaml's plots (the series, the figures and the training curves gathered from the DVCLive folders, one chart
    per kind and metric) render from fixture files with `dvc plots`, in a page that needs no network (.dvc/config's
    plots.html_template)."""
    repo = tmp_path / "repo"
    repo.mkdir()
    for name in ("dvc.yaml", "params.yaml"):
        shutil.copy2(REPO / name, repo / name)
    _stage(repo, [2, 3, 4], [4])  # the default params' scales and retrain scales
    subprocess.run(["git", "init", "-q"], cwd=repo, check=True)
    _dvc(repo, "init", "-q")
    logs = [p for stage in rendered_stages(repo).values() for p in stage["outs"]
            if p.startswith("metrics/train/") and p.endswith("/plots")]
    assert len(logs) == 3 + 1 + 1 + 8 + 1  # SR per scale, HR, retrain_sr; eight combination ones at x4; blur control
    params = _params([2, 3, 4], [4])
    assert sorted(logs) == sorted(f"{log.relative_to(repo).as_posix()}/plots"
                                  for _, _, log in runs(params, Paths(repo)))
    for kind, _, log in runs(params, Paths(repo)):  # DVCLive's files, then the summarize stage gathers them
        for curve in KINDS[kind][1]:
            _dvclive_tsv(log / "plots" / "metrics" / curve.file, curve.file.split("/")[-1].removesuffix(".tsv"))
        _dvclive_tsv(log / "plots" / "metrics" / "train" / "loss.tsv", "loss")
        (log / "metrics.json").write_text('{"step": 4}')
    summarize(params, Paths(repo))
    shutil.copytree(REPO / ".dvc" / "plots", repo / ".dvc" / "plots")
    shutil.copy2(REPO / ".dvc" / "config", repo / ".dvc" / "config")  # plots.html_template: the offline page
    out = json.loads(_dvc(repo, "plots", "show", "--json").stdout)
    assert not out.get("errors"), out.get("errors")
    plots = out["data"]
    curves = [f"train_{kind}_{c.column}" for kind, (_, cs) in KINDS.items() for c in cs]
    for expected in ("psnr_vs_scale", "ssim_vs_scale", "pacc_vs_scale", "miou_vs_scale", "pacc_gain",
                     "class_iou_delta", "retrain_pacc", "retrain_miou", "pacc_vs_factor", "miou_vs_factor",
                     "plots/figures/table4.png", "plots/figures/cliff.png", *curves):
        assert any(i == expected or i.endswith("::" + expected) for i in plots), (expected, sorted(plots))
    assert not [i for i in plots if "metrics/train/" in i]  # no chart per DVCLive file: one per kind and metric
    for key, plot in plots.items():
        assert plot and all(p["type"] in ("vega", "image") for p in plot), key
    def get(plot_id: str) -> dict:
        return next(v for k, v in plots.items() if k == plot_id or k.endswith("::" + plot_id))[0]["content"]

    heatmap = get("class_iou_delta")
    assert heatmap["spec"]["layer"][0]["encoding"]["color"]["field"] == "delta_value"
    assert len(heatmap["data"]["values"]) == 19 * 3
    pacc = get("pacc_vs_scale")
    assert pacc["encoding"]["y"]["title"] == "pixel accuracy (fraction)"
    seg = get("train_segmentation_val_miou")  # every segmentation training in one chart, a colour per run
    assert {row["run"] for row in seg["data"]["values"]} == {
        "seg_hr seed 0", "seg_retrain_sr_x4 seed 0", "seg_retrain_bicubic_x4 seed 0", "seg_joint_x4 seed 0",
        "seg_blur_aug seed 0", "seg_lr_pspnet_x4 seed 0",
        "seg_joint_ce_x4 seed 0"}
    assert seg["encoding"]["color"]["field"] == "run" and seg["encoding"]["x"]["title"] == "epoch"
    assert len({row["run"] for row in get("train_pretraining_loss")["data"]["values"]}) == 3  # ×2, ×3, ×4
    assert len({row["run"] for row in get("train_finetunes_val_psnr")["data"]["values"]}) == 4
    assert len(pacc["data"]["values"]) == 3 * 3  # 3 scales × (HR, bicubic, SR)
    _dvc(repo, "plots", "show", "-o", str(tmp_path / "html"))
    assert_offline(tmp_path / "html" / "index.html", charts=len([p for p in plots.values() if p[0]["type"] == "vega"]))

    # `dvc plots diff HEAD~1` overlays two committed revisions of the series
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t", "-c", "commit.gpgsign=false"]
    subprocess.run([*git, "add", "-A"], cwd=repo, check=True)
    subprocess.run([*git, "commit", "-qm", "one"], cwd=repo, check=True)
    metrics = write_metrics(repo, [2, 3, 4], [4], seed=1)
    sr2 = json.loads((metrics / "seg" / "seed0" / "sr_x2.json").read_text())
    sr2["pacc"] += 0.01
    (metrics / "seg" / "seed0" / "sr_x2.json").write_text(json.dumps(sr2))
    summarize(_params([2, 3, 4], [4]), Paths(repo))
    subprocess.run([*git, "commit", "-qam", "two"], cwd=repo, check=True)
    diff = json.loads(_dvc(repo, "plots", "diff", "HEAD~1", "--json").stdout)
    assert not diff.get("errors"), diff.get("errors")
    plots = diff["data"]
    pacc = get("pacc_vs_scale")
    assert len({row["rev"] for row in pacc["data"]["values"]}) == 2
    assert pacc["encoding"]["strokeDash"]["field"] == "rev"  # revisions are told apart by line dash in the legend
    assert len({row["rev"] for row in get("class_iou_delta")["data"]["values"]}) == 2
    _dvc(repo, "plots", "diff", "HEAD~1", "-o", str(tmp_path / "diff"))
    assert_offline(tmp_path / "diff" / "index.html", charts=len([p for p in plots.values() if p[0]["type"] == "vega"]))


@pytest.mark.slow
def test_a_bicubic_score_of_zero_still_gives_a_difference(tmp_path: Path) -> None:
    """A bicubic score of 0 leaves the relative gain undefined (summary.json), not the difference in pp that the
    report and the figures show."""
    write_metrics(tmp_path, [2, 4], [])
    paths = Paths(tmp_path)
    cms = np.load(paths.seg_per_image("bicubic_x2", 0))["cms"]
    cms[:, :, :19] = 0  # bicubic predicts nothing right (every pixel "outside the classes")
    cms[:, :, 19] = np.load(paths.seg_per_image("bicubic_x2", 0))["cms"].sum(-1)
    write_variant(paths, "bicubic_x2", cms)
    write_images(tmp_path, [2, 4])
    summary = summarize(_params([2, 4], []), paths)
    assert summary["comparisons"]["sr_x2-vs-bicubic_x2"]["miou"]["gain_pct"] is None
    figures = run(_params([2, 4], []), paths)
    assert "gain" in figures
    text = paths.report.read_text(encoding="utf-8")
    d = summary["comparisons"]["sr_x2-vs-bicubic_x2"]["miou"]["diff"]
    assert f"SR improves it at ×2 by {100 * d:+.2f} pp".replace("-", "−") in text and "undefined" not in text


def test_stale_summary_is_named(tmp_path: Path) -> None:
    """params.yaml asks for a scale the summary lacks: the error names the file to regenerate."""
    write_metrics(tmp_path, [2], [])
    paths = write_images(tmp_path, [2, 4])
    summarize(_params([2], []), paths)
    with pytest.raises(SrsegError, match=r"series/scales\.csv: no rows for scales \[4\] \(re-run the summarize"):
        run(_params([2, 4], []), paths)


def test_degenerate_intervals_are_not_printed() -> None:
    """An interval of one value (every resample gave it) prints as "(every resample)", never as [+0.00, +0.00];
    small values get the digits that tell them from zero."""
    from srseg.results.wording import diff_cell, effect, level_cell

    same = {"diff": 0.0, "ci95": [0.0, 0.0], "p": 1.0, "verdict": "none"}
    assert effect(same, "at ×2", up="SR raises it", down="SR lowers it") == (
        "no difference at ×2: +0.00 pp (every resample)")
    assert diff_cell(0.0, [0.0, 0.0], 100, "pp") == "+0.00 pp (every resample)"
    assert level_cell(0.0, [0.0, 0.0], digits=1) == "0.0 % (every resample)"
    assert level_cell(0.8829, [0.8683, 0.8958]) == "88.29 % [86.83, 89.58]"
    assert diff_cell(0.00004, [0.00001, 0.00008], 100, "pp") == "+0.004 pp [+0.001, +0.008]"
    assert diff_cell(0.0123, [-0.0004, 0.02], 100, "pp", digits=1) == "+1.23 pp [−0.04, +2.00]"


def test_small_differences_are_printed_with_enough_digits() -> None:
    """An interval that excludes zero never prints as [+0.000, +0.001]: decimals grow until no non-zero value reads
    as zero (at most 5)."""
    from srseg.results.wording import enough_digits, interval

    assert enough_digits([2.41, 2.12, 2.70]) == 2 and enough_digits([0.0, 0.0]) == 2
    assert enough_digits([0.0003, 0.00012, 0.0006], 3) == 4
    assert interval([0.00012, 0.0006], digits=enough_digits([0.00012, 0.0006], 3)) == "[+0.0001, +0.0006]"
    assert enough_digits([1e-9], 2) == 5
    assert enough_digits([0.0052, 0.0118]) == 2 and enough_digits([0.0052, 0.0118], apart=True) == 3  # +0.01, +0.01
    assert enough_digits([0.25, 0.25], apart=True) == 2


def test_pedestrian_figure_adds_the_best_combination_method() -> None:
    """Issue 16.4: the best combination method (rank 1 by the combined score; upper bounds are never ranked) is
    drawn at its scale beside bicubic and SR, in every size panel, with its interval."""
    from srseg.results.scale_figures import best_combination, fig_pedestrians

    summary = Summary({"seeds": [0]},
                      tuple(VariantResult(VariantKey(METHODS[m], 4), {"label": f"{METHODS[m].label} ×4"})
                            for m in ("sft_oracle", "task_sr", "sft_sr")), ())
    methods_csv = [
        {"scale": 4, "variant": "sft_oracle_x4", "label": "oracle ×4", "upper_bound": 1, "rank": None},
        {"scale": 4, "variant": "task_sr_x4", "label": "task-driven SR ×4", "upper_bound": 0, "rank": 2},
        {"scale": 4, "variant": "sft_sr_x4", "label": "segmentation-assisted SR ×4", "upper_bound": 0, "rank": 1},
    ]
    best = best_combination(methods_csv, summary)
    assert list(best) == [4] and best[4].key == VariantKey(METHODS["sft_sr"], 4)

    def row(variant: str, scale: int | None, height: str, recall: float) -> dict:
        return {"method": variant.rsplit("_x", 1)[0], "scale": scale, "variant": variant, "measure": "recall",
                "height": height, "value": recall, "value_lo": recall - 0.1, "value_hi": recall + 0.1}

    heights = ("all", "reasonable", "0-10")
    rows = [row("hr", None, h, 0.8) for h in heights]
    rows += [row(f"{m}_x{s}", s, h, 0.5) for m in ("bicubic", "sr") for s in (2, 4) for h in heights]
    rows += [row("sft_sr_x4", 4, h, 0.6) for h in heights]
    fig = fig_pedestrians(rows, [2, 4], best)
    assert len(fig.axes) == 2  # one row (recall only), a panel for all pedestrians and one per bin
    for ax in fig.axes:
        labels = ax.get_legend_handles_labels()[1]
        assert labels == ["HR (no downscaling)", "bicubic LR", "SR (DCSCN)",
                          "best combination: segmentation-assisted SR ×4"]
        points = [c for c in ax.containers if c.get_label().startswith("best combination")]
        assert len(points) == 1 and points[0].lines[0].get_ydata()[0] == pytest.approx(60.0)
    assert fig_pedestrians(rows, [2, 4]).axes[0].get_legend_handles_labels()[1][-1] == "SR (DCSCN)"


@pytest.mark.parametrize("hr_found", [0.8, 0.05])
def test_the_pedestrian_gate_in_the_report_reading_and_figure(tmp_path: Path, hr_found: float) -> None:
    """Issue 30.6: where the HR segmenter finds almost no reasonably sized pedestrian, the object section, the
    reading and the figure's title say "uninformative" with its recall and interval, and the reading ranks no method
    by it; where it finds most, recall is worded by its verdicts with precision beside it. Both tables (recall and
    precision, overall, reasonable and by height) are there either way."""
    from srseg.results.inputs import load_summary
    from srseg.results.pedestrians import gate
    from srseg.results.scale_figures import fig_pedestrians
    from srseg.results.series import CLASS_IOU_CSV, OBJECTS_CSV, read_csv
    from srseg.results.wording import level_cell

    write_metrics(tmp_path, [2, 4], [4], objects=True, hr_found=hr_found)
    paths = Paths(tmp_path)
    params = _params([2, 4], [4])
    summarize(params, paths)
    summary = load_summary(paths.summary)
    informative = hr_found == 0.8
    text = build_report(summary, params, {}, read_csv(paths.series / CLASS_IOU_CSV))
    section = text.split("## Object level: can a car still find the pedestrians?")[1].split("\n## ")[0]
    read = text.split("## Reading")[1].split("\n## ")[0]
    hr = summary.variant(METHODS["hr"])["objects"]["reasonable_recall"]
    cell = level_cell(hr["value"], hr["ci95"], digits=1)  # "5.0 % [0.0, 12.6]": in the figure's title
    found = cell.replace(" [", " (95 % CI [") + ")" if " [" in cell else cell  # in the text, as the reading words it
    header = "| variant | all | reasonable (≥ 10 px) | 0-10 px | 10-20 px | 20-40 px | 40+ px |"
    assert section.count(header) == 2 and "Recall:" in section and "Precision:" in section
    if informative:
        assert (f"**Informative: the HR segmenter (the HR-trained PSPNet on HR images) finds {found} of reasonably "
                "sized pedestrians (at least 10 px high in HR pixels; its interval's lower bound must reach 25 %, "
                "`objects.informative_recall`), so methods are compared by it.**") in section
        assert "The measure is informative: " in read and "Pedestrian recall (person and rider" in read
        assert "Precision (the share of segments that match a pedestrian; on HR images" in read
        assert "uninformative" not in text
    else:
        words = (f"uninformative: the HR segmenter (the HR-trained PSPNet on HR images) finds only {found} of "
                 "reasonably sized pedestrians (at least 10 px high in HR pixels; its interval's lower bound must "
                 "reach 25 %, `objects.informative_recall`), so methods are not ranked by it")
        assert f"**U{words[1:]}.**" in section and "they do not rank them" in section
        assert f"Pedestrians (person and rider instances found by a segment overlapping them with IoU ≥ 0.5): {words}" \
            in read
        assert "Pedestrian recall (" not in read and "Precision (" not in read  # no clause compares methods by it
        assert "pedestrian recall left out: uninformative" in text  # the families, in the uncertainty paragraph
    fig = fig_pedestrians(read_csv(paths.series / OBJECTS_CSV), [2, 4], None, gate(summary))
    title = fig.get_suptitle()
    assert ("Uninformative: HR finds only" in title) != informative and cell in title
    assert [ax.get_ylabel() for ax in fig.axes if ax.get_ylabel()] == ["recall (%)", "precision (%)"]
    assert [ax.get_title() for ax in fig.axes[:5]] == ["all pedestrians", "0-10 px high", "10-20 px high",
                                                       "20-40 px high", "40+ px high"]


def test_a_summary_from_before_the_gate_still_reads() -> None:
    """A committed summary written before the height bins and the gate (docs/camvid-sequence: area bins, recall
    only, no ``informative``) loads, and its report words its pedestrian recall as it was, with no gate."""
    from srseg.results.inputs import load_summary
    from srseg.results.pedestrians import gate

    summary = load_summary(REPO / "docs" / "camvid-sequence" / "summary.json")
    assert "size_bins" in summary.settings["objects"] and gate(summary) is None
    params = validate({"scales": [2, 3, 4], "seg": {"retrain_scales": [4]}, "combine": {"scales": [4]}})
    text = build_report(summary, params, {}, [])
    section = text.split("## Object level: can a car still find the pedestrians?")[1].split("\n## ")[0]
    assert "| variant | all | 0-32 px | 32-128 px | 128-512 px | 512+ px |" in section
    assert "informative" not in section and "Precision" not in section
    hr = summary.variant(METHODS["hr"])["objects"]["pedestrian_recall"]
    assert f"Pedestrian recall (person and rider instances found by a segment overlapping them with IoU ≥ 0.5; on HR " \
           f"images {hr['value'] * 100:.1f} %), SR against bicubic input: no measurable difference at ×2" in text


def test_figures_agree_with_the_paired_verdicts_and_fit_their_data() -> None:
    """Graph 2 labels each scale with the paired difference SR − bicubic (pp, with its interval), bold and starred
    exactly where its verdict holds, even where the two scores' own intervals overlap; Graph 3 draws the same
    differences in pp; the pedestrian panels' axes fit recall between 0 and 10 % instead of spanning 0–100 %."""
    from srseg.results.scale_figures import fig_gain, fig_pacc, fig_pedestrians, fitted_range

    def scale_row(s: int, gain: float, lo: float, hi: float, clear: int) -> dict:
        row = {"scale": s, "pacc_gain_pp": gain, "pacc_gain_lo": lo, "pacc_gain_hi": hi, "pacc_gain_clear": clear,
               "miou_gain_pp": gain, "miou_gain_lo": lo, "miou_gain_hi": hi, "miou_gain_clear": clear}
        for key, level in (("pacc", 0.85), ("miou", 0.5)):
            for m, v in (("hr", level + 0.03), ("bicubic", level), ("sr", level + gain / 100)):
                row |= {f"{key}_{m}": v, f"{key}_{m}_lo": v - 0.02, f"{key}_{m}_hi": v + 0.02}  # overlapping
        return row

    rows = [scale_row(2, 0.08, -0.09, 0.25, 0), scale_row(3, 0.27, 0.04, 0.51, 0), scale_row(4, 1.4, 0.59, 2.4, 1)]
    fig = fig_pacc(rows)
    labels = [t for t in fig.axes[0].texts if " pp" in t.get_text()]
    assert [t.get_text() for t in labels] == ["+0.08 pp\n[−0.09, +0.25]", "+0.27 pp\n[+0.04, +0.51]",
                                               "+1.40 pp *\n[+0.59, +2.40]"]
    assert [t.get_fontweight() for t in labels] == ["normal", "normal", "bold"]  # ×3: Holm took the verdict
    gain = fig_gain(rows)
    assert "percentage points" in gain.axes[0].get_ylabel() and [t.get_text() for t in gain.axes[0].texts][:3] == [
        "+0.08 pp", "+0.27 pp", "+1.40 pp"]

    def ped(variant: str, scale: int | None, recall: float) -> dict:
        return {"method": variant.rsplit("_x", 1)[0], "scale": scale, "variant": variant, "measure": "recall",
                "height": "all", "value": recall, "value_lo": max(recall - 0.03, 0.0), "value_hi": recall + 0.03}

    peds = [ped("hr", None, 0.07)] + [ped(f"{m}_x{s}", s, r) for m, r in (("bicubic", 0.0), ("sr", 0.04))
                                      for s in (2, 4)]
    low, high = fig_pedestrians(peds, [2, 4]).axes[0].get_ylim()
    assert -1 < low <= 0 and 10 <= high < 12
    assert fitted_range([0.0, 0.0]) == (-0.05, 1.0) and fitted_range([60.0, 90.0]) == (57.6, 92.4)


@pytest.mark.slow
def test_a_point_outside_its_interval_is_drawn(tmp_path: Path) -> None:
    """A percentile bootstrap interval can exclude its own point estimate (a skewed resample distribution: an mIoU
    of 0.666212 came with [0.654221, 0.66574]). Every figure with error bars draws such rows, one point above its
    interval and one below, with the bar from the interval's far end to the point, instead of failing on a negative
    bar length ("'xerr' must not contain negative values")."""
    from srseg.results.figure_style import save
    from srseg.results.inputs import load_summary
    from srseg.results.method_figures import fig_class_psnr, fig_methods, fig_retrain, fig_tradeoff
    from srseg.results.scale_figures import best_combination, fig_gain, fig_pacc, fig_pedestrians
    from srseg.results.series import (
        CLASS_PSNR_CSV,
        METHODS_CSV,
        OBJECTS_CSV,
        RETRAIN_CSV,
        SCALES_CSV,
        column,
        read_csv,
    )

    write_metrics(tmp_path, [2, 4], [4], objects=True)
    paths = Paths(tmp_path)
    summarize(_params([2, 4], [4]), paths)
    summary = load_summary(paths.summary)

    def outside(rows: list[dict], key: str, lo: str, hi: str) -> list[dict]:
        """``rows`` with the first point moved just above its interval and the last just below."""
        rows = [dict(r) for r in rows]
        first, last = rows[0], rows[-1]
        assert first is not last and all(r[k] is not None for r in (first, last) for k in (key, lo, hi))
        first[key] = first[hi] + 0.5 * (first[hi] - first[lo])
        last[key] = last[lo] - 0.5 * (last[hi] - last[lo])
        return rows

    series = {name: read_csv(paths.series / name)
              for name in (SCALES_CSV, RETRAIN_CSV, OBJECTS_CSV, METHODS_CSV, CLASS_PSNR_CSV)}
    sr_miou = column("miou", METHODS["sr"])
    scales = outside(series[SCALES_CSV], sr_miou, f"{sr_miou}_lo", f"{sr_miou}_hi")
    scales = outside(scales, "pacc_gain_pp", "pacc_gain_lo", "pacc_gain_hi")
    objects = [r for r in series[OBJECTS_CSV] if r["value"] is not None and r["value_lo"] is not None]
    method_rows = outside(series[METHODS_CSV], "miou", "miou_lo", "miou_hi")
    class_psnr = [r for r in series[CLASS_PSNR_CSV] if r["delta_db"] is not None]
    figures = {
        "pacc": fig_pacc(scales),
        "gain": fig_gain(scales),
        "pedestrians": fig_pedestrians(outside(objects, "value", "value_lo", "value_hi"), [2, 4],
                                       best_combination(method_rows, summary)),
        "retrain": fig_retrain(outside(series[RETRAIN_CSV], "miou", "miou_lo", "miou_hi"), summary),
        "methods": fig_methods(method_rows, summary),
        "tradeoff": fig_tradeoff(outside(method_rows, "psnr", "psnr_lo", "psnr_hi"), summary),
        "class_psnr": fig_class_psnr(outside(class_psnr, "delta_db", "delta_lo", "delta_hi"), summary),
    }
    for name, fig in figures.items():
        assert fig is not None, name
        assert save(fig, tmp_path / f"{name}.png").stat().st_size > 5000, name

    # the methods' mIoU panel: each row is one error bar, top row first; the bar spans the interval and the point
    ax = figures["methods"].axes[1]
    for r, bar in ((method_rows[0], ax.containers[0]), (method_rows[-1], ax.containers[-1])):
        (segment,) = bar.lines[2][0].get_segments()
        ends = sorted(segment[:, 0])
        assert ends == pytest.approx(sorted([min(r["miou"], r["miou_lo"]) * 100, max(r["miou"], r["miou_hi"]) * 100]))
