"""Pure parsing of installed-distribution metadata (`*.dist-info`, `*.egg-info`).

Shared by every target: the environment reads these files from disk, an image from its
layers. Core metadata goes through `packaging.metadata`; RECORD is CSV (PEP 376/627).
"""

from __future__ import annotations

import csv
import io
import posixpath
from dataclasses import dataclass

from packaging.metadata import parse_email
from packaging.utils import canonicalize_name


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
