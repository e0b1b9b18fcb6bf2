"""Resumable, checksum-verified HTTP downloads.

:func:`fetch` writes to ``<dest>.part`` and renames it onto ``dest`` only once the download is known to
be complete, so ``dest`` existing means "complete":

- with a checksum (``sha256`` or ``md5``): when the checksum matches;
- without one: when the length is proven, i.e. the bytes match the server's ``Content-Length`` or
  ``Content-Range`` total or the caller's expected ``size``, or a chunked transfer ended with its closing
  chunk (urllib3 raises on a missing one). A server that sends no length and just closes the connection
  proves nothing, so without a checksum such a download is refused and deleted.

Resuming: next to the ``.part`` a JSON sidecar ``<dest>.part.json`` records what the ``.part`` is a part
of, from the response that started it::

    {"url": "<URL without secrets>", "etag": "...", "last_modified": "...", "total": <bytes or null>}

A later attempt continues the ``.part`` with ``Range: bytes=<size>-`` and ``If-Range: <ETag, else
Last-Modified>`` only when the sidecar exists, names the same URL, and a validator or a checksum can catch
a changed remote file; otherwise it starts from zero. A 206 answer must carry the recorded ETag,
Last-Modified and total, and a 200 answer (a server ignoring ``Range``, or saying "changed" to
``If-Range``) restarts from zero.

Error messages, logs and the sidecar name the URL without its query string, fragment or user info (they
can hold tokens).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import requests
from tqdm import tqdm

from srseg.errors import DownloadError
from srseg.io import write_json

log = logging.getLogger(__name__)

CHUNK = 1 << 16
RETRY_DELAY_S = 2.0  # times the retry number: a short back-off before resuming
_HEX = re.compile(r"^[0-9a-fA-F]+$")


def safe_url(url: str) -> str:
    """``url`` without user info, query string and fragment: safe to show in messages."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        if parts.port:
            host = f"{host}:{parts.port}"
        return urlunsplit((parts.scheme, host, parts.path, "", ""))
    except ValueError:
        return "<unparsable URL>"


def file_digest(path: str | Path, algorithm: str = "sha256") -> str:
    """Hex digest of a file, read in chunks."""
    h = hashlib.new(algorithm)
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _expected(sha256: str | None, md5: str | None) -> tuple[str, str] | None:
    """The (algorithm, lower-case hex digest) to verify, validating its form."""
    if sha256 is not None and md5 is not None:
        raise ValueError("give sha256 or md5, not both")
    for algo, value, length in (("sha256", sha256, 64), ("md5", md5, 32)):
        if value is not None:
            value = value.strip()
            if len(value) != length or not _HEX.match(value):
                raise DownloadError(f"not a valid {algo} checksum: {value!r} (expected {length} hex digits)")
            return algo, value.lower()
    return None



class _Truncated(Exception):
    """The transfer stopped early; the .part file holds what arrived."""


class _Restart(Exception):
    """The server cannot continue the .part file; start again from byte 0."""


@dataclass
class _PartOf:
    """What a ``.part`` file is a part of: the contents of its JSON sidecar."""

    url: str  # safe_url of the download
    etag: str | None = None
    last_modified: str | None = None
    total: int | None = None  # the whole file's length, when the server said

    @property
    def validator(self) -> str | None:
        """The ``If-Range`` value: a strong ETag, else Last-Modified (a weak ETag is not allowed there)."""
        if self.etag and not self.etag.startswith("W/"):
            return self.etag
        return self.last_modified

    @classmethod
    def load(cls, path: Path) -> _PartOf | None:
        """The sidecar at ``path``, or None when it is missing or malformed."""
        try:
            d = json.loads(path.read_text())
            info = cls(d["url"], d.get("etag"), d.get("last_modified"), d.get("total"))
        except (OSError, ValueError, KeyError, TypeError):
            return None
        texts_ok = all(isinstance(v, str) for v in (info.url, info.etag or "", info.last_modified or ""))
        total_ok = info.total is None or (type(info.total) is int and info.total >= 0)
        return info if texts_ok and total_ok else None

    def changed(self, resp: requests.Response, total: int | None) -> bool:
        """Whether a 206 answer's ETag, Last-Modified or total differ from the recorded ones."""
        pairs = ((resp.headers.get("ETag"), self.etag), (resp.headers.get("Last-Modified"), self.last_modified),
                 (total, self.total))
        return any(new is not None and old is not None and new != old for new, old in pairs)


