"""Minimal inputs the fuzzers found crashing a parser, kept as fixed examples: each must now be a
result or one `InputError` naming the file (never a traceback)."""

from __future__ import annotations

from typing import Any

import pytest

from depslim.errors import InputError
from tests.fuzz.targets import TARGETS

CASES: list[tuple[str, str, Any]] = [
    ("pyproject", "dynamic file name holding a NUL",
     {"pyproject.toml": b'[tool.setuptools.dynamic.dependencies]\nfile = ["x\\u0000y.txt"]\n'}),
    ("pyproject", "dynamic file that is a number", {"pyproject.toml": b"[tool.setuptools.dynamic]\n"
                                                    b"dependencies = {file = 3}\n"}),
    ("pyproject", "dynamic optional-dependencies that is an array",
     {"pyproject.toml": b"[tool.setuptools]\ndynamic = {optional-dependencies = [1]}\n"}),
    ("pyproject", "[tool.pixi] conda package named -x",
     {"pyproject.toml": b'[tool.pixi.dependencies]\n-x = "~1.2.3"\n'}),
    ("requirements", "a line read as a path under an unknown ~user", {"requirements.txt": b"~=1\n-e ~nobody-x/y\n"}),
    ("pixi", "conda package whose name no requirement can hold", {"pixi.toml": b'[dependencies]\n"a b" = "^"\n'}),
    ("pyproject", "poetry extras that are no list",
     {"pyproject.toml": b'[tool.poetry.dependencies]\nx = {version = "1", extras = 3}\n'}),
    ("pyproject", "dynamic file name longer than the OS allows",
     {"pyproject.toml": b'[tool.setuptools.dynamic]\ndependencies = {file = ["' + b"a" * 400 + b'"]}\n'}),
    ("requirements", "an unterminated string in a marker (packaging raises SyntaxError)",
     {"requirements.txt": b"requests>=1; extra == 'gpu\\'\n"}),
    ("requirements", "a local path longer than the OS allows", {"requirements.txt": b"./" + b"a" * 400 + b"\n"}),
    ("setup_py", "brackets nested past the parser's limit (MemoryError from ast.parse)",
     {"setup.py": b"from setuptools import setup\nREQS = " + b"[" * 200 + b"]" * 50 + b"U" + b"]" * 150 + b"\n"}),
    ("imports", "brackets nested past the parser's limit in an import-bearing file",
     b"import os\nX = " + b"[" * 200 + b"]" * 50 + b"U" + b"]" * 150 + b"\n"),
]


@pytest.mark.parametrize(("name", "why", "value"), CASES, ids=[f"{n}: {w}" for n, w, _ in CASES])
def test_found_by_fuzzing(name: str, why: str, value: Any) -> None:
    target = TARGETS[name]
    try:
        target.run(value)
    except InputError as exc:
        assert "\n" not in str(exc) and str(exc).split(":")[0] in str(exc)
