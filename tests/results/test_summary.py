"""The summarize stage on hand-made evaluation outputs: summary.json with intervals, the headline, the plot series,
missing and bad inputs."""

from __future__ import annotations

import json
import math
from itertools import pairwise
from pathlib import Path

import numpy as np
import pytest

from srseg.errors import SrsegError
from srseg.labels import NUM_CLASSES, TRAIN_NAMES
from srseg.methods.registry import METHODS
from srseg.metrics.seg import save_per_image, scores
from srseg.params import validate
from srseg.paths import Paths
from srseg.results.cliff import CLIFF_CLASS_CSV, CLIFF_CSV, CLIFF_DIFFS_CSV
from srseg.results.curves import KINDS, csv_name
from srseg.results.series import (
    CLASS_COLUMNS,
    CLASS_IOU_CSV,
    CLASS_PSNR_COLUMNS,
    CLASS_PSNR_CSV,
    METHOD_COLUMNS,
    METHODS_CSV,
    OBJECTS_CSV,
    RETRAIN_CSV,
    SCALE_COLUMNS,
    SCALES_CSV,
    read_csv,
)
from srseg.results.summary import run

ABSENT = (16, 17)  # train, motorcycle: absent from the fixture's val images
IDS = [f"testcity_{i:06d}_000019" for i in range(6)]


def _write(path: Path, obj: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj))


def make_cms(rng: np.random.Generator, acc: float, n: int = len(IDS), classes: dict[int, float] | None = None
             ) -> np.ndarray:
    """Per-image confusion matrices with about ``acc`` of each class's pixels right (``classes``: other
    accuracies of some classes), the rest spread at random."""
    cms = np.zeros((n, NUM_CLASSES, NUM_CLASSES + 1), np.int64)
    for i in range(n):
        for c in range(NUM_CLASSES):
            if c in ABSENT:
                continue
            total = int(rng.integers(200, 2000))
            right = int(rng.binomial(total, min(max((classes or {}).get(c, acc) + rng.normal(0, 0.02), 0), 1)))
            cms[i, c, c] = right
            wrong = rng.choice([k for k in range(NUM_CLASSES) if k not in ABSENT and k != c], total - right)
            np.add.at(cms[i, c], wrong, 1)
    return cms


def make_objects(rng: np.random.Generator, found: float, n: int = len(IDS)) -> dict[str, np.ndarray]:
    """Per-image object counts (4 classes × 4 height bins) with about ``found`` of the instances found (at least
    5 %, at most 95 %) and a few false positives in every bin."""
    height_n = rng.integers(0, 4, (n, 4, 4))
    height_tp = rng.binomial(height_n, min(max(found, 0.05), 0.95))
    height_fp = rng.integers(0, 2, (n, 4, 4))
    return {"tp": height_tp.sum(2), "fn": (height_n - height_tp).sum(2), "fp": height_fp.sum(2),
            "height_tp": height_tp, "height_n": height_n, "height_fp": height_fp}


def write_variant(paths: Paths, name: str, cms: np.ndarray, seed: int = 0,
                  objects: dict[str, np.ndarray] | None = None) -> dict:
    """A variant's evaluation outputs as the evaluate stage writes them: scores JSON + per-image matrices (and
    object counts where the data has instances)."""
    data = {**scores(cms.sum(0)), "n_images": len(cms), "objects": None}
    records = {}
    if objects is not None:
        from srseg.metrics.objects import ImageCounts, combine

        data["objects"] = combine([ImageCounts(**{k: v[i] for k, v in objects.items()}) for i in range(len(cms))])
        records = {f"objects_{k}": v for k, v in objects.items()}
    _write(paths.seg_metrics(name, seed), data)
    save_per_image(paths.seg_per_image(name, seed), IDS[: len(cms)], cms, records=records)
    return data


def write_quality(path: Path, rng: np.random.Generator, psnr: float, n: int = len(IDS), classes: bool = False) -> None:
    """An image-quality record; ``classes`` adds the per-class squared errors of class-region PSNR."""
    p = rng.normal(psnr, 0.8, n)
    s = np.clip(rng.normal(0.9, 0.02, n), 0, 1)
    per_image = {"ids": IDS[:n], "psnr_y": p.tolist(), "ssim_y": s.tolist()}
    if classes:
        pixels = rng.integers(0, 5000, (n, NUM_CLASSES))
        mse = 255.0**2 * 10 ** (-rng.normal(psnr, 1.5, (n, NUM_CLASSES)) / 10)
        per_image |= {"class_sse": (mse * pixels).tolist(), "class_pixels": pixels.tolist()}
    _write(path, {"psnr_y": float(p.mean()), "ssim_y": float(s.mean()), "n_images": n, "per_image": per_image})


