"""``srseg segment`` says which model runs and what it was trained on, warns on images from outside the study,
and says what it wrote."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest

from srseg.cli import main
from srseg.io import save_keras, write_png
from srseg.seg.infer import Predictor

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


# --- nothing lost (issue 31): the outputs, the pixel limit, 16 bits, sliding windows, unwritable outputs ----------

def _fails(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    """The one stderr line of a ``srseg`` command that exits with status 2."""
    capsys.readouterr()
    with pytest.raises(SystemExit) as exc:
        main(argv)
    err = capsys.readouterr().err
    assert exc.value.code == 2 and err.count("\n") == 1 and "Traceback" not in err, err
    return err.rstrip("\n")


@pytest.mark.parametrize("kind", ["labelIds", "color"])
def test_segment_refuses_to_write_over_its_input(kind: str, tmp_path: Path, models: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    """Refused before the model loads (the model file does not exist); --overwrite allows it."""
    src = tmp_path / f"x_{kind}.png"
    write_png(src, np.full((20, 30, 3), 9, np.uint8))
    before = src.read_bytes()
    line = _fails(["segment", str(src), str(tmp_path / "x"), "--model", str(tmp_path / "absent.keras")], capsys)
    assert line == (f"error: {src}: is the input image; give another OUT_PREFIX (or --overwrite to replace it)")
    assert src.read_bytes() == before and sorted(p.name for p in tmp_path.iterdir()) == [src.name]
    main(["segment", str(src), str(tmp_path / "x"), "--model", str(models / "recorded.keras"), "--overwrite"])
    assert src.read_bytes() != before
    assert (tmp_path / "x_labelIds.png").is_file() and (tmp_path / "x_color.png").is_file()


def test_segment_refuses_images_above_the_pixel_limit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    """Pillow's decompression-bomb warning (above its limit) and error (above twice it) are one line naming the
    file, before the model loads; at the limit the image is read."""
    from PIL import Image

    from srseg.io import read_image

    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 500)
    for h, w in ((20, 30), (30, 40)):  # 600 pixels: Pillow warns; 1200: Pillow refuses
        src = tmp_path / f"{w}x{h}.png"
        write_png(src, np.zeros((h, w, 3), np.uint8))
        line = _fails(["segment", str(src), str(tmp_path / "out"), "--model", str(tmp_path / "absent.keras")], capsys)
        assert line == (f"error: {src}: image of {h * w:,} pixels (0.0 MP), above srseg's limit of 500 (Pillow's "
                        f"decompression-bomb limit); crop or downscale it first")
    assert not list(tmp_path.glob("out*"))
    write_png(tmp_path / "ok.png", np.zeros((20, 25, 3), np.uint8))
    assert read_image(tmp_path / "ok.png").shape == (20, 25, 3)


def test_segment_refuses_16_bit_images_before_the_model_loads(tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    src = tmp_path / "grey16.png"
    write_png(src, np.array([[0, 1000], [30000, 65535]], np.uint16))
    line = _fails(["segment", str(src), str(tmp_path / "out"), "--model", str(tmp_path / "absent.keras")], capsys)
    assert line.startswith(f"error: {src}: 16 bits per channel (16-bit grey); srseg reads 8-bit images only")


def _reference_sliding(predictor: Predictor, image: np.ndarray) -> np.ndarray:
    """Sliding-window softmax as srseg computed it before it went row by row: one whole-image sum and count."""
    from srseg.seg.infer import _starts

    image = np.asarray(image, np.float32)
    h, w = image.shape[:2]
    win_h, win_w = min(predictor.window, h), min(predictor.window, w)
    ys = _starts(h, win_h, max(1, int(np.ceil(win_h * (1 - predictor.overlap)))))
    xs = _starts(w, win_w, max(1, int(np.ceil(win_w * (1 - predictor.overlap)))))
    acc, count = None, np.zeros((h, w, 1), np.float32)
    for y in ys:
        for x in xs:
            p = predictor.batch_probabilities(image[None, y : y + win_h, x : x + win_w])[0]
            acc = np.zeros((h, w, p.shape[-1]), np.float32) if acc is None else acc
            acc[y : y + win_h, x : x + win_w] += p
            count[y : y + win_h, x : x + win_w] += 1
    return acc / count


@pytest.mark.parametrize(("window", "overlap"), [(16, 0.33), (20, 0.0), (24, 0.5), (40, 0.33), (64, 0.33)])
def test_sliding_row_by_row_is_the_whole_image_average_bit_for_bit(window: int, overlap: float) -> None:
    import keras

    from srseg.models.pspnet import build_pspnet

    keras.utils.set_random_seed(0)
    predictor = Predictor(build_pspnet(19, "small"), "sliding", window, overlap)
    image = np.random.default_rng(3).integers(0, 256, (37, 50, 3), dtype=np.uint8)
    reference = _reference_sliding(predictor, image)
    np.testing.assert_array_equal(predictor.probabilities(image), reference)
    np.testing.assert_array_equal(predictor.train_ids(image), np.argmax(reference, -1).astype(np.uint8))


def test_segment_window_and_sliding_above_the_whole_image_limit(models: Path, tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch,
                                                                caplog: pytest.LogCaptureFixture) -> None:
    """--window N segments in windows; without it images above SEG_WHOLE_MAX_PIXELS do, in SEG_WINDOW's."""
    from srseg.io import read_image, read_label
    from srseg.models.pspnet import load_model
    from srseg.seg import infer

    src = tmp_path / "in.png"
    write_png(src, np.random.default_rng(4).integers(0, 256, (30, 44, 3), dtype=np.uint8))
    model = str(models / "recorded.keras")
    expected = infer.to_label_ids(infer.Predictor(load_model(model), "sliding", 16).train_ids(read_image(src)))
    main(["segment", str(src), str(tmp_path / "w"), "--model", model, "--window", "16"])
    np.testing.assert_array_equal(read_label(tmp_path / "w_labelIds.png"), expected)
    monkeypatch.setattr(infer, "SEG_WHOLE_MAX_PIXELS", 30 * 44 - 1)
    monkeypatch.setattr(infer, "SEG_WINDOW", 16)
    caplog.clear()
    with caplog.at_level(logging.INFO):
        main(["segment", str(src), str(tmp_path / "auto"), "--model", model])
    assert f"{src}: 44x30 is above 0.0 MP: segmented in sliding windows of 16 pixels (--window sets the side)" in [
        r.getMessage() for r in caplog.records]
    np.testing.assert_array_equal(read_label(tmp_path / "auto_labelIds.png"), expected)


def test_an_output_under_a_file_is_one_line(models: Path, tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    """An OSError writing an output (here a file where a folder should be, which fails even for root) is
    ``error: PATH: reason``, exit status 2, and nothing written."""
    src, blocker = tmp_path / "in.png", tmp_path / "blocker"
    write_png(src, np.zeros((20, 30, 3), np.uint8))
    blocker.write_text("a file")
    for prefix, blocking in ((blocker / "x", blocker), (blocker / "sub" / "x", blocker)):
        line = _fails(["segment", str(src), str(prefix), "--model", str(models / "recorded.keras")], capsys)
        assert line == f"error: {blocking}: is a file, not a folder (needed for {prefix}_labelIds.png)"
    assert blocker.read_text() == "a file" and sorted(p.name for p in tmp_path.iterdir()) == ["blocker", "in.png"]
