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
from collections.abc import Mapping

from depslim.errors import InputError
from depslim.imports.contexts import context_data
from depslim.imports.scan import CompiledPatterns, RawImport, RawSignal, scan_text
from depslim.jsonshape import JObject, Where

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


def _is_python(nb: JObject) -> bool:
    meta = nb.obj("metadata")
    language = meta.obj("kernelspec").opt_text("language") or meta.obj("language_info").opt_text("name")
    return language is None or language.lower() in ("python", "python3", "python2")


def _cells(nb: JObject) -> list[list[str]]:
    """Source lines of each code cell (nbformat 4, and 3's worksheets), every field read through
    depslim.jsonshape: a `source` that is a number, a `cells` that is an object, are errors."""
    if nb.opt_array("cells") is not None:
        cells = nb.array("cells")
        field = nb.path("cells")
    else:
        cells = [cell for sheet in nb.objects("worksheets") for cell in sheet.array("cells")]
        field = nb.path("worksheets[].cells")
    out = []
    for index, item in enumerate(cells):
        if not isinstance(item, Mapping):
            continue  # not a cell: nothing to scan (as Jupyter skips it)
        cell = JObject(item, nb.where, f"{field}[{index}]")
        if cell.text("cell_type") != "code":
            continue
        key = "source" if "source" in cell else "input"
        source = cell.get(key)
        text = source if isinstance(source, str) else "".join(cell.texts(key))
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
        document = json.loads(data.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError) as exc:
        line = getattr(exc, "lineno", 1)
        return (), (), ((line, f"not a readable notebook: {exc}"),), ()
    except RecursionError:
        return (), (), ((1, "not a readable notebook: JSON nested too deeply"),), ()
    if not isinstance(document, Mapping):
        return (), (), ((1, "not a notebook (top level is not an object)"),), ()
    nb = JObject(document, Where("notebook"))
    try:
        if not _is_python(nb):
            return None
        cells = _cells(nb)
    except InputError as exc:
        return (), (), ((1, f"not a readable notebook: {exc.problem}"),), ()
    python_magics = _python_cell_magics()
    imports: list[RawImport] = []
    signals: list[RawSignal] = []
    errors: list[tuple[int, str]] = []
    installs: list[tuple[int, str]] = []
    offset = 0
    for lines in cells:
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
