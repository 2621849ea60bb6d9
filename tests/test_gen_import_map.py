"""scripts/gen_import_map.py against real wheels built here and served by tests/pyindex.py over HTTP
with Range support, as PyPI serves them: what it derives from a wheel's file list, top_level.txt and
METADATA, that it reads them by range only, and the table it writes (which depslim.mapping accepts).
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
import urllib.error
import zipfile
from collections.abc import Iterator
from email.parser import HeaderParser
from pathlib import Path
from types import ModuleType

import pytest
from helpers import build_wheel
from pyindex import Index, _byte_range, serve_index

from depslim.mapping import parse_index

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "gen_import_map.py"


@pytest.fixture(scope="module")
def gen() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gen_import_map", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["gen_import_map"] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def _with_headers(wheel: Path, headers: str, description: bytes = b"") -> None:
    """Rewrite the wheel's METADATA with more header lines and a body (PEP 794 fields, a long README)."""
    with zipfile.ZipFile(wheel) as zf:
        entries = {info.filename: zf.read(info) for info in zf.infolist()}
    meta = next(n for n in entries if n.endswith(".dist-info/METADATA"))
    entries[meta] = entries[meta].rstrip(b"\n") + b"\n" + headers.encode() + b"\n" + description
    with zipfile.ZipFile(wheel, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in entries.items():
            zf.writestr(name, data)


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Index]:
    root = tmp_path_factory.mktemp("wheels")
    build_wheel(root, "Py-Thing", "1.0", files={"oldthing/__init__.py": ""})
    build_wheel(root, "Py-Thing", "2.0", top_level=["thing", "tests", "_thing_speedups"], files={
        "thing/__init__.py": "x = 1\n",
        "thing/sub/__init__.py": "",
        "thing/big.bin": os.urandom(300_000),  # incompressible: the wheel is far bigger than what is read
        "_thing_speedups.cpython-311-x86_64-linux-gnu.so": b"\x7fELF",
        "tests/__init__.py": "",
        "shared_ns/part_a/__init__.py": "",
        "Py_Thing-2.0.data/purelib/thing_extra.py": "",
        "Py_Thing-2.0.data/scripts/thing-tool": "#!/bin/sh\n",
        "share/doc/thing/README.txt": "data, not code",
        "thing.libs/libthing-1a2b.so.1": b"\x7fELF",
    })
    build_wheel(root, "other-ns", "1.0", files={"shared_ns/part_b/__init__.py": ""})
    build_wheel(root, "thing-fork", "1.0", files={"thing/__init__.py": ""})
    declared = build_wheel(root, "declared-names", "3.0", files={"dn_impl/__init__.py": "", "dn/__init__.py": ""})
    readme = b"\n" + os.urandom(200_000).hex().encode()  # a long description: 200+ KB compressed
    _with_headers(declared, "Import-Name: dn\nImport-Name: dn_impl; private\n", readme)
    (root / "only_sdist-1.0.tar.gz").write_bytes(b"not really a tarball")
    with serve_index(root) as served:
        yield served


def test_the_index_server_answers_ranges_as_pypi_does() -> None:
    assert _byte_range(None, 100) is None
    assert _byte_range("bytes=-10", 100) == range(90, 100)
    assert _byte_range("bytes=5-", 100) == range(5, 100)
    assert _byte_range("bytes=5-9", 100) == range(5, 10)
    assert _byte_range("bytes=90-500", 100) == range(90, 100)
    assert not _byte_range("bytes=200-", 100)  # 416


def test_one_wheel_is_read_by_range_only_and_its_names_derived(gen: ModuleType, index: Index) -> None:
    before = len(index.ranges)
    record = gen.lookup("py-thing", [gen.Source("simple", index.url)], remote_ok=True, timeout=10)
    assert (record["status"], record["version"], record["from"]) == ("ok", "2.0", "files")
    modules = record["modules"]
    assert modules["thing"] is False and modules["thing.sub"] is False
    assert modules["thing_extra"] is False  # .data/purelib installs at the site root
    assert modules["shared_ns"] is True and modules["shared_ns.part_a"] is False  # a PEP 420 portion
    assert {"tests", "_thing_speedups"} <= modules.keys()  # raw facts; the table drops them
    assert not {"share", "thing-tool", "oldthing", "thing.libs"} & modules.keys()
    ranges = index.ranges[before:]
    assert ranges and all(r and r.startswith("bytes=") for r in ranges)
    assert record["fetched_bytes"] == sum(index.sent[before:]) < record["wheel_bytes"] / 3


def test_import_name_metadata_wins_and_only_its_headers_are_read(gen: ModuleType, index: Index) -> None:
    record = gen.lookup("declared-names", [gen.Source("simple", index.url)], remote_ok=True, timeout=10)
    assert (record["from"], record["modules"]) == ("metadata", {"dn": False})
    assert record["fetched_bytes"] < record["wheel_bytes"] / 2  # the long description stays unread


def test_derive_reads_pep_794_fields(gen: ModuleType) -> None:
    def headers(text: str) -> object:
        return HeaderParser().parsestr(f"Metadata-Version: 2.5\nName: x\nVersion: 1\n{text}\n")

    derived = gen.derive([], headers("Import-Name: ns.bar\nImport-Namespace: ns\nImport-Name: _x; private"), None, None)
    assert derived == ("metadata", {"ns": True, "ns.bar": False})
    assert gen.derive([], headers("Import-Name:"), None, None) == ("metadata", {})  # nothing to import
    only_private = gen.derive([], headers("Import-Name: _speedups; private"), None, None)
    assert only_private == ("metadata", {"_speedups": False})
    # no importable file at all: top_level.txt is the fallback
    assert gen.derive(["lib/libx.so.1"], None, "xmod\n", None) == ("top_level", {"xmod": False})
    # legacy setuptools namespaces ship an __init__.py but say so in namespace_packages.txt
    assert gen.derive(["zz/__init__.py", "zz/a/__init__.py"], None, None, "zz\n")[1]["zz"] is True


