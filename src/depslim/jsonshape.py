"""Typed access to JSON that depslim did not write: image indexes, manifests and configs, reports.

`json.loads` returns `Any`, and code that indexes the result trusts a shape nobody checked: an
image config whose `Env` is an int, an index whose `platform` is a string, a report whose
`target` is null each became a TypeError or AttributeError deep inside the analysis (exit 3, a
traceback). Every reader of foreign JSON goes through this module instead:

- `loads` parses with a size cap, and turns every way parsing can fail (bad UTF-8, bad JSON,
  nesting deep enough to exhaust the recursion limit) into the caller's error;
- `JObject` wraps one JSON object and answers typed questions (`text`, `integer`, `array`,
  `obj`, ...): an absent key or `null` gives the default (the producers of these documents write
  `null` for "unset": Docker's `"Env": null`), any other type is an error naming the file, the
  part of it (a blob, a member) and the field path (`config.Env[3]`).

The error class is the caller's (`InputError` for a report, `ImageFormatError` for an image), so
the CLI boundary prints one line and exits 2 whatever the document held.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, NoReturn

from depslim.errors import DepslimError, InputError


def kind_of(value: Any) -> str:
    """The JSON name of a value's type, as error messages say it."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, Mapping):
        return "an object"
    return type(value).__name__


@dataclass(frozen=True)
class Where:
    """What an error about a document names: the file, the part inside it, the error class.

    `part` is the blob or member inside an archive ("blobs/sha256/ab12… (image config)"), empty
    for a document that is a file of its own. `error` builds the exception from (file, problem).
    """

    file: str
    part: str = ""
    error: Callable[[str, str], DepslimError] = InputError

    def fail(self, problem: str, field: str = "") -> NoReturn:
        where = f"{self.part}: " if self.part else ""
        what = f"field {field}: " if field else ""
        raise self.error(self.file, f"{where}{what}{problem}")

    def within(self, part: str) -> Where:
        return Where(self.file, part, self.error)


def loads(data: bytes | str, where: Where, *, max_bytes: int | None = None) -> Any:
    """Parse a JSON document; every failure is `where`'s error, never a ValueError or RecursionError."""
    if max_bytes is not None and len(data) > max_bytes:
        where.fail(f"{len(data)} bytes, more than the {max_bytes} a JSON document here may have")
    try:
        return json.loads(data)
    except RecursionError:
        # json's C scanner recurses once per nesting level: `[[[[…` 50,000 deep ends here
        where.fail("JSON nested too deeply")
    except UnicodeDecodeError as exc:
        where.fail(f"not UTF-8 text ({exc.reason} at byte {exc.start})")
    except ValueError as exc:  # JSONDecodeError, and int() refusing a 5,000-digit number
        where.fail(f"not valid JSON: {exc}")


def _join(field: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{field}[{key}]"
    return f"{field}.{key}" if field else key


def expect_object(value: Any, where: Where, field: str = "") -> JObject:
    """`value` as a JObject, or `where`'s error saying what it was instead."""
    if not isinstance(value, Mapping):
        where.fail(f"expected an object, got {kind_of(value)}", field)
    return JObject(value, where, field)


def expect_array(value: Any, where: Where, field: str = "") -> list[Any]:
    if not isinstance(value, list):
        where.fail(f"expected an array, got {kind_of(value)}", field)
    return value


class JObject:
    """One JSON object read through typed accessors (see the module docstring)."""

    __slots__ = ("data", "field", "where")

    def __init__(self, data: Mapping[str, Any], where: Where, field: str = "") -> None:
        self.data = data
        self.where = where
        self.field = field

    # --- plumbing -------------------------------------------------------------------------
    def fail(self, problem: str, key: str | int | None = None) -> NoReturn:
        """Raise the document's error for this object (or one of its keys)."""
        self.where.fail(problem, self.field if key is None else _join(self.field, key))

    def path(self, key: str | int) -> str:
        return _join(self.field, key)

    def __contains__(self, key: str) -> bool:
        return key in self.data

    def keys(self) -> Iterator[str]:
        return iter(self.data)

    def get(self, key: str) -> Any:
        """The raw value (None when absent): for fields whose type the caller checks itself."""
        return self.data.get(key)

    def _typed(self, key: str, types: type | tuple[type, ...], what: str) -> Any:
        value = self.data.get(key)
        if value is None:
            return None
        if not isinstance(value, types) or (isinstance(value, bool) and bool not in _as_tuple(types)):
            self.fail(f"expected {what}, got {kind_of(value)}", key)
        return value

    # --- scalars --------------------------------------------------------------------------
    def text(self, key: str, default: str = "") -> str:
        value = self._typed(key, str, "a string")
        return default if value is None else value

    def opt_text(self, key: str) -> str | None:
        value: str | None = self._typed(key, str, "a string")
        return value

    def integer(self, key: str, default: int = 0) -> int:
        value = self._typed(key, int, "an integer")
        return default if value is None else value

    def opt_integer(self, key: str) -> int | None:
        value: int | None = self._typed(key, int, "an integer")
        return value

    def flag(self, key: str, default: bool = False) -> bool:
        value = self._typed(key, bool, "a boolean")
        return default if value is None else value

    # --- containers -----------------------------------------------------------------------
    def obj(self, key: str) -> JObject:
        """A nested object; absent or null reads as an empty one."""
        value = self._typed(key, Mapping, "an object")
        return JObject({} if value is None else value, self.where, self.path(key))

    def opt_obj(self, key: str) -> JObject | None:
        value = self._typed(key, Mapping, "an object")
        return None if value is None else JObject(value, self.where, self.path(key))

    def array(self, key: str) -> list[Any]:
        """A nested array of anything; absent or null reads as empty."""
        value = self._typed(key, list, "an array")
        return [] if value is None else value

    def opt_array(self, key: str) -> list[Any] | None:
        value: list[Any] | None = self._typed(key, list, "an array")
        return value

    def objects(self, key: str) -> list[JObject]:
        """An array whose every item must be an object."""
        return [expect_object(item, self.where, _join(self.path(key), i)) for i, item in enumerate(self.array(key))]

    def texts(self, key: str) -> list[str]:
        """An array whose every item must be a string."""
        items = self.array(key)
        for i, item in enumerate(items):
            if not isinstance(item, str):
                self.where.fail(f"expected a string, got {kind_of(item)}", _join(self.path(key), i))
        return items

    def text_map(self, key: str) -> dict[str, str]:
        """An object whose every value must be a string (labels, annotations)."""
        inner = self.obj(key)
        for name, value in inner.data.items():
            if not isinstance(value, str):
                inner.fail(f"expected a string, got {kind_of(value)}", name)
        return dict(inner.data)


def _as_tuple(types: type | tuple[type, ...]) -> tuple[type, ...]:
    return types if isinstance(types, tuple) else (types,)


__all__ = ["JObject", "Where", "expect_array", "expect_object", "kind_of", "loads"]
