"""The finder registry: every finding of every command comes from a finder listed here.

Each entry is a zero-argument factory returning a `Finder` (see `findings/base.py`). `run`
calls them in order, each seeing what the ones before found (`context.target_findings`), and
collects the totals `TotalsFinder`s measure. Adding a finding family is one module under
`findings/` plus one line in `FINDERS` (tests/test_finders_registry.py checks both).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from depslim.findings.base import AnalysisContext, Finder, TotalsFinder
from depslim.findings.cuda import CudaMatchFinder
from depslim.findings.cut import CutFinder
from depslim.findings.dockerfile import DockerfileFinder
from depslim.findings.image import ImageWasteFinder
from depslim.findings.imports import ImportProblemFinder
from depslim.findings.notebook import NotebookInstallFinder
from depslim.findings.swaps import SwapFinder
from depslim.model import Finding

FINDERS: tuple[Callable[[], Finder], ...] = (
    CutFinder,
    ImportProblemFinder,
    NotebookInstallFinder,
    ImageWasteFinder,
    SwapFinder,
    CudaMatchFinder,
    DockerfileFinder,
)

# The finders that need only a target (no project, no index): what `depslim image` runs.
TARGET_FINDERS: tuple[Callable[[], Finder], ...] = (ImageWasteFinder,)


@dataclass(frozen=True)
class Found:
    """What the registry found: the findings in finder order, and totals for the target."""

    findings: tuple[Finding, ...] = ()
    totals: dict[str, int] = field(default_factory=dict)
    layer_waste: dict[int, int] = field(default_factory=dict)  # waste by layer, overlaps removed


def run(context: AnalysisContext, finders: Sequence[Callable[[], Finder]] = FINDERS) -> Found:
    """Run every finder once over `context` (the one path by which findings are made)."""
    findings: list[Finding] = []
    totals: dict[str, int] = {}
    layer_waste: dict[int, int] = {}
    for factory in finders:
        finder = factory()
        findings += finder.find(dataclasses.replace(context, target_findings=tuple(findings)))
        if isinstance(finder, TotalsFinder):
            totals.update(finder.totals(context))
            for layer, size in finder.layer_waste(context).items():
                layer_waste[layer] = layer_waste.get(layer, 0) + size
    return Found(tuple(findings), totals, layer_waste)


__all__ = ["FINDERS", "TARGET_FINDERS", "AnalysisContext", "Finder", "Found", "TotalsFinder", "run"]
