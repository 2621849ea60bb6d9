"""Small Mermaid charts for PR comments (GitHub renders ```mermaid blocks as pictures).

Kept tiny on purpose: a comment has 65,536 characters, and the tables matter more. Labels are
fixed category names or package names reduced to a safe alphabet, so nothing in a chart can
close its string or the fence; numbers are plain decimals (MB, two places).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from depslim.diffing import DiffReport
from depslim.model import Report
from depslim.report.svg import CATEGORIES, category

TOP_CHANGES = 8
_UNSAFE = re.compile(r"[^A-Za-z0-9._+\- ]")


def label(text: str, width: int = 30) -> str:
    """A quoted Mermaid string: only letters, digits and `._+- ` survive (no quote, bracket or
    backtick can end the string, the list or the fence), cut to `width`."""
    return '"' + (_UNSAFE.sub("_", text)[:width] or "_") + '"'


def megabytes(size: int) -> str:
    return f"{max(size, 0) / 1e6:.2f}"


def pie_by_verdict(report: Report) -> str:
    """A pie of installed bytes by verdict (the treemap's colours, as slices)."""
    swappable = frozenset(f.subject for f in report.findings if f.code == "swap")
    totals: dict[str, int] = {}
    for dist in report.distributions:
        if dist.installed and dist.size_bytes > 0:
            key = category(dist, swappable)
            totals[key] = totals.get(key, 0) + dist.size_bytes
    if not totals:
        return ""
    order = [c for c in CATEGORIES if c in totals]
    lines = ["```mermaid", "pie showData title Installed MB by verdict"]
    lines += [f"    {label(c)} : {megabytes(totals[c])}" for c in order]
    return "\n".join([*lines, "```"])


def bars_before_after(diff: DiffReport, top: int = TOP_CHANGES) -> str:
    """An xychart of the biggest changes: base bytes and head bytes per package, in MB."""
    moved = sorted((c for c in diff.changes if c.delta), key=lambda c: (-abs(c.delta or 0), c.name))[:top]
    if not moved:
        return ""
    base = [megabytes(0 if c.kind == "added" else (c.base_bytes or 0)) for c in moved]
    head = [megabytes(0 if c.kind == "removed" else (c.head_bytes or 0)) for c in moved]
    return "\n".join([
        "```mermaid",
        "xychart-beta",
        '    title "Biggest changes: base then head (MB)"',
        f"    x-axis [{', '.join(label(c.name, 24) for c in moved)}]",
        '    y-axis "MB"',
        f"    bar [{', '.join(base)}]",
        f"    bar [{', '.join(head)}]",
        "```",
    ])


def join(blocks: Sequence[str]) -> str:
    return "\n\n".join(b for b in blocks if b)
