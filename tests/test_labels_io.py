"""Label tables (from cityscapesscripts), CamVid mapping, and the file helpers' failure behaviour."""

from __future__ import annotations

import io
import logging
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from srseg.errors import ImageError
from srseg.io import atomic_dir, atomic_file, read_image, read_label, remove_stale_temps, write_png
from srseg.labels import (
    CAMVID_CLASSES,
    ID_TO_TRAIN,
    IGNORE,
    NUM_CLASSES,
    TRAIN_NAMES,
    TRAIN_TO_ID,
    camvid_to_label_ids,
    label_id,
    to_train_ids,
)


def test_train_id_tables_round_trip() -> None:
    assert len(TRAIN_NAMES) == NUM_CLASSES == 19
    assert TRAIN_NAMES[0] == "road" and TRAIN_NAMES[18] == "bicycle"
    for t in range(NUM_CLASSES):
        assert ID_TO_TRAIN[TRAIN_TO_ID[t]] == t
    assert ID_TO_TRAIN[label_id("parking")] == IGNORE  # ignoreInEval classes → 255
    assert ID_TO_TRAIN[0] == IGNORE


def test_ids_outside_table_are_named() -> None:
    with pytest.raises(ImageError, match=r"lbl\.png: label ids \[40, 200\]"):
        to_train_ids(np.array([[7, 40], [200, 26]], np.uint8), "lbl.png")


def test_camvid_mapping() -> None:
    names = [cs for _, cs in CAMVID_CLASSES]
    cv = np.arange(12, dtype=np.uint8)
    ids = camvid_to_label_ids(cv)
    assert [int(i) for i in ids] == [label_id(n) for n in names]
    train = ID_TO_TRAIN[ids]
    assert train[3] == TRAIN_NAMES.index("road") and train[11] == IGNORE
    with pytest.raises(ImageError, match="0..11"):
        camvid_to_label_ids(np.array([12], np.uint8), "x.png")


def test_atomic_dir_keeps_old_output_on_failure(tmp_path: Path) -> None:
    out = tmp_path / "out"
    with atomic_dir(out) as tmp:
        (tmp / "a.txt").write_text("first")
    with pytest.raises(RuntimeError):
        with atomic_dir(out) as tmp:
            (tmp / "a.txt").write_text("half")
            raise RuntimeError("killed")
    assert (out / "a.txt").read_text() == "first"
    assert [p.name for p in tmp_path.iterdir()] == ["out"]
    with atomic_dir(out) as tmp:
        (tmp / "b.txt").write_text("second")
    assert [p.name for p in out.iterdir()] == ["b.txt"]


def test_atomic_file(tmp_path: Path) -> None:
    target = tmp_path / "m.json"
    with pytest.raises(ValueError):
        with atomic_file(target) as fh:
            fh.write("{")
            raise ValueError
    assert not list(tmp_path.iterdir())


def _writer_holding(tmp_path: Path, code: str) -> subprocess.Popen:
    """A Python process that runs ``code`` (which writes through srseg.io), prints "ready" and then waits."""
    script = "import sys, time\nfrom srseg.io import atomic_dir, atomic_file\n" + textwrap.dedent(code) + \
        "    print('ready', flush=True)\n    time.sleep(120)\n"
    proc = subprocess.Popen([sys.executable, "-c", script], cwd=tmp_path, stdout=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1] / "src")})
    assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    return proc


