"""Inference like a tool (issue 32, point 4): folder input with one model load and bad files skipped in one line,
`srseg segment --sr-scale` (SR then segment), the Python API (srseg.api), tiles sized by memory (byte-identical
to the old default tile), progress bars."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from srseg.cli import main
from srseg.io import read_image, save_keras, write_png
from srseg.paths import Paths

SR_RECORD = {"task": "super-resolution", "architecture": "DCSCN c-dcscn", "scale": 2, "seed": 0}
SEG_RECORD = {"task": "segmentation", "architecture": "PSPNet small", "seed": 0}


def _smooth(h: int, w: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, (max(2, h // 4), max(2, w // 4), 3), dtype=np.uint8)
    return np.asarray(Image.fromarray(small).resize((w, h), Image.Resampling.BICUBIC))


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Paths:
    """A project with the default models' files: untrained seeded x2/x4 c-DCSCNs and a small PSPNet."""
    import keras

    from srseg.models.dcscn import DcscnConfig, build_dcscn
    from srseg.models.pspnet import build_pspnet

    paths = Paths(tmp_path_factory.mktemp("project"))
    for scale in (2, 4):
        keras.utils.set_random_seed(scale)
        model = build_dcscn(DcscnConfig.from_preset("c-dcscn", scale))
        for layer in model.layers:  # small weights: a realistic residual instead of He-init's huge one
            if layer.get_weights() and "prelu" not in layer.name:
                layer.set_weights([w * 0.2 for w in layer.get_weights()])
        save_keras(model, paths.sr_model(scale, 0), {**SR_RECORD, "scale": scale})
    keras.utils.set_random_seed(0)
    save_keras(build_pspnet(19, "small"), paths.seg_model("hr", 0), SEG_RECORD)
    return paths


@pytest.fixture
def default_models(project: Paths, monkeypatch: pytest.MonkeyPatch) -> Paths:
    """``project`` as the project whose default models the commands and the API use."""
    import srseg.apply

    monkeypatch.setattr(srseg.apply, "project", lambda: project)
    return project


def _photos(folder: Path) -> Path:
    """A folder: two good images (colour, grey JPEG), a text file named .png, a 16-bit PNG, a sub-folder."""
    write_png(folder / "a.png", _smooth(12, 18))
    Image.fromarray(_smooth(10, 14, seed=1)[..., 0]).save(folder / "b.jpg", quality=95)
    (folder / "c.png").write_text("not an image")
    write_png(folder / "d16.png", np.full((6, 7), 40000, np.uint16))
    (folder / "sub").mkdir()
    write_png(folder / "sub" / "e.png", _smooth(8, 8))
    return folder


def _run(argv: list[str], caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
         ) -> tuple[int, list[str], str]:
    """(exit status, srseg's log lines, stderr) of one ``srseg`` command."""
    caplog.clear()
    capsys.readouterr()
    code = 0
    with caplog.at_level(logging.INFO):
        try:
            main(argv)
        except SystemExit as exc:
            code = int(exc.code or 0)
    return code, [r.getMessage() for r in caplog.records if r.name.startswith("srseg")], capsys.readouterr().err


def test_upscale_folder_loads_once_skips_bad_files_and_matches_single_files(
        tmp_path: Path, default_models: Paths, caplog: pytest.LogCaptureFixture,
        capsys: pytest.CaptureFixture[str]) -> None:
    """Every image of the folder (sorted, not its sub-folders) into the output folder under its own name and
    format; a file Pillow cannot open is skipped before TensorFlow loads, a 16-bit one when it is read; each is
    one line, the others are written, and the command ends with exit status 2 and one line counting them."""
    photos, out = _photos(tmp_path / "photos"), tmp_path / "out"
    code, lines, err = _run(["upscale", str(photos), str(out), "--scale", "2"], caplog, capsys)
    assert code == 2
    assert err.splitlines()[-1] == f"error: 2 of 4 images skipped (c.png, d16.png); the other 2 are in {out}"
    assert lines[0].startswith(f"skipped: {photos / 'c.png'}: not an image (")
    assert sum(line.startswith("model ") for line in lines) == 1  # one model load for the folder
    assert f"{out / 'a.png'}: 18x12 -> 36x24 (x2, {default_models.sr_model(2, 0)})" in lines
    assert any(line.startswith(f"skipped: {photos / 'd16.png'}: 16 bits per channel") for line in lines)
    assert sorted(p.name for p in out.iterdir()) == ["a.png", "b.jpg"]
    with Image.open(out / "b.jpg") as im:
        assert (im.format, im.mode, im.size) == ("JPEG", "L", (28, 20))
    single = tmp_path / "single.png"
    assert _run(["upscale", str(photos / "a.png"), str(single), "--scale", "2"], caplog, capsys)[0] == 0
    assert (out / "a.png").read_bytes() == single.read_bytes()