#: The fixture's cliff: vegetation's accuracy under the HR-trained PSPNet on bicubic input, by degradation factor.
VEGETATION = TRAIN_NAMES.index("vegetation")
CLIFF = {2.0: 0.85, 2.5: 0.8, 3.0: 0.15, 3.5: 0.1, 4.0: 0.08}


def write_cliff(paths: Paths, k: int, scales: list[int], factors: tuple[float, ...], rng: np.random.Generator,
                objects: bool) -> None:
    """The degradation sweep's evaluations (evaluate_cliff@k) and the blur-augmented PSPNet's own (HR images): the
    HR-trained PSPNet loses vegetation from ×3 on (:data:`CLIFF`); SR brings part of it back, the blur-augmented
    PSPNet most of it."""
    from srseg.methods.registry import swept
    from srseg.paths import cliff_variant

    def put(name: str, cms: np.ndarray) -> None:
        _write(paths.cliff_metrics(name, k), {**scores(cms.sum(0)), "n_images": len(cms)})
        save_per_image(paths.cliff_per_image(name, k), IDS[: len(cms)], cms)

    for m in swept():
        write_variant(paths, m.variant(None), make_cms(rng, 0.9), k,
                      make_objects(rng, 0.75) if objects else None)
    for f in factors:
        acc = 0.9 - 0.04 * f
        put(cliff_variant("hr", "bicubic", f), make_cms(rng, acc, classes={VEGETATION: CLIFF[f]}))
        for m in swept():
            put(cliff_variant(m.segmenter, "bicubic", f), make_cms(rng, acc + 0.02, classes={VEGETATION: 0.8}))
            if float(f).is_integer() and int(f) in scales:
                put(cliff_variant(m.segmenter, "sr", f), make_cms(rng, acc + 0.03, classes={VEGETATION: 0.82}))


def write_metrics(root: Path, scales: list[int], retrain_scales: list[int], seed: int = 0,
                  seeds: tuple[int, ...] = (0,), objects: bool = False,
                  factors: tuple[float, ...] = (2, 2.5, 3, 3.5, 4), hr_found: float = 0.8) -> Path:
    """Every evaluation output the summarize stage reads, for training ``seeds``: SR helps at small scales and
    hurts at the largest; the degradation sweep over ``factors`` (:func:`write_cliff`). ``seed`` seeds the made-up
    numbers; with ``objects`` the HR segmenter finds about ``hr_found`` of the pedestrians (0.8: the measure is
    informative; 0.05: not). Returns the ``metrics`` folder."""
    rng = np.random.default_rng(seed)
    paths = Paths(root)

    def obj(found: float) -> dict[str, np.ndarray] | None:
        return make_objects(rng, found) if objects else None

    for k in seeds:
        write_variant(paths, "hr", make_cms(rng, 0.92), k, obj(hr_found))
        for i, s in enumerate(scales):
            last = i == len(scales) - 1
            acc_b = 0.9 - 0.04 * s
            write_variant(paths, f"bicubic_x{s}", make_cms(rng, acc_b), k, obj(0.7 - 0.1 * s))
            acc_sr = acc_b + (0.06 if not last else -0.03)
            write_variant(paths, f"sr_x{s}", make_cms(rng, acc_sr), k, obj(0.75 - 0.1 * s))
            psnr_b = 36.0 - 5.5 * math.log2(s)
            write_quality(paths.image_quality(f"bicubic_x{s}", None), np.random.default_rng(s), psnr_b)
            write_quality(paths.image_quality(f"sr_x{s}", k), rng, psnr_b + (1.4 if not last else 0.25))
        for s in retrain_scales:
            write_variant(paths, f"retrain_sr_x{s}", make_cms(rng, 0.9 - 0.04 * s + 0.1), k, obj(0.6))
            write_variant(paths, f"retrain_sr_on_hr_x{s}", make_cms(rng, 0.88), k, obj(0.7))
        # The combination methods run at combine.scales, which params_for sets to the retrain scales.
        combine = [m for m in METHODS.values() if m.scales == "combine.scales"]
        for j, m in enumerate(combine):
            for s in retrain_scales:
                write_variant(paths, m.variant(s), make_cms(rng, 0.9 - 0.04 * s + 0.01 * j), k, obj(0.6))
                if m.quality:
                    write_quality(m.quality_path(paths, s, k), rng, 36.0 - 5.5 * math.log2(s) + 0.2 * j,
                                  classes=True)
        write_cliff(paths, k, scales, factors, np.random.default_rng([seed, k, 29]), objects)
    return root / "metrics"


def params_for(scales: list[int], retrain: list[int], seeds: list[int] | None = None, **plots: object):
    return validate({"scales": scales, "seeds": seeds or [0], "seg": {"retrain_scales": retrain},
                     "combine": {"scales": retrain}, "plots": plots, "stats": {"resamples": 300}})


