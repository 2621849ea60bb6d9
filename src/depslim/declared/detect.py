"""Which files declare a project's dependencies (the role of deptry's builder.py), and in what order.

pyproject.toml is read first so that a requirements file it references through setuptools
`dynamic` keeps the group the reference gives it; the same file found again by auto-detection
then adds nothing. Resolver output (`requirements.txt` compiled from `requirements.in` or from
pyproject) is read last and, when anything else declares, as constraints: its transitive pins are
not the project's declarations.

Requirement files are found at the root (`data/dev_groups.toml [detect] globs`) and in sub-folders
to a bounded depth (`services/api/requirements.txt`), and so are the named declaration files
(`subpkg/setup.py`, `services/api/pyproject.toml`) outside folders whose path says dev (a test
fixture, a docs or example project), with the source walk's exclusions: nothing in a virtualenv,
a vendored tree (`__pypackages__`, `site-packages`, `node_modules`), a .gitignore'd folder or
what `--exclude` leaves out. A file depslim generated is never one of them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from depslim.declared.classify import (
    detect_globs,
    is_compiled,
    is_tree_declaration,
    is_tree_requirements,
    tree_depth,
)
from depslim.errors import InputError
from depslim.fsio import decode_text
from depslim.inputfile import read_bytes

KIND_ORDER = {
    "pyproject": 0, "setup.cfg": 1, "setup.py": 2, "pipfile": 3, "pixi": 4, "conda": 5,
    "requirements": 6, "compiled": 7,
}
# Declaration files found by their exact name at the project root, and the reader each needs.
NAMED = (
    ("pyproject", "pyproject.toml"), ("setup.cfg", "setup.cfg"), ("setup.py", "setup.py"), ("pipfile", "Pipfile"),
    ("pixi", "pixi.toml"), ("conda", "environment.yml"), ("conda", "environment.yaml"),
)


@dataclass(frozen=True)
class Source:
    """One file to read and the reader it needs."""

    kind: str  # a key of KIND_ORDER
    path: Path


def _kind_of(path: Path) -> str:
    named = {name: kind for kind, name in NAMED}
    if path.name in named:
        return named[path.name]
    if path.suffix == ".toml":
        return "pyproject"
    if path.suffix in (".yml", ".yaml"):
        return "conda"
    return "requirements"


def _is_compiled_file(path: Path) -> bool:
    if path.suffix == ".txt" and path.with_suffix(".in").is_file():
        return True
    try:
        return is_compiled(decode_text(read_bytes(path)))
    except (OSError, UnicodeDecodeError):
        return False


def _ordered(sources: list[Source]) -> list[Source]:
    unique = {(s.kind, s.path.resolve()): s for s in sources}
    return sorted(unique.values(), key=lambda s: (KIND_ORDER[s.kind], s.path.as_posix()))


def is_generated(path: Path) -> bool:
    """A file depslim wrote (stamped first line): an output, never a declaration to read back.

    Without this a second run would read its own requirements-base.txt, requirements-slim.txt
    and locks back as declarations, and every command would drift instead of being idempotent."""
    from depslim.generate.stamp import MARK

    try:
        with path.open(encoding="utf-8", errors="replace") as handle:
            return MARK in handle.readline(4096)
    except OSError:
        return False


def detect_sources(root: Path, exclude: Sequence[str] = ()) -> list[Source]:
    """Auto-detect declaration files in `root` (see `data/dev_groups.toml` [detect]); depslim's
    own generated files are never among them, nor a file the user's `exclude` patterns (gitignore
    syntax, as for the source walk) leave out."""
    from depslim.imports.walk import find_files

    sources = [Source(kind, root / name) for kind, name in NAMED if (root / name).is_file()]
    found = [path for pattern in detect_globs() for path in root.glob(pattern)]
    found += [root / rel for rel in find_files(root, _in_sub_folder, tree_depth())]
    for path in found:
        if path.is_file() and not is_generated(path):
            kind = _kind_of(path)
            if kind == "requirements" and _is_compiled_file(path):
                kind = "compiled"
            sources.append(Source(kind, path))
    excluded = _excluded_by(root, exclude)
    return _ordered([s for s in sources if not excluded(s.path)])


def _in_sub_folder(rel_dir: str, name: str) -> bool:
    """A requirement or named declaration file below the root (the root's own are found apart)."""
    return bool(rel_dir) and (is_tree_requirements(rel_dir, name) or is_tree_declaration(rel_dir, name))


def _excluded_by(root: Path, patterns: Sequence[str]) -> Callable[[Path], bool]:
    """Does `--exclude` leave this file out? (The file or one of its folders matches, as in the walk.)"""
    from depslim.imports.walk import IgnoreRules

    rules = IgnoreRules.parse(patterns) if patterns else None
    if rules is None:
        return lambda _path: False

    def excluded(path: Path) -> bool:
        parts = path.relative_to(root).parts
        folders = ("/".join(parts[:depth]) for depth in range(1, len(parts)))
        return any(rules.verdict(rel, True) for rel in folders) or bool(rules.verdict("/".join(parts), False))

    return excluded


def explicit_sources(root: Path, files: list[Path]) -> list[Source]:
    """Sources for files the user named (relative to the project root, else to the working dir).

    A pip-compile output the user names is their declaration (deptry's `--requirements-files
    requirements.txt` in a project that also has requirements.in): it is read as a lock only when its
    own `.in` is named beside it."""
    sources = []
    named = {(f if f.is_absolute() else root / f).resolve() for f in files}
    for given in files:
        path = given if given.is_absolute() else root / given
        if not path.is_file() and not given.is_absolute() and given.is_file():
            path = given
        if not path.is_file():
            raise InputError(given, "declared-dependency file does not exist")
        kind = _kind_of(path)
        if kind == "requirements" and _is_compiled_file(path) and path.with_suffix(".in").resolve() in named:
            kind = "compiled"
        sources.append(Source(kind, path))
    return _ordered(sources)
