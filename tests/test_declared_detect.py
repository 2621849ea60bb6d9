"""Auto-detection, explicit file lists, ordering, and the bundled example project."""

from __future__ import annotations

from pathlib import Path

import pytest

from depslim.declared import detect_sources, read_declared
from depslim.errors import InputError

EXAMPLE = Path(__file__).resolve().parent.parent / "fixtures" / "example"


def test_bundled_example_reads_requirements_once_via_dynamic_dependencies() -> None:
    declared = read_declared(EXAMPLE)
    assert declared.files == ("pyproject.toml", "requirements.txt")
    got = [(r.name, r.location.path, r.location.line) for r in declared.requirements]
    lines = (EXAMPLE / "requirements.txt").read_text(encoding="utf-8").splitlines()
    expected = [
        (name, "requirements.txt", number)
        for number, name in enumerate(
            (
                None, "fastapi", "uvicorn", "pydantic", "numpy", "pandas", "scikit-learn", "joblib", "pyarrow",
                "s3fs", "sqlalchemy", "psycopg2-binary", "mlflow", "requests", "tqdm", "jupyter", "ipykernel",
                "matplotlib", "seaborn", "opencv-python", "pytest", "httpx", "black",
            ),
            start=1,
        )
        if name is not None
    ]
    assert got == expected
    # each recorded line really is where the requirement is written
    for name, _, number in got:
        assert lines[number - 1].lower().replace("_", "-").startswith(name)
    assert all(r.group == "main" and not r.dev and not r.constraint for r in declared.requirements)
    uvicorn = next(r for r in declared.requirements if r.name == "uvicorn")
    assert uvicorn.requirement == "uvicorn[standard]==0.34.3"


def test_detection_finds_every_format_in_a_fixed_order(tmp_path: Path) -> None:
    for name in (
        "setup.py", "setup.cfg", "pyproject.toml", "requirements.txt", "dev-requirements.txt",
        "requirements/prod.txt", "requirements-gpu.in", "docs/requirements.txt", "notes.txt",
    ):
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("", encoding="utf-8")
    found = [(s.kind, s.path.relative_to(tmp_path).as_posix()) for s in detect_sources(tmp_path)]
    assert found == [
        ("pyproject", "pyproject.toml"),
        ("setup.cfg", "setup.cfg"),
        ("setup.py", "setup.py"),
        ("requirements", "dev-requirements.txt"),
        ("requirements", "docs/requirements.txt"),
        ("requirements", "requirements-gpu.in"),
        ("requirements", "requirements.txt"),
        ("requirements", "requirements/prod.txt"),
    ]


def test_requirements_sorted_by_file_then_line(tmp_path: Path) -> None:
    (tmp_path / "requirements.txt").write_text("zlib-ng\nabc\n", encoding="utf-8")
    (tmp_path / "dev-requirements.txt").write_text("pytest\n", encoding="utf-8")
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "p"\ndependencies = ["rich"]\n', encoding="utf-8")
    declared = read_declared(tmp_path)
    assert [str(r.location) for r in declared.requirements] == [
        "dev-requirements.txt:1", "pyproject.toml:3", "requirements.txt:1", "requirements.txt:2",
    ]
    assert declared.files == ("dev-requirements.txt", "pyproject.toml", "requirements.txt")


def test_explicit_files_only_read_those(tmp_path: Path) -> None:
    (tmp_path / "requirements.txt").write_text("numpy\n", encoding="utf-8")
    (tmp_path / "other.lst").write_text("rich\n", encoding="utf-8")
    declared = read_declared(tmp_path, [Path("other.lst")])
    assert [(r.name, r.location.path) for r in declared.requirements] == [("rich", "other.lst")]


def test_explicit_missing_file_is_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"nope\.txt: declared-dependency file does not exist"):
        read_declared(tmp_path, [Path("nope.txt")])


def test_empty_project_declares_nothing(tmp_path: Path) -> None:
    declared = read_declared(tmp_path)
    assert declared.requirements == () and declared.files == ()