def _run(tmp_path: Path, scales: list[int], retrain: list[int], seeds: list[int] | None = None) -> tuple[dict, Path]:
    summary = run(params_for(scales, retrain, seeds), Paths(tmp_path))
    return summary, tmp_path / "plots" / "series"


def test_summary_layout_values_and_intervals(tmp_path: Path) -> None:
    write_metrics(tmp_path, [2, 3, 4], [4])
    summary, _ = _run(tmp_path, [2, 3, 4], [4])
    assert json.loads((tmp_path / "metrics" / "summary.json").read_text()) == summary
    v, c = summary["variants"], summary["comparisons"]
    combine = [m.variant(4) for m in METHODS.values() if m.scales == "combine.scales"]
    assert list(v) == ["hr", "bicubic_x2", "bicubic_x3", "bicubic_x4", "sr_x2", "sr_x3", "sr_x4",
                       "retrain_sr_x4", "retrain_sr_on_hr_x4", *combine, "blur_aug"]
    for name, e in v.items():  # each value is the evaluate stage's, with an interval around it
        on_disk = json.loads(Paths(tmp_path).seg_metrics(name, 0).read_text())
        assert e["pacc"] == round(on_disk["pacc"], 6) and e["miou"] == round(on_disk["miou"], 6)
        lo, hi = e["pacc_ci95"]
        assert lo <= e["pacc"] <= hi and 0 < hi - lo < 0.05
    assert v["sr_x2"]["psnr_y"] > v["bicubic_x2"]["psnr_y"] and "psnr_y" not in v["hr"]
    # every method against its baseline, then every variant against HR
    assert "sr_x2-vs-bicubic_x2" in c and "retrain_sr_x4-vs-sr_x4" in c and "bicubic_x4-vs-hr" in c
    assert "retrain_sr_on_hr_x4-vs-hr" in c
    g = c["sr_x2-vs-bicubic_x2"]
    assert g["pacc"]["diff"] == pytest.approx(v["sr_x2"]["pacc"] - v["bicubic_x2"]["pacc"], abs=2e-6)
    assert g["pacc"]["ci95"][0] > 0 and g["pacc"]["p_opposite"] == 0  # +6 points on every image: clearly real
    assert g["pacc"]["gain_pct"] == pytest.approx(100 * g["pacc"]["diff"] / v["bicubic_x2"]["pacc"], rel=1e-4)
    assert c["sr_x4-vs-bicubic_x4"]["pacc"]["ci95"][1] < 0  # the fixture's SR hurts at the largest scale
    assert g["psnr_y"]["ci95"][0] < g["psnr_y"]["diff"] < g["psnr_y"]["ci95"][1]
    text = (tmp_path / "metrics" / "headline.json").read_text()  # the file keeps its order; DVC sorts by name
    headline = json.loads(text)
    # one unit (percent and percentage points), value before bounds, in the file's order
    assert headline["hr"] == {"pacc_pct": round(100 * v["hr"]["pacc"], 2), "miou_pct": round(100 * v["hr"]["miou"], 2)}
    assert list(headline["sr_x2"]) == sorted(headline["sr_x2"]) == ["pacc_pp", "pacc_pp_lower", "pacc_pp_upper",
                                                                     "verdict"]
    assert text.index('"pacc_pp"') < text.index('"pacc_pp_lower"') < text.index('"pacc_pp_upper"')
    assert headline["sr_x2"]["pacc_pp"] == pytest.approx(100 * g["pacc"]["diff"], abs=0.005)
    assert [headline["sr_x2"][k] for k in ("pacc_pp_lower", "pacc_pp_upper")] == pytest.approx(
        [100 * x for x in g["pacc"]["ci95"]], abs=0.005)
    assert headline["sr_x2"]["verdict"] == g["pacc"]["verdict"] == "higher"
    assert headline["sr_x4"]["verdict"] == "lower"  # the fixture's SR hurts at the largest scale
    # one entry per method against its own baseline (short `dvc exp show` columns); controls stay in summary.json
    assert headline["retrain_sr_x4"]["pacc_pp"] == pytest.approx(
        100 * c["retrain_sr_x4-vs-sr_x4"]["pacc"]["diff"], abs=0.005)
    assert list(headline) == ["hr", "sr_x2", "sr_x3", "sr_x4", "retrain_sr_x4",
                              *(m.variant(4) for m in METHODS.values() if m.scales == "combine.scales")]
    # small: HR's two levels, then a difference, its two bounds and the verdict per method
    assert sum(isinstance(x, float) for e in headline.values() for x in e.values()) <= 2 + 3 * (len(headline) - 1)
    assert all(len(e) <= 4 for e in headline.values())


