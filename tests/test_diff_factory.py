"""Hand-built Reports for the gate, diff and Markdown tests (plus a check that they are consistent).

The gate and the diff are pure functions over Report records, so their tests build the
records directly: each test states exactly which distributions, sizes and evidence exist.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace

from depslim.model import (
    DistributionReport,
    Evidence,
    Finding,
    ImportReport,
    LayerInfo,
    Location,
    Owner,
    Report,
    Summary,
    TargetInfo,
    Verdict,
)

MB = 1_000_000


def dist(
    name: str,
    version: str | None = "1.0",
    size: int = 0,
    *,
    verdict: Verdict | None = None,
    declared_at: Sequence[str] = (),
    installed: bool = True,
    requires: Sequence[str] = (),
    evidence: Sequence[Evidence] = (),
    dev: bool = False,
    retained: int | None = None,
) -> DistributionReport:
    """One distribution; `declared_at` takes "file:line" strings."""
    locations = tuple(Location(p.rsplit(":", 1)[0], int(p.rsplit(":", 1)[1])) for p in declared_at)
    return DistributionReport(
        name=name,
        version=version,
        size_bytes=size if installed else 0,
        shared_bytes=0,
        retained_bytes=size if retained is None else retained,
        verdict=verdict,
        declared=bool(locations),
        installed=installed,
        evidence=tuple(evidence),
        requires=tuple(requires),
        declared_at=locations,
        dev_declared=dev,
    )


def imported(path: str, line: int, module: str, context: str = "runtime", kind: str = "import") -> Evidence:
    """Import evidence as the core writes it: detail "module (context)"."""
    return Evidence(path, line, kind, f"{module} ({context})")


def finding(
    code: str, subject: str, savings: int | None = None, *, estimate: bool = False,
    evidence: Sequence[Evidence] = (), severity: str = "warning", title: str = "",
) -> Finding:
    return Finding(
        id=f"{code}:{subject}", code=code, title=title or f"{code} {subject}", owner=Owner.DEVOPS,
        fix=f"fix {subject}", savings_bytes=savings, estimate=estimate, subject=subject,
        severity=severity, evidence=tuple(evidence),
    )


def report(
    dists: Iterable[DistributionReport],
    *,
    findings: Sequence[Finding] = (),
    kind: str = "environment",
    ref: str = "/venv/bin/python",
    layers: Sequence[LayerInfo] = (),
    totals: Mapping[str, int] | None = None,
    project: str = "/work/proj",
    warnings: Sequence[str] = (),
) -> Report:
    """A Report whose `required_by`, imports and summary follow from the distributions given."""
    items = list(dists)
    parents: dict[str, list[str]] = {}
    for d in items:
        for child in d.requires:
            parents.setdefault(child, []).append(d.name)
    items = [replace(d, required_by=tuple(sorted(parents.get(d.name, ())))) for d in items]
    imports = tuple(
        ImportReport(e.detail.split(" (")[0].split(".")[0], d.name, "record", (e.location,), ("runtime",))
        for d in items
        for e in d.evidence
        if e.kind == "import"
    )
    cut = [d for d in items if d.verdict in (Verdict.UNUSED, Verdict.DEV_ONLY) and not d.dev_declared]
    summary = Summary(
        declared=sum(1 for d in items if d.declared),
        runtime=sum(1 for d in items if d.verdict == Verdict.RUNTIME),
        cut_count=len(cut),
        cut_bytes=sum(d.retained_bytes for d in cut),
        installed=sum(1 for d in items if d.installed),
        installed_bytes=sum(d.size_bytes for d in items),
        runtime_bytes=0,
        findings=len(findings),
        problems=0,
    )
    return Report(
        project=project,
        target=TargetInfo(kind=kind, ref=ref, python_version="3.11", layers=tuple(layers),
                          totals=dict(totals or {})),
        distributions=tuple(sorted(items, key=lambda d: d.name)),
        imports=imports,
        findings=tuple(findings),
        summary=summary,
        warnings=tuple(warnings),
        tool_version="0.1.0",
    )


def torch_head() -> Report:
    """The head of a PR that adds CUDA torch (imported) and jupyter (never imported)."""
    return report(
        [
            dist("pandas", "2.2.1", 60 * MB, verdict=Verdict.RUNTIME, declared_at=["requirements.txt:1"],
                 evidence=[imported("src/pipeline/load.py", 1, "pandas")]),
            dist("torch", "2.2.2", 700 * MB, verdict=Verdict.RUNTIME, declared_at=["requirements.txt:2"],
                 requires=["nvidia-cublas-cu12"], evidence=[imported("src/pipeline/train.py", 4, "torch")]),
            dist("nvidia-cublas-cu12", "12.1.3.1", 510 * MB),
            dist("jupyter", "1.0.0", 2 * MB, verdict=Verdict.DEV_ONLY, declared_at=["requirements.txt:3"]),
            dist("pytest", "8.1.1", 3 * MB, verdict=Verdict.DEV_ONLY, declared_at=["requirements-dev.txt:1"],
                 dev=True),
        ]
    )


def torch_base() -> Report:
    return report(
        [
            dist("pandas", "2.2.1", 60 * MB, verdict=Verdict.RUNTIME, declared_at=["requirements.txt:1"],
                 evidence=[imported("src/pipeline/load.py", 1, "pandas")]),
            # Same environment: torch is installed but the base does not declare it.
            dist("torch", "2.2.2", 700 * MB, requires=["nvidia-cublas-cu12"]),
            dist("nvidia-cublas-cu12", "12.1.3.1", 510 * MB),
            dist("pytest", "8.1.1", 3 * MB, verdict=Verdict.DEV_ONLY, declared_at=["requirements-dev.txt:1"],
                 dev=True),
        ]
    )


def test_factory_links_required_by() -> None:
    head = torch_head()
    assert head.distribution("nvidia-cublas-cu12").required_by == ("torch",)  # type: ignore[union-attr]
    assert head.summary.cut_count == 1  # jupyter; pytest is declared only for dev
