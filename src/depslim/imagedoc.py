"""The `depslim image` document: what an image ships, per layer and per distribution, and its waste.

One dict (`build_document`) is the JSON format's output as it is and what the terminal, Markdown
and HTML views render, so they never disagree on a number.
"""

from __future__ import annotations

import io
import json
from collections import Counter
from typing import TYPE_CHECKING, Any, TypedDict

from depslim import __version__
from depslim.model import SCHEMA_VERSION, Finding
from depslim.redact import clip
from depslim.units import human_bytes as human

if TYPE_CHECKING:
    from depslim.findings import Found
    from depslim.report.base import RenderOptions
    from depslim.targets.image import ImageTarget


class _DistributionEntry(TypedDict):
    """One entry of the document's "distributions" (an InstalledDistribution as the image ships it)."""

    name: str
    display_name: str
    version: str
    size_bytes: int
    shared_bytes: int
    files: int
    missing_files: int
    has_record: bool
    site: str
    dist_info: str
    installer: str
    editable: bool
    requires: list[str]
    entry_points: list[str]


def _finding_dict(finding: Finding) -> dict[str, Any]:
    return {
        "id": finding.id, "code": finding.code, "title": finding.title, "owner": str(finding.owner),
        "fix": finding.fix, "savings_bytes": finding.savings_bytes, "estimate": finding.estimate,
        "subject": finding.subject, "severity": finding.severity,
        "evidence": [{"path": e.path, "line": e.line, "kind": e.kind, "detail": e.detail} for e in finding.evidence],
        "data": dict(finding.data),
    }


def image_finders(target: ImageTarget) -> Found:
    """The registry's target-only findings for an image alone (no project, no index look-ups):
    the same finders `analyze` runs, so both commands list the same waste."""
    from depslim.findings import TARGET_FINDERS, AnalysisContext, run

    context = AnalysisContext(project_root=None, scan=None, declared=None, target=target.info(),
                              installed={d.name: d for d in target.distributions()}, distributions={},
                              source=target)
    return run(context, TARGET_FINDERS)


def build_document(target: ImageTarget) -> dict[str, Any]:
    """The stable JSON document (also what the terminal and Markdown views render)."""
    found = image_finders(target)
    info = target.info()
    dists = target.distributions()
    owners = Counter(f.path for d in dists for f in d.files)
    distributions: list[_DistributionEntry] = []
    for dist in dists:
        shared = sum(f.size for f in dist.files if owners[f.path] > 1)
        distributions.append({
            "name": dist.name, "display_name": dist.display_name, "version": dist.version,
            "size_bytes": dist.size_bytes, "shared_bytes": shared, "files": len(dist.files),
            "missing_files": dist.missing_files, "has_record": dist.has_record, "site": dist.site,
            "dist_info": dist.dist_info, "installer": dist.installer, "editable": dist.editable,
            "requires": list(dist.requires), "entry_points": list(dist.entry_points),
        })
    distributions.sort(key=lambda d: (-d["size_bytes"], d["name"]))
    return {
        "schema_version": SCHEMA_VERSION,
        "tool_version": __version__,
        "target": {
            "kind": info.kind, "ref": info.ref, "python_version": info.python_version,
            "platform": info.platform, "site_dirs": list(info.site_dirs), "markers": dict(info.markers),
            "env": dict(info.env), "user": info.user,
        },
        "totals": {**info.totals, **found.totals},
        "layers": [
            {"index": layer.index, "digest": layer.digest, "size_bytes": layer.size_bytes,
             "instruction": layer.instruction, "waste_bytes": found.layer_waste.get(layer.index, 0)}
            for layer in info.layers
        ],
        "distributions": distributions,
        "findings": [_finding_dict(f) for f in found.findings],
        "warnings": target.warnings,
    }


def _savings(finding: dict[str, Any]) -> str:
    text = human(finding["savings_bytes"])
    return f"~{text} (est.)" if finding["estimate"] and finding["savings_bytes"] is not None else text


