"""Cityscapes (fine annotations, train + val) as samples, from local files or the official site.

Input, for each of ``leftImg8bit`` (images) and ``gtFine`` (``*_gtFine_labelIds.png`` labels, and
``*_gtFine_instanceIds.png`` instances when present):

- ``data.cityscapes.path`` set: that folder holds the extracted tree (``leftImg8bit/``, ``gtFine/``)
  or the official zips (``leftImg8bit_trainvaltest.zip``, ``gtFine_trainvaltest.zip``), which are read
  in place (no extraction), member by member through the caps of :mod:`srseg.archive`
  (:class:`~srseg.archive.ZipReader`): a decompression bomb is refused without being inflated;
- ``path: null``: the two zips are downloaded into ``<cache_dir>/cityscapes/`` with an account of the
  Cityscapes site, using the login form and package URLs of cityscapesscripts' ``csDownload``
  (its ``login()`` prompts on the terminal and hard-codes the site, so the flow is repeated here on a
  ``requests.Session``). Credentials come from ``CITYSCAPES_USERNAME``/``CITYSCAPES_PASSWORD``, else
  from the file ``csDownload`` stores (``appdirs.user_data_dir("cityscapesscripts", "cityscapes")/
  credentials.json``). Downloads resume and are checked against the md5 the site serves, like
  ``csDownload``. Zips already in the cache are used without logging in (a zip only gets its final
  name once its md5 matched). The password is never logged, stored or put in a message.

  ``SRSEG_CITYSCAPES_URL`` replaces the site's base URL: it exists for the tests' loopback server.

The test split is not used (its labels are not public). Subset params: ``cities`` keeps those cities,
then ``train``/``val`` keep the first N images of each split in sorted id order (deterministic);
``downscale: d`` crops to a multiple of ``d`` and shrinks images with Pillow's bicubic filter
(antialiased when shrinking) and labels by nearest neighbour (the pixel at offset ``d // 2`` of each
d×d block; instance ids likewise).

Instances: the ``gtFine`` instanceIds are taken as they are (``metrics/data.json`` says "archive") after
checking that they encode the labelIds. When ``gtFine`` holds no instanceIds at all (a tree extracted
with labelIds only) the samples carry none; when only some images have them, that is an error.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import re
from collections.abc import Iterator
from pathlib import Path

import appdirs
import numpy as np
import requests
from PIL import Image

from srseg.archive import ZipReader
from srseg.degrade import crop_to_multiple
from srseg.download import fetch, safe_url
from srseg.errors import DownloadError, ImageError, SrsegError
from srseg.instances import check_instances
from srseg.io import check_same_size, read_image, read_instance_ids, read_label
from srseg.params import CityscapesParams, Params
from srseg.sources import NO_INSTANCES, RawSample

log = logging.getLogger(__name__)

DEFAULT_URL = "https://www.cityscapes-dataset.com"
URL_ENV = "SRSEG_CITYSCAPES_URL"  # for tests: a loopback server playing the site
USER_ENV, PASSWORD_ENV = "CITYSCAPES_USERNAME", "CITYSCAPES_PASSWORD"
PACKAGES = {"leftImg8bit": "leftImg8bit_trainvaltest.zip", "gtFine": "gtFine_trainvaltest.zip"}
SPLITS = ("train", "val")
TIMEOUT = 60.0

_IMAGE = re.compile(r"(?:^|/)leftImg8bit/(?P<split>train|val)/(?P<city>[^/]+)/(?P<id>[^/]+)_leftImg8bit\.png$")
_LABEL = re.compile(r"(?:^|/)gtFine/(?P<split>train|val)/(?P<city>[^/]+)/(?P<id>[^/]+)_gtFine_labelIds\.png$")
_INSTANCES = re.compile(r"(?:^|/)gtFine/(?P<split>train|val)/(?P<city>[^/]+)/(?P<id>[^/]+)_gtFine_instanceIds\.png$")
_HINT = {
    _IMAGE: "leftImg8bit/{train,val}/<city>/<id>_leftImg8bit.png",
    _LABEL: "gtFine/{train,val}/<city>/<id>_gtFine_labelIds.png",
    _INSTANCES: "gtFine/{train,val}/<city>/<id>_gtFine_instanceIds.png",
}


# --- the site ---------------------------------------------------------------------------------


def base_url() -> str:
    """The site's base URL (``SRSEG_CITYSCAPES_URL`` when set)."""
    return (os.environ.get(URL_ENV) or DEFAULT_URL).rstrip("/")


def credentials_file() -> Path:
    """Where cityscapesscripts' ``csDownload`` stores credentials (same appdirs call as its login())."""
    return Path(appdirs.user_data_dir("cityscapesscripts", "cityscapes")) / "credentials.json"


