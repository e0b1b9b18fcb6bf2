"""File helpers: atomic outputs, image reading with clear errors, saved models and their training record
(archives: :mod:`srseg.archive`)."""

from __future__ import annotations

import contextlib
import errno
import hashlib
import io
import json
import logging
import os
import re
import shutil
import tempfile
import warnings
import zipfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
from PIL import Image, ImageFile

from srseg.errors import ImageError, SrsegError, first_line
from srseg.params import Params

log = logging.getLogger(__name__)

IMAGE_EXTENSIONS = {".png", ".bmp", ".jpg", ".jpeg", ".tif", ".tiff"}


def make_parent(path: str | Path) -> None:
    """Create the folders above ``path``; a file in their place is a ``NotADirectoryError`` naming that file and
    ``path`` (``mkdir`` alone says "File exists" or "Not a directory" of a folder it could not make)."""
    parent = Path(path).parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        blocker = next((p for p in (parent, *parent.parents) if p.exists() and not p.is_dir()), None)
        if blocker is None:
            raise
        raise NotADirectoryError(errno.ENOTDIR, f"is a file, not a folder (needed for {path})", str(blocker)) from None


def same_file(a: str | Path, b: str | Path) -> bool:
    """Whether ``b`` exists and is the file ``a`` (through links too)."""
    try:
        return Path(b).exists() and Path(a).samefile(b)
    except OSError:
        return False


def refuse_overwriting(input: str | Path, outputs: Sequence[str | Path], overwrite: bool, instead: str) -> None:
    """SrsegError naming the first of ``outputs`` that is the ``input`` file itself, unless ``overwrite``
    (``--overwrite``); ``instead`` says what to give instead (e.g. "another output file")."""
    for output in outputs:
        if not overwrite and same_file(input, output):
            raise SrsegError(f"{output}: is the input image; give {instead} (or --overwrite to replace it)")


@contextlib.contextmanager
def atomic_dir(final: str | Path) -> Iterator[Path]:
    """Yield a temporary sibling of ``final``; on success it replaces ``final`` in one rename.

    A killed or failing stage leaves ``final`` as it was (or absent) and no half-written output. The temporary
    is named ``.NAME.tmp-PID-*``: the repository's ``.dvcignore`` keeps DVC from hashing one that a killed
    process left in a tracked folder, and the next write of ``final`` deletes it (:func:`remove_stale_temps`).
    """
    final = Path(final)
    make_parent(final)
    remove_stale_temps(final)
    tmp = Path(tempfile.mkdtemp(prefix=_temp_prefix(final), dir=final.parent))
    tmp.chmod(0o777 & ~_umask())  # mkdtemp makes 0700; outputs get the usual permissions
    try:
        yield tmp
        if final.exists():
            old = final.with_name(f".{final.name}.old-{os.getpid()}")
            final.rename(old)
            tmp.rename(final)
            shutil.rmtree(old)
        else:
            tmp.rename(final)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def _temp_prefix(final: Path) -> str:
    """The name prefix of this process's temporaries for ``final`` (``.dvcignore`` matches ``.*.tmp-*``)."""
    return f".{final.name}.tmp-{os.getpid()}-"


def remove_stale_temps(final: str | Path) -> list[Path]:
    """Delete the leftovers of earlier writes of ``final`` whose process no longer runs; return them.

    Leftovers are the siblings ``.NAME.tmp-PID-*`` (:func:`atomic_dir`, :func:`atomic_file`, :func:`save_keras`)
    and ``.NAME.old-PID`` (an :func:`atomic_dir` killed between its two renames). Those of a running process
    (another writer, or this one) are kept; those without a PID (older srseg) count as stale.
    """
    final = Path(final)
    removed: list[Path] = []
    try:
        siblings = list(final.parent.iterdir())
    except FileNotFoundError:
        return removed
    for kind in ("tmp", "old"):
        head = f".{final.name}.{kind}-"
        for path in siblings:
            if not path.name.startswith(head):
                continue
            pid = path.name[len(head):].split("-", 1)[0]
            if pid.isdigit() and _running(int(pid)):
                continue
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
            removed.append(path)
    return removed


