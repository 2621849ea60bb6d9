"""The packaged native-library knowledge (`depslim/data/native.toml`), loaded once and validated."""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Mapping
from functools import cache
from typing import Any

from depslim.errors import InputError
from depslim.knowledge import check_keys, load_data

DATA = "native"
WHERE = f"depslim/data/{DATA}.toml"
RELEASE_KEYS = ("generated", "measured", "python_runtime_packages", "base_packages", "base_sonames", "packages")


def _strings(value: Any, where: str) -> None:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InputError(where, "expected a list of strings")


@cache
def native_data() -> Mapping[str, Any]:
    """native.toml, checked: unknown or missing keys and wrong value types fail with the file's name."""
    data = load_data(DATA)
    check_keys(data, required=("settings", "python_slim", "sources", "releases"), where=WHERE)
    check_keys(data["settings"], required=("library_dirs", "default_release", "driver_sonames"),
               where=f"{WHERE} [settings]")
    _strings(data["settings"]["library_dirs"], f"{WHERE} [settings] library_dirs")
    _strings(data["settings"]["driver_sonames"], f"{WHERE} [settings] driver_sonames")
    check_keys(data["python_slim"], required=("local_sonames", "measured", "default_release"),
               where=f"{WHERE} [python_slim]")
    _strings(data["python_slim"]["local_sonames"], f"{WHERE} [python_slim] local_sonames")
    check_keys(data["sources"], required=("releases", "python_slim_packages", "python_dev_packages",
                                          "python_runtime_sonames", "ml_packages"), where=f"{WHERE} [sources]")
    for name, record in data["releases"].items():
        where = f"{WHERE} [releases.{name}]"
        check_keys(record, required=RELEASE_KEYS, where=where)
        for key in ("python_runtime_packages", "base_packages", "base_sonames"):
            _strings(record[key], f"{where} {key}")
        packages = record["packages"]
        if not isinstance(packages, dict) or not all(isinstance(v, str) for v in packages.values()):
            raise InputError(f"{where}.packages", "expected soname = \"package\" entries")
    for key in (data["settings"]["default_release"], data["python_slim"]["default_release"]):
        if key not in data["releases"]:
            raise InputError(WHERE, f"default release {key!r} has no [releases.{key}] table")
    return data


@cache
def driver_sonames() -> re.Pattern[str]:
    """The GPU driver's sonames (`[settings] driver_sonames` globs) as one regex."""
    globs = native_data()["settings"]["driver_sonames"]
    return re.compile("|".join(f"(?:{fnmatch.translate(g)})" for g in globs) or r"(?!)")


def releases() -> tuple[str, ...]:
    """The Debian releases the data knows (their package names and slim base sets)."""
    return tuple(native_data()["releases"])


def package_map(release: str | None) -> Mapping[str, str]:
    """soname -> Debian package for `release` (the default release when None or unknown)."""
    data = native_data()
    rel = release if release in data["releases"] else data["settings"]["default_release"]
    packages: Mapping[str, str] = data["releases"][rel]["packages"]
    return packages
