"""Safe extraction of downloaded zip and tar archives.

:func:`extract_archive` refuses, before writing anything:

- entries outside the target folder (absolute paths, ``..``, drive letters) and links or other
  non-regular entries;
- decompression bombs, judged on the sizes the archive declares (zip: each entry's ``file_size``
  and ``compress_size`` in the central directory; tar: each header's ``size``) against the caps
  ``max_ratio`` and ``max_total_bytes`` (keyword arguments; defaults :data:`MAX_RATIO`,
  :data:`MAX_TOTAL_BYTES`):

  - an entry larger than :data:`RATIO_FREE_BYTES` that is packed more than ``max_ratio`` times;
  - entries that together unpack to more than ``max_ratio`` times the archive file's size (many
    small entries, and compressed tars, whose entries have no size of their own);
  - entries that together unpack to more than ``max_total_bytes``;
- zip entries compressed with anything but *stored* or *deflate* (bzip2 and LZMA decompress
  unbounded chunks in memory before :mod:`zipfile` checks the size).

A header can lie. While writing, the bytes of each entry are counted and extraction stops when an
entry grows past its declared size, which by the checks above keeps the total within the caps.
(:mod:`zipfile` and :mod:`tarfile` themselves stop at the declared size and then report a CRC error
or a short read; the count does not rely on that.)

On any refusal or error the files and folders this call created are removed again. Callers
still extract into an :func:`srseg.io.atomic_dir` folder, so that a killed process leaves
nothing half-written either.

:class:`ZipReader` reads members of a zip in place (Cityscapes' 11 GB zips are not extracted) through
the same checks, member by member: the compression method, the declared sizes against the caps before
anything is decompressed, and a read in :data:`CHUNK` pieces that stops when a member grows past its
declared size, which may be at most :data:`MAX_MEMBER_BYTES` (``max_member_bytes``). So a bomb member
is refused without being inflated, and no read holds more than that in memory.
"""

from __future__ import annotations

import io
import shutil
import tarfile
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path, PurePosixPath
from types import TracebackType
from typing import IO, TypeVar

from srseg.errors import DownloadError

# The largest archives the pipeline knows unpack to about 11 GB (Cityscapes leftImg8bit_trainvaltest.zip)
# and 3.5 GB (DIV2K_train_HR.zip); the cap leaves room for bigger real data but not for a bomb.
MAX_TOTAL_BYTES = 64 * 2**30
# PNG and JPEG images pack about 1-2x, text and source code up to ~10x; deflate's own limit is ~1032x.
MAX_RATIO = 200
# Entries up to this size are not ratio-checked one by one (a small, repetitive text file packs far
# better than 200x); together they still count towards the archive's overall ratio.
RATIO_FREE_BYTES = 1 << 20
CHUNK = 1 << 20
# A member read into memory in place (:class:`ZipReader`) may not declare more than this: a Cityscapes PNG is
# 1-3 MB, so the cap is far above any image the pipeline reads and far below a machine's memory.
MAX_MEMBER_BYTES = 256 * 2**20
_ZIP_METHODS = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED)


def _safe_member(archive: Path, dest: Path, name: str) -> Path:
    """Resolve an archive member under ``dest``; refuse absolute paths and '..' traversal."""
    pure = PurePosixPath(name.replace("\\", "/"))
    refused = f"{archive}: refusing archive entry outside the target folder: {name!r}"
    if pure.is_absolute() or ".." in pure.parts or (pure.parts and ":" in pure.parts[0]):
        raise DownloadError(refused)
    target = (dest / pure).resolve()
    if not target.is_relative_to(dest.resolve()):
        raise DownloadError(refused)
    return target


def archive_names(archive: str | Path) -> list[str]:
    """The entry names of a zip or tar archive (one-line DownloadError when it is neither or corrupt)."""
    archive = Path(archive)
    try:
        if zipfile.is_zipfile(archive):
            with zipfile.ZipFile(archive) as zf:
                return zf.namelist()
        if tarfile.is_tarfile(archive):
            with tarfile.open(archive) as tf:
                return tf.getnames()
    except (zipfile.BadZipFile, tarfile.TarError, EOFError, OSError) as exc:
        raise DownloadError(f"{archive}: corrupt archive ({exc})") from None
    raise DownloadError(f"{archive}: not a zip or tar archive")


