"""Dockerfile audit: rules from `data/dockerfile_rules.toml`, checks from `checks.py`, findings out.

Each finding has a stable id `dockerfile:<rule>:<file>:<line>`, the file and line as evidence,
the overlapping hadolint rule when there is one, and a savings figure only where the rule
records one (always marked as an estimate: the image analysis measures the real bytes).
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

from depslim.dockerfile.checks import CHECKS, AuditInput, Hit
from depslim.dockerfile.parse import parse_dockerfile
from depslim.errors import InputError
from depslim.inputfile import read_text
from depslim.knowledge import check_keys, load_data
from depslim.model import Evidence, Finding, Owner

_REQUIRED = ("id", "title", "owner", "severity", "scope", "fix")
_OPTIONAL = ("hadolint", "savings_mb", "savings_source", "patterns", "packages", "cleanup_paths",
             "cleanup_commands", "entries", "extensions", "directories", "download_commands", "names",
             "ignore_names")
MB = 1_000_000


@cache
def load_rules() -> tuple[Mapping[str, Any], ...]:
    """The packaged rules, validated: every rule has a check and every check a rule."""
    where = "depslim/data/dockerfile_rules.toml"
    rules = tuple(load_data("dockerfile_rules").get("rule", []))
    for i, rule in enumerate(rules):
        check_keys(rule, required=_REQUIRED, optional=_OPTIONAL, where=f"{where} rule[{i}]")
        if rule["id"] not in CHECKS:
            raise InputError(where, f"rule {rule['id']!r} has no check")
        if rule["scope"] not in ("shipped", "all"):
            raise InputError(where, f"rule {rule['id']!r}: scope must be shipped or all")
        Owner(rule["owner"])
    missing = set(CHECKS) - {r["id"] for r in rules}
    if missing:
        raise InputError(where, f"checks without a rule: {sorted(missing)}")
    return rules


def _read_ignore(path: Path) -> list[str] | None:
    try:
        return read_text(path, errors="replace").splitlines()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise InputError(path, f"cannot read: {exc.strerror or exc}") from None


def audit_dockerfile(path: Path, *, gpu_use: bool | None = None, root: Path | None = None,
                     dockerignore: Path | None = None) -> list[Finding]:
    """Audit one Dockerfile (and the .dockerignore beside it). `gpu_use` comes from the scan.

    Paths in evidence are relative to `root` (default: the Dockerfile's directory).
    """
    path = Path(path)
    root = root or path.parent
    dockerfile = parse_dockerfile(path)
    ignore_path = dockerignore or path.parent / ".dockerignore"
    inp = AuditInput(dockerfile, _read_ignore(ignore_path), gpu_use)
    rel = _rel(path, root)
    findings: list[Finding] = []
    for rule in load_rules():
        stages = dockerfile.shipped() if rule["scope"] == "shipped" else dockerfile.stages
        for hit in CHECKS[rule["id"]](inp, rule, stages):
            findings.append(_finding(rule, hit, rel, _rel(ignore_path, root)))
    return sorted(findings, key=lambda f: (f.evidence[0].path, f.evidence[0].line, f.id))


def _rel(path: Path, root: Path) -> str:
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return path.as_posix()


def _fmt(text: str, fields: Mapping[str, str]) -> str:
    try:
        return text.format(**fields)
    except (KeyError, IndexError):
        return text


def _finding(rule: Mapping[str, Any], hit: Hit, rel: str, ignore_rel: str) -> Finding:
    path = ignore_rel if hit.path == ".dockerignore" else rel
    savings = round(rule["savings_mb"] * MB) if "savings_mb" in rule else None
    data: dict[str, object] = {"rule": rule["id"], "file": path, "line": hit.line}
    if rule.get("hadolint"):
        data["hadolint"] = rule["hadolint"]
    if savings is not None:
        data["savings_source"] = rule.get("savings_source", "")
    evidence = [Evidence(path, hit.line, "dockerfile", hit.detail)]
    if savings is not None:
        evidence.append(Evidence("", 0, "rule", f"recorded figure: {rule.get('savings_source', '')}"))
    return Finding(
        id=f"dockerfile:{rule['id']}:{path}:{hit.line}",
        code=f"dockerfile-{rule['id']}",
        title=_fmt(rule["title"], hit.fields),
        owner=Owner(rule["owner"]),
        fix=_fmt(rule["fix"], hit.fields),
        savings_bytes=savings,
        estimate=savings is not None,
        subject=f"{path}:{hit.line}" if hit.line else path,
        severity=rule["severity"],
        evidence=tuple(evidence),
        data=data,
    )
