"""PR-ready Markdown for analyze Reports, check results and diffs.

What a reviewer needs first comes first (the cut list and the size change); details sit in
`<details>` sections. Paths become links to `file:line` when a repository URL is known.
GitHub rejects comments over 65,536 characters, so the document is assembled against a
character budget: every section gets its first rows, then the rest in priority order, and
whatever did not fit is named in a closing note — a truncated comment never looks complete.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import quote

from depslim.diffing import REMOVED, SWAPPED, DiffReport, DistChange
from depslim.gate import FAIL, PASS, CheckResult, format_bytes, runtime_distributions
from depslim.model import (
    IMPORT_FINDING_CODES,
    DistributionReport,
    Evidence,
    Finding,
    Location,
    Report,
    Verdict,
    import_findings_title,
)
from depslim.redact import clip
from depslim.report.base import Format, RenderOptions, cut_estimated_bytes, cut_frees
from depslim.report.mermaid import bars_before_after, pie_by_verdict
from depslim.verdicts import is_cut

MAX_COMMENT_CHARS = 65_536  # GitHub's limit for an issue or pull-request comment body
MARKER = "<!-- depslim -->"  # lets CI find and update its one comment
_RESERVE = 1_500  # room kept for the truncation notes
_FIRST_ROWS = 10  # every section shows at least this many rows before any gets more
_CELL_MAX = 300

PROBLEM_CODES = IMPORT_FINDING_CODES


# ---------------------------------------------------------------------------------------------
# Links


@dataclass(frozen=True)
class Links:
    """Turns project-relative `path:line` into a blob URL (`…/blob/<ref>/<prefix>/<path>#L<line>`)."""

    base: str  # https://github.com/owner/repo/blob/<ref>
    prefix: str = ""  # the project's folder inside the repository

    def url(self, path: str, line: int = 0) -> str | None:
        if not path or path.startswith("/") or "://" in path:
            return None  # image paths and URLs are not files in the repository
        full = str(PurePosixPath(self.prefix) / path) if self.prefix else path
        anchor = f"#L{line}" if line else ""
        return f"{self.base.rstrip('/')}/{quote(full)}{anchor}"


def links_from(
    repository_url: str | None = None,
    *,
    ref: str | None = None,
    prefix: str = "",
    env: Mapping[str, str] | None = None,
) -> Links | None:
    """Links from `--repository-url` / config `repository-url`, else GitHub Actions' environment.

    A URL that already names a blob (`…/blob/<sha>`) is used as is; a bare repository URL gets
    `/blob/<ref>` with `ref`, `GITHUB_SHA` or `HEAD`.
    """
    env = os.environ if env is None else env
    sha = ref or env.get("GITHUB_SHA") or "HEAD"
    if repository_url:
        base = repository_url.rstrip("/")
        if "/blob/" not in base and "/tree/" not in base:
            base = f"{base}/blob/{sha}"
        return Links(base.replace("/tree/", "/blob/"), prefix.strip("/"))
    server, repo = env.get("GITHUB_SERVER_URL"), env.get("GITHUB_REPOSITORY")
    if server and repo and env.get("GITHUB_SHA"):
        return Links(f"{server.rstrip('/')}/{repo}/blob/{env['GITHUB_SHA']}", prefix.strip("/"))
    return None


# ---------------------------------------------------------------------------------------------
# Text helpers


def cell(text: object) -> str:
    """A table cell: one line, pipes and HTML escaped, long text shortened."""
    value = clip(" ".join(str(text).split()), _CELL_MAX)
    return value.replace("\\", "\\\\").replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;")


def code(text: str) -> str:
    """An inline code span safe inside a table cell."""
    value = clip(" ".join(str(text).split()), _CELL_MAX, "").replace("|", "\\|")
    fence = "``" if "`" in value else "`"
    return f"{fence}{value}{fence}" if fence == "`" else f"{fence} {value} {fence}"


def where(path: str, line: int, links: Links | None) -> str:
    """`path:line`, linked when the repository is known."""
    label = f"{path}:{line}" if line else path
    url = links.url(path, line) if links else None
    if url:
        return f"[{cell(label)}]({url})"
    return code(label)


def evidence_text(evidence: Sequence[Evidence], links: Links | None, limit: int = 2) -> str:
    parts = []
    for item in evidence[:limit]:
        if not item.path:
            parts.append(cell(f"{item.kind}: {item.detail}"))
            continue
        detail = f" ({cell(item.kind)}{': ' + cell(item.detail) if item.detail else ''})"
        parts.append(where(item.path, item.line, links) + detail)
    if len(evidence) > limit:
        parts.append(f"+{len(evidence) - limit} more")
    return "; ".join(parts) if parts else "—"


def _savings(finding: Finding) -> str:
    if finding.savings_bytes is None:
        return "—"
    text = format_bytes(finding.savings_bytes)
    return f"~{text} (estimate)" if finding.estimate else text


def _num(n: int) -> str:
    return f"{n:,}"


# ---------------------------------------------------------------------------------------------
# Budgeted assembly


@dataclass
class Section:
    """A titled block whose table rows can be cut to fit; `collapsible` puts it in <details>."""

    title: str
    rows: list[str]
    header: Sequence[str] = ()
    intro: str = ""
    outro: str = ""
    collapsible: bool = True
    noun: str = "rows"
    bullets: bool = False  # rows are list items, not table rows
    min_rows: int = _FIRST_ROWS
    empty: str = ""

    def render(self, shown: int) -> str:
        parts: list[str] = []
        if self.collapsible:
            parts.append(f"<details>\n<summary>{self.title}</summary>\n")
        else:
            parts.append(f"### {self.title}\n")
        if self.intro:
            parts.append(self.intro + "\n")
        if self.rows:
            lines = []
            if self.header and not self.bullets:
                lines.append("| " + " | ".join(self.header) + " |")
                lines.append("|" + "|".join("---" for _ in self.header) + "|")
            lines.extend(self.rows[:shown])
            parts.append("\n".join(lines) + "\n")
            left = len(self.rows) - shown
            if left > 0:
                parts.append(
                    f"_…{_num(left)} more {self.noun} not shown to stay under the comment size limit; "
                    f"the full list is in `--format json`._\n"
                )
        elif self.empty:
            parts.append(self.empty + "\n")
        if self.outro:
            parts.append(self.outro + "\n")
        if self.collapsible:
            parts.append("</details>\n")
        return "\n".join(parts)


def assemble(head: str, sections: Sequence[Section], footer: str, limit: int = MAX_COMMENT_CHARS) -> str:
    """Fit `head`, the sections and `footer` under `limit` characters, saying what was left out."""
    shown = [0] * len(sections)
    fixed = len(head) + len(footer) + sum(len(s.render(0)) + 1 for s in sections)
    budget = limit - fixed - _RESERVE - 200 * len(sections)

    def fill(cap: Callable[[Section], int]) -> None:
        nonlocal budget
        for index, section in enumerate(sections):
            target = min(len(section.rows), cap(section))
            while shown[index] < target:
                cost = len(section.rows[shown[index]]) + 1
                if cost > budget:
                    return
                budget -= cost
                shown[index] += 1

    fill(lambda s: s.min_rows)
    fill(lambda s: len(s.rows))
    while True:
        text = _join(head, sections, shown, footer, limit)
        if len(text) < limit:
            return text
        # Pathological row lengths: drop rows from the longest section until it fits.
        index = max(range(len(sections)), key=lambda i: shown[i])
        if shown[index] == 0:
            return text[: limit - 200] + "\n\n_…truncated to fit GitHub's comment limit._\n"
        shown[index] = max(0, shown[index] - max(1, shown[index] // 10))


def _join(head: str, sections: Sequence[Section], shown: Sequence[int], footer: str, limit: int) -> str:
    blocks = [head.rstrip() + "\n"]
    blocks += [s.render(n) for s, n in zip(sections, shown, strict=True)]
    omitted = [
        f"{_num(len(s.rows) - n)} of {_num(len(s.rows))} {s.noun} in “{_plain(s.title)}”"
        for s, n in zip(sections, shown, strict=True)
        if n < len(s.rows)
    ]
    if omitted:
        budget = (
            f"GitHub's {_num(MAX_COMMENT_CHARS)}-character comment limit"
            if limit >= MAX_COMMENT_CHARS
            else f"a {_num(limit)}-character budget"
        )
        blocks.append(
            f"> [!NOTE]\n> Truncated to stay under {budget}. Left out: {'; '.join(omitted)}. "
            "Run with `--format json` for everything.\n"
        )
    blocks.append(footer.rstrip() + "\n")
    return "\n".join(blocks)


def _plain(title: str) -> str:
    return title.replace("<b>", "").replace("</b>", "")


# ---------------------------------------------------------------------------------------------
# analyze


def _cut_list(report: Report) -> list[DistributionReport]:
    cut = [d for d in report.distributions if is_cut(d.verdict, report.scope) and not d.dev_declared]
    return sorted(cut, key=lambda d: (-d.retained_bytes, d.name))


def _cut_why(dist: DistributionReport, findings: Mapping[str, Finding]) -> str:
    finding = findings.get(dist.name)
    if finding is not None:
        return finding.title
    return {
        Verdict.UNUSED: "declared, never imported",
        Verdict.DEV_ONLY: "used only by tests, scripts, notebooks or a dev tool",
        Verdict.TYPING_ONLY: "imported only for type checking",
        Verdict.UNREACHABLE: "imported only by code the served entrypoints never reach",
    }.get(dist.verdict, str(dist.verdict)) if dist.verdict else ""


def render_report(
    report: Report, *, links: Links | None = None, limit: int = MAX_COMMENT_CHARS
) -> str:
    """Markdown for `depslim analyze`: the cut list first, details collapsed."""
    summary = report.summary
    name = PurePosixPath(report.project).name if report.project else report.target.ref
    cut = _cut_list(report)
    cut_findings = {f.subject: f for f in report.findings if f.code.startswith("cut")}
    target = f"{report.target.kind} {code(report.target.ref)}" if report.target.ref else report.target.kind
    if report.target.python_version:
        target += f", Python {report.target.python_version}"
    head = "\n".join(
        [
            MARKER,
            f"## depslim: {cell(name)}",
            "",
            f"**Cut list: {_num(summary.cut_count)} package{'s' if summary.cut_count != 1 else ''}, "
            f"{format_bytes(summary.cut_bytes)} freed**{_estimated_cut(report)} · {_num(summary.runtime)} of "
            f"{_num(summary.declared)} declared needed at runtime · {_num(summary.installed)} installed "
            f"({format_bytes(summary.installed_bytes)}) in {target}",
        ]
    )
    chart = pie_by_verdict(report)
    if chart:
        head += "\n\n" + chart
    sections = [
        Section(
            "Cut list",
            [
                "| " + " | ".join([
                    code(d.name), cell(d.version or "—"),
                    _frees(d, cut_findings),
                    cell(d.verdict or ""), cell(_cut_why(d, cut_findings)),
                    evidence_text(_cut_evidence(d), links),
                ]) + " |"
                for d in cut
            ],
            header=("Package", "Version", "Frees", "Verdict", "Why", "Evidence"),
            collapsible=False,
            noun="packages",
            min_rows=50,
            intro="Declared for runtime, but the code does not need them there. "
            "*Frees* is the retained size: the package plus what only it pulls in.",
            empty="Nothing to cut: every declared runtime dependency is used.",
        )
    ]
    problems = [f for f in report.findings if f.code in PROBLEM_CODES]
    others = [f for f in report.findings if f.code not in PROBLEM_CODES and not f.code.startswith("cut")]
    if others:
        measured = sum(f.savings_bytes or 0 for f in others if not f.estimate)
        sections.append(_findings_section(
            f"<b>Findings</b> ({_num(len(others))}, {format_bytes(measured)} measured savings)", others, links
        ))
    if problems:
        sections.append(_findings_section(import_findings_title(problems, ("<b>", "</b>")), problems, links))
    heavy = [d for d in _needed(report) if d.installed]
    heavy.sort(key=lambda d: (-d.size_bytes, d.name))
    needed_names = {d.name for d in heavy}
    if heavy:
        sections.append(
            Section(
                f"<b>Heaviest runtime packages</b> ({_num(len(heavy))}, "
                f"{format_bytes(sum(d.size_bytes for d in heavy))})",
                [_heavy_row(d, links, needed_names) for d in heavy],
                header=("Package", "Version", "Bytes", "Retained", "Needed because"),
                noun="packages",
            )
        )
    if report.target.layers:
        sections.append(
            Section(
                f"<b>Image layers</b> ({_num(len(report.target.layers))})",
                [
                    f"| {layer.index} | {format_bytes(layer.size_bytes)} | {code(layer.instruction or '—')} |"
                    for layer in report.target.layers
                ],
                header=("#", "Bytes", "Instruction"),
                noun="layers",
            )
        )
    sections.append(
        Section(
            f"<b>All distributions</b> ({_num(len(report.distributions))})",
            [_dist_row(d) for d in sorted(report.distributions, key=lambda d: (-d.size_bytes, d.name))],
            header=("Package", "Version", "Bytes", "Shared", "Retained", "Verdict", "Declared at"),
            noun="distributions",
        )
    )
    notes = [f"- {cell(w)}" for w in report.warnings]
    notes += [f"- {code(u.name)} not measured: {cell(u.reason)}" for u in report.unmeasured]
    if notes:
        sections.append(
            Section(f"<b>Warnings and unmeasured</b> ({_num(len(notes))})", notes, bullets=True, noun="notes")
        )
    return assemble(head, sections, _footer(report.tool_version, report.schema_version), limit)


def _cut_evidence(dist: DistributionReport) -> tuple[Evidence, ...]:
    declared = tuple(Evidence(loc.path, loc.line, "declared") for loc in dist.declared_at[:1])
    return declared + tuple(e for e in dist.evidence if e.kind != "declared")


def _findings_section(title: str, findings: Sequence[Finding], links: Links | None) -> Section:
    rows = [
        "| " + " | ".join([
            cell(f.title), cell(f.owner), cell(f.fix), _savings(f), evidence_text(f.evidence, links, 1),
        ]) + " |"
        for f in sorted(findings, key=lambda f: (-(f.savings_bytes or 0), f.id))
    ]
    return Section(title, rows, header=("Finding", "Owner", "Fix", "Savings", "Evidence"), noun="findings")


def _needed(report: Report) -> list[DistributionReport]:
    """What the code needs at runtime: runtime/implicit verdicts and everything they pull in.

    Cut-list packages and their dependencies are left out (they are in the cut list); with
    nothing declared (an image on its own) every installed distribution counts.
    """
    keep = (Verdict.RUNTIME, Verdict.IMPLICIT)
    if not any(d.declared for d in report.distributions):
        return runtime_distributions(report)
    by_name = {d.name: d for d in report.distributions}
    stack = [d for d in report.distributions if d.verdict in keep and not d.dev_declared]
    seen: dict[str, DistributionReport] = {}
    while stack:
        dist = stack.pop()
        if dist.name not in seen:
            seen[dist.name] = dist
            stack.extend(by_name[n] for n in dist.requires if n in by_name)
    return list(seen.values())


def _heavy_row(dist: DistributionReport, links: Links | None, needed: set[str]) -> str:
    imports = [e for e in dist.evidence if e.kind.endswith("import") or e.kind == "implicit"]
    parents = [n for n in dist.required_by if n in needed]
    if imports:
        why = evidence_text(imports, links, 1)
    elif parents:
        why = "required by " + ", ".join(code(n) for n in parents[:3])
    elif dist.declared_at:
        why = "declared at " + where(dist.declared_at[0].path, dist.declared_at[0].line, links)
    else:
        why = "installed"
    return (
        f"| {code(dist.name)} | {cell(dist.version or '—')} | {format_bytes(dist.size_bytes)} | "
        f"{format_bytes(dist.retained_bytes)} | {why} |"
    )


def _dist_row(dist: DistributionReport) -> str:
    declared = ", ".join(str(loc) for loc in dist.declared_at[:2]) or "—"
    return (
        f"| {code(dist.name)} | {cell(dist.version or '—')} | "
        f"{format_bytes(dist.size_bytes) if dist.installed else 'not installed'} | "
        f"{format_bytes(dist.shared_bytes) if dist.shared_bytes else '—'} | "
        f"{format_bytes(dist.retained_bytes) if dist.installed else '—'} | "
        f"{cell(dist.verdict or '—')} | {cell(declared)} |"
    )


def _footer(version: str = "", schema: str = "") -> str:
    bits = ["depslim" + (f" {version}" if version else "")]
    if schema:
        bits.append(f"report schema {schema}")
    bits.append("sizes are measured in the target; estimates are marked")
    return "<sub>" + " · ".join(bits) + "</sub>"


# ---------------------------------------------------------------------------------------------
# check


def render_check(
    result: CheckResult, *, links: Links | None = None, limit: int = MAX_COMMENT_CHARS
) -> str:
    """Markdown for `depslim check`: one row per budget, failures first."""
    status = ("❌ " if result.failures else "⚠️ " if "not measured" in result.summary() else "✅ ") + result.summary()
    head = "\n".join(
        [MARKER, f"## depslim check: {status}", "", f"Target: {result.target.kind} {code(result.target.ref)}"]
    )
    order = {FAIL: 0, "unmeasured": 1, PASS: 2}
    rows = []
    for r in sorted(result.results, key=lambda r: order.get(r.status, 3)):
        mark = {FAIL: "❌ fail", PASS: "✅ pass"}.get(r.status, f"⚠️ {r.status}")
        who = ", ".join(cell(str(c)) for c in r.contributors) or "—"
        if r.note:
            who += f" — {cell(r.note)}"
        if r.evidence:
            who += " · " + evidence_text(r.evidence, links, 2)
        rows.append(f"| {cell(r.what)} | {cell(r.limit)} | {cell(r.actual)} | {mark} | {who} |")
    sections = [
        Section(
            "Budgets", rows, header=("Budget", "Limit", "Actual", "Result", "Top contributors"),
            collapsible=False, noun="budgets", min_rows=100,
            empty="No budgets set: pass --max-image-bytes, --forbid … or set them in `[tool.depslim]`.",
        )
    ]
    if result.warnings:
        sections.append(
            Section(f"<b>Warnings</b> ({len(result.warnings)})", [f"- {cell(w)}" for w in result.warnings],
                    bullets=True, noun="warnings")
        )
    return assemble(head, sections, _footer(), limit)


# ---------------------------------------------------------------------------------------------
# diff


_KIND_MARK = {
    "added": "➕ added",
    "removed": "➖ removed",
    "upgraded": "⬆️ upgraded",
    "downgraded": "⬇️ downgraded",
    "rebuilt": "🔁 rebuilt",
    "swapped": "🔀 swapped",
    "changed": "✏️ changed",
    "unmeasured": "❔ not measured",
}


def render_diff(diff: DiffReport, *, links: Links | None = None, limit: int = MAX_COMMENT_CHARS) -> str:
    """Markdown for `depslim diff`: the total and its evidence line first, then the changes."""
    total = diff.total_delta
    change = format_bytes(total, signed=True) if total is not None else "sizes unknown"
    lines = [
        MARKER,
        f"## depslim diff: {change}",
        "",
        f"> {_headline_md(diff.headline)}",
        "",
        f"Compared {code(diff.base)} → {code(diff.head)} ({cell(diff.mode)}).",
    ]
    if diff.sizes_known:
        lines.append(
            f"Python bytes that ship: {format_bytes(diff.base_bytes)} → {format_bytes(diff.head_bytes)} "
            f"(**{format_bytes(total, signed=True)}**)."
        )
    if diff.image_delta is not None:
        lines.append(f"Image bytes: **{format_bytes(diff.image_delta, signed=True)}**.")
    chart = bars_before_after(diff)
    if chart:
        lines += ["", chart]
    sections = [
        Section(
            f"Changes ({_num(len(diff.changes))})",
            [_change_row(c, links) for c in diff.changes],
            header=("Change", "Package", "Base", "Head", "Δ bytes", "Why"),
            collapsible=False, noun="changes", min_rows=50,
            empty="No distribution was added, removed or changed.",
        )
    ]
    if diff.new_findings:
        sections.append(_findings_section(f"<b>New findings</b> ({_num(len(diff.new_findings))})",
                                          diff.new_findings, links))
    if diff.resolved_findings:
        sections.append(_findings_section(f"<b>Resolved findings</b> ({_num(len(diff.resolved_findings))})",
                                          diff.resolved_findings, links))
    if diff.notes:
        sections.append(Section(f"<b>Notes</b> ({len(diff.notes)})", [f"- {cell(n)}" for n in diff.notes],
                                bullets=True, noun="notes"))
    return assemble("\n".join(lines), sections, _footer(), limit)


def _headline_md(text: str) -> str:
    """The headline keeps its code spans (paths, `import x`) but nothing else becomes markup."""
    return text.replace("<", "&lt;").replace(">", "&gt;")


def _change_row(change: DistChange, links: Links | None) -> str:
    name = code(change.name)
    if change.kind == SWAPPED and change.swapped_from:
        name = f"{code(change.swapped_from)} → {name}"
    if change.cuda:
        name += " (+CUDA)"
    base_side = _side(change.base_version, change.base_bytes, change.kind == "added")
    head_side = _side(change.head_version, change.head_bytes, change.kind == REMOVED)
    delta = format_bytes(change.delta, signed=True) if change.delta is not None else "unknown"
    why_parts = []
    imports = [e for e in change.evidence if e.kind.endswith("import")]
    if imports and change.module and change.kind != REMOVED:
        why_parts.append(f"{code('import ' + change.module)} in {where(imports[0].path, imports[0].line, links)}")
    elif change.declared_at:
        loc: Location = change.declared_at[0]
        why_parts.append("declared at " + where(loc.path, loc.line, links))
    if change.required_by and not change.declared_at:
        why_parts.append("required by " + ", ".join(code(n) for n in change.required_by[:3]))
    if change.verdict:
        why_parts.append(cell(change.verdict))
    return (
        f"| {_KIND_MARK.get(change.kind, change.kind)} | {name} | {base_side} | {head_side} | {delta} | "
        f"{'; '.join(why_parts) or '—'} |"
    )


def _side(version: str | None, size: int | None, absent: bool) -> str:
    if absent:
        return "—"
    text = cell(version or "?")
    if size is not None:
        text += f" ({format_bytes(size)})"
    return text


# ---------------------------------------------------------------------------------------------
# Format dispatch


def render(
    obj: Report | CheckResult | DiffReport, *, links: Links | None = None, limit: int = MAX_COMMENT_CHARS
) -> str:
    """Render any depslim result as PR-ready Markdown."""
    if isinstance(obj, Report):
        return render_report(obj, links=links, limit=limit)
    if isinstance(obj, CheckResult):
        return render_check(obj, links=links, limit=limit)
    if isinstance(obj, DiffReport):
        return render_diff(obj, links=links, limit=limit)
    raise TypeError(f"cannot render {type(obj).__name__} as Markdown")


def _links(options: RenderOptions) -> Links | None:
    return links_from(options.repository_url, ref=options.ref, prefix=options.prefix)


def _report(kind: str) -> Callable[[Any, RenderOptions], str]:
    """analyze/check/diff: links and the comment-size budget come from the options."""
    def call(value: Any, options: RenderOptions) -> str:
        return render(value, links=_links(options), limit=options.markdown_limit)

    call.__name__ = f"render_{kind}"
    return call


def _lazy(module: str) -> Callable[[Any, RenderOptions], str]:
    """audit, estimate, image, verify: their own `render_markdown`, imported on first use."""
    def call(value: Any, options: RenderOptions) -> str:
        import importlib

        return str(importlib.import_module(module).render_markdown(value))

    return call


FORMAT = Format("markdown", (".md", ".markdown"), {
    "analyze": _report("analyze"), "check": _report("check"), "diff": _report("diff"),
    "audit": _lazy("depslim.audit"), "estimate": _lazy("depslim.estimate"), "image": _lazy("depslim.imagedoc"),
    "verify": _lazy("depslim.verify.report"),
}, comment="<!--")


def _frees(dist: DistributionReport, cut_findings: Mapping[str, Finding]) -> str:
    """What cutting `dist` frees, from its cut finding (`report.base.cut_frees`), as the terminal
    shows it: an index estimate marked "~ (est.)" for a package not installed."""
    found = cut_findings.get(dist.name)
    if found is None:
        return format_bytes(dist.retained_bytes) if dist.installed else "not installed"
    size, estimate = cut_frees(found)
    if size is None:
        return "not installed"
    return f"~{format_bytes(size)} (est.)" if estimate else format_bytes(size)


def _estimated_cut(report: Report) -> str:
    estimated = cut_estimated_bytes(report.findings)
    return f" measured + ~{format_bytes(estimated)} (est.) for packages not installed" if estimated else ""

