"""The pretrain_sr and super_resolve stages on tiny params in a temp dir, pretraining sources, bad input."""

from __future__ import annotations

import hashlib
import io
import json
import runpy
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
import yaml
from PIL import Image

from srseg.degrade import degrade_tree
from srseg.io import model_metadata, params_hash, write_png
from srseg.labels import ID_TO_TRAIN
from srseg.layout import Sample, list_samples
from srseg.params import PretrainParams, load_params, validate
from srseg.paths import Paths
from srseg.provenance import MODEL_PARAMS
from srseg.sr.train import model_record
from tests._http import send_file
from tests.conftest import shared_path

REPO = Path(__file__).resolve().parents[2]
P = Paths()  # the stages run in the temp repo (chdir)


def _image(h: int, w: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, (h // 6, w // 6, 3), dtype=np.uint8)
    return np.asarray(Image.fromarray(small).resize((w, h), Image.Resampling.BICUBIC))


TINY = {
    "scales": [2, 4],
    "sr": {"pretrain": {"source": "folder", "folders": ["train_images"], "val_images": 1, "patch": 24, "batch": 4,
                        "steps": 2, "steps_per_epoch": 1}},
    "seg": {"retrain_scales": [4]},
}


def _merge(base: dict, over: dict) -> dict:
    out = dict(base)
    for k, v in over.items():
        out[k] = _merge(base.get(k, {}), v) if isinstance(v, dict) else v
    return out


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working dir with tiny params, data/raw (2 train + 2 val, 48×48), data/lr and training images."""
    params = _merge(yaml.safe_load((REPO / "params.yaml").read_text()), TINY)
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    for i, split in enumerate(["train", "train", "val", "val"]):
        s = Sample(split, "tiny", f"tiny_{i:06d}_000019")
        write_png(s.image(tmp_path / "data/raw"), _image(48, 48, i))
        label_ids = np.full((48, 48), 7, np.uint8)  # road, with a car
        label_ids[10:20, 5:30] = 26
        write_png(s.label_ids(tmp_path / "data/raw"), label_ids)
        write_png(s.label_train_ids(tmp_path / "data/raw"), ID_TO_TRAIN[label_ids])
    for s in (2, 4):
        degrade_tree(tmp_path / "data/raw", s, tmp_path / f"data/lr/x{s}", tmp_path / f"data/bicubic/x{s}")
    for i in range(3):
        write_png(tmp_path / "train_images" / f"img{i}.png", _image(48, 48, 10 + i))
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _stage(monkeypatch: pytest.MonkeyPatch, name: str, *args: str) -> None:
    monkeypatch.setattr(sys, "argv", [name, *args])
    runpy.run_path(str(REPO / "stages" / name), run_name="__main__")


def _stage_error(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], name: str, *args: str) -> str:
    with pytest.raises(SystemExit) as exc:
        _stage(monkeypatch, name, *args)
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith("error: ")
    return err


def test_pretrain_then_super_resolve(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for s in (2, 4):
        _stage(monkeypatch, "pretrain_sr.py", "--scale", str(s), "--seed", "0")
        assert P.sr_model(s, 0).is_file()
        metrics = json.loads((P.train_log(f"sr_x{s}", 0) / "metrics.json").read_text())
        assert {"loss", "psnr"} <= set(metrics["train"]) and {"psnr", "psnr_bicubic"} <= set(metrics["val"])
        assert metrics["step"] == 1  # 2 steps at 1 step per epoch: 2 logged epochs
        assert list((P.train_log(f"sr_x{s}", 0) / "plots").rglob("*.tsv"))
        assert not list(P.sr_model(s, 0).parent.glob(".*tmp*"))
        assert not list(P.train_log(f"sr_x{s}", 0).parent.glob(".*tmp*"))
        record = model_metadata(P.sr_model(s, 0))
        assert record["scale"] == s and record["seed"] == 0 and record["data_source"] == "folder"
        assert record["trained_on"] == "the images of train_images (2 images, 2 steps of 24px patches)"
        assert record["params_hash"] == params_hash(load_params(), MODEL_PARAMS["pretrain_sr"])

        _stage(monkeypatch, "super_resolve.py", "--scale", str(s), "--seed", "0")
        m = json.loads(P.image_quality(f"sr_x{s}", 0).read_text())
        assert set(m) == {"psnr_y", "ssim_y", "n_images", "per_image"} and m["n_images"] == 2
        per = m["per_image"]
        assert per["ids"] == ["tiny_000002_000019", "tiny_000003_000019"]
        assert np.mean(per["psnr_y"]) == pytest.approx(m["psnr_y"], abs=1e-12)
        assert [sum(n) for n in per["class_pixels"]] == [(48 - 2 * s) ** 2] * 2  # every unshaved pixel, by class
        splits = ["train", "val"] if s == 4 else ["val"]
        for split in ("train", "val"):
            if split in splits:
                for sample in list_samples(P.sr(s, 0), split):
                    with Image.open(sample.image(P.sr(s, 0))) as im:
                        assert im.size == (48, 48) and im.mode == "RGB"
            else:
                assert not (P.sr(s, 0) / f"leftImg8bit/{split}").exists()
        # the bicubic reference (degrade's record) is the sr-bench protocol's bicubic round trip
        from srseg.io import read_image
        from srseg.metrics.sr import bicubic_scores, tree_quality

        val = list_samples(repo / "data/raw", "val")
        bic = np.mean([bicubic_scores(read_image(v.image(repo / "data/raw")), s)[0] for v in val])
        assert abs(bic - tree_quality(repo / "data/raw", repo / f"data/bicubic/x{s}", s)["psnr_y"]) < 1e-9


def test_record_says_what_the_model_was_trained_on() -> None:
    release = validate({"sr": {"init": "release", "pretrain": {"steps": 0}}})
    assert model_record(release, 3, 0, 10)["trained_on"] == "the DCSCN authors' released weights"
    assert model_record(release, 3, 0, 10)["data_source"] == "dcscn-release"
    tuned = validate({"sr": {"init": "release", "pretrain": {"steps": 5}}})
    assert model_record(tuned, 3, 0, 10)["trained_on"] == ("the DCSCN authors' released weights, fine-tuned on "
                                                          "scikit-image's sample photographs (10 images, 5 steps "
                                                          "of 48px patches)")
    untrained = model_record(validate({"sr": {"pretrain": {"steps": 0}}}), 3, 0, 10)
    assert untrained["data_source"] == "none" and "random initialisation" in untrained["trained_on"]


def test_training_is_deterministic(repo: Path) -> None:
    from srseg.params import load_params
    from srseg.sr.train import train_sr

    params = load_params()
    digests = []
    for name in ("a", "b", "c"):
        train_sr(params, 2, 1 if name == "c" else 0, Paths(repo / name))
        digests.append(hashlib.sha256(Paths(repo / name).sr_model(2, 1 if name == "c" else 0).read_bytes()).digest())
    assert digests[0] == digests[1] != digests[2]  # the same seed gives the same bytes; another seed another model


def test_skimage_source_is_offline_colour_and_grey() -> None:
    from srseg.sr.data import pretrain_images

    train, val = pretrain_images(PretrainParams(), Path("unused-cache"))
    assert len(val) == 3 and len(train) >= 8
    images = [r.load() for r in train + val]
    assert all(min(im.shape[:2]) >= 300 and im.dtype == np.uint8 for im in images)
    assert {im.ndim for im in images} == {2, 3}


def test_patches_are_deterministic_and_shaped() -> None:
    from srseg.sr.data import ImageRef, PatchSampler

    refs = [ImageRef(f"i{k}", lambda k=k: _image(60, 50, k)) for k in range(3)]
    a = PatchSampler(refs, 3, 50, seed=1).batch(5)
    b = PatchSampler(refs, 3, 50, seed=1).batch(5)
    assert [x.shape for x in a] == [(5, 16, 16, 1), (5, 48, 48, 1), (5, 48, 48, 1)]
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))


def test_bad_inputs(repo: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    err = _stage_error(monkeypatch, capsys, "pretrain_sr.py", "--scale", "1", "--seed", "0")
    assert "--scale 1: must be an integer >= 2" in err
    err = _stage_error(monkeypatch, capsys, "super_resolve.py", "--scale", "2", "--seed", "0")
    assert "models/sr/seed0/x2.keras: model file not found" in err
    write_png(repo / "train_images" / "a_small.png", _image(18, 30, 5))
    err = _stage_error(monkeypatch, capsys, "pretrain_sr.py", "--scale", "2", "--seed", "0")
    assert "a_small.png: 30x18 is smaller than the 24x24 training patch" in err
    (repo / "train_images" / "a_small.png").write_bytes(b"GIF89a broken")
    err = _stage_error(monkeypatch, capsys, "pretrain_sr.py", "--scale", "2", "--seed", "0")
    assert "a_small.png" in err and "cannot read image" in err
    assert not (repo / "models").exists() and not (repo / "metrics").exists()  # nothing half-written
    params = yaml.safe_load((repo / "params.yaml").read_text())
    params["sr"]["preset"] = "srcnn"
    (repo / "params.yaml").write_text(yaml.safe_dump(params))
    err = _stage_error(monkeypatch, capsys, "pretrain_sr.py", "--scale", "2", "--seed", "0")
    assert "sr.preset" in err


def test_release_init_with_no_steps(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    weights = shared_path("dcscn-weights")
    params = yaml.safe_load((repo / "params.yaml").read_text())
    params["sr"].update(init="release", release_checkpoints=str(weights))
    params["sr"]["pretrain"]["steps"] = 0
    (repo / "params.yaml").write_text(yaml.safe_dump(params))
    _stage(monkeypatch, "pretrain_sr.py", "--scale", "2", "--seed", "0")
    metrics = json.loads((P.train_log("sr_x2", 0) / "metrics.json").read_text())
    assert metrics["val"]["psnr"] > metrics["val"]["psnr_bicubic"]


def test_release_init_rejects_another_preset(repo: Path, monkeypatch: pytest.MonkeyPatch,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    weights = shared_path("dcscn-weights")
    params = yaml.safe_load((repo / "params.yaml").read_text())
    params["sr"].update(init="release", release_checkpoints=str(weights), preset="dcscn")
    (repo / "params.yaml").write_text(yaml.safe_dump(params))
    err = _stage_error(monkeypatch, capsys, "pretrain_sr.py", "--scale", "2", "--seed", "0")
    assert "does not fit the dcscn model" in err and "CNN1/conv_W" in err


def test_folder_source_with_the_shared_training_sets() -> None:
    from srseg.sr.data import pretrain_images

    yang, bsd = shared_path("sr", "yang91"), shared_path("sr", "bsd200")
    train, val = pretrain_images(PretrainParams(source="folder", folders=[str(yang), str(bsd)], val_images=3),
                                 Path("unused-cache"))
    assert len(train) + len(val) == 291 and len(val) == 3


def _zip(name: str, files: dict[str, np.ndarray]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for fname, arr in files.items():
            png = io.BytesIO()
            Image.fromarray(arr).save(png, format="PNG")
            zf.writestr(f"{name}/{fname}", png.getvalue())
    return buf.getvalue()


def test_div2k_download_and_local(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, http_server) -> None:  # noqa: F811
    import srseg.sr.data as data

    zips = {
        "DIV2K_train_HR": _zip("DIV2K_train_HR", {f"{i:04d}.png": _image(60, 60, i) for i in (1, 2)}),
        "DIV2K_valid_HR": _zip("DIV2K_valid_HR", {f"{i:04d}.png": _image(60, 60, i) for i in (801, 802)}),
    }
    srv = http_server({f"/div2k/{n}.zip": (lambda r, b=b: send_file(r, b)) for n, b in zips.items()})
    monkeypatch.setattr(data, "DIV2K_URL", srv.url("/div2k/"))
    monkeypatch.setattr(data, "DIV2K_FILES", {n: (len(b), hashlib.sha256(b).hexdigest()) for n, b in zips.items()})
    p = PretrainParams(source="div2k", val_images=1)
    for _ in range(2):  # the second time everything comes from the cache
        train, val = data.pretrain_images(p, tmp_path / "cache")
        assert [Path(r.name).name for r in train] == ["0001.png", "0002.png"]
        assert [Path(r.name).name for r in val] == ["0801.png"]
    assert len(srv.log) == 2
    # A local folder with the two zips (div2k_path) works offline as well.
    local = tmp_path / "local"
    local.mkdir()
    for n, b in zips.items():
        (local / f"{n}.zip").write_bytes(b)
    train, _ = data.pretrain_images(PretrainParams(source="div2k", div2k_path=str(local), val_images=1),
                                    tmp_path / "c2")
    assert len(train) == 2 and train[0].load().shape == (60, 60, 3)


def test_params_accept_the_sr_block() -> None:
    params = validate(yaml.safe_load((REPO / "params.yaml").read_text()))
    assert params.sr.preset == "c-dcscn" and params.sr.pretrain.source == "skimage"


def test_large_sets_stream_through_a_bounded_pool(monkeypatch: pytest.MonkeyPatch) -> None:
    import srseg.sr.data as data

    monkeypatch.setattr(data, "EAGER_MAX_IMAGES", 2)
    loads: list[int] = []

    def ref(k: int) -> data.ImageRef:
        return data.ImageRef(f"i{k}", lambda: (loads.append(k), _image(30, 30, k))[1])

    sampler = data.PatchSampler([ref(k) for k in range(5)], 2, 24, seed=0, pool=2, refresh=1)
    for _ in range(20):
        sampler.batch(2)
        assert len(sampler.pool) == 2
    assert set(loads) == set(range(5))
