"""The terminal format: rich tables for every report kind, at the real terminal width.

Paths, URLs and commands must stay copyable, so no cell ever folds mid-token: table columns are
`no_wrap`, and when a table does not fit the width (`RenderOptions.width`) the rows become a
list whose lines the terminal soft-wraps (`rows`). Colour is `RenderOptions.color`.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.markup import escape
from rich.measure import Measurement
from rich.table import Table
from rich.tree import Tree

from depslim.model import IMPORT_FINDING_CODES, DistributionReport, Finding, Report, import_findings_title
from depslim.redact import console as redacting_console
from depslim.report.bars import Bar, BarChart
from depslim.report.base import Format, RenderOptions, cut_estimated_bytes, cut_frees
from depslim.units import human_bytes
from depslim.verdicts import is_kept

if TYPE_CHECKING:
    from depslim.diffing import DiffReport
    from depslim.gate import CheckResult

PROBLEM_CODES = IMPORT_FINDING_CODES
TREE_TOP = 8
BARS_TOP = 10
_VERDICT_STYLE = {"runtime": "green", "implicit": "cyan", "dev-only": "yellow", "unused": "red",
                  "unreachable": "magenta", "typing-only": "yellow"}


def heaviest_chart(report: Report, top: int = BARS_TOP) -> BarChart | None:
    """The heaviest installed packages as bars, each with its verdict (or "pulled in")."""
    heavy = sorted((d for d in report.distributions if d.installed and d.size_bytes > 0),
                   key=lambda d: (-d.size_bytes, d.name))[:top]
    if not heavy:
        return None
    bars = []
    for d in heavy:
        verdict = str(d.verdict) if d.verdict else ("pulled in" if d.required_by else "not declared")
        bars.append(Bar(d.name, d.size_bytes, verdict, _VERDICT_STYLE.get(verdict, "blue")))
    return BarChart(f"heaviest packages (top {len(bars)} of {sum(1 for d in report.distributions if d.installed)})",
                    bars)


def layer_chart(layers: Sequence[tuple[int, int, str]]) -> BarChart | None:
    """An image's layers as bars: `(index, bytes, instruction)`, labelled `#i instruction`."""
    bars = [Bar(f"#{i} {' '.join(instr.split())}", size) for i, size, instr in layers if size > 0]
    return BarChart("layers", bars) if bars else None


def _evidence_text(finding: Finding, limit: int = 2) -> str:
    shown = [str(e) for e in finding.evidence[:limit]]
    more = len(finding.evidence) - limit
    return escape("; ".join(shown) + (f" (+{more} more)" if more > 0 else ""))


def summary(report: Report) -> Table:
    s = report.summary
    t = report.target
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold")
    table.add_column()
    table.add_row("target", escape(f"{t.kind} {t.ref} (Python {t.python_version or '?'}, {t.platform or '?'})"))
    if report.project:
        table.add_row("project", escape(report.project))
        table.add_row("declared", f"{s.declared} distributions, {s.runtime} needed at runtime")
        estimated = cut_estimated_bytes(report.findings)
        extra = f" + {human_bytes(estimated, estimate=True)} for packages not installed" if estimated else ""
        table.add_row(
            "cut list",
            f"{s.cut_count} distributions, frees {human_bytes(s.cut_bytes)} measured in the target{extra}",
        )
    table.add_row("installed", f"{s.installed} distributions, {human_bytes(s.installed_bytes)}")
    if report.project:
        from depslim.gate import runtime_closure_bytes

        measured = runtime_closure_bytes(report)
        closure = human_bytes(measured) if measured is not None else "not measured (no runtime package installed here)"
        table.add_row("runtime closure", closure)
    table.add_row("findings", f"{s.findings} ({s.problems} import problems)")
    return table


def new_console(options: RenderOptions, file: io.StringIO) -> Console:
    """A recording console at the options' width, coloured only when asked."""
    return redacting_console(file=file, width=options.width, highlight=False, force_terminal=options.color,
                             color_system="standard" if options.color else None, soft_wrap=False)


