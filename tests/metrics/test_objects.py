"""srseg.metrics.objects: matching by hand-counted cases, height bins and precision, per-image records, bad input, and
a cross-check against cityscapesscripts' instance-level evaluation."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from scipy import ndimage

from srseg.errors import ImageError, ParamsError
from srseg.io import write_png
from srseg.metrics.objects import ImageCounts, ObjectMeter, ObjectSpec, combine, match_class, scores

ROAD, VOID, PERSON, RIDER, CAR, BICYCLE = 7, 0, 24, 25, 26, 33


def _box(a: np.ndarray, rows: tuple[int, int], cols: tuple[int, int], value: int) -> None:
    """Fill rows r0..r1, cols c0..c1 (inclusive)."""
    a[rows[0]:rows[1] + 1, cols[0]:cols[1] + 1] = value


def _case() -> list[tuple[np.ndarray, np.ndarray]]:
    """Two images (instance ids, predicted labelIds) whose counts are worked out in the comments."""
    # image 1 (40×60)
    gt = np.full((40, 60), ROAD, np.uint16)
    _box(gt, (2, 17), (2, 11), 24000)  # person, 160 px
    _box(gt, (2, 17), (20, 29), 24001)  # person, 160 px
    _box(gt, (22, 33), (2, 11), 24002)  # person, 120 px
    _box(gt, (22, 27), (20, 25), 24003)  # person, 36 px (< 100: ignored with min_size 100)
    _box(gt, (30, 39), (24, 33), 25000)  # rider, 100 px
    _box(gt, (22, 37), (35, 54), 26000)  # car, 320 px
    _box(gt, (2, 9), (40, 57), CAR)  # a car group (plain labelId): an ignore region for cars
    _box(gt, (12, 19), (40, 57), VOID)  # unlabelled: void
    pred = np.full((40, 60), ROAD, np.uint8)
    _box(pred, (2, 17), (2, 9), PERSON)  # IoU 128/160 = 0.8 with 24000: TP
    _box(pred, (2, 17), (25, 34), PERSON)  # IoU 80/240 with 24001: no match, FP; 24001 FN
    _box(pred, (22, 27), (20, 25), PERSON)  # the small person exactly: TP only with min_size 0
    _box(pred, (30, 39), (24, 31), RIDER)  # IoU 0.8: TP
    _box(pred, (22, 37), (35, 52), CAR)  # IoU 0.9: TP
    _box(pred, (35, 38), (2, 20), CAR)  # on road: FP
    _box(pred, (2, 9), (42, 57), CAR)  # on the car group: ignored
    _box(pred, (12, 19), (48, 57), CAR)  # all on void: ignored
    _box(pred, (12, 19), (34, 43), CAR)  # 40 % on void (≤ 50 %): FP
    # image 2 (40×60)
    gt2 = np.full((40, 60), ROAD, np.uint16)
    _box(gt2, (5, 20), (5, 14), 24000)  # two people side by side, 160 px each
    _box(gt2, (5, 20), (16, 25), 24001)
    _box(gt2, (25, 36), (40, 49), 24002)  # person, 120 px
    _box(gt2, (25, 36), (5, 16), 33000)  # bicycle, never predicted: FN
    pred2 = np.full((40, 60), ROAD, np.uint8)
    _box(pred2, (5, 20), (5, 25), PERSON)  # one blob over both: IoU 160/336 < 0.5 with each: 2 FN, 1 FP
    _box(pred2, (25, 36), (40, 49), PERSON)  # exact: TP
    return [(gt, pred), (gt2, pred2)]


def _labels(inst: np.ndarray) -> np.ndarray:
    return np.where(inst >= 1000, inst // 1000, inst).astype(np.uint8)


def _meter(spec: ObjectSpec) -> ObjectMeter:
    meter = ObjectMeter(spec)
    for i, (gt, pred) in enumerate(_case()):
        meter.add(gt, pred, f"pred{i}.png", _labels(gt), f"gt{i}.png")
    return meter


def test_hand_counted_case() -> None:
    res = _meter(ObjectSpec(min_size=100)).result()
    got = {c: (v["tp"], v["fn"], v["fp"]) for c, v in res["classes"].items()}
    assert got == {"person": (2, 4, 2), "rider": (1, 0, 0), "car": (1, 0, 2), "bicycle": (0, 1, 0)}
    assert res["classes"]["person"]["recall"] == pytest.approx(1 / 3)
    assert res["classes"]["person"]["precision"] == pytest.approx(1 / 2)
    assert res["classes"]["bicycle"]["precision"] is None  # no detections: undefined, not 0
    assert res["pedestrian"]["tp"] == 3 and res["pedestrian"]["instances"] == 7
    assert res["pedestrian_recall"] == pytest.approx(3 / 7)
    # min_size 0 (the default) counts the 36-pixel person, found by its exact prediction
    res0 = _meter(ObjectSpec()).result()
    person = res0["classes"]["person"]
    assert (person["tp"], person["fn"], person["fp"]) == (3, 4, 2)
    assert res0["pedestrian_recall"] == pytest.approx(4 / 8)


def test_height_bins() -> None:
    """An instance's bin is its bounding-box height (rows), not its area; ``lo ≤ height < hi``."""
    spec = ObjectSpec(classes=("person",), height_bins=(0, 10, 20, 40, math.inf), reasonable_height=10)
    gt = np.full((60, 80), ROAD, np.uint16)
    _box(gt, (0, 8), (0, 0), 24000)  # 9 rows, 9 px → bin 0
    _box(gt, (0, 9), (2, 2), 24001)  # 10 rows (a 1-px-wide pole of a person: 10 px) → bin 1
    _box(gt, (45, 46), (40, 79), 24002)  # 2 rows, 80 px: large but flat → bin 0
    _box(gt, (20, 58), (10, 11), 24003)  # 39 rows → bin 2
    _box(gt, (0, 39), (30, 30), 24004)  # 40 rows … (top part)
    _box(gt, (0, 39), (32, 32), 24004)  # … in two pieces: its box spans both → still 40 rows → bin 3
    pred = _labels(gt)
    pred[20:59, 10:12] = ROAD  # 24003 missed
    m = match_class(gt, pred, PERSON)
    assert m.gt_height.tolist() == [9, 10, 2, 39, 40]
    rec = ObjectMeter(spec).add(gt, pred)
    assert rec.height_n.tolist() == [[2, 1, 1, 1]] and rec.height_tp.tolist() == [[2, 1, 0, 1]]
    # 24004's two pieces are two components, IoU 0.5 each: one matched, the other unmatched (an FP of 40 rows)
    assert rec.height_fp.tolist() == [[0, 0, 0, 1]] and rec.tp.tolist() == [4] and rec.fp.tolist() == [1]
    res = combine([rec], spec)
    assert res["height_bins"] == ["0-10", "10-20", "20-40", "40+"]
    assert res["classes"]["person"]["recall_by_height"] == {"0-10": 1.0, "10-20": 1.0, "20-40": 0.0, "40+": 1.0}
    assert res["pedestrian"]["reasonable"] == {"instances": 3, "recall": pytest.approx(2 / 3),
                                               "precision": pytest.approx(2 / 3)}


