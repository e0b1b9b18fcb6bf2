"""srseg.download.fetch against a loopback server (archive extraction: tests/test_archive.py)."""

from __future__ import annotations

import hashlib
import json
import socket
from pathlib import Path

import pytest

import srseg.download
from srseg.download import fetch, safe_url
from srseg.errors import DownloadError
from tests._http import send_bytes, send_file, sequence

DATA = bytes(range(256)) * 400  # 102400 bytes, position-dependent so a misplaced resume shows
SHA = hashlib.sha256(DATA).hexdigest()
MD5 = hashlib.md5(DATA).hexdigest()


def _one_line(exc: pytest.ExceptionInfo[BaseException]) -> str:
    msg = str(exc.value)
    assert "\n" not in msg and msg
    return msg


def _leftover(dest: Path, data: bytes, url: str, **record: object) -> Path:
    """The ``.part`` and sidecar that an interrupted fetch of ``url`` leaves (the module docstring's format)."""
    part = dest.with_name(dest.name + ".part")
    part.write_bytes(data)
    sidecar = {"url": safe_url(url), "etag": None, "last_modified": None, "total": None, **record}
    dest.with_name(dest.name + ".part.json").write_text(json.dumps(sidecar))
    return part


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
    _leftover(dest, DATA[:30000], srv.url("/f.bin"), total=len(DATA))
    fetch(srv.url("/f.bin"), dest, sha256=SHA)
    assert dest.read_bytes() == DATA
    assert srv.log[0][2].get("Range") == "bytes=30000-"


def test_server_ignoring_range_restarts_from_zero(http_server, tmp_path: Path) -> None:
    srv = http_server({"/f.bin": lambda r: send_file(r, DATA, ranges=False)})
    dest = tmp_path / "f.bin"
    _leftover(dest, b"x" * 5000, srv.url("/f.bin"))
    fetch(srv.url("/f.bin"), dest, sha256=SHA)
    assert dest.read_bytes() == DATA
    assert srv.log[0][2].get("Range") == "bytes=5000-"


def test_416_on_oversized_part_restarts_cleanly(http_server, tmp_path: Path) -> None:
    srv = http_server({"/f.bin": lambda r: send_file(r, DATA)})
    dest = tmp_path / "f.bin"
    _leftover(dest, b"y" * (len(DATA) + 10), srv.url("/f.bin"))  # total unknown: ask the server
    fetch(srv.url("/f.bin"), dest, sha256=SHA)
    assert dest.read_bytes() == DATA
    assert [h.get("Range") for _, _, h, _ in srv.log] == [f"bytes={len(DATA) + 10}-", None]


def test_416_on_complete_part_just_verifies(http_server, tmp_path: Path) -> None:
    srv = http_server({"/f.bin": lambda r: send_file(r, DATA)})
    dest = tmp_path / "f.bin"
    _leftover(dest, DATA, srv.url("/f.bin"), total=len(DATA))
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
    _leftover(dest, DATA[:2400], srv.url("/f.bin"))
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


# --- proving a download complete --------------------------------------------------------------


def _leftovers(dest: Path) -> list[str]:
    """Which of ``.part`` and its sidecar exist next to ``dest``."""
    return [s for s in (".part", ".part.json") if dest.with_name(dest.name + s).exists()]


def _gone(dest: Path) -> bool:
    """Neither the file, its .part nor the sidecar is there."""
    return not dest.exists() and not _leftovers(dest)


def test_no_length_and_no_checksum_is_refused(http_server, tmp_path: Path) -> None:
    # the connection closes after 40000 bytes: without a length the client cannot tell that from the end
    srv = http_server({"/f.bin": lambda r: send_file(r, DATA, length=False, truncate_at=40000)})
    dest = tmp_path / "f.bin"
    for _ in range(2):  # the next run does not take it for "already downloaded"
        with pytest.raises(DownloadError) as exc:
            fetch(srv.url("/f.bin"), dest)
        msg = _one_line(exc)
        assert msg.startswith(srv.url("/f.bin")) and "no length" in msg and "sha256" in msg
        assert _gone(dest)
    assert len(srv.log) == 2


def test_no_length_is_accepted_with_a_checksum_or_size(http_server, tmp_path: Path) -> None:
    srv = http_server({"/f.bin": lambda r: send_file(r, DATA, length=False)})
    fetch(srv.url("/f.bin"), tmp_path / "a.bin", sha256=SHA)
    fetch(srv.url("/f.bin"), tmp_path / "b.bin", size=len(DATA))
    assert (tmp_path / "a.bin").read_bytes() == DATA == (tmp_path / "b.bin").read_bytes()
    with pytest.raises(DownloadError, match="more than the 1000 expected"):
        fetch(srv.url("/f.bin"), tmp_path / "c.bin", size=1000)
    assert _gone(tmp_path / "c.bin")


