"""Swap and removal findings: a lighter build or package when the code shows it is safe.

Each decision states the evidence it checked (runtime signals and imports from the scan), the
measured bytes that go (retained bytes in the target), the measured bytes that come (target or
index range-read), and falls back to the rule's recorded figures only with `estimate=True`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from depslim.declared.base import read_requirement
from depslim.findings.base import AnalysisContext
from depslim.graph import extra_requirements
from depslim.model import DeclaredRequirement, Evidence, Finding, SignalPatterns, Verdict
from depslim.swaps.conditions import ConditionResult, check_groups
from depslim.swaps.gpu import detect_cuda_build, requirement_names
from depslim.swaps.graph import (
    build_graph,
    bytes_of,
    closure,
    core_graph,
    kept_by_declaration,
    retained_set,
)
from depslim.swaps.rules import (
    MB,
    RemovalRule,
    RuleSet,
    SwapRule,
    config_values,
    load_rules,
    packaged_rules,
)
from depslim.swaps.savings import IndexSizer

REMOVABLE_VERDICTS = (Verdict.DEV_ONLY, Verdict.UNUSED)


def signal_patterns(rules: RuleSet | None = None) -> SignalPatterns:
    """What the scan must report so swap conditions can be decided (merge into the scan's patterns)."""
    return (rules or packaged_rules()).signal_patterns()


@dataclass(frozen=True)
class SwapDecision:
    """Why a swap rule fired or did not (tests and `--explain` read this; findings are built from it)."""

    rule: SwapRule
    applies: bool  # the heavy side is installed or declared (with the rule's build/extra)
    fired: bool
    condition: ConditionResult
    reasons: tuple[str, ...] = ()
    finding: Finding | None = None


def _declared(ctx: AnalysisContext, name: str) -> list[DeclaredRequirement]:
    if ctx.declared is None:
        return []
    return [r for r in ctx.declared.requirements if r.name == name and not r.dev and not r.constraint]


def _extras(req: DeclaredRequirement) -> set[str]:
    parsed = read_requirement(req.requirement)
    return set(parsed.extras) if parsed is not None else set()


def _platform_ok(rule: SwapRule, ctx: AnalysisContext) -> bool:
    return not rule.platforms or not ctx.target.platform or ctx.target.platform in rule.platforms


def _python(ctx: AnalysisContext) -> str:
    parts = (ctx.target.python_version or "3.11").split(".")
    return ".".join(parts[:2])


def default_sizer(ctx: AnalysisContext) -> IndexSizer:
    """Indexes from config (`index-urls`, `find-links`, `offline`) or the declared index options."""
    cfg: Mapping[str, Any] = config_values(ctx.config)
    indexes: list[str] = list(cfg.get("index-urls", ()) or ())
    if not indexes and ctx.declared is not None:
        if ctx.declared.index.index_url:
            indexes.append(ctx.declared.index.index_url)
        indexes += list(ctx.declared.index.extra_index_urls)
    if not indexes:
        indexes = ["https://pypi.org/simple"]
    links = [Path(str(p)) for p in (cfg.get("find-links", ()) or ())]
    return IndexSizer(index_urls=tuple(indexes), find_links=tuple(p for p in links if p.is_dir()),
                      platform=ctx.target.platform or "linux/amd64", python=_python(ctx),
                      offline=bool(cfg.get("offline", False)))


@dataclass
class SwapFinder:
    """Swap (`swap:<id>`) and removal (`remove-from-runtime:<name>`) findings."""

    rules: RuleSet | None = None
    sizer: IndexSizer | None = None
    decisions: list[SwapDecision] = field(default_factory=list)

    def find(self, ctx: AnalysisContext) -> list[Finding]:
        rules = self.rules or load_rules(ctx.config, ctx.project_root)
        sizer = self.sizer or default_sizer(ctx)
        self.decisions = [decide_swap(rule, ctx, rules, sizer) for rule in rules.swaps]
        findings = [d.finding for d in self.decisions if d.finding is not None]
        findings += [f for r in rules.removals if (f := removal_finding(r, ctx)) is not None]
        return findings


# ---------------------------------------------------------------------------- swaps


def _applies(rule: SwapRule, ctx: AnalysisContext, rules: RuleSet) -> tuple[bool, list[str], set[str]]:
    """Is the heavy side present? Returns (applies, reasons, active extras of the source)."""
    reasons: list[str] = []
    installed = ctx.installed.get(rule.source)
    declared = _declared(ctx, rule.source)
    if any(n in ctx.installed for n in rule.unless_installed):
        return False, [f"skipped: {', '.join(rule.unless_installed)} installed"], set()
    if not _platform_ok(rule, ctx):
        return False, [f"skipped: only for {', '.join(rule.platforms)}"], set()
    if installed is None and not declared:
        return False, [f"{rule.source} is neither installed nor declared"], set()
    active: set[str] = set()
    if rule.extra:
        active = {e for r in declared for e in _extras(r) if re.fullmatch(rule.extra, e)}
        if not active:
            return False, [f"{rule.source} is not declared with extra [{rule.extra}]"], set()
        reasons.append(f"declared with extra [{', '.join(sorted(active))}]")
    if rule.build == "cuda":
        if installed is not None:
            build = detect_cuda_build(installed, ctx.installed, rules.gpu, ctx.target.markers)
            if build is None:
                return False, [f"{rule.source} {installed.version} is not a CUDA build"], active
            reasons.append(f"{rule.source} {installed.version} is a CUDA build ({build.how}"
                           + (f", CUDA {build.cuda})" if build.cuda else ")"))
        else:
            pinned_cpu = any("+cpu" in r.requirement for r in declared)
            cpu_index = ctx.declared is not None and any(
                "/whl/cpu" in u for u in (ctx.declared.index.index_url or "", *ctx.declared.index.extra_index_urls)
            )
            if pinned_cpu or cpu_index:
                return False, [f"{rule.source} is declared as a CPU build"], active
            reasons.append(f"{rule.source} declared without +cpu: PyPI's Linux wheel is the CUDA build")
    return True, reasons, active


def decide_swap(rule: SwapRule, ctx: AnalysisContext, rules: RuleSet, sizer: IndexSizer) -> SwapDecision:
    applies, reasons, active = _applies(rule, ctx, rules)
    groups = [rules.evidence[g] for g in rule.held_back_by]
    condition = check_groups(ctx.scan, groups)
    if not applies:
        return SwapDecision(rule, False, False, condition, tuple(reasons))
    holding = list(condition.holding)
    if rule.reverse_deps_block:
        parents = core_graph(ctx).required_by.get(rule.source, frozenset())
        for name, dist in sorted(ctx.installed.items()):
            if name != rule.source and name in parents:
                holding.append(Evidence(dist.dist_info, 0, "metadata", f"{name} requires {rule.source}"))
    if holding:
        held = ConditionResult(tuple(holding), condition.ignored, condition.checked)
        return SwapDecision(rule, True, False, held, (*reasons, "held back by runtime evidence"))
    saving = compute_swap_saving(rule, ctx, sizer, active)
    mismatch = _other_release(rule, ctx, saving)
    if mismatch:
        return SwapDecision(rule, True, False, condition, (*reasons, mismatch))
    if saving.bytes is not None and saving.bytes < rule.min_saving_mb * MB:
        return SwapDecision(rule, True, False, condition, (*reasons, "saving below the rule's threshold"))
    finding = _swap_finding(rule, ctx, condition, saving, reasons)
    return SwapDecision(rule, True, True, condition, tuple(reasons), finding)


def _other_release(rule: SwapRule, ctx: AnalysisContext, saving: Saving) -> str:
    """Why a same-version swap is not proposed: its twin exists only in another release.

    xgboost-cpu starts at 2.1.1 and its newest releases need a newer Python, so an image with
    xgboost 2.0.3 would get 3.2.0 — a different library under a pickled model, not the same build
    without the GPU parts. The index's answer decides; offline (no version known) the swap stays an
    estimate, as before."""
    installed = ctx.installed.get(rule.source)
    if not rule.same_version or installed is None or saving.to_version is None or rule.target_name == rule.source:
        return ""
    public = installed.version.split("+")[0]
    if saving.to_version.split("+")[0] == public:
        return ""
    return (f"{rule.target_name} has no {public} for Python {_python(ctx)} on the index (its nearest is "
            f"{saving.to_version}): a twin of another release is no like-for-like swap")


@dataclass(frozen=True)
class Saving:
    bytes: int | None
    estimate: bool
    retained_bytes: int | None
    incoming_bytes: int | None
    how: tuple[str, ...]
    to_version: str | None = None
    sized_url: str | None = None


def compute_swap_saving(rule: SwapRule, ctx: AnalysisContext, sizer: IndexSizer, active: set[str]) -> Saving:
    """retained(from) − incoming(to), measured where the target and the index allow."""
    installed = ctx.installed.get(rule.source)
    if installed is None:
        recorded = rule.recorded_saving_bytes
        return Saving(recorded, True, None, None,
                      (f"{rule.source} not installed in the target: recorded closures ({rule.recorded_source})",))
    same_name = rule.target_name == rule.source and not rule.to_local
    extra_edges: dict[str, list[str]] = {}
    if active:
        extra_edges[rule.source] = _extra_deps(ctx, rule.source, active)
    keep = kept_by_declaration(ctx) - {rule.source}
    if same_name:
        graph = build_graph(ctx, plain={rule.source})  # the source stays, with its plain edges
        goes = set(extra_edges.get(rule.source, ()))
        gone = retained_set(goes, graph, keep | {rule.source})
        retained = bytes_of(ctx, gone)
        extras = ", ".join(sorted(active))
        how = [f"retained by extra [{extras}]: {len(gone)} distributions, {retained:,} bytes measured"]
    else:
        graph = build_graph(ctx, extra_edges)
        gone = retained_set({rule.source}, graph, keep)
        report = ctx.distributions.get(rule.source)
        retained = report.retained_bytes if report is not None and report.retained_bytes and not active \
            else bytes_of(ctx, gone)
        how = [f"retained by {rule.source}: {len(gone)} distributions, {retained:,} bytes measured in the target"]
    incoming, estimate, to_version, url = _incoming(rule, ctx, sizer, gone, graph, installed.version, how)
    if incoming is None:
        return Saving(None, True, retained, None, tuple(how))
    return Saving(retained - incoming, estimate, retained, incoming, tuple(how), to_version, url)


def _incoming(rule: SwapRule, ctx: AnalysisContext, sizer: IndexSizer, gone: set[str],
              graph: Mapping[str, frozenset[str]], from_version: str,
              how: list[str]) -> tuple[int | None, bool, str | None, str | None]:
    target = rule.target_name
    if target == rule.source and not rule.to_local:
        target_extras = _target_extras(rule)
        if not target_extras:
            how.append("nothing comes in: the package stays without the extra")
            return 0, False, from_version, None
        deps = set(_extra_deps(ctx, rule.source, target_extras))
        kept = closure(deps, graph) & gone
        how.append(f"[{', '.join(target_extras)}] keeps {len(kept)} of them: {bytes_of(ctx, kept):,} bytes")
        return bytes_of(ctx, kept), False, from_version, None
    if target in ctx.installed and target != rule.source:
        kept = closure({target}, graph) & gone
        size = bytes_of(ctx, kept)
        how.append(f"{target} {ctx.installed[target].version} is already installed: "
                   f"its closure inside what goes is {size:,} bytes (measured)")
        return size, False, ctx.installed[target].version, None
    info = sizer.measure(rule, from_version)
    if info is not None:
        deps = set(requirement_names(info.requires, ctx.target.markers)) - {rule.source}
        kept = closure(deps, graph) & gone
        size = info.installed_bytes + bytes_of(ctx, kept)
        how.append(f"{info.filename}: {info.installed_bytes:,} bytes installed (zip central directory, "
                   f"{info.fetched_bytes:,} bytes fetched); its requirements keep {bytes_of(ctx, kept):,} bytes")
        return size, False, info.version, info.url
    if not rule.recorded_to_mb or not rule.recorded_from_mb:
        return None, True, None, None
    # The recorded closures are for a bare install; scale the light/heavy ratio onto what this
    # target really retains, so shared dependencies the app keeps are not counted twice.
    retained = bytes_of(ctx, gone)
    ratio = rule.recorded_to_mb / rule.recorded_from_mb
    how.append(f"incoming size not measurable ({'; '.join(sizer.problems[-1:]) or 'offline'}): "
               f"estimated as {ratio:.1%} of what goes, the recorded light/heavy ratio ({rule.recorded_source})")
    return round(retained * ratio), True, None, None


def _extra_deps(ctx: AnalysisContext, source: str, extras: Iterable[str]) -> list[str]:
    """What `source[extras]` adds to `source`, nested extras followed (`depslim.graph`)."""
    found = {d: None for e in sorted(extras) for d in extra_requirements(ctx.installed, source, e, ctx.target.markers)}
    return sorted(found)


def _target_extras(rule: SwapRule) -> list[str]:
    parsed = read_requirement(rule.target)
    return sorted(parsed.extras) if parsed is not None else []


def _requirement_text(rule: SwapRule, version: str | None) -> str:
    if version and (rule.same_version or rule.to_local):
        return f"{rule.target}=={version}"
    return rule.target


def _swap_finding(rule: SwapRule, ctx: AnalysisContext, condition: ConditionResult, saving: Saving,
                  reasons: list[str]) -> Finding:
    installed = ctx.installed.get(rule.source)
    declared = _declared(ctx, rule.source)
    from_text = declared[0].requirement if declared else rule.source
    if installed is not None:
        from_text = f"{rule.source}=={installed.version}"
    version = saving.to_version
    if rule.to_local and version is None and installed is not None:
        version = f"{installed.version.split('+')[0]}+{rule.to_local}"
    to_text = _requirement_text(rule, version)
    index_lines = [f"--extra-index-url {rule.index_url}"] if rule.index_url else []
    fix = f"replace {from_text} with {to_text}" + (f" (add `{index_lines[0]}`)" if index_lines else "")
    evidence = [Evidence(d.location.path, d.location.line, "declared", d.requirement) for d in declared]
    evidence.append(Evidence("", 0, "rule", f"checked: no {condition.checked}" if rule.held_back_by
                             else "no code condition: the rule applies whenever the package is present"))
    evidence += [Evidence(e.path, e.line, "rule", f"ignored (not runtime): {e.detail}") for e in condition.ignored]
    evidence += [Evidence("", 0, "metadata", r) for r in reasons]
    evidence += [Evidence("", 0, "measurement", h) for h in saving.how]
    data: dict[str, object] = {
        "from": from_text, "to": to_text, "rule": rule.id, "reason": rule.reason,
        "checked": condition.checked, "retained_bytes": saving.retained_bytes,
        "incoming_bytes": saving.incoming_bytes, "index_url": rule.index_url, "index_lines": index_lines,
        "sized_from": saving.sized_url, "recorded_source": rule.recorded_source,
    }
    return Finding(
        id=f"swap:{rule.id}",
        code="swap",
        title=f"{rule.source} → {rule.target}" + (f" (+{rule.to_local})" if rule.to_local else ""),
        owner=rule.owner,
        fix=fix,
        savings_bytes=saving.bytes,
        estimate=saving.estimate,
        subject=rule.source,
        severity="warning",
        evidence=tuple(evidence),
        data=data,
    )


# ---------------------------------------------------------------------------- removals


def removal_finding(rule: RemovalRule, ctx: AnalysisContext) -> Finding | None:
    """`remove-from-runtime:<name>` when runtime code never imports a declared tool or notebook package."""
    report = ctx.distributions.get(rule.name)
    declared = _declared(ctx, rule.name)
    if report is None or not declared or report.verdict not in REMOVABLE_VERDICTS:
        return None
    estimate = not report.installed
    if report.installed:
        savings: int | None = report.retained_bytes
        how = f"retained bytes measured in the target: {report.retained_bytes:,}"
    else:
        savings = round(rule.recorded_mb * MB) if rule.recorded_mb is not None else None
        how = f"not installed in the target: recorded {rule.recorded_source or 'figure unknown'}"
    evidence = [Evidence(d.location.path, d.location.line, "declared", d.requirement) for d in declared]
    evidence.append(Evidence("", 0, "rule", f"verdict {report.verdict.value}: {rule.reason}"))
    evidence += list(report.evidence)
    evidence.append(Evidence("", 0, "measurement", how))
    return Finding(
        id=f"remove-from-runtime:{rule.name}",
        code="remove-from-runtime",
        title=f"{rule.name} in the runtime requirements",
        owner=rule.owner,
        fix=f"move {rule.name} to requirements-dev.txt (not imported by runtime code)",
        savings_bytes=savings,
        estimate=estimate,
        subject=rule.name,
        severity="warning",
        evidence=tuple(evidence),
        data={"from": declared[0].requirement, "to": None, "verdict": report.verdict.value},
    )
