"""pip requirements files (`requirements*.txt`, `*.in`) with `-r`/`-c` chains and index options.

The line handling follows pip's own `req_file.py` (joined continuations keep the first line's
number, `#` starts a comment at line start or after whitespace, the requirement is every token
before the first one starting with `-`), because users write these files for pip. Everything that
is a requirement, marker, extra or name is then parsed by `packaging`; nothing here parses PEP 508.
"""

from __future__ import annotations

import argparse
import dataclasses
import re
import shlex
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn, TypedDict
from urllib.parse import SplitResult, parse_qs, unquote, urlsplit

from packaging.markers import InvalidMarker, Marker
from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    parse_sdist_filename,
    parse_wheel_filename,
)

from depslim.declared.base import Collector, declared_from, parse_requirement, read_requirement, requirement_name
from depslim.declared.classify import is_dev_file, is_optional_file
from depslim.declared.localmeta import local_project_name
from depslim.errors import InputError
from depslim.fsio import decode_text, expand_user
from depslim.inputfile import missing_reason, read_bytes
from depslim.model import DeclaredRequirement, DeclaredSet, Location

# pip: a comment starts at the beginning of a line or after whitespace (`#egg=` in a URL is not one).
_COMMENT = re.compile(r"(^|\s+)#.*$")
_EXTRAS = re.compile(r"^(.+)(\[[^\]]+\])$")
_VCS_PREFIXES = ("git+", "hg+", "svn+", "bzr+")
_URL_SCHEMES = ("http", "https", "file", "ftp")
_ARCHIVES = (".whl", ".zip", ".tar.gz", ".tgz", ".tar.bz2", ".tbz", ".tar.xz", ".txz", ".tar")


class _OptionError(Exception):
    pass


class _BadURL(ValueError):
    """A URL urllib cannot split (`https://[oops]/x.whl`): reported at its file:line by `_line`."""


def _urlsplit(text: str) -> SplitResult:
    """`urlsplit`, whose ValueError (a bracketed host that is no IP address, a port out of range)
    becomes `_BadURL`, so the line it came from is named instead of a traceback."""
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018 - parsing the port is what raises for `http://host:99999999`
    except ValueError as exc:
        raise _BadURL(f"invalid URL {text!r}: {exc}") from None
    return parts


class _Parser(argparse.ArgumentParser):
    """argparse that raises instead of exiting, so a bad option becomes an InputError."""

    def error(self, message: str) -> NoReturn:
        raise _OptionError(message)


def _option_parser() -> _Parser:
    # The options pip accepts in a requirements file (pip/_internal/req/req_file.py).
    p = _Parser(add_help=False, allow_abbrev=False, prog="requirements")
    p.add_argument("-r", "--requirement", action="append", default=[])
    p.add_argument("-c", "--constraint", action="append", default=[])
    p.add_argument("-e", "--editable", action="append", default=[])
    p.add_argument("-i", "--index-url")
    p.add_argument("--extra-index-url", action="append", default=[])
    p.add_argument("-f", "--find-links", action="append", default=[])
    p.add_argument("--trusted-host", action="append", default=[])
    for flag in ("--no-index", "--pre", "--prefer-binary", "--require-hashes"):
        p.add_argument(flag, action="store_true")
    for opt in ("--only-binary", "--no-binary", "--use-feature", "--hash", "--global-option"):
        p.add_argument(opt, action="append", default=[])
    p.add_argument("-C", "--config-settings", action="append", default=[])
    return p


_OPTIONS = _option_parser()


