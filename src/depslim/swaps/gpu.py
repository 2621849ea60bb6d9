"""Is an installed distribution a CUDA build, and for which CUDA version?

Three kinds of evidence, in order of precision: the local version label (`+cu121`), the
`nvidia-*-cuNN` / `nvidia-*` wheels it requires (their own version is the CUDA release), and CUDA
libraries shipped inside it (`libcudart.so.12`). The patterns come from `[gpu]` in swaps.toml.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from depslim.declared.base import read_requirement
from depslim.model import InstalledDistribution
from depslim.swaps.rules import GpuSignals


@dataclass(frozen=True)
class CudaBuild:
    """What says a distribution is built for CUDA: `cuda` is "12.1", "12" or "" when unknown."""

    name: str
    version: str
    cuda: str
    how: str  # local-version | requires | files


def _local(version: str) -> str:
    try:
        return Version(version).local or ""
    except InvalidVersion:
        return ""


def requirement_names(requires: tuple[str, ...], markers: Mapping[str, str] | None = None,
                      extras: tuple[str, ...] = ("",)) -> list[str]:
    """Canonical names of `Requires-Dist` entries whose markers hold on the target."""
    names: list[str] = []
    for req in filter(None, map(read_requirement, requires)):
        if req.marker is not None:
            env = dict(markers or {})
            if not any(req.marker.evaluate({**env, "extra": extra}) for extra in extras):
                continue
        names.append(canonicalize_name(req.name))
    return names


def cuda_major_from_name(name: str) -> str:
    match = re.search(r"-cu(?:da)?(\d+)(?:x|-|$)", name)
    return match.group(1) if match else ""


def detect_cuda_build(
    dist: InstalledDistribution,
    installed: Mapping[str, InstalledDistribution],
    gpu: GpuSignals,
    markers: Mapping[str, str] | None = None,
) -> CudaBuild | None:
    """A CudaBuild when `dist` is a CUDA build; None when CPU-only or nothing says so."""
    local = _local(dist.version)
    if re.match(gpu.cpu_local, local):
        return None
    match = re.match(gpu.cuda_local, local)
    if match:
        digits = match.group(1)
        cuda = f"{digits[:-1]}.{digits[-1]}" if len(digits) >= 3 else digits
        return CudaBuild(dist.name, dist.version, cuda, "local-version")
    names = requirement_names(dist.requires, markers)
    cuda_deps = [n for n in names if any(re.match(p, n) for p in gpu.cuda_requires)]
    if cuda_deps:
        return CudaBuild(dist.name, dist.version, _cuda_from_deps(cuda_deps, installed), "requires")
    for file in dist.files:
        if any(re.search(p, file.path) for p in gpu.cuda_files):
            m = re.search(r"\.so\.(\d+)(?:\.(\d+))?", file.path)
            cuda = (m.group(1) + (f".{m.group(2)}" if m.group(2) else "")) if m else ""
            return CudaBuild(dist.name, dist.version, cuda, "files")
    return None


def _cuda_from_deps(deps: list[str], installed: Mapping[str, InstalledDistribution]) -> str:
    """CUDA version from the runtime wheel (`nvidia-cuda-runtime[-cuNN]` version is the release)."""
    for name in deps:
        if name.startswith("nvidia-cuda-runtime") and name in installed:
            parts = installed[name].version.split(".")
            return ".".join(parts[:2])
    for name in deps:
        major = cuda_major_from_name(name)
        if major:
            return major
    for name in sorted(deps, key=lambda n: not n.startswith("nvidia-cublas")):
        if name.startswith("nvidia-") and name in installed:
            return installed[name].version.split(".")[0]
    return ""
