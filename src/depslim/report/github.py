"""GitHub Actions workflow commands: `::error file=…,line=…::message` annotations.

A failed budget shows up on the pull request's "Files changed" tab at the line that caused it
(the requirement that declares a forbidden package, the Dockerfile instruction behind waste).
Paths are project-relative; `prefix` maps them into the repository when the project lives in
a subfolder. Image paths (absolute inside the image) are never passed as `file=`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import PurePosixPath

from depslim.diffing import DiffReport
from depslim.gate import PASS, CheckResult, format_bytes
from depslim.model import Evidence, Finding, Report
from depslim.report.base import Format

_LEVELS = {"error": "error", "warning": "warning", "info": "notice"}


def escape_data(text: str) -> str:
    """Escape a message the way the Actions runner unescapes it (toolkit `escapeData`)."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    """Escape a property value (toolkit `escapeProperty`): also `:` and `,`."""
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def command(level: str, message: str, *, file: str = "", line: int = 0, title: str = "") -> str:
    """One workflow command line."""
    props = []
    if file:
        props.append(f"file={escape_property(file)}")
        if line:
            props.append(f"line={line}")
    if title:
        props.append(f"title={escape_property(title)}")
    joined = (" " + ",".join(props)) if props else ""
    return f"::{level}{joined}::{escape_data(message)}"


def _file(path: str, prefix: str) -> str:
    if not path or path.startswith("/") or "://" in path:
        return ""
    return str(PurePosixPath(prefix) / path) if prefix else path


def _annotate(level: str, message: str, evidence: Iterable[Evidence], title: str, prefix: str) -> list[str]:
    """One annotation per distinct place; one without a file when no place is in the repository."""
    lines = []
    seen = set()
    for item in evidence:
        file = _file(item.path, prefix)
        if not file or (file, item.line) in seen:
            continue
        seen.add((file, item.line))
        lines.append(command(level, message, file=file, line=item.line, title=title))
    return lines or [command(level, message, title=title)]


def render_check(result: CheckResult, *, prefix: str = "") -> str:
    """An error per failed budget at each place behind it, a warning per unmeasured one."""
    lines = []
    for r in result.results:
        if r.status == PASS:
            continue
        # an unmeasured budget fails the gate unless allowed: then it is an error, not a warning
        level = "error" if r in result.failures else "warning"
        lines += _annotate(level, r.line(), r.evidence, f"depslim {r.rule}", prefix)
    lines.append(command("error" if result.failures else "notice", f"depslim check: {result.summary()}",
                         title="depslim check"))
    return "\n".join(lines) + "\n"


def render_report(report: Report, *, prefix: str = "") -> str:
    """Findings as annotations at their first evidence (analyze)."""
    lines = []
    for finding in report.findings:
        lines += _annotate(
            _LEVELS.get(finding.severity, "warning"), _finding_message(finding), finding.evidence[:1],
            f"depslim {finding.code}", prefix,
        )
    lines.append(
        command(
            "notice",
            f"depslim: cut list {report.summary.cut_count} packages, "
            f"{format_bytes(report.summary.cut_bytes)} freed",
            title="depslim analyze",
        )
    )
    return "\n".join(lines) + "\n"


def _finding_message(finding: Finding) -> str:
    savings = ""
    if finding.savings_bytes is not None:
        savings = f" (saves {'~' if finding.estimate else ''}{format_bytes(finding.savings_bytes)}"
        savings += ", estimate)" if finding.estimate else ")"
    return f"{finding.title}{savings}. Fix: {finding.fix} [owner: {finding.owner}]"


def render_diff(diff: DiffReport, *, prefix: str = "") -> str:
    """The evidence line as a notice, plus one per growing package at the import that needs it."""
    lines = [command("notice", diff.headline, title="depslim diff")]
    for contribution in diff.contributions:
        change = contribution.change
        if contribution.delta is None or contribution.delta <= 0 or change.kind == "removed":
            continue
        imports = [e for e in change.evidence if e.kind.endswith("import")]
        message = f"{change.name} {change.head_version or ''}{' (+CUDA)' if change.cuda else ''} adds "
        message += format_bytes(contribution.delta)
        if contribution.brings:
            message += f" (with {', '.join(contribution.brings)})"
        lines += [
            line for line in _annotate("notice", message, imports[:1], "depslim diff", prefix) if "file=" in line
        ]
    return "\n".join(lines) + "\n"


def render(obj: Report | CheckResult | DiffReport, *, prefix: str = "") -> str:
    if isinstance(obj, CheckResult):
        return render_check(obj, prefix=prefix)
    if isinstance(obj, Report):
        return render_report(obj, prefix=prefix)
    if isinstance(obj, DiffReport):
        return render_diff(obj, prefix=prefix)
    raise TypeError(f"cannot render {type(obj).__name__} as GitHub annotations")


FORMAT = Format("github", (), {
    kind: lambda value, options: render(value, prefix=options.prefix) for kind in ("analyze", "check", "diff")
})


__all__: Sequence[str] = ("command", "escape_data", "escape_property", "render")
