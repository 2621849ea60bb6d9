"""The CLI's single error boundary: one line naming the file, exit 2, no traceback, no overwrite."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from depslim.fsio import atomic_write


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