def rows(console: Console, title: str, headers: Sequence[str], cells: Sequence[Sequence[str]],
         right: Iterable[str] = ()) -> None:
    """Print a table when it fits the console's width, else one block per row.

    Columns are `no_wrap`: rich's `overflow="fold"` split `--extra-index-url` into `--extra-inde` /
    `x-url`, and a fix that cannot be copied is no fix. The list layout prints each value whole
    (soft-wrapped by the terminal), so below the table's width nothing is cut either."""
    aligned = set(right)
    table = Table(title=title, title_justify="left", expand=False)
    for header in headers:
        table.add_column(header, no_wrap=True, justify="right" if header in aligned else "left")
    for row in cells:
        table.add_row(*row)
    if Measurement.get(console, console.options.update_width(10_000), table).maximum <= console.width:
        console.print(table)
        return
    console.print(f"[bold]{title}[/]", soft_wrap=True)
    for row in cells:
        console.print("• " + row[0].replace("\n", "\n  "), soft_wrap=True)
        for header, value in zip(headers[1:], row[1:], strict=False):
            if value:
                console.print(f"  [dim]{escape(header)}:[/] " + value.replace("\n", "\n    "), soft_wrap=True)


def findings_rows(console: Console, title: str, findings: Sequence[Finding]) -> None:
    rows(console, title, ("finding", "owner", "fix", "saving", "evidence"), [
        (escape(f.title), f.owner.value, escape(f.fix), human_bytes(f.savings_bytes, estimate=f.estimate),
         _evidence_text(f)) for f in findings], right=("saving",))


def cut_rows(console: Console, findings: Sequence[Finding]) -> None:
    """The cut list, one compact row a package: what it is, what cutting it frees, the proof."""
    cells = []
    for f in findings:
        size, estimate = cut_frees(f)
        frees = human_bytes(size, estimate=estimate) if size is not None else "not installed"
        proof = [e for e in f.evidence if e.kind != "declared"] or list(f.evidence)
        cells.append((f"[bold]{escape(f.subject)}[/]", str(f.data.get("verdict", "")), frees,
                      escape(str(proof[0])) if proof else ""))
    rows(console, "Cut list (not needed at runtime)", ("package", "verdict", "frees", "evidence"), cells,
         right=("frees",))


def runtime_tree(report: Report) -> Tree | None:
    """The heaviest runtime distributions and what they pull in (retained bytes)."""
    by_name = {d.name: d for d in report.distributions}
    roots = [d for d in report.distributions if is_kept(d.verdict, report.scope) and d.installed]
    if not report.project:
        roots = [d for d in report.distributions if d.installed and not d.required_by]
    roots.sort(key=lambda d: -d.retained_bytes)
    if not roots:
        return None
    tree = Tree("[bold]heaviest runtime distributions[/] (retained bytes)")

    def label(d: DistributionReport) -> str:
        return f"{escape(d.name)} {escape(d.version or '')}  [cyan]{human_bytes(d.retained_bytes)}[/]"

    for dist in roots[:TREE_TOP]:
        node = tree.add(label(dist))
        children = sorted((by_name[c] for c in dist.requires if c in by_name), key=lambda d: -d.size_bytes)
        for child in children[:5]:
            node.add(f"{escape(child.name)} {escape(child.version or '')}  {human_bytes(child.size_bytes)}")
        if len(children) > 5:
            node.add(f"[dim]… {len(children) - 5} more[/]")
    return tree


def _split(findings: Iterable[Finding]) -> tuple[list[Finding], list[Finding], list[Finding]]:
    cut: list[Finding] = []
    problems: list[Finding] = []
    other: list[Finding] = []
    for f in findings:
        (cut if f.code.startswith("cut-") else problems if f.code in PROBLEM_CODES else other).append(f)
    return cut, problems, other


def render_analyze(report: Report, options: RenderOptions) -> str:
    """Summary, bar charts (heaviest packages, an image's layers), cut list, import problems, other findings,
    heaviest runtime tree, notes."""
    buffer = io.StringIO()
    console = new_console(options, buffer)
    cut, problems, other = _split(report.findings)
    console.print(summary(report))
    # the charts lay themselves out at print time: this console's width, blocks only in colour
    for chart in (heaviest_chart(report),
                  layer_chart([(x.index, x.size_bytes, x.instruction) for x in report.target.layers])):
        if chart is not None:
            console.print(chart)
    if cut:
        cut_rows(console, cut)
    if problems:
        findings_rows(console, import_findings_title(problems), problems)
    if other:
        findings_rows(console, "Other findings", other)
    tree = runtime_tree(report)
    if tree is not None:
        console.print(tree)
    shown = None if options.verbose else 10  # --verbose: every note, not the first few
    if report.unmeasured:
        notes = ", ".join(f"{u.name} ({u.reason})" for u in report.unmeasured[:shown])
        more = len(report.unmeasured) - len(report.unmeasured[:shown])
        console.print(f"[dim]unmeasured: {escape(notes)}{f' (+{more} more; --verbose)' if more > 0 else ''}[/]",
                      soft_wrap=True)
    for warning in report.warnings[: None if options.verbose else 20]:
        console.print(f"[yellow]warning:[/] {escape(warning)}", soft_wrap=True)
    return buffer.getvalue()


