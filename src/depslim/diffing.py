"""Compare two states of a project → DiffReport: what a pull request adds or cuts, in bytes.

The comparison itself is pure (two Reports, or two sets of pins, in; a DiffReport out) so it
is tested on hand-built records. The few helpers that read inputs — requirement and lock
files, git trees exported with `git archive` — sit at the bottom and never touch the working
copy. Every byte figure comes from the two measured Reports; when only pins are compared the
report says sizes are unknown instead of guessing.
"""

from __future__ import annotations

import io
import re
import shutil
import subprocess
import tarfile
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from depslim.declared.base import requirement_name
from depslim.errors import DepslimError, InputError
from depslim.gate import format_bytes, image_bytes, python_bytes, runtime_distributions
from depslim.inputfile import read_text
from depslim.model import DistributionReport, Evidence, Finding, Location, Report

ADDED = "added"
REMOVED = "removed"
UPGRADED = "upgraded"
DOWNGRADED = "downgraded"
REBUILT = "rebuilt"  # same release, different local build (+cu121 → +cpu)
SWAPPED = "swapped"
CHANGED = "changed"  # same version, different bytes (or unparsable versions)
DECLARED = "declared"  # same bytes, but now declared (was only pulled in): a change a reviewer must see
UNDECLARED = "undeclared"  # same bytes, no longer declared (still pulled in by another package)
# Not measured on one side: an environment target where the package (or a runtime package whose
# dependencies would hold it) is not installed. Neither "removed" nor "added", no byte delta.
UNMEASURED = "unmeasured"

_IMPORT_KINDS = ("import", "dynamic-import", "optional-import", "notebook-import", "typing-import")


@dataclass(frozen=True)
class DistChange:
    """One distribution that differs between base and head."""

    name: str
    kind: str
    base_version: str | None
    head_version: str | None
    base_bytes: int | None
    head_bytes: int | None
    swapped_from: str | None = None
    module: str = ""  # the import that needs it ("torch"), when known
    evidence: tuple[Evidence, ...] = ()  # why it is there (head; base for removals)
    declared_at: tuple[Location, ...] = ()
    required_by: tuple[str, ...] = ()
    cuda: bool = False
    verdict: str | None = None

    @property
    def delta(self) -> int | None:
        if self.kind == UNMEASURED:
            return None
        if self.kind == ADDED:
            return self.head_bytes
        if self.kind == REMOVED:
            return None if self.base_bytes is None else -self.base_bytes
        if self.base_bytes is None or self.head_bytes is None:
            return None
        return self.head_bytes - self.base_bytes

    @property
    def version(self) -> str | None:
        return self.head_version if self.kind != REMOVED else self.base_version


@dataclass(frozen=True)
class Contribution:
    """A declared change and the bytes it brings along (its own plus what only it pulls in)."""

    change: DistChange
    delta: int | None
    brings: tuple[str, ...] = ()


@dataclass(frozen=True)
class DiffReport:
    """The result of `depslim diff`: changes, findings in and out, the total and its evidence line."""

    base: str
    head: str
    mode: str  # reports | requirements | images | git | projects
    changes: tuple[DistChange, ...]
    new_findings: tuple[Finding, ...] = ()
    resolved_findings: tuple[Finding, ...] = ()
    base_bytes: int | None = None
    head_bytes: int | None = None
    image_delta: int | None = None
    contributions: tuple[Contribution, ...] = ()
    headline: str = ""
    notes: tuple[str, ...] = ()

    @property
    def sizes_known(self) -> bool:
        return self.base_bytes is not None and self.head_bytes is not None

    @property
    def total_delta(self) -> int | None:
        if self.base_bytes is None or self.head_bytes is None:  # not sizes_known
            return None
        return self.head_bytes - self.base_bytes


# ---------------------------------------------------------------------------------------------
# Pure comparison of two Reports


