"""The finder registry is the one path findings take (issue 14): every finder module under
`findings/` is registered, the core calls no finder directly, and each finder module imports
on its own (no `findings/image` ↔ `targets/image` circle)."""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

import depslim.findings as findings_pkg
from depslim.findings import FINDERS, TARGET_FINDERS

SRC = Path(findings_pkg.__file__).parent.parent
NOT_FINDERS = {"base"}  # the interface module, not a family


def _finder_modules() -> list[str]:
    return sorted(m.name for m in pkgutil.iter_modules(findings_pkg.__path__) if m.name not in NOT_FINDERS)


def _finder_classes(module_name: str) -> list[type]:
    module = importlib.import_module(f"depslim.findings.{module_name}")
    return [obj for _, obj in inspect.getmembers(module, inspect.isclass)
            if obj.__module__ == module.__name__ and obj.__name__.endswith("Finder")]


@pytest.mark.parametrize("module_name", _finder_modules())
def test_every_finder_module_is_registered(module_name: str) -> None:
    classes = _finder_classes(module_name)
    assert classes, f"findings/{module_name}.py defines no *Finder class"
    assert any(c in FINDERS for c in classes), f"findings/{module_name}.py: no finder of it is in FINDERS"


def test_target_finders_are_registered_finders() -> None:
    assert set(TARGET_FINDERS) <= set(FINDERS)


def _imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{a.name}" for a in node.names)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
    return found


def test_core_reaches_findings_only_through_the_registry() -> None:
    imported = {m for m in _imported_modules(SRC / "core.py") if m.startswith("depslim.findings")}
    allowed = {"depslim.findings", "depslim.findings.run", "depslim.findings.base",
               "depslim.findings.base.AnalysisContext", "depslim.findings.base.Finder"}
    assert imported <= allowed, f"core imports finder modules directly: {sorted(imported - allowed)}"


def test_targets_never_import_findings() -> None:
    """A target measures; judging is a finder's job. This is what keeps the import graph acyclic."""
    for path in (SRC / "targets").rglob("*.py"):
        bad = {m for m in _imported_modules(path) if m.startswith("depslim.findings")}
        assert not bad, f"{path.relative_to(SRC)} imports {sorted(bad)}"


@pytest.mark.parametrize("module", [f"depslim.findings.{m}" for m in _finder_modules()]
                         + ["depslim.targets.image.target", "depslim.targets.image"])
def test_module_imports_in_isolation(module: str) -> None:
    """Each module imported first, in a fresh interpreter: an import circle fails here."""
    result = subprocess.run([sys.executable, "-c", f"import {module}"], capture_output=True, text=True,
                            env={"PYTHONPATH": str(SRC.parent)}, check=False)
    assert result.returncode == 0, result.stderr
