"""The one platform table: Docker/OCI architecture names against the machine names Python reports.

An image says `linux/arm64`, `platform.machine()` says `aarch64`, a wheel tag says `aarch64`,
and a marker compares `platform_machine`. Every module that converts between them reads this
table, so a new architecture is one line here instead of one line in five modules.
"""

from __future__ import annotations

# OCI `architecture` → `platform.machine()` on Linux (what markers and wheel tags carry).
ARCH_MACHINES: dict[str, str] = {"amd64": "x86_64", "arm64": "aarch64", "386": "i686", "arm": "armv7l"}

# Other spellings of an architecture seen in platforms and machines (macOS reports `arm64`).
_ALIASES: dict[str, str] = {"i386": "386"}

_MACHINE_ARCHES: dict[str, str] = {machine: arch for arch, machine in ARCH_MACHINES.items()}


def docker_arch(name: str) -> str:
    """The OCI architecture for a machine or architecture name (`aarch64` → `arm64`); unknown names as given."""
    if name in ARCH_MACHINES:
        return name
    return _MACHINE_ARCHES.get(name) or _ALIASES.get(name, name)


def machine_of(arch: str) -> str | None:
    """The Linux machine name for an OCI architecture or a machine name (`arm64` → `aarch64`); None if unknown."""
    return ARCH_MACHINES.get(docker_arch(arch))
