"""The config's `keep` and `ignore`, applied in one place for every command (deptry's habit).

`keep` turns a cut verdict into a runtime one, with the config's reason as its evidence, so the
cut list, `split`, `slim` and `check --fail-on-unused` all agree that the package stays. `ignore`
drops findings by code or id (fnmatch globs). Both say what they did, so a report never hides a
decision the config made.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from fnmatch import fnmatchcase
from typing import Any

from packaging.utils import canonicalize_name

from depslim.model import Evidence, Finding, Scope, Verdict
from depslim.verdicts import is_cut


def _entries(value: Any, key: str) -> dict[str, str]:
    """`["a", {name = "b", reason = "..."}]` → {"a": "", "b": "..."} (already type-checked by depslim.config)."""
    out: dict[str, str] = {}
    for item in value or ():
        if isinstance(item, str):
            out[item] = ""
        elif isinstance(item, Mapping) and isinstance(item.get(key), str):
            out[item[key]] = str(item.get("reason", ""))
    return out


def kept(config: Mapping[str, Any]) -> dict[str, str]:
    """Canonical distribution name → reason, from `keep`."""
    return {canonicalize_name(name): reason for name, reason in _entries(config.get("keep"), "name").items()}


def apply_keep(decisions: Mapping[str, tuple[Verdict | None, tuple[Evidence, ...]]], config: Mapping[str, Any],
               scope: Scope, where: str) -> tuple[dict[str, tuple[Verdict | None, tuple[Evidence, ...]]], list[str]]:
    """Kept packages that the evidence would cut become runtime; returns the decisions and one note each."""
    keep = kept(config)
    result = dict(decisions)
    notes = []
    for name, reason in keep.items():
        verdict, evidence = result.get(name, (None, ()))
        if verdict is None or not is_cut(verdict, scope):
            continue
        because = f"keep in {where}" + (f": {reason}" if reason else "")
        result[name] = (Verdict.RUNTIME, (Evidence(where, 0, "config", because), *evidence))
        notes.append(f"config keeps {name} (would be {verdict.value}){f': {reason}' if reason else ''}")
    return result, notes


def apply_ignore(findings: Sequence[Finding], config: Mapping[str, Any]) -> tuple[list[Finding], list[str]]:
    """Findings whose code or id matches an `ignore` entry are dropped; one note per entry that matched."""
    ignore = {**_entries(config.get("ignore"), "code"), **_entries(config.get("ignore"), "id")}
    if not ignore:
        return list(findings), []
    kept_findings, notes = [], []
    hits = dict.fromkeys(ignore, 0)
    for finding in findings:
        match = next((p for p in ignore if fnmatchcase(finding.code, p) or fnmatchcase(finding.id, p)), None)
        if match is None:
            kept_findings.append(finding)
        else:
            hits[match] += 1
    for pattern, count in hits.items():
        if count:
            reason = f": {ignore[pattern]}" if ignore[pattern] else ""
            notes.append(f"config ignores {count} finding(s) matching {pattern!r}{reason}")
    return kept_findings, notes


def cut_or_swapped(findings: Sequence[Finding]) -> list[Finding]:
    """A package on the cut list gets no swap proposal: cutting it saves more than swapping it, and
    one package with two fixes that contradict each other is a report nobody can act on."""
    cut = {canonicalize_name(f.subject) for f in findings if f.code.startswith("cut-")}
    return [f for f in findings if not (f.code == "swap" and canonicalize_name(f.subject) in cut)]
