"""setup.cfg and setup.py (read statically with ast, never executed)."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from depslim.declared import read_declared, read_declared_with_warnings
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


def test_setup_cfg_install_requires_and_extras(tmp_path: Path) -> None:
    write(
        tmp_path / "setup.cfg",
        """
        [metadata]
        name = churn

        [options]
        packages = find:
        install_requires =
            pandas>=2
            # a comment
            requests[socks] ; python_version >= "3.9"
        tests_require = pytest

        [options.extras_require]
        ml =
            torch
            scikit-learn
        docs = sphinx; furo
        """,
    )
    declared = read_declared(tmp_path)
    assert rows(declared) == [
        (7, "pandas", "main", False, "setup.cfg"),
        (9, "requests", "main", False, "setup.cfg"),
        (10, "pytest", "dev", True, "setup.cfg"),
        (14, "torch", "optional:ml", False, "setup.cfg"),
        (15, "scikit-learn", "optional:ml", False, "setup.cfg"),
        (16, "sphinx", "optional:docs", True, "setup.cfg"),
        (16, "furo", "optional:docs", True, "setup.cfg"),
    ]


def test_setup_cfg_file_directive(tmp_path: Path) -> None:
    write(tmp_path / "setup.cfg", "[options]\ninstall_requires = file: reqs/base.in\n")
    write(tmp_path / "reqs" / "base.in", "# base\nclick\n")
    assert [(r.location.path, r.location.line, r.name) for r in read_declared(tmp_path).requirements] == [
        ("reqs/base.in", 2, "click")
    ]


def test_setup_cfg_bad_requirement_names_line(tmp_path: Path) -> None:
    write(tmp_path / "setup.cfg", "[options]\ninstall_requires =\n    numpy\n    pandas>=>1\n")
    with pytest.raises(InputError, match=r"^setup.cfg:4: invalid requirement 'pandas>=>1'"):
        read_declared(tmp_path)


def test_setup_py_literals_and_module_level_variable(tmp_path: Path) -> None:
    write(
        tmp_path / "setup.py",
        """
        from setuptools import setup

        BASE = [
            "numpy>=1.26",
            "pandas",
        ]
        SERVE = ["fastapi"]

        setup(
            name="churn",
            install_requires=BASE + SERVE + ["requests"],
            extras_require={
                "ml": ["torch"],
                "test": ["pytest"],
                "win:sys_platform == 'win32'": ["pywin32 ; python_version >= '3.8'"],
            },
            tests_require="coverage\\nhypothesis",
        )
        """,
    )
    declared, warnings = read_declared_with_warnings(tmp_path)
    assert warnings == []
    assert rows(declared) == [
        (4, "numpy", "main", False, "setup.py"),
        (5, "pandas", "main", False, "setup.py"),
        (7, "fastapi", "main", False, "setup.py"),
        (11, "requests", "main", False, "setup.py"),
        (13, "torch", "optional:ml", False, "setup.py"),
        (14, "pytest", "optional:test", True, "setup.py"),
        (15, "pywin32", "optional:win", False, "setup.py"),
        (17, "coverage", "dev", True, "setup.py"),
        (18, "hypothesis", "dev", True, "setup.py"),
    ]
    pywin32 = declared.requirements[6]
    assert pywin32.requirement == 'pywin32; python_version >= "3.8" and sys_platform == "win32"'


def test_setup_py_non_literal_is_warned_and_never_executed(tmp_path: Path) -> None:
    marker = tmp_path / "EXECUTED"
    write(
        tmp_path / "setup.py",
        f"""
        import pathlib
        pathlib.Path({str(marker)!r}).write_text("setup.py was executed")
        from setuptools import setup

        def read_reqs():
            return open("requirements-frozen.lst").read().splitlines()

        setup(
            name="x",
            install_requires=read_reqs(),
            extras_require={{"ml": ["torch"]}},
        )
        """,
    )
    declared, warnings = read_declared_with_warnings(tmp_path)
    assert not marker.exists()
    assert rows(declared) == [(11, "torch", "optional:ml", False, "setup.py")]
    assert len(warnings) == 1
    assert warnings[0].startswith("setup.py:10:") and "install_requires is not a literal" in warnings[0]


def test_setup_py_rebound_variable_is_not_guessed(tmp_path: Path) -> None:
    write(
        tmp_path / "setup.py",
        'from setuptools import setup\nREQS = ["a"]\nREQS += ["b"]\nsetup(install_requires=REQS)\n',
    )
    declared, warnings = read_declared_with_warnings(tmp_path)
    assert declared.requirements == ()
    assert warnings and warnings[0].startswith("setup.py:4:")


def test_setup_py_python2_syntax_is_input_error(tmp_path: Path) -> None:
    write(tmp_path / "setup.py", 'from distutils.core import setup\nprint "hello"\nsetup(name="x")\n')
    with pytest.raises(InputError, match=r"^setup.py:2: cannot parse setup.py"):
        read_declared(tmp_path)


def test_setup_py_bad_requirement_names_line(tmp_path: Path) -> None:
    source = 'import setuptools\nsetuptools.setup(\n    install_requires=["ok", "pandas>=>1"],\n)\n'
    write(tmp_path / "setup.py", source)
    with pytest.raises(InputError, match=r"^setup.py:3: invalid requirement 'pandas>=>1'"):
        read_declared(tmp_path)


def test_setup_cfg_extras_require_as_an_options_key_is_warned_not_read(tmp_path: Path) -> None:
    """setuptools reads extras only from `[options.extras_require]`; `extras_require = x` in [options]
    (a FawltyDeps sample reads it as declared) is no declaration to setuptools, so none to depslim."""
    (tmp_path / "setup.cfg").write_text("[options]\ninstall_requires = pandas\nextras_require = pytorch\n")
    declared, warnings = read_declared_with_warnings(tmp_path)
    assert {r.name for r in declared.requirements} == {"pandas"}
    assert any("[options] extras_require is not read" in w and w.startswith("setup.cfg:") for w in warnings)
