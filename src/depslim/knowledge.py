"""Loads the packaged knowledge files (`depslim/data/*.toml`) and validates their shape.

Knowledge (aliases, dev tools, implicit needs, swap rules, Dockerfile checks) is data; the
code that interprets it asks for it here, so a malformed file fails loudly with its name.
Hand-kept knowledge is TOML; large generated tables (`import_names.json`) are JSON, which the
standard library parses some 20x faster than TOML (a 10,000-distribution table: ~6 ms vs ~140 ms).
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Iterable, Mapping
from functools import cache
from importlib import resources
from typing import Any

from depslim.errors import InputError


@cache
def load_data(name: str) -> Mapping[str, Any]:
    """Parse `depslim/data/<name>.toml` once per process."""
    resource = resources.files("depslim.data").joinpath(f"{name}.toml")
    try:
        return tomllib.loads(resource.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise InputError(f"depslim/data/{name}.toml", f"cannot load packaged data: {exc}") from None


@cache
def load_json_data(name: str) -> Mapping[str, Any]:
    """Parse the generated `depslim/data/<name>.json` once per process (an object at the top)."""
    resource = resources.files("depslim.data").joinpath(f"{name}.json")
    try:
        doc = json.loads(resource.read_bytes())
    except (OSError, ValueError) as exc:
        raise InputError(f"depslim/data/{name}.json", f"cannot load packaged data: {exc}") from None
    if not isinstance(doc, dict):
        raise InputError(f"depslim/data/{name}.json", "cannot load packaged data: not a JSON object")
    return doc


def check_keys(
    record: Mapping[str, Any], *, required: Iterable[str], optional: Iterable[str] = (), where: str
) -> None:
    """Reject unknown or missing keys in one data record, naming the file and entry."""
    required_set, allowed = set(required), set(required) | set(optional)
    missing = required_set - record.keys()
    unknown = record.keys() - allowed
    if missing:
        raise InputError(where, f"missing key(s): {', '.join(sorted(missing))}")
    if unknown:
        raise InputError(where, f"unknown key(s): {', '.join(sorted(unknown))}")
