"""SARIF 2.1.0 for findings that point at a file: Dockerfile rules and requirement lines.

Code scanning (GitHub, GitLab) shows these inline on the Dockerfile / requirements.txt line.
Findings with no file location (image waste, measurements) are left out: SARIF is a source
annotation format. The stable finding id goes into `partialFingerprints` so alerts track
across pushes.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

from depslim import __version__
from depslim.audit import AuditTable, format_savings
from depslim.model import Evidence, Finding, Report
from depslim.report.base import Format, RenderOptions

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
LOCATED_KINDS = ("dockerfile", "declared")
LEVELS = {"error": "error", "warning": "warning", "info": "note"}


def _location(f: Finding) -> Evidence | None:
    for e in f.evidence:
        if e.kind in LOCATED_KINDS and e.path:
            return e
    return None


def sarif_document(findings: Iterable[Finding]) -> dict[str, object]:
    rules: dict[str, dict[str, object]] = {}
    results = []
    for f in findings:
        where = _location(f)
        if where is None:
            continue
        rules.setdefault(f.code, {
            "id": f.code,
            "name": f.code.replace("-", " ").title().replace(" ", ""),
            "shortDescription": {"text": f.title},
            "help": {"text": f.fix},
            "properties": {"owner": f.owner.value,
                           **({"hadolint": f.data["hadolint"]} if "hadolint" in f.data else {})},
        })
        savings = format_savings(f)
        message = f"{f.title}. Fix: {f.fix}." + (f" Savings: {savings}." if f.savings_bytes is not None else "")
        physical: dict[str, object] = {"artifactLocation": {"uri": where.path, "uriBaseId": "%SRCROOT%"}}
        if where.line > 0:
            physical["region"] = {"startLine": where.line}
        results.append({
            "ruleId": f.code,
            "level": LEVELS.get(f.severity, "warning"),
            "message": {"text": message},
            "locations": [{"physicalLocation": physical}],
            "partialFingerprints": {"depslimFindingId/v1": f.id},
            "properties": {"owner": f.owner.value, "savings_bytes": f.savings_bytes, "estimate": f.estimate},
        })
    return {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {"name": "depslim", "version": __version__,
                                "informationUri": "https://github.com/depslim/depslim",
                                "rules": list(rules.values())}},
            "results": results,
        }],
    }


def render_sarif(findings: Iterable[Finding]) -> str:
    return json.dumps(sarif_document(findings), indent=2) + "\n"


def render_findings(report: Report, options: RenderOptions | None = None) -> str:
    """analyze: the report's file-located findings."""
    return render_sarif(report.findings)


def render_audit(table: AuditTable, options: RenderOptions | None = None) -> str:
    """audit: the same findings the audit table lists, in its order."""
    return render_sarif(row.finding for row in table.rows)


FORMAT = Format("sarif", (".sarif",), {"analyze": render_findings, "audit": render_audit})