def diff_reports(
    base: Report,
    head: Report,
    *,
    base_label: str = "base",
    head_label: str = "head",
    mode: str = "reports",
    swap_pairs: Iterable[tuple[str, str]] | None = None,
) -> DiffReport:
    """Compare two analyze Reports by distribution (installed or declared) and finding id."""
    pairs = set(swap_pairs) if swap_pairs is not None else known_swap_pairs()
    # What ships: everything in an image, the declared runtime closure in an environment (the
    # same environment measured for both sides holds both sides' packages; declarations decide).
    old = {d.name: d for d in runtime_distributions(base)}
    new = {d.name: d for d in runtime_distributions(head)}
    base_whole, head_whole = _closure_measured(base), _closure_measured(head)
    changes: list[DistChange] = []
    for name in sorted(old.keys() | new.keys()):
        before, after = _shipped(old.get(name), base), _shipped(new.get(name), head)
        context = head if new.get(name) else base
        if _unmeasured(before, base, base_whole) or _unmeasured(after, head, head_whole):
            change = _unmeasured_change(before, after, context, base_whole, head_whole)
        else:
            change = _compare(before, after, context)
        if change is not None:
            changes.append(change)
    changes = _pair_swaps(changes, pairs)
    base_ids = {f.id for f in base.findings}
    head_ids = {f.id for f in head.findings}
    new_findings = tuple(f for f in head.findings if f.id not in base_ids)
    resolved = tuple(f for f in base.findings if f.id not in head_ids)
    # A side whose runtime closure was not measured whole has no Python-bytes total: summing the
    # part that is installed would make every package it misses read as removed bytes.
    base_bytes = python_bytes(base) if base_whole else None
    head_bytes = python_bytes(head) if head_whole else None
    image_delta = _image_delta(base, head)
    contributions = _attribute(changes, base, head)
    report = DiffReport(
        base=base_label,
        head=head_label,
        mode=mode,
        changes=tuple(_sort_changes(changes)),
        new_findings=new_findings,
        resolved_findings=resolved,
        base_bytes=base_bytes,
        head_bytes=head_bytes,
        image_delta=image_delta,
        contributions=contributions,
        notes=tuple(_notes(base, head, base_whole, head_whole)),
    )
    return _with_headline(report)


def _closure_measured(report: Report) -> bool:
    """True when every runtime package of `report` was measured, so a package missing from its
    runtime closure is really not there. An image is measured whole; in an environment a
    runtime package that is not installed hides its own bytes and its dependencies."""
    if report.target.kind == "image":
        return True
    return all(d.installed for d in runtime_distributions(report))


def _unmeasured(dist: DistributionReport | None, report: Report, whole: bool) -> bool:
    """This side says nothing measured about the package: absent from a closure that was not
    measured whole, or present but not installed in an environment."""
    if dist is None:
        return not whole
    return report.target.kind != "image" and not dist.installed


def _unmeasured_change(
    before: DistributionReport | None,
    after: DistributionReport | None,
    context: Report,
    base_whole: bool,
    head_whole: bool,
) -> DistChange | None:
    """An UNMEASURED change (no byte delta), or None when neither side measured it and its
    declaration did not change (then `_compare` decides, as for any unmeasured pair)."""
    if before is not None and after is not None and not before.installed and not after.installed:
        return _compare(before, after, context)
    if before is None and base_whole and after is not None and not after.installed:
        return _compare(before, after, context)  # a new declaration, not installed: added
    if after is None and head_whole and before is not None and not before.installed:
        return _compare(before, after, context)  # a declaration dropped, never installed
    return _change(UNMEASURED, before, after, context,
                   before.size_bytes if before and before.installed else None,
                   after.size_bytes if after and after.installed else None)


def _shipped(dist: DistributionReport | None, report: Report) -> DistributionReport | None:
    """None for a package an image does not hold: an image is measured whole, so a package it
    lacks is absent (0 bytes, "removed"/"added"), not unknown — only an environment's
    declared-but-not-installed package is unmeasured. Declaration-only entries stay when the
    image holds the package on neither side, so a new 0-byte declaration still shows."""
    if dist is None or dist.installed or report.target.kind != "image":
        return dist
    return None


