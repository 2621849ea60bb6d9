"""Report formats. Each module defines `FORMAT` (a `depslim.report.base.Format`) whose
renderers say which report kinds it renders; every command offers exactly the formats that
render its kind. A new format is a module here and one line below."""

from __future__ import annotations

import importlib
from functools import cache
from pathlib import Path

from depslim.report.base import KINDS, Format, RenderOptions

_MODULES = {
    "terminal": "depslim.report.terminal",
    "json": "depslim.report.json",
    "markdown": "depslim.report.markdown",
    "sarif": "depslim.report.sarif",
    "github": "depslim.report.github",
    "html": "depslim.report.html",
}


@cache
def _load(name: str) -> Format | None:
    try:
        module = importlib.import_module(_MODULES[name])
    except ModuleNotFoundError as exc:  # an optional format whose module is absent from this install
        if exc.name == _MODULES[name]:
            return None
        raise
    fmt = module.FORMAT
    assert isinstance(fmt, Format) and fmt.name == name, f"{_MODULES[name]}.FORMAT must be Format({name!r}, ...)"
    return fmt


def available() -> list[str]:
    """Format names whose module is present."""
    return [name for name in _MODULES if _load(name) is not None]


def get(name: str) -> Format:
    """The registered format called `name` (KeyError when there is none)."""
    fmt = _load(name) if name in _MODULES else None
    if fmt is None:
        raise KeyError(name)
    return fmt


def formats_for(kind: str) -> list[str]:
    """The formats a command producing `kind` reports offers (its --format choices)."""
    return [name for name in available() if get(name).supports(kind)]


def infer(output: Path | None) -> str | None:
    """The format an `-o FILE` suffix names (.json, .md, .sarif, .html...), or None when none does."""
    if output is None:
        return None
    suffix = output.suffix.lower()
    for name in available():  # any format: a suffix naming one the command cannot write is an error

        if suffix in get(name).suffixes:
            return name
    return None


__all__ = ["KINDS", "Format", "RenderOptions", "available", "formats_for", "get", "infer"]