def test_headline_keeps_small_differences_readable() -> None:
    """Differences below 0.01 pp keep two significant digits; the rest two decimals."""
    from srseg.results.summary import _pp

    assert _pp(0.014001) == 1.4 and _pp(-0.000018) == -0.0018 and _pp(0.0) == 0.0 and _pp(0.882854) == 88.29


def test_seeds_add_their_spread_and_pool_the_images(tmp_path: Path) -> None:
    write_metrics(tmp_path, [2], [], seeds=(0, 1, 2))
    summary, _ = _run(tmp_path, [2], [], seeds=[0, 1, 2])
    e = summary["variants"]["sr_x2"]
    per_seed = [json.loads(Paths(tmp_path).seg_metrics("sr_x2", k).read_text())["pacc"] for k in range(3)]
    assert e["pacc"] == pytest.approx(np.mean(per_seed), abs=1e-6)
    s = e["pacc_seeds"]
    assert s["std"] == pytest.approx(np.std(per_seed, ddof=1), abs=1e-6) and s["ci95"][0] < s["mean"] < s["ci95"][1]
    comp = summary["comparisons"]["sr_x2-vs-bicubic_x2"]["pacc"]
    d = comp["seeds"]  # with one scale, the fixture's SR hurts there (its largest)
    assert d["mean"] < 0 and d["ci95"][1] < 0 and comp["ci95"][1] < 0
    psnr = summary["comparisons"]["sr_x2-vs-bicubic_x2"]["psnr_y"]["seeds"]  # Y-PSNR's per-seed differences too
    sr, bic = ([json.loads(METHODS[m].quality_path(Paths(tmp_path), 2, k).read_text())["psnr_y"] for k in range(3)]
               for m in ("sr", "bicubic"))
    assert psnr["mean"] == pytest.approx(np.mean(sr) - np.mean(bic), abs=1e-6) and psnr["std"] > 0
    headline = json.loads((tmp_path / "metrics" / "headline.json").read_text())["sr_x2"]  # dvc metrics diff shows it
    assert [headline["pacc_pp_lower"], headline["pacc_pp_upper"]] == pytest.approx([100 * x for x in comp["ci95"]],
                                                                             abs=0.005)
    assert summary["settings"]["seeds"] == [0, 1, 2]


def test_one_seed_adds_no_seed_fields(tmp_path: Path) -> None:
    write_metrics(tmp_path, [2], [])
    summary, _ = _run(tmp_path, [2], [])
    assert "pacc_seeds" not in summary["variants"]["sr_x2"]
    assert "seeds" not in summary["comparisons"]["sr_x2-vs-bicubic_x2"]["pacc"]
    assert set(json.loads((tmp_path / "metrics" / "headline.json").read_text())["sr_x2"]) == {
        "pacc_pp", "pacc_pp_lower", "pacc_pp_upper", "verdict"}


@pytest.mark.slow
def test_series_files(tmp_path: Path) -> None:
    write_metrics(tmp_path, [2, 3, 4], [4])
    summary, series = _run(tmp_path, [2, 3, 4], [4])
    trainings = [csv_name(kind) for kind in KINDS]  # the training curves: none logged here, so headers only
    assert sorted(p.name for p in series.iterdir()) == sorted([SCALES_CSV, CLASS_IOU_CSV, RETRAIN_CSV, OBJECTS_CSV,
                                                               METHODS_CSV, CLASS_PSNR_CSV, CLIFF_CSV,
                                                               CLIFF_CLASS_CSV, CLIFF_DIFFS_CSV, *trainings])
    assert all(read_csv(series / name) == [] for name in trainings)
    rows = read_csv(series / SCALES_CSV)
    assert list(rows[0]) == SCALE_COLUMNS and [r["scale"] for r in rows] == [2, 3, 4]
    assert rows[2]["pacc_sr"] == summary["variants"]["sr_x4"]["pacc"]
    assert rows[0]["pacc_gain_lo"] < rows[0]["pacc_gain_pp"] < rows[0]["pacc_gain_hi"]
    classes = read_csv(series / CLASS_IOU_CSV)
    assert list(classes[0]) == CLASS_COLUMNS and len(classes) == 19 * 3
    absent = [r for r in classes if r["train_id"] in ABSENT]
    assert absent and all(r["delta"] is None and r["delta_lo"] is None for r in absent)
    present = next(r for r in classes if r["class"] == "road" and r["scale"] == 3)
    assert present["delta"] == pytest.approx(present["iou_sr"] - present["iou_bicubic"], abs=1e-6)
    assert present["delta_lo"] <= present["delta"] <= present["delta_hi"]
    retrain = read_csv(series / RETRAIN_CSV)
    assert [r["variant"] for r in retrain] == ["hr", "sr_x4", "retrain_sr_x4", "retrain_sr_on_hr_x4", "bicubic_x4",
                                               "retrain_bicubic_x4"]  # the bicubic-trained control beside SR's
    assert len({r["label"] for r in retrain}) == 6 and all(r["pacc_lo"] <= r["pacc"] <= r["pacc_hi"] for r in retrain)
    table = read_csv(series / METHODS_CSV)
    assert list(table[0]) == METHOD_COLUMNS
    assert [r["variant"] for r in table] == [r["variant"] for r in summary["combined"]["x4"]["rows"]]
    assert table[-1]["upper_bound"] == 1 and table[-1]["rank"] is None
    joint = next(r for r in table if r["variant"] == "joint_x4")  # its SR head's PSNR
    assert joint["own_image"] == 1 and joint["psnr"] == summary["variants"]["joint_x4"]["psnr_y"]
    retrained = next(r for r in table if r["variant"] == "retrain_sr_x4")  # sees the SR images
    assert retrained["own_image"] == 0 and retrained["psnr"] == summary["variants"]["sr_x4"]["psnr_y"]
    regions = read_csv(series / CLASS_PSNR_CSV)
    assert list(regions[0]) == CLASS_PSNR_COLUMNS
    sft = [r for r in regions if r["variant"] == "sft_sr_x4"]
    assert len(sft) == 19 and {r["baseline"] for r in sft} == {"ft_sr_x4"}
    road = next(r for r in sft if r["class"] == "road")
    assert road["delta_db"] == pytest.approx(road["psnr"] - road["psnr_baseline"], abs=2e-6)
    assert road["delta_lo"] <= road["delta_db"] <= road["delta_hi"]


