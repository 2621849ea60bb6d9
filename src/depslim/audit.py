"""The audit table: every finding → Finding | Owner | Fix | Savings, biggest saving first, and the
projected image size after all fixes.

Savings are only summed when they do not overlap: a Dockerfile rule's recorded estimate (pip
cache ~180 MB) steps aside when the image analysis measured the same waste (`pip-cache`), and
a cut-list finding for a package yields to the removal/swap finding on the same package.

The projection never goes below what no fix can remove: the base image's own layers (less the
waste measured inside them). Which layers are the base's is told by matching the layers the
Dockerfile's final stage creates (RUN/COPY/ADD, WORKDIR when the history records one) against the
image history from the end; when that cannot be told, the floor stays 0 and the report says why.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from io import StringIO
from typing import TYPE_CHECKING

from depslim.model import Finding, LayerInfo, TargetInfo
from depslim.units import human_bytes as human

if TYPE_CHECKING:
    from depslim.dockerfile.parse import Dockerfile

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
# Dockerfile instructions that make an image layer; WORKDIR makes one only in some builders.
LAYER_KEYWORDS = ("RUN", "COPY", "ADD")
OPTIONAL_LAYER_KEYWORDS = ("WORKDIR",)
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
class BaseFloor:
    """What no fix can remove: the base image's own layers, less the waste measured inside them."""

    known: bool
    reason: str  # how the base layers were told apart from the project's, or why they could not be
    layers: tuple[int, ...] = ()  # indexes of the base image's layers
    layer_bytes: int = 0
    waste_bytes: int = 0  # counted savings measured inside the base layers

    @property
    def bytes(self) -> int:
        return max(0, self.layer_bytes - self.waste_bytes) if self.known else 0


def _keyword(instruction: str) -> str:
    return instruction.split(None, 1)[0].upper() if instruction.strip() else ""


def base_floor(target: TargetInfo | None, dockerfile: Dockerfile | None) -> BaseFloor | None:
    """The base image's layers: the image's layers minus those the Dockerfile's final stage (and
    the stages it is built FROM) creates, matched by instruction from the end. None: not an image."""
    if target is None or target.kind != "image":
        return None
    layers: Sequence[LayerInfo] = target.layers
    if not layers:
        return BaseFloor(False, "the report carries no image layers")
    if dockerfile is None:
        return BaseFloor(False, "no Dockerfile to tell the base image's layers from the project's")
    if any(not layer.instruction.strip() for layer in layers):
        return BaseFloor(False, "the image history does not name every layer's instruction")
    chain = [dockerfile.stages[-1]]
    while chain[0].parent is not None and chain[0].parent < chain[0].index:
        chain.insert(0, dockerfile.stages[chain[0].parent])
    made = [ins for stage in chain for ins in stage.instructions
            if ins.keyword in LAYER_KEYWORDS + OPTIONAL_LAYER_KEYWORDS]
    at = len(layers) - 1
    for ins in reversed(made):
        keyword = _keyword(layers[at].instruction) if at >= 0 else ""
        if ins.keyword in OPTIONAL_LAYER_KEYWORDS:
            at -= keyword == ins.keyword
            continue
        if keyword != ins.keyword:
            seen = f"layer {at} is {keyword}" if at >= 0 else "the image has no layer left"
            return BaseFloor(False, f"{dockerfile.path.name}:{ins.line} {ins.keyword} does not match the image "
                                    f"history ({seen})")
        at -= 1
    base = tuple(range(at + 1))
    return BaseFloor(True, f"the layers before the {len(layers) - len(base)} that {dockerfile.path.name}'s final "
                           f"stage (FROM {chain[0].base}) creates",
                     base, sum(layers[i].size_bytes for i in base))


def base_waste(finding: Finding, base: Sequence[int]) -> int:
    """The part of a finding's measured saving that lies in the base layers (`layers` or `layer` data)."""
    per_layer = finding.data.get("layers")
    if isinstance(per_layer, Mapping):
        return sum(v for k, v in per_layer.items()
                   if isinstance(v, int) and str(k).isdigit() and int(str(k)) in base)
    layer = finding.data.get("layer")
    if isinstance(layer, int) and not isinstance(layer, bool) and layer in base:
        return finding.savings_bytes or 0
    return 0


@dataclass(frozen=True)
class AuditTable:
    rows: tuple[AuditRow, ...]
    current_bytes: int | None
    current_source: str
    savings_bytes: int
    estimated_bytes: int  # the part of savings_bytes that is estimated
    target: TargetInfo | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)
    floor: BaseFloor | None = None  # None: not an image-level projection (no base to floor at)

    @property
    def floor_bytes(self) -> int:
        return self.floor.bytes if self.floor is not None else 0

    @property
    def floored(self) -> bool:
        """The fixes would take the size below the floor: the projection stops at it."""
        return (self.current_bytes is not None and self.floor is not None and self.floor.known
                and self.current_bytes - self.savings_bytes < self.floor.bytes)

    @property
    def projected_bytes(self) -> int | None:
        if self.current_bytes is None:
            return None
        return max(self.floor_bytes, self.current_bytes - self.savings_bytes)

    @property
    def floor_text(self) -> str:
        """One line on the floor ("" when there is none to speak of)."""
        floor = self.floor
        if floor is None:
            return ""
        if not floor.known:
            return f"floor: base image layers unknown ({floor.reason}); the projection is floored at 0 B"
        count = len(floor.layers)
        text = (f"floor: base image layers {human(floor.bytes)} ({count} layer{'s' * (count != 1)}, "
                f"{human(floor.layer_bytes)}")
        if floor.waste_bytes:
            text += f", less {human(floor.waste_bytes)} of their own measured waste"
        text += f"; {floor.reason})"
        if self.floored:
            text += "; the fixes would save more than the rest of the image: the projection stops at the floor"
        return text