def _precision_case() -> tuple[np.ndarray, np.ndarray]:
    """One 20×40 image whose per-bin counts (bins 0-4, 4-8, 8+) are worked out in the comments."""
    gt = np.full((20, 40), ROAD, np.uint16)
    _box(gt, (0, 2), (0, 3), 24000)  # person A, 3 rows → bin 0
    _box(gt, (5, 9), (0, 1), 24001)  # person B, 5 rows → bin 1
    _box(gt, (10, 19), (0, 2), 24002)  # person C, 10 rows → bin 2
    _box(gt, (0, 7), (10, 11), 25000)  # rider D, 8 rows → bin 2
    _box(gt, (15, 19), (35, 39), VOID)
    pred = np.full((20, 40), ROAD, np.uint8)
    _box(pred, (0, 2), (0, 3), PERSON)  # A exactly: TP, bin 0
    # B: not predicted, FN in bin 1
    _box(pred, (10, 19), (0, 2), PERSON)  # C exactly: TP, bin 2
    _box(pred, (0, 5), (10, 11), RIDER)  # IoU 12/16 with D: TP in D's bin 2, though the component is 6 rows high
    _box(pred, (0, 1), (20, 21), PERSON)  # on road, 2 rows: FP in bin 0
    _box(pred, (5, 14), (25, 25), PERSON)  # on road, 10 rows: FP in bin 2
    _box(pred, (10, 14), (30, 31), RIDER)  # on road, 5 rows: FP in bin 1
    _box(pred, (15, 19), (35, 39), PERSON)  # all on void: ignored, no FP
    return gt, pred


