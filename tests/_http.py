"""A loopback HTTP server for download tests: 127.0.0.1 only, bounded lifetime, stops itself.

Routes map a path (without query string) to ``fn(req) -> None`` where ``req`` is the
BaseHTTPRequestHandler; helpers below send bytes with optional Range/If-Range support, validators,
no length or chunked bodies, and truncation, and :func:`sequence` serves a file that changes.
Every request is recorded in ``server.log`` as ``(method, path_with_query, headers, body)``; a
route finds the request body in ``req.body``.
"""

from __future__ import annotations

import contextlib
import re
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import pytest

Route = Callable[[BaseHTTPRequestHandler], None]
LIFETIME_S = 60.0


class LoopbackServer:
    def __init__(self, routes: dict[str, Route]) -> None:
        self.routes = routes
        self.log: list[tuple[str, str, dict[str, str], bytes]] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _dispatch(self, method: str) -> None:
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n) if n else b""
                self.body = body
                owner.log.append((method, self.path, dict(self.headers), body))
                route = owner.routes.get(urlsplit(self.path).path)
                if route is None:
                    send_bytes(self, b"not found", status=404)
                else:
                    route(self)

            def do_GET(self) -> None:  # noqa: N802
                self._dispatch("GET")

            def do_POST(self) -> None:  # noqa: N802
                self._dispatch("POST")

            def log_message(self, *args: object) -> None:  # keep test output quiet
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self._thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._timer = threading.Timer(LIFETIME_S, self.httpd.shutdown)  # bounded even if a test hangs
        self._timer.daemon = True

    def url(self, path: str) -> str:
        return self.base + path

    def requests_to(self, path: str) -> list[tuple[str, str, dict[str, str], bytes]]:
        return [r for r in self.log if urlsplit(r[1]).path == path]

    def __enter__(self) -> LoopbackServer:
        self._thread.start()
        self._timer.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._timer.cancel()
        self.httpd.shutdown()
        self.httpd.server_close()
        self._thread.join(timeout=5)


def send_bytes(
    req: BaseHTTPRequestHandler, data: bytes, status: int = 200, headers: dict[str, str] | None = None
) -> None:
    """A complete response with Content-Length."""
    req.send_response(status)
    for k, v in (headers or {}).items():
        req.send_header(k, v)
    req.send_header("Content-Length", str(len(data)))
    req.end_headers()
    req.wfile.write(data)


def send_file(
    req: BaseHTTPRequestHandler,
    data: bytes,
    *,
    ranges: bool = True,
    truncate_at: int | None = None,
    length: bool = True,
    chunked: bool = False,
    etag: str | None = None,
    last_modified: str | None = None,
    if_range: bool = True,
) -> None:
    """Serve ``data``, honouring ``Range: bytes=N-`` when ``ranges``; 416 past the end.

    - ``etag``, ``last_modified``: validators sent with every answer. A range request whose ``If-Range``
      matches neither gets the whole file (200), unless ``if_range`` is False (a server ignoring it);
    - ``length=False``: no Content-Length (and ``*`` as the Content-Range total): the body ends when the
      connection closes, so a client cannot tell a cut-off body from a complete one;
    - ``chunked``: ``Transfer-Encoding: chunked`` instead of a Content-Length;
    - ``truncate_at``: send only that many bytes of the body, then close the connection (a dropped
      transfer; chunked: without the closing chunk). The full length is still announced.
    """
    start, status, extra = 0, 200, {}
    m = re.match(r"bytes=(\d+)-$", req.headers.get("Range", ""))
    validator = req.headers.get("If-Range")
    if m and validator is not None and if_range and validator not in (etag, last_modified):
        m = None  # the file changed: RFC 9110 13.1.5 says send all of it
    if ranges and m:
        start = int(m.group(1))
        if start >= len(data):
            req.send_response(416)
            req.send_header("Content-Range", f"bytes */{len(data)}")
            req.send_header("Content-Length", "0")
            req.end_headers()
            return
        status = 206
        extra["Content-Range"] = f"bytes {start}-{len(data) - 1}/{len(data) if length else '*'}"
    if etag is not None:
        extra["ETag"] = etag
    if last_modified is not None:
        extra["Last-Modified"] = last_modified
    body = data[start:]
    req.send_response(status)
    for k, v in extra.items():
        req.send_header(k, v)
    req.send_header("Content-Type", "application/octet-stream")
    if chunked:
        req.send_header("Transfer-Encoding", "chunked")
    elif length:
        req.send_header("Content-Length", str(len(body)))
    close = truncate_at is not None or not (chunked or length)
    if close:
        req.send_header("Connection", "close")
    req.end_headers()
    sent = body if truncate_at is None else body[:truncate_at]
    if chunked:
        for i in range(0, len(sent), 1 << 14):
            piece = sent[i:i + (1 << 14)]
            req.wfile.write(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
        if truncate_at is None:
            req.wfile.write(b"0\r\n\r\n")
    else:
        req.wfile.write(sent)
    if close:
        req.wfile.flush()
        req.close_connection = True


def sequence(*routes: Route) -> Route:
    """A route that answers the n-th request with ``routes[n]`` (the last one repeats): a changing file."""
    served: list[int] = []

    def route(req: BaseHTTPRequestHandler) -> None:
        n = min(len(served), len(routes) - 1)
        served.append(n)
        routes[n](req)

    return route


@pytest.fixture
def http_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[dict[str, Route]], LoopbackServer]]:
    """Factory fixture: ``srv = http_server({"/path": route})``; all servers stop after the test."""
    monkeypatch.setattr("srseg.download.RETRY_DELAY_S", 0.0)  # no back-off against the loopback server
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    with contextlib.ExitStack() as stack:
        yield lambda routes: stack.enter_context(LoopbackServer(routes))


@contextlib.contextmanager
def serve_folder(root: str, lifetime_s: float = 300.0) -> Iterator[tuple[str, list[str]]]:
    """Serve the files under ``root`` read-only (GET and HEAD, with directory listings) on 127.0.0.1, as a static
    web server publishes a folder; yields the base URL and the list of request lines it answered."""
    from http.server import SimpleHTTPRequestHandler

    log: list[str] = []

    class Handler(SimpleHTTPRequestHandler):
        def __init__(self, *args: object, **kwargs: object) -> None:
            super().__init__(*args, directory=root, **kwargs)  # type: ignore[arg-type]

        def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
            log.append(f"{self.requestline} {code}")

        def log_message(self, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    timer = threading.Timer(lifetime_s, httpd.shutdown)  # bounded even if a test hangs
    timer.daemon = True
    thread.start()
    timer.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", log
    finally:
        timer.cancel()
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)
