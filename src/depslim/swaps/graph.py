"""The installed dependency graph and what removing part of it frees (retained sets).

retained(goes) = closure(goes) − closure(everything else installed ∪ what must stay). It is the
same definition the core uses for `retained_bytes`; swaps need the *set* too, to subtract what
the incoming package will keep (mlflow-skinny is inside mlflow's closure).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from depslim.declared.base import read_requirement
from depslim.findings.base import AnalysisContext
from depslim.model import Verdict
from depslim.swaps.gpu import requirement_names
from depslim.verdicts import is_kept

Graph = Mapping[str, frozenset[str]]


def build_graph(
    ctx: AnalysisContext, extra_edges: Mapping[str, Iterable[str]] | None = None
) -> dict[str, frozenset[str]]:
    """name → installed names it requires (core's edges when given, else from Requires-Dist)."""
    graph: dict[str, frozenset[str]] = {}
    names = set(ctx.installed) | {n for n, d in ctx.distributions.items() if d.installed}
    requested = requested_extras(ctx)
    for name in names:
        report = ctx.distributions.get(name)
        if report is not None and report.requires:
            deps = set(report.requires)
        elif name in ctx.installed:
            extras = ("", *sorted(requested.get(name, ())))
            deps = set(requirement_names(ctx.installed[name].requires, ctx.target.markers, extras))
        else:
            deps = set()
        deps |= set((extra_edges or {}).get(name, ()))
        graph[name] = frozenset(d for d in deps if d in names and d != name)
    return graph


def requested_extras(ctx: AnalysisContext) -> dict[str, set[str]]:
    """Extras each installed distribution was asked for by its dependants (`cuda-toolkit[cublas]`).

    torch 2.14 reaches its nvidia-* wheels only through `cuda-toolkit[cublas,...]`: without the
    requested extras the CUDA stack would look unrelated to torch. Fixed point over the graph.
    """
    requested: dict[str, set[str]] = {}
    parsed: dict[str, list[Requirement]] = {}
    for name, dist in ctx.installed.items():
        parsed[name] = [r for r in map(read_requirement, dist.requires) if r is not None]
    markers = dict(ctx.target.markers)
    changed = True
    while changed:
        changed = False
        for name, reqs in parsed.items():
            extras = {"", *requested.get(name, ())}
            for req in reqs:
                if req.marker is not None and not any(req.marker.evaluate({**markers, "extra": e}) for e in extras):
                    continue
                child = canonicalize_name(req.name)
                new = set(req.extras) - requested.get(child, set())
                if new:
                    requested.setdefault(child, set()).update(new)
                    changed = True
    return requested


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