def _image_delta(base: Report, head: Report) -> int | None:
    before, after = image_bytes(base), image_bytes(head)
    if before is None or after is None:
        return None
    return after - before


def _notes(base: Report, head: Report, base_whole: bool = True, head_whole: bool = True) -> list[str]:
    notes = []
    for label, report, whole in (("base", base, base_whole), ("head", head, head_whole)):
        if not whole:
            missing = [d.name for d in runtime_distributions(report) if not d.installed]
            notes.append(
                f"{label}: {len(missing)} runtime package(s) not installed in {report.target.kind} "
                f"{report.target.ref} ({', '.join(missing[:5])}{', …' if len(missing) > 5 else ''}): "
                f"what they and their dependencies install is not measured there, so no byte delta "
                f"and no removal is claimed for them"
            )
    if base.target.kind != head.target.kind:
        notes.append(
            f"base was measured in {base.target.kind} {base.target.ref}, head in "
            f"{head.target.kind} {head.target.ref}: byte deltas compare different targets"
        )
    for label, report in (("base", base), ("head", head)):
        for item in report.unmeasured:
            notes.append(f"{label}: {item.name} not measured ({item.reason})")
    return notes


def _declaration_change(before: DistributionReport, after: DistributionReport) -> str | None:
    """DECLARED/UNDECLARED when only the declarations changed (0 bytes either way), else None.

    A new direct dependency that was already pulled in adds no bytes, but it is a new promise the
    project makes; a diff that hid it would let it through review unseen."""
    was = before.declared and not before.dev_declared
    now = after.declared and not after.dev_declared
    if was == now and before.declared_at == after.declared_at:
        return None
    if now and not was:
        return DECLARED
    if was and not now:
        return UNDECLARED
    return CHANGED if was != now else None


def _compare(
    before: DistributionReport | None, after: DistributionReport | None, context: Report
) -> DistChange | None:
    dist = after or before
    assert dist is not None
    base_bytes = before.size_bytes if before and before.installed else (None if before else 0)
    head_bytes = after.size_bytes if after and after.installed else (None if after else 0)
    kind: str | None  # None: no change worth listing
    if before is None or not (before.installed or before.declared):
        kind = ADDED
        base_bytes = None
    elif after is None:
        kind = REMOVED
        head_bytes = None
    else:
        kind = _version_change(before.version, after.version)
        if kind is None:
            if before.installed == after.installed and before.size_bytes == after.size_bytes:
                kind = _declaration_change(before, after)
                if kind is None:
                    return None
            else:
                kind = CHANGED
    return _change(kind, before, after, context, base_bytes, head_bytes)


def _change(kind: str, before: DistributionReport | None, after: DistributionReport | None, context: Report,
            base_bytes: int | None, head_bytes: int | None) -> DistChange:
    """One listed change: versions from both sides, the why (import, evidence, verdict) from the newer."""
    dist = after or before
    assert dist is not None
    module, evidence = _why(dist, context)
    return DistChange(
        name=dist.name,
        kind=kind,
        base_version=before.version if before else None,
        head_version=after.version if after else None,
        base_bytes=base_bytes,
        head_bytes=head_bytes,
        module=module,
        evidence=evidence,
        declared_at=dist.declared_at,
        required_by=dist.required_by,
        cuda=_is_cuda(dist, context),
        verdict=str(dist.verdict) if dist.verdict else None,
    )


def _version_change(before: str | None, after: str | None) -> str | None:
    if before == after:
        return None
    if before is None or after is None:
        return CHANGED
    try:
        old, new = Version(before), Version(after)
    except InvalidVersion:
        return CHANGED
    if old.public == new.public:
        return REBUILT
    return UPGRADED if new > old else DOWNGRADED