@pytest.mark.slow
def test_cliff_series(tmp_path: Path) -> None:
    """The degradation sweep's series: a row per factor (1: HR images) with every line's PACC and mIoU, SR only at
    the integer factors that are scales; class IoU per factor and line; the comparisons with intervals and Holm."""
    from srseg.results.cliff import CLASS_COLUMNS, DIFF_COLUMNS, point_columns

    write_metrics(tmp_path, [2, 3, 4], [4])
    summary, series = _run(tmp_path, [2, 3, 4], [4])
    v = summary["variants"]
    points = read_csv(series / CLIFF_CSV)
    assert list(points[0]) == point_columns() and [r["factor"] for r in points] == [1, 2, 2.5, 3, 3.5, 4]
    assert points[0]["miou_hr_bicubic"] == v["hr"]["miou"]
    assert points[0]["pacc_blur_aug_bicubic"] == v["blur_aug"]["pacc"]
    by = {r["factor"]: r for r in points}
    assert by[3]["miou_hr_sr"] == v["sr_x3"]["miou"]  # the HR-trained PSPNet on SR: evaluate_sr's
    assert by[2.5]["miou_hr_sr"] is None and by[1]["miou_blur_aug_sr"] is None  # no DCSCN ×2.5; SR of HR: none
    on_disk = json.loads(Paths(tmp_path).cliff_metrics("hr_bicubic_x2.5", 0).read_text())
    assert by[2.5]["miou_hr_bicubic"] == round(on_disk["miou"], 6)
    assert by[2.5]["miou_hr_bicubic_lo"] < by[2.5]["miou_hr_bicubic"] < by[2.5]["miou_hr_bicubic_hi"]
    classes = read_csv(series / CLIFF_CLASS_CSV)
    assert list(classes[0]) == CLASS_COLUMNS
    veg = {(r["line"], r["factor"]): r["iou"] for r in classes if r["class"] == "vegetation"}
    assert veg[("hr_bicubic", 2.5)] > 0.5 > 0.2 > veg[("hr_bicubic", 3)]  # the fixture's cliff
    assert veg[("blur_aug_bicubic", 3)] > 0.5 and ("hr_sr", 2.5) not in veg
    diffs = read_csv(series / CLIFF_DIFFS_CSV)
    assert list(diffs[0]) == DIFF_COLUMNS

    def diff(f: float, b: str, a: str, metric: str) -> dict:
        return next(r for r in diffs if (r["factor"], r["b"], r["a"], r["metric"]) == (f, b, a, metric))

    d = diff(3, "blur_aug_bicubic", "hr_bicubic", "vegetation")
    assert d["diff"] == pytest.approx(veg[("blur_aug_bicubic", 3)] - veg[("hr_bicubic", 3)], abs=0.02)
    assert d["diff_lo"] > 0 and d["clear"] == 1 and d["p_holm"] >= d["p"]
    assert {(r["factor"], r["b"], r["a"]) for r in diffs if r["metric"] == "miou"} == {
        *((f, "blur_aug_bicubic", "hr_bicubic") for f in (1, 2, 2.5, 3, 3.5, 4)),
        *((s, b, a) for s in (2, 3, 4) for b, a in (("hr_sr", "hr_bicubic"), ("blur_aug_bicubic", "hr_sr"),
                                                    ("blur_aug_sr", "blur_aug_bicubic")))}
    assert all(r["p_holm"] is not None for r in diffs if r["metric"] in ("pacc", "miou"))
    missing = Paths(tmp_path).cliff_per_image("blur_aug_sr_x3", 0)
    missing.unlink()
    with pytest.raises(SrsegError, match=r"blur_aug_sr_x3\.npz: missing input \(written by the evaluate_cliff@0 stage"):
        _run(tmp_path, [2, 3, 4], [4])


