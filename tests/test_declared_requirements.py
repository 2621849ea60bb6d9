"""pip requirements files: every line form, -r/-c chains with file:line, options, bad input."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from depslim.declared import parse_requirements_file, read_declared, read_declared_with_warnings
from depslim.errors import InputError


def write(path: Path, text: str) -> Path:
    """Write `text` as is; a triple-quoted block starting with a newline is dedented first."""
    if text.startswith("\n "):
        text = textwrap.dedent(text).removeprefix("\n")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def by_name(declared):  # type: ignore[no-untyped-def]
    return {r.name: r for r in declared.requirements}


def test_line_forms_markers_extras_urls_hashes_continuations(tmp_path: Path) -> None:
    (tmp_path / "localpkg").mkdir()
    write(tmp_path / "localpkg" / "pyproject.toml", '[project]\nname = "Local_Pkg"\n')
    req = write(
        tmp_path / "requirements.txt",
        r"""
        # a comment line
        Pandas[parquet]>=2.0 ; python_version >= "3.9"   # trailing comment
        numpy==1.26.4 \
            --hash=sha256:aaaa \
            --hash=sha256:bbbb
        torch @ https://download.pytorch.org/whl/cpu/torch-2.2.2%2Bcpu-cp311-cp311-linux_x86_64.whl
        ./localpkg
        https://files.example.org/packages/tiny_wheel-1.0-py3-none-any.whl
        git+https://github.com/org/tool.git@v1.2#egg=Git_Tool
        ./vendor/archive-3.1.tar.gz
        -e ./localpkg
        requests\
        >=2.31
        attrs ; platform_machine != "x86/64"
        vendor/sub
        """,
    )
    declared = parse_requirements_file(req, tmp_path)
    got = [(r.name, r.location.line) for r in declared.requirements]
    assert got == [
        ("pandas", 2),
        ("numpy", 3),
        ("torch", 6),
        ("local-pkg", 7),
        ("tiny-wheel", 8),
        ("git-tool", 9),
        ("archive", 10),
        ("local-pkg", 11),
        ("requests", 12),
        ("attrs", 14),
        (None, 15),
    ]
    reqs = declared.requirements
    assert reqs[0].requirement == 'Pandas[parquet]>=2.0; python_version >= "3.9"'
    assert reqs[1].requirement == "numpy==1.26.4"  # hashes are options, not part of the requirement
    assert reqs[2].url and reqs[2].url.startswith("https://download.pytorch.org/")
    assert reqs[3].url == "./localpkg" and reqs[3].requirement == "./localpkg" and not reqs[3].editable
    assert reqs[4].requirement == "tiny-wheel @ https://files.example.org/packages/tiny_wheel-1.0-py3-none-any.whl"
    assert reqs[5].url == "git+https://github.com/org/tool.git@v1.2#egg=Git_Tool"
    assert reqs[7].editable and reqs[7].url == "./localpkg"
    assert reqs[8].requirement == "requests>=2.31"
    assert reqs[9].url is None and reqs[10].url == "vendor/sub"
    assert all(r.location.path == "requirements.txt" and r.group == "main" and not r.dev for r in reqs)
    assert declared.files == ("requirements.txt",)


def test_bare_path_with_extras_and_marker(tmp_path: Path) -> None:
    (tmp_path / "lib").mkdir()
    write(tmp_path / "lib" / "setup.cfg", "[metadata]\nname = my-lib\n")
    req = write(tmp_path / "requirements.txt", "./lib[fast]; sys_platform == 'linux'\n")
    (only,) = parse_requirements_file(req, tmp_path).requirements
    assert only.name == "my-lib" and only.url == "./lib"


def test_unnamed_local_path_keeps_text(tmp_path: Path) -> None:
    (tmp_path / "nameless").mkdir()
    req = write(tmp_path / "requirements.txt", "./nameless\n")
    (only,) = parse_requirements_file(req, tmp_path).requirements
    assert only.name is None and only.requirement == "./nameless"


def test_r_and_c_chain_keep_their_own_file_and_line(tmp_path: Path) -> None:
    write(tmp_path / "requirements" / "base.txt", "\n\nscikit-learn>=1.4\n-c ../constraints.txt\n")
    write(tmp_path / "constraints.txt", "# pins\nscikit-learn==1.4.2\nurllib3<2\n")
    dev = write(
        tmp_path / "requirements-dev.txt",
        """
        -r requirements/base.txt
        pytest>=8
        """,
    )
    declared = parse_requirements_file(dev, tmp_path)
    got = [(r.location.path, r.location.line, r.name, r.constraint, r.dev, r.group) for r in declared.requirements]
    assert got == [
        ("constraints.txt", 2, "scikit-learn", True, False, "main"),
        ("constraints.txt", 3, "urllib3", True, False, "main"),
        ("requirements-dev.txt", 2, "pytest", False, True, "dev"),
        ("requirements/base.txt", 3, "scikit-learn", False, False, "main"),
    ]
    assert declared.files == ("constraints.txt", "requirements-dev.txt", "requirements/base.txt")


def test_index_options_are_recorded(tmp_path: Path) -> None:
    (tmp_path / "wheels").mkdir()
    req = write(
        tmp_path / "requirements.txt",
        """
        --index-url https://pypi.example.org/simple
        --extra-index-url=https://download.pytorch.org/whl/cpu
        -f ./wheels
        --find-links https://example.org/links/
        --trusted-host pypi.example.org
        --prefer-binary
        torch==2.2.2+cpu
        """,
    )
    declared = parse_requirements_file(req, tmp_path)
    assert declared.index.index_url == "https://pypi.example.org/simple"
    assert declared.index.extra_index_urls == ("https://download.pytorch.org/whl/cpu",)
    assert declared.index.find_links == ("wheels", "https://example.org/links/")
    assert declared.index.trusted_hosts == ("pypi.example.org",)
    assert [r.requirement for r in declared.requirements] == ["torch==2.2.2+cpu"]


def test_index_options_in_included_file(tmp_path: Path) -> None:
    write(tmp_path / "sub" / "extra.txt", "-i https://mirror.example/simple\nrich\n")
    req = write(tmp_path / "requirements.txt", "-r sub/extra.txt\n")
    declared = parse_requirements_file(req, tmp_path)
    assert declared.index.index_url == "https://mirror.example/simple"
    assert declared.requirements[0].location.path == "sub/extra.txt"


@pytest.mark.parametrize(
    ("name", "dev", "group"),
    [
        ("requirements-dev.txt", True, "dev"),
        ("dev-requirements.txt", True, "dev"),
        ("requirements-test-gpu.txt", True, "dev"),
        ("test-requirements.txt", True, "dev"),
        ("requirements/dev.txt", True, "dev"),
        ("docs/requirements.txt", True, "dev"),
        ("base-dev.in", True, "dev"),
        ("requirements.txt", False, "main"),
        ("requirements/prod.txt", False, "main"),
        ("requirements.in", False, "main"),
    ],
)
def test_dev_classification_by_file_name(tmp_path: Path, name: str, dev: bool, group: str) -> None:
    req = write(tmp_path / name, "rich\n")
    (only,) = parse_requirements_file(req, tmp_path).requirements
    assert (only.dev, only.group) == (dev, group)


@pytest.mark.parametrize(
    ("text", "line", "needle"),
    [
        ("numpy\npandas>=>1\n", 2, "pandas>=>1"),
        ("numpy\n\n-r missing.txt\n", 3, "missing.txt"),
        ("rich\n--no-such-option x\n", 2, "bad option"),
        ("numpy ; python_version >>> '3'\n", 1, "invalid requirement"),
        ("./pkg ; python_versio == '3'\n", 1, "invalid marker"),
    ],
)
def test_bad_lines_raise_input_error_with_file_and_line(tmp_path: Path, text: str, line: int, needle: str) -> None:
    (tmp_path / "pkg").mkdir()
    req = write(tmp_path / "requirements.txt", text)
    with pytest.raises(InputError) as info:
        parse_requirements_file(req, tmp_path)
    assert f"requirements.txt:{line}:" in str(info.value)
    assert needle in str(info.value)
    assert info.value.line == line


def test_include_cycle_is_detected(tmp_path: Path) -> None:
    write(tmp_path / "a.txt", "rich\n-r b.txt\n")
    write(tmp_path / "b.txt", "\n-r a.txt\n")
    with pytest.raises(InputError) as info:
        parse_requirements_file(tmp_path / "a.txt", tmp_path)
    message = str(info.value)
    assert message.startswith("b.txt:2:")
    assert "a.txt -> b.txt -> a.txt" in message


def test_diamond_includes_count_once(tmp_path: Path) -> None:
    write(tmp_path / "common.txt", "numpy\n")
    write(tmp_path / "x.txt", "-r common.txt\n")
    write(tmp_path / "y.txt", "-r common.txt\n")
    write(tmp_path / "all.txt", "-r x.txt\n-r y.txt\n")
    declared = parse_requirements_file(tmp_path / "all.txt", tmp_path)
    assert [(r.name, r.location.path) for r in declared.requirements] == [("numpy", "common.txt")]


def test_remote_include_is_warned_not_fetched(tmp_path: Path) -> None:
    write(tmp_path / "requirements.txt", "-r https://example.invalid/reqs.txt\nrich\n")
    declared, warnings = read_declared_with_warnings(tmp_path)
    assert [r.name for r in declared.requirements] == ["rich"]
    assert any("requirements.txt:1" in w and "not read" in w for w in warnings)


def test_auto_detect_dedups_included_files_and_constraint_files(tmp_path: Path) -> None:
    write(tmp_path / "requirements.txt", "pandas\n-c requirements-constraints.txt\n")
    write(tmp_path / "requirements-dev.txt", "-r requirements.txt\npytest\n")
    write(tmp_path / "requirements-constraints.txt", "pandas==2.2.1\n")
    declared = read_declared(tmp_path)
    got = [(r.location.path, r.location.line, r.name, r.constraint) for r in declared.requirements]
    assert got == [
        ("requirements-constraints.txt", 1, "pandas", True),
        ("requirements-dev.txt", 2, "pytest", False),
        ("requirements.txt", 1, "pandas", False),
    ]


def test_compiled_lock_next_to_in_file_is_read_as_constraints(tmp_path: Path) -> None:
    write(tmp_path / "requirements.in", "mlflow\n")
    write(
        tmp_path / "requirements.txt",
        """
        #
        # This file is autogenerated by pip-compile with Python 3.11
        #
        mlflow==2.12.1
        alembic==1.13.1
            # via mlflow
        """,
    )
    declared, warnings = read_declared_with_warnings(tmp_path)
    declares = [(r.name, r.location.path) for r in declared.requirements if not r.constraint]
    pins = [r.name for r in declared.requirements if r.constraint]
    assert declares == [("mlflow", "requirements.in")]
    assert pins == ["mlflow", "alembic"]
    assert any("requirements.txt" in w and "constraints" in w for w in warnings)


def test_compiled_file_alone_still_declares(tmp_path: Path) -> None:
    write(tmp_path / "requirements.txt", "# This file is autogenerated by pip-compile\nrich==13.0\n")
    declared = read_declared(tmp_path)
    assert [(r.name, r.constraint) for r in declared.requirements] == [("rich", False)]


def test_editable_project_itself_is_kept_unnamed(tmp_path: Path) -> None:
    """`-e .` declares no dependency to judge (no name, no verdict), but the line stays: installing the
    project is how a src-layout app's own package becomes importable in the rebuilt image."""
    write(tmp_path / "pyproject.toml", '[project]\nname = "me"\n')
    write(tmp_path / "requirements-dev.txt", "-e .\npytest\n")
    declared, warnings = read_declared_with_warnings(tmp_path)
    assert [(r.name, r.editable, r.url) for r in declared.requirements] == [(None, True, "."), ("pytest", False, None)]
    assert warnings == []


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-be", "utf-8-sig", "utf-32"])
def test_a_byte_order_mark_decides_the_encoding_as_pip_does(tmp_path: Path, encoding: str) -> None:
    """Windows' `pip freeze > requirements.txt` writes UTF-16 with a BOM; pip reads it, so does depslim."""
    text = "flask==3.0.3\r\nwaitress==3.0.0\r\n"
    data = text.encode(encoding)
    if encoding == "utf-16-be":
        data = b"\xfe\xff" + data
    (tmp_path / "requirements.txt").write_bytes(data)
    declared = read_declared(tmp_path)
    assert [(r.name, r.requirement, r.location.line) for r in declared.requirements] == [
        ("flask", "flask==3.0.3", 1), ("waitress", "waitress==3.0.0", 2)]


