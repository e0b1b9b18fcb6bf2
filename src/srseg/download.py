"""Resumable, checksum-verified HTTP downloads.

:func:`fetch` writes to ``<dest>.part`` and renames onto ``dest`` only once the transfer is complete
and its checksum (when given) matches, so ``dest`` existing means "complete". An interrupted
transfer leaves the ``.part`` file, which the next call continues with an HTTP ``Range`` request.

Error messages name the URL without its query string, fragment or user info (they can hold tokens).
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import requests
from tqdm import tqdm

from srseg.errors import DownloadError

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


def fetch(
    url: str,
    dest: str | Path,
    sha256: str | None = None,
    session: requests.Session | None = None,
    desc: str | None = None,
    timeout: float = 60,
    *,
    md5: str | None = None,
    retries: int = 2,
    allow_redirects: bool = True,
) -> Path:
    """Download ``url`` to ``dest`` (resumable, verified) and return ``dest``.

    - an existing ``dest`` is kept when it matches the checksum (or when no checksum is given);
      one that does not match is downloaded again;
    - an existing ``dest.part`` is continued with ``Range: bytes=<size>-``: a 206 answer appends,
      a 200 (range ignored) or 416 (range unsatisfiable) answer restarts from zero;
    - a transfer that ends early (connection closed, fewer bytes than Content-Length) is resumed;
      after ``retries`` failed resumes in a row that brought no new bytes it raises DownloadError,
      leaving the ``.part`` for the next call;
    - ``sha256`` or ``md5`` (hex) is checked before the rename; a mismatch deletes the ``.part``.
    """
    dest = Path(dest)
    part = dest.with_name(dest.name + ".part")
    want = _expected(sha256, md5)
    shown = safe_url(url)

    if dest.is_file():
        if want is None:
            log.info("%s: already downloaded", dest)
            return dest
        got = file_digest(dest, want[0])
        if got == want[1]:
            log.info("%s: already downloaded, %s ok", dest, want[0])
            return dest
        log.warning("%s: %s %s does not match the expected %s; downloading again", dest, want[0], got, want[1])
        dest.unlink()

    dest.parent.mkdir(parents=True, exist_ok=True)
    own_session = session is None
    sess = requests.Session() if session is None else session
    try:
        attempt = restarts = best = 0
        while True:
            try:
                _transfer(sess, url, part, desc or dest.name, timeout, allow_redirects)
                break
            except _Restart:
                part.unlink(missing_ok=True)
                restarts += 1
                if restarts > 3:  # only a misbehaving server gets here
                    raise DownloadError(f"{shown}: server keeps answering range requests inconsistently") from None
            except _Truncated as exc:
                kept = part.stat().st_size if part.exists() else 0
                attempt = 1 if kept > best else attempt + 1  # count failures in a row without progress
                best = max(best, kept)
                if attempt > retries:
                    if not kept:
                        raise DownloadError(f"{shown}: download of {dest.name} failed ({exc})") from None
                    raise DownloadError(
                        f"{shown}: transfer of {dest.name} interrupted ({exc}); "
                        f"{kept} bytes kept in {part}, run again to resume"
                    ) from None
                log.warning("%s: transfer interrupted (%s); retry %d of %d", dest.name, exc, attempt, retries)
                time.sleep(RETRY_DELAY_S * attempt)
    finally:
        if own_session:
            sess.close()

    if want is not None:
        got = file_digest(part, want[0])
        if got != want[1]:
            part.unlink(missing_ok=True)
            raise DownloadError(
                f"{shown}: {want[0]} mismatch for {dest.name}: expected {want[1]}, got {got} (download deleted)"
            )
    os.replace(part, dest)
    return dest


def _content_range_total(header: str | None) -> int | None:
    """The total size in a ``Content-Range: bytes a-b/total`` or ``bytes */total`` header."""
    m = re.match(r"^\s*bytes\s+(?:\d+-\d+|\*)/(\d+)\s*$", header or "")
    return int(m.group(1)) if m else None


def _transfer(
    sess: requests.Session, url: str, part: Path, desc: str, timeout: float, allow_redirects: bool
) -> None:
    """One request: append to (or restart) ``part``; raise _Truncated/_Restart/DownloadError."""
    shown = safe_url(url)
    offset = part.stat().st_size if part.exists() else 0
    # identity: Content-Length then counts the bytes we write (no transparent gzip decoding)
    headers = {"Accept-Encoding": "identity"}
    if offset:
        headers["Range"] = f"bytes={offset}-"
    try:
        resp = sess.get(url, headers=headers, stream=True, timeout=timeout, allow_redirects=allow_redirects)
    except (requests.ConnectionError, requests.Timeout) as exc:
        raise _Truncated(f"no connection: {type(exc).__name__}") from None
    except requests.RequestException as exc:
        raise DownloadError(f"{shown}: request failed ({type(exc).__name__})") from None

    with resp:
        status = resp.status_code
        if status == 416 and offset:
            total = _content_range_total(resp.headers.get("Content-Range"))
            if total == offset:
                return  # the .part already holds the whole file
            log.info("%s: server cannot continue the partial download; restarting", desc)
            raise _Restart()
        if 300 <= status < 400:
            where = safe_url(resp.headers.get("Location", ""))
            raise DownloadError(f"{shown}: redirected (HTTP {status}) to {where}: login expired or no access?")
        if status in (401, 403):
            raise DownloadError(f"{shown}: access denied (HTTP {status})")
        if status != 200 and status != 206:
            raise DownloadError(f"{shown}: HTTP {status} {resp.reason or ''}".rstrip())

        if status == 206:
            m = re.match(r"^\s*bytes\s+(\d+)-\d+/(\d+|\*)\s*$", resp.headers.get("Content-Range", ""))
            if not m or int(m.group(1)) != offset:
                log.info("%s: unexpected Content-Range %r; restarting", desc, resp.headers.get("Content-Range"))
                raise _Restart()
            mode, start = "ab", offset
            total = None if m.group(2) == "*" else int(m.group(2))
        else:
            if offset:
                log.info("%s: server ignored the range request; restarting from zero", desc)
            mode, start = "wb", 0
            total = None
        length = resp.headers.get("Content-Length")
        expect = int(length) if length and length.isdigit() and not resp.headers.get("Content-Encoding") else None
        if total is None and expect is not None:
            total = start + expect

        # count the bytes ourselves: urllib3's own Content-Length check raises on the read that hits
        # the early end and drops the bytes it had buffered in that read
        if hasattr(resp.raw, "enforce_content_length"):
            resp.raw.enforce_content_length = False
        written = 0
        try:
            with open(part, mode) as fh, tqdm(
                total=total, initial=start, desc=desc, unit="B", unit_scale=True, unit_divisor=1024, leave=False
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
            raise DownloadError(f"{part}: cannot write the download ({exc.strerror or exc})") from None
        if expect is not None and written < expect:
            raise _Truncated(f"got {start + written} of {start + expect} bytes")
