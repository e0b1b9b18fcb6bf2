"""File helpers: atomic outputs, image reading with clear errors, saved models and their training record
(archives: :mod:`srseg.archive`)."""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import shutil
import tempfile
import zipfile
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from srseg.errors import ImageError, SrsegError
from srseg.params import Params

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
    path.parent.mkdir(parents=True, exist_ok=True)
    record_json = None if record is None else json.loads(json.dumps(record))  # fails here, not half-way
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
