"""What every finder receives, and the one interface finders implement.

Every finding of every command comes from a finder in `depslim.findings.FINDERS`; `core`
measures and decides verdicts, then hands one `AnalysisContext` to the registry. So a new
finding family is one module here plus one registry line, and policy (keep/ignore), merging
and sorting apply to all of them in one place.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from depslim.model import (
    DeclaredSet,
    DistributionReport,
    Evidence,
    Finding,
    InstalledDistribution,
    Owner,
    ScanResult,
    Scope,
    TargetInfo,
)

if TYPE_CHECKING:  # types only: the finders must not pull the core (or a target kind) in at import time
    from depslim.core import Reach
    from depslim.graph import Graph
    from depslim.mapping import Mapped
    from depslim.model import ImportRef
    from depslim.targets.base import Target


@dataclass(frozen=True)
class AnalysisContext:
    """Everything measured and scanned, handed to each finder (finders do no I/O of their own,
    except reading project files such as the Dockerfile or asking an index for a wheel size).

    `distributions` maps canonical name → report (sizes, retained bytes, verdicts);
    `installed` maps canonical name → what the target reported. `source` is the target itself,
    for finders that read what only one kind of target holds (an image's layers); `mapped`,
    `graph`, `reach` and `implicit` are the core's intermediate results the verdict and import
    finders explain. `target_findings` holds what the finders before this one found.
    """

    project_root: Path | None
    scan: ScanResult | None
    declared: DeclaredSet | None
    target: TargetInfo
    installed: Mapping[str, InstalledDistribution]
    distributions: Mapping[str, DistributionReport]
    target_findings: Sequence[Finding] = ()
    config: Mapping[str, object] = field(default_factory=dict)
    scope: Scope = Scope.ALL
    source: Target | None = None
    mapped: Mapping[ImportRef, Mapped] = field(default_factory=dict)
    graph: Graph | None = None
    reach: Reach | None = None
    implicit: Mapping[str, Sequence[Evidence]] = field(default_factory=dict)


class Finder(Protocol):
    """A family of findings (cut list, import problems, image waste, swaps, Dockerfile…)."""

    def find(self, context: AnalysisContext) -> list[Finding]:
        """Return findings, each with a stable id, an owner, a fix and evidence."""
        ...


@runtime_checkable
class TotalsFinder(Protocol):
    """A finder that also measures a total the report's target carries (image waste's de-duplicated
    bytes: not the sum of its findings, which overlap). Asked after `find`, on the same instance."""

    def find(self, context: AnalysisContext) -> list[Finding]: ...

    def totals(self, context: AnalysisContext) -> Mapping[str, int]:
        """Named totals merged into `TargetInfo.totals` (e.g. `waste_bytes`)."""
        ...

    def layer_waste(self, context: AnalysisContext) -> Mapping[int, int]:
        """The waste total by layer index, overlaps removed (each `LayerInfo.waste_bytes`)."""
        ...


def problem(
    code: str,
    subject: str,
    title: str,
    fix: str,
    evidence: Sequence[Evidence],
    severity: str,
    owner: Owner = Owner.DATA_SCIENTIST,
) -> Finding:
    """A finding whose id is `code:subject`, so the same problem found twice is one row."""
    return Finding(
        id=f"{code}:{subject}",
        code=code,
        title=title,
        owner=owner,
        fix=fix,
        subject=subject,
        severity=severity,
        evidence=tuple(sorted(evidence)[:20]),
    )