def test_precision_by_height_by_hand() -> None:
    """Precision = matched detections / counted detections: a matched one in the bin of its instance, an
    unmatched one in the bin of its own height. Pooled: 3 TP, 1 FN, 3 FP."""
    spec = ObjectSpec(classes=("person", "rider"), height_bins=(0, 4, 8, math.inf), reasonable_height=4)
    gt, pred = _precision_case()
    rec = ObjectMeter(spec).add(gt, pred, gt_label_ids=_labels(gt))
    assert rec.height_n.tolist() == [[1, 1, 1], [0, 0, 1]]
    assert rec.height_tp.tolist() == [[1, 0, 1], [0, 0, 1]]
    assert rec.height_fp.tolist() == [[1, 0, 1], [0, 1, 0]]
    res = combine([rec], spec)
    assert res["pedestrian_recall"] == pytest.approx(3 / 4) and res["pedestrian_precision"] == pytest.approx(3 / 6)
    ped = res["pedestrian"]
    assert ped["recall_by_height"] == {"0-4": 1.0, "4-8": 0.0, "8+": 1.0}
    assert ped["precision_by_height"] == pytest.approx({"0-4": 1 / 2, "4-8": 0.0, "8+": 2 / 3})
    assert ped["reasonable"] == {"instances": 3, "recall": pytest.approx(2 / 3), "precision": pytest.approx(2 / 4)}
    assert res["classes"]["rider"]["precision_by_height"] == {"0-4": None, "4-8": 0.0, "8+": 1.0}  # none: no detection
    assert res["scores"] == pytest.approx({
        "pedestrian_recall": 3 / 4, "pedestrian_precision": 1 / 2, "reasonable_recall": 2 / 3,
        "reasonable_precision": 1 / 2, "recall_0-4": 1.0, "recall_4-8": 0.0, "recall_8+": 1.0,
        "precision_0-4": 1 / 2, "precision_4-8": 0.0, "precision_8+": 2 / 3})
    # the bootstrap's vectorised scores from summed flat records: two resamples, the image once and twice
    flat = np.stack([rec.flat(), 2 * rec.flat()])
    got = scores(spec.unflatten(flat), spec)
    assert got["reasonable_precision"].tolist() == [0.5, 0.5] and got["recall_4-8"].tolist() == [0.0, 0.0]
    empty = scores(spec.unflatten(np.zeros((1, len(rec.flat())))), spec)
    assert all(np.isnan(v[0]) for v in empty.values())  # nothing counted: undefined, not 0


def test_one_to_one_greedy_and_deterministic() -> None:
    gt = np.full((10, 20), ROAD, np.uint16)
    _box(gt, (0, 9), (0, 4), 24000)
    _box(gt, (0, 9), (5, 9), 24001)  # touching: one predicted blob covers both
    pred = _labels(gt)  # a perfect segmentation: one component of 100 px, IoU exactly 0.5 with each
    m = match_class(gt, pred, PERSON, iou=0.5)
    assert m.iou.tolist() == [[0.5], [0.5]]
    assert m.gt_match.tolist() == [0, -1] and m.det_match.tolist() == [0]  # the lower instance id wins
    m = match_class(gt, pred, PERSON, iou=0.51)
    assert m.gt_match.tolist() == [-1, -1] and m.det_match.tolist() == [-1] and not m.det_ignored.any()


