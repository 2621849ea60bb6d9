"""`python -m depslim analyze|split` on projects written to disk, against this interpreter's own
environment (click, rich, packaging, pluggy, iniconfig are installed with depslim's test extra):
a re-raising ImportError handler is a hard need, optional requirement files stay out of the runtime
base, and notebooks' `!pip install` lines are findings.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from helpers import write_dedented as write

from depslim.model import IMPORT_PROBLEM_CODES

INSTALLED = ("click", "rich", "packaging", "pluggy", "iniconfig")


@pytest.fixture(autouse=True, scope="module")
def _needs_installed() -> None:
    from importlib.metadata import PackageNotFoundError, distribution

    try:
        for name in INSTALLED:
            distribution(name)
    except PackageNotFoundError as exc:  # pragma: no cover - the test extra installs them
        pytest.fail(f"{exc}: install depslim with its test extra")




def depslim(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "400"}  # terminal tables unwrapped, one finding a line
    return subprocess.run([sys.executable, "-m", "depslim", *args], capture_output=True, text=True, env=env)


def analyze_json(root: Path, tmp_path: Path) -> dict[str, Any]:
    out = tmp_path / "report.json"
    result = depslim("analyze", str(root), "--format", "json", "-o", str(out), "--no-cache")
    assert result.returncode == 0, result.stderr
    return json.loads(out.read_text())


APP = """
    import click

    try:
        import rich
    except ImportError as exc:
        raise SystemExit("depslim-demo needs rich: pip install rich") from exc

    try:
        import pluggy
    except ImportError:
        pluggy = None
"""


def test_reraising_import_error_handler_is_a_hard_need_end_to_end(tmp_path: Path) -> None:
    """rich is guarded by a handler that re-raises: undeclared, it is a warning like any runtime
    import (not the informational `optional`); pluggy's handler falls back: optional."""
    root = write(tmp_path / "proj", {"requirements.txt": "click\n", "app.py": APP})
    report = analyze_json(root, tmp_path)
    codes = {f["subject"]: f["code"] for f in report["findings"] if f["subject"] in ("rich", "pluggy")}
    assert codes["pluggy"] == "optional"
    assert codes["rich"] in ("undeclared", "transitive")
    rich = next(f for f in report["findings"] if f["subject"] == "rich")
    assert rich["severity"] == "warning"
    assert [(e["path"], e["line"], e["kind"]) for e in rich["evidence"]] == [("app.py", 4, "import")]


def test_split_keeps_optional_requirement_files_out_of_the_base(tmp_path: Path) -> None:
    """requirements-optional.txt declares rich (hard import: base), pluggy (optional import: left
    out) and iniconfig (never imported: left out, listed as optional, not as a cut)."""
    root = write(tmp_path / "proj", {
        "requirements.txt": "click\n",
        "requirements-optional.txt": "rich\npluggy\niniconfig\n",
        "app.py": APP,
    })
    result = depslim("split", str(root))
    assert result.returncode == 0, result.stderr
    assert "2 runtime, 0 dev, 0 cut, 0 swapped, 2 optional (left out)" in result.stderr
    base = (root / "requirements-base.txt").read_text()
    names = {line.split("==")[0] for line in base.splitlines() if line and not line.startswith(("#", "-"))}
    assert names == {"click", "rich"}
    assert "# Optional (declared opt-in, not needed by runtime code):" in base
    assert "Cut list (dropped)" not in base
    cuts = (root / "depslim-cuts.md").read_text()
    optional = cuts.split("## Optional, not in requirements-base.txt", 1)[1]
    assert "| pluggy |" in optional and "| iniconfig |" in optional
    assert "optional import at app.py:9" in optional and "never imported" in optional
    dev = (root / "requirements-dev.txt").read_text()
    assert "pluggy" not in dev and "iniconfig" not in dev


NOTEBOOK = {
    "cells": [
        {"cell_type": "markdown", "source": ["# Exploration\n"]},
        {"cell_type": "code", "source": ["!pip install -q click 'rich>=13'\n", "import rich\n"]},
        {"cell_type": "code", "source": ["import click\n", "%pip install --upgrade seaborn==0.13.2\n"]},
    ],
    "metadata": {"kernelspec": {"language": "python", "name": "python3"}},
    "nbformat": 4,
    "nbformat_minor": 5,
}


def test_notebook_pip_installs_are_findings_saying_whether_declared(tmp_path: Path) -> None:
    root = write(tmp_path / "proj", {"requirements.txt": "click\n", "app.py": "import click\n",
                                     "notebooks/explore.ipynb": json.dumps(NOTEBOOK)})
    report = analyze_json(root, tmp_path)
    found = {f["subject"]: f for f in report["findings"] if f["code"] == "notebook-install"}
    assert sorted(found) == ["click", "rich", "seaborn"]
    assert all(f["severity"] == "info" and f["owner"] == "Data Scientist" for f in found.values())
    declared = "click is installed by a notebook (pip install) and declared at requirements.txt:1"
    assert found["click"]["title"] == declared
    assert found["rich"]["title"] == "rich is installed by a notebook (pip install) but declared nowhere"
    evidence = {s: [(e["path"], e["line"], e["detail"]) for e in f["evidence"]] for s, f in found.items()}
    assert evidence == {
        "click": [("notebooks/explore.ipynb", 1, "pip install click")],
        "rich": [("notebooks/explore.ipynb", 1, "pip install rich>=13")],
        "seaborn": [("notebooks/explore.ipynb", 4, "pip install seaborn==0.13.2")],
    }
    # informational: listed with the import problems, not counted as one
    assert report["summary"]["problems"] == sum(1 for f in report["findings"] if f["code"] in IMPORT_PROBLEM_CODES)

    terminal = depslim("analyze", str(root), "--no-cache")
    assert terminal.returncode == 0, terminal.stderr
    problems = terminal.stdout.split("Import problems", 1)[1]
    row = next(line for line in problems.splitlines() if "seaborn is installed" in line)
    assert "seaborn is installed by a notebook (pip install) but declared nowhere" in row
    assert "notebooks/explore.ipynb:4 (notebook-install: pip install seaborn==0.13.2)" in row
    markdown = depslim("analyze", str(root), "--no-cache", "--format", "markdown")
    assert markdown.returncode == 0, markdown.stderr
    summary = report["summary"]["problems"]
    notes = sum(1 for f in report["findings"] if f["code"] in ("optional", "notebook-install"))
    # the heading counts what the summary counts; the informational rows are named as notes
    heading = f"<b>Import problems</b> ({summary})" + (f" and notes ({notes})" if notes else "")
    assert heading in markdown.stdout and f"({summary} import problems)" in terminal.stdout
    section = markdown.stdout.split(heading, 1)[1]
    assert "seaborn is installed by a notebook (pip install) but declared nowhere" in section
    assert "`notebooks/explore.ipynb:4` (notebook-install: pip install seaborn==0.13.2)" in section
