"""The terminal format: summary, cut list, problems, other findings, heaviest runtime tree.

`renderables(report)` builds rich objects once; the CLI prints them to a real console
(colour, width) and `render(report)` records them as plain text for `--output`.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Sequence

from rich.console import Group, RenderableType
from rich.markup import escape
from rich.table import Table
from rich.tree import Tree

from depslim.model import IMPORT_FINDING_CODES, DistributionReport, Finding, Report
from depslim.redact import console as redacting_console
from depslim.report.bars import Bar, BarChart
from depslim.units import human_bytes
from depslim.verdicts import is_kept

name = "terminal"
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
        estimated = sum(
            f.savings_bytes or 0 for f in report.findings if f.code.startswith("cut-") and f.estimate
        )
        extra = f" + {human_bytes(estimated, estimate=True)} for packages not installed" if estimated else ""
        table.add_row(
            "cut list",
            f"{s.cut_count} distributions, frees {human_bytes(s.cut_bytes)} measured in the target{extra}",
        )
    table.add_row("installed", f"{s.installed} distributions, {human_bytes(s.installed_bytes)}")
    if report.project:
        kept_installed = any(d.installed and is_kept(d.verdict, report.scope) for d in report.distributions)
        closure = human_bytes(s.runtime_bytes) if kept_installed else "not measured (no runtime package installed here)"
        table.add_row("runtime closure", closure)
    table.add_row("findings", f"{s.findings} ({s.problems} import problems)")
    return table


def findings_table(title: str, findings: Sequence[Finding]) -> Table:
    table = Table(title=title, title_justify="left", expand=False, show_lines=False)
    table.add_column("finding", overflow="fold")
    table.add_column("owner")
    table.add_column("fix", overflow="fold")
    table.add_column("saving", justify="right")
    table.add_column("evidence", overflow="fold")
    for f in findings:
        table.add_row(
            escape(f.title), f.owner.value, escape(f.fix), human_bytes(f.savings_bytes, estimate=f.estimate),
            _evidence_text(f),
        )
    return table


def cut_table(findings: Sequence[Finding]) -> Table:
    """The cut list, one compact row a package: what it is, what cutting it frees, the proof."""
    table = Table(title="Cut list (not needed at runtime)", title_justify="left")
    table.add_column("package", style="bold")
    table.add_column("verdict")
    table.add_column("frees", justify="right")
    table.add_column("evidence", overflow="fold")
    for f in findings:
        frees = human_bytes(f.savings_bytes, estimate=f.estimate) if f.savings_bytes is not None else "not installed"
        proof = [e for e in f.evidence if e.kind != "declared"] or list(f.evidence)
        table.add_row(escape(f.subject), str(f.data.get("verdict", "")), frees, escape(str(proof[0])) if proof else "")
    return table


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
    cut, problems, other = [], [], []
    for f in findings:
        (cut if f.code.startswith("cut-") else problems if f.code in PROBLEM_CODES else other).append(f)
    return cut, problems, other


def renderables(report: Report) -> list[RenderableType]:
    cut, problems, other = _split(report.findings)
    parts: list[RenderableType] = [summary(report)]
    chart = heaviest_chart(report)
    if chart is not None:
        parts.append(chart)
    layers = layer_chart([(x.index, x.size_bytes, x.instruction) for x in report.target.layers])
    if layers is not None:
        parts.append(layers)
    if cut:
        parts.append(cut_table(cut))
    if problems:
        parts.append(findings_table("Import problems", problems))
    if other:
        parts.append(findings_table("Other findings", other))
    tree = runtime_tree(report)
    if tree is not None:
        parts.append(tree)
    if report.unmeasured:
        notes = ", ".join(f"{u.name} ({u.reason})" for u in report.unmeasured[:10])
        more = len(report.unmeasured) - 10
        parts.append(f"[dim]unmeasured: {escape(notes)}{f' (+{more} more)' if more > 0 else ''}[/]")
    for warning in report.warnings[:20]:
        parts.append(f"[yellow]warning:[/] {escape(warning)}")
    return parts


def render(report: Report) -> str:
    buffer = io.StringIO()
    console = redacting_console(file=buffer, width=120, force_terminal=False, color_system=None, record=False)
    console.print(Group(*renderables(report)))
    return buffer.getvalue()