def is_image_waste(code: str) -> bool:
    """A code of the image-waste finder whose bytes are part of `totals.waste_bytes`."""
    from depslim.findings.image import knowledge

    record = knowledge()["findings"].get(code)
    return bool(record and record["waste"])


def _size(value: int | None) -> str:
    """A current or projected size; None is a size not measured (never 0 B, never a guess)."""
    return "not measured" if value is None else human(value)


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


def audit_table(findings: Iterable[Finding], target_info: TargetInfo | None = None,
                dockerfile: Dockerfile | None = None, *, unmeasured: str = "") -> AuditTable:
    """Rows sorted by savings (measured before estimated at equal size), overlaps not double-counted:
    a Dockerfile estimate never adds to a waste the image measured, or to one the image does not have.
    The projection stops at the base image's layers (`dockerfile` tells them apart; see base_floor).
    `unmeasured` says why the target's size is not the project's: current and projected are then None."""
    unique: dict[str, Finding] = {}
    for f in findings:
        unique.setdefault(f.id, f)
    items = list(unique.values())
    codes = {f.code for f in items}
    strong_subjects = {f.subject for f in items if f.code in ("swap", "remove-from-runtime") and f.subject}
    current, source = (None, unmeasured) if unmeasured else _current(target_info, items)
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
    # image waste findings overlap (a __pycache__ inside a site-packages tests folder is in both): their
    # rows count once, as the measured waste total, which counts each file once
    waste_total = target_info.totals.get("waste_bytes") if target_info is not None and image_measured else None
    waste_rows = [r for r in rows if r.counted and not r.finding.estimate and (r.finding.savings_bytes or 0) > 0
                  and is_image_waste(r.finding.code)] if isinstance(waste_total, int) else []
    waste_sum = sum(r.finding.savings_bytes or 0 for r in waste_rows)
    overlap = max(0, waste_sum - waste_total) if isinstance(waste_total, int) else 0
    savings -= overlap
    estimated = sum(r.finding.savings_bytes or 0 for r in rows
                    if r.counted and r.finding.estimate and (r.finding.savings_bytes or 0) > 0)
    notes: tuple[str, ...] = (
        "savings of different findings can overlap (e.g. a swap and a removal in the same closure); "
        "the projection sums the counted rows",)
    if overlap:
        notes += (f"the image waste rows add to {human(waste_sum)} but share files ({human(overlap)} of them "
                  f"twice): they count once, as the measured waste {human(waste_total)}",)
    floor = None if python_only or current is None else base_floor(target_info, dockerfile)
    if floor is not None and floor.known:
        by_layer = target_info.layers if target_info is not None and waste_rows else ()
        if any(layer.waste_bytes for layer in by_layer):  # the waste rows' bytes per layer, each file once
            waste_ids = {r.finding.id for r in waste_rows}
            waste = sum(layer.waste_bytes for layer in by_layer if layer.index in floor.layers)
            waste += sum(base_waste(r.finding, floor.layers) for r in rows if r.counted and not r.finding.estimate
                         and (r.finding.savings_bytes or 0) > 0 and r.finding.id not in waste_ids)
        else:
            waste = sum(base_waste(r.finding, floor.layers) for r in rows
                        if r.counted and not r.finding.estimate and (r.finding.savings_bytes or 0) > 0)
        floor = replace(floor, waste_bytes=min(waste, floor.layer_bytes))
    return AuditTable(tuple(rows), current, source, savings, estimated, target_info, notes, floor)



# ---------------------------------------------------------------------------- renderers


def _evidence_text(f: Finding, limit: int = 3) -> list[str]:
    out = []
    for e in f.evidence[:limit]:
        where = f"{e.path}:{e.line}" if e.path and e.line else e.path
        out.append(f"{where} {e.detail}".strip())
    return out


def render_markdown(table: AuditTable) -> str:
    lines = ["## depslim audit", ""]
    lines.append(f"Current size: **{_size(table.current_bytes)}** ({table.current_source}) · "
                 f"savings: **{human(table.savings_bytes)}**"
                 + (f" (of which ~{human(table.estimated_bytes)} estimated)" if table.estimated_bytes else "")
                 + f" · projected after all fixes: **{_size(table.projected_bytes)}**")
    if table.floor_text:
        lines += ["", table.floor_text[0].upper() + table.floor_text[1:] + "."]
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
        "projected_bytes": table.projected_bytes, "floor": _floor_json(table), "rows": rows,
        "notes": list(table.notes),
    }
    return json.dumps(doc, indent=2, sort_keys=False) + "\n"


def _floor_json(table: AuditTable) -> dict[str, object] | None:
    floor = table.floor
    if floor is None:
        return None
    return {"known": floor.known, "bytes": floor.bytes, "base_layer_bytes": floor.layer_bytes,
            "base_waste_bytes": floor.waste_bytes, "base_layers": list(floor.layers), "reason": floor.reason,
            "binding": table.floored, "text": table.floor_text}


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
    console.print(f"current {_size(table.current_bytes)} ({escape(table.current_source)}); "
                  f"savings {human(table.savings_bytes)}"
                  + (f" (~{human(table.estimated_bytes)} estimated)" if table.estimated_bytes else "")
                  + f"; projected after all fixes {_size(table.projected_bytes)}", soft_wrap=True)
    if table.floor_text:
        console.print(escape(table.floor_text), soft_wrap=True)
    return out.getvalue()
