"""The OS libraries a set of shipped distributions needs at runtime: what `apt-get install` must add.

A wheel's ELF files (extension modules and the libraries auditwheel vendors in `<pkg>.libs/`)
name their dependencies in DT_NEEDED. A need is satisfied when a shipped distribution has a
file of that name or an ELF file with that DT_SONAME (the vendored copy), or when the base
image provides it. What is left is what the final stage must install; each gets the Debian
package that provides it, from the analysed target's own dpkg lists when they know it, else
from the packaged map for the base's Debian release.

Pure functions over data already read: nothing here opens a file or runs a program.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

from depslim.model import InstalledDistribution
from depslim.native.data import driver_sonames, package_map
from depslim.native.elf import ElfInfo
from depslim.native.sonames import is_extension_module, looks_like_shared_object

Source = Literal["dpkg", "data"]


@dataclass(frozen=True)
class OsLibNeed:
    """One soname the shipped distributions need and nothing shipped or in the base provides.

    `package` is the Debian package to install (None when unknown); `source` says where that
    came from: "dpkg" (the analysed target's own dpkg file lists) or "data" (native.toml's
    map for the base's release). `needed_by` is every (distribution, ELF file) asking for it.
    `at_import` is True when one of those files is loaded by importing Python code (an
    extension module, or a library linked from one); False when only libraries opened with
    ctypes/dlopen need it (lightgbm's lib_lightgbm.so, NCCL/NVSHMEM transport plugins): the
    need is real only when that code path runs.
    """

    soname: str
    package: str | None
    source: Source | None
    needed_by: tuple[tuple[str, str], ...]
    at_import: bool = True


@dataclass(frozen=True)
class BaseProvides:
    """The sonames a base image provides and where that knowledge comes from.

    `source` is "image" (read from the image itself) or "data" (native.toml's measured set for
    an official python slim base); `release` is its Debian codename when known, which picks
    the package names (bookworm's libglib2.0-0 is trixie's libglib2.0-0t64).
    """

    ref: str
    sonames: frozenset[str]
    source: str
    release: str | None = None


@dataclass(frozen=True)
class ElfProblem:
    """A shipped ELF file whose needs could not all be read (its needs may be incomplete)."""

    distribution: str
    path: str
    problem: str


def shipped_elf(
    dists: Iterable[InstalledDistribution], elf: Mapping[str, ElfInfo]
) -> list[tuple[str, str, ElfInfo]]:
    """(distribution, path, ElfInfo) for every RECORD file of `dists` the target read as ELF."""
    out = []
    for dist in dists:
        for item in dist.files:
            info = elf.get(item.path)
            if info is not None:
                out.append((dist.name, item.path, info))
    return out


def shipped_sonames(dists: Iterable[InstalledDistribution], elf: Mapping[str, ElfInfo]) -> set[str]:
    """Names the shipped distributions themselves provide: shared-object file names and DT_SONAMEs."""
    names: set[str] = set()
    for dist in dists:
        for item in dist.files:
            base = item.path.rpartition("/")[2]
            if looks_like_shared_object(base):
                names.add(base)
            info = elf.get(item.path)
            if info is not None and info.soname:
                names.add(info.soname)
    return names


def loaded_at_import(shipped: list[tuple[str, str, ElfInfo]]) -> set[str]:
    """Paths of shipped ELF files that importing Python code loads: extension modules and every
    shipped library reachable from one through DT_NEEDED (matched by file name or DT_SONAME)."""
    by_name: dict[str, list[str]] = {}
    infos: dict[str, ElfInfo] = {}
    for _dist, path, info in shipped:
        infos[path] = info
        for name in {path.rpartition("/")[2], info.soname or ""} - {""}:
            by_name.setdefault(name, []).append(path)
    stack = [path for path in infos if is_extension_module(path.rpartition("/")[2])]
    seen = set(stack)
    while stack:
        for soname in infos[stack.pop()].needed:
            for target in by_name.get(soname, ()):
                if target not in seen:
                    seen.add(target)
                    stack.append(target)
    return seen


def _package(
    soname: str, dpkg_packages: Mapping[str, str], data: Mapping[str, str], prefer_data: bool
) -> tuple[str | None, Source | None]:
    order: tuple[tuple[Mapping[str, str], Source], ...] = (
        ((data, "data"), (dpkg_packages, "dpkg")) if prefer_data else ((dpkg_packages, "dpkg"), (data, "data"))
    )
    for table, source in order:
        package = table.get(soname)
        if package:
            return package, source
    return None, None


def os_library_needs(
    dists: Iterable[InstalledDistribution],
    elf: Mapping[str, ElfInfo],
    base: BaseProvides | Collection[str] = frozenset(),
    dpkg_packages: Mapping[str, str] | None = None,
    dpkg_release: str | None = None,
) -> list[OsLibNeed]:
    """The OS library needs of `dists` (the distributions that will ship), sorted by soname.

    `elf` maps file paths (as in `InstalledFile.path`) to what the target read; `base` is what
    the final stage's base provides (a BaseProvides or a plain set of sonames); `dpkg_packages`
    is soname -> package from the analysed target's dpkg lists. Those package names are
    trusted unless they come from another Debian release than the base's (`dpkg_release` !=
    `base.release`): then the base release's packaged names win, since that is where
    `apt-get install` will run. The GPU driver's libraries (libcuda.so.1…) are never needs: the
    NVIDIA container runtime mounts them from the host.
    """
    dists = list(dists)
    base_names = base.sonames if isinstance(base, BaseProvides) else frozenset(base)
    release = base.release if isinstance(base, BaseProvides) else None
    provided = shipped_sonames(dists, elf) | base_names
    driver = driver_sonames()
    shipped = shipped_elf(dists, elf)
    wanted: dict[str, list[tuple[str, str]]] = {}
    for dist, path, info in shipped:
        for soname in info.needed:
            base_name = soname.rpartition("/")[2]
            if base_name not in provided and soname not in provided and not driver.fullmatch(base_name):
                wanted.setdefault(soname, []).append((dist, path))
    at_import = loaded_at_import(shipped)
    data = package_map(release)
    prefer_data = bool(dpkg_release and release and dpkg_release != release)
    needs = []
    for soname in sorted(wanted):
        package, source = _package(soname, dpkg_packages or {}, data, prefer_data)
        by = tuple(sorted(set(wanted[soname])))
        needs.append(OsLibNeed(soname, package, source, by, any(path in at_import for _d, path in by)))
    return needs


def elf_problems(dists: Iterable[InstalledDistribution], elf: Mapping[str, ElfInfo]) -> list[ElfProblem]:
    """Shipped ELF files read only in part (hostile, truncated, or names beyond the read prefix)."""
    return [
        ElfProblem(dist, path, info.problem)
        for dist, path, info in shipped_elf(dists, elf)
        if info.problem
    ]


def packages_to_install(needs: Iterable[OsLibNeed]) -> list[str]:
    """The distinct Debian packages of `needs`, sorted (needs without a known package are left out)."""
    return sorted({need.package for need in needs if need.package})