def _credentials() -> tuple[str, str, str]:
    """(username, password, where they came from); one-line error when there are none."""
    user, password = os.environ.get(USER_ENV), os.environ.get(PASSWORD_ENV)
    if user and password:
        return user, password, f"{USER_ENV}/{PASSWORD_ENV}"
    if user or password:
        raise DownloadError(f"Cityscapes credentials incomplete: set both {USER_ENV} and {PASSWORD_ENV}")
    path = credentials_file()
    if path.is_file():
        try:
            stored = json.loads(path.read_text())
            user, password = stored["username"], stored["password"]
        except (OSError, ValueError, KeyError, TypeError):
            raise DownloadError(f"{path}: not a cityscapesscripts credentials file (username, password)") from None
        if isinstance(user, str) and isinstance(password, str) and user and password:
            return user, password, str(path)
        raise DownloadError(f"{path}: not a cityscapesscripts credentials file (username, password)")
    raise DownloadError(
        f"Cityscapes credentials missing: set {USER_ENV} and {PASSWORD_ENV} "
        f"(or set data.cityscapes.path to local zips or an extracted tree)"
    )


def login(session: requests.Session, username: str, password: str, source: str = "credentials") -> None:
    """Log ``session`` in through the site's login form (success = a redirect, as in csDownload)."""
    url = f"{base_url()}/login"
    try:
        r = session.get(url, allow_redirects=False, timeout=TIMEOUT)
        if r.status_code >= 400:
            raise DownloadError(f"{safe_url(url)}: HTTP {r.status_code}")
        r = session.post(
            url, data={"username": username, "password": password, "submit": "Login"},
            allow_redirects=False, timeout=TIMEOUT,
        )
    except requests.RequestException as exc:
        raise DownloadError(f"{safe_url(url)}: cannot reach the Cityscapes site ({type(exc).__name__})") from None
    if r.status_code != 302:
        raise DownloadError(f"Cityscapes login failed at {safe_url(url)}: bad credentials (from {source})")


def _get(session: requests.Session, url: str) -> requests.Response:
    try:
        r = session.get(url, allow_redirects=False, timeout=TIMEOUT)
    except requests.RequestException as exc:
        raise DownloadError(f"{safe_url(url)}: request failed ({type(exc).__name__})") from None
    if r.status_code != 200:
        raise DownloadError(f"{safe_url(url)}: HTTP {r.status_code} (not logged in or no access?)")
    return r


def package_ids(session: requests.Session) -> dict[str, str]:
    """Package name → packageID of what this account may download."""
    url = f"{base_url()}/downloads/?list"
    try:
        return {str(p["name"]): str(p["packageID"]) for p in _get(session, url).json()}
    except (ValueError, KeyError, TypeError):
        raise DownloadError(f"{safe_url(url)}: unexpected package list (not logged in?)") from None


def package_md5(session: requests.Session, package_id: str) -> str:
    """The md5 the site publishes for a package."""
    url = f"{base_url()}/md5-sum/?packageID={package_id}"
    words = _get(session, url).text.split()
    if not words or not re.fullmatch(r"[0-9a-fA-F]{32}", words[0]):
        raise DownloadError(f"{safe_url(url)}: no md5 sum for package {package_id}")
    return words[0].lower()


def download(cache_dir: Path, names: list[str] | None = None) -> dict[str, Path]:
    """Download the packages (default: both trainvaltest zips) into ``<cache_dir>/cityscapes/``."""
    names = list(PACKAGES.values()) if names is None else names
    folder = Path(cache_dir) / "cityscapes"
    out = {n: folder / n for n in names}
    missing = [n for n in names if not out[n].is_file()]
    if not missing:
        return out
    user, password, source = _credentials()
    with requests.Session() as session:
        login(session, user, password, source)
        del password
        available = package_ids(session)
        for name in missing:
            if name not in available:
                raise DownloadError(f"Cityscapes package {name} is not available to this account")
            pid = available[name]
            md5 = package_md5(session, pid)
            fetch(
                f"{base_url()}/file-handling/?packageID={pid}", out[name], md5=md5, session=session,
                desc=name, timeout=TIMEOUT, allow_redirects=False,
            )
    return out


# --- reading ----------------------------------------------------------------------------------


def _index(zf: ZipReader | None, where: Path, pattern: re.Pattern[str],
           required: bool = True) -> dict[tuple[str, str, str], str]:
    """(split, city, id) → file path or zip member, for the train/val files of a folder or zip."""
    if zf is None:
        names = [p.relative_to(where.parent).as_posix() for s in SPLITS for p in (where / s).glob("*/*.png")]
    else:
        names = zf.namelist()
    out = {}
    for name in names:
        m = pattern.search(name)
        if m:
            out[(m["split"], m["city"], m["id"])] = name if zf is not None else str(where.parent / name)
    if not out and required:
        raise SrsegError(f"{where}: no files like {_HINT[pattern]}")
    return out


def _open_part(root: Path, kind: str, stack: contextlib.ExitStack) -> tuple[ZipReader | None, Path]:
    """The extracted folder ``root/<kind>`` (→ None) or the open zip ``root/<kind>_trainvaltest.zip``."""
    folder, archive = root / kind, root / PACKAGES[kind]
    if folder.is_dir():
        return None, folder
    if archive.is_file():
        return stack.enter_context(ZipReader(archive)), archive
    raise SrsegError(f"{root}: has neither {kind}/ nor {PACKAGES[kind]}")


