"""Pure parsing of installed-distribution metadata (`*.dist-info`, `*.egg-info`).

Shared by every target: the environment reads these files from disk, an image from its
layers. Core metadata goes through `packaging.metadata`; RECORD is CSV (PEP 376/627).
"""

from __future__ import annotations

import csv
import io
import posixpath
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from packaging.metadata import parse_email
from packaging.utils import canonicalize_name

from depslim import jsonshape
from depslim.errors import ImageFormatError
from depslim.jsonshape import Where, expect_object
from depslim.model import InstalledDistribution, InstalledFile

# How a target reads one small metadata file (None when absent), and how it measures the
# files a RECORD lists: (present files with lstat sizes, count of missing ones).
ReadFile = Callable[[str], bytes | None]
Measure = Callable[[Iterable[str]], tuple[list[InstalledFile], int]]


@dataclass(frozen=True)
class CoreMetadata:
    """The fields depslim needs from METADATA / PKG-INFO."""

    name: str
    version: str
    requires: tuple[str, ...]
    provides_extras: tuple[str, ...]


# The header fields depslim reads; every other line (a Description header can hold a whole
# README in old metadata) is dropped before the email parser sees it.
_CORE_FIELDS = frozenset({b"metadata-version", b"name", b"version", b"requires-dist", b"provides-extra"})


def metadata_header(data: bytes) -> bytes:
    """The lines of METADATA / PKG-INFO that `parse_metadata` needs: the header's core fields and
    their continuation lines, nothing of the body.

    The email parser costs ~14x its input in memory: fed a 60 MiB header it took 849 MB. Filtered
    first, its input is a few hundred bytes whatever the file holds. The image walk captures only
    this (the rest of the file is never kept), the environment target filters the same way.
    """
    keep: list[bytes] = []
    keeping = False
    for line in data.splitlines(keepends=True):
        if not line.strip(b"\r\n"):
            break  # the blank line that ends the header
        if line[:1] in (b" ", b"\t"):
            if keeping:
                keep.append(line)
            continue
        keeping = line.partition(b":")[0].strip().lower() in _CORE_FIELDS
        if keeping:
            keep.append(line)
    return b"".join(keep)


def parse_metadata(data: bytes) -> CoreMetadata | None:
    """Parse METADATA leniently (installed metadata is often slightly off-spec).

    Returns None when there is no usable Name/Version: such a dist is reported as unmeasured.
    Only the header's core fields are parsed (`metadata_header`); the body is never read.
    """
    raw, _unparsed = parse_email(metadata_header(data))
    name, version = raw.get("name"), raw.get("version")
    if not name or not version:
        return None
    return CoreMetadata(
        name=name,
        version=version,
        requires=tuple(raw.get("requires_dist", ())),
        provides_extras=tuple(raw.get("provides_extra", ())),
    )


def iter_record(data: bytes) -> Iterator[str]:
    """RECORD rows → the paths as written (relative to the site dir, may start with ../).

    A generator: the caller resolves and de-duplicates row by row, so a RECORD of a million rows
    never becomes a million-item list first. A row csv cannot read (a field past csv's 128 KiB
    limit, a NUL) ends the listing there: the files it names are simply not counted, as for any
    RECORD that lists too little.
    """
    text = data.decode("utf-8", errors="replace")
    try:
        for row in csv.reader(io.StringIO(text)):
            if row and row[0]:
                yield row[0]
    except csv.Error:
        return


def parse_record(data: bytes) -> list[str]:
    """Every path of a RECORD (see `iter_record`)."""
    return list(iter_record(data))


def iter_installed_files(data: bytes) -> Iterator[str]:
    """egg-info `installed-files.txt` lines (relative to the egg-info dir)."""
    for line in data.decode("utf-8", "replace").splitlines():
        if line.strip():
            yield line.strip()


def parse_installed_files(data: bytes) -> list[str]:
    return list(iter_installed_files(data))


def parse_lines(data: bytes) -> tuple[str, ...]:
    """top_level.txt: one importable name per line."""
    return tuple(line.strip() for line in data.decode("utf-8", "replace").splitlines() if line.strip())