def _why(dist: DistributionReport, report: Report) -> tuple[str, tuple[Evidence, ...]]:
    """The import that needs `dist` and where it is: runtime code first, then by import kind.

    The core writes import evidence as `Evidence(path, line, kind, "torch.nn (runtime)")`.
    """
    imports = [e for e in dist.evidence if e.kind in _IMPORT_KINDS]
    imports.sort(key=lambda e: (not e.detail.endswith("(runtime)"), _IMPORT_KINDS.index(e.kind), e.path, e.line))
    modules = [i for i in report.imports if dist.name in (i.distribution or "").split(",")]
    module = ""
    if imports:
        here = imports[0].location
        matching = [i.module for i in modules if here in i.locations]
        module = matching[0] if matching else imports[0].detail.split(" (", 1)[0].split(".", 1)[0]
    elif modules:
        module = modules[0].module
        imports = [Evidence(loc.path, loc.line, "import", module) for loc in modules[0].locations[:1]]
    rest = tuple(e for e in dist.evidence if e not in imports)
    return module, tuple(imports) + rest


def _is_cuda(dist: DistributionReport, report: Report) -> bool:
    """A CUDA build: its local version (`+cu121`) or its dependencies say so (data/swaps.toml [gpu])."""
    local_re, requires_res = _gpu_rules()
    if dist.version:
        try:
            local = Version(dist.version).local or ""
        except InvalidVersion:
            local = ""
        if local and local_re.match(local):
            return True
    return any(rx.match(name) for name in dist.requires for rx in requires_res)


@cache
def _gpu_rules() -> tuple[re.Pattern[str], tuple[re.Pattern[str], ...]]:
    try:
        from depslim.knowledge import load_data

        gpu = load_data("swaps").get("gpu", {})
    except (DepslimError, ImportError):
        gpu = {}
    local = gpu.get("cuda_local", r"^cu\d+$")
    requires = gpu.get("cuda_requires", [r"^nvidia-.+-cu\d+$"])
    return re.compile(local), tuple(re.compile(rx) for rx in requires)


def _pair_swaps(changes: list[DistChange], pairs: set[tuple[str, str]]) -> list[DistChange]:
    """Fold a removal and an addition into one swap when they are known or named as variants."""
    removed = {c.name: c for c in changes if c.kind == REMOVED}
    added = {c.name: c for c in changes if c.kind == ADDED}
    folded: dict[str, DistChange] = {}
    used: set[str] = set()
    for new_name, add in sorted(added.items()):
        for old_name, rem in sorted(removed.items()):
            if old_name in used or not _is_swap(old_name, new_name, pairs):
                continue
            folded[new_name] = DistChange(
                name=new_name, kind=SWAPPED, base_version=rem.base_version,
                head_version=add.head_version, base_bytes=rem.base_bytes, head_bytes=add.head_bytes,
                swapped_from=old_name, module=add.module or rem.module,
                evidence=add.evidence, declared_at=add.declared_at, required_by=add.required_by,
                cuda=add.cuda, verdict=add.verdict,
            )
            used.add(old_name)
            break
    out = [c for c in changes if c.name not in used and c.name not in folded]
    return out + list(folded.values())


def _is_swap(old: str, new: str, pairs: set[tuple[str, str]]) -> bool:
    if (old, new) in pairs:
        return True
    # Variants named as one another plus a suffix: mlflow → mlflow-skinny,
    # opencv-python → opencv-python-headless, onnxruntime-gpu → onnxruntime.
    return new.startswith(old + "-") or old.startswith(new + "-")


def known_swap_pairs() -> set[tuple[str, str]]:
    """(from, to) pairs from the packaged swap rules, when that data file is installed."""
    try:
        from depslim.knowledge import load_data

        data = load_data("swaps")
    except (DepslimError, ImportError):
        return set()
    pairs: set[tuple[str, str]] = set()
    for key in ("swap", "swaps", "rule", "rules"):
        records = data.get(key, [])
        if not isinstance(records, list):
            continue
        for record in records:
            if not isinstance(record, Mapping):
                continue
            old = record.get("name") or record.get("from")
            new = record.get("swap_for") or record.get("to")
            if isinstance(old, str) and isinstance(new, str):
                pairs.add((canonicalize_name(old), requirement_name(new) or canonicalize_name(new)))
    return pairs


