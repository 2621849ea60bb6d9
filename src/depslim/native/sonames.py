"""Which sonames a filesystem provides, and which Debian package provides each, from dpkg file lists.

A soname is found by the loader as a file name in one of its default directories, so "provided"
means: a shared-library file name (`lib*.so*`, `ld-*.so*`) in a directory of
`native.toml [settings] library_dirs`. Debian policy puts the soname link in the runtime
library package, so a dpkg `.list` line naming `/usr/lib/x86_64-linux-gnu/libGL.so.1` says
package `libgl1` provides `libGL.so.1`. All of this is pure reading of paths and list files.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import cache

from depslim.native.data import native_data

_SHARED_NAME = re.compile(r"(?:lib|ld-)[^/]*\.so(?:\.[^/]*)?")
DPKG_INFO = "/var/lib/dpkg/info/"


def is_shared_library_name(base: str) -> bool:
    """`libGL.so.1`, `libz.so`, `ld-linux-x86-64.so.2`: a name the loader can be asked for."""
    return _SHARED_NAME.fullmatch(base) is not None


def looks_like_shared_object(base: str) -> bool:
    """`*.so` / `*.so.*`: any shared object, including Python extension modules."""
    return base.endswith(".so") or ".so." in base


def is_extension_module(base: str) -> bool:
    """A file Python's import loads: `x.cpython-311-x86_64-linux-gnu.so`, `x.abi3.so`, `_x.so`.

    Versioned names (`libfoo.so.1`) and `lib*.so` without an ABI tag are libraries: linked from
    an extension, or opened with ctypes/dlopen (lightgbm's lib_lightgbm.so, plugins).
    """
    if not base.endswith(".so"):
        return False
    return ".cpython-" in base or ".abi3." in base or ".pypy" in base or not base.startswith("lib")


@cache
def _library_dirs() -> re.Pattern[str]:
    """One regex for every loader directory glob (`*` stays within a path component)."""
    parts = []
    for glob in native_data()["settings"]["library_dirs"]:
        parts.append("/".join(re.escape(p).replace(r"\*", "[^/]*") for p in glob.split("/")))
    return re.compile("(?:" + "|".join(parts) + ")")


def in_library_dir(path: str) -> bool:
    """Whether `path` sits directly in a directory the loader searches by default."""
    return _library_dirs().fullmatch(path.rpartition("/")[0]) is not None


def list_package(list_path: str) -> str:
    """`/var/lib/dpkg/info/libgl1:amd64.list` -> `libgl1`."""
    name = list_path.rpartition("/")[2].removesuffix(".list")
    return name.partition(":")[0]


def soname_packages(lists: Iterable[tuple[str, bytes]]) -> dict[str, str]:
    """soname -> Debian package from (list file path, content) pairs.

    A line in a loader directory decides. A name no list puts there but some list ships
    elsewhere (`.../openblas-pthread/libblas.so.3`, linked into the loader directory by
    update-alternatives) maps to that package as a second choice. When several packages
    qualify, a runtime package wins over an -dev one, then the first by name, so the answer
    does not depend on the order the lists come in.
    """
    direct: dict[str, set[str]] = {}
    elsewhere: dict[str, set[str]] = {}
    for path, data in lists:
        package = list_package(path)
        for raw in data.splitlines():
            line = raw.decode("utf-8", "replace").strip()
            base = line.rpartition("/")[2]
            if is_shared_library_name(base):
                (direct if in_library_dir(line) else elsewhere).setdefault(base, set()).add(package)
    for soname, packages in elsewhere.items():
        direct.setdefault(soname, packages)
    return {soname: min(pkgs, key=lambda p: (p.endswith("-dev"), p)) for soname, pkgs in direct.items()}


def library_sonames(paths: Iterable[str]) -> set[str]:
    """The shared-library names (files or links) present in loader directories among `paths`."""
    return {
        base for path in paths
        if is_shared_library_name(base := path.rpartition("/")[2]) and in_library_dir(path)
    }


def os_release(data: bytes | None) -> dict[str, str]:
    """/etc/os-release as a mapping (quotes removed); {} when absent."""
    out: dict[str, str] = {}
    for line in (data or b"").decode("utf-8", "replace").splitlines():
        key, sep, value = line.partition("=")
        if sep and key.strip() and not key.lstrip().startswith("#"):
            out[key.strip()] = value.strip().strip("\"'")
    return out


def debian_release(fields: dict[str, str]) -> str | None:
    """The Debian codename (bookworm, trixie) an os-release names, or None for other systems."""
    if fields.get("ID") != "debian" and "debian" not in fields.get("ID_LIKE", "").split():
        return None
    return fields.get("VERSION_CODENAME") or None