def logical_lines(text: str) -> Iterator[tuple[int, str]]:
    """Yield (first physical line number, joined line without comment), skipping blank lines."""
    pending: list[str] = []
    start = 0
    for number, raw in enumerate(text.splitlines(), start=1):
        is_comment = bool(_COMMENT.match(raw))
        if raw.endswith("\\") and not is_comment:
            if not pending:
                start = number
            pending.append(raw[:-1])
            continue
        if pending:
            # pip keeps a comment line that ends a continuation as a comment, not as text.
            pending.append(" " + raw if is_comment else raw)
            line, number = "".join(pending), start
            pending = []
        else:
            line = raw
        line = _COMMENT.sub("", line).strip()
        if line:
            yield number, line
    if pending:
        line = _COMMENT.sub("", "".join(pending)).strip()
        if line:
            yield start, line


def _split_args_options(line: str) -> tuple[str, str]:
    """pip's break_args_options: the requirement is every token before the first `-option`."""
    tokens = line.split(" ")
    args: list[str] = []
    for i, token in enumerate(tokens):
        if token.startswith("-"):
            return " ".join(args), " ".join(tokens[i:])
        args.append(token)
    return " ".join(args), ""


def _tokens(option_text: str) -> list[str]:
    """Option tokens; shlex only when quoting is present (hash-pinned locks have thousands of lines)."""
    return shlex.split(option_text) if any(q in option_text for q in "\"'\\") else option_text.split()


def _is_url(text: str) -> bool:
    scheme = _urlsplit(text).scheme.lower()
    return scheme in _URL_SCHEMES or scheme.startswith(_VCS_PREFIXES)


def _path_first(text: str) -> bool:
    """Forms pip reads as a local path or archive even though some would parse as a name (`foo.whl`)."""
    target = text.split(";", 1)[0].strip()
    return text.startswith((".", "/", "~")) or target.lower().endswith(_ARCHIVES)


def _could_be_path(text: str) -> bool:
    """Not PEP 508, but a path pip would accept (`sub/dir`, `C:\\pkgs\\x`)."""
    head = text.split(";", 1)[0]
    return "/" in head or "\\" in head


class _Common(TypedDict):
    """Flags every requirement of one file shares."""

    group: str
    source: str
    dev: bool
    constraint: bool
    editable: bool


@dataclass
class _File:
    """Parse state for one file in an -r/-c chain."""

    path: Path
    rel: str
    constraint: bool
    dev: bool
    group: str
    source: str