def _attribute(changes: list[DistChange], base: Report, head: Report) -> tuple[Contribution, ...]:
    """Credit undeclared additions/removals to the one declared change that pulls them in.

    A reviewer reads "torch (+CUDA) adds 1.21 GB", not "nvidia-cublas-cu12 adds 600 MB": the
    nvidia wheel is there because of torch. A dependency reachable from several declared
    changes stays on its own line rather than being counted twice.
    """
    by_name = {c.name: c for c in changes}
    roots = [c for c in changes if c.declared_at or c.kind == SWAPPED or not c.required_by]
    root_names = {c.name for c in roots}
    extra: dict[str, list[DistChange]] = {name: [] for name in root_names}
    graph_head = {d.name: d for d in head.distributions}
    graph_base = {d.name: d for d in base.distributions}
    for change in changes:
        if change.name in root_names:
            continue
        graph = graph_base if change.kind == REMOVED else graph_head
        owners = _declared_ancestors(change.name, graph, root_names)
        if len(owners) == 1:
            extra[owners.pop()].append(change)
        else:
            extra.setdefault(change.name, [])
            root_names.add(change.name)
            roots.append(by_name[change.name])
    out = []
    for root in roots:
        brought = extra.get(root.name, [])
        deltas = [root.delta, *(c.delta for c in brought)]
        total = None if any(d is None for d in deltas) else sum(d for d in deltas if d is not None)
        out.append(Contribution(root, total, tuple(c.name for c in brought)))
    out.sort(key=lambda c: (-abs(c.delta or 0), c.change.name))
    return tuple(out)


def _declared_ancestors(
    name: str, graph: Mapping[str, DistributionReport], roots: set[str]
) -> set[str]:
    found: set[str] = set()
    seen: set[str] = set()
    stack = [name]
    while stack:
        current = stack.pop()
        if current in seen:
            continue
        seen.add(current)
        dist = graph.get(current)
        if dist is None:
            continue
        for parent in dist.required_by:
            if parent in roots:
                found.add(parent)
            else:
                stack.append(parent)
    return found


def _sort_changes(changes: Iterable[DistChange]) -> list[DistChange]:
    return sorted(changes, key=lambda c: (-abs(c.delta or 0), c.name))


def _with_headline(report: DiffReport) -> DiffReport:
    from dataclasses import replace

    return replace(report, headline=headline(report))


def headline(report: DiffReport) -> str:
    """The evidence line: "This PR adds 1.21 GB: torch 2.2.2 (+CUDA) via `import torch` in …"."""
    if not report.changes:
        return "No dependency changes."
    unmeasured = [c for c in report.changes if c.kind == UNMEASURED]
    if unmeasured:
        # Claim nothing the two sides did not both measure: no total, no removals for them.
        measured = [c for c in report.contributions if c.change.kind != UNMEASURED]
        parts = [_part(c, with_bytes=False) for c in measured[:3]]
        more = len(measured) - len(parts)
        tail = f" and {more} more" if more > 0 else ""
        listed = f": {'; '.join(parts)}{tail}" if parts else ""
        return (
            f"This PR changes {len(report.changes) - len(unmeasured)} package(s) (byte change not "
            f"measured){listed}; {len(unmeasured)} package(s) not measured on both sides "
            "(not installed in the environment compared)."
        )
    if not report.sizes_known or any(c.delta is None for c in report.contributions):
        parts = [_part(c, with_bytes=False) for c in report.contributions[:3]]
        more = len(report.contributions) - len(parts)
        tail = f" and {more} more" if more > 0 else ""
        return (
            f"This PR changes {len(report.changes)} pin(s) (sizes unknown): "
            + "; ".join(parts) + tail + "."
        )
    total = report.total_delta or 0
    if total >= 0:
        lead = f"This PR adds {format_bytes(total)}"
        wanted = [c for c in report.contributions if (c.delta or 0) > 0]
    else:
        lead = f"This PR removes {format_bytes(-total)}"
        wanted = [c for c in report.contributions if (c.delta or 0) < 0]
    wanted = wanted or list(report.contributions)
    shown = wanted[:3]
    parts = [_part(c, with_bytes=len(wanted) > 1) for c in shown]
    more = len(wanted) - len(shown)
    tail = f" and {more} more" if more > 0 else ""
    return f"{lead}: " + "; ".join(parts) + tail + "."