def test_segment_folder_with_sr_scale_is_the_chain_of_the_two_commands(
        tmp_path: Path, default_models: Paths, caplog: pytest.LogCaptureFixture,
        capsys: pytest.CaptureFixture[str]) -> None:
    """`srseg segment --sr-scale 2` on a folder: each image upscaled by the project's x2 model, then segmented,
    outputs at the SR size; the same labels as `srseg upscale` followed by `srseg segment`."""
    photos = tmp_path / "photos"
    write_png(photos / "a.png", _smooth(12, 18))
    write_png(photos / "b.png", _smooth(10, 14, seed=1))
    out = tmp_path / "labels"
    code, lines, _ = _run(["segment", str(photos), str(out), "--sr-scale", "2"], caplog, capsys)
    assert code == 0, lines
    models = [line for line in lines if line.startswith("model ")]
    assert len(models) == 2 and str(default_models.sr_model(2, 0)) in models[0]  # SR first, each loaded once
    assert f"{photos / 'a.png'}: 18x12 -> 36x24 (x2, {default_models.sr_model(2, 0)}), then segmented" in lines
    assert f"wrote {out / 'a_labelIds.png'} (Cityscapes labelIds) and {out / 'a_color.png'} (colour), 36x24" in lines
    assert sorted(p.name for p in out.iterdir()) == ["a_color.png", "a_labelIds.png", "b_color.png", "b_labelIds.png"]
    sr = tmp_path / "a_x2.png"
    assert _run(["upscale", str(photos / "a.png"), str(sr), "--scale", "2"], caplog, capsys)[0] == 0
    assert _run(["segment", str(sr), str(tmp_path / "two_steps")], caplog, capsys)[0] == 0
    for kind in ("labelIds", "color"):
        assert (out / f"a_{kind}.png").read_bytes() == (tmp_path / f"two_steps_{kind}.png").read_bytes()


def test_folder_runs_refuse_their_own_inputs_and_clashes_before_anything_runs(tmp_path: Path) -> None:
    """Planned before TensorFlow loads: the input folder as output folder (an output would be its input), two
    images writing one file, an output folder that is a file; --overwrite allows the first."""
    from srseg.apply import folder_jobs, segment_in, upscale_in
    from srseg.errors import SrsegError

    photos = tmp_path / "photos"
    write_png(photos / "a.png", _smooth(8, 8))
    with pytest.raises(SrsegError, match=r"a.png: is the input image; give another output folder \(or --overwrite"):
        folder_jobs(photos, photos, upscale_in)
    assert [j.outputs for j in folder_jobs(photos, photos, upscale_in, overwrite=True).jobs] == [(photos / "a.png",)]
    Image.fromarray(_smooth(8, 8)).save(photos / "a.jpg")
    with pytest.raises(SrsegError, match=r"^a.jpg and a.png would both write .*a_labelIds.png; rename one of them$"):
        folder_jobs(photos, tmp_path / "out", segment_in)
    (tmp_path / "file").write_text("")
    with pytest.raises(SrsegError, match="file: is a file; with a folder as INPUT, the output is a folder"):
        folder_jobs(photos, tmp_path / "file", upscale_in)
    (photos / "a.jpg").unlink()
    (photos / "a.png").write_text("broken")
    with pytest.raises(SrsegError, match="photos: none of its 1 images can be read"):
        folder_jobs(photos, tmp_path / "out", upscale_in)


def test_api_three_lines_with_the_projects_models(tmp_path: Path, default_models: Paths) -> None:
    """srseg.api: upscale an array or a file with the project's model (loaded once), segment an array: the same
    arrays as the functions the commands run, and `sr_scale` is upscale then segment."""
    from srseg import api
    from srseg.seg.infer import Predictor
    from srseg.sr.infer import load_upscaler, sr_image

    image = _smooth(20, 30)
    write_png(tmp_path / "street.png", image)
    sr = api.upscale(tmp_path / "street.png", scale=2)
    labels = api.segment(sr)
    assert sr.shape == (40, 60, 3) and labels.shape == (40, 60) and labels.dtype == np.uint8 and labels.max() < 19
    np.testing.assert_array_equal(sr, sr_image(load_upscaler(2, default_models.sr_model(2, 0)), image))
    net = api.load_segmenter()
    np.testing.assert_array_equal(labels, Predictor(net, "whole").train_ids(sr))
    np.testing.assert_array_equal(api.segment(image, sr_scale=2), labels)
    np.testing.assert_array_equal(api.segment(image[..., 0]), api.segment(np.repeat(image[..., :1], 3, axis=-1)))
    assert api.load_upscaler(2) is api.load_upscaler(2, default_models.sr_model(2, 0))  # loaded once
    up4 = api.load_upscaler(4)
    assert api.upscale(image, model=up4).shape == (80, 120, 3)
    assert api.colorize(labels).shape == (40, 60, 3) and api.to_label_ids(labels).shape == (40, 60)
    assert api.upscale(image[..., 0], scale=2).shape == (40, 60)  # grey stays grey


