"""The cut list as findings: declared for runtime, but the code does not need it there.

The verdicts themselves are decided in `depslim.verdicts` (over the measured graph); this finder
only says, per cut package, why and how to cut it.
"""

from __future__ import annotations

from collections.abc import Sequence

from depslim.findings.base import AnalysisContext
from depslim.model import DistributionReport, Evidence, Finding, Location, Owner, Scope, Verdict
from depslim.verdicts import is_cut


class CutFinder:
    """One finding per declared package whose verdict cuts it from the runtime."""

    def find(self, context: AnalysisContext) -> list[Finding]:
        if context.declared is None:
            return []
        return cut_findings(sorted(context.distributions.values(), key=lambda d: d.name), context.scope)


def cut_findings(reports: Sequence[DistributionReport], scope: Scope) -> list[Finding]:
    """The cut list as findings: declared for runtime, but the code does not need it there."""
    findings = []
    for dist in reports:
        if dist.verdict is None or not is_cut(dist.verdict, scope) or dist.dev_declared:
            continue
        where = dist.declared_at[0] if dist.declared_at else Location("")
        if dist.verdict is Verdict.UNREACHABLE:
            title = f"{dist.name} is only imported by code the served entrypoint never reaches"
            fix = f"leave {dist.name} out of the serving image's requirements"
        elif dist.verdict is Verdict.UNUSED:
            title, fix = f"{dist.name} is declared but never used", f"remove {dist.name} from {where.path}"
        elif dist.verdict is Verdict.TYPING_ONLY:
            title, fix = f"{dist.name} is only imported for type checking", f"move {dist.name} to the dev requirements"
        else:
            title, fix = (
                f"{dist.name} is only used by dev code, scripts or notebooks",
                f"move {dist.name} to the dev requirements",
            )
        evidence = (Evidence(where.path, where.line, "declared", dist.name), *dist.evidence)
        findings.append(
            Finding(
                id=f"cut:{dist.name}",
                code=f"cut-{dist.verdict.value}",
                title=title,
                owner=Owner.DATA_SCIENTIST,
                fix=fix,
                savings_bytes=dist.retained_bytes if dist.installed else None,
                subject=dist.name,
                severity="warning",
                evidence=tuple(e for e in evidence if e.path or e.detail),
                data={"verdict": dist.verdict.value, "from": dist.name},
            )
        )
    return findings