@pytest.mark.slow
def test_the_same_inputs_give_the_same_bytes(tmp_path: Path) -> None:
    write_metrics(tmp_path, [2, 4], [4])
    _run(tmp_path, [2, 4], [4])
    outputs = sorted((tmp_path / "plots").rglob("*.csv")) + [tmp_path / "metrics/summary.json"]
    first = {p: p.read_bytes() for p in outputs}
    _run(tmp_path, [2, 4], [4])
    assert {p: p.read_bytes() for p in first} == first


@pytest.mark.parametrize(("scales", "retrain"), [([2, 4], []), pytest.param([2, 3, 4, 8], [2, 8],
                                                                          marks=pytest.mark.slow)])
def test_other_scale_lists(tmp_path: Path, scales: list[int], retrain: list[int]) -> None:
    write_metrics(tmp_path, scales, retrain)
    summary, series = _run(tmp_path, scales, retrain)
    assert [k for k in summary["variants"] if k.startswith("sr_")] == [f"sr_x{s}" for s in scales]
    # HR, then per scale: SR, retrained on SR (on SR val and HR val), bicubic, retrained on bicubic
    assert len(read_csv(series / RETRAIN_CSV)) == (1 + 5 * len(retrain) if retrain else 0)


@pytest.mark.parametrize("victim", ["sr/bicubic_x3.json", "sr/seed0/sr_x3.json", "seg/seed0/hr.json",
                                    "seg/seed0/bicubic_x2.npz", "seg/seed0/retrain_sr_x4.json",
                                    "seg/seed0/retrain_sr_on_hr_x4.npz"])
def test_missing_input_is_named(tmp_path: Path, victim: str) -> None:
    metrics = write_metrics(tmp_path, [2, 3, 4], [4])
    (metrics / victim).unlink()
    message = r"metrics/" + victim + r": (missing input|per-image confusion matrices not found)"
    with pytest.raises(SrsegError, match=message) as err:
        _run(tmp_path, [2, 3, 4], [4])
    assert "\n" not in str(err.value)
    assert not (metrics / "summary.json").exists() and not (tmp_path / "plots" / "series").exists()


def test_images_that_do_not_match_are_named(tmp_path: Path) -> None:
    """A variant evaluated on other images (or another count) than the rest: never silently mixed."""
    metrics = write_metrics(tmp_path, [2], [])
    paths = Paths(tmp_path)
    write_variant(paths, "sr_x2", make_cms(np.random.default_rng(9), 0.8, n=5))
    with pytest.raises(SrsegError, match=r"seg/seed0/sr_x2\.npz: 5 images, but 6 in the other variants' val images"):
        _run(tmp_path, [2], [])
    write_metrics(tmp_path, [2], [])
    data = json.loads(paths.seg_metrics("sr_x2", 0).read_text())
    data["n_images"] = 7
    paths.seg_metrics("sr_x2", 0).write_text(json.dumps(data))
    with pytest.raises(SrsegError, match=r"sr_x2\.json: n_images 7 but 6 images"):
        _run(tmp_path, [2], [])
    assert metrics.is_dir()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "not valid JSON"),
        ('{"pacc": 0.9, "iou": {}}', "missing key miou"),
        ('{"pacc": NaN, "miou": 0.5, "iou": {}}', "pacc must be a finite number"),
    ],
)
def test_bad_input_is_named(tmp_path: Path, content: str, message: str) -> None:
    metrics = write_metrics(tmp_path, [2], [])
    (metrics / "seg" / "seed0" / "sr_x2.json").write_text(content)
    with pytest.raises(SrsegError, match=r"metrics/seg/seed0/sr_x2\.json: " + message):
        _run(tmp_path, [2], [])


def test_unknown_class_name(tmp_path: Path) -> None:
    metrics = write_metrics(tmp_path, [2], [])
    path = metrics / "seg" / "seed0" / "sr_x2.json"
    data = json.loads(path.read_text())
    data["iou"]["lamppost"] = 0.1
    path.write_text(json.dumps(data))
    with pytest.raises(SrsegError, match=r"sr_x2\.json: iou has unknown class names \['lamppost'\]"):
        _run(tmp_path, [2], [])


