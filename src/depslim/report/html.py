"""The HTML format: one self-contained page a person would rather look at than read.

Charts first (a treemap of installed bytes coloured by verdict, an image's layer waterfall,
before/after bars), then the cut list and findings as sortable tables whose evidence links to
`file:line` when a repository URL is known. Everything is inline (CSS, SVG, a few lines of
JS) and a Content-Security-Policy forbids any fetch: the file opens offline, from a CI
artifact or an e-mail, and a hostile package name cannot make it load anything. Every value
passes `svg.esc` (redaction, then HTML escaping); the CLI's `emit` redacts the page again.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from importlib.resources import files
from typing import Any

from depslim.audit import AuditTable
from depslim.diffing import DiffReport
from depslim.gate import CheckResult
from depslim.model import Evidence, Finding, Report
from depslim.report.base import Format, Renderer, RenderOptions
from depslim.report.markdown import Links, links_from
from depslim.report.svg import (
    CATEGORIES,
    LayerBar,
    Pair,
    Tile,
    bars_svg,
    category,
    esc,
    legend_html,
    treemap_svg,
    waterfall_svg,
)
from depslim.units import human_bytes
from depslim.verdicts import is_cut

TREEMAP_TILES = 200  # beyond this the smallest packages share one "other" tile (the page stays light)
BARS_TOP = 20
CSP = "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:"


# ---------------------------------------------------------------------------------------------
# Page and tables


def _asset(filename: str) -> str:
    return files("depslim.report").joinpath(filename).read_text(encoding="utf-8")


def page(title: str, body: Iterable[str]) -> str:
    """The whole document: inline style and script, a CSP that allows no request at all."""
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta name="color-scheme" content="light dark">'
        f"<title>{esc(title)}</title><style>{_asset('html.css')}</style></head>\n"
        f"<body><main>\n{''.join(body)}\n</main>"
        '<p class="live" role="status" aria-live="polite" id="sort-status"></p>'
        f"<script>{_asset('html.js')}</script></body></html>\n"
    )


@dataclass(frozen=True)
class Cell:
    """A table cell: its HTML (already escaped) and the key it sorts by."""

    html: str
    sort: str | int | float | None = None


@dataclass(frozen=True)
class Column:
    title: str
    numeric: bool = False


def table(caption: str, columns: Sequence[Column], rows: Iterable[tuple[Sequence[Cell], Mapping[str, object]]],
          *, table_id: str, empty: str = "None.") -> str:
    """A sortable table: a button in every header (keyboard: Tab, Enter), `aria-sort` on the sorted
    one. `rows` are (cells, data attributes of the row)."""
    body = []
    for cells, attrs in rows:
        data = "".join(f' data-{key}="{esc(value)}"' for key, value in attrs.items())
        tds = "".join(
            f'<td{" class=num" if col.numeric else ""}'
            f'{"" if c.sort is None else f" data-sort={chr(34)}{esc(c.sort)}{chr(34)}"}>{c.html}</td>'
            for c, col in zip(cells, columns, strict=True)
        )
        body.append(f"<tr{data}>{tds}</tr>")
    if not body:
        return f'<section><h2>{esc(caption)}</h2><p class="empty">{esc(empty)}</p></section>'
    heads = "".join(
        f'<th scope="col"{" class=num" if col.numeric else ""} data-type="{"number" if col.numeric else "text"}">'
        f'<button type="button">{esc(col.title)}<span class="arrow" aria-hidden="true"></span></button></th>'
        for col in columns
    )
    return (
        f'<section><h2 id="{table_id}-h">{esc(caption)}</h2><div class="scroll">'
        f'<table class="sortable" id="{table_id}" aria-labelledby="{table_id}-h">'
        f"<thead><tr>{heads}</tr></thead><tbody>{''.join(body)}</tbody></table></div></section>"
    )


def text(value: object) -> Cell:
    return Cell(esc(value), str(value).lower())


def size(value: int | None, *, estimate: bool = False, missing: str = "—") -> Cell:
    if value is None:
        return Cell(esc(missing), -1)
    return Cell(esc(human_bytes(value, estimate=estimate)), value)


def location(path: str, line: int, links: Links | None) -> str:
    """`path:line`, a link when the repository is known and the URL is plain http(s)."""
    label = f"{path}:{line}" if line else path
    url = links.url(path, line) if links else None
    if url and url.lower().startswith(("https://", "http://")):
        return f'<a href="{esc(url)}"><code>{esc(label)}</code></a>'
    return f"<code>{esc(label)}</code>"


def evidence(items: Sequence[Evidence], links: Links | None, limit: int = 3) -> Cell:
    parts = []
    for item in items[:limit]:
        detail = f" {esc(item.kind)}{': ' + esc(item.detail) if item.detail else ''}"
        parts.append((location(item.path, item.line, links) if item.path else "") + detail)
    if len(items) > limit:
        parts.append(f"+{len(items) - limit} more")
    return Cell("<br>".join(parts) or "—", str(items[0]) if items else "")


def findings_table(caption: str, findings: Sequence[Finding], links: Links | None, table_id: str) -> str:
    ordered = sorted(findings, key=lambda f: (-(f.savings_bytes or 0), f.id))
    rows = [
        ([text(f.title), text(f.subject), text(f.owner), text(f.fix),
          size(f.savings_bytes, estimate=f.estimate), evidence(f.evidence, links)],
         {"id": f.id, "code": f.code, "bytes": "" if f.savings_bytes is None else f.savings_bytes})
        for f in ordered
    ]
    columns = [Column("Finding"), Column("Subject"), Column("Owner"), Column("Fix"), Column("Savings", True),
               Column("Evidence")]
    return table(caption, columns, rows, table_id=table_id)


def header(title: str, facts: Sequence[tuple[str, str]]) -> str:
    items = "".join(f"<div><dt>{esc(k)}</dt><dd>{esc(v)}</dd></div>" for k, v in facts)
    return f'<header><h1>{esc(title)}</h1><dl class="facts">{items}</dl></header>'


def figure(caption: str, chart: str, extra: str = "") -> str:
    return f"<figure>{chart}<figcaption>{esc(caption)}</figcaption>{extra}</figure>"


# ---------------------------------------------------------------------------------------------
# Treemap data


def tiles(items: Sequence[tuple[str, str, int, str]], limit: int = TREEMAP_TILES) -> list[Tile]:
    """(name, version, bytes, category) → tiles, largest first, the smallest grouped in one."""
    ordered = sorted((i for i in items if i[2] > 0), key=lambda i: (-i[2], i[0]))
    shown = [Tile(n, v, s, c) for n, v, s, c in ordered[:limit]]
    rest = ordered[limit:]
    if rest:
        shown.append(Tile("other", "", sum(i[2] for i in rest), "other", count=len(rest)))
    return shown


def treemap_figure(items: Sequence[tuple[str, str, int, str]], what: str, installed: int | None = None) -> str:
    """`installed` is the report's installed bytes (each file once): the caption shows that number, the
    one every command shows; tiles draw each distribution's own files, so a file two distributions
    share is in both tiles, and the caption says by how much the tiles add up to more."""
    shown = tiles(items)
    if not shown:
        return '<p class="empty">No installed bytes to draw.</p>'
    drawn = sum(t.size for t in shown)
    total = drawn if installed is None else installed
    biggest = ", ".join(f"{t.name} {human_bytes(t.size)} ({t.category})" for t in shown[:5] if t.count == 1)
    title = f"Installed bytes by distribution: {len(items)} {what}, {human_bytes(total)}"
    if drawn > total:
        title += f" (tiles add {human_bytes(drawn - total)} of files two distributions share, drawn in each)"
    chart = treemap_svg(shown, title=title, desc=f"Largest: {biggest}. Area is proportional to bytes.")
    used = [c for c in CATEGORIES if any(t.category == c for t in shown)]
    return figure(title, chart, legend_html(used))


def waste_by_layer(layers: Iterable[Any], findings: Iterable[Any] = ()) -> dict[int, int]:
    """The measured waste each layer added, overlaps removed: each layer's `waste_bytes`, which
    sum to `totals.waste_bytes` (a file two findings claim is counted once).

    Only a document that predates per-layer waste (no layer has any) falls back to what the
    findings attribute (their `data.layers`), which can count a file twice."""
    out: dict[int, int] = {}
    for layer in layers:
        index = layer.get("index") if isinstance(layer, Mapping) else layer.index
        waste = layer.get("waste_bytes") if isinstance(layer, Mapping) else layer.waste_bytes
        if isinstance(index, int) and isinstance(waste, int) and waste > 0:
            out[index] = waste
    if out:
        return out
    out = {}
    for f in findings:
        data = f.get("data", {}) if isinstance(f, Mapping) else f.data
        estimate = f.get("estimate") if isinstance(f, Mapping) else f.estimate
        by_layer = data.get("layers") if isinstance(data, Mapping) else None
        if estimate or not isinstance(by_layer, Mapping):
            continue
        for key, value in by_layer.items():
            if str(key).lstrip("-").isdigit() and isinstance(value, int):
                out[int(key)] = out.get(int(key), 0) + value
    return out


def waterfall_figure(layers: Sequence[tuple[int, int, str]], waste: Mapping[int, int]) -> str:
    bars = [LayerBar(i, s, min(waste.get(i, 0), s), instr) for i, s, instr in layers]
    total_waste = sum(b.waste for b in bars)
    title = f"Layers: {len(bars)} layers, {human_bytes(sum(b.size for b in bars))}, {human_bytes(total_waste)} waste"
    desc = ("Each bar is one layer's bytes, starting where the previous layers end; the hatched part is "
            "the measured waste that layer added, each file counted once.")
    return figure(title, waterfall_svg(bars, title=title, desc=desc))


# ---------------------------------------------------------------------------------------------
# analyze


def render_report(report: Report, *, links: Links | None = None) -> str:
    s, t = report.summary, report.target
    swappable = frozenset(f.subject for f in report.findings if f.code == "swap")
    items = [(d.name, d.version or "", d.size_bytes, category(d, swappable))
             for d in report.distributions if d.installed]
    body = [header(f"depslim: {report.project or t.ref}", [
        ("target", f"{t.kind} {t.ref} (Python {t.python_version or '?'}, {t.platform or '?'})"),
        ("cut list", f"{s.cut_count} packages, frees {human_bytes(s.cut_bytes)}"),
        ("runtime", f"{s.runtime} of {s.declared} declared needed at runtime"),
        ("installed", f"{s.installed} distributions, {human_bytes(s.installed_bytes)}"),
        ("findings", f"{s.findings} ({s.problems} import problems)"),
    ])]
    body.append(treemap_figure(items, "distributions", s.installed_bytes))
    if t.layers:
        body.append(waterfall_figure([(x.index, x.size_bytes, x.instruction) for x in t.layers],
                                     waste_by_layer(t.layers, report.findings)))
    cut = sorted((d for d in report.distributions if is_cut(d.verdict, report.scope) and not d.dev_declared),
                 key=lambda d: (-d.retained_bytes, d.name))
    body.append(table("Cut list", [Column("Package"), Column("Version"), Column("Frees", True), Column("Verdict"),
                                   Column("Evidence")], [
        ([text(d.name), text(d.version or "—"), size(d.retained_bytes if d.installed else None,
                                                     missing="not installed"),
          text(d.verdict or ""), evidence(_cut_evidence(d), links)],
         {"name": d.name, "bytes": d.retained_bytes if d.installed else ""})
        for d in cut], table_id="cut", empty="Nothing to cut: every declared runtime dependency is used."))
    body.append(findings_table("Findings", report.findings, links, "findings"))
    body.append(table("All distributions", [Column("Package"), Column("Version"), Column("Bytes", True),
                                            Column("Retained", True), Column("Colour"), Column("Evidence")], [
        ([text(d.name), text(d.version or "—"), size(d.size_bytes if d.installed else None, missing="not installed"),
          size(d.retained_bytes if d.installed else None), text(category(d, swappable)),
          evidence(d.evidence or tuple(Evidence(x.path, x.line, "declared") for x in d.declared_at), links, 2)],
         {"name": d.name, "bytes": d.size_bytes})
        for d in sorted(report.distributions, key=lambda d: (-d.size_bytes, d.name))], table_id="dists"))
    body.append(_notes(list(report.warnings) + [f"{u.name} not measured: {u.reason}" for u in report.unmeasured]))
    body.append(_footer(report.tool_version))
    return page(f"depslim report: {report.project or t.ref}", body)


def _measured(value: int | None) -> str:
    """A size, or "not measured" (a current/projected size the target could not give)."""
    return "not measured" if value is None else human_bytes(value)


def _cut_evidence(dist: Any) -> tuple[Evidence, ...]:
    declared = tuple(Evidence(loc.path, loc.line, "declared") for loc in dist.declared_at[:1])
    return declared + tuple(e for e in dist.evidence if e.kind != "declared")


def _notes(notes: Sequence[str]) -> str:
    if not notes:
        return ""
    items = "".join(f"<li>{esc(n)}</li>" for n in notes)
    return f'<section><h2>Warnings and notes</h2><ul class="notes">{items}</ul></section>'


def _footer(version: str = "") -> str:
    return (f'<footer>depslim{" " + esc(version) if version else ""} · sizes are measured in the target; '
            "estimates are marked ~ (est.) · decimal units (1 MB = 10<sup>6</sup> bytes)</footer>")


# ---------------------------------------------------------------------------------------------
# image (the document `depslim image --format json` prints)


def render_image(doc: Mapping[str, Any], *, links: Links | None = None) -> str:
    target, totals = doc["target"], doc["totals"]
    needed = {req for d in doc["distributions"] for req in _requirement_names(d.get("requires", ()))}
    items = [(d["name"], d.get("version") or "", int(d["size_bytes"]),
              "pulled-in" if d["name"] in needed else "undeclared") for d in doc["distributions"]]
    body = [header(f"depslim image: {target['ref']}", [
        ("platform", f"{target.get('platform') or '?'}, Python {target.get('python_version') or '?'}"),
        ("user", target.get("user") or "root (unset)"),
        ("image", human_bytes(totals.get("image_bytes"))),
        ("python", human_bytes(totals.get("python_bytes"))),
        ("waste", f"{human_bytes(totals.get('waste_bytes'))} (measured)"),
    ])]
    findings = [_finding_record(f) for f in doc["findings"]]
    body.append(waterfall_figure([(x["index"], x["size_bytes"], x["instruction"]) for x in doc["layers"]],
                                 waste_by_layer(doc["layers"], doc["findings"])))
    body.append(treemap_figure(items, "distributions", totals.get("python_bytes")))
    body.append(findings_table("Findings", findings, links, "findings"))
    body.append(table("Layers", [Column("#", True), Column("Bytes", True), Column("Instruction")], [
        ([Cell(str(x["index"]), x["index"]), size(x["size_bytes"]), Cell(f"<code>{esc(x['instruction'])}</code>",
                                                                       str(x["instruction"]))],
         {"index": x["index"], "bytes": x["size_bytes"]}) for x in doc["layers"]], table_id="layers"))
    body.append(table("Distributions by size", [Column("Package"), Column("Version"), Column("Bytes", True),
                                                Column("Shared", True), Column("Site")], [
        ([text(d["display_name"]), text(d["version"]), size(d["size_bytes"]), size(d["shared_bytes"] or None),
          text(d["site"])], {"name": d["name"], "bytes": d["size_bytes"]}) for d in doc["distributions"]],
        table_id="dists"))
    body.append(_notes(doc.get("warnings", [])))
    body.append(_footer(doc.get("tool_version", "")))
    return page(f"depslim image: {target['ref']}", body)


def _requirement_names(requires: Iterable[str]) -> set[str]:
    """Canonical names a list of Requires-Dist strings names (extras' ones too: good enough to say
    "pulled in" rather than "not needed by anything")."""
    import re

    from packaging.utils import canonicalize_name

    out: set[str] = set()
    for req in requires:
        match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", str(req))
        if match:
            out.add(canonicalize_name(match.group(1)))
    return out


def _finding_record(f: Mapping[str, Any]) -> Finding:
    from depslim.model import Owner

    try:
        owner = Owner(f["owner"])
    except ValueError:
        owner = Owner.DEVOPS
    return Finding(id=f["id"], code=f["code"], title=f["title"], owner=owner, fix=f["fix"],
                   savings_bytes=f["savings_bytes"], estimate=f["estimate"], subject=f["subject"],
                   severity=f["severity"],
                   evidence=tuple(Evidence(e["path"], e["line"], e["kind"], e["detail"]) for e in f["evidence"]),
                   data=f.get("data", {}))


# ---------------------------------------------------------------------------------------------
# diff, check, audit, verify


def render_diff(diff: DiffReport, *, links: Links | None = None) -> str:
    change = human_bytes(diff.total_delta, signed=True) if diff.total_delta is not None else "sizes unknown"
    body = [header(f"depslim diff: {change}", [
        ("compared", f"{diff.base} → {diff.head} ({diff.mode})"),
        ("python bytes", f"{human_bytes(diff.base_bytes)} → {human_bytes(diff.head_bytes)}"),
        ("headline", diff.headline or "—"),
    ])]
    moved = sorted((c for c in diff.changes if c.delta is not None), key=lambda c: (-abs(c.delta or 0), c.name))
    pairs = [Pair("total", diff.base_bytes, diff.head_bytes)] if diff.sizes_known else []
    pairs += [Pair(c.name, c.base_bytes if c.kind != "added" else None,
                   c.head_bytes if c.kind != "removed" else None) for c in moved[:BARS_TOP]]
    if pairs:
        title = f"Before/after: the total and the {min(len(moved), BARS_TOP)} biggest changes"
        body.append(figure(title, bars_svg(pairs, title=title, desc="Base and head bytes of each package, "
                                           "one scale.", before=f"base {diff.base}", after=f"head {diff.head}")))
    body.append(table("Changes", [Column("Change"), Column("Package"), Column("Base", True), Column("Head", True),
                                  Column("Δ bytes", True), Column("Evidence")], [
        ([text(c.kind), text(f"{c.swapped_from} → {c.name}" if c.swapped_from else c.name),
          size(c.base_bytes), size(c.head_bytes),
          Cell(esc(human_bytes(c.delta, signed=True)) if c.delta is not None else "unknown", c.delta or 0),
          evidence(c.evidence or tuple(Evidence(x.path, x.line, "declared") for x in c.declared_at), links, 2)],
         {"name": c.name, "delta": "" if c.delta is None else c.delta}) for c in diff.changes], table_id="changes",
        empty="No distribution was added, removed or changed."))
    if diff.new_findings:
        body.append(findings_table("New findings", diff.new_findings, links, "new"))
    if diff.resolved_findings:
        body.append(findings_table("Resolved findings", diff.resolved_findings, links, "resolved"))
    body.append(_notes(diff.notes))
    body.append(_footer())
    return page(f"depslim diff: {diff.base} → {diff.head}", body)


def render_check(result: CheckResult, *, links: Links | None = None) -> str:
    status = result.summary()
    body = [header(f"depslim check: {status}", [("target", f"{result.target.kind} {result.target.ref}")])]
    order = {"fail": 0, "unmeasured": 1, "pass": 2}
    rows = [
        ([Cell(f'<span class="status s-{esc(r.status)}">{esc(r.status)}</span>', order.get(r.status, 3)),
          text(r.what), Cell(esc(r.limit), r.limit_value if r.limit_value is not None else -1),
          Cell(esc(r.actual), r.actual_value if r.actual_value is not None else -1),
          text(", ".join(str(c) for c in r.contributors) + (f" — {r.note}" if r.note else "")),
          evidence(r.evidence, links)],
         {"rule": r.rule, "status": r.status})
        for r in sorted(result.results, key=lambda r: order.get(r.status, 3))
    ]
    columns = [Column("Result"), Column("Budget"), Column("Limit", True), Column("Actual", True),
               Column("Top contributors"), Column("Evidence")]
    body.append(table("Budgets", columns, rows, table_id="budgets", empty="No budgets set."))
    body.append(_notes(result.warnings))
    body.append(_footer())
    return page(f"depslim check: {status}", body)


def render_audit(table_: AuditTable, *, links: Links | None = None) -> str:
    body = [header("depslim audit", [
        ("current", f"{_measured(table_.current_bytes)} ({table_.current_source})"),
        ("savings", human_bytes(table_.savings_bytes)),
        ("projected", _measured(table_.projected_bytes)),
        *([("floor", table_.floor_text.removeprefix("floor: "))] if table_.floor_text else []),
    ])]
    if table_.current_bytes is not None:
        title = "Before/after all fixes"
        body.append(figure(title, bars_svg([Pair("size", table_.current_bytes, table_.projected_bytes)],
                                           title=title, desc="Current size and projected size after every fix.",
                                           before="now", after="after every fix")))
    body.append(findings_table("Findings", [row.finding for row in table_.rows], links, "findings"))
    body.append(_notes(table_.notes))
    body.append(_footer())
    return page("depslim audit", body)


def render_verify(report: Any, *, links: Links | None = None) -> str:
    from depslim.verify.report import summary_line

    body = [header(f"depslim verify: {report.project}", [("result", summary_line(report))])]
    if report.baseline is not None:
        title = "Image bytes before/after"
        body.append(figure(title, bars_svg([Pair("image", report.baseline.bytes, report.image.bytes)], title=title,
                                           desc="The baseline image and the slim image, one scale.",
                                           before=f"baseline {report.baseline.ref}",
                                           after=f"slim {report.image.ref}")))
    rows = [([Cell(f'<span class="status s-{"pass" if c.ok else "fail"}">{"ok" if c.ok else "failed"}</span>',
                   int(c.ok)), text(c.check), text(c.target), text(c.message or ""), text(c.fix or "")],
             {"check": c.check, "ok": str(c.ok).lower()}) for c in report.checks]
    body.append(table("Checks", [Column("Result"), Column("Check"), Column("Target"), Column("Message"),
                                 Column("Fix")], rows, table_id="checks"))
    if report.audit is not None:
        body.append(findings_table("Baseline audit", [r.finding for r in report.audit.rows], links, "findings"))
    body.append(_notes(report.notes))
    body.append(_footer())
    return page(f"depslim verify: {report.project}", body)


def render(obj: Any, *, links: Links | None = None) -> str:
    """Any depslim result as one self-contained HTML page."""
    if isinstance(obj, Report):
        return render_report(obj, links=links)
    if isinstance(obj, DiffReport):
        return render_diff(obj, links=links)
    if isinstance(obj, CheckResult):
        return render_check(obj, links=links)
    if isinstance(obj, AuditTable):
        return render_audit(obj, links=links)
    if isinstance(obj, Mapping) and "layers" in obj and "totals" in obj:
        return render_image(obj, links=links)
    if type(obj).__name__ == "VerifyReport":
        return render_verify(obj, links=links)
    raise TypeError(f"cannot render {type(obj).__name__} as HTML")


def _renderer(function: Any) -> Renderer:
    """A `(report, RenderOptions)` renderer: links to file:line from the options' repository URL,
    ref and prefix, as the Markdown format makes them."""

    def call(value: Any, options: RenderOptions) -> str:
        return str(function(value, links=links_from(options.repository_url, ref=options.ref,
                                                    prefix=options.prefix)))

    call.__name__ = function.__name__
    return call


# The stamp is an HTML comment before the doctype (allowed there; no quirks mode), so rerunning
# `-o report.html` replaces depslim's own page and refuses a hand-edited one, as for `.md`.
FORMAT = Format("html", (".html", ".htm"), {
    "analyze": _renderer(render_report), "image": _renderer(render_image), "audit": _renderer(render_audit),
    "diff": _renderer(render_diff), "check": _renderer(render_check), "verify": _renderer(render_verify),
}, comment="<!--")