def _part(contribution: Contribution, *, with_bytes: bool) -> str:
    change = contribution.change
    if change.kind == SWAPPED:
        text = f"{change.swapped_from} → {change.name} {change.head_version or ''}".rstrip()
    elif change.kind == REMOVED:
        text = f"{change.name} {change.base_version or ''} removed".replace("  ", " ")
    elif change.kind == UNMEASURED:
        text = f"{change.name} not measured"
    elif change.kind in (UPGRADED, DOWNGRADED, REBUILT):
        text = f"{change.name} {change.base_version} → {change.head_version}"
    else:
        text = f"{change.name} {change.version or ''}".rstrip()
    if change.cuda:
        text += " (+CUDA)"
    if with_bytes and contribution.delta is not None:
        text += f" {format_bytes(contribution.delta, signed=True)}"
    imports = [e for e in change.evidence if e.kind in _IMPORT_KINDS]
    if change.kind != REMOVED and imports and change.module:
        text += f" via `import {change.module}` in `{imports[0].path}:{imports[0].line}`"
    elif change.declared_at:
        loc = change.declared_at[0]
        text += f", declared in `{loc}`"
        if change.verdict in ("unused", "dev-only"):
            text += " and never imported at runtime" if change.verdict == "unused" else " (dev-only)"
    return text


# ---------------------------------------------------------------------------------------------
# Pins: two requirements or lock files (no sizes)


@dataclass(frozen=True)
class Pin:
    name: str
    version: str | None  # the `==` version when pinned
    specifier: str
    location: Location


def read_pins(path: Path, display: str | None = None) -> dict[str, Pin]:
    """Read a requirements/constraints/lock file or a PEP 751 pylock.toml into pins by name."""
    shown = display or str(path)
    try:
        text = read_text(path)
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(shown, f"cannot read: {getattr(exc, 'strerror', None) or exc}") from None
    if path.suffix == ".toml":
        return _read_pylock(text, shown)
    pins: dict[str, Pin] = {}
    for line_no, line in _logical_lines(text):
        if not line or line.startswith("-"):
            continue  # options (-r, -c, --index-url, --hash …) carry no pins of their own
        try:
            req = Requirement(line)
        except (InvalidRequirement, SyntaxError) as exc:  # SyntaxError: an unterminated marker string
            raise InputError(shown, f"not a requirement: {exc}", line=line_no) from None
        name = canonicalize_name(req.name)
        exact = [s.version for s in req.specifier if s.operator in ("==", "===") and "*" not in s.version]
        pins[name] = Pin(name, exact[0] if exact else None, str(req.specifier), Location(shown, line_no))
    return pins


def _logical_lines(text: str) -> Iterable[tuple[int, str]]:
    """Requirement-file lines (the declared reader's: comments stripped, continuations joined, as
    pip does) with hashes dropped."""
    from depslim.declared.requirements import logical_lines

    for number, line in logical_lines(text):
        yield number, re.sub(r"\s--hash[=\s]\S+", "", " " + line).strip()


