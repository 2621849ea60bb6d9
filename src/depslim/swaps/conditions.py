"""Decide a swap's conditions from the scan's evidence, never from regexes over source text.

Only RUNTIME evidence holds a swap back: a `torch.cuda` call in a test or a notebook does not
make the serving image need CUDA. Each check also says what it looked for, so a finding can
state "checked: no torch.cuda / .cuda() in runtime code (12 files)".
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from depslim.model import Context, Evidence, ScanResult, Signal
from depslim.swaps.rules import EvidenceGroup


@dataclass(frozen=True)
class ConditionResult:
    """Runtime hits that hold a swap back, plus the non-runtime hits that were ignored."""

    holding: tuple[Evidence, ...]
    ignored: tuple[Evidence, ...]
    checked: str  # human-readable: what was looked for and where

    @property
    def clear(self) -> bool:
        return not self.holding


def attribute_matches(pattern: str, value: str) -> bool:
    """`torch.cuda` matches `torch.cuda` and `torch.cuda.is_available`; `.cuda` any `x.cuda`."""
    if pattern.startswith("."):
        attr = pattern[1:]
        parts = value.split(".")
        return attr in parts[1:] or value == attr
    return value == pattern or value.startswith(pattern + ".")


def string_matches(pattern: str, value: str) -> bool:
    return re.match(pattern.removeprefix("re:"), value) is not None


def signal_in_group(signal: Signal, group: EvidenceGroup) -> bool:
    """Re-check the signal's value against the group (robust to how the scan names patterns)."""
    if signal.kind == "string":
        return any(string_matches(p, signal.value) for p in group.strings)
    return any(attribute_matches(p, signal.value) for p in group.attributes) or any(
        signal.pattern == p for p in group.attributes
    )


def module_matches(prefix: str, module: str) -> bool:
    return module == prefix or module.startswith(prefix + ".")


def _evidence(path: str, line: int, kind: str, detail: str) -> Evidence:
    return Evidence(path=path, line=line, kind=kind, detail=detail)


def check_groups(scan: ScanResult | None, groups: Iterable[EvidenceGroup]) -> ConditionResult:
    """Look for every group's evidence in the scan; runtime hits hold the swap back."""
    groups = list(groups)
    if not groups:
        return ConditionResult((), (), "no code condition")
    described = "; ".join(g.description for g in groups)
    if scan is None:
        # No scan: we cannot show the code is safe, so nothing is cleared silently.
        return ConditionResult(
            (_evidence("", 0, "rule", "project code not scanned: cannot rule out " + described),),
            (), f"not checked ({described}): no project scan",
        )
    holding: list[Evidence] = []
    ignored: list[Evidence] = []
    for signal in scan.signals:
        for group in groups:
            if signal_in_group(signal, group):
                ev = _evidence(signal.location.path, signal.location.line, "signal",
                               f"{signal.value} ({signal.context.value})")
                (holding if signal.context == Context.RUNTIME else ignored).append(ev)
                break
    prefixes = {p for group in groups for p in group.imports}
    for top in sorted({p.partition(".")[0] for p in prefixes}):  # a prefix only matches under its top
        for ref in scan.imports_by_top.get(top, ()):
            if any(module_matches(p, ref.module) for p in prefixes):
                ev = _evidence(ref.location.path, ref.location.line, "import",
                               f"import {ref.module} ({ref.context.value})")
                (holding if ref.context == Context.RUNTIME else ignored).append(ev)
    for entry in scan.entrypoints:
        for group in groups:
            if any(e in entry.detail for e in group.entrypoints):
                holding.append(_evidence(entry.path, entry.line, "entrypoint", entry.detail))
                break
    checked = f"{described} in runtime code ({scan.files_scanned} files scanned)"
    return ConditionResult(tuple(sorted(set(holding))), tuple(sorted(set(ignored))), checked)