def test_api_errors_are_one_line(default_models: Paths) -> None:
    from srseg import api
    from srseg.errors import SrsegError

    with pytest.raises(SrsegError, match=r"x3.keras: no trained x3 SR model \(models here: x2, x4\); .* give model="):
        api.upscale(np.zeros((4, 4, 3), np.uint8), scale=3)
    with pytest.raises(SrsegError, match=r"hr.keras: a segmentation model \(PSPNet small\), not super-resolution"):
        api.upscale(np.zeros((4, 4, 3), np.uint8), scale=2, model=default_models.seg_model("hr", 0))
    with pytest.raises(SrsegError, match="give scale"):
        api.upscale(np.zeros((4, 4, 3), np.uint8))
    with pytest.raises(SrsegError, match="a x4 model, not x2"):
        api.upscale(np.zeros((4, 4, 3), np.uint8), scale=2, model=api.load_upscaler(4))
    with pytest.raises(SrsegError, match="no-such.png: image not found"):
        api.segment("no-such.png")


@pytest.mark.parametrize("scale", [2, 4])
def test_auto_tile_bounds_activations_and_keeps_the_bytes(scale: int, project: Paths, tmp_path: Path) -> None:
    """tile="auto" (the upscale default) takes the largest tile whose activations fit in TILE_MEMORY (c-DCSCN:
    about 2 KB per LR pixel at x2, 3.3 KB at x4); the file it writes is the one the old default tile (512) wrote."""
    from srseg.params import TILE, TILE_MEMORY
    from srseg.sr.infer import load_upscaler, upscale_file

    up = load_upscaler(scale, project.sr_model(scale, 0))
    assert (up.activation_bytes, up.auto_tile()) == {2: (2084, 336), 4: (3300, 256)}[scale]
    assert (up.auto_tile() + 2 * max(10, up.radius)) ** 2 * up.activation_bytes <= TILE_MEMORY
    assert up.auto_tile(budget=1) == 32 and up.tile_side(None) is None and up.tile_side(7) == 7
    h, w = (360, 400) if scale == 2 else (300, 270)  # several auto tiles, one old-default tile
    write_png(tmp_path / "lr.png", _smooth(h, w))
    for tile in ("auto", TILE):
        upscale_file(tmp_path / "lr.png", tmp_path / f"{tile}.png", scale, upscaler=up, tile=tile)
    assert (tmp_path / "auto.png").read_bytes() == (tmp_path / f"{TILE}.png").read_bytes()


def test_progress_bars_over_tiles_windows_and_images(tmp_path: Path, project: Paths,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    """progress=True shows tqdm bars (stderr): the SR tiles of a large image, the sliding windows of
    segmentation, a folder's images; progress=False (the API's default) none; None only on a terminal."""
    from srseg import api
    from srseg.apply import folder_jobs, run_folder, upscale_in
    from srseg.sr.infer import upscale_file

    image = _smooth(40, 60)
    up = api.load_upscaler(2, project.sr_model(2, 0))
    capsys.readouterr()
    api.upscale(image, model=up, tile=16, progress=True)
    assert "x2 tiles:   0%|" in (err := capsys.readouterr().err) and "0/12 [" in err  # cleared when done
    api.segment(image, model=project.seg_model("hr", 0), window=32, progress=True)
    assert "windows:   0%|" in capsys.readouterr().err
    api.upscale(image, model=up, tile=16)
    api.upscale(image, model=up, tile=16, progress=None)  # stderr is not a terminal here
    assert capsys.readouterr().err == ""
    for name in ("a.png", "b.png"):
        write_png(tmp_path / "in" / name, image)
    run = folder_jobs(tmp_path / "in", tmp_path / "out", upscale_in)
    run_folder(run, lambda job: upscale_file(job.input, job.outputs[0], 2, upscaler=up), progress=True)
    assert "images: 100%" in capsys.readouterr().err and read_image(tmp_path / "out" / "b.png").shape == (80, 120, 3)


def test_the_readmes_api_lines_run_as_written(tmp_path: Path, default_models: Paths,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """The README's Python block ("Apply it to your images"), run as written on a street_lr.png of its own."""
    import re

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    section = readme.split("## Apply it to your images", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```python\n(.*?)```", section, re.S)
    assert block and len(block.group(1).splitlines()) <= 3
    monkeypatch.chdir(tmp_path)
    write_png(tmp_path / "street_lr.png", _smooth(10, 16))
    scope: dict[str, object] = {}
    exec(block.group(1), scope)
    assert np.shape(scope["sr"]) == (40, 64, 3) and np.shape(scope["labels"]) == (40, 64)