def test_no_length_cut_short_is_caught_by_checksum_and_size(http_server, tmp_path: Path) -> None:
    srv = http_server({"/f.bin": lambda r: send_file(r, DATA, length=False, truncate_at=40000)})
    with pytest.raises(DownloadError, match="sha256 mismatch"):
        fetch(srv.url("/f.bin"), tmp_path / "a.bin", sha256=SHA)
    assert _gone(tmp_path / "a.bin")
    with pytest.raises(DownloadError, match=f"interrupted \\(got 40000 of {len(DATA)} bytes\\)"):
        fetch(srv.url("/f.bin"), tmp_path / "b.bin", size=len(DATA), retries=0)
    assert not (tmp_path / "b.bin").exists()


def test_finished_chunked_body_needs_no_checksum(http_server, tmp_path: Path) -> None:
    srv = http_server({"/f.bin": lambda r: send_file(r, DATA, chunked=True)})
    fetch(srv.url("/f.bin"), tmp_path / "f.bin")
    assert (tmp_path / "f.bin").read_bytes() == DATA


def test_cut_chunked_body_is_resumed_with_if_range(http_server, tmp_path: Path) -> None:
    # urllib3 raises on a chunked body without its closing chunk: the transfer counts as interrupted
    srv = http_server({"/f.bin": sequence(
        lambda r: send_file(r, DATA, chunked=True, truncate_at=3 << 14, etag='"v1"'),
        lambda r: send_file(r, DATA, etag='"v1"'),
    )})
    dest = tmp_path / "f.bin"
    fetch(srv.url("/f.bin"), dest)
    assert dest.read_bytes() == DATA and _leftovers(dest) == []
    assert [(h.get("Range"), h.get("If-Range")) for _, _, h, _ in srv.log] == [(None, None), ("bytes=49152-", '"v1"')]


# --- what a .part file is a part of -----------------------------------------------------------


def test_junk_part_without_a_record_is_not_spliced(http_server, tmp_path: Path) -> None:
    srv = http_server({"/f.bin": lambda r: send_file(r, DATA, etag='"v1"')})
    dest = tmp_path / "f.bin"
    dest.with_name("f.bin.part").write_bytes(b"junk from another download" * 100)
    fetch(srv.url("/f.bin"), dest)
    assert dest.read_bytes() == DATA
    assert srv.log[0][2].get("Range") is None


def test_part_of_another_url_is_not_spliced(http_server, tmp_path: Path) -> None:
    other = bytes(reversed(DATA))
    srv = http_server({"/f.bin": lambda r: send_file(r, DATA, etag='"v1"')})
    dest = tmp_path / "f.bin"
    _leftover(dest, other[:30000], srv.url("/g.bin"), etag='"v1"', total=len(DATA))
    fetch(srv.url("/f.bin"), dest)
    assert dest.read_bytes() == DATA
    assert srv.log[0][2].get("Range") is None


@pytest.mark.parametrize("validator", ["etag", "last_modified"])
def test_changed_remote_file_is_downloaded_anew(http_server, tmp_path: Path, validator: str) -> None:
    new = bytes(reversed(DATA))
    v1, v2 = ('"v1"', '"v2"') if validator == "etag" else ("Mon, 01 Jan 2024 00:00:00 GMT",
                                                           "Tue, 02 Jan 2024 00:00:00 GMT")
    srv = http_server({"/f.bin": sequence(
        lambda r: send_file(r, DATA, truncate_at=30000, **{validator: v1}),
        lambda r: send_file(r, new, **{validator: v2}),  # honours If-Range: 200 with the whole new file
    )})
    dest = tmp_path / "f.bin"
    with pytest.raises(DownloadError, match="run again to resume"):
        fetch(srv.url("/f.bin"), dest, retries=0)
    fetch(srv.url("/f.bin"), dest)
    assert dest.read_bytes() == new
    assert [(h.get("Range"), h.get("If-Range")) for _, _, h, _ in srv.log] == [(None, None), ("bytes=30000-", v1)]


@pytest.mark.parametrize("change", ["etag", "last_modified", "total"])
def test_206_of_a_changed_file_restarts(http_server, tmp_path: Path, change: str) -> None:
    # a server that ignores If-Range and answers 206 from its new file: the answer itself shows the change
    new = bytes(reversed(DATA)) + (b"longer" if change == "total" else b"")
    headers = {"etag": {"etag": '"v2"'}, "last_modified": {"last_modified": "Tue, 02 Jan 2024 00:00:00 GMT"},
               "total": {}}[change]
    record = {"etag": {"etag": '"v1"'}, "last_modified": {"last_modified": "Mon, 01 Jan 2024 00:00:00 GMT"},
              "total": {}}[change]
    srv = http_server({"/f.bin": lambda r: send_file(r, new, if_range=False, **headers)})
    dest = tmp_path / "f.bin"
    _leftover(dest, DATA[:30000], srv.url("/f.bin"), total=len(DATA), **record)
    fetch(srv.url("/f.bin"), dest, sha256=hashlib.sha256(new).hexdigest())
    assert dest.read_bytes() == new
    assert [h.get("Range") for _, _, h, _ in srv.log] == ["bytes=30000-", None]


