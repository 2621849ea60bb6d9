"""Generate `src/depslim/data/import_names.json`: import name → the distributions whose wheels provide it.

Why: when the target (an image, another venv) does not have a package installed, depslim cannot read
its RECORD, and the import name alone is a poor guess (`sklearn`, `cv2`, `PIL`, `yaml`, `bs4`, `jwt`…).
This script reads what the wheels themselves say, and only their metadata: nothing is installed,
nothing run, no wheel downloaded in full.

For each distribution (the most downloaded ones from a ranked list, and/or names given):

1. the latest release's files, from PyPI's JSON API (`json:` source) or a PEP 691/503 simple index
   (`simple:` source, also `file://` mirrors); a release with only an sdist is recorded as
   "sdist-only, not mapped";
2. one wheel: py3-none-any first (its file list is the same everywhere), else the best tag a CPython
   3.11 on manylinux x86_64 accepts, else any wheel;
3. with HTTP range requests only (`depslim.wheelsize`: `RangeSource`, `read_central_directory`,
   `read_member`): the zip central directory (the file list), then `*.dist-info/top_level.txt`,
   `namespace_packages.txt` and the METADATA headers (PEP 794 `Import-Name` / `Import-Namespace`).
   The dist-info members sit at the end of a wheel, so they usually arrive with the directory.

Names come from Import-Name when the wheel declares it (source "metadata"), else from the importable
modules and packages in the file list (source "files"), else from top_level.txt (source "top_level").
Dotted prefixes are kept to depth 3 (as `depslim.mapping.module_index` indexes RECORD), but only where
they tell more than their parent: under a namespace (`google.cloud.storage`) or where the parent is
shared by several distributions. Dropped: the stray top-level folders wheels ship by mistake (the
`stray_top_level` list of `data/verify.toml`: tests, docs, scripts…), dunder names, and `_private`
names of a wheel that also has a public one (pyyaml's `_yaml`, cffi's `_cffi_backend`). A name two or
more distributions provide is written as {"ambiguous": [...]}; a name two or more wheels ship as a
namespace portion (no `__init__`, or listed as a namespace) goes to "namespaces": it owns nothing.

Refresh the data (each distribution is one index request and one to three range requests, about a
second; with 16 threads 10,000 distributions should take 10-20 minutes. An interrupted run resumes from
its cache, failures are retried on the next run, `--refresh` ignores the cache):

    python scripts/gen_import_map.py --list pypi.tsv --top 10000

`--list` is a tab-separated ranking of PyPI projects whose header names a `name` column and a `rank…`
column (most downloaded first). The data file's "command" and "sources" say how the committed table
was made. More options: `--names a,b`, `--source simple:URL` (repeatable, tried in order; e.g. a local
mirror before `json:pypi`), `--remote-names` (only these names may be asked of http(s) sources; the
rest count as "skipped"), `--workers`, `--cache`, `--out`. The summary printed at the end, like the
file's "stats", says how many bytes were read against the wheels' full sizes.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import posixpath
import re
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import zlib
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from email.message import Message
from email.parser import HeaderParser
from pathlib import Path
from typing import Any

from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    canonicalize_name,
    parse_sdist_filename,
    parse_wheel_filename,
)
from packaging.version import Version

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT / "src") not in sys.path:  # run from a checkout whether or not depslim is installed
    sys.path.insert(0, str(ROOT / "src"))

from depslim.cachedir import cache_root  # noqa: E402
from depslim.knowledge import load_data  # noqa: E402
from depslim.mapping import MAX_DEPTH  # noqa: E402
from depslim.wheelsize import (  # noqa: E402
    PYPI_SIMPLE,
    FetchCounter,
    RangeSource,
    WheelSizeError,
    ZipMember,
    project_files,
    read_central_directory,
    read_member,
    target_tags,
)

OUT = ROOT / "src" / "depslim" / "data" / "import_names.json"
PYPI_JSON = PYPI_SIMPLE.rsplit("/simple", 1)[0] + "/pypi"
FORMAT = 1
USER_AGENT = "depslim-gen-import-map (+https://github.com/depslim)"
CODE_SUFFIXES = (".py", ".pyc", ".so", ".pyd")  # what makes a folder importable code, not data
HEADERS_CHUNK = 16_384  # METADATA is read up to the end of its headers (rarely over 4 KB), this much at a time
SPAN_LIMIT = 1 << 20  # dist-info members closer together than this are read in one range
MAX_JSON = 64 << 20  # a JSON API answer larger than this is refused (bounded memory)
STATUSES = ("ok", "no-import-names", "sdist-only", "no-files", "not-found", "skipped", "failed")


# ---------------------------------------------------------------------------- names from one wheel


def site_relative(member: str) -> str | None:
    """Where a wheel member lands relative to site-packages (None: not importable there).

    `<name>.data/purelib/` and `platlib/` install at the site root; the other `.data` schemes
    (scripts, headers, data) and the dist-info do not hold importable code."""
    first, _, rest = member.partition("/")
    if first.endswith(".data"):
        scheme, _, inner = rest.partition("/")
        return inner if scheme in ("purelib", "platlib") and inner else None
    if first.endswith((".dist-info", ".egg-info")) or member.endswith("/"):
        return None
    return member


def modules_from_files(members: Iterable[str]) -> dict[str, bool]:
    """Importable dotted names (depth ≤ MAX_DEPTH) of a wheel's file list → True for a namespace portion.

    A folder counts only when code (.py, .pyc, .so, .pyd) lies under it, so data folders (`share/`,
    `include/`) are not names; a folder without `__init__` is a PEP 420 namespace portion."""
    found: set[str] = set()
    folders: set[str] = set()
    packages: set[str] = set()
    for member in members:
        rel = site_relative(member)
        if rel is None or not rel.endswith(CODE_SUFFIXES):
            continue
        parts = rel.split("/")
        folders_of, leaf = parts[:-1], parts[-1]
        if "__pycache__" in folders_of or not all(p.isidentifier() for p in folders_of):
            continue  # numpy.libs/, foo-1.0/: not importable
        stem = leaf.split(".", 1)[0] if leaf.endswith((".so", ".pyd")) else leaf.rsplit(".", 1)[0]
        if stem == "__init__":
            if folders_of:
                packages.add(".".join(folders_of))
            chain = folders_of
        else:
            chain = [*folders_of, stem] if stem.isidentifier() else folders_of
        for depth in range(1, min(len(folders_of), MAX_DEPTH) + 1):
            folders.add(".".join(folders_of[:depth]))
        for depth in range(1, min(len(chain), MAX_DEPTH) + 1):
            found.add(".".join(chain[:depth]))
    return {name: name in folders and name not in packages for name in found}


def modules_from_metadata(headers: Message) -> dict[str, bool] | None:
    """PEP 794 names → True for a namespace; None when METADATA declares neither field.

    `Import-Name: x; private` is left out unless every name is private; an empty Import-Name means
    the distribution provides nothing to import. Parents of a dotted name that the metadata does
    not list as names are namespace portions (the distribution does not own them)."""
    raw_names = headers.get_all("Import-Name")
    raw_namespaces = headers.get_all("Import-Namespace")
    if raw_names is None and raw_namespaces is None:
        return None
    public: list[str] = []
    private: list[str] = []
    for value in raw_names or ():
        name, _, flags = str(value).partition(";")
        name = name.strip()
        if name:
            (private if "private" in flags else public).append(name)
    result: dict[str, bool] = {}
    for value in raw_namespaces or ():
        if str(value).strip():
            result[str(value).strip()] = True
    for name in public or private:
        result[name] = False
    for name in list(result):
        parts = name.split(".")
        for depth in range(1, len(parts)):
            result.setdefault(".".join(parts[:depth]), True)
    return {n: ns for n, ns in result.items()
            if n.count(".") < MAX_DEPTH and all(p.isidentifier() for p in n.split("."))}


def modules_from_top_level(text: str) -> dict[str, bool]:
    """top_level.txt: one importable top-level name a line (a fallback: it can list stray folders)."""
    names = (posixpath.basename(line.strip().replace("\\", "/")) for line in text.splitlines())
    return {n: False for n in names if n.isidentifier()}


def derive(
    members: Sequence[str], metadata: Message | None, top_level: str | None, namespace_txt: str | None
) -> tuple[str, dict[str, bool]]:
    """(source, names) for one wheel: Import-Name metadata, else the file list, else top_level.txt."""
    declared = modules_from_metadata(metadata) if metadata is not None else None
    if declared is not None:
        return "metadata", declared
    names = modules_from_files(members)
    source = "files"
    if not names and top_level:
        names, source = modules_from_top_level(top_level), "top_level"
    for line in (namespace_txt or "").splitlines():  # legacy setuptools namespaces ship an __init__.py
        if line.strip() in names:
            names[line.strip()] = True
    return source, names


def public_names(names: Mapping[str, bool], stray: Iterable[str]) -> dict[str, bool]:
    """Drop stray top-level folders, dunder names, private submodules (`google._upb`: only their own
    package imports them), and `_private` tops when a public top exists."""
    stray_set = set(stray)
    kept = {n: ns for n, ns in names.items() if n.split(".")[0] not in stray_set and not n.startswith("__")
            and not any(part.startswith("_") for part in n.split(".")[1:])}
    if any(not n.split(".")[0].startswith("_") for n in kept):
        kept = {n: ns for n, ns in kept.items() if not n.split(".")[0].startswith("_")}
    return kept


# ---------------------------------------------------------------------------- reading one wheel


class WindowSource(RangeSource):
    """A RangeSource that keeps the tail it fetched (and one prefetched span) and serves reads inside them.

    The dist-info members are the last entries of nearly every wheel, just before the central
    directory: the tail read for the directory usually holds them already, and when it does not,
    one span read covers all of them instead of one request per member."""

    def __init__(self, url: str, counter: FetchCounter | None = None, timeout: float = 60.0) -> None:
        super().__init__(url, counter, timeout)
        self._windows: list[tuple[int, bytes]] = []

    def tail(self, length: int) -> bytes:
        data = super().tail(length)
        self._windows.append((self.size - len(data), data))
        return data

    def prefetch(self, start: int, length: int) -> None:
        if not self._cached(start, length):
            self._windows.append((start, super().read(start, length)))

    def _cached(self, start: int, length: int) -> bytes | None:
        if not self._windows:
            return None
        end = min(start + length, self.size)
        for begin, data in self._windows:
            if begin <= start and end <= begin + len(data):
                return data[start - begin : end - begin]
        return None

    def read(self, start: int, length: int) -> bytes:
        hit = self._cached(start, length)
        return hit if hit is not None else super().read(start, length)


def read_headers(source: RangeSource, member: ZipMember) -> str:
    """The METADATA header block only: a long description (often 100 KB+) is never read in full."""
    if member.method == 0 or member.compress_size <= HEADERS_CHUNK:
        text = read_member(source, member).decode("utf-8", "replace")
        return text.split("\n\n", 1)[0] + "\n"
    head = source.read(member.header_offset, 30 + 1024)
    if head[:4] != b"PK\x03\x04":
        raise WheelSizeError(f"{member.name}: bad local header")
    name_len, extra_len = int.from_bytes(head[26:28], "little"), int.from_bytes(head[28:30], "little")
    position = member.header_offset + 30 + name_len + extra_len
    end = position + member.compress_size
    inflater = zlib.decompressobj(-15)
    text = ""
    while position < end:
        chunk = source.read(position, min(HEADERS_CHUNK, end - position))
        if not chunk:
            break
        position += len(chunk)
        text += inflater.decompress(chunk).decode("utf-8", "replace")
        if "\n\n" in text:
            break
    return text.split("\n\n", 1)[0] + "\n"


@dataclass
class WheelFacts:
    """What one wheel's metadata says, and what reading it cost."""

    source: str
    modules: dict[str, bool]
    wheel_bytes: int
    fetched_bytes: int
    requests: int


