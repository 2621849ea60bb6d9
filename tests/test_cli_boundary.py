"""The CLI's single error boundary: one line naming the file, exit 2, no traceback, no overwrite."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from depslim.fsio import atomic_write
from depslim.imports import POOL_MIN_FILES


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "depslim", *args], capture_output=True, text=True, cwd=cwd)


def test_missing_project_is_one_line_exit_2(tmp_path: Path) -> None:
    missing = tmp_path / "nope"
    result = run("analyze", str(missing), "--format", "json")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and str(missing) in lines[0] and "no such project directory" in lines[0]


def test_output_is_not_overwritten_without_force(tmp_path: Path) -> None:
    (tmp_path / "proj").mkdir()
    out = tmp_path / "report.json"
    out.write_text("keep me")
    result = run("analyze", str(tmp_path / "proj"), "--format", "json", "-o", str(out), "--no-cache")
    assert result.returncode == 2, result.stderr
    assert out.read_text() == "keep me"
    assert "--force" in result.stderr
    forced = run("analyze", str(tmp_path / "proj"), "--format", "json", "-o", str(out), "--no-cache", "--force")
    assert forced.returncode == 0, forced.stderr
    assert out.read_text().startswith("{")


def test_atomic_write_leaves_no_temp_files(tmp_path: Path) -> None:
    target = tmp_path / "a" / "b.txt"
    atomic_write(target, "one")
    atomic_write(target, "two")
    assert target.read_text() == "two"
    assert [p.name for p in target.parent.iterdir()] == ["b.txt"]


def test_bad_requirement_in_a_project_big_enough_for_the_pool_is_one_line_exit_2(tmp_path: Path) -> None:
    """The declarations are read in a thread while the scan's workers parse; its error still
    comes out through the boundary as one line, and the good case reports what it read."""
    project = tmp_path / "proj"
    for i in range(POOL_MIN_FILES + 5):
        path = project / "app" / f"m{i}.py"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("import click\n")
    (project / "requirements.txt").write_text("click\nnumpy >>= 1\n")
    result = run("analyze", str(project), "--format", "json", "--no-cache")
    assert result.returncode == 2, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "requirements.txt:2" in lines[0], result.stderr
    assert result.stdout == ""
    (project / "requirements.txt").write_text("click\n")
    good = run("analyze", str(project), "--format", "json", "--no-cache")
    assert good.returncode == 0, good.stderr
    report = json.loads(good.stdout)
    click = next(d for d in report["distributions"] if d["name"] == "click")
    assert click["verdict"] == "runtime" and click["size_bytes"] > 0