def _read(zf: ZipReader | None, where: Path, ref: str, what: str) -> tuple[np.ndarray, str]:
    """(array, name for messages) of a file path or zip member; ``what`` is "image", "label" or "instances".

    A zip member is read through the archive caps (:class:`~srseg.archive.ZipReader`: one-line DownloadError
    naming the zip and the member for a bomb or a corrupt member)."""
    readers = {"image": read_image, "label": read_label, "instances": read_instance_ids}
    if zf is None:
        return readers[what](ref), ref
    name = f"{where}:{ref}"
    data = zf.read(ref)
    return readers[what](io.BytesIO(data), name=name), name


def _select(index: dict[tuple[str, str, str], str], cfg: CityscapesParams) -> dict[str, list[tuple[str, str, str]]]:
    """Keys per split after the cities filter and the per-split limits (sorted by id)."""
    by_split = {s: sorted((k for k in index if k[0] == s), key=lambda k: k[2]) for s in SPLITS}
    if cfg.cities is not None:
        known = {k[1] for k in index}
        unknown = sorted(set(cfg.cities) - known)
        if unknown:
            raise SrsegError(f"data.cityscapes.cities: unknown {unknown} (available: {', '.join(sorted(known))})")
        for s in SPLITS:
            cities_here = sorted({k[1] for k in by_split[s]})
            by_split[s] = [k for k in by_split[s] if k[1] in cfg.cities]
            if not by_split[s]:
                raise SrsegError(
                    f"data.cityscapes.cities: none of {cfg.cities} is in the {s} split "
                    f"({s} cities: {', '.join(cities_here)})"
                )
    for s in SPLITS:
        if not by_split[s]:
            raise SrsegError(f"Cityscapes: no {s} images found")
        limit = getattr(cfg, s)
        if limit is not None:
            by_split[s] = by_split[s][:limit]
    return by_split


def downscale(image: np.ndarray, label: np.ndarray, factor: int) -> tuple[np.ndarray, np.ndarray]:
    """Shrink by an integer factor: image bicubic (Pillow), label nearest (centre pixel of each block)."""
    if factor == 1:
        return image, label
    image = crop_to_multiple(image, factor)
    h, w = image.shape[0] // factor, image.shape[1] // factor
    small = np.asarray(Image.fromarray(image).resize((w, h), Image.Resampling.BICUBIC))
    return small, nearest(label, factor)


def nearest(label: np.ndarray, factor: int) -> np.ndarray:
    """Shrink a label or instance-id image by an integer factor: the pixel at offset ``factor // 2`` of each
    block (after cropping to a multiple of ``factor``), so no new ids appear."""
    label = crop_to_multiple(label, factor)
    off = factor // 2
    return np.ascontiguousarray(label[off::factor, off::factor])


def samples(params: Params, cache_dir: Path) -> Iterator[RawSample]:
    """Cityscapes train + val images with their labelIds (subset and downscale per params)."""
    cfg = params.data.cityscapes
    if cfg.path:
        root = Path(cfg.path).expanduser()
        if not root.is_dir():
            raise SrsegError(f"data.cityscapes.path: {root}: no such folder")
    else:
        download(Path(cache_dir))
        root = Path(cache_dir) / "cityscapes"
    with contextlib.ExitStack() as stack:
        img_zip, img_where = _open_part(root, "leftImg8bit", stack)
        lab_zip, lab_where = _open_part(root, "gtFine", stack)
        images = _index(img_zip, img_where, _IMAGE)
        labels = _index(lab_zip, lab_where, _LABEL)
        instances = _index(lab_zip, lab_where, _INSTANCES, required=False)
        selected = _select(images, cfg)
        for key in (k for split in SPLITS for k in selected[split] if k not in labels):  # before any work
            name = images[key] if img_zip is None else f"{img_where}:{images[key]}"
            raise ImageError(f"{name}: no matching {key[2]}_gtFine_labelIds.png in {lab_where}")
        if not instances:
            log.info("%s: no *_gtFine_instanceIds.png; the samples carry no instances", lab_where)
        else:
            for key in (k for split in SPLITS for k in selected[split] if k not in instances):
                name = labels[key] if lab_zip is None else f"{lab_where}:{labels[key]}"
                raise ImageError(f"{name}: no matching {key[2]}_gtFine_instanceIds.png in {lab_where} "
                                 f"(other images have one)")
        for split in SPLITS:
            for key in selected[split]:
                image, _ = _read(img_zip, img_where, images[key], "image")
                label, label_name = _read(lab_zip, lab_where, labels[key], "label")
                check_same_size(image, label, label_name)
                if min(label.shape) < cfg.downscale:
                    raise ImageError(f"{label_name}: smaller than data.cityscapes.downscale {cfg.downscale}")
                inst = None
                if instances:
                    inst, inst_name = _read(lab_zip, lab_where, instances[key], "instances")
                    check_instances(inst, label, inst_name)
                    inst = nearest(inst, cfg.downscale)
                image, label = downscale(image, label, cfg.downscale)
                yield RawSample(split, key[1], key[2], image, label, label_name, inst,
                                "archive" if inst is not None else NO_INSTANCES)
