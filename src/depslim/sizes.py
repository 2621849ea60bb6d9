"""Installed bytes per distribution and what removing distributions would free.

A file listed in several RECORDs (mlflow, mlflow-skinny and mlflow-tracing all list
`mlflow/`) is counted once in totals and shown as shared; removing a distribution frees a
file only when every distribution that lists it goes too.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from depslim.graph import Graph
from depslim.model import InstalledDistribution


def installed_bytes(dists: Iterable[InstalledDistribution]) -> int:
    """Python bytes, the one definition every command uses: the files the distributions'
    RECORDs list that exist in the target, each path counted once (mlflow and mlflow-skinny both
    list `mlflow/`). pip lists the `.pyc` it compiles at install in RECORD, so that bytecode
    counts; files no RECORD lists are the orphan-files finding, not Python bytes."""
    sizes: dict[str, int] = {}
    for dist in dists:
        for f in dist.files:
            sizes.setdefault(f.path, f.size)
    return sum(sizes.values())


@dataclass(frozen=True)
class DistSize:
    size_bytes: int
    shared_bytes: int


class SizeTable:
    """Sizes over one target: per distribution, shared files, and retained bytes."""

    def __init__(self, dists: Sequence[InstalledDistribution], graph: Graph, roots: Iterable[str]) -> None:
        self._graph = graph
        # Most files have one owner: keep a name per path, and a set only for the few shared
        # paths (a set per file was most of this table's cost on a 100k-file environment).
        owner: dict[str, str] = {}
        shared: dict[str, set[str]] = {}
        sizes: dict[str, int] = {}
        files_of: dict[str, list[str]] = defaultdict(list)
        for dist in dists:
            name = dist.name
            mine = files_of[name]
            for f in dist.files:
                path = f.path
                first = owner.setdefault(path, name)
                if first != name:
                    holders = shared.setdefault(path, {first})
                    if name in holders:
                        continue  # the same dist listing a path twice
                    holders.add(name)
                elif path in sizes:
                    continue
                mine.append(path)
                sizes[path] = f.size
        self._shared = {path: frozenset(names) for path, names in shared.items()}
        self._file_size = sizes
        self._files_of = files_of
        self._names = {d.name for d in dists}
        self._roots = frozenset(r for r in roots if r in self._names) | frozenset(
            n for n in self._names if not graph.required_by.get(n)
        )
        self._per_dist = {
            name: DistSize(
                size_bytes=sum(sizes[p] for p in files_of.get(name, ())),
                shared_bytes=sum(sizes[p] for p in files_of.get(name, ()) if p in self._shared),
            )
            for name in self._names
        }
        self._retained_cache: dict[str, int] = {}

    @property
    def total_bytes(self) -> int:
        """Bytes of all distributions' files, each file counted once (= `installed_bytes`)."""
        return sum(self._file_size.values())

    def of(self, name: str) -> DistSize:
        return self._per_dist.get(name, DistSize(0, 0))

    def freed(self, names: Iterable[str]) -> set[str]:
        """Distributions that go when `names` go: theirs and whatever only they needed."""
        removed = frozenset(n for n in names if n in self._names)
        if not removed:
            return set()
        still = self._graph.closure(self._roots - removed, removed)
        return set(self._graph.closure(removed)) - still

    def bytes_of(self, names: Iterable[str]) -> int:
        """Bytes of files owned only by distributions within `names`."""
        group = set(names)
        shared = self._shared
        total = 0
        seen_shared: set[str] = set()
        for name in group:
            for p in self._files_of.get(name, ()):
                if p not in shared:
                    total += self._file_size[p]  # its only owner is in the group
                elif p not in seen_shared and shared[p] <= group:
                    seen_shared.add(p)
                    total += self._file_size[p]
        return total

    def retained(self, names: Iterable[str]) -> int:
        """What removing `names` frees, in bytes."""
        return self.bytes_of(self.freed(names))

    def retained_one(self, name: str) -> int:
        if name not in self._retained_cache:
            self._retained_cache[name] = self.retained([name])
        return self._retained_cache[name]
