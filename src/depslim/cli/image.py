"""`depslim image REF`: what an image ships, per layer and per distribution, and its waste.

Self-contained on the image target and its findings (no project scan): the quick look a
DevOps engineer takes before `depslim analyze --image`.
"""

from __future__ import annotations

import io
import json
from collections import Counter
from pathlib import Path
from typing import Any

import click

from depslim import __version__
from depslim.cli.options import emit, output_options, refuse_overwrite
from depslim.cli.progress import progress_for_terminal
from depslim.model import SCHEMA_VERSION, Finding
from depslim.redact import clip
from depslim.targets.image import ImageTarget, open_image
from depslim.units import human_bytes as human


def _finding_dict(finding: Finding) -> dict[str, Any]:
    return {
        "id": finding.id, "code": finding.code, "title": finding.title, "owner": str(finding.owner),
        "fix": finding.fix, "savings_bytes": finding.savings_bytes, "estimate": finding.estimate,
        "subject": finding.subject, "severity": finding.severity,
        "evidence": [{"path": e.path, "line": e.line, "kind": e.kind, "detail": e.detail} for e in finding.evidence],
        "data": dict(finding.data),
    }


def build_document(target: ImageTarget) -> dict[str, Any]:
    """The stable JSON document (also what the terminal and Markdown views render)."""
    info = target.info()
    dists = target.distributions()
    owners = Counter(f.path for d in dists for f in d.files)
    distributions = []
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
        "totals": dict(info.totals),
        "layers": [
            {"index": layer.index, "digest": layer.digest, "size_bytes": layer.size_bytes,
             "instruction": layer.instruction}
            for layer in info.layers
        ],
        "distributions": distributions,
        "findings": [_finding_dict(f) for f in target.findings()],
        "warnings": target.warnings,
    }


def _savings(finding: dict[str, Any]) -> str:
    text = human(finding["savings_bytes"])
    return f"~{text} (est.)" if finding["estimate"] and finding["savings_bytes"] is not None else text


def render_terminal(doc: dict[str, Any], file: Any = None, width: int | None = None) -> None:
    """Rich tables: summary, layers, distributions by size, findings."""
    from rich.table import Table

    from depslim.redact import console as redacting_console
    from depslim.report.terminal import layer_chart

    console = redacting_console(file=file, width=width, highlight=False, soft_wrap=False)
    target, totals = doc["target"], doc["totals"]
    console.print(f"[bold]{target['ref']}[/]  {target['platform']}  Python {target['python_version'] or '?'}"
                  f"  user {target['user'] or 'root (unset)'}")
    console.print(f"image {human(totals['image_bytes'])}   python {human(totals['python_bytes'])}   "
                  f"waste [bold red]{human(totals['waste_bytes'])}[/] (measured)")
    layers = Table(title="Layers", title_justify="left")
    layers.add_column("#", justify="right")
    layers.add_column("bytes", justify="right")
    layers.add_column("instruction", overflow="ellipsis", no_wrap=True, max_width=90)
    for layer in doc["layers"]:
        layers.add_row(str(layer["index"]), human(layer["size_bytes"]), layer["instruction"])
    console.print(layers)
    chart = layer_chart([(x["index"], x["size_bytes"], x["instruction"]) for x in doc["layers"]])
    if chart is not None:
        console.print(chart)
    dists = Table(title="Distributions by size", title_justify="left")
    for col, justify in (("name", "left"), ("version", "left"), ("bytes", "right"), ("shared", "right"),
                         ("site", "left")):
        dists.add_column(col, justify=justify)  # type: ignore[arg-type]
    for dist in doc["distributions"]:
        size = human(dist["size_bytes"]) if dist["has_record"] else "no RECORD"
        dists.add_row(dist["display_name"], dist["version"], size,
                      human(dist["shared_bytes"]) if dist["shared_bytes"] else "", dist["site"])
    console.print(dists)
    findings = Table(title="Findings", title_justify="left")
    for col in ("finding", "owner", "fix", "bytes"):
        findings.add_column(col, justify="right" if col == "bytes" else "left")
    for finding in doc["findings"]:
        where = finding["evidence"][0]["detail"] if finding["evidence"] else ""
        findings.add_row(f"[bold]{finding['title']}[/]\n{finding['subject']}\n[dim]{where}[/]",
                         finding["owner"], finding["fix"], _savings(finding))
    console.print(findings)
    for warning in doc["warnings"]:
        console.print(f"[yellow]warning:[/] {warning}")


def _md(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def render_markdown(doc: dict[str, Any]) -> str:
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


@click.command("image")
@click.argument("ref")
@click.option("--platform", default=None, help="Platform of a multi-platform image, e.g. linux/amd64.")
@output_options(["terminal", "json", "markdown", "html"])
def command(ref: str, platform: str | None, fmt: str, output: Path | None, force: bool) -> None:
    """Measure an image: layers, per-distribution sizes and waste findings.

    REF is a docker-archive or oci-archive tar, an OCI layout directory, or an image in the
    Docker engine (docker:NAME[:TAG], or a bare name). Nothing in the image is run.
    """
    refuse_overwrite(output, force=force)
    with progress_for_terminal() as progress:
        target = open_image(ref, platform=platform, progress=progress)
    doc = build_document(target)
    if fmt == "json":
        emit(json.dumps(doc, indent=2) + "\n", output, force=force)
    elif fmt == "markdown":
        emit(render_markdown(doc), output, force=force)
    elif fmt == "html":
        from depslim.report.html import render_image

        emit(render_image(doc), output, force=force)
    elif output is None:
        render_terminal(doc)
    else:
        buffer = io.StringIO()
        render_terminal(doc, file=buffer, width=160)
        emit(buffer.getvalue(), output, force=force)