def fetch(
    url: str,
    dest: str | Path,
    sha256: str | None = None,
    session: requests.Session | None = None,
    desc: str | None = None,
    timeout: float = 60,
    *,
    md5: str | None = None,
    size: int | None = None,
    retries: int = 2,
    allow_redirects: bool = True,
) -> Path:
    """Download ``url`` to ``dest`` (resumable, verified) and return ``dest``.

    - an existing ``dest`` is kept when it matches the checksum (or when no checksum is given) and
      ``size``; one that does not is downloaded again;
    - an existing ``dest.part`` is continued when its sidecar allows (see the module docstring);
      a 206 answer appends, a 200 (range ignored, or file changed) or 416 answer restarts from zero;
    - ``size``: the expected length in bytes, when known: the progress bar's total when the server
      sends none, and a length proof; a server announcing another length is refused;
    - a transfer that ends early (connection closed, fewer bytes than announced) is resumed; after
      ``retries`` failed resumes in a row that brought no new bytes it raises DownloadError, leaving
      the ``.part`` for the next call when it can be resumed;
    - ``sha256`` or ``md5`` (hex) is checked before the rename; a mismatch deletes the ``.part``;
      without either, a download whose length the server did not prove is refused and deleted.
    """
    dest = Path(dest)
    want = _expected(sha256, md5)
    shown = safe_url(url)

    if dest.is_file():
        if size is not None and dest.stat().st_size != size:
            log.warning("%s: %d bytes, not the expected %d; downloading again", dest, dest.stat().st_size, size)
            dest.unlink()
        elif want is None:
            log.info("%s: already downloaded", dest)
            return dest
        else:
            got = file_digest(dest, want[0])
            if got == want[1]:
                log.info("%s: already downloaded, %s ok", dest, want[0])
                return dest
            log.warning("%s: %s %s does not match the expected %s; downloading again", dest, want[0], got, want[1])
            dest.unlink()

    dest.parent.mkdir(parents=True, exist_ok=True)
    own_session = session is None
    sess = requests.Session() if session is None else session
    job = _Job(sess, url, dest, desc or dest.name, timeout, allow_redirects, verified=want is not None, size=size)
    try:
        attempt = restarts = best = 0
        while True:
            try:
                proven = job.transfer()
                break
            except _Restart:
                job.discard()
                restarts += 1
                if restarts > 3:  # only a misbehaving server gets here
                    raise DownloadError(f"{shown}: server keeps answering range requests inconsistently") from None
            except _Truncated as exc:
                kept = job.part.stat().st_size if job.part.exists() else 0
                attempt = 1 if kept > best else attempt + 1  # count failures in a row without progress
                best = max(best, kept)
                if attempt > retries:
                    if not kept:
                        raise DownloadError(f"{shown}: download of {dest.name} failed ({exc})") from None
                    if job.resumable() is None:
                        raise DownloadError(
                            f"{shown}: transfer of {dest.name} interrupted ({exc}); nothing kept "
                            f"(no ETag, Last-Modified or checksum to resume it safely)"
                        ) from None
                    raise DownloadError(
                        f"{shown}: transfer of {dest.name} interrupted ({exc}); "
                        f"{kept} bytes kept in {job.part}, run again to resume"
                    ) from None
                log.warning("%s: transfer interrupted (%s); retry %d of %d", dest.name, exc, attempt, retries)
                time.sleep(RETRY_DELAY_S * attempt)
    finally:
        if own_session:
            sess.close()

    if want is not None:
        got = file_digest(job.part, want[0])
        if got != want[1]:
            job.discard()
            raise DownloadError(
                f"{shown}: {want[0]} mismatch for {dest.name}: expected {want[1]}, got {got} (download deleted)"
            )
    elif not proven:
        job.discard()
        raise DownloadError(
            f"{shown}: the server sent no length for {dest.name}, so without a checksum it cannot be told "
            f"complete; give its sha256 (download deleted)"
        )
    os.replace(job.part, dest)
    job.sidecar.unlink(missing_ok=True)
    return dest


def _content_range_total(header: str | None) -> int | None:
    """The total size in a ``Content-Range: bytes a-b/total`` or ``bytes */total`` header."""
    m = re.match(r"^\s*bytes\s+(?:\d+-\d+|\*)/(\d+)\s*$", header or "")
    return int(m.group(1)) if m else None


