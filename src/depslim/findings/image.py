"""Image waste findings: what an image ships that its runtime does not need.

Every figure is measured on the image's layers (tar header sizes, lstat semantics), except
build-tools, which uses dpkg's Installed-Size (an estimate, flagged as such). Each finding
names the layer and history instruction that added the bytes. Patterns, owners and fixes
live in `data/image_waste.toml`.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterable, Mapping
from fnmatch import fnmatchcase, translate
from functools import cache
from typing import Any

from depslim.findings.base import AnalysisContext
from depslim.knowledge import check_keys, load_data
from depslim.model import Evidence, Finding, InstalledDistribution, Owner
from depslim.targets.image.fs import MergedFS, Removal
from depslim.targets.image.layers import DIR, HARDLINK
from depslim.targets.image.target import ImageAnalysis

DATA = "image_waste"
CODES = (
    "deleted-in-later-layer", "overwritten-in-later-layer", "pip-cache", "uv-cache", "conda-cache",
    "poetry-cache", "apt-lists", "apt-cache", "build-tools", "cuda-devel", "pycache",
    "site-packages-tests", "duplicate-distribution", "model-weights", "secret-file", "root-user",
    "orphan-files",
)
ROOT_USERS = frozenset({"", "0", "root", "0:0", "root:root", "0:root", "root:0"})


@cache
def knowledge() -> Mapping[str, Any]:
    """Load and validate image_waste.toml once."""
    data = load_data(DATA)
    where = f"depslim/data/{DATA}.toml"
    check_keys(data, required=("settings", "findings", "caches", "build_tools", "cuda_devel", "pycache",
                               "site_tests", "weights", "secrets"), where=where)
    check_keys(data["settings"], required=("min_bytes", "weights_min_bytes", "top_paths"), where=where)
    for code in CODES:
        if code not in data["findings"]:
            check_keys({}, required=(code,), where=f"{where} [findings]")
    for code, record in data["findings"].items():
        check_keys(record, required=("title", "owner", "severity", "waste", "fix"),
                   where=f"{where} [findings.{code}]")
        Owner(record["owner"])
    for record in data["caches"]:
        check_keys(record, required=("code", "globs"), where=f"{where} [[caches]]")
    check_keys(data["build_tools"], required=("names", "patterns", "exclude"), where=where)
    check_keys(data["weights"], required=("extensions", "exclude_prefixes"), where=where)
    check_keys(data["secrets"], required=("names", "dir_names", "paths", "exclude_prefixes", "exclude_in_site"),
               where=where)
    return data


@cache
def _secret_patterns() -> tuple[re.Pattern[str], re.Pattern[str]]:
    """The secrets globs compiled once into two regexes (this runs for every file)."""
    secrets = knowledge()["secrets"]
    names = re.compile("|".join(f"(?:{translate(p)})" for p in secrets["names"]))
    paths = re.compile("|".join(f"(?:{translate(p)})" for p in secrets["paths"]))
    return names, paths


class _Builder:
    """Collects findings plus the final-filesystem roots that count as waste (de-duplicated)."""

    def __init__(self, analysis: ImageAnalysis) -> None:
        self.analysis = analysis
        self.fs: MergedFS = analysis.fs
        self.data = knowledge()
        self.findings: list[Finding] = []
        self.removed_waste = 0
        self.removed_by_layer: dict[int, int] = {}
        self.final_roots: set[str] = set()
        self._ids: set[str] = set()

    def layer_evidence(self, path: str, layer: int, note: str = "") -> Evidence:
        detail = f"layer {layer}: {self.analysis.instruction(layer)}"
        return Evidence(path=path, line=0, kind="layer", detail=detail + (f" ({note})" if note else ""))

    def add(
        self,
        code: str,
        subject: str,
        savings: int | None,
        evidence: Iterable[Evidence],
        data: dict[str, object],
        *,
        estimate: bool = False,
        title: str | None = None,
        roots: Iterable[str] = (),
    ) -> None:
        record = self.data["findings"][code]
        fid = f"{code}:{subject}"
        if fid in self._ids:
            return
        self._ids.add(fid)
        if record["waste"] and not estimate:
            self.final_roots.update(roots)
        self.findings.append(Finding(
            id=fid, code=code, title=title or record["title"], owner=Owner(record["owner"]), fix=record["fix"],
            savings_bytes=savings, estimate=estimate, subject=subject, severity=record["severity"],
            evidence=tuple(evidence), data=data,
        ))

    def main_layer(self, by_layer: Mapping[int, int]) -> int:
        return max(by_layer.items(), key=lambda item: (item[1], -item[0]))[0] if by_layer else -1

    def tree(self, root: str) -> tuple[int, dict[int, int], list[tuple[int, str]]]:
        total = 0
        by_layer: dict[int, int] = {}
        top: list[tuple[int, str]] = []
        limit = self.data["settings"]["top_paths"]
        for path, (kind, size, layer, _link) in self.fs.walk(root):
            if kind == DIR or not size:
                continue
            total += size
            by_layer[layer] = by_layer.get(layer, 0) + size
            top.append((size, path))
            if len(top) > limit * 4:
                top.sort(reverse=True)
                del top[limit:]
        top.sort(reverse=True)
        return total, by_layer, top[:limit]

    def finding_for_tree(self, code: str, root: str, subject: str | None = None) -> None:
        total, by_layer, top = self.tree(root)
        if not total:
            return
        layer = self.main_layer(by_layer)
        self.add(
            code, subject or root, total, [self.layer_evidence(root, layer)],
            {"layer": layer, "instruction": self.analysis.instruction(layer), "path": root,
             "layers": dict(sorted(by_layer.items())), "top_paths": [p for _s, p in top]},
            roots=[root],
        )

    # --- removals ---------------------------------------------------------------------------
    def removals(self) -> None:
        min_bytes = self.data["settings"]["min_bytes"]
        small: dict[tuple[str, int], list[Removal]] = {}
        for removal in self.fs.removals:
            if not removal.bytes:
                continue
            code = "overwritten-in-later-layer" if removal.kind == "overwrite" else "deleted-in-later-layer"
            self.removed_waste += removal.bytes
            for added, size in removal.by_layer.items():
                self.removed_by_layer[added] = self.removed_by_layer.get(added, 0) + size
            if removal.bytes >= min_bytes or (removal.directory and removal.kind != "overwrite"):
                subject = removal.path
                if f"{code}:{subject}" in self._ids:
                    subject = f"{removal.path}@layer{removal.layer}"
                self._removal_finding(code, subject, [removal])
            else:
                small.setdefault((code, removal.layer), []).append(removal)
        for (code, layer), group in sorted(small.items()):
            self._removal_finding(code, f"layer {layer}", group, aggregate=True)

    def _removal_finding(self, code: str, subject: str, group: list[Removal], aggregate: bool = False) -> None:
        total = sum(r.bytes for r in group)
        by_layer: dict[int, int] = {}
        top: list[tuple[int, str]] = []
        for removal in group:
            for layer, size in removal.by_layer.items():
                by_layer[layer] = by_layer.get(layer, 0) + size
            top.extend(removal.top)
        top.sort(reverse=True)
        limit = self.data["settings"]["top_paths"]
        added = self.main_layer(by_layer)
        removing = group[0].layer
        verb = "replaced" if code == "overwritten-in-later-layer" else "deleted"
        # an aggregate names its largest hidden file (or, when it has none, its first removed path)
        evidence = [self.layer_evidence(top[0][1] if aggregate and top else group[0].path, added, "added")]
        evidence.append(self.layer_evidence(group[0].path, removing, verb))
        kinds = sorted({r.kind for r in group})
        title = None
        if aggregate:
            plural = "s" if len(group) != 1 else ""
            title = f"{len(group)} smaller path{plural} {verb} in layer {removing} but still shipped"
        self.add(
            code, subject, total, evidence,
            {"layer": added, "instruction": self.analysis.instruction(added),
             "removed_in_layer": removing, "removed_by": self.analysis.instruction(removing),
             "kind": kinds[0] if len(kinds) == 1 else kinds, "paths": [r.path for r in group[:limit]],
             "layers": dict(sorted(by_layer.items())), "top_paths": [p for _s, p in top[:limit]]},
            title=title,
        )

    # --- final filesystem ------------------------------------------------------------------
    def caches(self) -> None:
        for record in self.data["caches"]:
            for pattern in record["globs"]:
                for root in self.fs.glob(pattern):
                    self.finding_for_tree(record["code"], root)

    def cuda_devel(self) -> None:
        roots: list[str] = []
        for pattern in self.data["cuda_devel"]["globs"]:
            roots.extend(self.fs.glob(pattern))
        roots = _outermost(roots)
        total = 0
        by_layer: dict[int, int] = {}
        tops: list[tuple[int, str]] = []
        for root in roots:
            size, layers, top = self.tree(root)
            total += size
            tops.extend(top)
            for layer, amount in layers.items():
                by_layer[layer] = by_layer.get(layer, 0) + amount
        if not total:
            return
        layer = self.main_layer(by_layer)
        tops.sort(reverse=True)
        limit = self.data["settings"]["top_paths"]
        self.add("cuda-devel", "/usr/local/cuda", total, [self.layer_evidence(roots[0], layer)],
                 {"layer": layer, "instruction": self.analysis.instruction(layer), "paths": roots[:20],
                  "layers": dict(sorted(by_layer.items())), "top_paths": [p for _s, p in tops[:limit]]},
                 roots=roots)

    def walk_final(self) -> None:
        """One pass over the final tree for pycache, tests, weights and secrets."""
        data = self.data
        pycache_names = set(data["pycache"]["names"])
        test_names = set(data["site_tests"]["names"])
        weights = data["weights"]
        extensions = tuple(weights["extensions"])
        weight_min = data["settings"]["weights_min_bytes"]
        weight_excl = tuple(weights["exclude_prefixes"])
        secrets = data["secrets"]
        secret_excl = tuple(secrets["exclude_prefixes"])
        sites = tuple(s + "/" for s in self.analysis.site_dirs)
        owned = {f.path for d in self.analysis.distributions for f in d.files}
        pycache_roots: list[str] = []
        tests: dict[str, list[str]] = {}
        names_re, paths_re = _secret_patterns()
        names_match, paths_match = names_re.match, paths_re.match
        exclude_in_site = secrets["exclude_in_site"]
        # every node of the merged tree is reachable from "/" (a removal drops whole subtrees),
        # so iterating the table directly is the same set as `walk("/")` without the stack;
        # order never mattered (children are sets) and every result below is sorted
        for path, (kind, size, layer, _link) in self.fs.nodes.items():
            name = path.rpartition("/")[2]
            if kind == DIR:
                if name in pycache_names:
                    pycache_roots.append(path)
                elif name in test_names:
                    site = next((s for s in sites if path.startswith(s)), None)
                    if site and "/" in path[len(site):]:  # inside a package, not a top-level dir
                        tests.setdefault(site[:-1], []).append(path)
                if name in secrets["dir_names"] and not path.startswith(secret_excl):
                    self.finding_for_tree("secret-file", path)
                continue
            if name.endswith(extensions) and size >= weight_min and path not in owned \
                    and not path.startswith(weight_excl):
                self.add("model-weights", path, size, [self.layer_evidence(path, layer)],
                         {"layer": layer, "instruction": self.analysis.instruction(layer), "bytes": size},
                         roots=[path])
            if kind != HARDLINK and (names_match(name) or paths_match(path)) and not (
                path.startswith(secret_excl) or (exclude_in_site and path.startswith(sites))
            ):  # a secret by name or path, outside the excluded prefixes (runs for every file)
                self.add("secret-file", path, size, [self.layer_evidence(path, layer)],
                         {"layer": layer, "instruction": self.analysis.instruction(layer), "bytes": size},
                         roots=[path])
        self._aggregate("pycache", "__pycache__", _outermost(pycache_roots))
        for site, roots in sorted(tests.items()):
            self._aggregate("site-packages-tests", site, _outermost(roots))

    def _aggregate(self, code: str, subject: str, roots: list[str]) -> None:
        total = 0
        by_layer: dict[int, int] = {}
        dirs: list[tuple[int, str]] = []
        for root in roots:
            size, layers, _top = self.tree(root)
            total += size
            dirs.append((size, root))
            for layer, amount in layers.items():
                by_layer[layer] = by_layer.get(layer, 0) + amount
        if not total:
            return
        dirs.sort(reverse=True)
        layer = self.main_layer(by_layer)
        limit = self.data["settings"]["top_paths"]
        self.add(code, subject, total, [self.layer_evidence(dirs[0][1], layer)],
                 {"layer": layer, "instruction": self.analysis.instruction(layer), "count": len(roots),
                  "layers": dict(sorted(by_layer.items())), "top_paths": [p for _s, p in dirs[:limit]]},
                 roots=roots)

    # --- packages and config ----------------------------------------------------------------
    def build_tools(self) -> None:
        spec = self.data["build_tools"]
        names, patterns, exclude = set(spec["names"]), spec["patterns"], spec["exclude"]
        packages: list[tuple[int, str, str, int]] = []
        by_layer: dict[int, int] = {}
        for key, fields in self.analysis.dpkg.items():
            name = fields.get("Package", key)
            if any(fnmatchcase(name, p) for p in exclude):
                continue
            if name not in names and not any(fnmatchcase(name, p) for p in patterns):
                continue
            try:
                size = int(fields.get("Installed-Size", "0") or 0) * 1024
            except ValueError:
                size = 0
            arch = fields.get("Architecture", "")
            layer = self._dpkg_layer(name, arch)
            by_layer[layer] = by_layer.get(layer, 0) + size
            packages.append((size, name, fields.get("Version", ""), layer))
        if not packages:
            return
        packages.sort(key=lambda p: (-p[0], p[1]))
        total = sum(p[0] for p in packages)
        layer = self.main_layer(by_layer)
        self.add(
            "build-tools", "dpkg", total,
            [self.layer_evidence("/var/lib/dpkg/status", layer, f"{len(packages)} packages")],
            {"layer": layer, "instruction": self.analysis.instruction(layer),
             "packages": [{"name": n, "version": v, "bytes": s, "layer": ly} for s, n, v, ly in packages],
             "size_source": "dpkg Installed-Size (KiB x 1024), an estimate"},
            estimate=True,
        )

    def _dpkg_layer(self, name: str, arch: str) -> int:
        for candidate in (f"/var/lib/dpkg/info/{name}.list", f"/var/lib/dpkg/info/{name}:{arch}.list"):
            node = self.fs.nodes.get(candidate)
            if node is not None:
                return node[2]
        node = self.fs.nodes.get("/var/lib/dpkg/status")
        return node[2] if node else -1

    def duplicates(self) -> None:
        groups: dict[str, list[InstalledDistribution]] = {}
        for dist in self.analysis.distributions:
            groups.setdefault(dist.name, []).append(dist)
        for name, dists in sorted(groups.items()):
            if len(dists) < 2:
                continue
            shadowed = dists[1:]  # the first (in sys.path order) is the one Python imports
            kept_files = {f.path for f in dists[0].files}
            files = {f.path: f.size for d in shadowed for f in d.files if f.path not in kept_files}
            evidence = []
            for dist in dists:
                node = self.fs.nodes.get(dist.dist_info)
                layer = node[2] if node else -1
                evidence.append(self.layer_evidence(dist.dist_info, layer, f"{dist.display_name} {dist.version}"))
            meta_node = self.fs.nodes.get(shadowed[0].dist_info)
            layer = meta_node[2] if meta_node else -1
            self.add(
                "duplicate-distribution", name, sum(files.values()), evidence,
                {"layer": layer, "instruction": self.analysis.instruction(layer),
                 "copies": [{"version": d.version, "site": d.site, "bytes": d.size_bytes} for d in dists]},
                roots=list(files),
            )

    def orphans(self) -> None:
        limit = self.data["settings"]["top_paths"]
        for orphans in self.analysis.orphans:
            if not orphans.bytes:
                continue
            layer = self.main_layer(orphans.layers)
            tops = sorted(orphans.tops.items(), key=lambda item: (-item[1], item[0]))[:limit]
            self.add(
                "orphan-files", orphans.site, orphans.bytes,
                [self.layer_evidence(posixpath.join(orphans.site, tops[0][0]), layer)],
                {"layer": layer, "instruction": self.analysis.instruction(layer), "files": orphans.files,
                 "top_paths": [{"path": posixpath.join(orphans.site, t), "bytes": b} for t, b in tops]},
            )

    def root_user(self) -> None:
        user = self.analysis.user.strip()
        if user in ROOT_USERS:
            shown = user or "(not set)"
            self.add("root-user", "user", None,
                     [Evidence(path="/", line=0, kind="metadata", detail=f"image config User: {shown}")],
                     {"user": user})

    def waste_total(self) -> tuple[int, dict[int, int]]:
        """The measured waste with overlaps removed, and the same bytes by the layer that added them.

        Findings overlap (a pycache directory inside a site-packages tests folder is in both), so
        each file is counted once: removed bytes, plus the outermost final-filesystem roots."""
        by_layer = dict(self.removed_by_layer)
        final = 0
        for root in _outermost(sorted(self.final_roots)):
            total, layers, _top = self.tree(root)
            final += total
            for layer, size in layers.items():
                by_layer[layer] = by_layer.get(layer, 0) + size
        return self.removed_waste + final, dict(sorted(by_layer.items()))


def _outermost(paths: Iterable[str]) -> list[str]:
    """Drop paths that sit under another path in the list (no double counting)."""
    out: list[str] = []
    for path in sorted(set(paths)):
        if out and (path == out[-1] or path.startswith(out[-1].rstrip("/") + "/")):
            continue
        out.append(path)
    return out


def image_findings(analysis: ImageAnalysis) -> tuple[list[Finding], int, dict[int, int]]:
    """All image findings, largest saving first, the de-duplicated measured waste bytes, and those
    bytes by the layer that added them (they sum to the waste bytes)."""
    builder = _Builder(analysis)
    builder.removals()
    builder.caches()
    builder.cuda_devel()
    builder.walk_final()
    builder.build_tools()
    builder.duplicates()
    builder.orphans()
    builder.root_user()
    findings = sorted(builder.findings, key=lambda f: (-(f.savings_bytes or 0), f.code, f.subject))
    total, by_layer = builder.waste_total()
    return findings, total, by_layer


class ImageWasteFinder:
    """Image waste, as a registered finder: reads the image target's merged filesystem.

    The image target measures and never judges; judging what is waste happens here, so the
    dependency runs one way (findings → targets) and an environment target simply yields nothing.
    One instance serves one run: `totals` reuses what `find` computed."""

    def __init__(self) -> None:
        self._result: tuple[list[Finding], int, dict[int, int]] | None = None

    def _measure(self, context: AnalysisContext) -> tuple[list[Finding], int, dict[int, int]] | None:
        analysis = getattr(context.source, "analysis", None)
        if not isinstance(analysis, ImageAnalysis):
            return None
        if self._result is None:
            self._result = image_findings(analysis)
        return self._result

    def find(self, context: AnalysisContext) -> list[Finding]:
        measured = self._measure(context)
        return list(measured[0]) if measured else []

    def totals(self, context: AnalysisContext) -> Mapping[str, int]:
        """`waste_bytes`: the de-duplicated measured waste (the findings overlap; this does not)."""
        measured = self._measure(context)
        return {"waste_bytes": measured[1]} if measured else {}

    def layer_waste(self, context: AnalysisContext) -> Mapping[int, int]:
        """`totals`' waste by the layer that added it (overlaps removed: it sums to `waste_bytes`)."""
        measured = self._measure(context)
        return measured[2] if measured else {}
