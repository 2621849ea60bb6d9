"""Dev or runtime: decided from the file name or group name, with the rule lists kept as data.

The lists live in `depslim/data/dev_groups.toml` so a new naming habit is a data change.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import PurePosixPath

from packaging.utils import canonicalize_name

from depslim.knowledge import check_keys, load_data

_DATA = "dev_groups"
_TOKEN_SPLIT = re.compile(r"[/\-_.]+")


@cache
def _rules() -> tuple[frozenset[str], frozenset[str], frozenset[str]]:
    data = load_data(_DATA)
    where = f"depslim/data/{_DATA}.toml"
    check_keys(data, required=("files", "extras", "groups", "detect"), where=where)
    check_keys(data["detect"], required=("globs", "compiled_markers"), where=f"{where} [detect]")
    check_keys(data["files"], required=("tokens",), where=f"{where} [files]")
    check_keys(data["extras"], required=("names",), where=f"{where} [extras]")
    check_keys(data["groups"], required=("runtime",), where=f"{where} [groups]")
    return (
        frozenset(t.lower() for t in data["files"]["tokens"]),
        frozenset(canonicalize_name(n) for n in data["extras"]["names"]),
        frozenset(canonicalize_name(n) for n in data["groups"]["runtime"]),
    )


def is_dev_file(rel_path: str) -> bool:
    """`requirements-dev.txt`, `requirements/test.txt`, `docs/requirements.txt`, `base-dev.in` → dev."""
    path = PurePosixPath(rel_path.lower())
    text = (path.parent / path.stem).as_posix()
    tokens = set(_TOKEN_SPLIT.split(text))
    return bool(tokens & _rules()[0])


def is_dev_extra(extra: str) -> bool:
    """An extra named dev/test/tests/docs/lint/typing is tooling, not an optional runtime feature."""
    return canonicalize_name(extra) in _rules()[1]


def is_dev_group(group: str) -> bool:
    """PEP 735 and Poetry groups are dev unless named like the runtime (`main`, `prod`)."""
    return canonicalize_name(group) not in _rules()[2]


def detect_globs() -> tuple[str, ...]:
    """Globs (relative to the project root) of requirements files read by auto-detection."""
    return tuple(load_data(_DATA)["detect"]["globs"])


def is_compiled(text: str) -> bool:
    """True when a requirements file's header says a resolver generated it (pip-compile, uv, ...)."""
    _rules()  # validates the file's shape
    head = "\n".join(text.splitlines()[:15]).lower()
    return any(marker in head for marker in load_data(_DATA)["detect"]["compiled_markers"])