def read_wheel(url: str, timeout: float = 60.0) -> WheelFacts:
    """File list, top_level.txt, namespace_packages.txt and METADATA headers of one wheel, by range."""
    counter = FetchCounter()
    source = WindowSource(url, counter, timeout)
    members = read_central_directory(source)
    files = [m for m in members if not m.name.endswith("/")]
    info = [m for m in files if re.fullmatch(r"[^/]+\.dist-info/(METADATA|top_level\.txt|namespace_packages\.txt)",
                                              m.name)]
    if info:
        start = min(m.header_offset for m in info)
        stop = max(m.header_offset + 30 + 1024 + min(m.compress_size, HEADERS_CHUNK) for m in info)
        if stop - start <= SPAN_LIMIT:
            source.prefetch(start, stop - start)
    by_leaf = {m.name.rsplit("/", 1)[1]: m for m in info}
    metadata = HeaderParser().parsestr(read_headers(source, by_leaf["METADATA"])) if "METADATA" in by_leaf else None
    texts = {leaf: read_member(source, by_leaf[leaf]).decode("utf-8", "replace")
             for leaf in ("top_level.txt", "namespace_packages.txt") if leaf in by_leaf}
    kind, modules = derive([m.name for m in files], metadata, texts.get("top_level.txt"),
                           texts.get("namespace_packages.txt"))
    return WheelFacts(kind, modules, source.size, counter.bytes_fetched, counter.requests)


