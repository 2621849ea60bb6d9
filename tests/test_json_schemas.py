"""One JSON schema family (issue 14): every command's JSON report carries the envelope
(`schema` = "depslim/<kind>", `schema_version`) and validates against its packaged
draft 2020-12 schema. The validator covers the subset the schemas use (no new dependency)."""

from __future__ import annotations

import json
from importlib.resources import files
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from depslim import report as registry
from depslim.cli import cli
from tests.test_format_matrix import CASES, world  # noqa: F401  (the fixture is used by name)

TYPES: dict[str, tuple[type, ...]] = {"string": (str,), "integer": (int,), "number": (int, float),
                                     "boolean": (bool,), "array": (list,), "object": (dict,), "null": (type(None),)}


def schema_for(kind: str) -> dict[str, Any]:
    text = files("depslim.data").joinpath("schemas", f"{kind}.schema.json").read_text(encoding="utf-8")
    return json.loads(text)


def errors(schema: dict[str, Any], value: Any, where: str = "$") -> list[str]:
    """Violations of the subset used: type, const, pattern, required, properties."""
    import re

    found: list[str] = []
    if "const" in schema and value != schema["const"]:
        found.append(f"{where}: expected {schema['const']!r}, got {value!r}")
    if "type" in schema:
        names = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        ok = any(isinstance(value, TYPES[n]) and not (n in ("integer", "number") and isinstance(value, bool))
                 for n in names)
        if not ok:
            found.append(f"{where}: expected {names}, got {type(value).__name__}")
    if "pattern" in schema and isinstance(value, str) and not re.search(schema["pattern"], value):
        found.append(f"{where}: {value!r} does not match {schema['pattern']}")
    if isinstance(value, dict):
        found += [f"{where}: missing {key!r}" for key in schema.get("required", ()) if key not in value]
        for key, sub in schema.get("properties", {}).items():
            if key in value:
                found += errors(sub, value[key], f"{where}.{key}")
    return found


def test_every_kind_has_a_schema() -> None:
    for kind in registry.KINDS:
        schema = schema_for(kind)
        assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
        assert schema["properties"]["schema"] == {"const": f"depslim/{kind}"}
        assert {"schema", "schema_version"} <= set(schema["required"])


@pytest.mark.parametrize(("kind", "target"), [(k, t) for k, ts in CASES.items() for t in ts])
def test_command_json_validates(world: dict[str, Path], kind: str, target: str) -> None:  # noqa: F811
    result = CliRunner().invoke(cli, [*CASES[kind][target](world), "--format", "json"])
    assert result.exit_code in (0, 1), result.output
    doc = json.loads(result.output)
    assert list(doc)[:2] == ["schema", "schema_version"]
    assert errors(schema_for(kind), doc) == []


def test_verify_json_validates() -> None:
    from depslim.verify.run import ImageFacts, VerifyReport

    report = VerifyReport("proj", ImageFacts("x:1", 1000, "app", "3.11", ("python", "-m", "app")), ())
    assert errors(schema_for("verify"), json.loads(registry.get("json").render("verify", report))) == []


def test_validator_catches_a_wrong_document() -> None:
    assert errors(schema_for("audit"), {"schema": "depslim/check", "schema_version": "2", "rows": {}})


def test_analyze_report_with_envelope_loads_back(world: dict[str, Path]) -> None:  # noqa: F811
    from depslim.report.json import load_report

    text = world["report"].read_text(encoding="utf-8")
    assert json.loads(text)["schema"] == "depslim/analyze"
    assert load_report(text, "r.json").distributions
