"""Pipfile (pipenv): `[packages]` are runtime declarations, `[dev-packages]` dev ones.

A value is a version specifier (`"==1.2"`, `"*"` for any) or a table (`{version = "...", extras =
[...], markers = "..."}`, `{git = ...}`/`{path = ...}`/`{file = ...}` for direct references). Each
becomes a PEP 508 string that `packaging` parses; the line is the key's line in the file.
`[[source]]` URLs become index options as a requirements file's `--index-url` would. A section,
value or source of the wrong shape (a list where a table belongs, a number for a version, extras
as a string) is an `InputError` at its line, never silently skipped.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from depslim.declared.base import Collector, declared_from, load_toml, parse_requirement
from depslim.declared.tomlpos import TomlPositions
from depslim.errors import InputError
from depslim.model import Location

_SECTIONS = (("packages", False), ("dev-packages", True))


def pep508(name: str, value: Any) -> str | None:
    """A Pipfile entry as a PEP 508 string; None for a reference depslim cannot name (git, path)."""
    if isinstance(value, str):
        spec = value.strip()
        return name if spec in ("", "*") else f"{name}{spec}"
    if not isinstance(value, Mapping):
        return None
    if any(key in value for key in ("git", "path", "file", "hg", "svn")):
        url = value.get("file")
        return f"{name} @ {url}" if isinstance(url, str) and "://" in url else None
    extras = value.get("extras")
    text = name + (f"[{','.join(str(e) for e in extras)}]" if isinstance(extras, list) and extras else "")
    version = value.get("version")
    if isinstance(version, str) and version.strip() not in ("", "*"):
        text += version.strip()
    markers = value.get("markers")
    if isinstance(markers, str) and markers.strip():
        text += f" ; {markers.strip()}"
    return text


def _check_shape(rel: str, section: str, name: str, value: Any, line: int) -> None:
    """A Pipfile entry is a version string or a table of strings (extras: a list of them)."""
    def wrong(expected: str) -> InputError:
        return InputError(rel, f"[{section}] {name}: expected {expected}", line or None)

    if isinstance(value, str):
        return
    if not isinstance(value, Mapping):
        raise wrong("a version string or a table")
    extras = value.get("extras", [])
    if not isinstance(extras, list) or not all(isinstance(e, str) for e in extras):
        raise wrong("extras as a list of strings")
    for key in ("version", "markers", "git", "path", "file", "ref"):
        if key in value and not isinstance(value[key], str):
            raise wrong(f"{key} as a string")


def read_pipfile(collector: Collector, path: Path) -> None:
    rel = collector.rel(path)
    data, text = load_toml(path, rel)
    collector.files.add(rel)
    positions = TomlPositions(text)
    for section, dev in _SECTIONS:
        table = data.get(section)
        if table is None:
            continue
        if not isinstance(table, Mapping):
            raise InputError(rel, f"[{section}] expected a table of name = version", positions.key_line((section,)))
        for name, value in table.items():
            line = positions.key_line((section, name))
            _check_shape(rel, section, str(name), value, line)
            requirement = pep508(str(name), value)
            if requirement is None:
                collector.warnings.append(f"{rel}:{line}: {name}: a git/path reference is not read")
                continue
            req = parse_requirement(requirement, rel, line)
            collector.add(declared_from(req, Location(rel, line), group="dev" if dev else "main", source="pipfile",
                                        dev=dev))
    sources = data.get("source")
    if sources is not None:
        if not isinstance(sources, list) or not all(
            isinstance(s, Mapping) and isinstance(s.get("url", ""), str) for s in sources
        ):
            raise InputError(rel, "[[source]] expected tables with a url string", positions.key_line(("source",)))
        urls = [s["url"] for s in sources if s.get("url")]
        if urls:
            collector.set_index_url(urls[0], rel)
            for url in urls[1:]:
                collector.add_extra_index(url)
