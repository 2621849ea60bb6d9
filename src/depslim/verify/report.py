"""`depslim verify` reports: terminal lines, JSON (schema `depslim-verify/1`) and Markdown for a PR.

Every figure is one depslim measured: image bytes as `depslim image` reads them (layer tar
bytes), cold start as the median of container-start-to-ready runs, savings in the audit table
measured in the original image (estimates say so).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from depslim import audit as audit_tables
from depslim.units import human_bytes
from depslim.verify.checks import CheckResult
from depslim.verify.run import ColdStart, ImageFacts, VerifyReport

SCHEMA = "depslim/verify"  # the JSON envelope (depslim.report.json.envelope) sets it too
FORMATS = ("terminal", "json", "markdown", "html")


def _seconds(value: float | None) -> str:
    return f"{value:.2f} s" if value is not None else "n/a"


def _start_text(start: ColdStart | None) -> str:
    if start is None:
        return "not measured"
    if start.median is None:
        return f"did not start ({start.error})" if start.error else "not measured"
    inside = f"; {_seconds(sorted(start.inside)[len(start.inside) // 2])} inside" if start.inside else ""
    return f"{_seconds(start.median)} median of {len(start.seconds)} ({start.mode}{inside})"


def summary_line(report: VerifyReport) -> str:
    """"1.52 GB → 412.3 MB (−73 %), cold start 2.10 s → 0.84 s, 0 breakages"."""
    breakages = len(grouped(report.breakages))
    noun = "breakage" if breakages == 1 else "breakages"
    after = report.image
    if report.baseline is None:
        return f"{human_bytes(after.bytes)}, cold start {_seconds(_median(after))}, {breakages} {noun}"
    before = report.baseline
    change = ""
    if before.bytes and after.bytes is not None:
        change = f" ({(after.bytes - before.bytes) / before.bytes * 100:+.0f} %)".replace("-", "−")
    return (f"{human_bytes(before.bytes)} → {human_bytes(after.bytes)}{change}, cold start "
            f"{_seconds(_median(before))} → {_seconds(_median(after))}, {breakages} {noun}")


def _median(facts: ImageFacts) -> float | None:
    return facts.cold_start.median if facts.cold_start else None


def grouped(checks: Sequence[CheckResult]) -> list[tuple[CheckResult, list[CheckResult]]]:
    """Breakages with one cause (the same missing module and fix) as one line: a missing
    package fails every check that imports it, and the user has one thing to add back."""
    groups: dict[tuple[str, str], list[CheckResult]] = {}
    for check in checks:
        key = (check.missing or f"{check.check}:{check.target}", check.fix)
        groups.setdefault(key, []).append(check)
    return [(items[0], items) for items in groups.values()]


def _what(items: Sequence[CheckResult]) -> str:
    names = [f"{c.check} {c.target}" for c in items]
    return ", ".join(names[:4]) + (f" and {len(names) - 4} more" if len(names) > 4 else "")


def _line(first: CheckResult, items: Sequence[CheckResult]) -> str:
    error = f"{first.error_type}: {first.message}" if first.message else str(first.error_type)
    if first.breakage:
        subject = f"{first.missing} is missing" if first.missing else _what(items)
        return f"BREAKAGE {subject} ({error}; fails {_what(items)}) — fix: {first.fix}"
    if first.pre_existing:
        return f"ALSO-BEFORE {_what(items)}: {error} ({first.fix})"
    return f"ERROR    {_what(items)}: {error} (not a breakage: not something the image lacks)"


def render_terminal(report: VerifyReport) -> str:
    image = report.image
    out = [f"depslim verify: {image.ref}"]
    if report.build is not None:
        out.append(f"  build: {'ok' if report.build.ok else 'FAILED'} in {report.build.seconds:.1f} s")
    out.append(f"  image: {human_bytes(image.bytes)}, user {image.user or 'root'}, python {image.python or 'none'}")
    passed = sum(1 for c in report.checks if c.ok)
    out.append(f"  checks: {passed} passed, {len(report.breakages)} breakages, {len(report.other_errors)} other errors")
    out.append(f"  cold start: {_start_text(image.cold_start)}")
    if report.baseline is not None:
        out.append(f"  baseline {report.baseline.ref}: {human_bytes(report.baseline.bytes)}, cold start "
                   f"{_start_text(report.baseline.cold_start)}")
    out.append(f"  {summary_line(report)}")
    out += [_line(first, items) for first, items in grouped([c for c in report.checks if not c.ok])]
    out += [f"note: {note}" for note in report.notes]
    text = "\n".join(out) + "\n"
    if report.audit is not None and report.audit.rows:
        text += "\n" + audit_tables.render_terminal(report.audit)
    causes = len(grouped(report.breakages))
    text += ("PASS: every check passed\n" if report.passed else
             f"FAIL: {causes} breakage(s) failing {len(report.breakages)} check(s)"
             + (" (the build failed)" if report.build and not report.build.ok else "") + "\n")
    return text


def _facts(facts: ImageFacts | None) -> dict[str, Any] | None:
    if facts is None:
        return None
    start = facts.cold_start
    return {
        "ref": facts.ref, "bytes": facts.bytes, "user": facts.user, "python": facts.python,
        "command": list(facts.command),
        "cold_start": None if start is None else {
            "mode": start.mode, "median_seconds": start.median, "runs_seconds": list(start.seconds),
            "inside_seconds": list(start.inside), "error": start.error or None,
        },
    }


def _check(check: CheckResult) -> dict[str, Any]:
    why = check.why
    return {
        "check": check.check, "target": check.target, "ok": check.ok, "breakage": check.breakage,
        "error_type": check.error_type, "message": check.message or None, "missing": check.missing,
        "pre_existing": check.pre_existing,
        "distribution": check.distribution, "fix": check.fix or None, "seconds": check.seconds,
        "why": None if why is None else {"path": why.path, "line": why.line, "kind": why.kind, "detail": why.detail},
    }


def render_json(report: VerifyReport) -> str:
    doc = {
        "schema": SCHEMA,
        "project": report.project,
        "passed": report.passed,
        "summary": summary_line(report),
        "image": _facts(report.image),
        "baseline": _facts(report.baseline),
        "build": None if report.build is None else {
            "ok": report.build.ok, "seconds": round(report.build.seconds, 2), "log_tail": list(report.build.log_tail)},
        "checks": [_check(c) for c in report.checks],
        "breakages": len(grouped(report.breakages)),
        "failed_checks": len(report.breakages),
        "other_errors": len(report.other_errors),
        "audit": json.loads(audit_tables.render_json(report.audit)) if report.audit is not None else None,
        "notes": list(report.notes),
    }
    return json.dumps(doc, indent=2) + "\n"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _rows(checks: Sequence[CheckResult]) -> list[str]:
    rows = ["| Missing | Error | Fails | Fix |", "|---|---|---|---|"]
    for first, items in grouped(checks):
        rows.append(f"| `{_cell(first.missing or '—')}` | {_cell(f'{first.error_type}: {first.message}')} | "
                    f"{_cell(_what(items))} | {_cell(first.fix) or '—'} |")
    return rows


def render_markdown(report: VerifyReport) -> str:
    status = "✅ verified" if report.passed else "❌ broken"
    out = [f"## depslim verify: {status}", "", f"**{summary_line(report)}**", "",
           f"- image `{report.image.ref}`: {human_bytes(report.image.bytes)}, runs as `{report.image.user}`, "
           f"cold start {_start_text(report.image.cold_start)}"]
    if report.baseline is not None:
        out.append(f"- baseline `{report.baseline.ref}`: {human_bytes(report.baseline.bytes)}, cold start "
                   f"{_start_text(report.baseline.cold_start)}")
    passed = sum(1 for c in report.checks if c.ok)
    out.append(f"- {passed} checks passed in a container with no network, a read-only root and a non-root user")
    if report.breakages:
        out += ["", "### Breakages", "", *_rows(report.breakages)]
    if report.other_errors:
        out += ["", "### Other errors (not breakages)", "", *_rows(report.other_errors)]
    if report.audit is not None and report.audit.rows:
        out += ["", "<details><summary>Audit table of the baseline (savings measured in it)</summary>", "",
                audit_tables.render_markdown(report.audit).split("\n", 2)[2], "</details>"]
    out += [f"- note: {_cell(n)}" for n in report.notes]
    return "\n".join(out) + "\n"


def render(report: VerifyReport, fmt: str) -> str:
    """`report` in any registered format that renders verify reports (`depslim.report`)."""
    from depslim import report as registry

    return registry.get(fmt).render("verify", report)
