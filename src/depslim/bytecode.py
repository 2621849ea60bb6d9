"""The `.pyc` files pip writes at install time, estimated from a wheel's `.py` members.

A wheel's central directory gives the bytes it unpacks, but pip then compiles every installed
`.py` file to `__pycache__/<stem>.cpython-XY.pyc` (pip's `pyc_source_file_paths`: every installed
path ending in `.py`), and those files are in RECORD and on disk: 20-25% of an ML image's Python
bytes. Their size is not in the wheel, so it is estimated as `ratio x .py bytes`, the ratio measured
per Python minor on real installs (`depslim/data/bytecode.toml`, `scripts/measure_bytecode.py`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from depslim.errors import InputError
from depslim.knowledge import load_data

_WHERE = "depslim/data/bytecode.toml"
_CACHED = re.compile(r"(?:(?P<dir>.*)/)?__pycache__/(?P<stem>[^/]+)\.cpython-(?P<xy>\d+)\.pyc")


@dataclass(frozen=True)
class BytecodeRatio:
    """Bytes of .pyc per byte of .py for a target Python, and the minor it was measured on."""

    ratio: float
    measured_on: str  # "3.11"; differs from the target's minor when that one was not measured


def minor_of(python: str) -> tuple[int, int]:
    """(3, 11) for "3.11" or "3.11.7": bytecode changes with the minor, never with the patch."""
    major, minor = python.split(".")[:2]
    return int(major), int(minor)


def load_ratios() -> Mapping[tuple[int, int], float]:
    """The packaged ratios by minor, validated: a positive number for each "X.Y" key."""
    table = load_data("bytecode").get("bytecode")
    if not isinstance(table, dict) or not table:
        raise InputError(_WHERE, "a non-empty [bytecode] table is required")
    ratios: dict[tuple[int, int], float] = {}
    for key, value in table.items():
        if not re.fullmatch(r"\d+\.\d+", key) or not isinstance(value, int | float) or isinstance(value, bool) \
                or value <= 0:
            raise InputError(_WHERE, f"[bytecode] {key} = {value!r}: expected \"X.Y\" = a positive number")
        ratios[minor_of(key)] = float(value)
    return ratios


def ratio_for(python: str, ratios: Mapping[tuple[int, int], float] | None = None) -> BytecodeRatio:
    """The ratio for `python`'s minor, or the nearest measured minor's (the older on a tie): bytecode
    formats change between minors, and a neighbour is a better guess than none."""
    table = load_ratios() if ratios is None else ratios
    target = minor_of(python)
    best = min(table, key=lambda m: (abs((m[0] - target[0]) * 100 + m[1] - target[1]), m))
    return BytecodeRatio(table[best], f"{best[0]}.{best[1]}")


def compiled_sources(members: Iterable[tuple[str, int]], python: str) -> int:
    """Bytes of the `.py` members pip compiles when installing for `python`: all of them, except
    those whose `cpython-XY.pyc` for that Python the wheel already ships (pip overwrites it in place,
    and its bytes are already in the central directory sum)."""
    sizes = dict(members)
    return sum(sizes[name] for name in compiled_paths(sizes, python))


def compiled_paths(members: Iterable[str], python: str) -> frozenset[str]:
    """The `.py` members pip compiles when installing for `python` (see `compiled_sources`)."""
    names = list(members)
    major, minor = minor_of(python)
    shipped = set()
    for name in names:
        match = _CACHED.fullmatch(name)
        if match and match["xy"] == f"{major}{minor}":
            shipped.add(f"{match['dir']}/{match['stem']}.py" if match["dir"] else f"{match['stem']}.py")
    return frozenset(name for name in names if name.endswith(".py") and name not in shipped)


def bytecode_bytes(source_bytes: int, ratio: BytecodeRatio) -> int:
    """The estimated .pyc bytes pip writes for `source_bytes` of .py."""
    return round(source_bytes * ratio.ratio)