class _Budget:
    """Running checks of the declared sizes against the caps (see the module docstring)."""

    def __init__(self, archive: Path, max_total_bytes: int, max_ratio: float, verb: str = "extract") -> None:
        self.archive, self.max_total, self.max_ratio, self.verb = archive, max_total_bytes, max_ratio, verb
        self.packed_limit = max(RATIO_FREE_BYTES, max_ratio * archive.stat().st_size)
        self.unpacked = 0  # the entries decompressed so far (tar: all scanned; zip: those kept)
        self.kept = 0  # the entries to be written

    def entry(self, name: str, size: int, compressed: int | None, keep: bool) -> None:
        """Count one regular entry of ``size`` bytes (``compressed``: its own packed size, zip only)."""
        where = f"{self.archive}: refusing to {self.verb}"
        if compressed is not None and keep and size > RATIO_FREE_BYTES and size > self.max_ratio * compressed:
            raise DownloadError(
                f"{where} {name!r}: {size:,} bytes packed into {compressed:,} "
                f"(over {self.max_ratio:g}x; a decompression bomb?)"
            )
        self.unpacked += size
        if keep:
            self.kept += size
        if self.kept > self.max_total:
            raise DownloadError(
                f"{where}: the entries up to {name!r} unpack to {self.kept:,} bytes, "
                f"over the limit of {self.max_total:,} bytes"
            )
        if self.unpacked > self.packed_limit:
            raise DownloadError(
                f"{where}: the entries up to {name!r} unpack to {self.unpacked:,} bytes, over {self.max_ratio:g}x "
                f"the archive's {self.archive.stat().st_size:,} bytes (a decompression bomb?)"
            )


def _copy_entry(src: IO[bytes], dst: IO[bytes], declared: int, what: str) -> int:
    """Copy ``src`` to ``dst``, refusing (DownloadError naming ``what``) more than ``declared`` bytes."""
    written = 0
    while chunk := src.read(min(CHUNK, declared - written + 1)):  # one byte past the declared size shows a lie
        written += len(chunk)
        if written > declared:
            raise DownloadError(f"{what} unpacks to more than its declared {declared:,} bytes (corrupt or malicious)")
        dst.write(chunk)
    return written


def extract_archive(
    archive: str | Path,
    dest: str | Path,
    members: list[str] | None = None,
    *,
    max_total_bytes: int = MAX_TOTAL_BYTES,
    max_ratio: float = MAX_RATIO,
) -> list[Path]:
    """Extract a zip or tar archive into ``dest`` (best a fresh temporary folder) and return the files.

    ``members`` restricts extraction to entries whose name starts with one of the prefixes. Unsafe
    entries and archives over the caps are refused before anything is written (see the module
    docstring); on any failure what this call created is removed again.
    """
    archive, dest = Path(archive), Path(dest)
    keep = (lambda n: True) if members is None else (lambda n: any(n.startswith(p) for p in members))
    created: list[Path] = []  # folders and files this call made, in order
    try:
        if zipfile.is_zipfile(archive):
            with zipfile.ZipFile(archive) as zf:
                zip_todo = _plan_zip(zf, archive, dest, keep, _Budget(archive, max_total_bytes, max_ratio))
                return _write(archive, dest, zip_todo, lambda info: zf.open(info), created)
        if tarfile.is_tarfile(archive):
            with tarfile.open(archive) as tf:
                tar_todo = _plan_tar(tf, archive, dest, keep, _Budget(archive, max_total_bytes, max_ratio))
                return _write(archive, dest, tar_todo, lambda member: _open_tar_member(tf, member, archive), created)
        raise DownloadError(f"{archive}: not a zip or tar archive")
    except (zipfile.BadZipFile, tarfile.TarError, EOFError, zlib.error) as exc:
        _remove(created)
        raise DownloadError(f"{archive}: corrupt archive ({exc})") from None
    except BaseException:
        _remove(created)
        raise


def _check_zip_method(archive: Path, info: zipfile.ZipInfo, verb: str = "extract") -> None:
    """Refuse a zip entry compressed with anything but stored or deflate (see the module docstring)."""
    if info.compress_type not in _ZIP_METHODS:
        raise DownloadError(
            f"{archive}: refusing to {verb} {info.filename!r}: compression method {info.compress_type} "
            f"(only stored and deflate entries are {'read' if verb == 'read' else 'extracted'})"
        )


