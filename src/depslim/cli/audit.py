"""`depslim audit [PATH]`: the one table — Finding | Owner | Fix | Savings — and the projected size.

Runs the full analysis (environment or `--image`), whose finders include swaps, CUDA match and
the Dockerfile audit, and renders every finding as one table sorted by savings. `--report`
reads a saved `depslim analyze --format json` report instead of analyzing again; `--dockerfile-only`
audits just the Dockerfile (no target needed). `--format sarif` emits the file-located findings
(Dockerfile, requirements) for code scanning.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from depslim import jsonshape
from depslim.cli.options import config_option, output_options, resolve_output, target_options, write_report
from depslim.errors import InputError
from depslim.inputfile import read_text
from depslim.jsonshape import Where, expect_object
from depslim.model import Evidence, Finding, Owner, Report, TargetInfo
from depslim.targets.spec import TargetSpec

if TYPE_CHECKING:
    from depslim.dockerfile.parse import Dockerfile


@click.command(name="audit")
@click.argument("path", type=click.Path(path_type=Path), default=".", is_eager=True)
@target_options
@click.option("--report", "report_file", type=click.Path(dir_okay=False, path_type=Path),
              help="Use a saved `depslim analyze --format json` report instead of analyzing.")
@click.option("--dockerfile-only", is_flag=True, help="Audit only PATH/Dockerfile (or a Dockerfile path).")
@config_option
@output_options("audit")
def command(path: Path, target: TargetSpec, report_file: Path | None,
            dockerfile_only: bool, config_file: Path | None, fmt: str | None, output: Path | None,
            force: bool) -> None:
    """One table of every finding with its owner, fix and savings, and the projected size."""
    from depslim import audit

    out = resolve_output("audit", fmt, output, force=force)
    findings, info, unmeasured = _collect(path, target, report_file, dockerfile_only, config_file)
    write_report(out, audit.audit_table(findings, info, _dockerfile(path, info), unmeasured=unmeasured))


def _dockerfile(path: Path, info: TargetInfo | None) -> Dockerfile | None:
    """The project's Dockerfile (config `dockerfile`, else PATH/Dockerfile) parsed, for telling the
    image's base layers from the project's; None when there is none or it does not parse."""
    if info is None or info.kind != "image" or not info.layers:
        return None
    from depslim.cli.config import analysis_config
    from depslim.dockerfile.parse import parse_dockerfile

    name = str(analysis_config().get("dockerfile") or "Dockerfile")
    file = path if path.is_file() else Path(name) if Path(name).is_absolute() else path / name
    if not file.is_file():
        return None
    try:
        return parse_dockerfile(file)
    except InputError:
        return None


def _collect(path: Path, given: TargetSpec, report_file: Path | None, dockerfile_only: bool,
             config_file: Path | None) -> tuple[list[Finding], TargetInfo | None, str]:
    """The findings, the target they were measured on, and why its size is not measured ("" when it is)."""
    if dockerfile_only:
        from depslim.dockerfile import audit_dockerfile

        dockerfile = path if path.is_file() else path / "Dockerfile"
        if not dockerfile.is_file():
            raise InputError(dockerfile, "no such Dockerfile")
        return audit_dockerfile(dockerfile), None, ""
    if report_file is not None:
        return (*_from_json(report_file), "")
    from depslim.cli.config import analysis_config
    from depslim.core import AnalyzeOptions, analyze

    if not path.is_dir():
        raise InputError(path, "no such project directory")
    options = AnalyzeOptions(project=path, target=given,
                             config=analysis_config())
    result = analyze(options)
    target = result.target
    unmeasured = not_the_projects_environment(result, given)
    if unmeasured:
        return list(result.findings), target, unmeasured
    if not any(isinstance(target.totals.get(k), int) for k in audit_totals_keys()):
        from dataclasses import replace

        # The environment target reports no totals: its measured installed bytes stand in.
        target = replace(target, totals={**target.totals, "installed_bytes": result.summary.installed_bytes})
    return list(result.findings), target, ""


def not_the_projects_environment(report: Report, given: TargetSpec) -> str:
    """Why the environment measured is not the project's ("" when it is, or the target is an image).

    The rule, as `check` applies it to its Python bytes (`gate.python_bytes` is None): an environment
    holding none of the project's declared runtime packages does not measure the project. Without
    `--python` that environment is the one depslim itself runs in, and its size (depslim, its
    dependencies, pip) is not the project's: current and projected sizes are then unmeasured."""
    from depslim.gate import python_bytes

    if report.target.kind != "environment" or python_bytes(report) is not None:
        return ""
    whose = ("the environment depslim runs in" if given.python is None
             else f"the environment of {report.target.ref}")
    return (f"not measured: {whose} has none of the project's runtime packages installed; "
            "pass --python PATH (the project's interpreter) or --image REF")


def audit_totals_keys() -> tuple[str, ...]:
    from depslim.audit import TOTAL_KEYS

    return TOTAL_KEYS


def _from_json(path: Path) -> tuple[list[Finding], TargetInfo | None]:
    """Findings and target totals from an analyze JSON report (the documented schema), every field
    read through depslim.jsonshape: a malformed report is one line naming the file and the field."""
    where = Where(str(path))
    try:
        text = read_text(path)
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(path, f"cannot read report: {getattr(exc, 'strerror', None) or exc}") from None
    doc = expect_object(jsonshape.loads(text, where), where)
    if doc.opt_array("findings") is None:
        raise InputError(path, "not a depslim analyze JSON report (no findings list)")
    findings = []
    for item in doc.objects("findings"):
        owner = item.text("owner")
        if owner not in {o.value for o in Owner}:
            item.fail(f"not an owner: {owner[:40]!r}", "owner")
        findings.append(Finding(
            id=item.text("id"), code=item.text("code"), title=item.text("title"), owner=Owner(owner),
            fix=item.text("fix"), savings_bytes=item.opt_integer("savings_bytes"),
            estimate=item.flag("estimate"), subject=item.text("subject"),
            severity=item.text("severity", "warning"),
            evidence=tuple(Evidence(e.text("path"), e.integer("line"), e.text("kind"), e.text("detail"))
                           for e in item.objects("evidence")),
            data=dict(item.obj("data").data),
        ))
    raw = doc.obj("target")
    totals = raw.obj("totals")
    target = TargetInfo(kind=raw.text("kind"), ref=raw.text("ref"),
                        totals={k: v for k, v in totals.data.items() if isinstance(v, int) and not isinstance(v, bool)})
    summary = doc.opt_obj("summary")
    if not target.totals and summary is not None:
        installed = summary.opt_integer("installed_bytes")
        if installed is not None:
            target = TargetInfo(kind=target.kind, ref=target.ref, totals={"installed_bytes": installed})
    return findings, target
