"""A loopback HTTP server for download tests: 127.0.0.1 only, bounded lifetime, stops itself.

Routes map a path (without query string) to ``fn(req) -> None`` where ``req`` is the
BaseHTTPRequestHandler; helpers below send bytes with optional Range support and truncation.
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
) -> None:
    """Serve ``data``, honouring ``Range: bytes=N-`` when ``ranges``; 416 past the end.

    ``truncate_at`` announces the full length but sends only that many bytes of the body, then
    closes the connection (a dropped transfer).
    """
    start, status, extra = 0, 200, {}
    m = re.match(r"bytes=(\d+)-$", req.headers.get("Range", ""))
    if ranges and m:
        start = int(m.group(1))
        if start >= len(data):
            req.send_response(416)
            req.send_header("Content-Range", f"bytes */{len(data)}")
            req.send_header("Content-Length", "0")
            req.end_headers()
            return
        status = 206
        extra["Content-Range"] = f"bytes {start}-{len(data) - 1}/{len(data)}"
    body = data[start:]
    req.send_response(status)
    for k, v in extra.items():
        req.send_header(k, v)
    req.send_header("Content-Type", "application/octet-stream")
    req.send_header("Content-Length", str(len(body)))
    if truncate_at is not None:
        req.send_header("Connection", "close")
    req.end_headers()
    if truncate_at is None:
        req.wfile.write(body)
    else:
        req.wfile.write(body[:truncate_at])
        req.wfile.flush()
        req.close_connection = True


@pytest.fixture
def http_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[dict[str, Route]], LoopbackServer]]:
    """Factory fixture: ``srv = http_server({"/path": route})``; all servers stop after the test."""
    monkeypatch.setattr("srseg.download.RETRY_DELAY_S", 0.0)  # no back-off against the loopback server
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    with contextlib.ExitStack() as stack:
        yield lambda routes: stack.enter_context(LoopbackServer(routes))
