"""srseg.download.fetch against a loopback server, and srseg.io.extract_archive safety."""

from __future__ import annotations

import hashlib
import io
import socket
import stat
import tarfile
import zipfile
from pathlib import Path

import pytest

from srseg.download import fetch, safe_url
from srseg.errors import DownloadError
from srseg.io import extract_archive
from tests._http import http_server, send_bytes, send_file  # noqa: F401  (fixture)

DATA = bytes(range(256)) * 400  # 102400 bytes, position-dependent so a misplaced resume shows
SHA = hashlib.sha256(DATA).hexdigest()
MD5 = hashlib.md5(DATA).hexdigest()


def _one_line(exc: pytest.ExceptionInfo[BaseException]) -> str:
    msg = str(exc.value)
    assert "\n" not in msg and msg
    return msg


def test_download_verifies_and_renames(http_server, tmp_path: Path) -> None:
    srv = http_server({"/f.bin": lambda r: send_file(r, DATA)})
    dest = tmp_path / "sub" / "f.bin"
    assert fetch(srv.url("/f.bin"), dest, sha256=SHA) == dest
    assert dest.read_bytes() == DATA
    assert not dest.with_name("f.bin.part").exists()


def test_md5_is_accepted(http_server, tmp_path: Path) -> None:
    srv = http_server({"/f.bin": lambda r: send_file(r, DATA)})
    fetch(srv.url("/f.bin"), tmp_path / "f.bin", md5=MD5.upper())
    assert (tmp_path / "f.bin").read_bytes() == DATA


@pytest.mark.parametrize("kind", ["sha256", "md5"])
def test_checksum_mismatch_deletes_part_and_names_both(http_server, tmp_path: Path, kind: str) -> None:
    srv = http_server({"/f.bin": lambda r: send_file(r, DATA)})
    wrong = "0" * (64 if kind == "sha256" else 32)
    dest = tmp_path / "f.bin"
    with pytest.raises(DownloadError) as exc:
        fetch(srv.url("/f.bin"), dest, **{kind: wrong})
    msg = _one_line(exc)
    right = SHA if kind == "sha256" else MD5
    assert wrong in msg and right in msg and "f.bin" in msg and srv.url("/f.bin") in msg
    assert not dest.exists() and not (tmp_path / "f.bin.part").exists()


def test_malformed_checksum_is_refused(tmp_path: Path) -> None:
    with pytest.raises(DownloadError, match="sha256"):
        fetch("http://127.0.0.1:9/x", tmp_path / "x", sha256="abc")


def test_complete_dest_is_not_downloaded_again(http_server, tmp_path: Path) -> None:
    srv = http_server({"/f.bin": lambda r: send_file(r, DATA)})
    dest = tmp_path / "f.bin"
    dest.write_bytes(DATA)
    fetch(srv.url("/f.bin"), dest, sha256=SHA)
    fetch(srv.url("/f.bin"), dest)  # no checksum: an existing dest counts as complete
    assert srv.log == []


def test_dest_with_wrong_checksum_is_replaced(http_server, tmp_path: Path) -> None:
    srv = http_server({"/f.bin": lambda r: send_file(r, DATA)})
    dest = tmp_path / "f.bin"
    dest.write_bytes(b"stale")
    fetch(srv.url("/f.bin"), dest, sha256=SHA)
    assert dest.read_bytes() == DATA and len(srv.log) == 1


def test_resumes_part_with_range(http_server, tmp_path: Path) -> None:
    srv = http_server({"/f.bin": lambda r: send_file(r, DATA)})
    dest = tmp_path / "f.bin"
    dest.with_name("f.bin.part").write_bytes(DATA[:30000])
    fetch(srv.url("/f.bin"), dest, sha256=SHA)
    assert dest.read_bytes() == DATA
    assert srv.log[0][2].get("Range") == "bytes=30000-"


def test_server_ignoring_range_restarts_from_zero(http_server, tmp_path: Path) -> None:
    srv = http_server({"/f.bin": lambda r: send_file(r, DATA, ranges=False)})
    dest = tmp_path / "f.bin"
    dest.with_name("f.bin.part").write_bytes(b"x" * 5000)
    fetch(srv.url("/f.bin"), dest, sha256=SHA)
    assert dest.read_bytes() == DATA


def test_416_on_oversized_part_restarts_cleanly(http_server, tmp_path: Path) -> None:
    srv = http_server({"/f.bin": lambda r: send_file(r, DATA)})
    dest = tmp_path / "f.bin"
    dest.with_name("f.bin.part").write_bytes(b"y" * (len(DATA) + 10))
    fetch(srv.url("/f.bin"), dest, sha256=SHA)
    assert dest.read_bytes() == DATA
    assert [h.get("Range") for _, _, h, _ in srv.log] == [f"bytes={len(DATA) + 10}-", None]


