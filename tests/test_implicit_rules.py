"""Every implicit-need rule in data/implicit.toml fires on real code through the real scanner, and only on
runtime code: a rule that no code can trigger (a pattern the scanner never reports) is a dead promise."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from helpers import write_tree

from depslim.implicit import ImplicitRule, find_hits, rules, signal_patterns
from depslim.imports import scan_project

# A literal that each string rule must match: a new string rule has to add one here.
STRING_SAMPLES = {
    "fsspec-s3": "s3://bucket/key.parquet",
    "fsspec-gcs": "gs://bucket/key.parquet",
    "fsspec-azure": "abfs://container/key.parquet",
    "sqlalchemy-psycopg2": "postgresql+psycopg2://u@db/x",
    "sqlalchemy-psycopg3": "postgresql+psycopg://u@db/x",
    "sqlalchemy-asyncpg": "postgresql+asyncpg://u@db/x",
    "sqlalchemy-pg8000": "postgresql+pg8000://u@db/x",
    "sqlalchemy-pymysql": "mysql+pymysql://u@db/x",
    "sqlalchemy-mysqldb": "mysql+mysqldb://u@db/x",
    "sqlalchemy-mysqlconnector": "mysql+mysqlconnector://u@db/x",
    "sqlalchemy-mssql": "mssql+pyodbc://u@db/x",
    "sqlalchemy-oracle": "oracle+oracledb://u@db/x",
    "sqlalchemy-snowflake": "snowflake://u@acct/db",
}


def _snippet(rule: ImplicitRule) -> str:
    """Code that uses the rule's first attribute as an application would."""
    if rule.strings:
        return f"URL = {STRING_SAMPLES[rule.id]!r}\n"
    attribute = rule.attributes[0]
    if attribute.startswith("."):
        return f"def save(frame):\n    frame{attribute}('out')\n"
    module, _, name = attribute.rpartition(".")
    return f"import {module}\n\n\ndef go():\n    return {module}.{name}('x')\n"


def _fired(root: Path) -> set[str]:
    scan = scan_project(root, patterns=signal_patterns())
    return {hit.rule.id for hit in find_hits(scan)}


@pytest.mark.parametrize("rule", [r for r in rules() if r.attributes or r.strings], ids=lambda r: r.id)
def test_every_rule_fires_on_runtime_code_and_not_on_tests(rule: ImplicitRule, tmp_path: Path) -> None:
    code = _snippet(rule)
    if rule.strings:
        assert any(re.match(s, STRING_SAMPLES[rule.id]) for s in rule.strings)
    runtime = write_tree(tmp_path / "runtime", {"app/__init__.py": "", "app/main.py": code})
    assert rule.id in _fired(runtime)
    dev = write_tree(tmp_path / "dev", {"tests/test_main.py": code})
    assert rule.id not in _fired(dev)


def test_every_string_rule_has_a_sample() -> None:
    assert {r.id for r in rules() if r.strings} == set(STRING_SAMPLES)
