"""srseg.io's saved models: the training record inside a .keras file, the params hash, and the lines that
``srseg segment`` / ``srseg upscale`` print from it."""

from __future__ import annotations

import hashlib
import json
import zipfile
from pathlib import Path

import numpy as np
import pytest

from srseg.errors import SrsegError
from srseg.io import (
    RECORD_KEY,
    describe_model,
    model_metadata,
    outside_study_warning,
    params_hash,
    replace_between,
    save_keras,
)
from srseg.params import validate

RECORD = {"task": "segmentation", "architecture": "PSPNet small", "classes": ["road", "sky"], "seed": 1,
          "data_source": "synthetic", "trained_on": "HR train images of synthetic street scenes (2 images)",
          "params_hash": "0123456789ab", "srseg_version": "9.9.9"}


def _model():
    import keras

    keras.utils.set_random_seed(3)
    x = keras.Input((None, None, 3))
    return keras.Model(x, keras.layers.Conv2D(2, 3, padding="same")(x))


def _entries(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as zf:
        return {name: zf.read(name) for name in zf.namelist()}


def test_record_round_trips_and_changes_nothing_else(tmp_path: Path) -> None:
    import keras

    model = _model()
    save_keras(model, tmp_path / "plain.keras")
    save_keras(model, tmp_path / "a.keras", RECORD)
    save_keras(model, tmp_path / "b.keras", dict(reversed(list(RECORD.items()))))
    assert model_metadata(tmp_path / "a.keras") == RECORD
    assert model_metadata(tmp_path / "plain.keras") is None
    # byte-reproducible (no timestamps, key order irrelevant) …
    assert (tmp_path / "a.keras").read_bytes() == (tmp_path / "b.keras").read_bytes()
    # … and the record is the only difference: same entries, same config and weights bytes
    plain, recorded = _entries(tmp_path / "plain.keras"), _entries(tmp_path / "a.keras")
    assert list(plain) == list(recorded) == ["metadata.json", "config.json", "model.weights.h5"]
    assert all(plain[k] == recorded[k] for k in ("config.json", "model.weights.h5"))
    meta = json.loads(recorded["metadata.json"])
    assert meta.pop(RECORD_KEY) == RECORD and meta == json.loads(plain["metadata.json"])
    loaded = keras.models.load_model(tmp_path / "a.keras", compile=False)
    x = np.random.default_rng(0).random((1, 5, 4, 3), np.float32)
    np.testing.assert_array_equal(loaded(x).numpy(), model(x).numpy())


def test_models_without_a_record(tmp_path: Path) -> None:
    _model().save(tmp_path / "keras_own.keras")  # Keras' own save: no srseg record
    assert model_metadata(tmp_path / "keras_own.keras") is None
    (tmp_path / "ckpt.index").write_bytes(b"not a zip")  # e.g. the DCSCN authors' checkpoint files
    assert model_metadata(tmp_path / "ckpt.index") is None
    with pytest.raises(SrsegError, match="none.keras: model file not found"):
        model_metadata(tmp_path / "none.keras")


def test_a_broken_record_is_one_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.keras"
    with zipfile.ZipFile(bad, "w") as zf:
        zf.writestr("metadata.json", "{not json")
    with pytest.raises(SrsegError, match=r"bad.keras: unreadable metadata.json"):
        model_metadata(bad)
    with zipfile.ZipFile(bad, "w") as zf:
        zf.writestr("metadata.json", json.dumps({RECORD_KEY: ["a", "list"]}))
    with pytest.raises(SrsegError, match="is not a mapping"):
        model_metadata(bad)


def test_a_record_that_is_not_json_fails_before_writing(tmp_path: Path) -> None:
    with pytest.raises(TypeError):
        save_keras(_model(), tmp_path / "m.keras", {"when": object()})
    assert not list(tmp_path.iterdir())


def test_params_hash_is_the_documented_digest_of_the_chosen_keys() -> None:
    params = validate({"seg": {"train": {"epochs": 3}}})
    keys = ("seed", "seg.train", "runtime.threads")
    chosen = {"seed": 0, "seg.train": params.seg.train.model_dump(mode="json"), "runtime.threads": 2}
    text = json.dumps(chosen, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    assert params_hash(params, keys) == hashlib.sha256(text.encode()).hexdigest()[:12]
    assert params_hash(params, keys) == params_hash(validate({"seg": {"train": {"epochs": 3}}, "plots":
                                                              {"table4_image": 5}}), keys)  # other keys: same
    assert params_hash(params, keys) != params_hash(validate({"seg": {"train": {"epochs": 4}}}), keys)
    assert params_hash(params, keys) != params_hash(validate({"seg": {"train": {"epochs": 3}}, "seed": 1}), keys)


def test_describe_model_names_the_model_and_its_data() -> None:
    line = describe_model("models/seg/seed1/hr.keras", RECORD)
    assert line == ("model models/seg/seed1/hr.keras: PSPNet small, 2 Cityscapes classes, trained on HR train "
                    "images of synthetic street scenes (2 images) (seed 1, params_hash 0123456789ab, srseg 9.9.9)")
    sr = {**RECORD, "architecture": "DCSCN c-dcscn (pixel_shuffle)", "scale": 4, "classes": None}
    assert describe_model("x4.keras", sr).startswith("model x4.keras: DCSCN c-dcscn (pixel_shuffle) x4, trained on")
    assert describe_model("old.keras", None) == "model old.keras: no training record"


def test_outside_the_study_means_not_under_data(tmp_path: Path) -> None:
    data = tmp_path / "repo" / "data"
    inside = data / "raw" / "leftImg8bit" / "val" / "a.png"
    outside = tmp_path / "photos" / "camvid.png"
    dotdot = data / ".." / "elsewhere.png"
    warning = outside_study_warning(RECORD, "hr.keras", outside, data)
    assert warning is not None and warning.startswith("warning: hr.keras was trained on synthetic street scenes")
    assert str(outside) in warning and "\n" not in warning
    assert outside_study_warning(RECORD, "hr.keras", dotdot, data) is not None  # resolved, not by prefix
    assert outside_study_warning(RECORD, "hr.keras", inside, data) is None
    cache = tmp_path / "repo" / ".dvc" / "cache" / "ab" / "cdef"  # a data/ file that DVC linked into its cache
    cache.parent.mkdir(parents=True)
    cache.write_bytes(b"png")
    inside.parent.mkdir(parents=True)
    inside.symlink_to(cache)
    assert outside_study_warning(RECORD, "hr.keras", inside, data) is None
    linked = tmp_path / "link_to_photos"  # a link from elsewhere into data/ counts as inside too
    linked.symlink_to(data / "raw")
    assert outside_study_warning(RECORD, "hr.keras", linked / "leftImg8bit" / "val" / "a.png", data) is None
    assert outside_study_warning({**RECORD, "data_source": "camvid"}, "hr.keras", outside, data) is None
    assert outside_study_warning(None, "old.keras", outside, data) is None


def test_replace_between_rewrites_only_the_generated_section_and_names_the_file_without_markers() -> None:
    text = "intro\n<!-- a -->\nold\nrows\n<!-- b -->\nafter <!-- b --> again\n"
    assert replace_between(text, "<!-- a -->", "<!-- b -->", "new", "README.md") == (
        "intro\n<!-- a -->\nnew\n<!-- b -->\nafter <!-- b --> again\n")
    for broken in ("intro\n<!-- b -->\n", "<!-- b -->\n<!-- a -->\n", "nothing"):
        with pytest.raises(SrsegError, match=r"^README.md: no markers '<!-- a -->' … '<!-- b -->'$"):
            replace_between(broken, "<!-- a -->", "<!-- b -->", "new", "README.md")
