"""``srseg segment`` says which model runs and what it was trained on, warns on images from outside the study,
and says what it wrote."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest

from srseg.cli import main
from srseg.io import save_keras, write_png

SYNTHETIC = {"task": "segmentation", "architecture": "PSPNet small", "classes": ["c"] * 19, "seed": 0,
             "data_source": "synthetic", "trained_on": "HR train images of synthetic street scenes (96 images)",
             "params_hash": "abcdefabcdef", "srseg_version": "0.1.0"}


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny repo root: a PSPNet saved with a synthetic-scenes record and the same one saved by Keras alone."""
    from srseg.models.pspnet import build_pspnet

    root = tmp_path_factory.mktemp("repo")
    model = build_pspnet(19, "small")
    save_keras(model, root / "recorded.keras", SYNTHETIC)
    model.save(root / "keras_own.keras")
    write_png(root / "data/raw/leftImg8bit/val/c/in_leftImg8bit.png", np.zeros((20, 30, 3), np.uint8))
    write_png(root / "photos" / "camvid.png", np.zeros((20, 30, 3), np.uint8))
    return root


def _segment(image: str, model: str, caplog: pytest.LogCaptureFixture) -> list[str]:
    caplog.clear()
    with caplog.at_level(logging.INFO):
        main(["segment", image, "out/x", "--model", model])
    return [r.getMessage() for r in caplog.records if r.name.startswith("srseg")]


def test_segment_names_the_model_warns_outside_the_study_and_says_what_it_wrote(
        models: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.chdir(models)
    lines = _segment("photos/camvid.png", "recorded.keras", caplog)
    assert lines[0] == ("model recorded.keras: PSPNet small, 19 Cityscapes classes, trained on HR train images of "
                        "synthetic street scenes (96 images) (seed 0, params_hash abcdefabcdef, srseg 0.1.0)")
    assert lines[1].startswith("warning: recorded.keras was trained on synthetic street scenes only")
    assert "photos/camvid.png is not under the study's data/ folder" in lines[1]
    assert lines[2] == "wrote out/x_labelIds.png (Cityscapes labelIds) and out/x_color.png (colour), 30x20"
    assert len(lines) == 3 and (models / "out/x_labelIds.png").is_file() and (models / "out/x_color.png").is_file()
    # inside data/ (also when named through another path): no warning
    lines = _segment(str(models / "data/raw/leftImg8bit/val/c/in_leftImg8bit.png"), "recorded.keras", caplog)
    assert len(lines) == 2 and not any(line.startswith("warning") for line in lines)


def test_segment_with_a_model_without_record(models: Path, monkeypatch: pytest.MonkeyPatch,
                                             caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.chdir(models)
    lines = _segment("photos/camvid.png", "keras_own.keras", caplog)
    assert lines[0] == "model keras_own.keras: no training record" and lines[1].startswith("wrote ")
    assert len(lines) == 2