def render_terminal(doc: dict[str, Any], options: RenderOptions) -> str:
    """Summary, layers and their bar chart, distributions by size, findings: tables at the options' width,
    lists below it."""
    from rich.markup import escape

    from depslim.report.terminal import layer_chart, new_console, rows

    out = io.StringIO()
    console = new_console(options, out)
    target, totals = doc["target"], doc["totals"]
    console.print(f"[bold]{escape(target['ref'])}[/]  {target['platform']}  Python {target['python_version'] or '?'}"
                  f"  user {target['user'] or 'root (unset)'}", soft_wrap=True)
    console.print(f"image {human(totals['image_bytes'])}   python {human(totals['python_bytes'])}   "
                  f"waste [bold red]{human(totals['waste_bytes'])}[/] (measured)")
    rows(console, "Layers", ("#", "bytes", "instruction"),
         [(str(x["index"]), human(x["size_bytes"]), escape(clip(x["instruction"], 160, ""))) for x in doc["layers"]],
         right=("#", "bytes"))
    chart = layer_chart([(x["index"], x["size_bytes"], x["instruction"]) for x in doc["layers"]])
    if chart is not None:
        console.print(chart)
    rows(console, "Distributions by size", ("name", "version", "bytes", "shared", "site"), [
        (escape(d["display_name"]), escape(d["version"]), human(d["size_bytes"]) if d["has_record"] else "no RECORD",
         human(d["shared_bytes"]) if d["shared_bytes"] else "", escape(d["site"])) for d in doc["distributions"]],
         right=("bytes", "shared"))
    cells = []
    for f in doc["findings"]:
        where = f["evidence"][0]["detail"] if f["evidence"] else ""
        cells.append((f"[bold]{escape(f['title'])}[/]\n{escape(f['subject'])}\n[dim]{escape(where)}[/]", f["owner"],
                      escape(f["fix"]), _savings(f)))
    rows(console, "Findings", ("finding", "owner", "fix", "bytes"), cells, right=("bytes",))
    for warning in doc["warnings"]:
        console.print(f"[yellow]warning:[/] {escape(warning)}", soft_wrap=True)
    return out.getvalue()


def _md(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def render_markdown(doc: dict[str, Any], options: RenderOptions | None = None) -> str:
    target, totals = doc["target"], doc["totals"]
    lines = [
        f"# Image report: `{target['ref']}`",
        "",
        f"- Platform: {target['platform']}; Python {target['python_version'] or 'unknown'}; "
        f"user: {target['user'] or 'root (unset)'}",
        f"- Image: {human(totals['image_bytes'])} ({totals['image_bytes']} bytes); Python: "
        f"{human(totals['python_bytes'])}; measured waste: {human(totals['waste_bytes'])}",
        "",
        "## Layers",
        "",
        "| # | bytes | instruction |",
        "|---:|---:|---|",
    ]
    lines += [f"| {x['index']} | {human(x['size_bytes'])} | `{_md(clip(x['instruction'], 160, ''))}` |"
              for x in doc["layers"]]
    lines += ["", "## Distributions by size", "", "| name | version | bytes | shared | site |",
              "|---|---|---:|---:|---|"]
    for d in doc["distributions"]:
        size = human(d["size_bytes"]) if d["has_record"] else "no RECORD"
        lines.append(f"| {_md(d['display_name'])} | {_md(d['version'])} | {size} | "
                     f"{human(d['shared_bytes']) if d['shared_bytes'] else ''} | `{d['site']}` |")
    lines += ["", "## Findings", "", "| finding | owner | fix | bytes |", "|---|---|---|---:|"]
    for f in doc["findings"]:
        where = f["evidence"][0]["detail"] if f["evidence"] else ""
        lines.append(f"| **{_md(f['title'])}** `{_md(f['subject'])}` ({_md(clip(where, 120, ''))}) | {f['owner']} | "
                     f"{_md(f['fix'])} | {_savings(f)} |")
    if doc["warnings"]:
        lines += ["", "## Warnings", ""] + [f"- {_md(w)}" for w in doc["warnings"]]
    return "\n".join(lines) + "\n"


def render_json(doc: dict[str, Any], options: RenderOptions) -> str:
    return json.dumps(doc, indent=2) + "\n"
