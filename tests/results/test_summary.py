"""The summarize stage on hand-made metrics files: summary.json, the plot series, missing/bad inputs."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from srseg.errors import SrsegError
from srseg.labels import TRAIN_NAMES
from srseg.params import validate
from srseg.paths import Paths
from srseg.results.summary import (
    CLASS_COLUMNS,
    CLASS_IOU_CSV,
    RETRAIN_CSV,
    SCALE_COLUMNS,
    SCALES_CSV,
    gain_pct,
    read_csv,
    run,
)

ABSENT = ("train", "motorcycle")  # classes with null IoU in the fixtures (absent from the tiny val set)


def _seg(pacc: float, miou: float, rng: np.random.Generator, n: int = 3) -> dict:
    iou = {c: None if c in ABSENT else round(float(np.clip(miou + rng.normal(0, 0.15), 0, 1)), 4) for c in TRAIN_NAMES}
    return {"pacc": pacc, "miou": miou, "macc": miou + 0.05, "n_images": n, "iou": iou}


def _write(path: Path, obj: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj))


def write_metrics(root: Path, scales: list[int], retrain_scales: list[int], seed: int = 0) -> Path:
    """The metrics of training seed 0 as the upstream stages write them: SR helps at small scales, hurts at the
    largest. ``seed`` seeds the made-up numbers. Returns the ``metrics`` folder."""
    rng = np.random.default_rng(seed)
    paths = Paths(root)
    _write(paths.seg_metrics("hr", 0), _seg(0.92, 0.61, rng))
    for i, s in enumerate(scales):
        last = i == len(scales) - 1
        psnr_b = 36.0 - 5.5 * math.log2(s)
        sr = {"bicubic": {"psnr_y": psnr_b, "ssim_y": 0.97 - 0.06 * math.log2(s), "n_images": 3},
              "sr": {"psnr_y": psnr_b + (1.4 / s if not last else 0.25), "ssim_y": 0.98 - 0.06 * math.log2(s),
                     "n_images": 3}}
        _write(paths.sr_metrics(s, 0), sr)
        pacc_b, miou_b = 0.92 - 0.03 * s, 0.61 - 0.05 * s
        pacc_s = pacc_b + (0.012 / s if not last else -0.004)
        miou_s = miou_b + (0.02 / s if not last else -0.006)
        _write(paths.seg_metrics(f"bicubic_x{s}", 0), _seg(pacc_b, miou_b, rng))
        _write(paths.seg_metrics(f"sr_x{s}", 0), _seg(pacc_s, miou_s, rng))
    for s in retrain_scales:
        sr_on_sr = json.loads(paths.seg_metrics(f"sr_x{s}", 0).read_text())
        _write(paths.seg_metrics(f"retrain_sr_x{s}", 0), _seg(sr_on_sr["pacc"] + 0.03, sr_on_sr["miou"] + 0.04, rng))
        _write(paths.seg_metrics(f"retrain_sr_on_hr_x{s}", 0), _seg(0.90, 0.57, rng))
    return root / "metrics"


def params_for(scales: list[int], retrain: list[int], **plots: object):
    return validate({"scales": scales, "seg": {"retrain_scales": retrain}, "plots": plots})


def _run(tmp_path: Path, scales: list[int], retrain: list[int]) -> tuple[dict, Path]:
    summary = run(params_for(scales, retrain), Paths(tmp_path))
    return summary, tmp_path / "plots" / "series"


def test_summary_json_layout_and_values(tmp_path: Path) -> None:
    write_metrics(tmp_path, [2, 3, 4], [4])
    summary, _ = _run(tmp_path, [2, 3, 4], [4])
    on_disk = json.loads((tmp_path / "metrics" / "summary.json").read_text())
    assert on_disk == summary
    assert set(summary) == {"hr", "x2", "x3", "x4", "retrain_x4"}
    assert summary["hr"] == {"pacc": 0.92, "miou": 0.61}
    for s in (2, 3, 4):
        e = summary[f"x{s}"]
        assert set(e) == {"bicubic", "sr", "gain_pct"}
        assert set(e["bicubic"]) == set(e["sr"]) == {"psnr_y", "ssim_y", "pacc", "miou"}
        assert 0 < e["sr"]["pacc"] < 1 and 10 < e["sr"]["psnr_y"] < 60
    assert summary["x2"]["gain_pct"]["pacc"] == pytest.approx(100 * 0.006 / 0.86, abs=1e-5)
    assert summary["x4"]["gain_pct"]["pacc"] < 0  # the fixture's SR hurts at the largest scale
    r = summary["retrain_x4"]
    assert set(r) == {"hr_model_on_sr", "sr_model_on_sr", "sr_model_on_hr"}
    assert r["hr_model_on_sr"] == {"pacc": summary["x4"]["sr"]["pacc"], "miou": summary["x4"]["sr"]["miou"]}


def test_series_files(tmp_path: Path) -> None:
    write_metrics(tmp_path, [2, 3, 4], [4])
    summary, series = _run(tmp_path, [2, 3, 4], [4])
    assert sorted(p.name for p in series.iterdir()) == sorted([SCALES_CSV, CLASS_IOU_CSV, RETRAIN_CSV])
    rows = read_csv(series / SCALES_CSV)
    assert list(rows[0]) == SCALE_COLUMNS
    assert [r["scale"] for r in rows] == [2, 3, 4]
    assert rows[2]["pacc_sr"] == summary["x4"]["sr"]["pacc"]
    assert rows[0]["psnr_gain_db"] == pytest.approx(0.7)
    classes = read_csv(series / CLASS_IOU_CSV)
    assert list(classes[0]) == CLASS_COLUMNS and len(classes) == 19 * 3
    absent = [r for r in classes if r["class"] in ABSENT]
    assert absent and all(r["delta"] is None and r["iou_sr"] is None for r in absent)
    present = next(r for r in classes if r["class"] == "road" and r["scale"] == 3)
    assert present["delta"] == pytest.approx(present["iou_sr"] - present["iou_bicubic"])
    retrain = read_csv(series / RETRAIN_CSV)
    labels = [r["label"] for r in retrain]
    assert len(labels) == len(set(labels)) == 4
    assert "SR ×4-trained on HR val" in labels


@pytest.mark.parametrize(("scales", "retrain"), [([2, 4], []), ([2, 3, 4, 8], [2, 8])])
def test_other_scale_lists(tmp_path: Path, scales: list[int], retrain: list[int]) -> None:
    write_metrics(tmp_path, scales, retrain)
    summary, series = _run(tmp_path, scales, retrain)
    assert [k for k in summary if k.startswith("x")] == [f"x{s}" for s in scales]
    assert [k for k in summary if k.startswith("retrain")] == [f"retrain_x{s}" for s in retrain]
    assert len(read_csv(series / RETRAIN_CSV)) == (1 + 3 * len(retrain) if retrain else 0)


@pytest.mark.parametrize("victim", ["sr/seed0/x3.json", "seg/seed0/hr.json", "seg/seed0/bicubic_x2.json",
                                    "seg/seed0/retrain_sr_x4.json", "seg/seed0/retrain_sr_on_hr_x4.json"])
def test_missing_input_is_named(tmp_path: Path, victim: str) -> None:
    metrics = write_metrics(tmp_path, [2, 3, 4], [4])
    (metrics / victim).unlink()
    with pytest.raises(SrsegError, match=r"metrics/" + victim + r": missing input") as err:
        _run(tmp_path, [2, 3, 4], [4])
    assert "\n" not in str(err.value)
    assert not (metrics / "summary.json").exists() and not (tmp_path / "plots" / "series").exists()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "not valid JSON"),
        ('{"bicubic": {"psnr_y": 30.0, "ssim_y": 0.9}, "sr": {"ssim_y": 0.9}}', "missing key sr.psnr_y"),
        ('{"bicubic": {"psnr_y": NaN, "ssim_y": 0.9}, "sr": {"psnr_y": 1, "ssim_y": 0.9}}',
         "bicubic.psnr_y must be a finite number"),
    ],
)
def test_bad_input_is_named(tmp_path: Path, content: str, message: str) -> None:
    metrics = write_metrics(tmp_path, [2], [])
    (metrics / "sr" / "seed0" / "x2.json").write_text(content)
    with pytest.raises(SrsegError, match=r"metrics/sr/seed0/x2\.json: " + message):
        _run(tmp_path, [2], [])


def test_unknown_class_name(tmp_path: Path) -> None:
    metrics = write_metrics(tmp_path, [2], [])
    data = json.loads((metrics / "seg" / "seed0" / "sr_x2.json").read_text())
    data["iou"]["lamppost"] = 0.1
    (metrics / "seg" / "seed0" / "sr_x2.json").write_text(json.dumps(data))
    with pytest.raises(SrsegError, match=r"sr_x2\.json: iou has unknown class names \['lamppost'\]"):
        _run(tmp_path, [2], [])


def test_gain_pct() -> None:
    assert gain_pct(0.9, 0.8) == pytest.approx(12.5)
    assert gain_pct(0.7, 0.8) == pytest.approx(-12.5)
    assert gain_pct(0.5, 0.0) is None
