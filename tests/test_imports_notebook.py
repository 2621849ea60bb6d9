"""Notebooks: code cells only, magics blanked with lines kept, pip installs recorded, other kernels skipped."""

from __future__ import annotations

import json
from pathlib import Path

from depslim.imports import scan_project
from depslim.model import Context


def notebook(path: Path, cells: list[tuple[str, str]], language: str | None = "python") -> None:
    meta: dict = {}
    if language is not None:
        meta = {"kernelspec": {"name": language, "display_name": language, "language": language}}
    nb = {
        "cells": [
            {"cell_type": kind, "metadata": {}, "source": source.splitlines(keepends=True),
             **({"outputs": [], "execution_count": None} if kind == "code" else {})}
            for kind, source in cells
        ],
        "metadata": meta,
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(nb, indent=1), encoding="utf-8")


def test_magics_blanked_installs_recorded_lines_kept(tmp_path: Path) -> None:
    notebook(
        tmp_path / "analysis" / "explore.ipynb",
        [
            ("markdown", "# Title\nimport not_code\n"),
            ("code", "%matplotlib inline\n!pip install -q plotly==5.0 'dash>=2' -r reqs.txt\nimport pandas as pd\n"),
            ("code", "%pip install --upgrade seaborn\nfiles = !ls\nimport cv2\n    \n"),
            ("code", "%%bash\npip install not_python\nimport not_python\n"),
            ("code", "%%time\nfrom sklearn import svm\n"),
            ("code", "!python -m pip install xgboost\ntry:\n    import ujson\nexcept ImportError:\n    pass\n"),
            ("code", "def f(:\n"),
            ("code", "import after_broken_cell\n"),
        ],
    )
    result = scan_project(tmp_path)
    got = {(r.module, r.location.line) for r in result.imports}
    assert got == {("pandas", 3), ("cv2", 6), ("sklearn", 12), ("ujson", 15), ("after_broken_cell", 19)}
    assert all(r.notebook and r.context is Context.DEV for r in result.imports)
    assert next(r for r in result.imports if r.module == "ujson").optional
    installs = [(i.requirement, i.location.line) for i in result.notebook_installs]
    assert installs == [("plotly==5.0", 2), ("dash>=2", 2), ("seaborn", 4), ("xgboost", 13)]
    assert all(i.location.path == "analysis/explore.ipynb" for i in result.notebook_installs)
    assert len(result.warnings) == 1
    assert result.warnings[0].startswith("analysis/explore.ipynb:18: does not parse")


def test_non_python_kernels_skipped_and_broken_json_warns(tmp_path: Path) -> None:
    notebook(tmp_path / "r.ipynb", [("code", "library(ggplot2)\nimport nope\n")], language="R")
    notebook(tmp_path / "nometa.ipynb", [("code", "import numpy\n")], language=None)
    (tmp_path / "bad.ipynb").write_text("{not json", encoding="utf-8")
    result = scan_project(tmp_path)
    assert {r.module for r in result.imports} == {"numpy"}
    assert len(result.warnings) == 1 and result.warnings[0].startswith("bad.ipynb:1: not a readable notebook")
    assert result.files_scanned == 3


def test_checkpoints_are_not_scanned(tmp_path: Path) -> None:
    notebook(tmp_path / "nb.ipynb", [("code", "import real\n")])
    notebook(tmp_path / ".ipynb_checkpoints" / "nb-checkpoint.ipynb", [("code", "import stale\n")])
    assert {r.module for r in scan_project(tmp_path).imports} == {"real"}
