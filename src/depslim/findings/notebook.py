"""Notebook installs: `!pip install X` / `%pip install X` cells, one info finding per package."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping

from depslim.findings.base import AnalysisContext, problem
from depslim.model import DeclaredRequirement, Evidence, Finding, ScanResult


class NotebookInstallFinder:
    """Packages notebooks install for themselves, and whether the project declares them."""

    def find(self, context: AnalysisContext) -> list[Finding]:
        if context.declared is None:
            return []
        from depslim.core import declared_by_name

        return notebook_installs(context.scan, declared_by_name(context.declared))


def notebook_installs(
    scan_result: ScanResult | None, declared: Mapping[str, list[DeclaredRequirement]]
) -> list[Finding]:
    """`!pip install X` / `%pip install X` in notebooks: one info finding per package, every install
    line as evidence, saying whether X is declared. A notebook that installs its own packages runs
    in an environment the declarations do not describe: what it needs is declared nowhere, or twice."""
    from depslim.declared.base import requirement_name

    per_name: dict[str, list[Evidence]] = defaultdict(list)
    for install in scan_result.notebook_installs if scan_result else ():
        # a URL or a path has no name to look up: it stands for itself
        name = requirement_name(install.requirement) or install.requirement
        where, detail = install.location, f"pip install {install.requirement}"
        per_name[name].append(Evidence(where.path, where.line, "notebook-install", detail))
    findings = []
    for name, evidence in sorted(per_name.items()):
        at = ", ".join(sorted({str(r.location) for r in declared.get(name, ())}))
        title = (f"{name} is installed by a notebook (pip install) and declared at {at}" if at
                 else f"{name} is installed by a notebook (pip install) but declared nowhere")
        fix = ("drop the install line: the declaration installs it" if at
               else f"declare {name} (with the dev requirements if only notebooks use it)")
        findings.append(problem("notebook-install", name, title, fix, evidence, "info"))
    return findings