class ZipReader:
    """A zip archive whose members are read in place, into memory, each through the checks of
    :func:`extract_archive` (the module docstring): ``max_total_bytes`` and ``max_ratio`` apply to the
    members read so far, as to the entries extracted, and no member may declare more than
    ``max_member_bytes``. Refusals and corrupt members are one-line
    :class:`DownloadError` naming the archive and the member. Use it as a context manager.
    """

    def __init__(self, archive: str | Path, *, max_total_bytes: int = MAX_TOTAL_BYTES,
                 max_ratio: float = MAX_RATIO, max_member_bytes: int = MAX_MEMBER_BYTES) -> None:
        self.archive, self.max_member = Path(archive), max_member_bytes
        try:
            self._zf = zipfile.ZipFile(self.archive)
        except (zipfile.BadZipFile, OSError, EOFError) as exc:
            raise DownloadError(f"{self.archive}: corrupt zip ({exc})") from None
        self._budget = _Budget(self.archive, max_total_bytes, max_ratio, verb="read")

    def __enter__(self) -> ZipReader:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        self._zf.close()

    def namelist(self) -> list[str]:
        return self._zf.namelist()

    def read(self, name: str) -> bytes:
        """The bytes of member ``name``, after the checks; decompressed in :data:`CHUNK` pieces, at most its
        declared size."""
        what = f"{self.archive}: entry {name!r}"
        try:
            info = self._zf.getinfo(name)
        except KeyError:
            raise DownloadError(f"{what}: no such entry") from None
        _check_zip_method(self.archive, info, "read")
        self._budget.entry(name, info.file_size, info.compress_size, True)
        if info.file_size > self.max_member:
            raise DownloadError(f"{self.archive}: refusing to read {name!r}: it unpacks to {info.file_size:,} bytes, "
                                f"over the limit of {self.max_member:,} bytes for a member read into memory")
        buf = io.BytesIO()
        try:
            with self._zf.open(info) as src:
                _copy_entry(src, buf, info.file_size, what)
        except (zipfile.BadZipFile, OSError, EOFError, zlib.error) as exc:  # a bad CRC is a BadZipFile
            raise DownloadError(f"{what}: cannot read from the zip ({exc})") from None
        return buf.getvalue()


def _plan_zip(zf: zipfile.ZipFile, archive: Path, dest: Path, keep: Callable[[str], bool], budget: _Budget
              ) -> list[tuple[str, int, Path, zipfile.ZipInfo]]:
    """(name, declared size, target, entry) of each zip entry to write, after all checks."""
    todo = []
    for info in zf.infolist():
        target = _safe_member(archive, dest, info.filename)
        if info.is_dir():
            continue
        if (info.external_attr >> 16) & 0o170000 == 0o120000:
            raise DownloadError(f"{archive}: refusing symbolic link in archive: {info.filename!r}")
        wanted = keep(info.filename)
        if wanted:  # entries left out are never decompressed
            _check_zip_method(archive, info)
            budget.entry(info.filename, info.file_size, info.compress_size, True)
            todo.append((info.filename, info.file_size, target, info))
    return todo


def _plan_tar(tf: tarfile.TarFile, archive: Path, dest: Path, keep: Callable[[str], bool], budget: _Budget
              ) -> list[tuple[str, int, Path, tarfile.TarInfo]]:
    """(name, declared size, target, member) of each tar member to write, after all checks.

    Iterates lazily so that a compressed bomb is refused after decompressing at most about
    ``max_ratio`` times the archive's size.
    """
    todo = []
    for m in tf:
        target = _safe_member(archive, dest, m.name)
        if m.isdir():
            continue
        wanted = keep(m.name)
        if wanted and not m.isfile():
            raise DownloadError(f"{archive}: refusing non-regular archive entry: {m.name!r}")
        budget.entry(m.name, m.size if m.isfile() else 0, None, wanted)
        if wanted:
            todo.append((m.name, m.size, target, m))
    return todo


def _open_tar_member(tf: tarfile.TarFile, member: tarfile.TarInfo, archive: Path) -> IO[bytes]:
    """The content of a planned (regular-file) tar member; ``extractfile`` gives None only for other kinds."""
    src = tf.extractfile(member)
    if src is None:
        raise DownloadError(f"{archive}: refusing non-regular archive entry: {member.name!r}")
    return src


_Entry = TypeVar("_Entry")  # an archive's own entry type (zipfile.ZipInfo, tarfile.TarInfo)


def _write(archive: Path, dest: Path, todo: list[tuple[str, int, Path, _Entry]],
           open_entry: Callable[[_Entry], IO[bytes]], created: list[Path]) -> list[Path]:
    _mkdirs(dest, created)
    out = []
    for name, size, target, entry in todo:
        _mkdirs(target.parent, created)
        if not target.exists():
            created.append(target)
        with open_entry(entry) as src, open(target, "wb") as dst:
            _copy_entry(src, dst, size, f"{archive}: entry {name!r}")
        out.append(target)
    return out


def _mkdirs(folder: Path, created: list[Path]) -> None:
    """``mkdir -p folder``, recording each folder it makes."""
    missing = [p for p in (folder, *folder.parents) if not p.exists()]
    for p in reversed(missing):
        p.mkdir()
        created.append(p)


def _remove(created: list[Path]) -> None:
    """Undo :func:`_write`: files first, then the (now empty) folders, deepest first."""
    for p in reversed(created):
        if p.is_dir() and not p.is_symlink():
            shutil.rmtree(p, ignore_errors=True)
        else:
            p.unlink(missing_ok=True)