def test_per_image_records_and_combine() -> None:
    spec = ObjectSpec(min_size=100)
    meter = _meter(spec)
    arrays = meter.per_image()
    assert arrays["tp"].shape == (2, 4) and arrays["height_n"].shape == (2, 4, 4)
    assert arrays["tp"].dtype == np.int64
    assert arrays["tp"][:, 0].tolist() == [1, 1] and arrays["fn"][:, 0].tolist() == [2, 2]
    assert (arrays["height_n"].sum(axis=2) == arrays["tp"] + arrays["fn"]).all()
    assert (arrays["height_tp"].sum(axis=2) == arrays["tp"]).all()
    assert (arrays["height_fp"].sum(axis=2) == arrays["fp"]).all()
    assert combine(meter.records, spec) == meter.result()
    # a bootstrap resample (image 0 twice, image 1 once) recomputes recall from the records
    again = [ImageCounts.from_json(r.to_json()) for r in meter.records]
    res = combine([again[0], again[0], again[1]], spec)
    assert res["n_images"] == 3
    assert res["classes"]["person"]["recall"] == pytest.approx((1 + 1 + 1) / (3 + 3 + 3))
    assert res["classes"]["car"]["tp"] == 2 and res["classes"]["car"]["fp"] == 4


def test_bad_input_is_named(tmp_path: Path) -> None:
    gt, pred = _case()[0]
    meter = ObjectMeter()
    with pytest.raises(ImageError, match=r"^p\.png: prediction size 59x40 does not match its ground truth 60x40$"):
        meter.add(gt, pred[:, :59], "p.png")
    write_png(tmp_path / "a_gtFine_instanceIds.png", gt)
    wrong = _labels(gt)
    wrong[0, 0] = CAR  # the labels say car where the instance image has road
    write_png(tmp_path / "a_gtFine_labelIds.png", wrong)
    write_png(tmp_path / "a_pred_labelIds.png", pred)
    with pytest.raises(ImageError, match=r"a_gtFine_instanceIds\.png: instance ids disagree with the labelIds at 1 "):
        meter.add_files(tmp_path / "a_gtFine_instanceIds.png", tmp_path / "a_gtFine_labelIds.png",
                        tmp_path / "a_pred_labelIds.png")
    write_png(tmp_path / "a_pred_labelIds.png", pred[:30])
    write_png(tmp_path / "a_gtFine_labelIds.png", _labels(gt))
    with pytest.raises(ImageError, match=r"a_pred_labelIds\.png: prediction size 60x30"):
        meter.add_files(tmp_path / "a_gtFine_instanceIds.png", tmp_path / "a_gtFine_labelIds.png",
                        tmp_path / "a_pred_labelIds.png")
    assert meter.records == []  # nothing half-counted


def test_spec_validation() -> None:
    with pytest.raises(ParamsError, match=r"object classes \['person', 'road'\]: must be distinct classes with inst"):
        ObjectSpec(classes=("person", "road"))
    with pytest.raises(ParamsError, match="height_bins"):
        ObjectSpec(height_bins=(0, 100, 50, math.inf))
    with pytest.raises(ParamsError, match="height_bins"):
        ObjectSpec(height_bins=(0, 100))
    with pytest.raises(ParamsError, match=r"^object reasonable_height 15: must be one of the finite height_bins "
                                          r"edges \(0, 10, 20, 40\)$"):
        ObjectSpec(reasonable_height=15)
    with pytest.raises(ParamsError, match="iou"):
        ObjectSpec(iou=0)
    res = combine([], ObjectSpec(classes=("car",)))
    assert res["pedestrian"] is None and res["pedestrian_recall"] is None and res["classes"]["car"]["recall"] is None
    assert res["pedestrian_precision"] is None and set(res["scores"].values()) == {None}


