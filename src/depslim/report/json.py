"""The machine format: a stable, versioned JSON document (schema in docs/report-schema.md).

Key order follows the record fields, lists are already sorted by the core, and `load_report`
reads the document back into the same records, so `depslim diff` can compare two reports.
"""

from __future__ import annotations

import dataclasses
import json
import types
from collections.abc import Mapping
from enum import Enum
from typing import Any, Union, get_args, get_origin, get_type_hints

from depslim.errors import InputError
from depslim.model import SCHEMA_VERSION, Report

name = "json"


_SCALARS = frozenset({str, int, float, bool, type(None)})
_FIELDS: dict[type, tuple[str, ...]] = {}


def _field_names(cls: type) -> tuple[str, ...]:
    names = _FIELDS.get(cls)
    if names is None:
        names = _FIELDS[cls] = tuple(f.name for f in dataclasses.fields(cls))
    return names


def to_data(value: Any) -> Any:
    """Records → plain JSON values (enums by value, tuples as lists, mappings as objects)."""
    kind = type(value)
    if kind in _SCALARS:  # most values: answered before the slower checks below
        return value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {name: to_data(getattr(value, name)) for name in _field_names(kind)}
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Mapping):
        return {str(k): to_data(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        items = [to_data(v) for v in value]
        return sorted(items) if isinstance(value, set | frozenset) else items
    return value


def render(report: Report) -> str:
    return json.dumps(to_data(report), indent=2, ensure_ascii=False) + "\n"


def _decode(tp: Any, value: Any) -> Any:
    origin = get_origin(tp)
    if value is None:
        return None
    if origin in (Union, types.UnionType):
        options = [a for a in get_args(tp) if a is not type(None)]
        return _decode(options[0], value) if len(options) == 1 else value
    if dataclasses.is_dataclass(tp):
        return from_data(tp, value)
    if isinstance(tp, type) and issubclass(tp, Enum):
        return tp(value)
    if origin is tuple:
        args = get_args(tp)
        return tuple(_decode(args[0], v) for v in value)
    if origin in (frozenset, set):
        return frozenset(_decode(get_args(tp)[0], v) for v in value)
    return value


def from_data(cls: Any, data: Mapping[str, Any]) -> Any:
    """Plain JSON values → records of type `cls` (unknown keys ignored: newer minor versions)."""
    hints = get_type_hints(cls)
    kwargs = {f.name: _decode(hints[f.name], data[f.name]) for f in dataclasses.fields(cls) if f.name in data}
    return cls(**kwargs)


def load_report(text: str, source: str = "<report>") -> Report:
    """Parse a JSON report written by `render`; bad or foreign documents are an InputError."""
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise InputError(source, f"not a JSON document ({exc})") from None
    if not isinstance(data, dict) or "schema_version" not in data or "distributions" not in data:
        raise InputError(source, "not a depslim JSON report")
    major = str(data["schema_version"]).split(".", 1)[0]
    if major != SCHEMA_VERSION.split(".", 1)[0]:
        raise InputError(source, f"report schema {data['schema_version']} is not supported (need {SCHEMA_VERSION})")
    try:
        report: Report = from_data(Report, data)
    except (TypeError, ValueError, KeyError) as exc:
        raise InputError(source, f"malformed depslim report ({exc})") from None
    return report