# ---------------------------------------------------------------------------- releases and sources


@dataclass(frozen=True)
class FileRef:
    filename: str
    url: str
    size: int | None = None


@dataclass(frozen=True)
class Release:
    version: str
    files: tuple[FileRef, ...]
    index: str
    index_bytes: int = 0


def _version_of(filename: str) -> Version | None:
    try:
        if filename.endswith(".whl"):
            return parse_wheel_filename(filename)[1]
        if filename.endswith((".tar.gz", ".zip")):
            return parse_sdist_filename(filename)[1]
    except (InvalidWheelFilename, InvalidSdistFilename):
        return None
    return None


def latest_release(files: Iterable[tuple[str, str, bool, int | None]], index: str, index_bytes: int = 0
                   ) -> Release | None:
    """The newest final release (newest pre-release when there is no final one) among index files
    given as (filename, url, yanked, size); yanked files do not count."""
    by_version: dict[Version, list[FileRef]] = defaultdict(list)
    for filename, url, yanked, size in files:
        version = _version_of(filename)
        if version is not None and not yanked:
            by_version[version].append(FileRef(filename, url, size))
    if not by_version:
        return None
    finals = [v for v in by_version if not v.is_prerelease] or list(by_version)
    best = max(finals)
    return Release(str(best), tuple(by_version[best]), index, index_bytes)


