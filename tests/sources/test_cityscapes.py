"""srseg.sources.cityscapes: local tree / zips, subset + downscale, and a loopback server playing the site."""

from __future__ import annotations

import hashlib
import io
import json
import logging
import tracemalloc
import zipfile
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import numpy as np
import pytest
from PIL import Image

from srseg.errors import DownloadError, ImageError, SrsegError
from srseg.params import Params, validate
from srseg.sources import cityscapes
from tests._http import send_bytes, send_file

H, W = 16, 24
IDS = np.array([7, 8, 11, 17, 21, 23, 24, 26], dtype=np.uint8)  # road, sidewalk, building, ...
CITIES = {
    "train": {"aachen": 3, "bochum": 2},
    "val": {"frankfurt": 2, "lindau": 1},
    "test": {"berlin": 1},  # must be ignored
}
USER, PASSWORD = "alice@example.org", "pa55-W0rd-never-shown"


def _seed(split: str, city: str, i: int) -> int:
    return 100 * ("train", "val", "test").index(split) + 10 * sorted(CITIES[split]).index(city) + i


def _image(seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (H, W, 3), dtype=np.uint8)


def _label(seed: int) -> np.ndarray:
    return IDS[np.random.default_rng(seed + 7).integers(0, len(IDS), (H, W))]


