"""pyproject.toml: PEP 621, setuptools dynamic files, PEP 735 groups, Poetry; lines and bad input."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from depslim.declared import read_declared, read_declared_with_warnings
from depslim.declared.poetry import to_specifier
from depslim.errors import InputError


def write(path: Path, text: str) -> Path:
    """Write `text` as is; a triple-quoted block starting with a newline is dedented first."""
    if text.startswith("\n "):
        text = textwrap.dedent(text).removeprefix("\n")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def rows(declared):  # type: ignore[no-untyped-def]
    return [(r.location.line, r.name, r.group, r.dev, r.source) for r in declared.requirements]


def test_pep621_dependencies_and_optional(tmp_path: Path) -> None:
    write(
        tmp_path / "pyproject.toml",
        """
        [project]
        name = "churn"
        version = "1.0"
        dependencies = [
            "pandas>=2",   # comment
            'fastapi[all] ; python_version >= "3.10"',
            "weights @ https://example.org/weights-1.0-py3-none-any.whl",
        ]

        [project.optional-dependencies]
        ml = ["torch", "Scikit_Learn>=1.4"]
        test = ["pytest"]
        all = ["churn[ml,test]"]
        """,
    )
    declared = read_declared(tmp_path)
    assert rows(declared) == [
        (5, "pandas", "main", False, "pep621"),
        (6, "fastapi", "main", False, "pep621"),
        (7, "weights", "main", False, "pep621"),
        (11, "torch", "optional:ml", False, "pep621"),
        (11, "scikit-learn", "optional:ml", False, "pep621"),
        (12, "pytest", "optional:test", True, "pep621"),
    ]  # the self-reference "churn[ml,test]" is an include, not a dependency
    assert declared.requirements[1].requirement == 'fastapi[all]; python_version >= "3.10"'
    assert declared.requirements[2].url == "https://example.org/weights-1.0-py3-none-any.whl"
    assert declared.files == ("pyproject.toml",)


def test_setuptools_dynamic_files(tmp_path: Path) -> None:
    write(
        tmp_path / "pyproject.toml",
        """
        [project]
        name = "x"
        dynamic = ["dependencies", "optional-dependencies"]
        [tool.setuptools.dynamic]
        dependencies = {file = ["requirements.txt"]}
        optional-dependencies.gpu = {file = ["reqs/gpu.txt"]}
        """,
    )
    write(tmp_path / "requirements.txt", "numpy\nrequests\n")
    write(tmp_path / "reqs" / "gpu.txt", "\ncupy\n")
    declared = read_declared(tmp_path)
    got = [(r.location.path, r.location.line, r.name, r.group) for r in declared.requirements]
    # requirements.txt is found by the dynamic reference AND by auto-detection: counted once.
    assert got == [
        ("reqs/gpu.txt", 2, "cupy", "optional:gpu"),
        ("requirements.txt", 1, "numpy", "main"),
        ("requirements.txt", 2, "requests", "main"),
    ]
    assert declared.files == ("pyproject.toml", "reqs/gpu.txt", "requirements.txt")


def test_dynamic_file_missing_is_input_error(tmp_path: Path) -> None:
    write(
        tmp_path / "pyproject.toml",
        '[project]\nname = "x"\n\n[tool.setuptools.dynamic]\ndependencies = {file = ["nope.txt"]}\n',
    )
    with pytest.raises(InputError, match=r"pyproject.toml:5: .*nope.txt"):
        read_declared(tmp_path)


def test_pep735_groups_with_include_group(tmp_path: Path) -> None:
    write(
        tmp_path / "pyproject.toml",
        """
        [project]
        name = "x"
        dependencies = []

        [dependency-groups]
        test = ["pytest>=8", "coverage"]
        Lint = ["ruff"]
        dev = [
            {include-group = "test"},
            {include-group = "lint"},
            "ipython",
        ]
        """,
    )
    declared = read_declared(tmp_path)
    assert rows(declared) == [
        (6, "pytest", "group:test", True, "pep735"),
        (6, "coverage", "group:test", True, "pep735"),
        (7, "ruff", "group:Lint", True, "pep735"),
        (11, "ipython", "group:dev", True, "pep735"),
    ]


@pytest.mark.parametrize(
    ("groups", "needle", "line"),
    [
        ('dev = [{include-group = "missing"}]', "unknown group 'missing'", 2),
        # reported where the include that closes the cycle is written
        ('a = [{include-group = "b"}]\nb = [{include-group = "a"}]', "cycle: a -> b -> a", 3),
    ],
)
def test_pep735_bad_includes(tmp_path: Path, groups: str, needle: str, line: int) -> None:
    write(tmp_path / "pyproject.toml", f"[dependency-groups]\n{groups}\n")
    with pytest.raises(InputError) as info:
        read_declared(tmp_path)
    assert needle in str(info.value)
    assert str(info.value).startswith(f"pyproject.toml:{line}:")


def test_poetry_main_groups_legacy_dev_and_extras(tmp_path: Path) -> None:
    write(
        tmp_path / "pyproject.toml",
        """
        [tool.poetry]
        name = "svc"
        version = "0.1.0"

        [tool.poetry.dependencies]
        python = "^3.11"
        requests = "^2.31"
        numpy = "~1.26.4"
        pandas = { version = ">=2,<3", extras = ["parquet"], markers = "sys_platform != 'win32'" }
        torch = [
            { version = "^2.2", python = "<3.12" },
            { version = "2.3.*", python = ">=3.12" },
        ]
        mylib = { git = "https://github.com/org/mylib.git", tag = "v1.0" }
        shap = { version = "*", optional = true }
        anything = "*"
        legacy = "^1 || ^2"

        [tool.poetry.extras]
        explain = ["shap"]

        [tool.poetry.group.test.dependencies]
        pytest = "^8.0"

        [tool.poetry.dev-dependencies]
        black = "24.3.0"

        [[tool.poetry.source]]
        name = "pytorch"
        url = "https://download.pytorch.org/whl/cpu"
        priority = "explicit"
        """,
    )
    declared, warnings = read_declared_with_warnings(tmp_path)
    got = {(r.name, r.requirement, r.location.line, r.group, r.dev) for r in declared.requirements}
    assert got == {
        ("requests", "requests<3.0,>=2.31", 7, "main", False),
        ("numpy", "numpy<1.27.0,>=1.26.4", 8, "main", False),
        ("pandas", "pandas[parquet]<3,>=2; sys_platform != \"win32\"", 9, "main", False),
        ("torch", 'torch<3.0,>=2.2; python_version < "3.12"', 10, "main", False),
        ("torch", 'torch==2.3.*; python_version >= "3.12"', 10, "main", False),
        ("mylib", "mylib @ git+https://github.com/org/mylib.git@v1.0", 14, "main", False),
        ("shap", "shap", 15, "optional:explain", False),
        ("anything", "anything", 16, "main", False),
        ("legacy", "legacy", 17, "main", False),
        ("pytest", "pytest<9.0,>=8.0", 23, "group:test", True),
        ("black", "black==24.3.0", 26, "group:dev", True),
    }
    assert not any(r.name == "python" for r in declared.requirements)
    assert [r.source for r in declared.requirements] == ["poetry"] * 11
    assert declared.index.extra_index_urls == ("https://download.pytorch.org/whl/cpu",)
    assert any("pyproject.toml:17" in w and "either-or" in w for w in warnings)


@pytest.mark.parametrize(
    ("poetry", "pep440"),
    [
        ("^1.2.3", "<2.0.0,>=1.2.3"),
        ("^0.2.3", "<0.3.0,>=0.2.3"),
        ("^0.0.3", "<0.0.4,>=0.0.3"),
        ("^0", "<1,>=0"),
        ("^1.2", "<2.0,>=1.2"),
        ("~1.2.3", "<1.3.0,>=1.2.3"),
        ("~1.2", "<1.3,>=1.2"),
        ("~1", "<2,>=1"),
        ("~=1.4", "~=1.4"),
        ("*", ""),
        ("1.2.*", "==1.2.*"),
        ("1.2.3", "==1.2.3"),
        (">=1,<2", "<2,>=1"),
        (">= 1.2 < 2.0", "<2.0,>=1.2"),
        ("!=1.5, >=1", "!=1.5,>=1"),
    ],
)
def test_poetry_constraint_conversion(poetry: str, pep440: str) -> None:
    assert to_specifier(poetry) == pep440


def test_poetry_main_is_not_double_counted_with_pep621(tmp_path: Path) -> None:
    write(
        tmp_path / "pyproject.toml",
        '[project]\nname = "x"\ndependencies = ["rich>=13"]\n\n[tool.poetry.dependencies]\nrich = "^13"\n',
    )
    assert [(r.name, r.source) for r in read_declared(tmp_path).requirements] == [("rich", "pep621")]


def test_uv_and_pdm_dev_lists(tmp_path: Path) -> None:
    write(
        tmp_path / "pyproject.toml",
        '[tool.uv]\ndev-dependencies = ["pytest"]\n\n[tool.pdm.dev-dependencies]\nlint = ["ruff"]\n',
    )
    assert rows(read_declared(tmp_path)) == [
        (2, "pytest", "group:dev", True, "pep735"),
        (5, "ruff", "group:lint", True, "pep735"),
    ]


def test_toml_syntax_error_names_file_line_and_toml_message(tmp_path: Path) -> None:
    write(tmp_path / "pyproject.toml", '[project]\nname = "x"\ndependencies = ["a",\n  "b" "c"]\n')
    with pytest.raises(InputError) as info:
        read_declared(tmp_path)
    message = str(info.value)
    assert message.startswith("pyproject.toml:4: invalid TOML:")
    assert "at line 4" in message  # tomllib's own text is kept


def test_bad_requirement_in_pyproject_names_line(tmp_path: Path) -> None:
    write(tmp_path / "pyproject.toml", '[project]\nname = "x"\ndependencies = [\n  "ok",\n  "pandas>=>1",\n]\n')
    with pytest.raises(InputError, match=r"^pyproject.toml:5: invalid requirement 'pandas>=>1'"):
        read_declared(tmp_path)


def test_wrong_type_is_input_error(tmp_path: Path) -> None:
    write(tmp_path / "pyproject.toml", '[project]\nname = "x"\ndependencies = "rich"\n')
    with pytest.raises(InputError, match=r"pyproject.toml:3: project.dependencies must be an array"):
        read_declared(tmp_path)
