"""Shared plumbing for the declared-dependency readers.

Every reader appends into one `Collector`, so deduplication (a file reached both by
auto-detection and by an `-r` or a setuptools `dynamic` reference counts once), ordering and
index-option merging happen in one place.
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from depslim.errors import InputError
from depslim.inputfile import read_text
from depslim.model import DeclaredRequirement, DeclaredSet, IndexOptions, Location


def rel_path(path: Path, root: Path) -> str:
    """Project-relative POSIX path (`../x` when outside the root) so locations are machine-independent."""
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return Path(os.path.relpath(path.resolve(), root.resolve())).as_posix()


@lru_cache(maxsize=8192)
def read_requirement(text: str) -> Requirement | None:
    """The one lenient PEP 508 reader: `packaging`'s Requirement, or None when it rejects `text`.

    For text depslim did not write and cannot blame on a file line (Requires-Dist metadata, swap
    rules, report data): such text is skipped, not an error. Cached, because the same
    Requires-Dist strings recur; the Requirement objects are shared, so callers never change them.
    `parse_requirement` is the strict form for the user's own files.
    """
    try:
        return Requirement(text)
    except (InvalidRequirement, SyntaxError):  # packaging raises SyntaxError on an unterminated marker string
        return None


def requirement_name(text: str) -> str | None:
    """The canonical distribution name `text` requires, or None when it is no PEP 508 requirement
    (a URL, a path)."""
    req = read_requirement(text)
    return canonicalize_name(req.name) if req is not None else None


def parse_requirement(text: str, where: str, line: int | None, *, what: str = "requirement") -> Requirement:
    """Parse one PEP 508 string with `packaging`; a bad one is an `InputError` at file:line.

    `packaging` takes any text after `@` as the URL; one urllib cannot split (`https://[oops]/x`,
    a port out of range) would fail later, wherever the URL is first looked at, so it fails here.
    """
    try:
        req = Requirement(text)
    except (InvalidRequirement, SyntaxError) as exc:  # SyntaxError: an unterminated marker string
        problem = str(exc).splitlines()[0]
        raise InputError(where, f"invalid {what} {text!r}: {problem}", line) from None
    if req.url:
        try:
            urlsplit(req.url).port  # noqa: B018 - parsing the port is what raises
        except ValueError as exc:
            raise InputError(where, f"invalid URL in requirement {text!r}: {exc}", line) from None
    return req


def declared_from(
    req: Requirement,
    location: Location,
    *,
    group: str,
    source: str,
    dev: bool,
    constraint: bool = False,
    editable: bool = False,
) -> DeclaredRequirement:
    """Build the record for a parsed PEP 508 requirement (name canonicalised, text normalised)."""
    return DeclaredRequirement(
        name=canonicalize_name(req.name),
        requirement=str(req),
        location=location,
        group=group,
        source=source,
        dev=dev,
        constraint=constraint,
        editable=editable,
        url=req.url,
    )


@dataclass
class Collector:
    """Accumulates requirements, files, index options and warnings from every reader."""

    root: Path
    requirements: list[DeclaredRequirement] = field(default_factory=list)
    files: set[str] = field(default_factory=set)
    warnings: list[str] = field(default_factory=list)
    index_url: str | None = None
    index_url_at: str = ""
    extra_index_urls: list[str] = field(default_factory=list)
    find_links: list[str] = field(default_factory=list)
    trusted_hosts: list[str] = field(default_factory=list)
    # Files a reader other than read_requirements_into used as `-c` constraints (an environment
    # file's pip list): read_declared marks them with the rest.
    constraint_files: set[str] = field(default_factory=set)
    # (file, line, constraint, text) already recorded: the first reader to claim a line wins, so
    # a dynamic reference (which knows the group) is read before plain auto-detection. The text is
    # part of the key because TOML arrays and setup.py lists hold several requirements per line.
    _seen: set[tuple[str, int, bool, str]] = field(default_factory=set)

    def rel(self, path: Path) -> str:
        return rel_path(path, self.root)

    @staticmethod
    def _key(req: DeclaredRequirement, constraint: bool) -> tuple[str, int, bool, str]:
        return (req.location.path, req.location.line, constraint, req.requirement)

    def add(self, req: DeclaredRequirement) -> None:
        key = self._key(req, req.constraint)
        if key not in self._seen:
            self._seen.add(key)
            self.requirements.append(req)

    def set_index_url(self, url: str, where: str) -> None:
        """Keep the first primary index; a conflicting one is reported, not silently merged."""
        if self.index_url is None:
            self.index_url, self.index_url_at = url, where
        elif url != self.index_url:
            self.warnings.append(
                f"{where}: --index-url {url} ignored; {self.index_url_at} already sets {self.index_url}"
            )

    @staticmethod
    def _append_unique(items: list[str], value: str) -> None:
        if value not in items:
            items.append(value)

    def add_extra_index(self, url: str) -> None:
        self._append_unique(self.extra_index_urls, url)

    def add_find_links(self, link: str) -> None:
        self._append_unique(self.find_links, link)

    def add_trusted_host(self, host: str) -> None:
        self._append_unique(self.trusted_hosts, host)

    def mark_constraint_files(self, paths: set[str]) -> None:
        """Lines of a file used as `-c` anywhere pin rather than declare, even when auto-detected."""
        kept: list[DeclaredRequirement] = []
        for req in self.requirements:
            if req.location.path in paths and not req.constraint:
                if self._key(req, True) in self._seen:
                    continue  # the same line is already recorded as a constraint
                req = replace(req, constraint=True, group="main", dev=False)
            kept.append(req)
        self.requirements = kept
        self._seen = {self._key(r, r.constraint) for r in kept}

    def result(self) -> DeclaredSet:
        ordered = sorted(
            enumerate(self.requirements),
            key=lambda item: (item[1].location.path, item[1].location.line, item[0]),
        )
        return DeclaredSet(
            requirements=tuple(req for _, req in ordered),
            files=tuple(sorted(self.files)),
            index=IndexOptions(
                index_url=self.index_url,
                extra_index_urls=tuple(self.extra_index_urls),
                find_links=tuple(self.find_links),
                trusted_hosts=tuple(self.trusted_hosts),
            ),
        )


_TOML_LINE = re.compile(r"at line (\d+)")


def load_toml(path: Path, rel: str) -> tuple[dict[str, Any], str]:
    """Parse a TOML file; a syntax error becomes an InputError with the file, line and TOML message."""
    try:
        text = read_text(path, "utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(rel, f"cannot read: {getattr(exc, 'strerror', None) or exc}") from None
    try:
        return tomllib.loads(text), text
    except tomllib.TOMLDecodeError as exc:
        match = _TOML_LINE.search(str(exc))
        raise InputError(rel, f"invalid TOML: {exc}", int(match.group(1)) if match else None) from None
