"""`depslim split --to pyproject`: rewrite `[project] dependencies` and the PEP 735 `dev`
dependency group in place.

Why tomlkit: it is a round-trip TOML parser, so every byte outside the two arrays we replace —
comments, key order, quoting, blank lines — survives. `tomllib` cannot write, and a regex over
TOML would break on multi-line strings and comments. Each array item carries its reason as a
trailing comment, like the lines of requirements-base.txt.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from depslim.errors import InputError
from depslim.generate.split import Line


def _array(lines: Sequence[Line], keep: Sequence[Any] = ()) -> Any:
    import tomlkit

    arr = tomlkit.array()
    for item in keep:  # e.g. {include-group = "lint"} tables in a dependency group
        arr.add_line(item)
    for line in lines:
        if line.requirement.startswith("-e "):
            continue  # editables cannot be expressed in PEP 508 arrays
        arr.add_line(line.requirement, comment=line.reason)
    arr.add_line(indent="")
    return arr


def edit_pyproject(text: str, base: Sequence[Line], dev: Sequence[Line], *, path: str = "pyproject.toml") -> str:
    """Return `text` with the runtime and dev arrays replaced; everything else untouched."""
    try:
        import tomlkit
        from tomlkit.exceptions import TOMLKitError
    except ModuleNotFoundError:  # pragma: no cover - tomlkit is a declared dependency
        raise InputError(path, "--to pyproject needs the 'tomlkit' package (pip install tomlkit)") from None
    try:
        doc = tomlkit.parse(text)
    except TOMLKitError as exc:
        raise InputError(path, f"invalid TOML: {exc}") from None
    project = doc.get("project")
    if project is None:
        raise InputError(path, "no [project] table; --to pyproject edits PEP 621 metadata")
    if "dependencies" in (project.get("dynamic") or []):
        raise InputError(
            path,
            "[project] dependencies are dynamic (read from another file); write requirements files "
            "instead (depslim split without --to pyproject)",
        )
    project["dependencies"] = _array(base)
    groups = doc.get("dependency-groups")
    if groups is None:
        groups = tomlkit.table()
        doc.add("dependency-groups", groups)
    old = groups.get("dev") or []
    keep = [item for item in old if not isinstance(item, str)]
    groups["dev"] = _array(dev, keep)
    return tomlkit.dumps(doc)
