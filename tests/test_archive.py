"""srseg.archive.extract_archive: path traversal, links, and decompression bombs (refused before writing); ZipReader:
the same caps for members read in place."""

from __future__ import annotations

import io
import random
import stat
import struct
import tarfile
import tracemalloc
import zipfile
from pathlib import Path

import pytest

from srseg.archive import MAX_RATIO, MAX_TOTAL_BYTES, RATIO_FREE_BYTES, ZipReader, _copy_entry, extract_archive
from srseg.errors import DownloadError

ZEROS = bytes(8 << 20)  # 8 MiB that deflate ~1000x


def _one_line(exc: pytest.ExceptionInfo[BaseException]) -> str:
    msg = str(exc.value)
    assert "\n" not in msg and msg
    return msg


def _files(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*")) if root.exists() else []


# --- what the archive holds: traversal, links, corruption ------------------------------------


def _zip(path: Path, entries: list[tuple[str, bytes]], symlink: str | None = None) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in entries:
            zf.writestr(name, data)
        if symlink:
            info = zipfile.ZipInfo(symlink)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            zf.writestr(info, "/etc/passwd")
    return path


def test_extract_zip_with_member_filter(tmp_path: Path) -> None:
    arc = _zip(tmp_path / "a.zip", [("top/CamVid/a.txt", b"a"), ("top/other/b.txt", b"b")])
    out = extract_archive(arc, tmp_path / "out", members=["top/CamVid/"])
    assert out == [tmp_path / "out" / "top/CamVid/a.txt"]
    assert not (tmp_path / "out" / "top/other").exists()


@pytest.mark.parametrize("name", ["../evil.txt", "ok/../../evil.txt", "/abs/evil.txt", "C:/evil.txt"])
def test_extract_refuses_traversal(tmp_path: Path, name: str) -> None:
    arc = _zip(tmp_path / "a.zip", [("fine.txt", b"ok"), (name, b"pwn")])
    dest = tmp_path / "deep" / "out"
    with pytest.raises(DownloadError, match="outside the target folder"):
        extract_archive(arc, dest)
    assert not (tmp_path / "deep" / "evil.txt").exists() and not (tmp_path / "evil.txt").exists()


def test_extract_refuses_zip_symlink(tmp_path: Path) -> None:
    arc = _zip(tmp_path / "a.zip", [("x.txt", b"x")], symlink="link")
    with pytest.raises(DownloadError, match="symbolic link"):
        extract_archive(arc, tmp_path / "out")
    assert not (tmp_path / "out" / "link").exists()


def test_extract_refuses_tar_symlink_and_traversal(tmp_path: Path) -> None:
    def tar(name: str, member: tarfile.TarInfo, data: bytes = b"") -> Path:
        path = tmp_path / name
        with tarfile.open(path, "w") as tf:
            tf.addfile(member, io.BytesIO(data) if data else None)
        return path

    link = tarfile.TarInfo("link")
    link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
    with pytest.raises(DownloadError, match="non-regular"):
        extract_archive(tar("l.tar", link), tmp_path / "o1")
    evil = tarfile.TarInfo("../evil.txt")
    evil.size = 3
    with pytest.raises(DownloadError, match="outside"):
        extract_archive(tar("e.tar", evil, b"pwn"), tmp_path / "o2")
    assert not (tmp_path / "evil.txt").exists()


def test_extract_corrupt_archive_is_named(tmp_path: Path) -> None:
    bad = tmp_path / "bad.zip"
    bad.write_bytes(b"not an archive at all")
    with pytest.raises(DownloadError, match="bad.zip"):
        extract_archive(bad, tmp_path / "out")


def test_unsafe_entry_is_refused_before_writing(tmp_path: Path) -> None:
    arc = _zip(tmp_path / "a.zip", [("fine.txt", b"ok"), ("../evil.txt", b"pwn")])
    with pytest.raises(DownloadError) as exc:
        extract_archive(arc, tmp_path / "out")
    assert str(arc) in _one_line(exc) and "../evil.txt" in str(exc.value)
    assert _files(tmp_path / "out") == []


# --- decompression bombs ----------------------------------------------------------------------


def _deflated(path: Path, entries: list[tuple[str, bytes]], method: int = zipfile.ZIP_DEFLATED) -> Path:
    with zipfile.ZipFile(path, "w", method) as zf:
        for name, data in entries:
            zf.writestr(name, data)
    return path


def _declare(path: Path, sizes: dict[str, tuple[int, int]]) -> Path:
    """Rewrite the (file_size, compress_size) that the zip's headers declare for some entries."""
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as zf:
        local = {i.filename: i.header_offset for i in zf.infolist()}
    eocd = data.rindex(b"PK\x05\x06")
    pos = struct.unpack_from("<I", data, eocd + 16)[0]  # start of the central directory
    while data[pos:pos + 4] == b"PK\x01\x02":
        n, extra, comment = struct.unpack_from("<HHH", data, pos + 28)
        name = data[pos + 46:pos + 46 + n].decode()
        if name in sizes:
            usize, csize = sizes[name]
            struct.pack_into("<II", data, pos + 20, csize, usize)
            struct.pack_into("<II", data, local[name] + 18, csize, usize)
        pos += 46 + n + extra + comment
    path.write_bytes(bytes(data))
    return path


def test_highly_packed_entry_is_refused_before_writing(tmp_path: Path) -> None:
    arc = _deflated(tmp_path / "camvid.zip", [("top/a.txt", b"first"), ("top/big.bin", ZEROS)])
    assert arc.stat().st_size < 100_000
    dest = tmp_path / "out"
    with pytest.raises(DownloadError) as exc:
        extract_archive(arc, dest)
    msg = _one_line(exc)
    assert str(arc) in msg and "'top/big.bin'" in msg and "decompression bomb" in msg
    assert not dest.exists()


def test_many_small_packed_entries_are_refused(tmp_path: Path) -> None:
    # each entry is within the size that escapes the per-entry ratio check, together they are a bomb
    entries = [(f"many/{i}.bin", bytes(RATIO_FREE_BYTES)) for i in range(4)]
    arc = _deflated(tmp_path / "many.zip", entries)
    with pytest.raises(DownloadError) as exc:
        extract_archive(arc, tmp_path / "out")
    msg = _one_line(exc)
    assert str(arc) in msg and f"over {MAX_RATIO}x the archive's" in msg and "'many/" in msg
    assert _files(tmp_path / "out") == []


def test_total_cap_counts_the_kept_entries(tmp_path: Path) -> None:
    noise = [random.Random(i).randbytes(1_000_000) for i in range(3)]  # incompressible: only the total cap applies
    arc = _deflated(tmp_path / "a.zip", [("keep/a", noise[0]), ("keep/b", noise[1]), ("other/c", noise[2])])
    out = extract_archive(arc, tmp_path / "o1", members=["keep/"], max_total_bytes=2_500_000)
    assert [p.read_bytes() for p in out] == noise[:2]
    with pytest.raises(DownloadError) as exc:
        extract_archive(arc, tmp_path / "o2", max_total_bytes=2_500_000)
    msg = _one_line(exc)
    assert str(arc) in msg and "'other/c'" in msg and "3,000,000 bytes" in msg and "2,500,000" in msg
    assert not (tmp_path / "o2").exists()


def test_declared_sizes_are_checked_against_the_default_caps(tmp_path: Path) -> None:
    # stored entries whose headers declare ~4 GB each (ratio 1): nothing is read or written
    n = MAX_TOTAL_BYTES // 4_000_000_000 + 1
    arc = _deflated(tmp_path / "huge.zip", [(f"d/{i}", b"0123456789") for i in range(n)], zipfile.ZIP_STORED)
    _declare(arc, {f"d/{i}": (4_000_000_000, 4_000_000_000) for i in range(n)})
    with zipfile.ZipFile(arc) as zf:
        assert sum(i.file_size for i in zf.infolist()) > MAX_TOTAL_BYTES
    dest = tmp_path / "out"
    with pytest.raises(DownloadError) as exc:  # defaults: far more than 200x the archive's size
        extract_archive(arc, dest)
    assert "'d/0'" in _one_line(exc) and "decompression bomb" in str(exc.value)
    with pytest.raises(DownloadError) as exc:  # and over the total cap even where the ratio is let go
        extract_archive(arc, dest, max_ratio=1e15)
    assert f"'d/{n - 1}'" in _one_line(exc) and f"limit of {MAX_TOTAL_BYTES:,} bytes" in str(exc.value)
    assert not dest.exists()


@pytest.mark.parametrize("existing", [False, True])
def test_lying_header_stops_extraction_and_leaves_nothing(tmp_path: Path, existing: bool) -> None:
    arc = _deflated(tmp_path / "lie.zip", [("a.txt", b"first"), ("sub/big.bin", bytes(4 << 20))])
    with zipfile.ZipFile(arc) as zf:
        packed = zf.getinfo("sub/big.bin").compress_size
    _declare(arc, {"sub/big.bin": (1000, packed)})  # the header understates the 4 MiB it holds
    dest = tmp_path / "out"
    if existing:
        dest.mkdir()
        (dest / "keep.txt").write_text("mine")
    with pytest.raises(DownloadError) as exc:
        extract_archive(arc, dest)
    msg = _one_line(exc)
    assert str(arc) in msg and "sub/big.bin" in msg
    assert _files(dest) == (["keep.txt"] if existing else [])
    assert dest.exists() == existing


def test_entry_bytes_are_counted_against_the_declared_size() -> None:
    out = io.BytesIO()
    assert _copy_entry(io.BytesIO(b"x" * 1000), out, 1000, "a.zip: entry 'e'") == 1000
    out = io.BytesIO()
    with pytest.raises(DownloadError, match=r"^a.zip: entry 'e' unpacks to more than its declared 999 bytes"):
        _copy_entry(io.BytesIO(b"x" * 1000), out, 999, "a.zip: entry 'e'")
    assert out.getvalue() == b""


def test_bzip2_entries_are_refused(tmp_path: Path) -> None:
    arc = _deflated(tmp_path / "b.zip", [("x.txt", b"data" * 10)], zipfile.ZIP_BZIP2)
    with pytest.raises(DownloadError, match="compression method 12"):
        extract_archive(arc, tmp_path / "out")
    assert extract_archive(arc, tmp_path / "out", members=["other/"]) == []  # left out: never decompressed


# --- members read in place (ZipReader): the same caps, nothing inflated in memory ----------------


def _peak_bytes(fn) -> tuple[int, BaseException | None]:
    """(peak bytes Python allocated while ``fn()`` ran, the exception it raised)."""
    tracemalloc.start()
    try:
        fn()
        raised = None
    except BaseException as exc:  # noqa: BLE001 (returned to the test)
        raised = exc
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return peak, raised


def test_zip_reader_refuses_a_bomb_member_without_inflating_it(tmp_path: Path) -> None:
    arc = _deflated(tmp_path / "cs.zip", [("top/a.png", b"first"), ("top/big.png", ZEROS)])
    with ZipReader(arc) as zr:
        assert zr.namelist() == ["top/a.png", "top/big.png"]
        assert zr.read("top/a.png") == b"first"
        peak, exc = _peak_bytes(lambda: zr.read("top/big.png"))
    assert isinstance(exc, DownloadError)
    msg = str(exc)
    assert "\n" not in msg and str(arc) in msg and "'top/big.png'" in msg and "decompression bomb" in msg, msg
    assert msg.startswith(f"{arc}: refusing to read 'top/big.png': 8,388,608 bytes packed into")
    assert peak < len(ZEROS) // 8, peak  # refused on the declared sizes: nothing was decompressed


def test_zip_reader_refuses_a_declared_huge_member(tmp_path: Path) -> None:
    # a member of zeros whose headers declare 2 GiB (the 2 MB member inflating to 2 GiB, in small)
    arc = _deflated(tmp_path / "cs.zip", [("gt/x_labelIds.png", bytes(100_000))])
    with zipfile.ZipFile(arc) as zf:
        packed = zf.getinfo("gt/x_labelIds.png").compress_size
    _declare(arc, {"gt/x_labelIds.png": (2 << 30, packed)})
    with ZipReader(arc) as zr:
        peak, exc = _peak_bytes(lambda: zr.read("gt/x_labelIds.png"))
    assert isinstance(exc, DownloadError) and "2,147,483,648 bytes packed into" in str(exc), exc
    assert peak < 1 << 20, peak
    # with the ratio let go, the cap on a member read into memory still refuses it before reading
    with ZipReader(arc, max_ratio=1e15) as zr, pytest.raises(DownloadError) as info:
        zr.read("gt/x_labelIds.png")
    assert _one_line(info) == (f"{arc}: refusing to read 'gt/x_labelIds.png': it unpacks to 2,147,483,648 bytes, "
                               f"over the limit of 268,435,456 bytes for a member read into memory")


def test_zip_reader_lying_header_stops_at_the_declared_size(tmp_path: Path) -> None:
    arc = _deflated(tmp_path / "lie.zip", [("sub/big.bin", bytes(4 << 20))])
    with zipfile.ZipFile(arc) as zf:
        packed = zf.getinfo("sub/big.bin").compress_size
    _declare(arc, {"sub/big.bin": (1000, packed)})  # the header understates the 4 MiB it holds
    with ZipReader(arc) as zr:
        peak, exc = _peak_bytes(lambda: zr.read("sub/big.bin"))
    assert isinstance(exc, DownloadError), exc
    assert str(exc).startswith(f"{arc}: entry 'sub/big.bin': cannot read from the zip (Bad CRC-32"), exc
    assert peak < 1 << 20, peak  # read in chunks up to the declared 1000 bytes, never the 4 MiB


def test_zip_reader_counts_the_members_read_against_the_caps(tmp_path: Path) -> None:
    # each member escapes the per-member ratio check; read one after another they are a bomb
    arc = _deflated(tmp_path / "many.zip", [(f"m/{i}.bin", bytes(RATIO_FREE_BYTES)) for i in range(4)])
    with ZipReader(arc) as zr, pytest.raises(DownloadError) as exc:
        for i in range(4):
            assert zr.read(f"m/{i}.bin") == bytes(RATIO_FREE_BYTES)
    msg = _one_line(exc)
    assert str(arc) in msg and f"over {MAX_RATIO}x the archive's" in msg and "refusing to read" in msg
    noise = random.Random(0).randbytes(1_000_000)
    arc = _deflated(tmp_path / "n.zip", [("a", noise), ("b", noise)])
    with ZipReader(arc, max_total_bytes=1_500_000) as zr, pytest.raises(DownloadError, match="'b' unpack to "):
        assert zr.read("a") == noise
        zr.read("b")


def test_zip_reader_refuses_bzip2_missing_and_corrupt(tmp_path: Path) -> None:
    arc = _deflated(tmp_path / "b.zip", [("x.txt", b"data" * 10)], zipfile.ZIP_BZIP2)
    with ZipReader(arc) as zr:
        with pytest.raises(DownloadError, match=r"refusing to read 'x.txt': compression method 12 \(only stored"):
            zr.read("x.txt")
        with pytest.raises(DownloadError, match=r"entry 'y.txt': no such entry"):
            zr.read("y.txt")
    (tmp_path / "bad.zip").write_bytes(b"PK not a zip")
    with pytest.raises(DownloadError, match="bad.zip: corrupt zip"):
        ZipReader(tmp_path / "bad.zip")


def _tar(path: Path, entries: list[tuple[str, bytes]], mode: str = "w") -> Path:
    with tarfile.open(path, mode) as tf:
        for name, data in entries:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return path


def test_compressed_tar_bomb_is_refused(tmp_path: Path) -> None:
    arc = _tar(tmp_path / "a.tar.gz", [("top/a.txt", b"first"), ("top/big.bin", ZEROS)], "w:gz")
    with pytest.raises(DownloadError) as exc:
        extract_archive(arc, tmp_path / "out")
    msg = _one_line(exc)
    assert str(arc) in msg and "'top/big.bin'" in msg and "decompression bomb" in msg
    assert not (tmp_path / "out").exists()


def test_tar_total_cap(tmp_path: Path) -> None:
    noise = [random.Random(i).randbytes(1_000_000) for i in range(3)]
    arc = _tar(tmp_path / "a.tar", [(f"t/{i}", d) for i, d in enumerate(noise)])
    with pytest.raises(DownloadError, match=r"'t/2' unpack to 3,000,000 bytes, over the limit of 2,500,000"):
        extract_archive(arc, tmp_path / "out", max_total_bytes=2_500_000)
    assert not (tmp_path / "out").exists()
    assert [p.read_bytes() for p in extract_archive(arc, tmp_path / "ok")] == noise
