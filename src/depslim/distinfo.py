"""Pure parsing of installed-distribution metadata (`*.dist-info`, `*.egg-info`).

Shared by every target: the environment reads these files from disk, an image from its
layers. Core metadata goes through `packaging.metadata`; RECORD is CSV (PEP 376/627).
"""

from __future__ import annotations

import csv
import io
import posixpath
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from packaging.metadata import parse_email
from packaging.utils import canonicalize_name

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


def parse_metadata(data: bytes) -> CoreMetadata | None:
    """Parse METADATA leniently (installed metadata is often slightly off-spec).

    Returns None when there is no usable Name/Version: such a dist is reported as unmeasured.
    """
    # Only the header block matters; the body (often a long README) is skipped unparsed.
    head, sep, _body = data.partition(b"\n\n")
    raw, _unparsed = parse_email(head + sep if sep else data)
    name, version = raw.get("name"), raw.get("version")
    if not name or not version:
        return None
    return CoreMetadata(
        name=name,
        version=version,
        requires=tuple(raw.get("requires_dist", ())),
        provides_extras=tuple(raw.get("provides_extra", ())),
    )


def parse_record(data: bytes) -> list[str]:
    """RECORD rows → the paths as written (relative to the site dir, may start with ../)."""
    text = data.decode("utf-8", errors="replace")
    return [row[0] for row in csv.reader(io.StringIO(text)) if row and row[0]]


def parse_installed_files(data: bytes) -> list[str]:
    """egg-info `installed-files.txt` lines (relative to the egg-info dir)."""
    return [line.strip() for line in data.decode("utf-8", "replace").splitlines() if line.strip()]


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


def is_editable(direct_url_json: bytes | None) -> bool:
    """PEP 610: `{"dir_info": {"editable": true}}` marks an editable install."""
    if not direct_url_json:
        return False
    import json

    try:
        info = json.loads(direct_url_json)
    except ValueError:
        return False
    return bool(isinstance(info, dict) and info.get("dir_info", {}).get("editable"))


def canonical(name: str) -> str:
    return canonicalize_name(name)


def build_distribution(site: str, info_dir: str, read: ReadFile, measure: Measure) -> InstalledDistribution | None:
    """One `.dist-info` / `.egg-info` dir → InstalledDistribution, for any target.

    The environment passes disk reads and `os.lstat`; an image passes its merged layer view.
    None when there is no usable METADATA (the caller reports it as unmeasured).
    """
    is_egg = info_dir.endswith(".egg-info")
    raw = read(f"{info_dir}/{'PKG-INFO' if is_egg else 'METADATA'}")
    core = parse_metadata(raw) if raw else None
    if core is None:
        return None
    record = read(f"{info_dir}/{'installed-files.txt' if is_egg else 'RECORD'}")
    entries = (parse_installed_files(record) if is_egg else parse_record(record)) if record else []
    base = info_dir if is_egg else site
    paths = dict.fromkeys(p for p in (resolve_record_path(site, base, e) for e in entries) if p)
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
        has_record=record is not None,
        installer=installer.decode("utf-8", "replace").strip() if installer else "",
        editable=is_editable(read(f"{info_dir}/direct_url.json")),
        entry_points=parse_console_scripts(entry_points) if entry_points else (),
    )
