"""The audit table: every finding → Finding | Owner | Fix | Savings, biggest saving first, and the
projected image size after all fixes.

Savings are only summed when they do not overlap: a Dockerfile rule's recorded estimate (pip
cache ~180 MB) steps aside when the image analysis measured the same waste (`pip-cache`), and
a cut-list finding for a package yields to the removal/swap finding on the same package.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from io import StringIO

from depslim.model import Finding, TargetInfo
from depslim.units import human_bytes as human

# Dockerfile rule → image finding codes that measure the same bytes on a built image.
MEASURED_BY: Mapping[str, tuple[str, ...]] = {
    "dockerfile-pip-no-cache-dir": ("pip-cache",),
    "dockerfile-apt-lists-not-cleaned": ("apt-lists",),
    "dockerfile-single-stage-compilers": ("build-tools",),
    "dockerfile-cuda-devel-base": ("cuda-devel",),
    "dockerfile-cleanup-in-later-layer": ("deleted-in-later-layer",),
    "dockerfile-weights-in-image": ("model-weights",),
}
TOTAL_KEYS = ("image_bytes", "total_bytes", "size_bytes", "python_bytes", "installed_bytes")
SCHEMA = "depslim/audit"  # the JSON envelope (depslim.report.json.envelope) sets it too
# Findings whose savings are Python packages (they count against an environment's installed bytes).
PYTHON_CODES = ("swap", "remove-from-runtime", "cut-", "cuda-")


@dataclass(frozen=True)
class AuditRow:
    finding: Finding
    counted: bool  # its saving is part of the total (False: overlaps a measured finding)
    note: str = ""

    @property
    def savings_text(self) -> str:
        return format_savings(self.finding, self.counted, self.note)


@dataclass(frozen=True)
class AuditTable:
    rows: tuple[AuditRow, ...]
    current_bytes: int | None
    current_source: str
    savings_bytes: int
    estimated_bytes: int  # the part of savings_bytes that is estimated
    target: TargetInfo | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def projected_bytes(self) -> int | None:
        if self.current_bytes is None:
            return None
        return max(0, self.current_bytes - self.savings_bytes)




def format_savings(finding: Finding, counted: bool = True, note: str = "") -> str:
    if finding.savings_bytes is None:
        return "—"
    text = ("~" if finding.estimate else "") + human(finding.savings_bytes)
    if finding.estimate:
        text += " (estimate)"
    if not counted:
        text += f" ({note})" if note else " (not counted)"
    return text


def _current(target: TargetInfo | None, findings: Sequence[Finding]) -> tuple[int | None, str]:
    if target is not None:
        for key in TOTAL_KEYS:
            value = target.totals.get(key)
            if isinstance(value, int) and value > 0:
                return value, f"{target.kind} {target.ref} ({key})"
    return None, "no target size measured"


def audit_table(findings: Iterable[Finding], target_info: TargetInfo | None = None) -> AuditTable:
    """Rows sorted by savings (measured before estimated at equal size), overlaps not double-counted:
    a Dockerfile estimate never adds to a waste the image measured, or to one the image does not have."""
    unique: dict[str, Finding] = {}
    for f in findings:
        unique.setdefault(f.id, f)
    items = list(unique.values())
    codes = {f.code for f in items}
    strong_subjects = {f.subject for f in items if f.code in ("swap", "remove-from-runtime") and f.subject}
    current, source = _current(target_info, items)
    python_only = source.endswith(("(python_bytes)", "(installed_bytes)"))
    # an image whose waste was measured (its totals carry waste_bytes): only what it holds can be saved
    image_measured = target_info is not None and target_info.kind == "image" and "waste_bytes" in target_info.totals
    rows: list[AuditRow] = []
    for f in items:
        if f.code.startswith("cut-") and f.subject in strong_subjects and f.code != "cut-unused":
            continue  # the removal/swap finding on the same package says the same, with more evidence
        measured = [c for c in MEASURED_BY.get(f.code, ()) if c in codes]
        if measured:
            rows.append(AuditRow(f, False, f"measured as {measured[0]}"))
        elif f.code in MEASURED_BY and image_measured and f.savings_bytes is not None:
            # the image was measured and holds none of it: the Dockerfile's estimate saves nothing here
            rows.append(AuditRow(f, False, "not found in the measured image"))
        elif python_only and not f.code.startswith(PYTHON_CODES) and f.savings_bytes is not None:
            rows.append(AuditRow(f, False, "image-level: not in the measured Python total"))
        else:
            rows.append(AuditRow(f, f.savings_bytes is not None))
    # by savings, largest first, whether counted or not (a reader looks for the big fixes first);
    # at equal size the counted and the measured come before the overlapping and the estimated
    rows.sort(key=lambda r: (-(r.finding.savings_bytes or 0), not r.counted, r.finding.estimate,
                             r.finding.code, r.finding.id))
    savings = sum(r.finding.savings_bytes or 0 for r in rows if r.counted and (r.finding.savings_bytes or 0) > 0)
    estimated = sum(r.finding.savings_bytes or 0 for r in rows
                    if r.counted and r.finding.estimate and (r.finding.savings_bytes or 0) > 0)
    notes = ("savings of different findings can overlap (e.g. a swap and a removal in the same closure); "
             "the projection sums the counted rows",)
    return AuditTable(tuple(rows), current, source, savings, estimated, target_info, notes)


# ---------------------------------------------------------------------------- renderers


def _evidence_text(f: Finding, limit: int = 3) -> list[str]:
    out = []
    for e in f.evidence[:limit]:
        where = f"{e.path}:{e.line}" if e.path and e.line else e.path
        out.append(f"{where} {e.detail}".strip())
    return out


def render_markdown(table: AuditTable) -> str:
    lines = ["## depslim audit", ""]
    lines.append(f"Current size: **{human(table.current_bytes)}** ({table.current_source}) · "
                 f"savings: **{human(table.savings_bytes)}**"
                 + (f" (of which ~{human(table.estimated_bytes)} estimated)" if table.estimated_bytes else "")
                 + f" · projected after all fixes: **{human(table.projected_bytes)}**")
    lines += ["", "| Finding | Owner | Fix | Savings |", "|---|---|---|---:|"]
    for row in table.rows:
        f = row.finding

        def cell(text: str) -> str:
            return text.replace("|", "\\|").replace("\n", " ")

        where = f.evidence[0] if f.evidence and f.evidence[0].path else None
        title = cell(f.title) + (f" (`{where.path}:{where.line}`)" if where and where.line else "")
        lines.append(f"| {title} | {f.owner.value} | {cell(f.fix)} | {cell(row.savings_text)} |")
    lines += ["", f"_{table.notes[0]}; `~` marks estimates (recorded figures, not measured on this target)._"]
    return "\n".join(lines) + "\n"


def render_json(table: AuditTable) -> str:
    rows = []
    for row in table.rows:
        f = row.finding
        rows.append({
            "id": f.id, "code": f.code, "title": f.title, "owner": f.owner.value, "fix": f.fix,
            "savings_bytes": f.savings_bytes, "estimate": f.estimate, "counted": row.counted,
            "note": row.note, "severity": f.severity, "subject": f.subject,
            "from": f.data.get("from"), "to": f.data.get("to"),
            "evidence": [{"path": e.path, "line": e.line, "kind": e.kind, "detail": e.detail} for e in f.evidence],
            "data": {k: v for k, v in f.data.items() if _jsonable(v)},
        })
    doc = {
        "schema": SCHEMA,
        "target": {"kind": table.target.kind, "ref": table.target.ref} if table.target else None,
        "current_bytes": table.current_bytes, "current_source": table.current_source,
        "savings_bytes": table.savings_bytes, "estimated_savings_bytes": table.estimated_bytes,
        "projected_bytes": table.projected_bytes, "rows": rows, "notes": list(table.notes),
    }
    return json.dumps(doc, indent=2, sort_keys=False) + "\n"


def _jsonable(value: object) -> bool:
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return False
    return True


def render_terminal(table: AuditTable, width: int = 100, color: bool = False) -> str:
    """The audit table at `width` columns; a list below the width it needs (see report.terminal.rows)."""
    from rich.markup import escape

    from depslim.report.base import RenderOptions
    from depslim.report.terminal import new_console, rows

    out = StringIO()
    console = new_console(RenderOptions(width=width, color=color), out)
    cells = []
    for row in table.rows:
        f = row.finding
        where = f.evidence[0] if f.evidence and f.evidence[0].path else None
        title = f.title + (f"\n{where.path}:{where.line}" if where and where.line else "")
        cells.append((escape(title), f.owner.value, escape(f.fix), row.savings_text))
    rows(console, "depslim audit", ("Finding", "Owner", "Fix", "Savings"), cells, right=("Savings",))
    console.print(f"current {human(table.current_bytes)} ({table.current_source}); savings {human(table.savings_bytes)}"
                  + (f" (~{human(table.estimated_bytes)} estimated)" if table.estimated_bytes else "")
                  + f"; projected after all fixes {human(table.projected_bytes)}", soft_wrap=True)
    return out.getvalue()