def test_a_killed_writer_leaves_temps_that_the_next_write_removes(tmp_path: Path) -> None:
    """SIGKILL inside atomic_dir / atomic_file: the final paths are untouched, the temporaries stay (named
    .NAME.tmp-PID-*, which .dvcignore hides from DVC) until the next write of the same path removes them."""
    with atomic_dir(tmp_path / "out") as tmp:
        (tmp / "a.txt").write_text("first")
    proc = _writer_holding(tmp_path, """
        with atomic_dir("out") as d, atomic_file("m.json") as fh:
            (d / "a.txt").write_text("half")
            fh.write("{")
    """)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    left = sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("."))
    assert [n.split("-")[:2] for n in left] == [[".m.json.tmp", str(proc.pid)], [".out.tmp", str(proc.pid)]]
    assert (tmp_path / "out" / "a.txt").read_text() == "first" and not (tmp_path / "m.json").exists()
    # A killed atomic_dir between its two renames leaves .NAME.old-PID (and no final): removed the same way.
    (tmp_path / f".out.old-{proc.pid}").mkdir()
    (tmp_path / ".out.tmp-legacy").mkdir()  # written before temporaries carried their PID: stale too
    with atomic_dir(tmp_path / "out") as tmp:
        (tmp / "b.txt").write_text("second")
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["b.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == [left[0], "out"]  # m.json's: not written again yet
    with atomic_file(tmp_path / "m.json") as fh:
        fh.write("{}")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.json", "out"]


def test_a_running_writers_temps_are_kept(tmp_path: Path) -> None:
    proc = _writer_holding(tmp_path, """
        with atomic_dir("out") as d:
            (d / "a.txt").write_text("busy")
    """)
    try:
        assert remove_stale_temps(tmp_path / "out") == []
        with atomic_dir(tmp_path / "out") as tmp:
            (tmp / "a.txt").write_text("mine")
        busy = [p for p in tmp_path.iterdir() if p.name.startswith(f".out.tmp-{proc.pid}-")]
        assert len(busy) == 1 and (busy[0] / "a.txt").read_text() == "busy"
    finally:
        proc.kill()
        proc.wait()
    assert remove_stale_temps(tmp_path / "out") == busy
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


def test_read_image_errors_name_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"not an image")
    with pytest.raises(ImageError, match="broken.png: cannot read image"):
        read_image(bad)
    with pytest.raises(ImageError, match="missing.png: image not found"):
        read_image(tmp_path / "missing.png")
    rgb = tmp_path / "rgb.png"
    write_png(rgb, np.zeros((4, 4, 3), np.uint8))
    with pytest.raises(ImageError, match="rgb.png: expected a single-channel label"):
        read_label(rgb)
    grey = tmp_path / "g.png"
    write_png(grey, np.full((4, 5), 9, np.uint8))
    assert read_image(grey, "auto").shape == (4, 5)
    assert read_image(grey).shape == (4, 5, 3)


def test_transparency_is_dropped_with_one_warning_naming_the_file(tmp_path: Path,
                                                                  caplog: pytest.LogCaptureFixture) -> None:
    """Issue 10.6: RGBA (and LA, and palette images with a transparent entry) are read as their colour channels;
    when some pixel is not opaque that is logged once per file as a warning naming it."""
    rgba = np.zeros((4, 5, 4), np.uint8)
    rgba[..., :3] = np.arange(60, dtype=np.uint8).reshape(4, 5, 3)
    rgba[..., 3] = 255
    Image.fromarray(rgba).save(tmp_path / "opaque.png")
    rgba[0, :2, 3] = [0, 128]
    Image.fromarray(rgba).save(tmp_path / "holes.png")
    Image.fromarray(rgba[..., [0, 3]]).save(tmp_path / "grey_alpha.png")  # LA
    pal = Image.fromarray(np.array([[0, 1], [1, 2]], np.uint8), "P")
    pal.putpalette([10, 20, 30, 40, 50, 60, 70, 80, 90])
    pal.save(tmp_path / "pal.png", transparency=1)
    with caplog.at_level(logging.WARNING, logger="srseg.io"):
        np.testing.assert_array_equal(read_image(tmp_path / "opaque.png"), rgba[..., :3])
        assert caplog.messages == []  # a fully opaque alpha loses nothing
        for _ in range(3):
            np.testing.assert_array_equal(read_image(tmp_path / "holes.png"), rgba[..., :3])
        assert caplog.messages == [f"warning: {tmp_path / 'holes.png'}: transparency dropped (2 of 20 pixels not "
                                   f"opaque); read as RGB without it"]
        caplog.clear()
        assert read_image(tmp_path / "grey_alpha.png", "auto").shape == (4, 5)
        np.testing.assert_array_equal(read_image(tmp_path / "pal.png"), [[[10, 20, 30], [40, 50, 60]],
                                                                          [[40, 50, 60], [70, 80, 90]]])
        assert [m.split(": ", 2)[1:] for m in caplog.messages] == [
            [str(tmp_path / "grey_alpha.png"),
             "transparency dropped (2 of 20 pixels not opaque); read as grey without it"],
            [str(tmp_path / "pal.png"), "transparency dropped (2 of 4 pixels not opaque); read as RGB without it"],
        ]


