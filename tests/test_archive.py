"""srseg.archive.extract_archive: path traversal, links, and decompression bombs (refused before writing)."""

from __future__ import annotations

import io
import random
import stat
import struct
import tarfile
import zipfile
from pathlib import Path

import pytest

from srseg.archive import MAX_RATIO, MAX_TOTAL_BYTES, RATIO_FREE_BYTES, _copy_entry, extract_archive
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
