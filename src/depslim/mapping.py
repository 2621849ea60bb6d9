"""Import name → distribution(s), from the target's installed metadata first.

Order of evidence, most to least reliable: RECORD of installed distributions (about half
of modern wheels ship no top_level.txt, so RECORD is the primary source), top_level.txt,
the packaged alias table (`data/aliases.toml`) for names nothing installed provides, and
finally identity with a declared name. Namespace packages are resolved on the longest
dotted prefix (`google.cloud.storage` → google-cloud-storage, not every `google.*`).
"""

from __future__ import annotations

import posixpath
import sys
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from packaging.utils import canonicalize_name

from depslim.knowledge import load_data
from depslim.model import InstalledDistribution

MAX_DEPTH = 3  # dotted depth indexed for namespace packages
STDLIB = frozenset(sys.stdlib_module_names) | {"__future__"}
_SKIP_SUFFIXES = (".dist-info", ".egg-info", ".data", ".pth", ".libs")


@dataclass(frozen=True)
class Mapped:
    """Which distributions provide an import, and how that was decided."""

    distributions: tuple[str, ...]
    how: str  # record | top_level | alias | identity | stdlib | unresolved


def _module_parts(rel: str) -> tuple[str, ...] | None:
    """A site-relative file path → the dotted module parts it provides (None if not a module)."""
    parts = rel.split("/")
    if not parts or parts[0] in ("", "..", "__pycache__") or parts[0].endswith(_SKIP_SUFFIXES):
        return None
    leaf = parts[-1]
    if len(parts) == 1:
        if leaf.endswith(".py"):
            return (leaf[:-3],)
        if leaf.endswith((".so", ".pyd")):
            return (leaf.split(".", 1)[0],)
        return None
    return tuple(p for p in parts[:-1] if p != "__pycache__")[:MAX_DEPTH]


def _distinct_entries(dist: InstalledDistribution) -> set[str]:
    """Site-relative directories (and top-level files) of a distribution, each once.

    A package with 10,000 files has a few hundred directories: indexing those instead of
    every file keeps mapping cheap on torch-sized environments.
    """
    prefix = dist.site.rstrip("/") + "/"
    cut = len(prefix)
    entries: set[str] = set()
    for f in dist.files:
        if f.path.startswith(prefix):
            rel = f.path[cut:]
            slash = rel.rfind("/")
            entries.add(rel if slash < 0 else rel[:slash] + "/_")
    return entries


def module_index(dists: Sequence[InstalledDistribution]) -> dict[str, set[str]]:
    """Dotted module prefix (depth ≤ 3) → distributions with files under it (from RECORD)."""
    index: dict[str, set[str]] = defaultdict(set)
    for dist in dists:
        for rel in _distinct_entries(dist):
            parts = _module_parts(rel)
            if not parts or not all(p.isidentifier() for p in parts):
                continue
            for depth in range(1, len(parts) + 1):
                index[".".join(parts[:depth])].add(dist.name)
    return index


def top_level_index(dists: Sequence[InstalledDistribution]) -> dict[str, set[str]]:
    index: dict[str, set[str]] = defaultdict(set)
    for dist in dists:
        for name in dist.top_level:
            index[posixpath.basename(name.replace("\\", "/")).strip()].add(dist.name)
    return index


class Mapper:
    """Maps imported module names to distribution names for one target."""

    def __init__(self, dists: Sequence[InstalledDistribution], declared: Iterable[str] = ()) -> None:
        self._record = module_index(dists)
        self._top_level = top_level_index(dists)
        data = load_data("aliases")
        self._aliases: Mapping[str, list[str]] = {
            **data.get("aliases", {}),
            **data.get("namespaces", {}),
        }
        self._declared = {canonicalize_name(n) for n in declared}

    def map(self, module: str) -> Mapped:
        """Longest-prefix match of `module` in installed metadata, then aliases, then identity."""
        parts = module.split(".")
        top = parts[0]
        if top in STDLIB:
            return Mapped((), "stdlib")
        for depth in range(min(len(parts), MAX_DEPTH), 0, -1):
            owners = self._record.get(".".join(parts[:depth]))
            if owners:
                return Mapped(tuple(sorted(owners)), "record")
        owners = self._top_level.get(top)
        if owners:
            return Mapped(tuple(sorted(owners)), "top_level")
        for depth in range(min(len(parts), MAX_DEPTH), 0, -1):
            alias = self._aliases.get(".".join(parts[:depth]))
            if alias:
                names = tuple(canonicalize_name(a) for a in alias)
                declared = tuple(n for n in names if n in self._declared)
                return Mapped(declared or names, "alias")
        guess = canonicalize_name(top)
        return Mapped((guess,), "identity")

    def modules_of(self, dist: str) -> set[str]:
        """Top-level names a distribution provides (installed metadata, else the alias table)."""
        found = {mod for mod, owners in self._record.items() if "." not in mod and dist in owners}
        found |= {mod for mod, owners in self._top_level.items() if dist in owners}
        if not found:
            found = {mod for mod, names in self._aliases.items() if dist in {canonicalize_name(n) for n in names}}
        return found or {dist.replace("-", "_")}