def test_no_tensorflow() -> None:
    code = "import sys, srseg.metrics.objects; print('tensorflow' in sys.modules or 'keras' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# --- cross-check with cityscapesscripts ------------------------------------------------------------


def _cityscapes_ap50(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, float]:
    """AP at 50 % overlap per class from evalInstanceLevelSemanticLabeling, every component a detection
    with confidence 1 (written as the evaluator's per-instance mask PNGs + list files)."""
    import cityscapesscripts.evaluation.evalInstanceLevelSemanticLabeling as ev

    # cityscapesscripts 2.3.0 vs NumPy 2: np.in1d is gone (2.4), and np.count_nonzero's numpy ints break the
    # JSON dump of its matches.json debug file (only written, never read back)
    monkeypatch.setattr(np, "in1d", np.isin, raising=False)

    def write_json(obj: object, path: str) -> None:
        Path(path).write_text(json.dumps(obj, default=lambda o: o.item() if isinstance(o, np.generic) else o.__dict__))

    monkeypatch.setattr(ev, "writeDict2JSON", write_json)
    monkeypatch.chdir(tmp_path)  # it writes matches.json into the working directory
    pred_root = _mkdir(tmp_path / "results")
    for k, v in {"predictionPath": str(pred_root), "predictionWalk": None, "gtInstancesFile": str(tmp_path / "gt.json"),
                 "JSONOutput": False, "quiet": True, "distanceAvailable": False}.items():
        monkeypatch.setattr(ev.args, k, v)
    gts, preds = [], []
    for i, (gt, pred) in enumerate(_case()):
        gt_file = tmp_path / "gtFine" / f"city_{i:06d}_000019_gtFine_instanceIds.png"
        write_png(gt_file, gt)
        lines = []
        for label in (PERSON, RIDER, CAR, BICYCLE):
            comp, n = ndimage.label(pred == label, structure=np.ones((3, 3)))
            for j in range(1, n + 1):
                mask = f"city_{i:06d}_{label}_{j}.png"
                Image.fromarray(((comp == j) * 255).astype(np.uint8)).save(pred_root / mask)
                lines.append(f"{mask} {label} 1.0\n")
        list_file = pred_root / f"city_{i:06d}_000019.txt"
        list_file.write_text("".join(lines))
        gts.append(str(gt_file))
        preds.append(str(list_file))
    res = ev.evaluateImgLists(preds, gts, ev.args)
    return {c: v["ap50%"] for c, v in res["averages"]["classes"].items()}


def _mkdir(p: Path) -> Path:
    p.mkdir(parents=True, exist_ok=True)
    return p


def test_matches_cityscapes_instance_evaluation(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With one confidence level the evaluator's precision-recall curve has two points, (R, P) and its
    artificial start (0, 1); its step integral is AP50 = R·(1 + P)/2 (0 when a class has no detection).
    Its ignore rules are min region size 100 (instances below: not counted; a detection matching one:
    dropped) and a non-matching detection more than 50 % on void / group / small-instance pixels
    dropped; min_size=100 reproduces them. Its overlap test is IoU > 0.5: the case has no IoU of 0.5."""
    ap = _cityscapes_ap50(tmp_path, monkeypatch)
    res = _meter(ObjectSpec(min_size=100)).result()
    for name, v in res["classes"].items():
        r, p = v["recall"], v["precision"]
        expected = r * (1 + p) / 2 if p is not None else 0.0
        assert ap[name] == pytest.approx(expected, abs=1e-12), name
    # the values themselves, from the hand counts: person R 1/3 P 1/2, rider 1/1, car R 1 P 1/3, bicycle none
    assert [ap[c] for c in ("person", "rider", "car", "bicycle")] == pytest.approx([0.25, 1.0, 2 / 3, 0.0])
    assert math.isnan(ap["truck"])  # no ground truth: NaN in the evaluator