def test_sidecar_records_the_part_without_secrets(http_server, tmp_path: Path) -> None:
    lm = "Mon, 01 Jan 2024 00:00:00 GMT"
    srv = http_server({"/f.bin": sequence(
        lambda r: send_file(r, DATA, truncate_at=30000, etag='"v1"', last_modified=lm),
        lambda r: send_file(r, DATA, etag='"v1"', last_modified=lm),
    )})
    url = srv.url("/f.bin?token=SECRETTOKEN").replace("http://", "http://bob:hunter2@")
    dest = tmp_path / "f.bin"
    with pytest.raises(DownloadError):
        fetch(url, dest, retries=0)
    text = dest.with_name("f.bin.part.json").read_text()
    assert json.loads(text) == {"url": srv.url("/f.bin"), "etag": '"v1"', "last_modified": lm, "total": len(DATA)}
    assert "SECRETTOKEN" not in text and "hunter2" not in text and "bob" not in text
    fetch(url, dest)
    assert dest.read_bytes() == DATA and _leftovers(dest) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.bin"]


def test_unresumable_part_is_not_kept(http_server, tmp_path: Path) -> None:
    # no ETag, no Last-Modified, no checksum: nothing could tell a changed remote file on resuming
    srv = http_server({"/f.bin": sequence(lambda r: send_file(r, DATA, truncate_at=30000),
                                          lambda r: send_file(r, DATA))})
    dest = tmp_path / "f.bin"
    with pytest.raises(DownloadError) as exc:
        fetch(srv.url("/f.bin"), dest, retries=0)
    assert "nothing kept" in _one_line(exc) and "resume" not in str(exc.value).split("nothing kept")[0]
    assert _gone(dest)
    fetch(srv.url("/f.bin"), dest)
    assert dest.read_bytes() == DATA and [h.get("Range") for _, _, h, _ in srv.log] == [None, None]


# --- the expected size and the progress bar ---------------------------------------------------


@pytest.fixture
def bar_totals(monkeypatch: pytest.MonkeyPatch) -> list[int | None]:
    """The ``total`` of every progress bar fetch opens."""
    totals: list[int | None] = []
    real = srseg.download.tqdm

    def recording(*args, **kwargs):
        totals.append(kwargs.get("total"))
        return real(*args, **kwargs)

    monkeypatch.setattr(srseg.download, "tqdm", recording)
    return totals


def test_bar_total_from_the_expected_size(http_server, tmp_path: Path, bar_totals: list[int | None]) -> None:
    srv = http_server({"/f.bin": lambda r: send_file(r, DATA, length=False)})
    fetch(srv.url("/f.bin"), tmp_path / "f.bin", sha256=SHA, size=len(DATA))
    assert bar_totals == [len(DATA)]


def test_bar_total_and_length_proof_from_the_sidecar(http_server, tmp_path: Path,
                                                     bar_totals: list[int | None]) -> None:
    # the 206 answer says "bytes 30000-102399/*" and sends no Content-Length: the recorded total proves the end
    srv = http_server({"/f.bin": lambda r: send_file(r, DATA, length=False, etag='"v1"')})
    dest = tmp_path / "f.bin"
    _leftover(dest, DATA[:30000], srv.url("/f.bin"), etag='"v1"', total=len(DATA))
    fetch(srv.url("/f.bin"), dest)
    assert dest.read_bytes() == DATA and bar_totals == [len(DATA)]
    assert srv.log[0][2].get("If-Range") == '"v1"'


def test_other_announced_length_than_size_is_refused(http_server, tmp_path: Path) -> None:
    srv = http_server({"/f.bin": lambda r: send_file(r, DATA)})
    dest = tmp_path / "f.bin"
    with pytest.raises(DownloadError) as exc:
        fetch(srv.url("/f.bin"), dest, size=len(DATA) + 1)
    assert f"announces {len(DATA)} bytes for f.bin, expected {len(DATA) + 1}" in _one_line(exc)
    assert _gone(dest)
    dest.write_bytes(DATA[:10])  # an existing file of the wrong size is downloaded again
    fetch(srv.url("/f.bin"), dest, size=len(DATA))
    assert dest.read_bytes() == DATA


def test_div2k_download_passes_its_size(http_server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import srseg.sr.data as data

    srv = http_server({"/div2k/DIV2K_valid_HR.zip": lambda r: send_file(r, DATA)})
    monkeypatch.setattr(data, "DIV2K_URL", srv.url("/div2k/"))
    monkeypatch.setattr(data, "DIV2K_FILES", {"DIV2K_valid_HR": (len(DATA) - 1, SHA)})
    with pytest.raises(DownloadError, match=f"announces {len(DATA)} bytes for DIV2K_valid_HR.zip, expected"):
        data._div2k_folder("DIV2K_valid_HR", None, tmp_path)