def test_a_16_bit_label_says_so(tmp_path: Path) -> None:
    """Issue 10.6: a 16-bit label PNG was clipped to 255 and then reported as "ids [255] not in the table"."""
    big = tmp_path / "big.png"
    write_png(big, np.array([[7, 1000], [26, 300]], np.uint16))
    with pytest.raises(ImageError, match=r"^.*big\.png: 16-bit label image with values 7\.\.1000; label images "
                                         r"hold 8-bit ids 0\.\.255$"):
        read_label(big)
    small = tmp_path / "small.png"  # 16-bit file, 8-bit values: read exactly
    write_png(small, np.array([[7, 8], [26, 255]], np.uint16))
    assert Image.open(small).mode == "I;16"
    label = read_label(small)
    assert label.dtype == np.uint8 and label.tolist() == [[7, 8], [26, 255]]
    with pytest.raises(ImageError, match=r"^zip:x\.png: 16-bit label image with values 7\.\.1000"):
        read_label(io.BytesIO(big.read_bytes()), name="zip:x.png")  # zip members (Cityscapes) the same way
    with pytest.raises(ImageError, match=r"big\.png: 16 bits per channel \(16-bit grey\)"):
        read_image(big)


def _png_16_bit(arr: np.ndarray) -> bytes:
    """A PNG of 16 bits per channel (colour type 2, RGB, or 6, RGBA) of a uint16 (H, W, 3|4) array: Pillow reads
    such files but cannot write them."""
    import struct
    import zlib

    h, w, c = arr.shape
    rows = b"".join(b"\0" + arr[y].astype(">u2").tobytes() for y in range(h))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", w, h, 16, {3: 2, 4: 6}[c], 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


def test_16_bits_per_channel_are_refused_not_reduced(tmp_path: Path) -> None:
    """Issue 31: Pillow reads a 48-bit RGB PNG as 8-bit RGB, dropping the low byte without a word; srseg refuses
    it (and 64-bit RGBA, 16-bit grey) naming the file, for every mode it reads in. 8-bit images are unaffected."""
    rgb = np.arange(2 * 3 * 3, dtype=np.uint16).reshape(2, 3, 3) * 3001
    (tmp_path / "rgb48.png").write_bytes(_png_16_bit(rgb))
    (tmp_path / "rgba64.png").write_bytes(_png_16_bit(np.dstack([rgb, np.full((2, 3), 65535, np.uint16)])))
    with Image.open(tmp_path / "rgb48.png") as im:
        assert im.mode == "RGB"  # what Pillow would hand over: 8 bits
    Image.fromarray(np.array([[0, 1000], [30000, 65535]], np.uint16)).save(tmp_path / "grey16.png")
    with Image.open(tmp_path / "grey16.png") as im:
        assert im.mode == "I;16"
    for name, kind in (("rgb48", "48-bit RGB"), ("rgba64", "64-bit RGBA"), ("grey16", "16-bit grey")):
        for mode in ("RGB", "L", "auto"):
            with pytest.raises(ImageError) as exc:
                read_image(tmp_path / f"{name}.png", mode)
            assert str(exc.value) == (f"{tmp_path / name}.png: 16 bits per channel ({kind}); srseg reads 8-bit images "
                                      f"only (the pipeline is 8-bit throughout) and would drop the low 8 bits: "
                                      f"convert it to 8 bits per channel first")
    with pytest.raises(ImageError, match=r"^zip:a\.png: 16 bits per channel \(48-bit RGB\)"):
        read_image(io.BytesIO(_png_16_bit(rgb)), name="zip:a.png")
    write_png(tmp_path / "rgb8.png", (rgb // 257).astype(np.uint8))
    np.testing.assert_array_equal(read_image(tmp_path / "rgb8.png"), rgb // 257)