class RequirementsReader:
    """Reads one requirements file and everything it includes into a `Collector`."""

    def __init__(self, collector: Collector, *, source: str = "requirements") -> None:
        self.collector = collector
        self.source = source
        self.constraint_files: set[str] = set()
        self._done: set[tuple[str, bool]] = set()

    def read(
        self,
        path: Path,
        *,
        constraint: bool = False,
        group: str | None = None,
        dev: bool | None = None,
        stack: tuple[str, ...] = (),
        included_from: tuple[str, int] | None = None,
    ) -> None:
        rel = self.collector.rel(path)
        if rel in stack:
            cycle = " -> ".join([*stack[stack.index(rel) :], rel])
            where, line = included_from or (rel, None)
            raise InputError(where, f"cycle of -r/-c includes: {cycle}", line)
        if (rel, constraint) in self._done:
            return
        if not path.is_file():
            reason = missing_reason(path)
            if included_from:
                where, line = included_from
                raise InputError(where, f"included file {rel} {reason}", line)
            raise InputError(rel, f"requirements file {reason}")
        try:
            text = decode_text(read_bytes(path))
        except (OSError, UnicodeDecodeError) as exc:
            raise InputError(rel, f"cannot read requirements file: {exc}") from None
        self._done.add((rel, constraint))
        self.collector.files.add(rel)
        if constraint:
            self.constraint_files.add(rel)
        file_dev = is_dev_file(rel) if dev is None else dev
        if group is None and not constraint and not file_dev and is_optional_file(rel, text):
            group = f"optional:{rel}"  # an opt-in feature's file: declared, not the runtime base
        state = _File(
            path=path,
            rel=rel,
            constraint=constraint,
            dev=False if constraint else file_dev,
            group="main" if constraint else (group or ("dev" if file_dev else "main")),
            source=self.source,
        )
        for number, logical in logical_lines(text):
            self._line(state, number, logical, (*stack, rel))

    def read_lines(
        self, path: Path, lines: Sequence[tuple[int, str]], *, group: str, dev: bool, source: str
    ) -> None:
        """Requirement lines held in another file, each with its line there: an environment.yml's
        `pip:` list, which conda hands to pip as a requirements file (options and `-r` includes,
        relative to that file, work as in one). `source` names these lines' origin; a file they
        include is a requirements file like any other."""
        rel = self.collector.rel(path)
        state = _File(path=path, rel=rel, constraint=False, dev=dev, group=group, source=source)
        for number, text in lines:
            for _, line in logical_lines(text):
                self._line(state, number, line, (rel,))

    def _line(self, f: _File, number: int, line: str, stack: tuple[str, ...]) -> None:
        if "\x00" in line:  # no path or requirement holds a NUL; Path() would raise on it
            raise InputError(f.rel, "NUL character in the line", number)
        try:
            self._parse_line(f, number, line, stack)
        except _BadURL as exc:
            raise InputError(f.rel, str(exc), number) from None

    def _parse_line(self, f: _File, number: int, line: str, stack: tuple[str, ...]) -> None:
        req_text, option_text = _split_args_options(line)
        if req_text and all(t.startswith("--hash=") for t in option_text.split()):
            option_text = ""  # the common case in hash-pinned locks: nothing to record
        try:
            opts = _OPTIONS.parse_args(_tokens(option_text)) if option_text else None
        except (_OptionError, ValueError) as exc:
            raise InputError(f.rel, f"bad option in {line!r}: {exc}", number) from None
        if req_text:
            if opts is not None and (opts.requirement or opts.constraint or opts.editable):
                raise InputError(f.rel, f"unexpected option after requirement in {line!r}", number)
            self._add(f, number, self._requirement(f, number, req_text, editable=False))
            return
        if opts is None:
            return
        self._options(f, number, opts, stack)

    def _options(self, f: _File, number: int, opts: argparse.Namespace, stack: tuple[str, ...]) -> None:
        for target in opts.requirement:
            self._include(f, number, target, constraint=False, stack=stack)
        for target in opts.constraint:
            self._include(f, number, target, constraint=True, stack=stack)
        for target in opts.editable:
            self._add(f, number, self._requirement(f, number, target, editable=True))
        where = f"{f.rel}:{number}"
        if opts.index_url:
            self.collector.set_index_url(opts.index_url, where)
        for url in opts.extra_index_url:
            self.collector.add_extra_index(url)
        for link in opts.find_links:
            self.collector.add_find_links(self._local_or_url(f, link))
        for host in opts.trusted_host:
            self.collector.add_trusted_host(host)

    def _local_or_url(self, f: _File, link: str) -> str:
        """A local --find-links dir is re-expressed relative to the project root (pip: relative to the file)."""
        if _is_url(link) or _urlsplit(link).scheme:
            return link
        candidate = (f.path.parent / link).resolve()
        return self.collector.rel(candidate) if candidate.exists() else link

    def _include(self, f: _File, number: int, target: str, *, constraint: bool, stack: tuple[str, ...]) -> None:
        if _is_url(target):
            self.collector.warnings.append(f"{f.rel}:{number}: remote requirements file {target} not read")
            return
        path = (f.path.parent / target).resolve()
        # pip: -r inside a constraints file declares, -c anywhere constrains (req_file._parse_and_recurse).
        self.read(path, constraint=constraint, stack=stack, included_from=(f.rel, number))

    def _add(self, f: _File, number: int, req: DeclaredRequirement) -> None:
        """Record a requirement. The project itself (`-e .`) is kept unnamed: it declares no dependency
        to judge, but installing it is how a src-layout app's own package becomes importable, so the
        runtime file must keep the line (`split`; `slim` copies the code instead)."""
        if req.url and not _urlsplit(req.url).scheme:
            target = (f.path.parent / req.url).resolve()
            if target == self.collector.root.resolve() and req.name is not None:
                req = dataclasses.replace(req, name=None)
        self.collector.add(req)

    def _requirement(self, f: _File, number: int, text: str, *, editable: bool) -> DeclaredRequirement:
        location = Location(f.rel, number)
        common = _Common(group=f.group, source=f.source, dev=f.dev, constraint=f.constraint, editable=editable)
        if editable or _is_url(text) or _path_first(text):
            return self._direct(f, number, text, location, common)
        req = read_requirement(text)
        if req is None:
            if _could_be_path(text):
                return self._direct(f, number, text, location, common)
            req = parse_requirement(text, f.rel, number)  # raises the InputError with file:line
        if req.url:
            _urlsplit(req.url)
        return declared_from(req, location, **common)

    def _direct(
        self, f: _File, number: int, text: str, location: Location, common: _Common
    ) -> DeclaredRequirement:
        """A bare URL or local path (`./pkg[ml]`, `https://.../x.whl`, `git+https://...#egg=x`)."""
        if not _is_url(text) and " @ " in text:
            # `name @ url` written after `-e` is still PEP 508.
            return declared_from(parse_requirement(text, f.rel, number), location, **common)
        sep = "; " if _is_url(text) else ";"
        target, _, marker_text = text.partition(sep)
        target = target.strip()
        marker = None
        if marker_text.strip():
            try:
                marker = Marker(marker_text.strip())
            except InvalidMarker as exc:
                raise InputError(f.rel, f"invalid marker in {text!r}: {exc}", number) from None
        extras = ""
        m = _EXTRAS.match(target)
        if m and not _is_url(target):
            target, extras = m.group(1), m.group(2)
            if read_requirement(f"x{extras}") is None:
                raise InputError(f.rel, f"invalid extras in {text!r}", number)
        name = _name_from_direct(target, f.path.parent)
        requirement = text.strip()
        if name and _is_url(target):
            pep508 = f"{name}{extras} @ {target}" + (f"; {marker}" if marker else "")
            requirement = str(parse_requirement(pep508, f.rel, number))
        return DeclaredRequirement(
            name=name,
            requirement=requirement,
            location=location,
            url=target,
            **common,
        )