def release_from_json(doc: Mapping[str, Any], index: str, index_bytes: int = 0, base: str = "") -> Release | None:
    """PyPI's JSON API document → the release it calls latest (`info.version`, its `urls`); file URLs
    are resolved against `base`, the answer's own URL (a mirror may answer with relative ones)."""
    files = tuple(FileRef(f["filename"], urllib.parse.urljoin(base, f["url"]), f.get("size"))
                  for f in doc.get("urls", ()) if not f.get("yanked") and _version_of(f["filename"]) is not None)
    version = str(doc.get("info", {}).get("version") or "")
    return Release(version, files, index, index_bytes) if version else None


_TAG_RANK: dict[str, int] = {}


def pick_wheel(files: Iterable[FileRef]) -> FileRef | None:
    """The wheel to read: pure py3 first, then the best cp311 manylinux x86_64 tag, then any wheel."""
    if not _TAG_RANK:
        _TAG_RANK.update({str(t): i for i, t in enumerate(target_tags("linux/amd64", "3.11"))})
    best: tuple[tuple[int, int, str], FileRef] | None = None
    for ref in files:
        if not ref.filename.endswith(".whl"):
            continue
        try:
            tags = parse_wheel_filename(ref.filename)[3]
        except InvalidWheelFilename:
            continue
        if any(t.abi == "none" and t.platform == "any" and t.interpreter.startswith("py3") for t in tags):
            key = (0, 0, ref.filename)
        else:
            ranks = [_TAG_RANK[str(t)] for t in tags if str(t) in _TAG_RANK]
            key = (1, min(ranks), ref.filename) if ranks else (2, 0, ref.filename)
        if best is None or key < best[0]:
            best = (key, ref)
    return best[1] if best else None


