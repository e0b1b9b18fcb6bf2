"""srseg.instances (Cityscapes instanceIds), 16-bit PNG round trip, and build_raw's instance handling."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from srseg.errors import ImageError
from srseg.instances import check_instances, class_of, from_components, instance_counts, number_objects
from srseg.io import read_instance_ids, write_png
from srseg.params import Params, validate
from srseg.sources import RawSample

ROAD, PERSON, RIDER, CAR = 7, 24, 25, 26


def test_number_objects_per_class_in_object_order() -> None:
    labels = np.array([[ROAD, PERSON, PERSON, CAR], [CAR, PERSON, ROAD, CAR]], np.uint8)
    objects = np.array([[0, 5, 2, 9], [7, 5, 0, 9]])
    inst = number_objects(labels, objects)
    assert inst.dtype == np.uint16
    # persons: object 2 → k 0, object 5 → k 1; cars: object 7 → k 0, object 9 → k 1
    assert inst.tolist() == [[7, 24001, 24000, 26001], [26000, 24001, 7, 26001]]
    with pytest.raises(ValueError, match="more than one class"):
        number_objects(labels, np.where(labels == ROAD, 0, 1))


def test_connected_components_are_8_connected() -> None:
    labels = np.full((6, 8), ROAD, np.uint8)
    labels[0, 0] = labels[1, 1] = PERSON  # diagonal neighbours: one instance
    labels[0, 5:7] = PERSON  # a second person
    labels[4:6, 0:2] = CAR
    labels[4:6, 3] = CAR  # one column away: another car
    inst = from_components(labels)
    assert inst[0, 0] == inst[1, 1] == 24000 and (inst[0, 5:7] == 24001).all()
    assert (inst[4:6, 0:2] == 26000).all() and (inst[4:6, 3] == 26001).all()
    assert (inst[labels == ROAD] == ROAD).all()
    assert instance_counts(inst)["person"] == 2 and instance_counts(inst)["car"] == 2
    assert instance_counts(inst)["rider"] == 0
    check_instances(inst, labels, "x")
    assert (class_of(inst) == labels).all()


def test_check_instances_names_the_file() -> None:
    labels = np.array([[ROAD, PERSON], [CAR, CAR]], np.uint8)
    good = np.array([[ROAD, 24000], [26000, 26001]], np.uint16)
    check_instances(good, labels, "i.png")
    with pytest.raises(ImageError, match=r"^i\.png: instance ids disagree with the labelIds at 1 pixels, e\.g\. "
                                         r"\(1, 0\) has instance id 25000 \(class 25\) but label id 24$"):
        check_instances(np.array([[ROAD, 25000], [26000, 26001]], np.uint16), labels, "i.png")
    with pytest.raises(ImageError, match=r"i\.png: ids \[7000\] are neither labelIds nor instance ids"):
        check_instances(np.array([[7000, 24000], [26000, 26001]], np.uint16), labels, "i.png")
    with pytest.raises(ImageError, match=r"i\.png: instance image size 1x2 does not match its labels 2x2"):
        check_instances(good[:, :1], labels, "i.png")


def test_uint16_png_round_trip_and_cityscapesscripts_reads_it(tmp_path: Path) -> None:
    from cityscapesscripts.evaluation.instances2dict import instances2dict

    inst = np.full((5, 7), ROAD, np.uint16)
    inst[1:3, 1:3] = 24000
    inst[3:5, 4:7] = 26001
    inst[0, 6] = 33999  # the largest id a bicycle can take
    path = tmp_path / "a_000000_000019_gtFine_instanceIds.png"
    write_png(path, inst)
    with Image.open(path) as im:
        assert im.mode == "I;16"
    back = read_instance_ids(path)
    assert back.dtype == np.uint16 and np.array_equal(back, inst)
    found = instances2dict([str(path)])[str(path.resolve())]
    assert [(d["instID"], d["pixelCount"]) for d in found["person"]] == [(24000, 4)]
    assert [(d["instID"], d["pixelCount"]) for d in found["car"]] == [(26001, 6)]
    write_png(tmp_path / "l.png", inst.astype(np.uint8))
    with pytest.raises(ImageError, match=r"l\.png: expected a 16-bit instance-id image, got mode L"):
        read_instance_ids(tmp_path / "l.png")


# --- build_raw ------------------------------------------------------------------------------------


def _params() -> Params:
    return validate({"scales": [2], "seg": {"retrain_scales": [2]}, "combine": {"scales": [2]},
                     "data": {"source": "synthetic"}})


def _fake_source(samples: list[RawSample]):
    def source(params: Params, cache_dir: Path) -> Iterator[RawSample]:
        yield from samples
    return source


def _sample(i: int, inst: np.ndarray | None, how: str = "rendered", split: str = "train") -> RawSample:
    labels = np.full((5, 7), ROAD, np.uint8)
    labels[1:3, 1:3] = PERSON
    return RawSample(split, "c", f"c_{i:06d}_000019", np.zeros((5, 7, 3), np.uint8), labels, f"source #{i}", inst, how)


def _instances() -> np.ndarray:
    inst = np.full((5, 7), ROAD, np.uint16)
    inst[1:3, 1:3] = 24000
    return inst


def test_build_raw_writes_cropped_instances(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import srseg.sources as sources

    monkeypatch.setattr(sources, "get_source", lambda name: _fake_source([_sample(0, _instances()),
                                                                          _sample(1, _instances(), split="val")]))
    summary = sources.build_raw(_params(), tmp_path / "raw", tmp_path / "cache", tmp_path / "data.json")
    assert summary["instances"] == "rendered"
    assert summary["instance_counts"]["train"]["person"] == 1 and summary["instance_counts"]["val"]["car"] == 0
    assert json.loads((tmp_path / "data.json").read_text())["instances"] == "rendered"
    inst = read_instance_ids(tmp_path / "raw/gtFine/train/c/c_000000_000019_gtFine_instanceIds.png")
    assert np.array_equal(inst, _instances()[:4, :6])  # cropped to a multiple of 2 like the labels


def test_build_raw_without_instances(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import srseg.sources as sources

    monkeypatch.setattr(sources, "get_source", lambda name: _fake_source([_sample(0, None, "none")]))
    summary = sources.build_raw(_params(), tmp_path / "raw", tmp_path / "cache", None)
    assert summary["instances"] == "none" and summary["instance_counts"] == {}
    assert not list((tmp_path / "raw").rglob("*instanceIds.png"))


def test_build_raw_refuses_bad_instances(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import srseg.sources as sources

    bad = _instances()
    bad[0, 0] = 26000  # a car on road pixels
    monkeypatch.setattr(sources, "get_source", lambda name: _fake_source([_sample(0, _instances()), _sample(1, bad)]))
    with pytest.raises(ImageError, match=r"^source #1: instance ids disagree with the labelIds"):
        sources.build_raw(_params(), tmp_path / "raw", tmp_path / "cache", None)
    assert not (tmp_path / "raw").exists()  # nothing half-written
    monkeypatch.setattr(sources, "get_source", lambda name: _fake_source([_sample(0, _instances()),
                                                                          _sample(1, None, "none")]))
    with pytest.raises(ImageError, match=r"source #1: instances 'none' but earlier samples had 'rendered'"):
        sources.build_raw(_params(), tmp_path / "raw", tmp_path / "cache", None)
    with pytest.raises(ValueError, match="does not fit"):
        _sample(2, None, "rendered")  # a source cannot claim instances it does not give
