"""Jupyter notebooks: the Python in code cells, and `pip install`s seen in them.

Line numbers count the lines of the notebook's code cells one after another (markdown cells
are not counted), the way deptry reports them: cell boundaries do not exist in a `path:line`.
Each cell is scanned on its own, so one broken cell does not hide the imports of the others.
IPython magics (`%...`, `!...`, `x = !cmd`) are blanked, keeping line numbers; a cell whose
`%%` magic runs another language (`%%bash`, `%%sql`, ...) is skipped whole.
"""

from __future__ import annotations

import json
import re
import shlex
from typing import Any

from depslim.imports.contexts import context_data
from depslim.imports.scan import CompiledPatterns, RawImport, RawSignal, scan_text

# NotebookScan: (imports, signals, errors, installs) — errors/installs are (line, text) pairs.
NotebookScan = tuple[
    tuple[RawImport, ...], tuple[RawSignal, ...], tuple[tuple[int, str], ...], tuple[tuple[int, str], ...]
]

_MAGIC = re.compile(r"^\s*(?:[%!]|[\w.]+\s*=\s*[%!])")
_PIP = re.compile(r"^\s*[%!]\s*(?:(?:\S*python\S*|\{[^}]*\})\s+-m\s+)?pip3?\s+install\s+(?P<args>.*)$")
# pip options that take a value: their value is not a requirement.
_PIP_VALUE_OPTIONS = frozenset(
    {
        "-r", "--requirement", "-c", "--constraint", "-i", "--index-url", "--extra-index-url",
        "-f", "--find-links", "-t", "--target", "--prefix", "--root", "--src", "--python-version",
        "--platform", "--implementation", "--abi", "--trusted-host", "--proxy", "--cache-dir",
        "--progress-bar", "--upgrade-strategy", "-e", "--editable",
    }
)


def _python_cell_magics() -> frozenset[str]:
    return frozenset(context_data()["notebooks"]["python_cell_magics"])


def _is_python(nb: dict[str, Any]) -> bool:
    meta = nb.get("metadata") or {}
    language = (meta.get("kernelspec") or {}).get("language") or (meta.get("language_info") or {}).get("name")
    return language is None or str(language).lower() in ("python", "python3", "python2")


def _cells(nb: dict[str, Any]) -> list[list[str]]:
    """Source lines of each code cell (nbformat 4, and 3's worksheets)."""
    cells = nb.get("cells")
    if cells is None:
        cells = [c for ws in nb.get("worksheets") or () for c in ws.get("cells") or ()]
    out = []
    for cell in cells:
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        source = cell.get("source", cell.get("input", ""))
        text = "".join(source) if isinstance(source, list) else str(source)
        out.append(text.removesuffix("\n").split("\n"))
    return out


def pip_requirements(args: str) -> list[str]:
    """Requirement strings of a `pip install` command line (options and their values dropped)."""
    try:
        words = shlex.split(args, comments=True)
    except ValueError:
        words = args.split()
    reqs: list[str] = []
    skip = False
    for word in words:
        if skip:
            skip = False
            continue
        if word in _PIP_VALUE_OPTIONS:
            skip = True
            continue
        if word.startswith("-") or word.startswith("$") or word.startswith("{"):
            continue
        reqs.append(word)
    return reqs


def scan_notebook(data: bytes, patterns: CompiledPatterns) -> NotebookScan | None:
    """Scan a notebook; None for a non-Python kernel. Broken JSON is an error at line 1."""
    try:
        nb = json.loads(data.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        line = getattr(exc, "lineno", 1)
        return (), (), ((line, f"not a readable notebook: {exc}"),), ()
    if not isinstance(nb, dict):
        return (), (), ((1, "not a notebook (top level is not an object)"),), ()
    if not _is_python(nb):
        return None
    python_magics = _python_cell_magics()
    imports: list[RawImport] = []
    signals: list[RawSignal] = []
    errors: list[tuple[int, str]] = []
    installs: list[tuple[int, str]] = []
    offset = 0
    for lines in _cells(nb):
        first = lines[0].strip() if lines else ""
        if first.startswith("%%") and first[2:].split(" ", 1)[0] not in python_magics:
            offset += len(lines)
            continue
        code = []
        for number, line in enumerate(lines, start=offset + 1):
            pip = _PIP.match(line)
            if pip:
                installs.extend((number, req) for req in pip_requirements(pip.group("args")))
            code.append("" if _MAGIC.match(line) else line)
        # Cells are small: parse them whole, so any broken cell is reported.
        cell_imports, cell_signals, error = scan_text("\n".join(code), patterns, full=True)
        imports.extend((m, lvl, line + offset, flags, names) for m, lvl, line, flags, names in cell_imports)
        signals.extend((p, v, line + offset, kind) for p, v, line, kind in cell_signals)
        if error is not None:
            errors.append((error[0] + offset, error[1]))
        offset += len(lines)
    return tuple(imports), tuple(signals), tuple(errors), tuple(installs)
