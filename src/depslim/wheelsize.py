"""Installed size of a wheel without downloading it: read the zip central directory by range.

A wheel is a zip; the central directory at its end lists every member with its uncompressed
`file_size`. Their sum is what the wheel occupies once installed (before `.pyc` compilation, which
`depslim.bytecode` estimates from the `.py` members' bytes),
so two small HTTP range requests (the tail, then the directory if it did not fit) give a
measured installed size for a 500 MB wheel at a cost of a few hundred KB. `METADATA` is read
the same way (one range over its local entry) so a swap can know what the incoming wheel
requires. Locating the wheel goes through the PEP 691 JSON / PEP 503 HTML simple index and
`packaging.tags` for the target platform; `packaging` parses every name, version and tag.
"""

from __future__ import annotations

import re
import struct
import urllib.parse
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from email.parser import HeaderParser
from html.parser import HTMLParser
from pathlib import Path
from typing import Any, BinaryIO

from packaging.requirements import Requirement
from packaging.tags import Tag, compatible_tags, cpython_tags
from packaging.utils import (
    InvalidWheelFilename,
    canonicalize_name,
    parse_wheel_filename,
)
from packaging.version import InvalidVersion, Version

from depslim import jsonshape
from depslim.bytecode import compiled_paths, compiled_sources
from depslim.errors import DepslimError
from depslim.inputfile import open_regular, read_bytes
from depslim.jsonshape import Where, expect_object
from depslim.platforms import docker_arch, machine_of

# urllib.request (http.client, ssl, email) is imported where a URL is fetched: `depslim analyze`
# imports this module through the swap savings but fetches nothing unless it estimates.

PYPI_SIMPLE = "https://pypi.org/simple"
TAIL_BYTES = 65_536 + 22  # EOCD (22 bytes) plus the largest possible zip comment
_EOCD = b"PK\x05\x06"
_EOCD64_LOCATOR = b"PK\x06\x07"
_CDH = b"PK\x01\x02"
_USER_AGENT = "depslim-wheelsize (+https://github.com/depslim)"


