"""Range-read wheel sizing against a real HTTP server on 127.0.0.1 (PEP 503 index with Range)."""

from __future__ import annotations

import html
import os
import re
import threading
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from helpers import build_wheel
from packaging.utils import canonicalize_name, parse_wheel_filename

from depslim.wheelsize import (
    FetchCounter,
    RangeSource,
    WheelLocator,
    project_files,
    read_central_directory,
    target_tags,
    wheel_info,
)


@dataclass
class RangeIndex:
    url: str  # .../simple
    root: Path
    log: list[tuple[str, str | None]] = field(default_factory=list)  # (path, Range header)
    sent: list[int] = field(default_factory=list)

    def file_url(self, name: str) -> str:
        return self.url.rsplit("/simple", 1)[0] + "/files/" + name


def _handler(index: RangeIndex, ranges: bool, json_api: bool) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            return None

        def _send(self, status: int, body: bytes, ctype: str, extra: dict[str, str] | None = None) -> None:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            for k, v in (extra or {}).items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(body)
            index.sent.append(len(body))

        def do_GET(self) -> None:
            index.log.append((self.path, self.headers.get("Range")))
            wheels = sorted(index.root.glob("*.whl"))
            if self.path.startswith("/simple/"):
                project = self.path[len("/simple/"):].strip("/")
                files = [w for w in wheels if canonicalize_name(str(parse_wheel_filename(w.name)[0])) == project]
                if not files:
                    self._send(404, b"not found", "text/plain")
                    return
                if json_api and "application/vnd.pypi.simple.v1+json" in (self.headers.get("Accept") or ""):
                    import json

                    doc = {"meta": {"api-version": "1.1"}, "name": project,
                           "files": [{"filename": w.name, "url": f"../../files/{w.name}", "hashes": {}}
                                     for w in files]}
                    self._send(200, json.dumps(doc).encode(), "application/vnd.pypi.simple.v1+json")
                    return
                links = "".join(f'<a href="../../files/{html.escape(w.name)}">{html.escape(w.name)}</a>\n'
                                for w in files)
                self._send(200, f"<html><body>{links}</body></html>".encode(), "text/html")
                return
            if self.path.startswith("/files/"):
                data = (index.root / self.path[len("/files/"):]).read_bytes()
                header = self.headers.get("Range")
                if ranges and header:
                    m = re.fullmatch(r"bytes=(\d*)-(\d*)", header)
                    assert m
                    if m.group(1) == "":
                        start = max(0, len(data) - int(m.group(2)))
                        end = len(data) - 1
                    else:
                        start = int(m.group(1))
                        end = min(len(data) - 1, int(m.group(2)) if m.group(2) else len(data) - 1)
                    self._send(206, data[start:end + 1], "application/octet-stream",
                               {"Content-Range": f"bytes {start}-{end}/{len(data)}", "Accept-Ranges": "bytes"})
                else:
                    self._send(200, data, "application/octet-stream")
                return
            self._send(404, b"not found", "text/plain")

    return Handler


@contextmanager
def serve_index(root: Path, *, ranges: bool = True, json_api: bool = False) -> Iterator[RangeIndex]:
    """A PEP 503 (or PEP 691) index on 127.0.0.1 serving `root/*.whl`, with HTTP Range support."""
    index = RangeIndex("", root)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(index, ranges, json_api))
    index.url = f"http://127.0.0.1:{server.server_address[1]}/simple"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield index
    finally:
        server.shutdown()
        server.server_close()


def big_wheel(out: Path, name: str = "heavy", version: str = "1.0", **kw: object) -> Path:
    """A wheel dominated by an incompressible 3 MB blob plus many small modules."""
    files: dict[str, str | bytes] = {f"{name}/__init__.py": "VALUE = 1\n", f"{name}/blob.so": os.urandom(3_000_000)}
    files.update({f"{name}/mod{i}.py": f"X = {i}\n" * 40 for i in range(200)})
    return build_wheel(out, name, version, files=files, **kw)  # type: ignore[arg-type]


def zip_sum(path: Path) -> int:
    with zipfile.ZipFile(path) as zf:
        return sum(i.file_size for i in zf.infolist() if not i.filename.endswith("/"))


def test_central_directory_sum_over_http_reads_a_tiny_fraction(tmp_path: Path) -> None:
    wheel = big_wheel(tmp_path / "w", requires=["numpy>=1.20", 'rich; extra == "cli"'], extras=["cli"])
    with serve_index(tmp_path / "w") as index:
        counter = FetchCounter()
        info = wheel_info(index.file_url(wheel.name), counter=counter)
    assert info.installed_bytes == zip_sum(wheel)
    assert info.files == 200 + 1 + 1 + 3  # modules + __init__ + blob + METADATA/WHEEL/RECORD
    assert info.wheel_bytes == wheel.stat().st_size
    assert info.requires == ("numpy>=1.20", 'rich; extra == "cli"')
    assert counter.bytes_fetched < 0.05 * wheel.stat().st_size
    assert all(r is not None for _p, r in index.log)  # only range requests, never the whole file


def test_server_without_range_support_still_gives_the_right_size(tmp_path: Path) -> None:
    wheel = big_wheel(tmp_path / "w")
    with serve_index(tmp_path / "w", ranges=False) as index:
        info = wheel_info(index.file_url(wheel.name))
    assert info.installed_bytes == zip_sum(wheel)