def _running(pid: int) -> bool:
    """Whether process ``pid`` exists on this machine (0 never does: ``kill(0)`` means the process group)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_file(final: str | Path, mode: str = "w") -> Iterator[Any]:
    """Open a temporary sibling of ``final`` for writing; rename onto ``final`` when closed cleanly.

    The temporary is named and cleaned up as :func:`atomic_dir`'s.
    """
    final = Path(final)
    make_parent(final)
    remove_stale_temps(final)
    fd, tmp = tempfile.mkstemp(prefix=_temp_prefix(final), dir=final.parent)
    os.chmod(tmp, 0o666 & ~_umask())
    try:
        with os.fdopen(fd, mode, encoding=None if "b" in mode else "utf-8") as fh:
            yield fh
        os.replace(tmp, final)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


# Fixed zip entry time for saved models, so the same weights give the same bytes (and the same dvc.lock md5).
_ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)


#: The key of Keras' ``metadata.json`` that holds srseg's training record of a saved model. (A zip entry of its own
#: would be a fourth member, and Keras 3 then extracts the whole archive, weights included, to a temporary folder
#: on every load to look for assets.)
RECORD_KEY = "srseg"


def save_keras(model: Any, path: str | Path, record: Mapping[str, Any] | None = None) -> None:
    """Save a Keras model as ``.keras`` atomically and byte-reproducibly, with an optional training ``record``.

    Keras stamps the save time into the zip entries and ``metadata.json``, and numbers shared objects in
    ``config.json`` by their memory address; the archive is rewritten with a fixed entry time, without
    ``date_saved`` (Keras does not read it back) and with ``shared_object_id`` renumbered in order of
    appearance (only equality between ids matters to the loader), entries in Keras' order.

    ``record`` (JSON values: what the model is for, see :func:`model_metadata`) goes into ``metadata.json``
    under :data:`RECORD_KEY`, with sorted keys; the weights and config entries are the same with or without it.
    """
    path = Path(path)
    make_parent(path)
    record_json = None if record is None else json.loads(json.dumps(record))  # fails here, not half-way
    # Keras' own file is a temporary of ``path`` too (ignored by DVC, removed by the next save if left behind).
    fd, raw = tempfile.mkstemp(prefix=f"{_temp_prefix(path)}raw-", suffix=".keras", dir=path.parent)
    os.close(fd)
    try:
        model.save(raw)
        with zipfile.ZipFile(raw) as src, atomic_file(path, "wb") as fh, zipfile.ZipFile(fh, "w") as dst:
            for info in src.infolist():
                data = src.read(info)
                if info.filename == "metadata.json":
                    meta = json.loads(data)
                    meta.pop("date_saved", None)
                    if record_json is not None:
                        meta[RECORD_KEY] = record_json
                    data = json.dumps(meta, sort_keys=True).encode()
                elif info.filename == "config.json":
                    data = json.dumps(_renumber_shared_ids(json.loads(data), {})).encode()
                entry = zipfile.ZipInfo(info.filename, date_time=_ZIP_EPOCH)
                entry.compress_type = info.compress_type
                entry.external_attr = 0o644 << 16
                dst.writestr(entry, data)
    finally:
        os.unlink(raw)


def model_metadata(path: str | Path) -> dict[str, Any] | None:
    """The training record that :func:`save_keras` stored in a ``.keras`` file, or None when it has none.

    Files saved before records existed, by plain ``model.save`` or in another format (the DCSCN authors'
    checkpoints) have none. A missing file or an unreadable record is an SrsegError naming the file.
    """
    path = Path(path)
    if not path.exists():
        raise SrsegError(f"{path}: model file not found")
    try:
        with zipfile.ZipFile(path) as zf:
            raw = zf.read("metadata.json")
    except (zipfile.BadZipFile, KeyError, IsADirectoryError):
        return None  # not a .keras archive: the model loader says what is wrong with it
    try:
        record = json.loads(raw).get(RECORD_KEY)
    except (ValueError, AttributeError) as exc:
        raise SrsegError(f"{path}: unreadable metadata.json ({type(exc).__name__}: {exc})") from None
    if record is not None and not isinstance(record, dict):
        raise SrsegError(f"{path}: metadata.json key {RECORD_KEY!r} is not a mapping")
    return record


def params_hash(params: Params, keys: Sequence[str]) -> str:
    """A short fingerprint of the validated params ``keys`` (dotted, as in ``dvc.yaml``) of ``params``.

    The first 12 hex digits of the SHA-256 of the canonical JSON (sorted keys, no spaces, ASCII) of
    ``{key: value}``, values as ``params.model_dump(mode="json")`` gives them (defaults filled in). Two models
    with the same hash were trained with the same values of those keys.
    """
    dumped = params.model_dump(mode="json")
    chosen = {}
    for key in keys:
        node = dumped
        for part in key.split("."):
            node = node[part]
        chosen[key] = node
    text = json.dumps(chosen, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def describe_model(name: str, record: Mapping[str, Any] | None) -> str:
    """One line naming a model and what it was trained on (from its :func:`model_metadata` record)."""
    if not record:
        return f"model {name}: no training record"
    what = record.get("architecture", "model")
    if record.get("scale"):
        what += f" x{record['scale']}"
    if record.get("classes"):
        what += f", {len(record['classes'])} Cityscapes classes"
    details = [f"{k} {record[k]}" for k in ("seed", "params_hash") if record.get(k) is not None]
    details.append(f"srseg {record.get('srseg_version', '?')}")
    return f"model {name}: {what}, trained on {record.get('trained_on', 'unknown data')} ({', '.join(details)})"


def outside_study_warning(record: Mapping[str, Any] | None, model_name: str, input: str | Path,
                          data_root: str | Path) -> str | None:
    """A one-line warning when a model trained on synthetic scenes is applied to a file outside the study.

    "Outside the study" means the input path is not under ``data_root`` (the repository's ``data/`` folder,
    where the pipeline keeps every image it renders, imports or makes): neither as written (made absolute), nor
    with its folders' symbolic links resolved, nor with the file's own (DVC may link ``data/`` files into its
    cache).
    """
    if not record or record.get("data_source") != "synthetic":
        return None
    path = Path(input)
    candidates = (Path(os.path.abspath(path)), path.parent.resolve() / path.name, path.resolve())
    roots = {Path(os.path.abspath(data_root)), Path(data_root).resolve()}
    if any(c.is_relative_to(r) for c in candidates for r in roots):
        return None
    return (f"warning: {model_name} was trained on synthetic street scenes only and {input} is not under the "
            f"study's {data_root}/ folder; on other images (real photographs) its output is not meaningful")


def _renumber_shared_ids(node: Any, ids: dict[Any, int]) -> Any:
    """``node`` with every ``shared_object_id`` replaced by 0, 1, 2, … in order of first appearance."""
    if isinstance(node, dict):
        return {k: ids.setdefault(v, len(ids)) if k == "shared_object_id" else _renumber_shared_ids(v, ids)
                for k, v in node.items()}
    if isinstance(node, list):
        return [_renumber_shared_ids(v, ids) for v in node]
    return node


def replace_between(text: str, begin: str, end: str, body: str, name: str) -> str:
    """``text`` with what lies between the marker lines ``begin`` and ``end`` replaced by ``body`` (generated
    sections of a hand-written file); SrsegError naming ``name`` when the markers are missing or out of order."""
    head, sep, rest = text.partition(begin)
    if not sep or end not in rest:
        raise SrsegError(f"{name}: no markers {begin!r} … {end!r}")
    return f"{head}{begin}\n{body}\n{end}{rest.split(end, 1)[1]}"


def write_json(path: str | Path, obj: Any, *, sort_keys: bool = True) -> None:
    """Write JSON atomically, with sorted keys for stable diffs (``sort_keys=False``: in the object's order)."""
    with atomic_file(path) as fh:
        json.dump(obj, fh, indent=2, sort_keys=sort_keys)
        fh.write("\n")


#: Names of the files whose transparency :func:`read_image` has reported (once per file and process).
_TRANSPARENCY_REPORTED: set[str] = set()


def pixel_limit() -> int:
    """The most pixels srseg reads or writes in one image: Pillow's decompression-bomb limit
    (``PIL.Image.MAX_IMAGE_PIXELS``, 89,478,485 by default; 0 when it is switched off), above which Pillow only
    warns (up to twice the limit) and srseg refuses."""
    return int(Image.MAX_IMAGE_PIXELS or 0)


def check_pixels(pixels: int, name: str, what: str = "image") -> None:
    """ImageError naming ``name`` when ``pixels`` is above :func:`pixel_limit`."""
    limit = pixel_limit()
    if limit and pixels > limit:
        raise ImageError(f"{name}: {what} of {pixels:,} pixels ({pixels / 1e6:.1f} MP), above srseg's limit of "
                         f"{limit:,} (Pillow's decompression-bomb limit); crop or downscale it first")


@contextlib.contextmanager
def _opened(source: str | Path | BinaryIO, name: str, what: str,
            check: Callable[[Image.Image, str], None] | None = None) -> Iterator[Image.Image]:
    """``source`` opened and decoded by Pillow; a missing or unreadable file, or one above :func:`pixel_limit`, is
    one ImageError naming ``name``. ``check(image, name)`` runs before the pixels are decoded."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)  # raised by Image.open, as the error
            opened = Image.open(source)
        with opened as im:
            if check is not None:
                check(im, name)
            im.load()
            yield im
    except ImageError:
        raise
    except FileNotFoundError:
        raise ImageError(f"{name}: {what} not found") from None
    except (Image.DecompressionBombWarning, Image.DecompressionBombError) as exc:
        pixels = re.search(r"\((\d+) pixels\)", str(exc))  # "Image size (N pixels) exceeds limit of …"
        check_pixels(int(pixels.group(1)) if pixels else pixel_limit() + 1, name, what)
        raise ImageError(f"{name}: cannot read {what} ({first_line(exc)})") from None
    except Exception as exc:  # Pillow raises many types for corrupt files
        raise ImageError(f"{name}: cannot read {what} ({type(exc).__name__}: {exc})") from None


#: Pillow's raw modes of 16 bits per channel (PNG: ``RGB;16B``, ``LA;16B``…; TIFF: ``RGB;16L``…), which it
#: reduces to 8 bits when it decodes them as RGB, RGBA or LA (``BGR;16`` is 5-6-5 BMP, 16 bits per pixel).
_SIXTEEN_BIT_RAW = re.compile(r";16[BLNSR]")


def _refuse_16_bit(im: Image.Image, name: str) -> None:
    """ImageError when ``im`` has 16 bits per channel: decoded as 8 bits its precision would be lost silently."""
    tiles = im.tile if isinstance(im, ImageFile.ImageFile) else []
    rawmodes = [t.args if isinstance(t.args, str) else next(iter(t.args or ()), "") for t in tiles]
    grey = im.mode.startswith("I;16")
    if grey or any(isinstance(r, str) and _SIXTEEN_BIT_RAW.search(r) for r in rawmodes):
        bands = 1 if grey else len(im.getbands())
        kind = "grey" if grey else im.mode
        raise ImageError(f"{name}: 16 bits per channel ({16 * bands}-bit {kind}); srseg reads 8-bit images only "
                         f"(the pipeline is 8-bit throughout) and would drop the low 8 bits: convert it to 8 bits "
                         f"per channel first")


def read_image(source: str | Path | BinaryIO, mode: str = "RGB", *, name: str | None = None) -> np.ndarray:
    """Read an 8-bit image as a uint8 array, (H, W, 3) for ``mode`` RGB or (H, W) for L; name the file on failure.

    ``mode="auto"`` keeps grey images single-channel (the SR literature scores them on their grey
    value rather than on the luma of a grey RGB image). ``source`` is a path or an open binary file (a zip
    member), ``name`` what messages call it (default: the path).

    Refused in one line naming the file, before the pixels are decoded: 16 bits per channel (48-bit RGB, 16-bit
    grey: the pipeline is 8-bit throughout, so reading it would drop precision silently), other non-8-bit modes,
    and more pixels than :func:`pixel_limit`.

    Transparency (an alpha channel, or a transparent palette entry or colour) is dropped: the colour channels
    are read as they are. When any pixel is not fully opaque this is logged once per file as a warning naming
    it; a fully opaque alpha loses nothing and is dropped silently.
    """
    name = str(source) if name is None else name
    with _opened(source, name, "image", _refuse_16_bit) as im:
        if im.mode.startswith(("I", "F")):
            raise ImageError(f"{name}: expected an 8-bit image, got mode {im.mode}")
        if mode == "auto":
            mode = "L" if im.mode in ("L", "LA", "La", "1") else "RGB"
        _report_transparency(im, name)
        return np.asarray(im.convert(mode) if im.mode != mode else im, dtype=np.uint8).copy()


def _report_transparency(im: Image.Image, name: str) -> None:
    """Log one warning (per file and process) when ``im`` has pixels that are not fully opaque."""
    if name in _TRANSPARENCY_REPORTED or not im.has_transparency_data:
        return
    alpha = im.getchannel("A") if "A" in im.getbands() else im.convert("RGBA").getchannel("A")
    total = alpha.width * alpha.height
    hidden = total - alpha.histogram()[255]
    if hidden:
        _TRANSPARENCY_REPORTED.add(name)
        log.warning("warning: %s: transparency dropped (%d of %d pixels not opaque); read as %s without it",
                    name, hidden, total, "grey" if im.mode in ("LA", "La") else "RGB")


def read_label(source: str | Path | BinaryIO, *, name: str | None = None) -> np.ndarray:
    """Read a single-channel label image as a uint8 (H, W) array (palette indices kept as they are).

    A 16-bit (or 32-bit) grey image is read exactly when its values are 0..255; otherwise it is an ImageError
    saying so, not a label clipped to 255. ``source`` and ``name`` as in :func:`read_image`.
    """
    name = str(source) if name is None else name
    with _opened(source, name, "label") as im:
        if im.mode in ("L", "P"):
            return np.asarray(im, dtype=np.uint8).copy()
        if im.mode.startswith("I"):  # Pillow opens 16-bit grey PNGs as I;16 (older versions: I)
            arr = np.asarray(im)
            low, high = (int(arr.min()), int(arr.max())) if arr.size else (0, 0)
            if low < 0 or high > 255:
                bits = 16 if im.mode.startswith("I;16") else 32
                raise ImageError(f"{name}: {bits}-bit label image with values {low}..{high}; label images hold "
                                 f"8-bit ids 0..255")
            return arr.astype(np.uint8)
        raise ImageError(f"{name}: expected a single-channel label image, got mode {im.mode}")


def list_images(folder: str | Path) -> list[Path]:
    """Image files directly in ``folder``, sorted."""
    folder = Path(folder)
    if not folder.is_dir():
        raise SrsegError(f"{folder}: no such folder")
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_EXTENSIONS)
    if not files:
        raise SrsegError(f"{folder}: no images ({', '.join(sorted(IMAGE_EXTENSIONS))})")
    return files


def read_instance_ids(source: str | Path | BinaryIO, *, name: str | None = None) -> np.ndarray:
    """Read a 16-bit instance-id PNG (Cityscapes ``*_gtFine_instanceIds.png``) as a uint16 (H, W) array;
    ``source`` and ``name`` as in :func:`read_image`."""
    name = str(source) if name is None else name
    with _opened(source, name, "instance image") as im:
        if im.mode not in ("I;16", "I"):  # Pillow opens 16-bit grey PNGs as I;16 (older versions: I)
            raise ImageError(f"{name}: expected a 16-bit instance-id image, got mode {im.mode}")
        arr = np.asarray(im)
    if arr.size and (int(arr.min()) < 0 or int(arr.max()) > 0xFFFF):
        raise ImageError(f"{name}: instance ids outside 0..65535")
    return arr.astype(np.uint16)


def png_bytes(arr: np.ndarray) -> bytes:
    """A uint8 (H, W) or (H, W, 3) array, or a uint16 (H, W) one (16-bit grey, for instance ids), encoded as
    PNG (fast compression: these are pipeline files)."""
    buf = io.BytesIO()
    arr = np.asarray(arr)
    im = Image.fromarray(arr if arr.dtype == np.uint16 and arr.ndim == 2 else arr.astype(np.uint8, copy=False))
    im.save(buf, format="PNG", optimize=False, compress_level=1)
    return buf.getvalue()


def write_png(path: str | Path, arr: np.ndarray) -> None:
    """Write a uint8 (or 2-D uint16) array as PNG (parents created)."""
    path = Path(path)
    make_parent(path)
    path.write_bytes(png_bytes(arr))


def check_same_size(image: np.ndarray, label: np.ndarray, label_path: str | Path) -> None:
    """Raise ImageError naming the label when it does not match the image's size."""
    if image.shape[:2] != label.shape[:2]:
        raise ImageError(
            f"{label_path}: label size {label.shape[1]}x{label.shape[0]} does not match "
            f"its image {image.shape[1]}x{image.shape[0]}"
        )
