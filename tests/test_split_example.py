"""`depslim split` end to end on the bundled example project (real analysis of this environment)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from depslim.cli import cli
from depslim.generate.stamp import is_intact

EXAMPLE = Path(__file__).resolve().parents[1] / "fixtures" / "example"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return Path(shutil.copytree(EXAMPLE, tmp_path / "example"))


def _run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["split", *args])
    return result.exit_code, result.output


def test_example_split_reasons_dev_file_cut_list_and_idempotence(project: Path) -> None:
    code, out = _run(str(project))
    assert code == 0, out
    base = (project / "requirements-base.txt").read_text()
    dev = (project / "requirements-dev.txt").read_text()
    cuts = (project / "depslim-cuts.md").read_text()
    assert all(is_intact(t) for t in (base, dev, cuts))
    runtime = [ln for ln in base.splitlines() if ln and not ln.startswith(("#", "-"))]
    assert runtime, base
    assert all("  # " in ln and ln.split("  # ", 1)[1].strip() for ln in runtime)
    assert "-r requirements-base.txt" in dev.splitlines()
    assert "# depslim cut list" in cuts
    # jupyter and pytest never ship in the runtime file
    assert not any(ln.startswith(("jupyter", "pytest", "black")) for ln in runtime)
    before = {p.name: p.read_bytes() for p in project.iterdir() if p.is_file()}

    code, out = _run(str(project))
    assert code == 0, out
    assert {p.name: p.read_bytes() for p in project.iterdir() if p.is_file()} == before

    (project / "requirements-base.txt").write_text(base.replace(runtime[0], runtime[0] + "  # mine"))
    code, out = _run(str(project))
    assert code == 2
    assert "edited by hand" in out
    code, out = _run(str(project), "--force")
    assert code == 0, out
    assert (project / "requirements-base.txt").read_bytes() == before["requirements-base.txt"]


def test_apply_swaps_from_config_is_honoured(project: Path) -> None:
    pyproject = project / "pyproject.toml"
    pyproject.write_text(pyproject.read_text() + 'swap = ["swap:not-a-rule"]\n')  # one swap: `swap`
    code, out = _run(str(project))
    assert code == 2
    assert "no swap finding 'swap:not-a-rule'" in out
    assert not (project / "requirements-base.txt").exists()  # nothing half-written


def test_to_pyproject_refuses_dynamic_dependencies(project: Path) -> None:
    code, out = _run(str(project), "--to", "pyproject")
    assert code == 2 and "dynamic" in out


def test_a_swap_never_puts_a_dev_only_package_back_into_the_base(project: Path) -> None:
    """opencv-python is only used by a notebook: it is cut from the runtime (to the dev file), and a
    package on the cut list gets no swap, so nothing puts opencv back into the base."""
    code, out = _run(str(project), "--apply-swaps")
    assert code == 0, out
    base = (project / "requirements-base.txt").read_text()
    dev = (project / "requirements-dev.txt").read_text()
    assert not [ln for ln in base.splitlines() if ln.startswith("opencv")]
    assert any(ln.startswith("opencv-python") and "swapped" not in ln for ln in dev.splitlines())


def test_the_project_itself_stays_installable(tmp_path: Path) -> None:
    """A src-layout app whose CMD runs its own package: `-e .` stays in requirements-base.txt."""
    root = tmp_path / "app"
    (root / "src" / "app").mkdir(parents=True)
    (root / "src" / "app" / "__init__.py").write_text("import click\n")
    (root / "src" / "app" / "__main__.py").write_text("from app import click\n")
    (root / "pyproject.toml").write_text('[project]\nname = "app"\nversion = "1"\n')
    (root / "requirements.txt").write_text("-e .\nclick\n")
    (root / "Dockerfile").write_text('FROM python:3.11\nCMD ["python", "-m", "app"]\n')
    code, out = _run(str(root))
    assert code == 0, out
    lines = [ln for ln in (root / "requirements-base.txt").read_text().splitlines() if ln and ln[0] != "#"]
    assert "-e .  # declared: requirements.txt:1" in lines
    assert any(ln.startswith("click==") for ln in lines)


def _library(tmp_path: Path) -> Path:
    root = tmp_path / "lib"
    (root / "src" / "lib").mkdir(parents=True)
    (root / "src" / "lib" / "__init__.py").write_text("import click\nimport rich\n")
    (root / "pyproject.toml").write_text(
        '[project]\nname = "lib"\nversion = "1.0"\ndependencies = ["click>=8.0", "rich>=13", "requests>=2"]\n')
    return root


def test_to_pyproject_keeps_a_librarys_ranges_and_dry_run_writes_nothing(tmp_path: Path) -> None:
    root = _library(tmp_path)
    before = (root / "pyproject.toml").read_text()
    code, out = _run(str(root), "--to", "pyproject", "--dry-run")
    assert code == 0, out
    assert (root / "pyproject.toml").read_text() == before and not (root / "depslim-cuts.md").exists()
    assert '-dependencies = ["click>=8.0", "rich>=13", "requests>=2"]' in out  # a diff, shown first
    assert '+    "click>=8.0", # import: src/lib/__init__.py:1' in out and "click==" not in out
    assert "+++ b/" in out and "depslim-cuts.md" in out
    code, out = _run(str(root), "--to", "pyproject")
    assert code == 0, out
    text = (root / "pyproject.toml").read_text()
    assert '"click>=8.0"' in text and '"rich>=13"' in text and "requests" not in text.split("[dependency-groups]")[0]
    assert "==" not in text


def test_to_pyproject_pins_only_when_asked(tmp_path: Path) -> None:
    root = _library(tmp_path)
    code, out = _run(str(root), "--to", "pyproject", "--pin", "--dry-run")
    assert code == 0 and "click==" in out
