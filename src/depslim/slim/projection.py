"""The projected size of the slim image, part by part, each part saying how it was obtained.

Measured where depslim can measure: the Python packages that are installed in the target at the
pinned version (their RECORD files' bytes, .pyc included, as pip writes them), the project files
copied (their bytes on disk) and a base image available here (its layers' bytes, read the way
`depslim image` and `depslim verify` read every image, so the figures compare).
Otherwise an estimate, marked as one: a wheel's central directory (installed bytes before .pyc),
dpkg's `Installed-Size` for OS packages. What cannot be had at all is counted as unmeasured, so
the total never pretends to be complete.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from depslim.core import Analysis
from depslim.generate.lock import Pin
from depslim.slim.base import BaseChoice
from depslim.slim.copies import CopyPlan
from depslim.slim.native import NativeNeeds
from depslim.slim.wheels import WheelCheck
from depslim.units import human_bytes


@dataclass(frozen=True)
class Part:
    name: str
    bytes: int | None  # None: not measured at all
    how: str  # measured | estimate | unmeasured
    detail: str


@dataclass(frozen=True)
class Projection:
    parts: tuple[Part, ...]

    @property
    def total(self) -> int:
        return sum(p.bytes or 0 for p in self.parts)

    @property
    def estimate(self) -> bool:
        return any(p.how != "measured" for p in self.parts)

    def headline(self) -> str:
        """"~572.4 MB (est.)", saying what it leaves out: a total without the base image (not
        available here) reads as the image's size and is a fraction of it."""
        text = human_bytes(self.total, estimate=self.estimate)
        left_out = [p.name for p in self.parts if p.how == "unmeasured"]
        return f"{text}, excluding {' and '.join(left_out)} (not measured)" if left_out else text


def _base_part(base: BaseChoice, base_bytes: int | None) -> Part:
    if base_bytes is not None:
        return Part("base image", base_bytes, "measured", f"{base.image}: its layers' bytes, read as `depslim image` "
                                                         "reads them")
    return Part("base image", None, "unmeasured", f"{base.image} is not available here (no local copy)")


def project_size(
    analysis: Analysis, pins: Sequence[Pin], wheels: WheelCheck, copies: CopyPlan, native: NativeNeeds,
    base: BaseChoice, base_bytes: int | None = None,
) -> Projection:
    installed = {d.name: d for d in analysis.target.distributions()}
    measured = estimated = 0
    n_measured = n_estimated = 0
    missing: list[str] = []
    for pin in pins:
        dist = installed.get(pin.name)
        if dist is not None and pin.version is not None and dist.version == pin.version:
            measured += dist.size_bytes
            n_measured += 1
            continue
        size = wheels.installed_bytes(pin.name)
        if size is None:
            missing.append(pin.name)
        else:
            estimated += size
            n_estimated += 1
    target = analysis.report.target
    where = f"{target.kind} {target.ref}".strip()
    parts = [_base_part(base, base_bytes)]
    parts.append(Part("Python packages (measured)", measured, "measured",
                      f"{n_measured} pins installed at the same version in {where}"))
    if n_estimated:
        parts.append(Part("Python packages (estimated)", estimated, "estimate",
                          f"{n_estimated} pins not installed in the target: wheel central directories, before .pyc"))
    if missing:
        parts.append(Part("Python packages (unmeasured)", None, "unmeasured", ", ".join(sorted(missing))))
    parts.append(Part("project files", sum(c.size_bytes for c in copies.items), "measured",
                      f"{len(copies.items)} copies, bytes on disk"))
    if native.packages:
        size = native.installed_bytes
        parts.append(Part("OS packages", size, "estimate" if size is not None else "unmeasured",
                          f"{', '.join(native.packages)}: dpkg Installed-Size in the target"
                          if size is not None else ", ".join(native.packages)))
    return Projection(tuple(parts))
