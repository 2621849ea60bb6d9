"""A real PEP 503 "simple" index on 127.0.0.1, served from wheels the tests build.

Real resolvers (pip-compile, uv, pip) talk to it over HTTP exactly as they talk to PyPI:
`/simple/` lists projects, `/simple/<name>/` lists files with `#sha256=` fragments and
`/files/<file>` serves the bytes. Optional HTTP basic auth lets the credential tests prove
that a secret from `${VAR}` reached the index but never the lock file.
"""

from __future__ import annotations

import base64
import hashlib
import html
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
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

    @property
    def host(self) -> str:
        return f"{self.server.server_address[0]}:{self.server.server_address[1]}"

    def url_with_auth(self, user: str, password: str) -> str:
        return self.url.replace("http://", f"http://{user}:{password}@", 1)


def _handler(root: Path, auth: tuple[str, str] | None, log: list[str]) -> type[BaseHTTPRequestHandler]:
    expected = None
    if auth is not None:
        expected = "Basic " + base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:  # quiet test output
            return None

        def _send(self, status: int, body: bytes, ctype: str = "text/html") -> None:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
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
                self._send(200, (root / match.group(1)).read_bytes(), "application/octet-stream")
                return
            self._send(404, b"not found")

    return Handler


@contextmanager
def serve_index(root: Path, auth: tuple[str, str] | None = None) -> Iterator[Index]:
    """Serve the wheels in `root` as a PEP 503 index until the context ends."""
    log: list[str] = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(root, auth, log))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        host, port = server.server_address[:2]
        yield Index(url=f"http://{host}:{port}/simple", root=root, server=server, requests=log)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
