"""Installed bytes per distribution and what removing distributions would free.

A file listed in several RECORDs (mlflow, mlflow-skinny and mlflow-tracing all list
`mlflow/`) is counted once in totals and shown as shared; removing a distribution frees a
file only when every distribution that lists it goes too.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from depslim.graph import Graph
from depslim.model import InstalledDistribution


@dataclass(frozen=True)
class DistSize:
    size_bytes: int
    shared_bytes: int


class SizeTable:
    """Sizes over one target: per distribution, shared files, and retained bytes."""

    def __init__(self, dists: Sequence[InstalledDistribution], graph: Graph, roots: Iterable[str]) -> None:
        self._graph = graph
        owners: dict[str, set[str]] = defaultdict(set)
        sizes: dict[str, int] = {}
        for dist in dists:
            for f in dist.files:
                owners[f.path].add(dist.name)
                sizes[f.path] = f.size
        self._owners = {path: frozenset(names) for path, names in owners.items()}
        self._file_size = sizes
        files_of: dict[str, list[str]] = defaultdict(list)
        for path, names in self._owners.items():
            for name in names:
                files_of[name].append(path)
        self._files_of = files_of
        self._names = {d.name for d in dists}
        self._roots = frozenset(r for r in roots if r in self._names) | frozenset(
            n for n in self._names if not graph.required_by.get(n)
        )
        self._per_dist = {
            name: DistSize(
                size_bytes=sum(sizes[p] for p in files_of.get(name, ())),
                shared_bytes=sum(sizes[p] for p in files_of.get(name, ()) if len(self._owners[p]) > 1),
            )
            for name in self._names
        }
        self._retained_cache: dict[str, int] = {}

    @property
    def total_bytes(self) -> int:
        """Bytes of all distributions' files, each file counted once."""
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
        paths = {p for n in group for p in self._files_of.get(n, ())}
        return sum(self._file_size[p] for p in paths if self._owners[p] <= group)

    def retained(self, names: Iterable[str]) -> int:
        """What removing `names` frees, in bytes."""
        return self.bytes_of(self.freed(names))

    def retained_one(self, name: str) -> int:
        if name not in self._retained_cache:
            self._retained_cache[name] = self.retained([name])
        return self._retained_cache[name]

    def owners(self) -> Mapping[str, frozenset[str]]:
        return self._owners
