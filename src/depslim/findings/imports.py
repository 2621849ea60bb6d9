"""Import problems: what the code imports against what the project declares and the target holds.

missing / transitive / undeclared / optional / misplaced-dev per imported distribution, and
the implicit needs (a CLI the code runs, a backend a config names) that nothing declares.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from depslim.findings.base import AnalysisContext, problem
from depslim.model import DeclaredRequirement, Evidence, Finding, InstalledDistribution, Scope
from depslim.verdicts import import_evidence, is_runtime_use

if TYPE_CHECKING:
    from depslim.core import Reach
    from depslim.graph import Graph
    from depslim.mapping import Mapped
    from depslim.model import ImportRef


class ImportProblemFinder:
    """Imports the declarations do not cover, and implicit runtime needs nothing declares."""

    def find(self, context: AnalysisContext) -> list[Finding]:
        if context.declared is None or context.graph is None or context.reach is None:
            return []  # a target alone (no project): nothing is imported or declared
        from depslim.core import declared_by_name

        declared = declared_by_name(context.declared)
        found = import_problems(context.mapped, declared, context.installed, context.graph, context.reach)
        return found + implicit_problems(context.implicit, declared, context.installed)


def implicit_problems(
    implicit: Mapping[str, Sequence[Evidence]],
    declared: Mapping[str, list[DeclaredRequirement]],
    installed: Mapping[str, InstalledDistribution],
) -> list[Finding]:
    """Implicit needs (see `depslim.implicit`) that are not declared: an error when a rebuild would
    lack them, a warning when the current target only happens to have them."""
    findings = []
    for name, evidence in implicit.items():
        if name in declared:
            continue
        if name in installed:  # the current image happens to have it; a rebuild from the declarations would not
            findings.append(problem("undeclared-implicit", name, f"{name} is needed at runtime and installed, "
                                    "but not declared", f"declare {name}", evidence, "warning"))
        else:
            findings.append(problem("missing-implicit", name, f"{name} is needed at runtime but not declared",
                                    f"declare {name}", evidence, "error"))
    return findings


def import_problems(
    mapped: Mapping[ImportRef, Mapped],
    declared: Mapping[str, list[DeclaredRequirement]],
    installed: Mapping[str, InstalledDistribution],
    graph: Graph,
    reach: Reach,
) -> list[Finding]:
    """missing / transitive / undeclared / optional / misplaced-dev, one finding per distribution.

    Under `--scope serving` an import in code the served entrypoint never reaches is no problem of
    the image's: it is left out here as its package is left out of the image."""
    per_key: dict[tuple[str, str], list[Evidence]] = defaultdict(list)
    ambiguous: dict[str, tuple[str, ...]] = {}  # subject → the candidates it names (no one is picked)
    for ref, m in mapped.items():
        if m.how == "stdlib" or not m.distributions:
            continue
        if reach.scope is Scope.SERVING and not reach.reached(ref):
            continue
        names = m.distributions
        decl = [n for n in names if n in declared]
        ev = import_evidence(ref)
        if decl:
            if is_runtime_use(ref) and all(all(r.dev for r in declared[n]) for n in decl):
                per_key[("misplaced-dev", decl[0])].append(ev)
            continue
        present = [n for n in names if n in installed]
        subject = present[0] if present else names[0]
        if not present and m.how == "ambiguous":
            subject = " or ".join(names)
            ambiguous[subject] = names
        if ref.optional:
            per_key[("optional", subject)].append(ev)
        elif not is_runtime_use(ref):
            continue
        elif not present:
            per_key[("missing", subject)].append(ev)
        elif graph.required_by.get(subject):
            per_key[("transitive", subject)].append(ev)
        else:
            per_key[("undeclared", subject)].append(ev)
    texts = {
        "missing": ("{n} is imported by runtime code but neither declared nor installed", "declare {n}", "error"),
        "transitive": ("{n} is imported but only installed as a dependency of {by}", "declare {n} directly", "warning"),
        "undeclared": ("{n} is imported and installed but not declared", "declare {n}", "warning"),
        "optional": (
            "{n} is an optional import (try/except ImportError), not declared",
            "declare {n} as an extra if wanted",
            "info",
        ),
        "misplaced-dev": (
            "{n} is declared only for development but runtime code imports it",
            "move {n} to the runtime requirements",
            "error",
        ),
    }
    findings = []
    for (code, name), evidence in sorted(per_key.items()):
        title, fix, severity = texts[code]
        by = ", ".join(sorted(graph.required_by.get(name, ())))
        finding = problem(code, name, title.format(n=name, by=by), fix.format(n=name), evidence, severity)
        if name in ambiguous:
            finding = dataclasses.replace(
                finding, title=f"{finding.title} (ambiguous: each of them provides the imported module)",
                fix=fix.format(n=f"the one of {', '.join(ambiguous[name])} the code means"),
                data={"candidates": list(ambiguous[name])})
        findings.append(finding)
    return findings

