"""File helpers: atomic outputs, image reading with clear errors (archives: :mod:`srseg.archive`)."""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import tempfile
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from srseg.errors import ImageError, SrsegError

IMAGE_EXTENSIONS = {".png", ".bmp", ".jpg", ".jpeg", ".tif", ".tiff"}


@contextlib.contextmanager
def atomic_dir(final: str | Path) -> Iterator[Path]:
    """Yield a temporary sibling of ``final``; on success it replaces ``final`` in one rename.

    A killed or failing stage leaves ``final`` as it was (or absent) and no half-written output.
    """
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.tmp-", dir=final.parent))
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


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_file(final: str | Path, mode: str = "w") -> Iterator[Any]:
    """Open a temporary sibling of ``final`` for writing; rename onto ``final`` when closed cleanly."""
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{final.name}.tmp-", dir=final.parent)
    os.chmod(tmp, 0o666 & ~_umask())
    try:
        with os.fdopen(fd, mode, **({} if "b" in mode else {"encoding": "utf-8"})) as fh:
            yield fh
        os.replace(tmp, final)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


# Fixed zip entry time for saved models, so the same weights give the same bytes (and the same dvc.lock md5).
_ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)


def save_keras(model: Any, path: str | Path) -> None:
    """Save a Keras model as ``.keras`` atomically and byte-reproducibly.

    Keras stamps the save time into the zip entries and ``metadata.json``, and numbers shared objects in
    ``config.json`` by their memory address; the archive is rewritten with a fixed entry time, without
    ``date_saved`` (Keras does not read it back) and with ``shared_object_id`` renumbered in order of
    appearance (only equality between ids matters to the loader), entries in Keras' order.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, raw = tempfile.mkstemp(prefix=f".{path.stem}.raw-", suffix=".keras", dir=path.parent)
    os.close(fd)
    try:
        model.save(raw)
        with zipfile.ZipFile(raw) as src, atomic_file(path, "wb") as fh, zipfile.ZipFile(fh, "w") as dst:
            for info in src.infolist():
                data = src.read(info)
                if info.filename == "metadata.json":
                    meta = json.loads(data)
                    meta.pop("date_saved", None)
                    data = json.dumps(meta, sort_keys=True).encode()
                elif info.filename == "config.json":
                    data = json.dumps(_renumber_shared_ids(json.loads(data), {})).encode()
                entry = zipfile.ZipInfo(info.filename, date_time=_ZIP_EPOCH)
                entry.compress_type = info.compress_type
                entry.external_attr = 0o644 << 16
                dst.writestr(entry, data)
    finally:
        os.unlink(raw)


def _renumber_shared_ids(node: Any, ids: dict[Any, int]) -> Any:
    """``node`` with every ``shared_object_id`` replaced by 0, 1, 2, … in order of first appearance."""
    if isinstance(node, dict):
        return {k: ids.setdefault(v, len(ids)) if k == "shared_object_id" else _renumber_shared_ids(v, ids)
                for k, v in node.items()}
    if isinstance(node, list):
        return [_renumber_shared_ids(v, ids) for v in node]
    return node


def write_json(path: str | Path, obj: Any) -> None:
    """Write JSON atomically, with sorted keys for stable diffs."""
    with atomic_file(path) as fh:
        json.dump(obj, fh, indent=2, sort_keys=True)
        fh.write("\n")


def read_image(path: str | Path, mode: str = "RGB") -> np.ndarray:
    """Read an image as uint8 array (H, W, 3) for RGB or (H, W) for L; name the file on failure.

    ``mode="auto"`` keeps grey images single-channel (the SR literature scores them on their grey
    value rather than on the luma of a grey RGB image).
    """
    path = Path(path)
    try:
        with Image.open(path) as im:
            im.load()
            if mode == "auto":
                mode = "L" if im.mode in ("L", "LA", "1") else "RGB"
            if mode == "L" and im.mode not in ("L", "P", "I", "I;16"):
                raise ImageError(f"{path}: expected a single-channel label image, got mode {im.mode}")
            if mode == "RGB" and im.mode in ("I", "I;16", "F"):
                raise ImageError(f"{path}: expected an 8-bit image, got mode {im.mode}")
            return np.asarray(im.convert(mode) if im.mode != mode else im, dtype=np.uint8).copy()
    except ImageError:
        raise
    except FileNotFoundError:
        raise ImageError(f"{path}: image not found") from None
    except Exception as exc:  # Pillow raises many types for corrupt files
        raise ImageError(f"{path}: cannot read image ({type(exc).__name__}: {exc})") from None


def read_label(path: str | Path) -> np.ndarray:
    """Read a single-channel label image as a uint8 (H, W) array (palette indices kept as-is)."""
    path = Path(path)
    try:
        with Image.open(path) as im:
            im.load()
            if im.mode == "P":
                return np.asarray(im, dtype=np.uint8).copy()
    except FileNotFoundError:
        raise ImageError(f"{path}: label not found") from None
    except Exception as exc:
        raise ImageError(f"{path}: cannot read label ({type(exc).__name__}: {exc})") from None
    return read_image(path, "L")


def list_images(folder: str | Path) -> list[Path]:
    """Image files directly in ``folder``, sorted."""
    folder = Path(folder)
    if not folder.is_dir():
        raise SrsegError(f"{folder}: no such folder")
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_EXTENSIONS)
    if not files:
        raise SrsegError(f"{folder}: no images ({', '.join(sorted(IMAGE_EXTENSIONS))})")
    return files


def read_instance_ids(path: str | Path) -> np.ndarray:
    """Read a 16-bit instance-id PNG (Cityscapes ``*_gtFine_instanceIds.png``) as a uint16 (H, W) array."""
    path = Path(path)
    try:
        with Image.open(path) as im:
            im.load()
            if im.mode not in ("I;16", "I"):  # Pillow opens 16-bit grey PNGs as I;16 (older versions: I)
                raise ImageError(f"{path}: expected a 16-bit instance-id image, got mode {im.mode}")
            arr = np.asarray(im)
    except ImageError:
        raise
    except FileNotFoundError:
        raise ImageError(f"{path}: instance image not found") from None
    except Exception as exc:
        raise ImageError(f"{path}: cannot read instance image ({type(exc).__name__}: {exc})") from None
    if arr.size and (int(arr.min()) < 0 or int(arr.max()) > 0xFFFF):
        raise ImageError(f"{path}: instance ids outside 0..65535")
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
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(png_bytes(arr))


def check_same_size(image: np.ndarray, label: np.ndarray, label_path: str | Path) -> None:
    """Raise ImageError naming the label when it does not match the image's size."""
    if image.shape[:2] != label.shape[:2]:
        raise ImageError(
            f"{label_path}: label size {label.shape[1]}x{label.shape[0]} does not match "
            f"its image {image.shape[1]}x{image.shape[0]}"
        )
