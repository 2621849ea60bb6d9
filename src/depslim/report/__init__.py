"""Report formats for `analyze`. Each module has `name` and a pure `render(report) -> str`;
the CLI writes the result. New formats add a module here and one line below."""

from __future__ import annotations

import importlib
from importlib.util import find_spec
from types import ModuleType

_MODULES = {
    "terminal": "depslim.report.terminal",
    "json": "depslim.report.json",
    "markdown": "depslim.report.markdown",
    "sarif": "depslim.report.sarif",
    "github": "depslim.report.github",
    "html": "depslim.report.html",
}


def available() -> list[str]:
    """Format names whose module is present."""
    return [name for name, module in _MODULES.items() if find_spec(module) is not None]


def get(name: str) -> ModuleType:
    return importlib.import_module(_MODULES[name])
