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


def make_cms(rng: np.random.Generator, acc: float, n: int = len(IDS)) -> np.ndarray:
    """Per-image confusion matrices with about ``acc`` of each class's pixels right, the rest spread at random."""
    cms = np.zeros((n, NUM_CLASSES, NUM_CLASSES + 1), np.int64)
    for i in range(n):
        for c in range(NUM_CLASSES):
            if c in ABSENT:
                continue
            total = int(rng.integers(200, 2000))
            right = int(rng.binomial(total, min(max(acc + rng.normal(0, 0.02), 0), 1)))
            cms[i, c, c] = right
            wrong = rng.choice([k for k in range(NUM_CLASSES) if k not in ABSENT and k != c], total - right)
            np.add.at(cms[i, c], wrong, 1)
    return cms


def make_objects(rng: np.random.Generator, found: float, n: int = len(IDS)) -> dict[str, np.ndarray]:
    """Per-image object counts (4 classes × 4 size bins) with about ``found`` of the instances found."""
    size_n = rng.integers(0, 4, (n, 4, 4))
    size_tp = rng.binomial(size_n, min(max(found, 0.05), 0.95))
    tp, fn = size_tp.sum(2), (size_n - size_tp).sum(2)
    return {"tp": tp, "fn": fn, "fp": rng.integers(0, 3, (n, 4)), "size_tp": size_tp, "size_n": size_n}


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


def write_metrics(root: Path, scales: list[int], retrain_scales: list[int], seed: int = 0,
                  seeds: tuple[int, ...] = (0,), objects: bool = False) -> Path:
    """Every evaluation output the summarize stage reads, for training ``seeds``: SR helps at small scales and
    hurts at the largest. ``seed`` seeds the made-up numbers. Returns the ``metrics`` folder."""
    rng = np.random.default_rng(seed)
    paths = Paths(root)

    def obj(found: float) -> dict[str, np.ndarray] | None:
        return make_objects(rng, found) if objects else None

    for k in seeds:
        write_variant(paths, "hr", make_cms(rng, 0.92), k, obj(0.8))
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
                       "retrain_sr_x4", "retrain_sr_on_hr_x4", *combine]
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
    assert sum(isinstance(x, float) for e in headline.values() for x in e.values()) <= 2 + 3 * 12  # small


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


def test_series_files(tmp_path: Path) -> None:
    write_metrics(tmp_path, [2, 3, 4], [4])
    summary, series = _run(tmp_path, [2, 3, 4], [4])
    trainings = [csv_name(kind) for kind in KINDS]  # the training curves: none logged here, so headers only
    assert sorted(p.name for p in series.iterdir()) == sorted([SCALES_CSV, CLASS_IOU_CSV, RETRAIN_CSV, OBJECTS_CSV,
                                                               METHODS_CSV, CLASS_PSNR_CSV, *trainings])
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


def test_the_same_inputs_give_the_same_bytes(tmp_path: Path) -> None:
    write_metrics(tmp_path, [2, 4], [4])
    _run(tmp_path, [2, 4], [4])
    outputs = sorted((tmp_path / "plots").rglob("*.csv")) + [tmp_path / "metrics/summary.json"]
    first = {p: p.read_bytes() for p in outputs}
    _run(tmp_path, [2, 4], [4])
    assert {p: p.read_bytes() for p in first} == first


@pytest.mark.parametrize(("scales", "retrain"), [([2, 4], []), ([2, 3, 4, 8], [2, 8])])
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
    assert summary["settings"]["objects"]["size_bins"] == ["0-32", "32-128", "128-512", "512+"]
    for name, e in summary["variants"].items():
        stage = json.loads(Paths(tmp_path).seg_metrics(name, 0).read_text())["objects"]
        o = e["objects"]["pedestrian_recall"]
        assert o["value"] == pytest.approx(stage["pedestrian_recall"], abs=1e-6)  # the evaluate stage's number
        assert o["ci95"][0] <= o["value"] <= o["ci95"][1]
        by_size = stage["pedestrian"]["recall_by_size"]
        for b, value in by_size.items():
            got = e["objects"][f"size_{b}"]
            assert (got is None) == (value is None) and (got is None or got["value"] == pytest.approx(value, abs=1e-6))
    d = summary["comparisons"]["sr_x2-vs-bicubic_x2"]["objects"]["pedestrian_recall"]
    assert d["diff"] == pytest.approx(summary["variants"]["sr_x2"]["objects"]["pedestrian_recall"]["value"]
                                      - summary["variants"]["bicubic_x2"]["objects"]["pedestrian_recall"]["value"],
                                      abs=2e-6)
    rows = read_csv(series / "pedestrians.csv")
    assert {r["size"] for r in rows} == {"all", "0-32", "32-128", "128-512", "512+"}
    assert len(rows) == 5 * len(summary["variants"])


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
    psnr_of = {"retrain_sr_x4": "sr_x4", "retrain_bicubic_x4": "bicubic_x4"}
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
