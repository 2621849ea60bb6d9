"""The installed dependency graph and what removing part of it frees (retained sets).

retained(goes) = closure(goes) − closure(everything else installed ∪ what must stay). It is the
same definition the core uses for `retained_bytes`; swaps need the *set* too, to subtract what
the incoming package will keep (mlflow-skinny is inside mlflow's closure).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from packaging.utils import canonicalize_name

from depslim import graph as core
from depslim.findings.base import AnalysisContext
from depslim.model import Verdict
from depslim.verdicts import is_kept

Graph = Mapping[str, frozenset[str]]


def core_graph(ctx: AnalysisContext, plain: Iterable[str] = ()) -> core.Graph:
    """The core's graph (`depslim.graph`): the one the core handed over in `ctx.graph`, else built the
    same way from the installed metadata and the declared extras. `plain`: distributions whose
    declared extras are not followed (a swap that drops `pandas[all]` for `pandas`)."""
    plain = {canonicalize_name(n) for n in plain}
    if ctx.graph is not None and not plain:
        return ctx.graph
    declared = ctx.declared.requirements if ctx.declared is not None else ()
    # what the core's `declared_by_name` hands `build_graph`: named, not constraints
    requested = [r.requirement for r in declared if r.name and not r.constraint and r.name not in plain]
    return core.build_graph(list(ctx.installed.values()), ctx.target.markers, requested)


def build_graph(
    ctx: AnalysisContext, extra_edges: Mapping[str, Iterable[str]] | None = None, plain: Iterable[str] = ()
) -> dict[str, frozenset[str]]:
    """name → installed names it requires: a view of the core's graph (`core_graph`), plus
    `extra_edges`. A distribution reported installed without metadata keeps its report's edges."""
    edges = core_graph(ctx, plain).requires
    graph: dict[str, frozenset[str]] = {}
    names = set(ctx.installed) | {n for n, d in ctx.distributions.items() if d.installed}
    for name in names:
        report = ctx.distributions.get(name)
        deps = set(edges.get(name, report.requires if report is not None else ()))
        deps |= set((extra_edges or {}).get(name, ()))
        graph[name] = frozenset(d for d in deps if d in names and d != name)
    return graph


def closure(roots: Iterable[str], graph: Graph) -> set[str]:
    seen: set[str] = set()
    stack = [r for r in roots if r in graph]
    while stack:
        name = stack.pop()
        if name in seen:
            continue
        seen.add(name)
        stack.extend(graph.get(name, ()))
    return seen


def kept_by_declaration(ctx: AnalysisContext) -> set[str]:
    """Declared distributions the code needs: they stay whatever goes."""
    # typing-only stays too: a swap must not take away what type checkers read in the dev install
    return {n for n, d in ctx.distributions.items()
            if (is_kept(d.verdict, ctx.scope) or d.verdict is Verdict.TYPING_ONLY) and d.installed}


def retained_set(goes: Iterable[str], graph: Graph, keep: Iterable[str] = ()) -> set[str]:
    goes = set(goes)
    gone = closure(goes, graph)
    stays = closure((set(graph) - gone) | (set(keep) - goes), graph)
    return gone - stays


def size_of(ctx: AnalysisContext, name: str) -> int:
    report = ctx.distributions.get(name)
    if report is not None and report.installed:
        return report.size_bytes
    dist = ctx.installed.get(name)
    return dist.size_bytes if dist is not None else 0


def bytes_of(ctx: AnalysisContext, names: Iterable[str]) -> int:
    return sum(size_of(ctx, n) for n in names)