def test_classes_of_the_fixture() -> None:
    assert [TRAIN_NAMES[c] for c in ABSENT] == ["train", "motorcycle"]


def test_object_level_recall_with_intervals(tmp_path: Path) -> None:
    write_metrics(tmp_path, [2, 4], [4], objects=True)
    summary, series = _run(tmp_path, [2, 4], [4])
    o = summary["settings"]["objects"]
    assert o["height_bins"] == ["0-10", "10-20", "20-40", "40+"] and "size_bins" not in o
    assert (o["reasonable_height"], o["informative_recall"]) == (10, 0.25)
    names = ["pedestrian_recall", "pedestrian_precision", "reasonable_recall", "reasonable_precision",
             *(f"{m}_{b}" for m in ("recall", "precision") for b in o["height_bins"])]
    for name, e in summary["variants"].items():
        stage = json.loads(Paths(tmp_path).seg_metrics(name, 0).read_text())["objects"]
        assert list(e["objects"]) == names
        for key in ("pedestrian_recall", "pedestrian_precision"):
            got = e["objects"][key]
            assert got["value"] == pytest.approx(stage[key], abs=1e-6)  # the evaluate stage's number
            assert got["ci95"][0] <= got["value"] <= got["ci95"][1]
        ped = stage["pedestrian"]
        for key, value in [("reasonable_recall", ped["reasonable"]["recall"]),
                           ("reasonable_precision", ped["reasonable"]["precision"])]:
            assert e["objects"][key]["value"] == pytest.approx(value, abs=1e-6)
        for measure in ("recall", "precision"):
            for b, value in ped[f"{measure}_by_height"].items():
                got = e["objects"][f"{measure}_{b}"]
                assert (got is None) == (value is None)
                assert got is None or got["value"] == pytest.approx(value, abs=1e-6)
    c = summary["comparisons"]["sr_x2-vs-bicubic_x2"]["objects"]
    v = summary["variants"]
    for key in ("pedestrian_recall", "pedestrian_precision"):
        assert c[key]["diff"] == pytest.approx(v["sr_x2"]["objects"][key]["value"]
                                               - v["bicubic_x2"]["objects"][key]["value"], abs=2e-6)
    rows = read_csv(series / "pedestrians.csv")
    assert {(r["measure"], r["height"]) for r in rows} == {
        (m, h) for m in ("recall", "precision") for h in ("all", "reasonable", "0-10", "10-20", "20-40", "40+")}
    assert len(rows) == 12 * len(summary["variants"])
    hr = next(r for r in rows if r["variant"] == "hr" and r["measure"] == "precision" and r["height"] == "40+")
    assert (hr["value"], hr["value_lo"], hr["value_hi"]) == (
        v["hr"]["objects"]["precision_40+"]["value"], *v["hr"]["objects"]["precision_40+"]["ci95"])


@pytest.mark.parametrize("hr_found", [0.8, 0.05])
def test_the_pedestrian_gate_decides_the_families(tmp_path: Path, hr_found: float) -> None:
    """The gate, both ways, computed from the data: where the HR segmenter finds most reasonably sized pedestrians
    (the lower bound of its recall interval reaches objects.informative_recall) pedestrian recall is in the SR vs
    bicubic and gaps-to-HR families with a verdict; where it finds almost none it is in no family and has no
    verdict, and the families say so. Precision never carries a verdict."""
    write_metrics(tmp_path, [2, 4], [4], objects=True, hr_found=hr_found)
    summary, _ = _run(tmp_path, [2, 4], [4])
    hr = summary["variants"]["hr"]["objects"]["reasonable_recall"]
    informative = hr_found == 0.8
    assert (hr["ci95"][0] >= 0.25) == informative  # the fixture is where it should be
    assert summary["settings"]["objects"]["informative"] is informative
    families = summary["settings"]["families"]
    in_families = [c["objects"]["pedestrian_recall"] for c in summary["comparisons"].values()
                   if c["a_method"] == "hr" or (c["b_method"], c["a_method"]) == ("sr", "bicubic")]
    assert in_families and all(("verdict" in e) == informative for e in in_families)
    assert all("verdict" not in c["objects"]["pedestrian_precision"] for c in summary["comparisons"].values()
               if c["objects"]["pedestrian_precision"] is not None)
    gap = summary["comparisons"]["sr_x2-vs-hr"]["objects"]["pedestrian_recall"]
    assert (gap.get("family") == "reference_gap") == informative
    sr_gain = summary["comparisons"]["sr_x2-vs-bicubic_x2"]["objects"]["pedestrian_recall"]
    assert (sr_gain.get("family") == "super_resolution") == informative
    for name in ("super_resolution", "reference_gap"):
        assert ("pedestrian recall left out: uninformative" in families[name]["description"]) != informative
    # the families are smaller by exactly the pedestrian differences they no longer hold
    sizes = {name: f["size"] for name, f in families.items()}
    assert sizes["super_resolution"] == 2 * 3 + (2 if informative else 0)  # 2 scales × (Y-PSNR, PACC, mIoU)


