"""Import name → distribution(s), from the target's installed metadata first.

Precedence, most to least reliable (the first source that knows the name decides; each `how`):

1. `stdlib` — a module the running interpreter ships (a former standard-library module that no
   distribution provides again, `data/stdlib.toml`, is `stdlib` too once nothing installed provides it).
2. `record` — RECORD of the installed distributions (about half of modern wheels ship no
   top_level.txt, so RECORD is the primary source).
3. `top_level` — top_level.txt of the installed distributions.
4. For names nothing installed provides, longest dotted prefix first, and at each depth:
   a. `alias` — the hand-kept table `data/aliases.toml`: overrides for the names the generated
      index gets wrong, and names it lacks;
   b. `index` — the generated table `data/import_names.json` (`scripts/gen_import_map.py` reads it
      from wheels' file lists, top_level.txt and PEP 794 Import-Name metadata), loaded lazily,
      only when a name gets this far, so start-up does not pay for it.
   A namespace portion in the index (`google.cloud` for `google.cloud.foo`) ends the search: a
   shallower name owns nothing below a namespace, so an alias for a bare namespace import
   (`google`) does not catch the names under it.
5. `identity` — the import name itself as a distribution name: a guess.

Namespace packages are resolved on the longest dotted prefix (`google.cloud.storage` →
google-cloud-storage, not every `google.*`). When several distributions provide a name (cv2:
opencv-python and its headless/contrib variants; jwt: PyJWT and jwt) and exactly one of them is
declared by the project, that one wins with its source's `how`; otherwise all are returned with
`how="ambiguous"`, which is never `KNOWN_MAPPINGS`: nothing writes a requirement or a fix line
naming a distribution picked from candidates.
"""

from __future__ import annotations

import posixpath
import sys
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

from packaging.utils import canonicalize_name

from depslim.errors import InputError
from depslim.knowledge import check_keys, load_data, load_json_data
from depslim.model import InstalledDistribution

MAX_DEPTH = 3  # dotted depth indexed for namespace packages
STDLIB = frozenset(sys.stdlib_module_names) | {"__future__"}
_SKIP_SUFFIXES = (".dist-info", ".egg-info", ".data", ".pth", ".libs")
# Mappings that name a real distribution (metadata or a table says it provides the module), as
# opposed to a guess (`identity`) or a choice among candidates (`ambiguous`).
KNOWN_MAPPINGS = frozenset({"record", "top_level", "alias", "index"})


@cache
def former_stdlib() -> frozenset[str]:
    """Standard-library modules of older Pythons that no distribution provides (`data/stdlib.toml`)."""
    data = load_data("stdlib")
    check_keys(data, required=("former",), where="depslim/data/stdlib.toml")
    check_keys(data["former"], required=("names",), where="depslim/data/stdlib.toml [former]")
    return frozenset(data["former"]["names"])


@dataclass(frozen=True)
class Mapped:
    """Which distributions provide an import, and how that was decided."""

    distributions: tuple[str, ...]
    how: str  # record | top_level | alias | index | ambiguous | identity | stdlib | unresolved


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


@dataclass(frozen=True)
class ImportIndex:
    """The generated import-name table: dotted name → the distributions whose wheels provide it.

    `names` holds one sorted tuple per name (two or more: ambiguous); `namespaces` the names several
    wheels ship as a namespace portion (no `__init__`, under a namespace parent if any): they own
    nothing, only the names below them do.
    """

    names: Mapping[str, tuple[str, ...]]
    namespaces: frozenset[str]

    def providers(self, dist: str) -> set[str]:
        """Names `dist` provides, shallowest only (google-cloud-storage: `google.cloud.storage`)."""
        mine = {name for name, dists in self.names.items() if dist in dists}
        return {n for n in mine if not any(n.startswith(m + ".") for m in mine)}


_INDEX_FILE = "depslim/data/import_names.json"
_INDEX_KEYS = ("format", "names", "namespaces")
_INDEX_OPTIONAL = ("about", "generated", "command", "sources", "stats", "dropped_top_level", "distributions",
                   "sdist_only", "failed")