def test_416_on_complete_part_just_verifies(http_server, tmp_path: Path) -> None:
    srv = http_server({"/f.bin": lambda r: send_file(r, DATA)})
    dest = tmp_path / "f.bin"
    dest.with_name("f.bin.part").write_bytes(DATA)
    fetch(srv.url("/f.bin"), dest, sha256=SHA)
    assert dest.read_bytes() == DATA and len(srv.log) == 1


def test_truncated_transfer_leaves_resumable_part(http_server, tmp_path: Path) -> None:
    state = {"drop": True}

    def route(r):
        if state["drop"]:
            send_file(r, DATA, truncate_at=40000)
        else:
            send_file(r, DATA)

    srv = http_server({"/f.bin": route})
    dest = tmp_path / "f.bin"
    part = dest.with_name("f.bin.part")
    with pytest.raises(DownloadError) as exc:
        fetch(srv.url("/f.bin"), dest, sha256=SHA, retries=0)
    msg = _one_line(exc)
    assert "interrupted" in msg and "resume" in msg
    assert not dest.exists()
    assert part.read_bytes() == DATA[:40000]

    state["drop"] = False
    fetch(srv.url("/f.bin"), dest, sha256=SHA)
    assert dest.read_bytes() == DATA and not part.exists()
    assert srv.log[-1][2].get("Range") == "bytes=40000-"


def test_truncation_is_resumed_within_one_call(http_server, tmp_path: Path) -> None:
    calls = []

    def route(r):
        calls.append(r.headers.get("Range"))
        send_file(r, DATA, truncate_at=25000 if len(calls) < 3 else None)

    srv = http_server({"/f.bin": route})
    dest = tmp_path / "f.bin"
    fetch(srv.url("/f.bin"), dest, sha256=SHA, retries=2)
    assert dest.read_bytes() == DATA
    assert calls == [None, "bytes=25000-", "bytes=50000-"]


def test_retries_count_only_failures_without_progress(http_server, tmp_path: Path) -> None:
    calls = []

    def route(r):
        calls.append(r.headers.get("Range"))
        send_file(r, DATA, truncate_at=10000)  # progress every time: 10 requests in all

    srv = http_server({"/f.bin": route})
    dest = tmp_path / "f.bin"
    dest.with_name("f.bin.part").write_bytes(DATA[:2400])
    fetch(srv.url("/f.bin"), dest, sha256=SHA, retries=1)
    assert dest.read_bytes() == DATA and len(calls) == 10 and calls[0] == "bytes=2400-"


def test_always_truncating_server_fails_after_retries(http_server, tmp_path: Path) -> None:
    srv = http_server({"/f.bin": lambda r: send_file(r, DATA, ranges=False, truncate_at=1000)})
    with pytest.raises(DownloadError, match="interrupted"):
        fetch(srv.url("/f.bin"), tmp_path / "f.bin", retries=2)
    assert len(srv.log) == 3


def test_http_error_hides_query_and_userinfo(http_server, tmp_path: Path) -> None:
    srv = http_server({})
    url = srv.url("/missing.zip?token=SECRETTOKEN").replace("http://", "http://bob:hunter2@")
    with pytest.raises(DownloadError) as exc:
        fetch(url, tmp_path / "m.zip")
    msg = _one_line(exc)
    assert "404" in msg and "/missing.zip" in msg
    assert "SECRETTOKEN" not in msg and "hunter2" not in msg and "bob" not in msg


def test_refused_connection_is_one_line(tmp_path: Path) -> None:
    with socket.socket() as s:  # a port that was free a moment ago: nothing listens there
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(DownloadError) as exc:
        fetch(f"http://127.0.0.1:{port}/x.zip", tmp_path / "x.zip", retries=0, timeout=5)
    assert _one_line(exc) == f"http://127.0.0.1:{port}/x.zip: download of x.zip failed (no connection: ConnectionError)"
    assert not (tmp_path / "x.zip.part").exists() or (tmp_path / "x.zip.part").stat().st_size == 0


def test_redirect_refused_when_not_allowed(http_server, tmp_path: Path) -> None:
    srv = http_server({"/f": lambda r: send_bytes(r, b"", status=302, headers={"Location": "/login?next=abc"})})
    with pytest.raises(DownloadError, match="redirected"):
        fetch(srv.url("/f"), tmp_path / "f", allow_redirects=False)


def test_redirect_followed_by_default(http_server, tmp_path: Path) -> None:
    srv = http_server({
        "/a": lambda r: send_bytes(r, b"", status=302, headers={"Location": "/b"}),
        "/b": lambda r: send_file(r, DATA),
    })
    fetch(srv.url("/a"), tmp_path / "f", sha256=SHA)
    assert (tmp_path / "f").read_bytes() == DATA


def test_safe_url() -> None:
    assert safe_url("https://u:p@h.org:8080/a/b.zip?sig=x#frag") == "https://h.org:8080/a/b.zip"


# --- srseg.io.extract_archive ----------------------------------------------------------------


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
