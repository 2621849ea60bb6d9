"""Dev, optional or runtime: decided from the file name or group name, with the rule lists kept as data.

The lists live in `depslim/data/dev_groups.toml` so a new naming habit is a data change.
"""

from __future__ import annotations

import re
from fnmatch import fnmatchcase
from functools import cache
from pathlib import PurePosixPath

from packaging.utils import canonicalize_name

from depslim.knowledge import check_keys, load_data

_DATA = "dev_groups"
_TOKEN_SPLIT = re.compile(r"[/\-_.]+")
_FIRST_WORD = re.compile(r"#\s*([A-Za-z]+)")


@cache
def _rules() -> tuple[frozenset[str], frozenset[str], frozenset[str]]:
    data = load_data(_DATA)
    where = f"depslim/data/{_DATA}.toml"
    check_keys(data, required=("files", "extras", "groups", "detect", "optional_files"), where=where)
    check_keys(data["detect"], required=("globs", "compiled_markers", "tree_names", "tree_folders", "tree_depth",
                                         "tree_declarations"), where=f"{where} [detect]")
    check_keys(data["files"], required=("tokens",), where=f"{where} [files]")
    check_keys(data["optional_files"], required=("tokens", "header_words"), where=f"{where} [optional_files]")
    check_keys(data["extras"], required=("names",), where=f"{where} [extras]")
    check_keys(data["groups"], required=("runtime",), where=f"{where} [groups]")
    return (
        frozenset(t.lower() for t in data["files"]["tokens"]),
        frozenset(canonicalize_name(n) for n in data["extras"]["names"]),
        frozenset(canonicalize_name(n) for n in data["groups"]["runtime"]),
    )


def _path_tokens(rel_path: str) -> set[str]:
    path = PurePosixPath(rel_path.lower())
    return set(_TOKEN_SPLIT.split((path.parent / path.stem).as_posix()))


def is_dev_file(rel_path: str) -> bool:
    """`requirements-dev.txt`, `requirements/test.txt`, `docs/requirements.txt`, `base-dev.in` → dev."""
    return bool(_path_tokens(rel_path) & _rules()[0])


def is_optional_file(rel_path: str, text: str) -> bool:
    """`requirements-optional.txt`, `requirements_additional.txt`, `requirements-extra-gpu.txt`, or a
    file whose first line is a comment opening with "Optional"/"Additional"/"Extra": what it
    declares is an opt-in feature, not the runtime base (the caller checks dev first)."""
    _rules()  # validates the file's shape
    optional = load_data(_DATA)["optional_files"]
    if _path_tokens(rel_path) & {t.lower() for t in optional["tokens"]}:
        return True
    first = next((line.strip() for line in text.splitlines() if line.strip()), "")
    word = _FIRST_WORD.match(first)
    return word is not None and word.group(1).lower() in {w.lower() for w in optional["header_words"]}


def is_dev_extra(extra: str) -> bool:
    """An extra named dev/test/tests/docs/lint/typing is tooling, not an optional runtime feature."""
    return canonicalize_name(extra) in _rules()[1]


def is_dev_group(group: str) -> bool:
    """PEP 735 and Poetry groups are dev unless named like the runtime (`main`, `prod`)."""
    return canonicalize_name(group) not in _rules()[2]


def detect_globs() -> tuple[str, ...]:
    """Globs (relative to the project root) of requirements files read by auto-detection."""
    _rules()
    return tuple(load_data(_DATA)["detect"]["globs"])


def tree_depth() -> int:
    """How many folders below the root requirement files are looked for."""
    _rules()
    return int(load_data(_DATA)["detect"]["tree_depth"])


def is_tree_requirements(rel_dir: str, name: str) -> bool:
    """A requirement file in a sub-folder: `services/api/requirements.txt`, `app/requirements/prod.in`."""
    detect = load_data(_DATA)["detect"]
    if any(fnmatchcase(name, pattern) for pattern in detect["tree_names"]):
        return True
    folder = rel_dir.rpartition("/")[2]
    return folder in detect["tree_folders"] and name.endswith((".txt", ".in"))


def is_tree_declaration(rel_dir: str, name: str) -> bool:
    """A named declaration file in a sub-folder (`subpkg/setup.py`, `services/api/pyproject.toml`),
    unless its path says dev: a test fixture's or an example's pyproject is not the project's."""
    _rules()  # validates the file's shape
    return name in load_data(_DATA)["detect"]["tree_declarations"] and not is_dev_file(f"{rel_dir}/{name}")


def is_compiled(text: str) -> bool:
    """True when a requirements file's header says a resolver generated it (pip-compile, uv, ...)."""
    _rules()  # validates the file's shape
    head = "\n".join(text.splitlines()[:15]).lower()
    return any(marker in head for marker in load_data(_DATA)["detect"]["compiled_markers"])
