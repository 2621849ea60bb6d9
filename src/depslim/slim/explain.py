"""`depslim-slim.md`: every choice `depslim slim` made, with its evidence and the projected size.

Written for the reviewer of the PR that adds `Dockerfile.depslim`: what the image runs, what it
installs and why, what was left out and what it weighed, what the wheels need from the OS, which
files are copied, what was carried from the original, and how to prove it with `depslim verify`.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from depslim.generate.split import SplitOptions, render_cuts_markdown
from depslim.model import Evidence
from depslim.units import human_bytes

if TYPE_CHECKING:
    from depslim.slim.plan import SlimPlan


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _where(ev: Evidence) -> str:
    return f"{ev.path}:{ev.line}" if ev.line else ev.path


def _evidence(items: Iterable[Evidence]) -> str:
    return "; ".join(f"`{_where(e)}`" + (f" {e.detail}" if e.detail else "") for e in items) or "—"


def render_explanation(plan: SlimPlan) -> str:
    report = plan.report
    base = plan.base
    project = Path(report.project).resolve().name if report.project else report.target.ref
    out = [f"# depslim slim: {project}", ""]
    out += [
        f"Projected image: **{plan.projection.headline()}**"
        + (" (see below)" if any(p.bytes is None for p in plan.projection.parts) else "")
        + f" — base `{base.image}`, Python {base.python}, {len(plan.lock.pins)} pinned packages, "
        f"{len(plan.native.packages)} OS packages, {len(plan.copies.items)} copies. "
        "Prove it before shipping: `depslim verify . --build` (and `--baseline <current image>` for the before/after).",
        "",
        "## Base image",
        "",
        f"`{base.image}` ({base.kind}): " + "; ".join(base.why),
    ]
    if base.evidence:
        out += ["", "GPU evidence in the served code: " + _evidence(base.evidence)]
    out += ["", "## What the image runs", ""]
    scope = report.scope.value
    if report.entrypoints:
        out.append(f"Scope `{scope}`: reachability from " + _evidence(report.entrypoints) + ".")
    else:
        out.append(f"Scope `{scope}`: no entrypoint names project code; every runtime module counts.")
    carried = plan.carried
    for ins in (carried.entrypoint, carried.cmd):
        if ins is not None:
            out.append(f"- `{ins.keyword} {ins.value}` from `{_where(ins.evidence)}`")
    if carried.cmd is None and carried.entrypoint is None:
        out.append("- no CMD or ENTRYPOINT found in the original: the slim image has none either")
    if plan.copies.left_out:
        out += ["", f"First-party modules no served entrypoint reaches, not copied ({len(plan.copies.left_out)}): "
                + ", ".join(f"`{m}`" for m in plan.copies.left_out[:40])
                + (" …" if len(plan.copies.left_out) > 40 else "") + ". Pass `--scope all` to keep them."]
    out += ["", "## Python packages", "",
            f"`requirements-slim.txt` ({len(plan.split.base)} lines, each with its reason), locked with hashes into "
            f"`requirements-slim.lock.txt` by {plan.lock.backend} for Python {plan.lock.python_version} on "
            f"{plan.lock.platform}: {len(plan.lock.pins)} pins.", "",
            "| Requirement | Why |", "|---|---|"]
    out += [f"| `{_cell(line.requirement)}` | {_cell(line.reason)} |" for line in plan.split.base]
    if plan.wheels.checked:
        compiled = plan.wheels.without_wheel
        out += ["", ("Pins without a wheel for the target (compiled in the builder stage only): "
                     + ", ".join(f"`{c}`" for c in compiled)) if compiled
                else "Every pin has a wheel for the target: the builder installs with `--only-binary=:all:`, "
                     "no compiler anywhere."]
    options = SplitOptions(base_name="requirements-slim.txt", cuts_name="depslim-slim.md")
    cuts = render_cuts_markdown(report, plan.split.cuts, options).split("\n", 4)[-1]  # its title, target line
    out += ["", cuts.strip()]
    out += ["", "## OS libraries the wheels need", ""]
    if not plan.native.read:
        out.append("Not checked: the target offers no view of its shared libraries.")
    elif not plan.native.needs:
        base_src = plan.native.base.source if plan.native.base else "unknown"
        out.append(f"None beyond the wheels' own libraries and the base's (base libraries read from: {base_src}).")
    else:
        out += ["| Library | Debian package | Needed by | Package known from |", "|---|---|---|---|"]
        for need in plan.native.needs:
            users = ", ".join(sorted({f"{d} (`{p.rpartition('/')[2]}`)" for d, p in need.needed_by})[:4])
            out.append(f"| `{need.soname}` | {need.package or '**unknown**'} | {_cell(users)} | {need.source or '—'} |")
    out += ["", "## Files copied", "", "| Source | Destination | Why | Evidence | Bytes |", "|---|---|---|---|---|"]
    for item in plan.copies.items:
        out.append(f"| `{_cell(item.source)}` | `{item.dest}` | {_cell(item.why)} | {_cell(_evidence(item.evidence))} "
                   f"| {human_bytes(item.size_bytes)} |")
    if plan.copies.python_path:
        out += ["", "`PYTHONPATH`: " + ", ".join(f"`{p}`" for p in plan.copies.python_path)]
    out += ["", "## Carried from the original", "", f"Source: {carried.source or 'none'}.", "",
            f"- `WORKDIR {carried.workdir}`" + (f" from `{_where(carried.workdir_evidence)}`"
                                               if carried.workdir_evidence else " (default)")]
    out += [f"- `EXPOSE {e.value}` from `{_where(e.evidence)}`" for e in carried.expose]
    out += [f"- `ENV {name}` from `{_where(ev)}`" for name, _v, ev in carried.env]
    out += [f"- not carried: `{name}` ({why}) from `{_where(ev)}`" for name, why, ev in carried.dropped_env]
    out += ["", "## Projected size", "", "| Part | Bytes | How | Detail |", "|---|---|---|---|"]
    for part in plan.projection.parts:
        out.append(f"| {part.name} | {human_bytes(part.bytes, estimate=part.how == 'estimate')} | {part.how} | "
                   f"{_cell(part.detail)} |")
    out.append(f"| **total** | **{plan.projection.headline()}** | | |")
    if plan.notes:
        out += ["", "## Notes", ""] + [f"- {_cell(note)}" for note in plan.notes]
    if report.warnings:
        out += ["", "## Warnings from the analysis", ""] + [f"- {_cell(w)}" for w in report.warnings[:50]]
        if len(report.warnings) > 50:
            out.append(f"- … and {len(report.warnings) - 50} more (`depslim analyze --scope {scope}`)")
    out += ["", "## Prove it", "", "```bash",
            "depslim verify . --build                       # builds Dockerfile.depslim, imports every served module",
            "depslim verify . --build --baseline <current>  # plus before/after bytes, cold start, the audit table",
            "```"]
    return "\n".join(out) + "\n"