def test_object_counts_of_other_bins_are_named(tmp_path: Path) -> None:
    """Per-image object counts written before the height bins (area bins: ``size_tp``, ``size_n``), or for other
    height bins than params, stop the summarize stage with one line naming the file and the stage to re-run."""
    write_metrics(tmp_path, [2], [], objects=True)
    paths = Paths(tmp_path)
    old = make_objects(np.random.default_rng(1), 0.5)
    old = {"tp": old["tp"], "fn": old["fn"], "fp": old["fp"], "size_tp": old["height_tp"],
           "size_n": old["height_n"]}
    save_per_image(paths.seg_per_image("sr_x2", 0), IDS, make_cms(np.random.default_rng(2), 0.8),
                   records={f"objects_{k}": v for k, v in old.items()})
    with pytest.raises(SrsegError, match=r"seed0/sr_x2\.npz: object counts without height_tp, height_n, height_fp "
                                         r"\(written before objects\.height_bins; re-run evaluate_sr"):
        _run(tmp_path, [2], [])
    write_metrics(tmp_path, [2], [], objects=True)
    params = validate({"scales": [2], "seg": {"retrain_scales": []}, "combine": {"scales": []},
                       "objects": {"height_bins": [0, 10, math.inf]}, "stats": {"resamples": 300}})
    with pytest.raises(SrsegError, match=r"seed0/hr\.npz: object counts of another objects.classes or "
                                         r"objects.height_bins than params \(4 classes, 2 height bins\); re-run"):
        run(params, paths)


def test_no_instances_no_object_rows(tmp_path: Path) -> None:
    write_metrics(tmp_path, [2], [])
    summary, series = _run(tmp_path, [2], [])
    assert summary["settings"]["objects"] is None and "objects" not in summary["variants"]["hr"]
    assert read_csv(series / "pedestrians.csv") == []


def test_combined_score_and_ranking(tmp_path: Path) -> None:
    """The study's "average between PSNR and PACC": its formula on the variants' own numbers, the ranking without
    upper bounds, and the margin of the winner with its interval."""
    write_metrics(tmp_path, [2, 4], [4])
    summary, _ = _run(tmp_path, [2, 4], [4])
    v, entry = summary["variants"], summary["combined"]["x4"]
    rows = {r["variant"]: r for r in entry["rows"]}
    assert "hr" not in rows and "retrain_sr_on_hr_x4" not in rows  # HR images: nothing to reconstruct
    assert set(rows) >= {"bicubic_x4", "sr_x4", "retrain_sr_x4", "task_sr_x4", "joint_x4", "sft_oracle_x4"}
    psnr_of = {"retrain_sr_x4": "sr_x4", "retrain_bicubic_x4": "bicubic_x4", "ft_sr_unseen_x4": "ft_sr_x4",
               "task_sr_unseen_x4": "task_sr_x4"}
    for name, r in rows.items():
        gain_db = v[psnr_of.get(name, name)]["psnr_y"] - v["bicubic_x4"]["psnr_y"]
        expected = 0.5 * (v[name]["pacc"] / v["hr"]["pacc"] + 1 - 10 ** (-gain_db / 10))
        assert r["score"] == pytest.approx(expected, abs=1e-4), name
        assert r["score_ci95"][0] <= r["score"] <= r["score_ci95"][1]
    assert rows["bicubic_x4"]["mse_removed"] == 0
    ranked = [r for r in entry["rows"] if not r["upper_bound"]]
    assert [r["rank"] for r in ranked] == list(range(1, len(ranked) + 1))
    assert all(a["score"] >= b["score"] for a, b in pairwise(ranked))
    oracle = rows["sft_oracle_x4"]
    assert oracle["upper_bound"] and "rank" not in oracle and "ORACLE" in oracle["label"]
    m = entry["margin"]
    assert (m["first"], m["second"]) == (ranked[0]["variant"], ranked[1]["variant"])
    assert m["diff"] == pytest.approx(ranked[0]["score"] - ranked[1]["score"], abs=2e-6)
    assert m["ci95"][0] <= m["diff"] <= m["ci95"][1]


def test_no_combination_scales(tmp_path: Path) -> None:
    """combine.scales: [] runs the study without the combination methods."""
    write_metrics(tmp_path, [2], [])
    summary, _ = _run(tmp_path, [2], [])
    assert summary["combined"] == {} and all(not k.startswith(("task_sr", "joint")) for k in summary["variants"])