def _name_from_direct(target: str, base: Path) -> str | None:
    """Name a direct reference from `#egg=`, a wheel/sdist file name, or a local project's metadata."""
    parts = _urlsplit(target)
    egg = parse_qs(parts.fragment).get("egg")
    if egg:
        return requirement_name(egg[0])
    filename = unquote(parts.path.rstrip("/").rsplit("/", 1)[-1])
    try:
        if filename.endswith(".whl"):
            return str(parse_wheel_filename(filename)[0])
        if filename.endswith((".tar.gz", ".zip")):
            return str(parse_sdist_filename(filename)[0])
    except (InvalidWheelFilename, InvalidSdistFilename):
        return None
    if not parts.scheme or parts.scheme == "file":
        local = Path(unquote(parts.path)) if parts.scheme == "file" else expand_user(target)
        directory = local if local.is_absolute() else base / local
        try:
            is_dir = directory.is_dir()
        except (OSError, ValueError):  # a name the OS refuses (too long, a NUL): no such folder
            is_dir = False
        if is_dir:
            return local_project_name(directory)
    return None


def read_requirements_into(collector: Collector, path: Path, *, constraint: bool = False) -> set[str]:
    """Read one file and its -r/-c chain into `collector`; return the files used as constraints."""
    reader = RequirementsReader(collector)
    reader.read(path, constraint=constraint)
    return reader.constraint_files


def parse_requirements_file(path: Path, root: Path) -> DeclaredSet:
    """Read one requirements file with everything it includes (see the module docstring)."""
    collector = Collector(root=root)
    collector.mark_constraint_files(read_requirements_into(collector, path))
    return collector.result()
