"""`depslim audit [PATH]`: the one table — Finding | Owner | Fix | Savings — and the projected size.

Runs the full analysis (environment or `--image`), whose finders include swaps, CUDA match and
the Dockerfile audit, and renders every finding as one table sorted by savings. `--report`
reads a saved `depslim analyze --format json` report instead of analyzing again; `--dockerfile-only`
audits just the Dockerfile (no target needed). `--format sarif` emits the file-located findings
(Dockerfile, requirements) for code scanning.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from depslim.cli.options import emit, output_options
from depslim.errors import InputError
from depslim.model import Evidence, Finding, Owner, TargetInfo


@click.command(name="audit")
@click.argument("path", type=click.Path(path_type=Path), default=".")
@click.option("--image", metavar="REF", help="Measure inside an image (archive, OCI layout, docker:NAME).")
@click.option("--platform", metavar="OS/ARCH", help="Platform of a multi-platform image.")
@click.option("--report", "report_file", type=click.Path(dir_okay=False, path_type=Path),
              help="Use a saved `depslim analyze --format json` report instead of analyzing.")
@click.option("--dockerfile-only", is_flag=True, help="Audit only PATH/Dockerfile (or a Dockerfile path).")
@output_options(["terminal", "markdown", "json", "sarif"])
def command(path: Path, image: str | None, platform: str | None, report_file: Path | None,
            dockerfile_only: bool, fmt: str, output: Path | None, force: bool) -> None:
    """One table of every finding with its owner, fix and savings, and the projected size."""
    from depslim import audit

    findings, target = _collect(path, image, platform, report_file, dockerfile_only)
    if fmt == "sarif":
        from depslim.report.sarif import render_sarif

        emit(render_sarif(findings), output, force=force)
        return
    table = audit.audit_table(findings, target)
    text = {"markdown": audit.render_markdown, "json": audit.render_json}.get(fmt, audit.render_terminal)(table)
    emit(text, output, force=force)


def _collect(path: Path, image: str | None, platform: str | None, report_file: Path | None,
             dockerfile_only: bool) -> tuple[list[Finding], TargetInfo | None]:
    if dockerfile_only:
        from depslim.dockerfile import audit_dockerfile

        dockerfile = path if path.is_file() else path / "Dockerfile"
        if not dockerfile.is_file():
            raise InputError(dockerfile, "no such Dockerfile")
        return audit_dockerfile(dockerfile), None
    if report_file is not None:
        return _from_json(report_file)
    from depslim.cli.config import project_config
    from depslim.core import AnalyzeOptions, analyze

    if not path.is_dir():
        raise InputError(path, "no such project directory")
    options = AnalyzeOptions(project=path, image=image, platform=platform, config=project_config(path, None))
    result = analyze(options)
    target = result.target
    if not any(isinstance(target.totals.get(k), int) for k in audit_totals_keys()):
        from dataclasses import replace

        # The environment target reports no totals: its measured installed bytes stand in.
        target = replace(target, totals={**target.totals, "installed_bytes": result.summary.installed_bytes})
    return list(result.findings), target


def audit_totals_keys() -> tuple[str, ...]:
    from depslim.audit import TOTAL_KEYS

    return TOTAL_KEYS


def _from_json(path: Path) -> tuple[list[Finding], TargetInfo | None]:
    """Findings and target totals from an analyze JSON report (the documented schema)."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InputError(path, f"cannot read report: {exc.strerror or exc}") from None
    except json.JSONDecodeError as exc:
        raise InputError(path, f"not a JSON report: {exc.msg}", exc.lineno) from None
    if not isinstance(doc, dict) or not isinstance(doc.get("findings"), list):
        raise InputError(path, "not a depslim analyze JSON report (no findings list)")
    findings = []
    for i, item in enumerate(doc["findings"]):
        try:
            findings.append(Finding(
                id=item["id"], code=item["code"], title=item["title"], owner=Owner(item["owner"]),
                fix=item.get("fix", ""), savings_bytes=item.get("savings_bytes"),
                estimate=bool(item.get("estimate", False)), subject=item.get("subject", ""),
                severity=item.get("severity", "warning"),
                evidence=tuple(Evidence(e.get("path", ""), int(e.get("line", 0)), e.get("kind", ""),
                                        e.get("detail", "")) for e in item.get("evidence", [])),
                data=item.get("data", {}) or {},
            ))
        except (KeyError, TypeError, ValueError) as exc:
            raise InputError(path, f"finding {i} is malformed: {exc}") from None
    raw = doc.get("target") or {}
    target = TargetInfo(kind=raw.get("kind", ""), ref=raw.get("ref", ""),
                        totals={k: v for k, v in (raw.get("totals") or {}).items() if isinstance(v, int)})
    if not target.totals and isinstance(doc.get("summary"), dict):
        installed = doc["summary"].get("installed_bytes")
        if isinstance(installed, int):
            target = TargetInfo(kind=target.kind, ref=target.ref, totals={"installed_bytes": installed})
    return findings, target
