"""What every finder receives, and the one interface finders implement."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from depslim.model import (
    DeclaredSet,
    DistributionReport,
    Finding,
    InstalledDistribution,
    ScanResult,
    Scope,
    TargetInfo,
)


@dataclass(frozen=True)
class AnalysisContext:
    """Everything measured and scanned, handed to each finder (finders do no I/O of their own,
    except reading project files such as the Dockerfile or asking an index for a wheel size).

    `distributions` maps canonical name → report (sizes, retained bytes, verdicts);
    `installed` maps canonical name → what the target reported.
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


class Finder(Protocol):
    """A family of findings (unused, image waste, swaps, Dockerfile…)."""

    def find(self, context: AnalysisContext) -> list[Finding]:
        """Return findings, each with a stable id, an owner, a fix and evidence."""
        ...
