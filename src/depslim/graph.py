"""The requirement graph among installed distributions, evaluated for the *target*.

Markers are evaluated with the target's marker environment (an image's Python and
platform, not the machine depslim runs on), and an extra is followed only where something
installed or declared asks for it (`uvicorn[standard]`). That is why pipdeptree's graph,
which evaluates markers for the running interpreter, is not used here.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from packaging.markers import InvalidMarker, UndefinedComparison, UndefinedEnvironmentName
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from depslim.declared.base import read_requirement as _parse
from depslim.model import InstalledDistribution


def _applies(req: Requirement, markers: Mapping[str, str], extra: str) -> bool:
    if req.marker is None:
        return extra == ""
    env = {**markers, "extra": extra}
    try:
        return bool(req.marker.evaluate(env))
    except (InvalidMarker, UndefinedComparison, UndefinedEnvironmentName):
        return False


def extra_requirements(
    dists: Mapping[str, InstalledDistribution], name: str, extra: str, markers: Mapping[str, str]
) -> list[str]:
    """The distributions `name[extra]` adds to `name`'s own requirements, followed through the
    extras they ask for in turn (`ray[serve]` -> `uvicorn[standard]` -> uvloop), installed or not.
    Read from the installed metadata; an empty list when `name` is not installed."""
    found: dict[str, None] = {}
    seen: set[tuple[str, str]] = set()
    pending = [(canonicalize_name(name), canonicalize_name(extra))]
    while pending:
        owner, wanted = pending.pop()
        if (owner, wanted) in seen or owner not in dists:
            continue
        seen.add((owner, wanted))
        for req in filter(None, map(_parse, dists[owner].requires)):
            if not _applies(req, markers, wanted) or (wanted and _applies(req, markers, "")):
                continue
            dep = canonicalize_name(req.name)
            if dep != canonicalize_name(name):
                found[dep] = None
            pending += [(dep, canonicalize_name(e)) for e in req.extras]
    return list(found)


def warm(dists: Iterable[InstalledDistribution]) -> None:
    """Parse every distribution's requirements now (the core does this while the scan's
    workers run), so `build_graph` later only evaluates markers."""
    for dist in dists:
        for text in dist.requires:
            _parse(text)


@dataclass(frozen=True)
class Graph:
    """Edges name → names it requires (installed ones only), plus the reverse."""

    requires: Mapping[str, frozenset[str]]
    required_by: Mapping[str, frozenset[str]]
    missing: Mapping[str, frozenset[str]]  # name → required but not installed

    def closure(self, roots: Iterable[str], removed: frozenset[str] = frozenset()) -> set[str]:
        """Everything reachable from `roots` without passing through `removed`."""
        seen: set[str] = set()
        stack = [r for r in roots if r in self.requires and r not in removed]
        while stack:
            node = stack.pop()
            if node in seen:
                continue
            seen.add(node)
            stack.extend(d for d in self.requires.get(node, ()) if d not in seen and d not in removed)
        return seen


def build_graph(
    dists: Sequence[InstalledDistribution],
    markers: Mapping[str, str],
    requested: Iterable[str] = (),
) -> Graph:
    """Build the graph; `requested` are extra top-level requirement strings (declared ones)
    whose extras must be followed too."""
    by_name = {d.name: d for d in dists}
    parsed = {d.name: [r for r in map(_parse, d.requires) if r is not None] for d in dists}
    extras_wanted: dict[str, set[str]] = defaultdict(set)
    for text in requested:
        req = _parse(text)
        if req is not None and req.extras:
            extras_wanted[canonicalize_name(req.name)].update(canonicalize_name(e) for e in req.extras)

    requires: dict[str, set[str]] = {name: set() for name in by_name}
    missing: dict[str, set[str]] = defaultdict(set)
    # Extras requested by parents can reveal more edges, which can request more extras:
    # iterate until nothing changes (bounded by the number of (dist, extra) pairs).
    done: set[tuple[str, str]] = set()
    pending = [(name, "") for name in by_name]
    pending += [(name, extra) for name, extras in extras_wanted.items() for extra in extras]
    while pending:
        name, extra = pending.pop()
        if (name, extra) in done or name not in by_name:
            continue
        done.add((name, extra))
        for req in parsed[name]:
            if not _applies(req, markers, extra):
                continue
            dep = canonicalize_name(req.name)
            if dep in by_name:
                if dep != name:  # `ray[serve]` asking for `ray[default]`: follow the extra, no self-edge
                    requires[name].add(dep)
                pending.extend((dep, canonicalize_name(e)) for e in req.extras)
            else:
                missing[name].add(dep)
    required_by: dict[str, set[str]] = {name: set() for name in by_name}
    for parent, deps in requires.items():
        for child in deps:
            required_by[child].add(parent)
    return Graph(
        requires={k: frozenset(v) for k, v in requires.items()},
        required_by={k: frozenset(v) for k, v in required_by.items()},
        missing={k: frozenset(v) for k, v in missing.items()},
    )