class _Job:
    """One :func:`fetch`: its ``.part`` file, the sidecar, and one request at a time."""

    def __init__(self, sess: requests.Session, url: str, dest: Path, desc: str, timeout: float,
                 allow_redirects: bool, *, verified: bool, size: int | None) -> None:
        self.sess, self.url, self.shown, self.dest, self.desc = sess, url, safe_url(url), dest, desc
        self.timeout, self.allow_redirects, self.verified, self.size = timeout, allow_redirects, verified, size
        self.part = dest.with_name(dest.name + ".part")
        self.sidecar = dest.with_name(dest.name + ".part.json")

    def discard(self) -> None:
        """Delete the ``.part`` and then its sidecar (never leaves a ``.part`` under another's record)."""
        self.part.unlink(missing_ok=True)
        self.sidecar.unlink(missing_ok=True)

    def resumable(self) -> _PartOf | None:
        """The sidecar of a ``.part`` that may be continued; otherwise both are deleted and None returned."""
        if not self.part.is_file():
            self.sidecar.unlink(missing_ok=True)
            return None
        info = _PartOf.load(self.sidecar)
        if info is None:
            why = "no record of what it is a part of"
        elif info.url != self.shown:
            why = f"it is a part of {info.url}"
        elif info.validator is None and not self.verified:
            why = "no ETag, Last-Modified or checksum to check it against"
        elif info.total is not None and self.part.stat().st_size > info.total:
            why = f"longer than the {info.total} bytes of the file"
        else:
            return info
        log.info("%s: discarding %s (%s)", self.desc, self.part, why)
        self.discard()
        return None

    def _check_size(self, total: int | None) -> None:
        if self.size is not None and total is not None and total != self.size:
            raise DownloadError(
                f"{self.shown}: the server announces {total} bytes for {self.dest.name}, expected {self.size}"
            )

    def transfer(self) -> bool:
        """One request: append to (or restart) the ``.part``; True when its length is proven complete.

        Raises _Truncated (resume), _Restart (start from zero) or DownloadError.
        """
        shown, desc = self.shown, self.desc
        info = self.resumable()
        offset = self.part.stat().st_size if info is not None else 0
        # identity: Content-Length then counts the bytes we write (no transparent gzip decoding)
        headers = {"Accept-Encoding": "identity"}
        if info is not None and offset:
            headers["Range"] = f"bytes={offset}-"
            if info.validator:
                headers["If-Range"] = info.validator
        try:
            resp = self.sess.get(self.url, headers=headers, stream=True, timeout=self.timeout,
                                 allow_redirects=self.allow_redirects)
        except (requests.ConnectionError, requests.Timeout) as exc:
            raise _Truncated(f"no connection: {type(exc).__name__}") from None
        except requests.RequestException as exc:
            raise DownloadError(f"{shown}: request failed ({type(exc).__name__})") from None

        with resp:
            status = resp.status_code
            if status == 416 and info is not None and offset:
                total = _content_range_total(resp.headers.get("Content-Range"))
                if total == offset and info.total in (None, total):
                    return True  # the .part already holds the whole file
                log.info("%s: server cannot continue the partial download; restarting", desc)
                raise _Restart()
            if 300 <= status < 400:
                where = safe_url(resp.headers.get("Location", ""))
                raise DownloadError(f"{shown}: redirected (HTTP {status}) to {where}: login expired or no access?")
            if status in (401, 403):
                raise DownloadError(f"{shown}: access denied (HTTP {status})")
            if status != 200 and status != 206:
                raise DownloadError(f"{shown}: HTTP {status} {resp.reason or ''}".rstrip())

            length = resp.headers.get("Content-Length")
            expect = int(length) if length and length.isdigit() and not resp.headers.get("Content-Encoding") else None
            if status == 206:
                m = re.match(r"^\s*bytes\s+(\d+)-\d+/(\d+|\*)\s*$", resp.headers.get("Content-Range", ""))
                if info is None or not m or int(m.group(1)) != offset:
                    log.info("%s: unexpected Content-Range %r; restarting", desc, resp.headers.get("Content-Range"))
                    raise _Restart()
                total = None if m.group(2) == "*" else int(m.group(2))
                if info.changed(resp, total):
                    log.info("%s: the remote file changed since the partial download; restarting", desc)
                    raise _Restart()
                total = info.total if total is None else total
                self._check_size(total)
                mode, start = "ab", offset
            else:
                if offset:
                    log.info("%s: server ignored the range request or the file changed; restarting from zero", desc)
                total = expect
                self._check_size(total)
                self.discard()  # the old .part goes before the new record is written
                info = _PartOf(shown, resp.headers.get("ETag"), resp.headers.get("Last-Modified"), total)
                write_json(self.sidecar, asdict(info))
                mode, start = "wb", 0

            # count the bytes ourselves: urllib3's own Content-Length check raises on the read that hits
            # the early end and drops the bytes it had buffered in that read
            if hasattr(resp.raw, "enforce_content_length"):
                resp.raw.enforce_content_length = False
            written = 0
            try:
                with open(self.part, mode) as fh, tqdm(
                    total=total if total is not None else self.size, initial=start, desc=desc,
                    unit="B", unit_scale=True, unit_divisor=1024, leave=False,
                ) as bar:
                    for chunk in resp.iter_content(CHUNK):
                        fh.write(chunk)
                        written += len(chunk)
                        bar.update(len(chunk))
            except (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError) as exc:
                raise _Truncated(f"{type(exc).__name__} after {start + written} bytes") from None
            except requests.RequestException as exc:
                raise DownloadError(f"{shown}: transfer failed ({type(exc).__name__})") from None
            except OSError as exc:
                raise DownloadError(f"{self.part}: cannot write the download ({exc.strerror or exc})") from None
            end = start + written
            if expect is not None and written < expect:
                raise _Truncated(f"got {end} of {start + expect} bytes")
            return self._proven(end, total, chunked=bool(getattr(resp.raw, "chunked", False)))

    def _proven(self, end: int, total: int | None, chunked: bool) -> bool:
        """Whether ``end`` bytes are the whole file: checked against the server's total, else ``size``."""
        known = total if total is not None else self.size
        if known is None:
            return chunked  # a finished chunked body is complete; a closed connection proves nothing
        if end < known:
            raise _Truncated(f"got {end} of {known} bytes")
        if end > known:
            self.discard()
            raise DownloadError(
                f"{self.shown}: got {end} bytes for {self.dest.name}, more than the {known} expected (download deleted)"
            )
        return True
