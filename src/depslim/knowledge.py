"""Loads the packaged knowledge files (`depslim/data/*.toml`) and validates their shape.

Knowledge (aliases, dev tools, implicit needs, swap rules, Dockerfile checks) is data; the
code that interprets it asks for it here, so a malformed file fails loudly with its name.
"""

from __future__ import annotations

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