def test_undecodable_requirements_are_one_clear_error(tmp_path: Path) -> None:
    (tmp_path / "requirements.txt").write_bytes(b"flask==3\n\xff\xfe\xfa broken\n")
    with pytest.raises(InputError, match=r"requirements.txt: cannot read requirements file"):
        read_declared(tmp_path)


def test_pipfile_packages_and_dev_packages(tmp_path: Path) -> None:
    (tmp_path / "Pipfile").write_text(textwrap.dedent("""\
        [[source]]
        url = "https://pypi.org/simple"
        verify_ssl = true
        name = "pypi"

        [packages]
        flask = "==3.0.0"
        xgboost = "*"
        "scikit-learn" = {version = ">=1.3", extras = ["alldeps"]}
        gunicorn = {version = "*", markers = "sys_platform == 'linux'"}
        mylib = {path = "./lib", editable = true}

        [dev-packages]
        pytest = "*"
        """))
    declared = read_declared(tmp_path)
    got = [(r.name, r.requirement, r.location.line, r.dev) for r in declared.requirements]
    assert got == [
        ("flask", "flask==3.0.0", 7, False),
        ("xgboost", "xgboost", 8, False),
        ("scikit-learn", "scikit-learn[alldeps]>=1.3", 9, False),
        ("gunicorn", 'gunicorn; sys_platform == "linux"', 10, False),
        ("pytest", "pytest", 14, True),
    ]
    assert declared.files == ("Pipfile",)
    assert declared.index.index_url == "https://pypi.org/simple"
    assert any("Pipfile:11" in w and "mylib" in w for w in declared.warnings)
