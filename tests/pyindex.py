"""A real PEP 503 "simple" index on 127.0.0.1, served from wheels the tests build.

Real resolvers (pip-compile, uv, pip) talk to it over HTTP exactly as they talk to PyPI:
`/simple/` lists projects, `/simple/<name>/` lists files with `#sha256=` fragments and
`/files/<file>` serves the bytes — honouring a single HTTP `Range` (`bytes=a-b`, `bytes=a-`,
`bytes=-n`) with `206 Partial Content` as PyPI's file host does, so range readers are tested
against the same protocol. Optional HTTP basic auth lets the credential tests prove that a
secret from `${VAR}` reached the index but never the lock file.
"""

from __future__ import annotations

import base64
import hashlib
import html
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote

from packaging.utils import canonicalize_name, parse_sdist_filename, parse_wheel_filename


def _project_of(filename: str) -> str:
    if filename.endswith(".whl"):
        return str(parse_wheel_filename(filename)[0])
    return str(parse_sdist_filename(filename)[0])


@dataclass
class Index:
    """A running index: `url` is the `/simple` base to give pip/uv."""

    url: str
    root: Path
    server: ThreadingHTTPServer
    requests: list[str]
    ranges: list[str | None] = field(default_factory=list)  # Range header of each /files/ request
    sent: list[int] = field(default_factory=list)  # body bytes of each /files/ response

    @property
    def host(self) -> str:
        return f"{self.server.server_address[0]}:{self.server.server_address[1]}"

    def url_with_auth(self, user: str, password: str) -> str:
        return self.url.replace("http://", f"http://{user}:{password}@", 1)


_RANGE = re.compile(r"bytes=(\d*)-(\d*)")


def _byte_range(header: str | None, size: int) -> range | None:
    """The bytes a `Range` header asks for; None for no (or an unparsable) range, an empty range
    when it cannot be satisfied (416). One range only: range readers never ask for more."""
    match = _RANGE.fullmatch(header.strip()) if header else None
    if match is None or not (match.group(1) or match.group(2)):
        return None
    if not match.group(1):  # suffix: the last n bytes
        return range(max(0, size - int(match.group(2))), size)
    start = int(match.group(1))
    return range(start, min(int(match.group(2)) + 1, size) if match.group(2) else size)


def _handler(index: Index, auth: tuple[str, str] | None) -> type[BaseHTTPRequestHandler]:
    root, log = index.root, index.requests
    expected = None
    if auth is not None:
        expected = "Basic " + base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:  # quiet test output
            return None

        def _send(
            self, status: int, body: bytes, ctype: str = "text/html", extra: dict[str, str] | None = None
        ) -> None:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            for key, value in (extra or {}).items():
                self.send_header(key, value)
            if status == 401:
                self.send_header("WWW-Authenticate", 'Basic realm="test"')
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def do_HEAD(self) -> None:
            self.do_GET()

        def do_GET(self) -> None:
            log.append(self.path)
            if expected is not None and self.headers.get("Authorization") != expected:
                self._send(401, b"unauthorized")
                return
            files = sorted(p for p in root.iterdir() if p.suffix == ".whl" or p.name.endswith(".tar.gz"))
            path = unquote(self.path.split("?", 1)[0])
            if path in ("/simple", "/simple/"):
                names = sorted({_project_of(p.name) for p in files})
                links = "".join(f'<a href="{n}/">{n}</a>\n' for n in names)
                self._send(200, f"<!DOCTYPE html><html><body>\n{links}</body></html>".encode())
                return
            match = re.fullmatch(r"/simple/([^/]+)/?", path)
            if match:
                name = canonicalize_name(match.group(1))
                mine = [p for p in files if _project_of(p.name) == name]
                if not mine:
                    self._send(404, b"not found")
                    return
                links = "".join(
                    f'<a href="../../files/{html.escape(p.name)}#sha256='
                    f'{hashlib.sha256(p.read_bytes()).hexdigest()}">{html.escape(p.name)}</a>\n'
                    for p in mine
                )
                self._send(200, f"<!DOCTYPE html><html><body>\n{links}</body></html>".encode())
                return
            match = re.fullmatch(r"/files/([^/]+)", path)
            if match and (root / match.group(1)).is_file():
                self._send_file(root / match.group(1))
                return
            self._send(404, b"not found")

        def _send_file(self, path: Path) -> None:
            data = path.read_bytes()
            header = self.headers.get("Range")
            index.ranges.append(header)
            wanted = _byte_range(header, len(data))
            octets = "application/octet-stream"
            # counted before sending: the client may have read the body before this thread goes on
            if wanted is None:
                index.sent.append(len(data))
                self._send(200, data, octets, {"Accept-Ranges": "bytes"})
            elif not wanted:
                index.sent.append(0)
                self._send(416, b"", octets, {"Content-Range": f"bytes */{len(data)}"})
            else:
                index.sent.append(len(wanted))
                self._send(206, data[wanted.start : wanted.stop], octets,
                           {"Accept-Ranges": "bytes",
                            "Content-Range": f"bytes {wanted.start}-{wanted.stop - 1}/{len(data)}"})

    return Handler


@contextmanager
def serve_index(root: Path, auth: tuple[str, str] | None = None) -> Iterator[Index]:
    """Serve the wheels in `root` as a PEP 503 index until the context ends."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    host, port = server.server_address[:2]
    index = Index(url=f"http://{host!s}:{port}/simple", root=root, server=server, requests=[])
    server.RequestHandlerClass = _handler(index, auth)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield index
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