def http_get(url: str, timeout: float) -> tuple[bytes, int, str]:
    """(body, bytes on the wire, final URL) of a GET, gzip accepted; bounded by MAX_JSON."""
    request = urllib.request.Request(url, headers={"Accept": "application/json", "Accept-Encoding": "gzip",
                                                   "User-Agent": USER_AGENT})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        body = response.read(MAX_JSON + 1)
        if len(body) > MAX_JSON:
            raise WheelSizeError(f"{url}: answer larger than {MAX_JSON} bytes")
        wire = len(body)
        if response.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        return body, wire, response.geturl()


@dataclass(frozen=True)
class Source:
    """Where releases are looked up: `json:<base>` (PyPI's JSON API) or `simple:<index url>`."""

    kind: str
    url: str

    @classmethod
    def parse(cls, spec: str) -> Source:
        kind, _, url = spec.partition(":")
        if kind == "json" and url in ("", "pypi"):
            return cls("json", PYPI_JSON)
        if kind not in ("json", "simple") or not url:
            raise argparse.ArgumentTypeError(f"{spec!r}: expected json:URL, json:pypi or simple:URL")
        return cls(kind, url.rstrip("/"))

    def __str__(self) -> str:
        return "json:pypi" if (self.kind, self.url) == ("json", PYPI_JSON) else f"{self.kind}:{self.url}"

    @property
    def remote(self) -> bool:
        return urllib.parse.urlparse(self.url).scheme in ("http", "https")

    def release(self, name: str, timeout: float) -> Release | None:
        """The latest release of `name` here, None when this source does not know it."""
        if self.kind == "json":
            try:
                body, wire, final = http_get(f"{self.url}/{name}/json", timeout)
            except urllib.error.HTTPError as exc:
                if exc.code == 404:
                    return None
                raise
            return release_from_json(json.loads(body), self.url, wire, final)
        parsed = urllib.parse.urlparse(self.url)
        if parsed.scheme == "file" and not (Path(urllib.request.url2pathname(parsed.path)) / name).is_dir():
            return None  # a local mirror without this project (an http index answers 404 instead)
        counter = FetchCounter()
        found = project_files(self.url, name, counter=counter, timeout=timeout)
        return latest_release(((f.filename, f.url, f.yanked, f.size) for f in found), self.url, counter.bytes_fetched)


# ---------------------------------------------------------------------------- one distribution, cached


def lookup(name: str, sources: Sequence[Source], *, remote_ok: bool, timeout: float) -> dict[str, Any]:
    """One distribution's record: status, version, wheel, names and bytes (no retry here)."""
    skipped = False
    for source in sources:
        if source.remote and not remote_ok:
            skipped = True
            continue
        release = source.release(name, timeout)
        if release is None:
            continue
        record: dict[str, Any] = {"name": name, "version": release.version, "index": release.index,
                                  "index_bytes": release.index_bytes}
        wheel = pick_wheel(release.files)
        if wheel is None:
            sdists = any(not f.filename.endswith(".whl") for f in release.files)
            return {**record, "status": "sdist-only" if sdists else "no-files"}
        facts = read_wheel(wheel.url, timeout)
        return {**record, "status": "ok" if facts.modules else "no-import-names", "wheel": wheel.filename,
                "from": facts.source, "modules": dict(sorted(facts.modules.items())),
                "wheel_bytes": facts.wheel_bytes, "fetched_bytes": facts.fetched_bytes, "requests": facts.requests}
    return {"name": name, "status": "skipped" if skipped else "not-found"}


def _transient(exc: BaseException) -> bool:
    if isinstance(exc, urllib.error.HTTPError):
        return exc.code in (408, 425, 429) or exc.code >= 500
    return isinstance(exc, (urllib.error.URLError, OSError, WheelSizeError, EOFError, zlib.error))


