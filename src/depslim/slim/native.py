"""The OS packages the slim image needs: what the shipped wheels' ELF files link against.

`DT_NEEDED` names read statically from the target (`depslim.native`), minus what the wheels
ship themselves and what the chosen base provides (read from the base image when the local
engine has it, else the packaged set of the official python slim images), mapped to Debian
packages through the target's own dpkg lists (else packaged data). A need with no known package
is a note in depslim-slim.md and a breakage `depslim verify` will name.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from depslim.core import Analysis
from depslim.native.needs import BaseProvides, OsLibNeed, elf_problems, os_library_needs, packages_to_install


@dataclass(frozen=True)
class NativeNeeds:
    needs: tuple[OsLibNeed, ...] = ()
    packages: tuple[str, ...] = ()
    base: BaseProvides | None = None
    installed_bytes: int | None = None  # dpkg Installed-Size of `packages` in the target (estimate)
    notes: tuple[str, ...] = ()
    read: bool = True  # False when the target offers no ELF view (nothing could be checked)


def _target_elf(analysis: Analysis) -> tuple[Mapping[str, Any] | None, Mapping[str, str], str | None, Any]:
    """(ELF infos by path, soname -> package, Debian release, dpkg status) of the target."""
    image = getattr(analysis.target, "analysis", None)
    if image is not None:
        return image.elf, image.dpkg_sonames, image.debian_release, image.dpkg
    from depslim.targets.environment import host_debian_release, host_dpkg_sonames, read_native

    return read_native(analysis.target.distributions()), host_dpkg_sonames(), host_debian_release(), {}


def _dpkg_bytes(packages: Iterable[str], status: Mapping[str, Mapping[str, str]]) -> int | None:
    total, found = 0, False
    for name in packages:
        fields = status.get(name) or next((v for k, v in status.items() if k.split(":")[0] == name), None)
        size = (fields or {}).get("Installed-Size", "")
        if size.isdigit():
            total += int(size) * 1024
            found = True
    return total if found else None


def native_needs(analysis: Analysis, shipped: set[str], base_ref: str, base_image: Any = None) -> NativeNeeds:
    """OS library needs of the distributions that ship (`shipped`: canonical names in the lock).
    `base_image` is the base, already opened (an ImageTarget), when it is available here."""
    from depslim.native.base import base_from_analysis, base_from_data

    elf, dpkg_map, release, status = _target_elf(analysis)
    if elf is None:
        return NativeNeeds(read=False, notes=("the target offers no view of its shared libraries: OS library needs "
                                              "were not checked (depslim verify will name a missing one)",))
    dists = [d for d in analysis.target.distributions() if d.name in shipped]
    provides = base_from_analysis(base_ref, base_image.analysis) if base_image is not None else base_from_data(base_ref)
    notes: list[str] = []
    if provides is None:
        notes.append(f"what {base_ref} provides is unknown (not in the local engine, no packaged data): every library "
                     "outside the wheels is listed")
    needs = os_library_needs(dists, elf, provides or frozenset(), dpkg_map, release)
    for need in needs:
        if need.package is None:
            users = ", ".join(sorted({d for d, _ in need.needed_by}))
            notes.append(f"{need.soname} (needed by {users}) is in no known Debian package: install it yourself")
    for problem in elf_problems(dists, elf):
        notes.append(f"{problem.path} ({problem.distribution}): {problem.problem}")
    packages = tuple(packages_to_install(needs))
    return NativeNeeds(tuple(needs), packages, provides, _dpkg_bytes(packages, status) if packages else 0,
                       tuple(notes))