def test_the_wheel_picked_is_pure_first_then_cp311_manylinux(gen: ModuleType) -> None:
    def ref(name: str) -> object:
        return gen.FileRef(name, f"https://files.example/{name}")

    files = [ref("x-1.0-cp311-cp311-win_amd64.whl"), ref("x-1.0-cp311-cp311-manylinux_2_17_x86_64.whl"),
             ref("x-1.0-cp310-cp310-manylinux_2_17_x86_64.whl"), ref("x-1.0.tar.gz")]
    assert gen.pick_wheel(files).filename == "x-1.0-cp311-cp311-manylinux_2_17_x86_64.whl"
    assert gen.pick_wheel([*files, ref("x-1.0-py3-none-any.whl")]).filename == "x-1.0-py3-none-any.whl"
    assert gen.pick_wheel([ref("x-1.0-cp311-cp311-win_amd64.whl")]).filename == "x-1.0-cp311-cp311-win_amd64.whl"
    assert gen.pick_wheel([ref("x-1.0.tar.gz")]) is None
    latest = gen.latest_release([("x-2.0rc1-py3-none-any.whl", "u1", False, None), ("x-1.5-py3-none-any.whl", "u2",
                                 False, None), ("x-1.9-py3-none-any.whl", "u3", True, None)], "idx")
    assert latest.version == "1.5"  # pre-releases and yanked files never count as the latest


def test_a_json_api_answer_gives_the_latest_release_with_absolute_urls(gen: ModuleType) -> None:
    doc = {"info": {"version": "2.0"}, "urls": [
        {"filename": "x-2.0.tar.gz", "url": "../../packages/ab/x-2.0.tar.gz", "size": 10},
        {"filename": "x-2.0-py3-none-any.whl", "url": "https://files.example/x-2.0-py3-none-any.whl", "yanked": True},
    ]}
    release = gen.release_from_json(doc, "json:pypi", 123, "https://mirror.example/pypi/x/json")
    assert (release.version, release.index_bytes) == ("2.0", 123)
    assert [f.url for f in release.files] == ["https://mirror.example/packages/ab/x-2.0.tar.gz"]
    assert gen.pick_wheel(release.files) is None  # sdist-only: recorded, not mapped


def test_transient_errors_are_retried_and_others_fail_at_once(gen: ModuleType) -> None:
    class Flaky:
        remote = True

        def __init__(self, error: Exception, times: int) -> None:
            self.error, self.times = error, times

        def release(self, name: str, timeout: float) -> None:
            if self.times:
                self.times -= 1
                raise self.error

    flaky = Flaky(urllib.error.URLError("connection reset"), 2)
    assert gen.lookup_with_retries("x", [flaky], remote_ok=True, timeout=1, retries=3, sleep=lambda _: None) == {
        "name": "x", "status": "not-found"}
    broken = Flaky(ValueError("bad JSON"), 1)
    failed = gen.lookup_with_retries("x", [broken], remote_ok=True, timeout=1, retries=3, sleep=lambda _: None)
    assert failed["status"] == "failed" and "bad JSON" in failed["error"] and broken.times == 0
    assert gen.lookup("x", [flaky], remote_ok=False, timeout=1) == {"name": "x", "status": "skipped"}


def test_the_written_table_is_what_the_mapper_reads_and_a_rerun_resumes(
    gen: ModuleType, index: Index, tmp_path: Path
) -> None:
    out, cache = tmp_path / "import_names.json", tmp_path / "cache"
    argv = ["--names", "py-thing,other-ns,thing-fork,declared-names,only-sdist,nowhere", "--source",
            f"simple:{index.url}", "--cache", str(cache), "--out", str(out), "--workers", "4"]
    assert gen.main(argv) == 0
    doc = json.loads(out.read_text())
    table = parse_index(doc)
    assert table.names["thing"] == ("py-thing", "thing-fork")  # ambiguous
    assert doc["names"]["thing"] == {"ambiguous": ["py-thing", "thing-fork"]}
    assert table.names["thing.sub"] == ("py-thing",)  # narrows its ambiguous parent
    assert table.names["thing_extra"] == ("py-thing",)
    assert table.names["dn"] == ("declared-names",) and "dn_impl" not in table.names
    assert "shared_ns" in table.namespaces
    assert table.names["shared_ns.part_a"] == ("py-thing",) and table.names["shared_ns.part_b"] == ("other-ns",)
    assert not {"tests", "_thing_speedups"} & table.names.keys()  # stray folder, private duplicate
    assert doc["sdist_only"] == ["only-sdist"] and doc["failed"] == {}
    assert doc["distributions"]["py-thing"] == ["2.0", "files"]
    assert doc["distributions"]["declared-names"] == ["3.0", "metadata"]
    stats = doc["stats"]
    assert (stats["mapped"], stats["sdist_only"], stats["not_found"], stats["failed"]) == (4, 1, 1, 0)
    assert 0 < stats["wheel_bytes_fetched"] < stats["wheel_bytes_full"]
    requests = len(index.requests)
    assert gen.main(argv) == 0  # everything cached: nothing asked of the index again
    assert len(index.requests) == requests
    assert json.loads(out.read_text())["names"] == doc["names"]
