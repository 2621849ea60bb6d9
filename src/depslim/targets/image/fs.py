"""The merged (final) filesystem of an image, built from layer scans without extracting anything.

Layers are applied in order the way overlayfs presents them to a container: opaque
whiteouts first, then `.wh.` whiteouts (both only hide *lower* layers), then the layer's own
entries. Whatever a whiteout hides, or a later entry replaces, is still shipped in its lower
layer, so each removal is recorded with its bytes and the layers that added them: that is
the `deleted-in-later-layer` / `overwritten-in-later-layer` evidence.

Sizes follow `os.lstat` inside a running container: a regular file its length, a symlink the
length of its target string, a hardlink the size of the file it links to, a directory 0.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterator
from dataclasses import dataclass, field

from depslim.errors import ImageFormatError
from depslim.native.elf import ElfInfo
from depslim.targets.image.layers import (
    DEFAULT_LIMITS,
    DIR,
    FILE,
    HARDLINK,
    SYMLINK,
    Budget,
    LayerScan,
    path_cost,
)

# A node is (kind, size, layer index, link target or None). Nodes without a link are shared: every
# file of one size added by one layer is the same tuple (a layer of N files of total size S has at
# most sqrt(2S) distinct sizes), so a million-file layer does not cost a million tuples.
Node = tuple[str, int, int, str | None]

TOP_PATHS = 5
MAX_SYMLINK_HOPS = 40
_APPLY_CHUNK = 65536  # scan entries merged between two releases of the scan's columns


@dataclass
class Removal:
    """Bytes a later layer hid (whiteout, opaque dir) or replaced (overwrite)."""

    layer: int  # the layer that removed them
    path: str  # the whiteout target / opaque dir / overwritten path
    kind: str  # "whiteout" | "opaque" | "overwrite"
    bytes: int
    by_layer: dict[int, int] = field(default_factory=dict)  # adding layer -> bytes
    top: list[tuple[int, str]] = field(default_factory=list)  # largest hidden files
    directory: bool = False  # a whole directory was hidden (rm -rf dir, opaque marker)


def _parent(path: str) -> str:
    parent = path.rpartition("/")[0]
    return parent or "/"


def _join(base: str, name: str) -> str:
    return "/" + name if base == "/" else base + "/" + name


class MergedFS:
    """Final filesystem view plus the history of what was hidden or replaced."""

    def __init__(self, archive: str, budget: Budget | None = None) -> None:
        self.archive = archive
        self.nodes: dict[str, Node] = {"/": (DIR, 0, -1, None)}
        self.children: dict[str, set[str]] = {"/": set()}
        self.removals: list[Removal] = []
        self._captured: dict[str, tuple[int, bytes]] = {}
        self._elf: dict[str, tuple[int, ElfInfo]] = {}
        self._dir_cache: dict[str, str | None] = {}
        self._budget = budget if budget is not None else Budget(DEFAULT_LIMITS)
        # live entries and their path names' memory (`path_cost`): with the scans not merged yet, what the Budget caps
        self.live_entries = 1
        self.live_bytes = 1
        self._shared: dict[tuple[str, int], Node] = {}  # this layer's link-less nodes, by (kind, size)
        self._layer = -1

    # --- building -----------------------------------------------------------------------
    def apply(self, layer: int, scan: LayerScan) -> None:
        """Stack one layer on top of what is there (see module doc for the order)."""
        self._layer, self._shared = layer, {}
        for directory in scan.opaques:
            if directory in self.nodes and self.nodes[directory][0] == DIR:
                removal = Removal(layer, directory, "opaque", 0, directory=True)
                for child in list(self.children.get(directory, ())):
                    self._remove(child, removal)
                if removal.bytes or removal.by_layer:
                    self.removals.append(removal)
        for target in scan.whiteouts:
            if target in self.nodes:
                removal = Removal(layer, target, "whiteout", 0, directory=self.nodes[target][0] == DIR)
                self._remove(target, removal)
                self.removals.append(removal)
        entries = len(scan.paths)
        self._add_entries(layer, scan)
        for path, data in scan.captured.items():
            self._captured[path] = (layer, data)
        for path, info in scan.elf.items():
            self._elf[path] = (layer, info)
        self._dir_cache.clear()
        self._shared = {}
        self._budget.merged(entries, scan.name_bytes, self.live_entries, self.live_bytes)
        self._check_budget()

    def _add_entries(self, layer: int, scan: LayerScan) -> None:
        """Add a layer's entries: the common case (a new file or directory under an existing
        directory) inline, with the shared node of its size; anything else through `_add`.

        The scan's columns are consumed a chunk at a time (their slots freed as the tree takes the
        entries over), so a million-entry layer is never held twice.
        """
        nodes, children, links = self.nodes, self.children, scan.links
        paths, kinds, sizes = scan.paths, scan.kinds, scan.sizes
        files: dict[int, Node] = {}
        dir_node: Node = (DIR, 0, layer, None)
        added = added_bytes = 0
        offset = 0  # index in the scan of paths[0]: links are keyed by the original index
        while paths:
            chunk = min(len(paths), _APPLY_CHUNK)
            columns = zip(paths[:chunk], kinds[:chunk], sizes[:chunk], strict=True)
            for index, (path, kind, size) in enumerate(columns, offset):
                if kind in (FILE, DIR) and not (links and index in links):
                    parent = path.rpartition("/")[0] or "/"
                    above = nodes.get(parent)
                    if above is not None and above[0] == DIR and path not in nodes:
                        if kind == FILE:
                            node = files.get(size)
                            if node is None:
                                node = files[size] = (FILE, size, layer, None)
                        else:
                            node = dir_node
                            children[path] = set()
                        nodes[path] = node
                        children[parent].add(path)
                        added += 1
                        added_bytes += path_cost(path)
                        continue
                self._add(layer, path, kind, size, links.get(index) if links else None)
            del paths[:chunk], kinds[:chunk], sizes[:chunk]
            offset += chunk
        self.live_entries += added
        self.live_bytes += added_bytes

    def _check_budget(self) -> None:
        """The merged tree alone past the limits (implicit parent directories count too)."""
        lim = self._budget.limits
        if self.live_entries > lim.max_entries or self.live_bytes > lim.max_tree_bytes:
            raise ImageFormatError(self.archive, f"more than {lim.max_entries} entries or {lim.max_tree_bytes} "
                                                 "bytes of path names in the merged tree (the limits that "
                                                 "bound depslim's memory)")

    def _node(self, kind: str, size: int, layer: int, link: str | None) -> Node:
        if link is not None or layer != self._layer:
            return (kind, size, layer, link)
        key = (kind, size)
        node = self._shared.get(key)
        if node is None:
            node = self._shared[key] = (kind, size, layer, None)
        return node

    def _remove(self, path: str, removal: Removal) -> None:
        """Drop `path` (and a directory's subtree), charging its bytes to `removal`."""
        stack = [path]
        self.children.get(_parent(path), set()).discard(path)
        top = removal.top
        while stack:
            current = stack.pop()
            node = self.nodes.pop(current, None)
            if node is None:
                continue
            self.live_entries -= 1
            self.live_bytes -= path_cost(current)
            kind, size, added, _link = node
            if kind == DIR:
                stack.extend(self.children.pop(current, ()))
            elif size:
                removal.bytes += size
                removal.by_layer[added] = removal.by_layer.get(added, 0) + size
                if len(top) < TOP_PATHS:
                    top.append((size, current))
                    top.sort(reverse=True)
                elif size > top[-1][0]:
                    top[-1] = (size, current)
                    top.sort(reverse=True)

    def _ensure_dir(self, path: str, layer: int) -> None:
        missing = []
        while True:
            node = self.nodes.get(path)
            if node is not None:
                if node[0] != DIR:  # a file or link where a directory must be: replaced
                    removal = Removal(layer, path, "overwrite", 0)
                    self._remove(path, removal)
                    if removal.bytes:
                        self.removals.append(removal)
                    missing.append(path)
                    path = _parent(path)
                    continue
                break
            missing.append(path)
            path = _parent(path)
        for directory in reversed(missing):
            self.nodes[directory] = self._node(DIR, 0, layer, None)
            self.live_entries += 1
            self.live_bytes += path_cost(directory)
            self.children.setdefault(directory, set())
            self.children[_parent(directory)].add(directory)
        if len(missing) > 64:  # implicit parents of a deep path: count them now, not at the layer's end
            self._check_budget()

    def _add(self, layer: int, path: str, kind: str, size: int, link: str | None) -> None:
        parent = _parent(path)
        self._ensure_dir(parent, layer)
        old = self.nodes.get(path)
        if old is not None:
            if old[0] == DIR and kind == DIR:
                return  # attributes only; the directory keeps its children
            removal = Removal(layer, path, "overwrite", 0)
            self._remove(path, removal)
            if removal.bytes:
                self.removals.append(removal)
        if kind == HARDLINK:
            target = self.nodes.get(link or "")
            if target is None or target[0] == DIR:
                raise ImageFormatError(
                    self.archive, f"hardlink {path} points to a missing member {link}"
                )
            size = target[1]
        self.nodes[path] = self._node(kind, size, layer, link)
        self.live_entries += 1
        self.live_bytes += path_cost(path)
        self.children[parent].add(path)
        if kind == DIR:
            self.children.setdefault(path, set())

    # --- reading ------------------------------------------------------------------------
    def captured(self, path: str) -> bytes | None:
        """Bytes of a small file read during the walk, if it is the final version."""
        item = self._captured.get(path)
        return item[1] if item is not None and self._final(path, item[0]) else None

    def _final(self, path: str, layer: int) -> bool:
        """Whether `path`, as written by `layer`, is still the regular file the final filesystem has."""
        node = self.nodes.get(path)
        return node is not None and node[0] == FILE and node[2] == layer

    def elf(self, path: str) -> ElfInfo | None:
        """The ELF dynamic facts of a site-dir shared library read during the walk, if final."""
        item = self._elf.get(path)
        return item[1] if item is not None and self._final(path, item[0]) else None

    def elf_files(self) -> dict[str, ElfInfo]:
        """Every final site-dir shared library with its ELF facts (whited-out or replaced ones dropped)."""
        return {path: info for path, (layer, info) in self._elf.items() if self._final(path, layer)}

    def captured_paths(self) -> list[str]:
        return [path for path in self._captured if self.captured(path) is not None]

    def drop_captured(self) -> None:
        """Free captured bytes once parsed (keeps peak memory down on big images)."""
        self._captured.clear()

    def resolve(self, path: str, follow_last: bool = False) -> str | None:
        """The real path behind `path`, following symlinks like a container's kernel.

        Symlinks resolve against the image root (clamped at "/"), so nothing can escape it.
        Returns None when a component is missing or links loop.
        """
        stack = [p for p in reversed(path.split("/")) if p not in ("", ".")]
        current = "/"
        hops = 0
        while stack:
            part = stack.pop()
            if part == ".." :
                current = _parent(current)
                continue
            if part == ".":
                continue
            candidate = _join(current, part)
            node = self.nodes.get(candidate)
            if node is None:
                return None
            if node[0] == SYMLINK and (stack or follow_last):
                hops += 1
                if hops > MAX_SYMLINK_HOPS:
                    return None
                target = node[3] or ""
                if target.startswith("/"):
                    current = "/"
                stack.extend(p for p in reversed(target.split("/")) if p not in ("", "."))
                continue
            current = candidate
        return current

    def lstat(self, path: str) -> Node | None:
        """The node `os.lstat(path)` would see in a container (intermediate links followed)."""
        path = posixpath.normpath(path)
        direct = self.nodes.get(path)
        parent, _, name = path.rpartition("/")
        parent = parent or "/"
        if parent not in self._dir_cache:
            self._dir_cache[parent] = self.resolve(parent, follow_last=True)
        real_parent = self._dir_cache[parent]
        if real_parent is None:
            return None
        if real_parent == parent:
            return direct
        return self.nodes.get(_join(real_parent, name))

    def walk(self, top: str = "/") -> Iterator[tuple[str, Node]]:
        """Every node under `top` (not following symlinks), parents before children."""
        node = self.nodes.get(top)
        if node is None:
            return
        stack = [top]
        while stack:
            path = stack.pop()
            node = self.nodes[path]
            yield path, node
            if node[0] == DIR:
                stack.extend(self.children.get(path, ()))

    def tree_bytes(self, top: str) -> tuple[int, dict[int, int]]:
        """Bytes under `top` and which layers added them."""
        total = 0
        by_layer: dict[int, int] = {}
        for _path, (kind, size, layer, _link) in self.walk(top):
            if kind != DIR and size:
                total += size
                by_layer[layer] = by_layer.get(layer, 0) + size
        return total, by_layer

    def glob(self, pattern: str) -> list[str]:
        """Match an absolute glob against the tree: `*`/`?`/`[..]` within a name, `**` any depth."""
        from fnmatch import fnmatchcase

        parts = [p for p in pattern.split("/") if p]
        frontier = ["/"]
        for index, part in enumerate(parts):
            nxt: list[str] = []
            last = index == len(parts) - 1
            for base in frontier:
                if part == "**":
                    for path, node in self.walk(base):
                        if node[0] == DIR or last:
                            nxt.append(path)
                    continue
                if not any(ch in part for ch in "*?["):
                    candidate = _join(base, part)
                    if candidate in self.nodes:
                        nxt.append(candidate)
                    continue
                for child in self.children.get(base, ()):
                    if fnmatchcase(child.rpartition("/")[2], part):
                        nxt.append(child)
            frontier = sorted(set(nxt))
            if not frontier:
                break
        return frontier