def lookup_with_retries(name: str, sources: Sequence[Source], *, remote_ok: bool, timeout: float,
                        retries: int, sleep: Callable[[float], None] = time.sleep) -> dict[str, Any]:
    """`lookup`, retried with backoff on network errors; a last failure is a "failed" record."""
    for attempt in range(retries + 1):
        try:
            return lookup(name, sources, remote_ok=remote_ok, timeout=timeout)
        except Exception as exc:  # one distribution's failure never stops the run
            if attempt == retries or not _transient(exc):
                return {"name": name, "status": "failed", "error": f"{type(exc).__name__}: {exc}"[:300]}
            sleep(2.0 * 3**attempt)
    raise AssertionError("unreachable")


class Cache:
    """One JSON file per distribution: an interrupted run resumes, a failed one is retried next run."""

    KEEP = frozenset({"ok", "no-import-names", "sdist-only", "no-files", "not-found"})

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)

    def _path(self, name: str) -> Path:
        return self.root / f"{name}.json"

    def get(self, name: str) -> dict[str, Any] | None:
        try:
            record = json.loads(self._path(name).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return record if isinstance(record, dict) and record.get("status") in self.KEEP else None

    def put(self, record: Mapping[str, Any]) -> None:
        if record.get("status") not in self.KEEP:
            return
        fd, tmp = tempfile.mkstemp(dir=self.root, suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(record, handle, sort_keys=True)
        os.replace(tmp, self._path(str(record["name"])))


# ---------------------------------------------------------------------------- the table


NAMESPACE: tuple[str, ...] = ()  # an entry shared as a namespace portion: it owns nothing


def assemble(records: Iterable[Mapping[str, Any]], stray: Iterable[str]) -> dict[str, Any]:
    """Records → the `names`, `namespaces`, `distributions`, `sdist_only` and `failed` of the data file."""
    stray = list(stray)
    providers: dict[str, set[str]] = defaultdict(set)
    portions: dict[str, set[str]] = defaultdict(set)
    distributions: dict[str, list[str]] = {}
    sdist_only: list[str] = []
    failed: dict[str, str] = {}
    for record in records:
        name, status = str(record["name"]), record["status"]
        if status == "sdist-only":
            sdist_only.append(name)
        elif status == "failed":
            failed[name] = str(record.get("error", ""))
        if status != "ok":
            continue
        modules = public_names(record["modules"], stray)
        if not modules:
            continue
        distributions[name] = [str(record["version"]), str(record["from"])]
        for module, is_namespace in modules.items():
            providers[module].add(name)
            if is_namespace:
                portions[module].add(name)
    # A namespace takes two wheels shipping it as a portion (one wheel alone with a folder and no
    # __init__ is as likely a package that forgot it, and owns the name either way), and a parent that
    # is one too: a folder without __init__ inside a package (cv2/qt) is that package's.
    entries: dict[str, tuple[str, ...]] = {}
    for module in sorted(providers, key=lambda m: m.count(".")):
        parent = module.rpartition(".")[0]
        shared = len(portions[module]) >= 2 and (not parent or entries.get(parent) == NAMESPACE)
        entries[module] = NAMESPACE if shared else tuple(sorted(providers[module]))
    names: dict[str, Any] = {}
    namespaces: list[str] = []
    for module in sorted(entries):
        entry = entries[module]
        parent = module.rpartition(".")[0]
        # a dotted name says something only under a namespace, or where it narrows its parent's owners
        if parent and entries.get(parent) != NAMESPACE and providers[module] == set(entries.get(parent, ())):
            continue
        if entry == NAMESPACE:
            namespaces.append(module)
        else:
            names[module] = entry[0] if len(entry) == 1 else {"ambiguous": list(entry)}
    return {"names": names, "namespaces": namespaces, "distributions": dict(sorted(distributions.items())),
            "sdist_only": sorted(sdist_only), "failed": dict(sorted(failed.items()))}


def dump(doc: Mapping[str, Any]) -> str:
    """JSON with one entry a line in the big sections, so a refresh reviews as a readable diff."""
    lines = ["{"]
    for i, (key, value) in enumerate(doc.items()):
        comma = "," if i < len(doc) - 1 else ""
        if isinstance(value, dict) and key in ("names", "distributions", "failed", "stats") and value:
            inner = [f"  {json.dumps(k, ensure_ascii=False)}: {json.dumps(v, ensure_ascii=False)}"
                     for k, v in value.items()]
            lines += [f" {json.dumps(key)}: {{", ",\n".join(inner), f" }}{comma}"]
        elif isinstance(value, list) and key in ("namespaces", "sdist_only") and value:
            inner = [f"  {json.dumps(v, ensure_ascii=False)}" for v in value]
            lines += [f" {json.dumps(key)}: [", ",\n".join(inner), f" ]{comma}"]
        else:
            lines.append(f" {json.dumps(key)}: {json.dumps(value, ensure_ascii=False)}{comma}")
    return "\n".join(lines) + "\n}\n"


# ---------------------------------------------------------------------------- command line


def ranked_names(path: Path, top: int) -> list[str]:
    """The `top` best-ranked names of a tab-separated list (header: `name`, a `rank…` column).

    Split on tabs by hand: summaries hold quote characters a csv reader would join lines on."""
    ranked: list[tuple[int, str]] = []
    with path.open(encoding="utf-8") as handle:
        header = handle.readline().rstrip("\n").split("\t")
        try:
            name_col = header.index("name")
            rank_col = next(i for i, h in enumerate(header) if h.startswith("rank"))
        except (ValueError, StopIteration):
            raise SystemExit(f"{path}: header needs a `name` and a `rank…` column, got {header}") from None
        for line in handle:
            cells = line.rstrip("\n").split("\t")
            if len(cells) > max(name_col, rank_col) and cells[rank_col].isdigit():
                ranked.append((int(cells[rank_col]), canonicalize_name(cells[name_col])))
    ranked.sort()
    return list(dict.fromkeys(name for _, name in ranked))[:top]


def _name_list(text: str) -> list[str]:
    return [canonicalize_name(n) for n in re.split(r"[,\s]+", text) if n.strip()]


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--list", type=Path, help="tab-separated ranking (header with `name` and `rank…`)")
    parser.add_argument("--top", type=int, default=10_000, help="how many of --list's best-ranked (default 10000)")
    parser.add_argument("--names", type=_name_list, action="append", default=[], help="more names (a,b or 'a b')")
    parser.add_argument("--source", type=Source.parse, action="append", default=[],
                        help="json:URL (json:pypi: PyPI's JSON API, the default) or simple:URL, tried in order")
    parser.add_argument("--remote-names", type=_name_list, action="append",
                        help="ask http(s) sources only about these names (others must come from file:// sources)")
    parser.add_argument("--cache", type=Path, default=Path(cache_root()) / "import-map")
    parser.add_argument("--refresh", action="store_true", help="ignore cached records")
    parser.add_argument("--workers", type=int, default=16)
    parser.add_argument("--retries", type=int, default=3)
    parser.add_argument("--timeout", type=float, default=60.0)
    parser.add_argument("--out", type=Path, default=OUT)
    return parser.parse_args(argv)


def run(args: argparse.Namespace, log: Callable[[str], None]) -> dict[str, Any]:
    """Look every name up (thread pool, cache), write the data file, return its document."""
    names = ranked_names(args.list, args.top) if args.list else []
    names = list(dict.fromkeys([*names, *(n for group in args.names for n in group)]))
    if not names:
        raise SystemExit("nothing to look up: give --list (with --top) and/or --names")
    sources: list[Source] = args.source or [Source("json", PYPI_JSON)]
    remote = None if args.remote_names is None else {n for group in args.remote_names for n in group}
    cache = Cache(args.cache)
    records: dict[str, dict[str, Any]] = {}
    todo = []
    for name in names:
        cached = None if args.refresh else cache.get(name)
        if cached is not None:
            records[name] = cached
        else:
            todo.append(name)
    log(f"{len(names)} distributions: {len(records)} cached, {len(todo)} to look up with {args.workers} threads")
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=args.workers) as pool:
        futures = {pool.submit(lookup_with_retries, name, sources, remote_ok=remote is None or name in remote,
                               timeout=args.timeout, retries=args.retries): name for name in todo}
        for done, future in enumerate(as_completed(futures), 1):
            record = future.result()
            records[record["name"]] = record
            cache.put(record)
            if done % 250 == 0 or done == len(todo):
                log(f"  {done}/{len(todo)} in {time.monotonic() - started:.0f}s")
    ordered = [records[n] for n in names]
    table = assemble(ordered, load_data("verify")["stray_top_level"])
    statuses = Counter(str(r["status"]) for r in ordered)
    read = [r for r in ordered if "wheel_bytes" in r]
    stats = {
        "distributions": len(names),
        "mapped": len(table["distributions"]),
        **{status.replace("-", "_"): statuses.get(status, 0) for status in STATUSES if status != "ok"},
        "names": len(table["names"]),
        "ambiguous": sum(1 for v in table["names"].values() if isinstance(v, dict)),
        "namespaces": len(table["namespaces"]),
        "wheels_read": len(read),
        "wheel_bytes_full": sum(int(r["wheel_bytes"]) for r in read),
        "wheel_bytes_fetched": sum(int(r["fetched_bytes"]) for r in read),
        "index_bytes_fetched": sum(int(r.get("index_bytes", 0)) for r in ordered),
    }
    doc = {
        "about": "Import name -> distributions whose wheels provide it; generated by scripts/gen_import_map.py "
                 "from wheel metadata (do not edit: data/aliases.toml overrides it). A name several "
                 "distributions provide is {\"ambiguous\": [...]}; namespace portions only are in `namespaces`; "
                 "`distributions` gives each one's version read and the source of its names "
                 "(metadata = PEP 794 Import-Name, files = the wheel's file list, top_level = top_level.txt); "
                 "`sdist_only` lists those whose latest release has no wheel (sdist-only, not mapped).",
        "format": FORMAT,
        "generated": time.strftime("%Y-%m-%d", time.gmtime()),
        "command": " ".join(["python", "scripts/gen_import_map.py", *_shown_args(args)]),
        "sources": [str(s) for s in sources],
        "stats": stats,
        "dropped_top_level": sorted(load_data("verify")["stray_top_level"]),
        **table,
    }
    args.out.write_text(dump(doc), encoding="utf-8")
    log(summary(stats, time.monotonic() - started, args.out))
    return doc


def _shown_args(args: argparse.Namespace) -> list[str]:
    """The options that decide the content (paths relative to the checkout when inside it)."""
    shown: list[str] = []
    if args.list:
        shown += ["--list", args.list.name, "--top", str(args.top)]
    for group in args.names:
        shown += ["--names", ",".join(group)]
    for source in args.source:
        shown += ["--source", str(source)]
    for group in args.remote_names or ():
        shown += ["--remote-names", ",".join(group)]
    return shown


def summary(stats: Mapping[str, int], seconds: float, out: Path) -> str:
    full, fetched = stats["wheel_bytes_full"], stats["wheel_bytes_fetched"]
    share = f"{100 * fetched / full:.3f} %" if full else "n/a"
    return (f"wrote {out} ({out.stat().st_size:,} bytes) in {seconds:.0f}s: {stats['mapped']} of "
            f"{stats['distributions']} distributions mapped, {stats['no_import_names']} with nothing to import, "
            f"{stats['sdist_only']} sdist-only, {stats['not_found']} not found, {stats['skipped']} skipped, "
            f"{stats['failed']} failed; {stats['names']} names ({stats['ambiguous']} ambiguous), "
            f"{stats['namespaces']} namespaces. Wheels: {stats['wheels_read']} read, {fetched:,} bytes fetched of "
            f"{full:,} ({share}); index/API: {stats['index_bytes_fetched']:,} bytes")


def main(argv: Sequence[str] | None = None) -> int:
    run(parse_args(argv), lambda line: print(line, file=sys.stderr, flush=True))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