class WheelSizeError(DepslimError):
    """The wheel or index could not be read (network, format); callers fall back to estimates.

    Its message names the URL, and an index URL may carry credentials: they are masked here, once,
    for every place that raises it."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        from depslim.redact import redact

        super().__init__(redact(message), hint)


@dataclass
class FetchCounter:
    """Bytes actually transferred, so benchmarks can prove range reads stay small."""

    bytes_fetched: int = 0
    requests: int = 0


@dataclass(frozen=True)
class ZipMember:
    name: str
    file_size: int
    compress_size: int
    header_offset: int
    method: int


@dataclass(frozen=True)
class WheelInfo:
    """What the central directory (and METADATA) of one wheel says."""

    filename: str
    url: str
    name: str
    version: str
    wheel_bytes: int  # compressed (download) size
    installed_bytes: int  # sum of uncompressed member sizes
    files: int
    requires: tuple[str, ...] = ()  # raw Requires-Dist
    fetched_bytes: int = 0
    source_bytes: int | None = None  # .py members pip compiles for the `python` asked for (None: not asked)
    # (path it installs to, bytes) per file: two wheels that install the same path write one file
    paths: tuple[tuple[str, int], ...] = field(default=(), repr=False, compare=False)
    compiled: frozenset[str] = field(default=frozenset(), repr=False, compare=False)  # paths pip compiles


# ---------------------------------------------------------------------------- range reading


class RangeSource:
    """Random access to a remote or local file by byte ranges (file://, http(s)://, or a path)."""

    def __init__(self, url: str, counter: FetchCounter | None = None, timeout: float = 60.0) -> None:
        self.url = url
        self.counter = counter if counter is not None else FetchCounter()
        self.timeout = timeout
        self._size: int | None = None
        self._whole: bytes | None = None  # set when the server ignores Range
        parsed = urllib.parse.urlparse(url)
        self._path: Path | None = None
        if parsed.scheme == "file":
            self._path = Path(_url2pathname(parsed.path))
        elif parsed.scheme == "":
            self._path = Path(url)

    @property
    def size(self) -> int:
        if self._size is None:
            self.tail(22)
        assert self._size is not None
        return self._size

    def _open_local(self) -> BinaryIO:
        """The local file, which must be a regular file: a folder (a local project pip builds), a
        FIFO or a device is a WheelSizeError naming it, not a traceback or a hang."""
        assert self._path is not None
        try:
            return open_regular(self._path)
        except OSError as exc:
            raise WheelSizeError(f"{self._path}: {exc.strerror or exc}") from None

    def _local(self, start: int, length: int) -> bytes:
        with self._open_local() as handle:
            self._size = handle.seek(0, 2)
            handle.seek(start)
            data = handle.read(length)
        self.counter.requests += 1
        self.counter.bytes_fetched += len(data)  # local reads count too: the cost is the same idea
        return data

    def _http(self, header: str) -> bytes:
        import urllib.error
        import urllib.request

        request = authorized_request(self.url, {"Range": header, "User-Agent": _USER_AGENT})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                body: bytes = response.read()
                self.counter.requests += 1
                self.counter.bytes_fetched += len(body)
                if response.status == 206:
                    content_range = response.headers.get("Content-Range", "")
                    match = re.match(r"bytes (\d+)-(\d+)/(\d+)", content_range)
                    if not match:
                        raise WheelSizeError(f"{self.url}: bad Content-Range {content_range!r}")
                    self._size = int(match.group(3))
                    return body
                # 200: the server ignored Range and sent everything; keep it for later reads.
                self._whole = body
                self._size = len(body)
                return body
        except (urllib.error.URLError, OSError, ValueError) as exc:  # ValueError: http.client.InvalidURL
            raise WheelSizeError(f"{self.url}: {exc}") from None

    def tail(self, length: int) -> bytes:
        """The last `length` bytes (a suffix range: one request even when the size is unknown)."""
        if self._path is not None:
            with self._open_local() as handle:
                self._size = handle.seek(0, 2)
                handle.seek(max(0, self._size - length))
                data = handle.read()
            self.counter.requests += 1
            self.counter.bytes_fetched += len(data)
            return data
        if self._whole is not None:
            return self._whole[-length:]
        body = self._http(f"bytes=-{length}")
        return body[-length:] if self._whole is not None else body

    def read(self, start: int, length: int) -> bytes:
        if length <= 0:
            return b""
        if self._path is not None:
            return self._local(start, length)
        if self._whole is not None:
            return self._whole[start : start + length]
        body = self._http(f"bytes={start}-{start + length - 1}")
        return body[start : start + length] if self._whole is not None else body


def _find_eocd(tail: bytes) -> int:
    pos = tail.rfind(_EOCD)
    if pos < 0:
        raise WheelSizeError("not a zip file: no end-of-central-directory record")
    return pos


def read_central_directory(source: RangeSource) -> list[ZipMember]:
    """Every member of the zip with its sizes, from at most two range reads (plus ZIP64)."""
    tail = source.tail(TAIL_BYTES)
    tail_start = source.size - len(tail)
    eocd = _find_eocd(tail)
    (_, _, _, _, count, cd_size, cd_offset, _) = struct.unpack("<4sHHHHIIH", tail[eocd : eocd + 22])
    if 0xFFFFFFFF in (cd_size, cd_offset) or count == 0xFFFF:
        locator = tail.rfind(_EOCD64_LOCATOR, 0, eocd)
        if locator < 0:
            raise WheelSizeError("ZIP64 archive without a ZIP64 locator")
        (eocd64_offset,) = struct.unpack("<Q", tail[locator + 8 : locator + 16])
        rec = source.read(eocd64_offset, 56)
        count, cd_size, cd_offset = struct.unpack("<QQQ", rec[32:56])
    if cd_offset >= tail_start:
        directory = tail[cd_offset - tail_start : cd_offset - tail_start + cd_size]
    else:
        directory = source.read(cd_offset, cd_size)
    return _parse_directory(directory, count)


def _parse_directory(data: bytes, count: int) -> list[ZipMember]:
    members: list[ZipMember] = []
    pos = 0
    while pos + 46 <= len(data) and data[pos : pos + 4] == _CDH:
        fields = struct.unpack("<4s6H3I5H2I", data[pos : pos + 46])
        method, csize, usize = fields[4], fields[8], fields[9]
        name_len, extra_len, comment_len = fields[10], fields[11], fields[12]
        offset = fields[16]
        name = data[pos + 46 : pos + 46 + name_len].decode("utf-8", "replace")
        extra = data[pos + 46 + name_len : pos + 46 + name_len + extra_len]
        if 0xFFFFFFFF in (csize, usize, offset):
            usize, csize, offset = _zip64_extra(extra, usize, csize, offset)
        members.append(ZipMember(name, usize, csize, offset, method))
        pos += 46 + name_len + extra_len + comment_len
    if len(members) != count and count != 0xFFFF:
        raise WheelSizeError(f"central directory lists {len(members)} of {count} members")
    return members


def _zip64_extra(extra: bytes, usize: int, csize: int, offset: int) -> tuple[int, int, int]:
    pos = 0
    while pos + 4 <= len(extra):
        tag, size = struct.unpack("<HH", extra[pos : pos + 4])
        if tag == 1:
            values = list(struct.unpack(f"<{size // 8}Q", extra[pos + 4 : pos + 4 + (size // 8) * 8]))
            if usize == 0xFFFFFFFF:
                usize = values.pop(0)
            if csize == 0xFFFFFFFF:
                csize = values.pop(0)
            if offset == 0xFFFFFFFF:
                offset = values.pop(0)
            break
        pos += 4 + size
    return usize, csize, offset


def read_member(source: RangeSource, member: ZipMember) -> bytes:
    """One member's content: a single range over its local header and data."""
    slack = 30 + 1024  # local header + name + extra (names are short; extra is bounded here)
    blob = source.read(member.header_offset, slack + member.compress_size)
    if blob[:4] != b"PK\x03\x04":
        raise WheelSizeError(f"{member.name}: bad local header")
    name_len, extra_len = struct.unpack("<HH", blob[26:30])
    start = 30 + name_len + extra_len
    if start + member.compress_size > len(blob):
        blob += source.read(member.header_offset + len(blob), start + member.compress_size - len(blob))
    data = blob[start : start + member.compress_size]
    if member.method == 0:
        return data
    if member.method == 8:
        return zlib.decompress(data, -15)
    raise WheelSizeError(f"{member.name}: unsupported compression method {member.method}")


def wheel_info(
    url: str, *, counter: FetchCounter | None = None, metadata: bool = True, python: str | None = None
) -> WheelInfo:
    """Measure one wheel by URL (or local path): installed bytes and its Requires-Dist; with `python`
    (X.Y), also the bytes of the .py members pip compiles there (from the same central directory)."""
    filename = urllib.parse.unquote(urllib.parse.urlparse(url).path.rsplit("/", 1)[-1])
    try:
        name, version, _build, _tags = parse_wheel_filename(filename)
    except InvalidWheelFilename as exc:
        raise WheelSizeError(f"{url}: {exc}") from None
    counter = counter if counter is not None else FetchCounter()
    before = counter.bytes_fetched
    source = RangeSource(url, counter)
    members = read_central_directory(source)
    installed = [(installed_path(m.name), m.file_size) for m in members if not m.name.endswith("/")]
    requires: tuple[str, ...] = ()
    if metadata:
        meta = [m for m in members if re.fullmatch(r"[^/]+\.dist-info/METADATA", m.name)]
        if meta:
            text = read_member(source, meta[0]).decode("utf-8", "replace")
            requires = tuple(HeaderParser().parsestr(text).get_all("Requires-Dist") or ())
    return WheelInfo(
        filename=filename,
        url=url,
        name=str(name),
        version=str(version),
        wheel_bytes=source.size,
        installed_bytes=sum(m.file_size for m in members if not m.name.endswith("/")),
        files=sum(1 for m in members if not m.name.endswith("/")),
        requires=requires,
        fetched_bytes=counter.bytes_fetched - before,
        source_bytes=None if python is None else compiled_sources(
            ((m.name, m.file_size) for m in members if not m.name.endswith("/")), python),
        paths=tuple(installed),
        compiled=frozenset() if python is None else compiled_paths((path for path, _ in installed), python),
    )


_DATA_DIR = re.compile(r"[^/]+\.data/(?P<scheme>[^/]+)/(?P<rest>.+)")


def installed_path(member: str) -> str:
    """Where pip installs a wheel member, relative to the install scheme: `<dist>.data/purelib/x`
    and `.../platlib/x` land beside the root members; other schemes keep their scheme as prefix."""
    match = _DATA_DIR.fullmatch(member)
    if match is None:
        return member
    scheme = match["scheme"]
    return match["rest"] if scheme in ("purelib", "platlib") else f"<{scheme}>/{match['rest']}"


# ---------------------------------------------------------------------------- target tags

# manylinux tags are computed for these architectures only (see depslim.platforms for the names).
_WHEEL_ARCHES = frozenset({"amd64", "arm64"})


def target_tags(platform: str = "linux/amd64", python: str = "3.11", glibc: tuple[int, int] = (2, 39)) -> list[Tag]:
    """Tags a CPython `python` on `platform` accepts, best first (what pip would compute there)."""
    os_name, _, arch = platform.partition("/")
    if os_name != "linux":
        raise WheelSizeError(f"platform {platform!r}: only linux/<arch> targets are supported")
    machine = machine_of(arch) if docker_arch(arch) in _WHEEL_ARCHES else None
    if machine is None:
        raise WheelSizeError(f"platform {platform!r}: unknown architecture {arch!r}")
    platforms = [f"manylinux_{glibc[0]}_{minor}_{machine}" for minor in range(glibc[1], 16, -1)]
    legacy = {17: "manylinux2014", 12: "manylinux2010", 5: "manylinux1"}
    for minor, alias in legacy.items():
        if minor <= glibc[1]:
            platforms.insert(platforms.index(f"manylinux_2_17_{machine}") + 1, f"{alias}_{machine}")
    platforms += [f"manylinux_2_{m}_{machine}" for m in (12, 5) if f"manylinux_2_{m}_{machine}" not in platforms]
    platforms.append(f"linux_{machine}")
    major, minor = (int(p) for p in python.split(".")[:2])
    version = (major, minor)
    tags = list(cpython_tags(version, abis=[f"cp{major}{minor}", "abi3", "none"], platforms=platforms))
    tags += [t for t in compatible_tags(version, f"cp{major}{minor}", platforms) if t not in tags]
    return tags


# ---------------------------------------------------------------------------- simple index


@dataclass(frozen=True)
class IndexFile:
    filename: str
    url: str
    yanked: bool = False
    requires_python: str | None = None
    size: int | None = None


class _LinkParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.links: list[tuple[dict[str, str | None], str]] = []
        self._attrs: dict[str, str | None] | None = None
        self._text = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self._attrs, self._text = dict(attrs), ""

    def handle_data(self, data: str) -> None:
        if self._attrs is not None:
            self._text += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "a" and self._attrs is not None:
            self.links.append((self._attrs, self._text.strip()))
            self._attrs = None


def _url2pathname(path: str) -> str:
    import urllib.request

    return urllib.request.url2pathname(path)


def authorized_request(url: str, headers: dict[str, str]) -> Any:
    """A request for `url` with its userinfo moved into a Basic Authorization header, as pip sends it:
    urllib reads `user:token@host` as a host with a port (`InvalidURL: nonnumeric port`), and a URL
    that keeps its credentials ends up in error messages."""
    import urllib.request

    clean, basic = split_userinfo(url)
    return urllib.request.Request(clean, headers=headers if basic is None else {**headers, "Authorization": basic})


def split_userinfo(url: str) -> tuple[str, str | None]:
    """`url` without its `user:token@`, and the Basic Authorization value for it (None: no userinfo)."""
    import base64

    parts = urllib.parse.urlsplit(url)
    if "@" not in parts.netloc:
        return url, None
    userinfo, _, host = parts.netloc.rpartition("@")
    user, _, password = userinfo.partition(":")
    token = f"{urllib.parse.unquote(user)}:{urllib.parse.unquote(password)}".encode()
    return urllib.parse.urlunsplit(parts._replace(netloc=host)), "Basic " + base64.b64encode(token).decode()


def _with_userinfo(final: str, asked: str) -> str:
    """`final` (where the index answered) with the credentials of `asked` when it is the same host: the
    page's file links resolve against it, and pip sends an index's credentials to its own host's files."""
    have, want = urllib.parse.urlsplit(final), urllib.parse.urlsplit(asked)
    if "@" not in want.netloc or "@" in have.netloc or have.netloc != want.netloc.rpartition("@")[2]:
        return final
    return urllib.parse.urlunsplit(have._replace(netloc=want.netloc))


def _fetch(url: str, accept: str, counter: FetchCounter, timeout: float) -> tuple[bytes, str, str]:
    import urllib.request

    parsed = urllib.parse.urlparse(url)
    if parsed.scheme == "file":
        path = Path(_url2pathname(parsed.path))
        if path.is_dir():
            path = path / "index.html"
        return read_bytes(path), "text/html", path.as_uri()
    request = authorized_request(url, {"Accept": accept, "User-Agent": _USER_AGENT})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        body = response.read()
        counter.requests += 1
        counter.bytes_fetched += len(body)
        return body, response.headers.get("Content-Type", ""), response.geturl()


def project_files(
    index_url: str, name: str, *, counter: FetchCounter | None = None, timeout: float = 60.0
) -> list[IndexFile]:
    """Files of one project on a simple index (PEP 691 JSON when offered, else PEP 503 HTML)."""
    import urllib.error

    counter = counter if counter is not None else FetchCounter()
    url = f"{index_url.rstrip('/')}/{canonicalize_name(name)}/"
    accept = "application/vnd.pypi.simple.v1+json, text/html;q=0.1"
    try:
        body, content_type, final_url = _fetch(url, accept, counter, timeout)
        final_url = _with_userinfo(final_url, url)
    except urllib.error.HTTPError as exc:
        if exc.code == 404:
            return []
        raise WheelSizeError(f"{url}: HTTP {exc.code}") from None
    except (urllib.error.URLError, OSError, ValueError) as exc:  # ValueError: http.client.InvalidURL
        raise WheelSizeError(f"{url}: {exc}") from None
    if "json" in content_type:
        # PEP 691 JSON from an index depslim does not control: read through depslim.jsonshape
        where = Where(url, "", lambda file, problem: WheelSizeError(f"{file}: {problem}"))
        doc = expect_object(jsonshape.loads(body, where), where)
        files = []
        for f in doc.objects("files"):
            yanked = f.get("yanked")  # PEP 592: false, or true / a reason string
            files.append(IndexFile(
                filename=f.text("filename"),
                url=urllib.parse.urljoin(final_url, f.text("url")),
                yanked=bool(yanked) if isinstance(yanked, bool | str) else f.flag("yanked"),
                requires_python=f.opt_text("requires-python"),
                size=f.opt_integer("size"),
            ))
        return files
    parser = _LinkParser()
    parser.feed(body.decode("utf-8", "replace"))
    files = []
    for attrs, text in parser.links:
        href = attrs.get("href") or ""
        full = urllib.parse.urljoin(final_url, href).split("#", 1)[0]
        filename = urllib.parse.unquote(full.rsplit("/", 1)[-1]) or text
        files.append(
            IndexFile(
                filename=filename,
                url=full,
                yanked="data-yanked" in attrs,
                requires_python=attrs.get("data-requires-python"),
            )
        )
    return files


def find_links_files(directory: Path) -> list[IndexFile]:
    """A `--find-links` directory listed as index files."""
    return [IndexFile(p.name, p.as_uri()) for p in sorted(directory.glob("*.whl"))]


@dataclass
class WheelLocator:
    """Picks, for a requirement, the best wheel on the given indexes for the target tags."""

    index_urls: Sequence[str] = (PYPI_SIMPLE,)
    find_links: Sequence[Path] = ()
    platform: str = "linux/amd64"
    python: str = "3.11"
    counter: FetchCounter = field(default_factory=FetchCounter)
    timeout: float = 60.0
    errors: list[str] = field(default_factory=list)  # indexes that could not be read (others still count)

    def __post_init__(self) -> None:
        self._tags = {tag: rank for rank, tag in enumerate(target_tags(self.platform, self.python))}

    def candidates(self, name: str) -> list[IndexFile]:
        files: list[IndexFile] = []
        for index in self.index_urls:
            try:
                files += project_files(index, name, counter=self.counter, timeout=self.timeout)
            except WheelSizeError as exc:
                self.errors.append(str(exc))
        for directory in self.find_links:
            files += [f for f in find_links_files(directory) if _wheel_name(f.filename) == canonicalize_name(name)]
        return files

    def best(self, requirement: str | Requirement) -> IndexFile | None:
        """The highest allowed version with a compatible wheel; best tag among its wheels."""
        req = Requirement(requirement) if isinstance(requirement, str) else requirement
        best: tuple[Version, int, IndexFile] | None = None
        for file in self.candidates(req.name):
            ranked = self._rank(file, req)
            if ranked is None:
                continue
            version, rank = ranked
            if best is None or (version, -rank) > (best[0], -best[1]):
                best = (version, rank, file)
        return best[2] if best else None

    def _rank(self, file: IndexFile, req: Requirement) -> tuple[Version, int] | None:
        if file.yanked or not file.filename.endswith(".whl"):
            return None
        try:
            _name, version, _build, tags = parse_wheel_filename(file.filename)
        except (InvalidWheelFilename, InvalidVersion):
            return None
        if req.specifier and not req.specifier.contains(version, prereleases=True):
            return None
        if not req.specifier and version.is_prerelease:
            return None
        if not self._python_allowed(file.requires_python):
            return None
        ranks = [self._tags[t] for t in tags if t in self._tags]
        return (version, min(ranks)) if ranks else None

    def _python_allowed(self, requires_python: str | None) -> bool:
        """The index's Requires-Python, as pip applies it: xgboost-cpu 3.4.1 has a py3 wheel but needs
        Python >= 3.12, so on 3.11 pip takes 3.2.0 and a size or pin from 3.4.1 would be wrong."""
        if not requires_python:
            return True
        from packaging.specifiers import InvalidSpecifier, SpecifierSet

        try:
            return SpecifierSet(requires_python).contains(self.python, prereleases=True)
        except (InvalidSpecifier, InvalidVersion):
            return True  # pip ignores a Requires-Python it cannot parse

    def measure(self, requirement: str | Requirement) -> WheelInfo | None:
        file = self.best(requirement)
        return wheel_info(file.url, counter=self.counter) if file else None


def _wheel_name(filename: str) -> str | None:
    try:
        return str(parse_wheel_filename(filename)[0])
    except (InvalidWheelFilename, InvalidVersion):
        return None


def total_installed(infos: Iterable[WheelInfo]) -> int:
    return sum(i.installed_bytes for i in infos)