def _instances(seed: int) -> np.ndarray:
    """Instance ids of ``_label(seed)``: person (24) and car (26) pixels split into instances by column band."""
    lab = _label(seed).astype(np.uint16)
    band = np.broadcast_to((np.arange(W) // 8).astype(np.uint16), lab.shape)
    return np.where((lab == 24) | (lab == 26), lab * 1000 + band, lab).astype(np.uint16)


def _png(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="PNG")
    return buf.getvalue()


def _files() -> dict[str, dict[str, bytes]]:
    """Package kind → {archive path: bytes} in the official zips' layout (with the extra files)."""
    out: dict[str, dict[str, bytes]] = {"leftImg8bit": {"README": b"r", "license.txt": b"l"}, "gtFine": {"README": b""}}
    for split, cities in CITIES.items():
        for city, n in cities.items():
            for i in range(n):
                sid = f"{city}_{i:06d}_{19 + i:06d}"
                seed = _seed(split, city, i)
                out["leftImg8bit"][f"leftImg8bit/{split}/{city}/{sid}_leftImg8bit.png"] = _png(_image(seed))
                g = f"gtFine/{split}/{city}/{sid}_gtFine_"
                out["gtFine"][g + "labelIds.png"] = _png(_label(seed))
                out["gtFine"][g + "color.png"] = _png(np.zeros((H, W, 4), np.uint8))
                out["gtFine"][g + "instanceIds.png"] = _png(_instances(seed))
                out["gtFine"][g + "polygons.json"] = b"{}"
    return out


def _zip_bytes(entries: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
    return buf.getvalue()


ZIPS = {cityscapes.PACKAGES[k]: _zip_bytes(v) for k, v in _files().items()}


def _write_tree(root: Path, kinds: tuple[str, ...] = ("leftImg8bit", "gtFine")) -> Path:
    for kind in kinds:
        for rel, data in _files()[kind].items():
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            (root / rel).write_bytes(data)
    return root


def _write_zips(root: Path, kinds: tuple[str, ...] = ("leftImg8bit", "gtFine")) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for kind in kinds:
        (root / cityscapes.PACKAGES[kind]).write_bytes(ZIPS[cityscapes.PACKAGES[kind]])
    return root


def _params(**cs) -> Params:
    return validate({"data": {"source": "cityscapes", "cityscapes": cs}})


ALL_IDS = [
    ("train", "aachen", "aachen_000000_000019"), ("train", "aachen", "aachen_000001_000020"),
    ("train", "aachen", "aachen_000002_000021"), ("train", "bochum", "bochum_000000_000019"),
    ("train", "bochum", "bochum_000001_000020"),
    ("val", "frankfurt", "frankfurt_000000_000019"), ("val", "frankfurt", "frankfurt_000001_000020"),
    ("val", "lindau", "lindau_000000_000019"),
]


def _check_content(out) -> None:
    for s in out:
        i = int(s.id.split("_")[1])
        seed = _seed(s.split, s.city, i)
        np.testing.assert_array_equal(s.image, _image(seed))
        np.testing.assert_array_equal(s.label_ids, _label(seed))
        np.testing.assert_array_equal(s.instance_ids, _instances(seed))
        assert s.instances == "archive"


# --- local data -------------------------------------------------------------------------------


def test_extracted_tree(tmp_path: Path) -> None:
    root = _write_tree(tmp_path / "cs")
    out = list(cityscapes.samples(_params(path=str(root)), tmp_path / "cache"))
    assert [(s.split, s.city, s.id) for s in out] == ALL_IDS
    _check_content(out)
    assert out[0].origin.endswith("aachen_000000_000019_gtFine_labelIds.png")
    assert not (tmp_path / "cache").exists()


def test_local_zips_read_in_place(tmp_path: Path) -> None:
    root = _write_zips(tmp_path / "cs")
    out = list(cityscapes.samples(_params(path=str(root)), tmp_path / "cache"))
    assert [(s.split, s.city, s.id) for s in out] == ALL_IDS
    _check_content(out)
    assert "gtFine_trainvaltest.zip:gtFine/train/aachen/" in out[0].origin
    assert sorted(p.name for p in root.iterdir()) == sorted(cityscapes.PACKAGES.values())  # nothing extracted


def test_mixed_zip_and_tree(tmp_path: Path) -> None:
    root = _write_tree(tmp_path / "cs", ("gtFine",))
    _write_zips(root, ("leftImg8bit",))
    out = list(cityscapes.samples(_params(path=str(root)), tmp_path))
    assert [(s.split, s.city, s.id) for s in out] == ALL_IDS
    _check_content(out)


def test_subset_is_sorted_and_limited(tmp_path: Path) -> None:
    root = _write_zips(tmp_path / "cs")
    out = list(cityscapes.samples(_params(path=str(root), train=4, val=1), tmp_path))
    assert [(s.split, s.id) for s in out] == [(s, i) for s, _, i in ALL_IDS[:4] + ALL_IDS[5:6]]
    out = list(cityscapes.samples(_params(path=str(root), cities=["bochum", "lindau"], train=1), tmp_path))
    assert [(s.split, s.id) for s in out] == [("train", "bochum_000000_000019"), ("val", "lindau_000000_000019")]


def test_downscale(tmp_path: Path) -> None:
    root = _write_tree(tmp_path / "cs")
    out = list(cityscapes.samples(_params(path=str(root), downscale=2, train=1, val=1), tmp_path))
    assert len(out) == 2
    for s in out:
        seed = _seed(s.split, s.city, int(s.id.split("_")[1]))
        full, lab = _image(seed), _label(seed)
        assert s.image.shape == (H // 2, W // 2, 3) and s.label_ids.shape == (H // 2, W // 2)
        np.testing.assert_array_equal(s.label_ids, lab[1::2, 1::2])  # nearest: no new label values
        block_mean = full.reshape(H // 2, 2, W // 2, 2, 3).astype(float).mean(axis=(1, 3))
        # antialiased bicubic stays near the block mean; plain subsampling of noise would not
        assert np.abs(s.image.astype(float) - block_mean).mean() < 30
        assert np.abs(full[::2, ::2].astype(float) - block_mean).mean() > 40


def test_downscale_instances_nearest(tmp_path: Path) -> None:
    root = _write_zips(tmp_path / "cs")
    out = list(cityscapes.samples(_params(path=str(root), downscale=2, train=1, val=1), tmp_path))
    for s in out:
        full = _instances(_seed(s.split, s.city, int(s.id.split("_")[1])))
        np.testing.assert_array_equal(s.instance_ids, full[1::2, 1::2])  # same pixels as the labels


def test_tree_without_instances_gives_none(tmp_path: Path) -> None:
    root = _write_tree(tmp_path / "cs")
    for p in root.glob("gtFine/*/*/*_gtFine_instanceIds.png"):
        p.unlink()
    out = list(cityscapes.samples(_params(path=str(root), train=2, val=1), tmp_path))
    assert [(s.instance_ids, s.instances) for s in out] == [(None, "none")] * 3
    assert all(np.array_equal(s.label_ids, _label(_seed(s.split, s.city, int(s.id.split("_")[1])))) for s in out)


def test_partial_or_wrong_instances_are_named(tmp_path: Path) -> None:
    root = _write_tree(tmp_path / "cs")
    (root / "gtFine/val/lindau/lindau_000000_000019_gtFine_instanceIds.png").unlink()
    msg = "lindau_000000_000019_gtFine_labelIds.png: no matching lindau_000000_000019_gtFine_instanceIds.png"
    with pytest.raises(ImageError, match=msg):
        next(cityscapes.samples(_params(path=str(root)), tmp_path))  # found before the first image
    files = _files()
    name = "gtFine/train/aachen/aachen_000001_000020_gtFine_instanceIds.png"
    wrong = _instances(_seed("train", "aachen", 1))
    wrong[wrong == 7] = 26000  # a "car" instance on road pixels
    files["gtFine"][name] = _png(wrong)
    (root / "zips").mkdir()
    for kind in files:
        (root / "zips" / cityscapes.PACKAGES[kind]).write_bytes(_zip_bytes(files[kind]))
    with pytest.raises(ImageError, match=f"gtFine_trainvaltest.zip:{name}: instance ids disagree with the labelIds"):
        list(cityscapes.samples(_params(path=str(root / "zips")), tmp_path))
    files["gtFine"][name] = _png(_label(_seed("train", "aachen", 1)))  # 8-bit: not an instance image
    (root / "zips" / cityscapes.PACKAGES["gtFine"]).write_bytes(_zip_bytes(files["gtFine"]))
    with pytest.raises(ImageError, match=f"{name}: expected a 16-bit instance-id image, got mode L"):
        list(cityscapes.samples(_params(path=str(root / "zips")), tmp_path))


def test_downscale_crops_odd_sizes() -> None:
    img = np.zeros((10, 13, 3), np.uint8)
    lab = np.arange(130, dtype=np.uint8).reshape(10, 13)
    small, slab = cityscapes.downscale(img, lab, 3)
    assert small.shape == (3, 4, 3) and slab.shape == (3, 4)
    assert slab[0, 0] == lab[1, 1] and slab[2, 3] == lab[7, 10]


def test_unknown_city_and_empty_split(tmp_path: Path) -> None:
    root = _write_tree(tmp_path / "cs")
    unknown = r"cities: unknown \['paris'\] \(available: aachen, bochum, frankfurt, lindau\)"
    with pytest.raises(SrsegError, match=unknown):
        next(cityscapes.samples(_params(path=str(root), cities=["aachen", "paris"]), tmp_path))
    with pytest.raises(SrsegError, match=r"none of \['aachen'\] is in the val split \(val cities: frankfurt, lindau\)"):
        next(cityscapes.samples(_params(path=str(root), cities=["aachen"]), tmp_path))


def test_missing_folder_and_parts(tmp_path: Path) -> None:
    with pytest.raises(SrsegError) as exc:
        next(cityscapes.samples(_params(path=str(tmp_path / "nope")), tmp_path))
    assert str(exc.value) == f"data.cityscapes.path: {tmp_path / 'nope'}: no such folder"
    root = _write_tree(tmp_path / "cs", ("leftImg8bit",))
    with pytest.raises(SrsegError, match="has neither gtFine/ nor gtFine_trainvaltest.zip"):
        next(cityscapes.samples(_params(path=str(root)), tmp_path))


def test_missing_label_is_named(tmp_path: Path) -> None:
    root = _write_tree(tmp_path / "cs")
    (root / "gtFine/train/bochum/bochum_000000_000019_gtFine_labelIds.png").unlink()
    msg = "bochum_000000_000019_leftImg8bit.png: no matching bochum_000000_000019_gtFine_labelIds.png"
    with pytest.raises(ImageError, match=msg):
        next(cityscapes.samples(_params(path=str(root)), tmp_path))  # found before the first image


def test_downscale_larger_than_image(tmp_path: Path) -> None:
    root = _write_tree(tmp_path / "cs")
    with pytest.raises(ImageError, match="labelIds.png: smaller than data.cityscapes.downscale 17"):
        next(cityscapes.samples(_params(path=str(root), downscale=17), tmp_path))


def test_size_mismatch_and_corrupt_member_are_named(tmp_path: Path) -> None:
    files = _files()
    bad_label = "gtFine/val/lindau/lindau_000000_000019_gtFine_labelIds.png"
    files["gtFine"][bad_label] = _png(np.zeros((H + 2, W), np.uint8))
    bad_image = "leftImg8bit/train/bochum/bochum_000001_000020_leftImg8bit.png"
    files["leftImg8bit"][bad_image] = b"\x89PNG\r\n\x1a\nbroken"
    root = tmp_path / "cs"
    root.mkdir()
    for kind in files:
        (root / cityscapes.PACKAGES[kind]).write_bytes(_zip_bytes(files[kind]))
    with pytest.raises(ImageError, match=f"leftImg8bit_trainvaltest.zip:{bad_image}: cannot read image"):
        list(cityscapes.samples(_params(path=str(root)), tmp_path))
    mismatch = f"gtFine_trainvaltest.zip:{bad_label}: label size 24x18 does not match its image 24x16"
    with pytest.raises(ImageError, match=mismatch):
        list(cityscapes.samples(_params(path=str(root), train=1), tmp_path))


def test_bomb_member_is_refused_without_inflating_it(tmp_path: Path) -> None:
    """A labelIds member that inflates ~1000x is refused on its declared sizes (archive caps), naming the zip and
    the member, before any of it is decompressed: the read holds nothing like the member in memory."""
    bomb = "gtFine/train/bochum/bochum_000000_000019_gtFine_labelIds.png"
    root = _write_zips(tmp_path / "cs", ("leftImg8bit",))
    with zipfile.ZipFile(root / cityscapes.PACKAGES["gtFine"], "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in _files()["gtFine"].items():
            if name != bomb:
                zf.writestr(name, data)
        with zf.open(bomb, "w") as dst:  # 32 MiB of zeros, written in pieces (the test holds 1 MiB at a time)
            for _ in range(32):
                dst.write(bytes(1 << 20))
    assert (root / cityscapes.PACKAGES["gtFine"]).stat().st_size < 200_000
    tracemalloc.start()
    try:
        with pytest.raises(DownloadError) as info:
            list(cityscapes.samples(_params(path=str(root)), tmp_path))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    msg = str(info.value)
    assert "\n" not in msg
    assert msg.startswith(f"{root / 'gtFine_trainvaltest.zip'}: refusing to read '{bomb}': 33,554,432 bytes packed "
                          "into "), msg
    assert "decompression bomb" in msg
    assert peak < 4 << 20, peak  # the three aachen images before it and the zip's index, not 32 MiB


# --- the site ---------------------------------------------------------------------------------


class FakeSite:
    """The Cityscapes site's login form, package list, md5 sums and file handling."""

    def __init__(self) -> None:
        self.md5 = {n: hashlib.md5(d).hexdigest() for n, d in ZIPS.items()}
        self.ids = {"gtFine_trainvaltest.zip": "1", "leftImg8bit_trainvaltest.zip": "3"}
        self.truncate: dict[str, int] = {}  # name → how many more requests to cut short

    def _pkg(self, req) -> str:
        pid = parse_qs(urlsplit(req.path).query)["packageID"][0]
        return next(n for n, i in self.ids.items() if i == pid)

    def _logged_in(self, req) -> bool:
        return "session=ok" in (req.headers.get("Cookie") or "")

    def login(self, req) -> None:
        if req.command == "GET":
            return send_bytes(req, b"<form>login</form>")
        form = parse_qs(req.body.decode())
        if form.get("username") == [USER] and form.get("password") == [PASSWORD] and form.get("submit") == ["Login"]:
            return send_bytes(req, b"", status=302, headers={"Location": "/", "Set-Cookie": "session=ok; Path=/"})
        send_bytes(req, b"<form>wrong password</form>")

    def listing(self, req) -> None:
        if not self._logged_in(req):
            return send_bytes(req, b"", status=302, headers={"Location": "/login"})
        pk = [{"name": n, "packageID": i, "size": "1 MB", "thirdparty": "0"} for n, i in self.ids.items()]
        send_bytes(req, json.dumps(pk).encode(), headers={"Content-Type": "application/json"})

    def md5sum(self, req) -> None:
        name = self._pkg(req)
        send_bytes(req, f"{self.md5[name]}  {name}\n".encode())

    def file(self, req) -> None:
        if not self._logged_in(req):
            return send_bytes(req, b"", status=302, headers={"Location": "/login"})
        name = self._pkg(req)
        if self.truncate.get(name):
            self.truncate[name] -= 1
            # cut short and ignoring Range: fetch's in-call resumes make no progress and give up
            return send_file(req, ZIPS[name], ranges=False, truncate_at=1000)
        send_file(req, ZIPS[name])

    def start(self, http_server):
        self.server = http_server({
            "/login": self.login, "/downloads/": self.listing,
            "/md5-sum/": self.md5sum, "/file-handling/": self.file,
        })
        return self.server


@pytest.fixture
def site(http_server, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> FakeSite:
    s = FakeSite()
    srv = s.start(http_server)
    monkeypatch.setenv(cityscapes.URL_ENV, srv.base)
    monkeypatch.setenv(cityscapes.USER_ENV, USER)
    monkeypatch.setenv(cityscapes.PASSWORD_ENV, PASSWORD)
    # never read the real user's stored csDownload credentials
    monkeypatch.setattr(cityscapes, "credentials_file", lambda: tmp_path / "no-credentials.json")
    return s


def _no_password_anywhere(capsys, caplog, root: Path, *texts: str) -> None:
    captured = capsys.readouterr()
    for text in (captured.out, captured.err, caplog.text, *texts):
        assert PASSWORD not in text
    for p in root.rglob("*"):
        if p.is_file():
            assert PASSWORD.encode() not in p.read_bytes(), p


def test_download_login_and_read(site: FakeSite, tmp_path: Path, capsys, caplog, monkeypatch) -> None:
    caplog.set_level(logging.DEBUG)
    cache = tmp_path / "cache"
    out = list(cityscapes.samples(_params(), cache))
    assert [(s.split, s.city, s.id) for s in out] == ALL_IDS
    _check_content(out)
    for name, data in ZIPS.items():
        assert (cache / "cityscapes" / name).read_bytes() == data
    assert [r[0] for r in site.server.requests_to("/login")] == ["GET", "POST"]
    _no_password_anywhere(capsys, caplog, tmp_path)

    # the verified zips in the cache are used again without credentials or requests
    n = len(site.server.log)
    monkeypatch.delenv(cityscapes.PASSWORD_ENV)
    monkeypatch.delenv(cityscapes.USER_ENV)
    assert len(list(cityscapes.samples(_params(train=1, val=1), cache))) == 2
    assert len(site.server.log) == n


def test_bad_login(site: FakeSite, tmp_path: Path, capsys, caplog, monkeypatch) -> None:
    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv(cityscapes.PASSWORD_ENV, PASSWORD + "x")
    with pytest.raises(DownloadError) as exc:
        next(cityscapes.samples(_params(), tmp_path / "cache"))
    msg = str(exc.value)
    assert msg == (f"Cityscapes login failed at {site.server.base}/login: bad credentials "
                   f"(from {cityscapes.USER_ENV}/{cityscapes.PASSWORD_ENV})")
    assert not site.server.requests_to("/file-handling/")
    _no_password_anywhere(capsys, caplog, tmp_path, msg, repr(exc.value))


def test_missing_credentials_names_both_variables(site: FakeSite, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv(cityscapes.PASSWORD_ENV)
    with pytest.raises(DownloadError, match="set both CITYSCAPES_USERNAME and CITYSCAPES_PASSWORD"):
        next(cityscapes.samples(_params(), tmp_path / "cache"))
    monkeypatch.delenv(cityscapes.USER_ENV)
    with pytest.raises(DownloadError) as exc:
        next(cityscapes.samples(_params(), tmp_path / "cache"))
    msg = str(exc.value)
    assert "CITYSCAPES_USERNAME" in msg and "CITYSCAPES_PASSWORD" in msg and "\n" not in msg
    assert site.server.log == []


def test_stored_credentials_file(site: FakeSite, tmp_path: Path, monkeypatch, capsys, caplog) -> None:
    monkeypatch.delenv(cityscapes.PASSWORD_ENV)
    monkeypatch.delenv(cityscapes.USER_ENV)
    stored = tmp_path / "creds" / "credentials.json"
    stored.parent.mkdir()
    stored.write_text(json.dumps({"username": USER, "password": PASSWORD}))
    monkeypatch.setattr(cityscapes, "credentials_file", lambda: stored)
    out = list(cityscapes.samples(_params(val=1), tmp_path / "cache"))
    assert len(out) == 6
    stored.write_text("{broken")
    with pytest.raises(DownloadError, match="credentials.json: not a cityscapesscripts credentials file"):
        cityscapes.download(tmp_path / "cache2")
    captured = capsys.readouterr()
    assert PASSWORD not in captured.out + captured.err + caplog.text


def test_truncated_download_resumes_on_retry(site: FakeSite, tmp_path: Path, capsys, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    name = "leftImg8bit_trainvaltest.zip"
    site.truncate[name] = 3  # fetch's first try and its 2 retries
    cache = tmp_path / "cache"
    with pytest.raises(DownloadError) as exc:
        next(cityscapes.samples(_params(), cache))
    msg = str(exc.value)
    assert "interrupted" in msg and name in msg and "\n" not in msg
    part = cache / "cityscapes" / f"{name}.part"
    assert part.stat().st_size == 1000 and not (cache / "cityscapes" / name).exists()
    out = list(cityscapes.samples(_params(), cache))
    assert len(out) == len(ALL_IDS)
    assert (cache / "cityscapes" / name).read_bytes() == ZIPS[name] and not part.exists()
    ranges = [r[2].get("Range") for r in site.server.requests_to("/file-handling/")
              if r[1].endswith("packageID=3")]
    assert ranges == [None, "bytes=1000-", "bytes=1000-", "bytes=1000-"]  # the last one resumes (206)
    _no_password_anywhere(capsys, caplog, tmp_path, msg)


def test_md5_mismatch(site: FakeSite, tmp_path: Path) -> None:
    site.md5["gtFine_trainvaltest.zip"] = "f" * 32
    with pytest.raises(DownloadError) as exc:
        next(cityscapes.samples(_params(), tmp_path / "cache"))
    msg = str(exc.value)
    assert "md5 mismatch for gtFine_trainvaltest.zip" in msg and "f" * 32 in msg
    assert hashlib.md5(ZIPS["gtFine_trainvaltest.zip"]).hexdigest() in msg
    assert not list((tmp_path / "cache" / "cityscapes").glob("gtFine*"))


def test_unavailable_package(site: FakeSite, tmp_path: Path) -> None:
    del site.ids["gtFine_trainvaltest.zip"]
    with pytest.raises(DownloadError, match="package gtFine_trainvaltest.zip is not available to this account"):
        cityscapes.download(tmp_path / "cache")


def test_empty_part_is_named(tmp_path: Path) -> None:
    root = _write_tree(tmp_path / "cs")
    (root / "gtFine_trainvaltest.zip").write_bytes(_zip_bytes({"README": b""}))
    (root / "gtFine").rename(tmp_path / "moved")
    with pytest.raises(SrsegError) as exc:
        next(cityscapes.samples(_params(path=str(root)), tmp_path))
    assert str(exc.value) == (
        f"{root / 'gtFine_trainvaltest.zip'}: no files like gtFine/{{train,val}}/<city>/<id>_gtFine_labelIds.png"
    )