def _read_pylock(text: str, shown: str) -> dict[str, Pin]:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InputError(shown, f"not valid TOML: {exc}") from None
    packages = data.get("packages")
    if not isinstance(packages, list):
        raise InputError(shown, "no [[packages]] table: not a pylock.toml")
    pins: dict[str, Pin] = {}
    for index, package in enumerate(packages):
        if not isinstance(package, Mapping) or not isinstance(package.get("name"), str):
            raise InputError(shown, f"packages[{index}] has no name")
        name = canonicalize_name(package["name"])
        version = package.get("version")
        pins[name] = Pin(name, str(version) if version else None, f"=={version}" if version else "",
                         Location(shown, 0))
    return pins


def diff_pins(
    base: Mapping[str, Pin],
    head: Mapping[str, Pin],
    *,
    base_label: str,
    head_label: str,
    swap_pairs: Iterable[tuple[str, str]] | None = None,
) -> DiffReport:
    """Compare pins only: versions in and out, no bytes (the report says so)."""
    pairs = set(swap_pairs) if swap_pairs is not None else known_swap_pairs()
    changes: list[DistChange] = []
    for name in sorted(base.keys() | head.keys()):
        before, after = base.get(name), head.get(name)
        if before and after:
            kind = _version_change(before.version, after.version)
            if kind is None:
                if before.specifier == after.specifier:
                    continue
                kind = CHANGED
        else:
            kind = ADDED if after else REMOVED
        pin = after or before
        assert pin is not None
        changes.append(
            DistChange(
                name=name, kind=kind, base_version=before.version if before else None,
                head_version=after.version if after else None, base_bytes=None, head_bytes=None,
                declared_at=(pin.location,),
            )
        )
    changes = _pair_swaps(changes, pairs)
    report = DiffReport(
        base=base_label,
        head=head_label,
        mode="requirements",
        changes=tuple(sorted(changes, key=lambda c: c.name)),
        contributions=tuple(Contribution(c, None) for c in sorted(changes, key=lambda c: c.name)),
        notes=(
            "sizes unknown: two pin files were compared; diff two reports, images or "
            "`--git BASE..HEAD` for measured bytes",
        ),
    )
    return _with_headline(report)


# ---------------------------------------------------------------------------------------------
# Git: export a revision's tree without touching the working copy


def git_toplevel(path: Path) -> Path:
    """The repository root holding `path`; a clear error when it is not in a git repository."""
    result = _git(path, "rev-parse", "--show-toplevel")
    return Path(result.decode().strip())


def split_range(spec: str) -> tuple[str, str]:
    """'main..HEAD' → ('main', 'HEAD'); 'main...HEAD' uses the merge base; 'main' → main..HEAD."""
    if "..." in spec:
        left, right = spec.split("...", 1)
        return (left or "HEAD", right or "HEAD")
    if ".." in spec:
        left, right = spec.split("..", 1)
        return (left or "HEAD", right or "HEAD")
    return spec, "HEAD"


def merge_base(repo: Path, left: str, right: str) -> str:
    return _git(repo, "merge-base", left, right).decode().strip()


def resolve_rev(repo: Path, rev: str) -> str:
    """A revision's commit id (so labels and links name exactly what was analysed)."""
    return _git(repo, "rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}").decode().strip()


def export_tree(repo: Path, rev: str, dest: Path) -> Path:
    """`git archive REV | tar -x` into `dest`, members checked so nothing lands outside it."""
    data = _git(repo, "archive", "--format=tar", rev)
    dest.mkdir(parents=True, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as archive:
        archive.extractall(dest, filter="data")
    return dest


def _git(repo: Path, *args: str) -> bytes:
    git = shutil.which("git")
    if git is None:
        raise DepslimError("git is not installed; `--git` needs it")
    proc = subprocess.run([git, "-C", str(repo), *args], capture_output=True, check=False)
    if proc.returncode != 0:
        problem = proc.stderr.decode(errors="replace").strip().splitlines()
        detail = problem[-1] if problem else f"git {' '.join(args)} failed"
        raise InputError(repo, f"git {args[0]}: {detail}")
    return proc.stdout