def render(report: Report) -> str:
    """Plain text of an analyze report at 100 columns (kept for callers of the old module API)."""
    return render_analyze(report, RenderOptions())


def render_check(result: CheckResult, options: RenderOptions) -> str:
    """One line per budget, then the verdict."""
    from depslim.gate import FAIL, PASS

    buffer = io.StringIO()
    console = new_console(options, buffer)
    style = {FAIL: "bold red", PASS: "green"}
    for r in result.results:
        console.print(f"[{style.get(r.status, 'yellow')}]{escape(r.line())}[/]", soft_wrap=True)
    colour = "bold red" if result.failures else "yellow" if "not measured" in result.summary() else "green"
    console.print(f"[{colour}]depslim check: {escape(result.summary())}[/]", soft_wrap=True)
    return buffer.getvalue()


def _diff_why(c: Any) -> str:
    imports = [e for e in c.evidence if e.kind.endswith("import")]
    if imports and c.module:
        return f"import {c.module} in {imports[0].path}:{imports[0].line}"
    if c.declared_at:
        return f"declared at {c.declared_at[0]}"
    if c.required_by:
        return "required by " + ", ".join(c.required_by[:3])
    return ""


def render_diff(diff: DiffReport, options: RenderOptions) -> str:
    """Headline, one row per changed distribution (declaration changes at 0 bytes included), totals."""
    from depslim.gate import format_bytes

    buffer = io.StringIO()
    console = new_console(options, buffer)
    console.print(f"[bold]{escape(diff.headline)}[/]", soft_wrap=True)
    console.print(f"[dim]{escape(diff.base)} → {escape(diff.head)} ({diff.mode})[/]", soft_wrap=True)
    cells = []
    for c in diff.changes:
        name = f"{c.swapped_from} → {c.name}" if c.swapped_from else c.name
        if c.cuda:
            name += " (+CUDA)"
        delta = format_bytes(c.delta, signed=True) if c.delta is not None else "unknown"
        cells.append((c.kind, escape(name), escape(c.base_version or "—"), escape(c.head_version or "—"), delta,
                      escape(_diff_why(c))))
    if cells:
        rows(console, "Changes", ("change", "package", "base", "head", "Δ bytes", "why"), cells, right=("Δ bytes",))
    if diff.sizes_known:
        console.print(f"total: {format_bytes(diff.base_bytes)} → {format_bytes(diff.head_bytes)} "
                      f"({format_bytes(diff.total_delta, signed=True)})")
    if diff.image_delta is not None:
        console.print(f"image: {format_bytes(diff.image_delta, signed=True)}")
    for title, findings in (("new findings", diff.new_findings), ("resolved findings", diff.resolved_findings)):
        if findings:
            console.print(f"[bold]{title} ({len(findings)})[/]")
            for f in findings:
                console.print(f"  {escape(f.id)}: {escape(f.title)}", soft_wrap=True)
    for note in diff.notes:
        console.print(f"[yellow]note:[/] {escape(note)}", soft_wrap=True)
    return buffer.getvalue()


def _audit(table: Any, options: RenderOptions) -> str:
    from depslim.audit import render_terminal

    return render_terminal(table, width=options.width, color=options.color)


def _image(doc: dict[str, Any], options: RenderOptions) -> str:
    from depslim.imagedoc import render_terminal

    return render_terminal(doc, options)


def _estimate(result: Any, options: RenderOptions) -> str:
    from depslim.estimate import render_terminal

    return render_terminal(result, options)


def _verify(report: Any, options: RenderOptions) -> str:
    from depslim.verify.report import render_terminal

    return render_terminal(report)


FORMAT = Format("terminal", (".txt",), {
    "analyze": render_analyze, "check": render_check, "diff": render_diff, "audit": _audit, "image": _image,
    "estimate": _estimate, "verify": _verify,
}, comment="#")
