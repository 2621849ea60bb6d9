"""The one platform table (`depslim.platforms`): every converter agrees with it, and no module keeps its own."""

from __future__ import annotations

import re
from pathlib import Path

import depslim
from depslim.platforms import ARCH_MACHINES, docker_arch, machine_of
from depslim.targets.image.python import marker_environment
from depslim.targets.image.sources import parse_platform

SRC = Path(depslim.__file__).parent


def test_round_trip() -> None:
    for arch, machine in ARCH_MACHINES.items():
        assert docker_arch(machine) == arch and machine_of(arch) == machine and machine_of(machine) == machine
    assert docker_arch("i386") == "386" and docker_arch("riscv64") == "riscv64" and machine_of("riscv64") is None


def test_converters_read_the_table() -> None:
    assert parse_platform("linux/aarch64") == ("linux", "arm64", "")
    assert marker_environment("3.11.4", "linux/arm64")["platform_machine"] == "aarch64"


def test_no_other_arch_table() -> None:
    """A dict literal mapping an OCI arch to a machine (or back) anywhere but platforms.py is a second table."""
    pair = re.compile(r'"(amd64|x86_64|arm64|aarch64)"\s*:\s*"(amd64|x86_64|arm64|aarch64)"')
    offenders = [str(p.relative_to(SRC)) for p in SRC.rglob("*.py")
                 if p.name != "platforms.py" and pair.search(p.read_text(encoding="utf-8"))]
    assert not offenders
