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
from typing import TYPE_CHECKING, Any, Union, get_args, get_origin, get_type_hints

from depslim.errors import InputError
from depslim.jsonshape import Where, expect_array, expect_object, kind_of
from depslim.model import SCHEMA_VERSION, Report
from depslim.report.base import Format, Renderer, RenderOptions

if TYPE_CHECKING:
    from depslim.diffing import DiffReport
    from depslim.gate import CheckResult



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


def render_check(result: CheckResult, options: RenderOptions | None = None) -> str:
    data = {"kind": "check", "passed": result.passed, **to_data(result)}
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def render_diff(diff: DiffReport, options: RenderOptions | None = None) -> str:
    data = {"kind": "diff", "total_delta": diff.total_delta, "sizes_known": diff.sizes_known, **to_data(diff)}
    for change, raw in zip(diff.changes, data["changes"], strict=True):
        raw["delta"] = change.delta
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def _lazy(module: str, function: str) -> Renderer:
    """A renderer that imports its module on first use (audit, estimate, image, verify live there)."""

    def call(report: Any, options: RenderOptions) -> str:
        import importlib

        render_json = getattr(importlib.import_module(module), function)
        return str(render_json(report) if module != "depslim.imagedoc" else render_json(report, options))

    return call


SCHEMA_PREFIX = "depslim/"


def envelope(kind: str, document: Mapping[str, Any]) -> dict[str, Any]:
    """The one top-level envelope every JSON report carries: `schema` ("depslim/<kind>") and
    `schema_version` first, then the report's own keys unchanged (backward compatible: readers
    of the old keys see them as before; `schema` values were "depslim-<kind>/1" for audit,
    estimate and verify). Schemas: depslim/data/schemas/<kind>.schema.json."""
    rest = {k: v for k, v in document.items() if k not in ("schema", "schema_version")}
    return {"schema": f"{SCHEMA_PREFIX}{kind}", "schema_version": SCHEMA_VERSION, **rest}


def _enveloped(kind: str, renderer: Renderer) -> Renderer:
    """`renderer`'s document inside the envelope: applied here, once, for every report kind."""

    def call(report: Any, options: RenderOptions) -> str:
        document = json.loads(renderer(report, options))
        return json.dumps(envelope(kind, document), indent=2, ensure_ascii=False) + "\n"

    return call


_RENDERERS: dict[str, Renderer] = {
    "analyze": lambda report, _options: render(report), "check": render_check, "diff": render_diff,
    "audit": _lazy("depslim.audit", "render_json"), "estimate": _lazy("depslim.estimate", "render_json"),
    "image": _lazy("depslim.imagedoc", "render_json"), "verify": _lazy("depslim.verify.report", "render_json"),
}
FORMAT = Format("json", (".json",), {kind: _enveloped(kind, renderer) for kind, renderer in _RENDERERS.items()})


def _decode(tp: Any, value: Any, where: Where, field: str) -> Any:
    """One JSON value as the record type `tp` says, or `where`'s error naming the field.

    Every type the report records use is checked: a `str` field must hold a string, a tuple an
    array, a record an object, a `X | None` field may be null and nothing else may. A report is
    input like any other (`diff` and `check --report` read files anyone can hand them).
    """
    origin = get_origin(tp)
    if origin in (Union, types.UnionType):
        args = get_args(tp)
        if value is None and type(None) in args:
            return None
        options = [a for a in args if a is not type(None)]
        if len(options) == 1:
            return _decode(options[0], value, where, field)
        for option in options:  # a union of scalars: the first that fits
            if isinstance(option, type) and isinstance(value, option):
                return value
        where.fail(f"expected one of {', '.join(_name(o) for o in options)}, got {kind_of(value)}", field)
    if tp is Any or tp is object:
        return value
    if value is None:
        where.fail(f"expected {_name(tp)}, got null", field)
    if dataclasses.is_dataclass(tp):
        return from_data(tp, expect_object(value, where, field).data, where, field)
    if isinstance(tp, type) and issubclass(tp, Enum):
        try:
            return tp(value)
        except ValueError:
            allowed = ", ".join(repr(m.value) for m in tp)
            where.fail(f"expected one of {allowed}, got {str(value)[:40]!r}", field)
    if origin in (tuple, frozenset, set, list):
        items = expect_array(value, where, field)
        item_type = get_args(tp)[0]
        decoded = [_decode(item_type, item, where, f"{field}[{i}]") for i, item in enumerate(items)]
        return tuple(decoded) if origin is tuple else frozenset(decoded) if origin in (frozenset, set) else decoded
    if origin in (Mapping, dict):
        value_type = get_args(tp)[1]
        obj = expect_object(value, where, field)
        return {key: _decode(value_type, item, where, f"{field}.{key}") for key, item in obj.data.items()}
    if tp in (str, int, float, bool):
        fits = isinstance(value, tp) and (tp is bool or not isinstance(value, bool))
        if not fits and not (tp is float and isinstance(value, int) and not isinstance(value, bool)):
            where.fail(f"expected {_name(tp)}, got {kind_of(value)}", field)
        return value
    return value


def _name(tp: Any) -> str:
    """How an error names a type: the JSON words, not Python's."""
    names = {str: "a string", int: "an integer", float: "a number", bool: "a boolean"}
    if tp in names:
        return names[tp]
    if dataclasses.is_dataclass(tp):
        return "an object"
    if get_origin(tp) in (tuple, frozenset, set, list):
        return "an array"
    if get_origin(tp) in (Mapping, dict):
        return "an object"
    return getattr(tp, "__name__", str(tp))


def from_data(cls: Any, data: Mapping[str, Any], where: Where | None = None, field: str = "") -> Any:
    """Plain JSON values → records of type `cls` (unknown keys ignored: newer minor versions).

    A field without a default must be present; every present field must have its type.
    """
    where = where or Where("<report>")
    hints = _hints(cls)
    kwargs = {}
    for f in dataclasses.fields(cls):
        path = f"{field}.{f.name}" if field else f.name
        if f.name not in data:
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                where.fail("missing", path)
            continue
        kwargs[f.name] = _decode(hints[f.name], data[f.name], where, path)
    return cls(**kwargs)


_HINTS: dict[type, dict[str, Any]] = {}


def _hints(cls: type) -> dict[str, Any]:
    hints = _HINTS.get(cls)
    if hints is None:
        hints = _HINTS[cls] = get_type_hints(cls)
    return hints


def load_report(text: str, source: str = "<report>") -> Report:
    """Parse a JSON report written by `render`; bad, foreign or malformed documents are an InputError
    naming the file and the field (`diff`, `check --report`: exit 2, one line)."""
    where = Where(source)
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise InputError(source, f"not a JSON document ({exc})") from None
    except RecursionError:
        raise InputError(source, "not a JSON document (nested too deeply)") from None
    if not isinstance(data, dict) or "schema_version" not in data or "distributions" not in data:
        raise InputError(source, "not a depslim JSON report")
    major = str(data["schema_version"]).split(".", 1)[0]
    if major != SCHEMA_VERSION.split(".", 1)[0]:
        raise InputError(source, f"report schema {str(data['schema_version'])[:40]} is not supported "
                                 f"(need {SCHEMA_VERSION})")
    report: Report = from_data(Report, data, where)
    return report