def test_zip64_and_local_paths(tmp_path: Path) -> None:
    path = tmp_path / "z64-1.0-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("z64/a.txt", b"a" * 1000)
        with zf.open("z64/big.bin", "w", force_zip64=True) as handle:
            handle.write(b"\0" * 5000)
    members = read_central_directory(RangeSource(str(path)))
    assert sum(m.file_size for m in members) == 6000
    assert wheel_info(path.as_uri(), metadata=False).installed_bytes == 6000


def test_not_a_zip_is_an_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad-1.0-py3-none-any.whl"
    bad.write_bytes(b"not a zip at all" * 10)
    from depslim.wheelsize import WheelSizeError

    with pytest.raises(WheelSizeError):
        wheel_info(str(bad))


@pytest.mark.parametrize("json_api", [False, True])
def test_locator_picks_best_version_and_platform_tag(tmp_path: Path, json_api: bool) -> None:
    w = tmp_path / "w"
    build_wheel(w, "fast", "1.0", tag="cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64")
    build_wheel(w, "fast", "2.0", tag="cp311-cp311-manylinux_2_28_x86_64")
    build_wheel(w, "fast", "2.0", files={"fast/__init__.py": "any\n"}, tag="py3-none-any")
    build_wheel(w, "fast", "3.0", tag="cp311-cp311-manylinux_2_28_aarch64")
    build_wheel(w, "fast", "4.0", tag="cp312-cp312-manylinux_2_28_x86_64")
    build_wheel(w, "fast", "2.1rc1", tag="py3-none-any")
    with serve_index(w, json_api=json_api) as index:
        loc = WheelLocator(index_urls=(index.url,), platform="linux/amd64", python="3.11")
        best = loc.best("fast")
        assert best is not None and best.filename == "fast-2.0-cp311-cp311-manylinux_2_28_x86_64.whl"
        pinned = loc.best("fast<2")
        assert pinned is not None and pinned.filename.startswith("fast-1.0-")
        arm = WheelLocator(index_urls=(index.url,), platform="linux/arm64", python="3.11").best("fast")
        assert arm is not None and arm.filename.startswith("fast-3.0-")
        assert loc.best("missing-project") is None
        assert len(project_files(index.url, "Fast")) == 6
        accept = [p for p, _r in index.log]
        assert "/simple/fast/" in accept


def test_target_tags_follow_pip_order() -> None:
    tags = [str(t) for t in target_tags("linux/amd64", "3.11")]
    assert tags[0] == "cp311-cp311-manylinux_2_39_x86_64"
    assert "cp311-abi3-manylinux2014_x86_64" in tags and "py3-none-any" in tags
    assert tags.index("cp311-cp311-manylinux_2_28_x86_64") < tags.index("py3-none-any")


def test_locator_honours_requires_python_as_pip_does(monkeypatch: pytest.MonkeyPatch) -> None:
    """xgboost-cpu 3.4.1 ships a py3 wheel but needs Python >= 3.12: on 3.11 pip installs 3.2.0, so a
    swap sized or pinned from 3.4.1 named a release the lock could not resolve."""
    from depslim.wheelsize import IndexFile

    files = [IndexFile("xgboost_cpu-3.2.0-py3-none-manylinux_2_28_x86_64.whl", "u1", requires_python=">=3.10"),
             IndexFile("xgboost_cpu-3.4.1-py3-none-manylinux_2_28_x86_64.whl", "u2", requires_python=">=3.12"),
             IndexFile("xgboost_cpu-3.5.0-py3-none-manylinux_2_28_x86_64.whl", "u3", requires_python="not a spec")]
    for python, expected in (("3.11", "3.5.0"), ("3.12", "3.5.0")):
        loc = WheelLocator(index_urls=(), platform="linux/amd64", python=python)
        monkeypatch.setattr(loc, "candidates", lambda name: files)
        assert loc.best("xgboost-cpu").filename.split("-")[1] == expected  # an unparsable spec is ignored
    loc = WheelLocator(index_urls=(), platform="linux/amd64", python="3.11")
    monkeypatch.setattr(loc, "candidates", lambda name: files[:2])
    assert loc.best("xgboost-cpu").filename.split("-")[1] == "3.2.0"
    assert loc.best("xgboost-cpu==3.4.1") is None


def test_an_index_url_with_credentials_is_read_with_basic_auth_and_never_echoed(tmp_path: Path) -> None:
    """`--extra-index-url https://user:TOKEN@host/simple` (pip's form): urllib read TOKEN@host as a port
    (`InvalidURL: nonnumeric port`, exit 3, the token in the message). The userinfo becomes a Basic
    Authorization header, as pip sends it; a failure names the URL with the credentials masked."""
    from pyindex import serve_index as serve_auth_index

    from depslim.wheelsize import WheelSizeError

    w = tmp_path / "w"
    big_wheel(w, "heavy", "1.0")
    with serve_auth_index(w, auth=("ci", "s3cr3tTOKEN123")) as index:
        loc = WheelLocator(index_urls=(index.url_with_auth("ci", "s3cr3tTOKEN123"),), platform="linux/amd64",
                           python="3.11")
        best = loc.best("heavy")
        assert best is not None and not loc.errors
        assert wheel_info(best.url).installed_bytes == zip_sum(next(w.glob("*.whl")))
        with pytest.raises(WheelSizeError) as caught:
            project_files(index.url_with_auth("ci", "wrongTOKEN456"), "heavy")
        assert "HTTP 401" in str(caught.value) and "wrongTOKEN456" not in str(caught.value)