def _index_entry(name: str, value: Any) -> tuple[str, ...]:
    """One `names` value: a distribution name, or {"ambiguous": [two or more names]}."""
    if isinstance(value, str) and value:
        return (value,)
    if isinstance(value, dict):
        check_keys(value, required=("ambiguous",), where=f"{_INDEX_FILE}: names.{name}")
        dists = value["ambiguous"]
        if isinstance(dists, list) and len(dists) >= 2 and all(isinstance(d, str) and d for d in dists):
            return tuple(sorted(dists))
    raise InputError(_INDEX_FILE, f"names.{name}: expected a distribution name or {{\"ambiguous\": [2+ names]}}")


@cache
def import_index() -> ImportIndex:
    """The generated table, parsed and validated on first use (a few ms for 10,000 distributions)."""
    return parse_index(load_json_data("import_names"))


def parse_index(doc: Mapping[str, Any]) -> ImportIndex:
    """Validate a generated table (what `scripts/gen_import_map.py` writes) and index it."""
    check_keys(doc, required=_INDEX_KEYS, optional=_INDEX_OPTIONAL, where=_INDEX_FILE)
    if doc["format"] != 1:
        raise InputError(_INDEX_FILE, f"unsupported format {doc['format']!r} (this depslim reads format 1)")
    names, namespaces = doc["names"], doc["namespaces"]
    if not isinstance(names, dict) or not isinstance(namespaces, list):
        raise InputError(_INDEX_FILE, "names must be an object and namespaces a list")
    return ImportIndex(
        names={name: _index_entry(name, value) for name, value in names.items()},
        namespaces=frozenset(str(n) for n in namespaces),
    )


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
        """Longest-prefix match of `module` in installed metadata, then aliases and the generated
        index (depth by depth), then identity. See the module docstring for why this order."""
        parts = module.split(".")
        top = parts[0]
        if top in STDLIB:
            return Mapped((), "stdlib")
        depths = range(min(len(parts), MAX_DEPTH), 0, -1)
        for depth in depths:
            owners = self._record.get(".".join(parts[:depth]))
            if owners:
                return Mapped(tuple(sorted(owners)), "record")
        owners = self._top_level.get(top)
        if owners:
            return Mapped(tuple(sorted(owners)), "top_level")
        if top in former_stdlib():
            return Mapped((), "stdlib")
        guess = top
        for depth in depths:
            name = ".".join(parts[:depth])
            index = import_index()
            if depth < len(parts) and name in index.namespaces:
                # google.cloud.foo with no entry for google.cloud.foo: only its own distribution could
                # provide it, and the conventional name (google-cloud-foo) is the best guess there is
                guess = ".".join(parts[: depth + 1])
                break
            alias = self._aliases.get(name)
            if alias:
                return self._choose(alias, "alias")
            dists = index.names.get(name)
            if dists:
                return self._choose(dists, "index")
        return Mapped((canonicalize_name(guess),), "identity")

    def _choose(self, names: Iterable[str], how: str) -> Mapped:
        """One candidate → it; several → the one the project declares, else all of them, ambiguous."""
        candidates = tuple(dict.fromkeys(canonicalize_name(n) for n in names))
        declared = tuple(n for n in candidates if n in self._declared)
        picked = declared or candidates
        return Mapped(picked, how if len(picked) == 1 else "ambiguous")

    def modules_of(self, dist: str) -> set[str]:
        """Top-level names a distribution provides (installed metadata, else the alias table, else
        the generated index)."""
        found = {mod for mod, owners in self._record.items() if "." not in mod and dist in owners}
        found |= {mod for mod, owners in self._top_level.items() if dist in owners}
        if not found:
            found = {mod for mod, names in self._aliases.items() if dist in {canonicalize_name(n) for n in names}}
        if not found:
            found = import_index().providers(dist)
        return found or {dist.replace("-", "_")}