def parse_console_scripts(data: bytes) -> tuple[str, ...]:
    """Names of console/gui scripts from entry_points.txt (an INI file)."""
    names: list[str] = []
    section = ""
    for line in data.decode("utf-8", "replace").splitlines():
        line = line.strip()
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1].strip()
        elif section in {"console_scripts", "gui_scripts"} and "=" in line:
            names.append(line.split("=", 1)[0].strip())
    return tuple(names)


def resolve_record_path(site: str, base_dir: str, entry: str) -> str | None:
    """Absolute POSIX path of a RECORD entry; None if it is absolute-escaping nonsense.

    RECORD paths are relative to the site dir (wheels) — egg-info installed-files.txt paths
    are relative to the egg-info dir, which callers pass as `base_dir`.
    """
    if entry.startswith("/"):
        return posixpath.normpath(entry)
    base = base_dir if base_dir else site
    if "./" in entry or "//" in entry or entry.endswith("."):
        return posixpath.normpath(posixpath.join(base, entry))
    return f"{base.rstrip('/')}/{entry}"  # already normal: the common case, kept cheap


def is_editable(direct_url_json: bytes | None, where: Where | None = None) -> bool:
    """PEP 610: `{"dir_info": {"editable": true}}` marks an editable install.

    Read through depslim.jsonshape: a document that is not JSON, or whose `dir_info` is not an
    object (or `editable` not a boolean), is `where`'s error naming the file and the field.
    """
    if not direct_url_json:
        return False
    where = where or Where("direct_url.json")
    info = expect_object(jsonshape.loads(direct_url_json, where), where)
    return info.obj("dir_info").flag("editable")


def _direct_url_where(info_dir: str, archive: str) -> Where:
    """Errors about a dist's direct_url.json name the image and the file in it, or the file on disk."""
    path = f"{info_dir}/direct_url.json"
    return Where(archive, path, ImageFormatError) if archive else Where(path)


def canonical(name: str) -> str:
    return canonicalize_name(name)


def build_distribution(
    site: str, info_dir: str, read: ReadFile, measure: Measure, archive: str = ""
) -> InstalledDistribution | None:
    """One `.dist-info` / `.egg-info` dir → InstalledDistribution, for any target.

    The environment passes disk reads and `os.lstat`; an image passes its merged layer view and
    its name (`archive`, what an error about a malformed file in it names).
    None when there is no usable METADATA (the caller reports it as unmeasured).
    """
    is_egg = info_dir.endswith(".egg-info")
    raw = read(f"{info_dir}/{'PKG-INFO' if is_egg else 'METADATA'}")
    core = parse_metadata(raw) if raw else None
    if core is None:
        return None
    record = read(f"{info_dir}/{'installed-files.txt' if is_egg else 'RECORD'}")
    entries = (iter_installed_files(record) if is_egg else iter_record(record)) if record else iter(())
    base = info_dir if is_egg else site
    paths = dict.fromkeys(p for p in (resolve_record_path(site, base, e) for e in entries) if p)
    has_record = record is not None
    del record, entries  # a big RECORD's bytes are not kept while its files are measured
    files, missing = measure(paths)
    top_level, entry_points, installer = (
        read(f"{info_dir}/{n}") for n in ("top_level.txt", "entry_points.txt", "INSTALLER")
    )
    return InstalledDistribution(
        name=canonical(core.name),
        display_name=core.name,
        version=core.version,
        site=site,
        dist_info=info_dir,
        requires=core.requires,
        provides_extras=core.provides_extras,
        top_level=parse_lines(top_level) if top_level else (),
        files=tuple(files),
        missing_files=missing,
        has_record=has_record,
        installer=installer.decode("utf-8", "replace").strip() if installer else "",
        editable=is_editable(read(f"{info_dir}/direct_url.json"), _direct_url_where(info_dir, archive)),
        entry_points=parse_console_scripts(entry_points) if entry_points else (),
    )
