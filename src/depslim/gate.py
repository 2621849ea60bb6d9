"""Budgets → CheckResult: the CI gate over a finished analyze Report.

Pure functions over Report records: the CLI does the measuring (core.analyze) and any I/O
(the lock freshness check), then hands the numbers here. Keeping the gate pure means every
budget can be tested on a hand-built Report, and every number a failure line prints is one
the Report measured (or the gate says it was not measured).
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache

from depslim.config import parse_size as config_parse_size
from depslim.errors import InputError
from depslim.knowledge import load_data
from depslim.model import DistributionReport, Evidence, Finding, Report, TargetInfo, Verdict
from depslim.redact import clip
from depslim.units import human_bytes
from depslim.verdicts import is_kept


@cache
def waste_codes() -> frozenset[str]:
    """Finding codes that count as image waste (`waste = true` in data/image_waste.toml).

    Used only when the target reports no `waste_bytes` total. Swaps and cut-list items are
    opportunities, not waste already shipped, so they never count here.
    """
    findings = load_data("image_waste").get("findings", {})
    return frozenset(code for code, rule in findings.items() if isinstance(rule, dict) and rule.get("waste"))


TOP_CONTRIBUTORS = 5

PASS = "pass"
FAIL = "fail"
UNMEASURED = "unmeasured"


# ---------------------------------------------------------------------------------------------
# Sizes: parsing budgets and printing bytes. Decimal units (1 MB = 10^6 B) like docker and the
# reference measurements; binary units (MiB, GiB) are accepted when spelled out.



def parse_size(text: object) -> int:
    """'500MB' → 500_000_000, via the one size parser (`depslim.config.parse_size`)."""
    return int(config_parse_size(text))


def format_bytes(size: int | None, *, signed: bool = False) -> str:
    """1_210_000_000 → '1.21 GB': the shared `depslim.units` style; None → 'unknown'."""
    if size is None:
        return "unknown"
    return human_bytes(size, signed=signed)


# ---------------------------------------------------------------------------------------------
# Records


@dataclass(frozen=True)
class Budgets:
    """What `depslim check` enforces; None / empty means the budget is not set."""

    max_image_bytes: int | None = None
    max_python_bytes: int | None = None
    max_waste_bytes: int | None = None
    max_waste_percent: float | None = None
    forbid: tuple[str, ...] = ()
    fail_on_unused: bool = False
    lock_fresh: bool = False

    def any(self) -> bool:
        return bool(
            self.max_image_bytes is not None
            or self.max_python_bytes is not None
            or self.max_waste_bytes is not None
            or self.max_waste_percent is not None
            or self.forbid
            or self.fail_on_unused
            or self.lock_fresh
        )


@dataclass(frozen=True)
class LockStatus:
    """The outcome of the lock freshness check, computed by the CLI (it reads files)."""

    fresh: bool
    detail: str = ""
    path: str = ""
    available: bool = True  # False when no lock freshness check is installed


@dataclass(frozen=True)
class Contributor:
    """One of the top things behind a number: a distribution, a finding or a layer."""

    name: str
    size_bytes: int | None
    detail: str = ""

    def __str__(self) -> str:
        size = f" {format_bytes(self.size_bytes)}" if self.size_bytes is not None else ""
        detail = f" ({self.detail})" if self.detail else ""
        return f"{self.name}{size}{detail}"


@dataclass(frozen=True)
class GateResult:
    """One budget's outcome: what, its limit, what was measured, and who is behind it."""

    rule: str  # the option name: max-image-bytes, forbid, fail-on-unused …
    what: str  # human: "image size", "forbidden package jupyter*"
    status: str  # pass | fail | unmeasured
    limit: str
    actual: str
    contributors: tuple[Contributor, ...] = ()
    evidence: tuple[Evidence, ...] = ()  # where to annotate (project-relative paths)
    note: str = ""
    limit_value: float | None = None
    actual_value: float | None = None

    @property
    def passed(self) -> bool:
        return self.status == PASS

    def line(self) -> str:
        """The one line a failure prints: what, limit, actual, the top contributors."""
        head = f"{self.status.upper()} {self.what}: limit {self.limit}, actual {self.actual}"
        if self.contributors:
            head += "; top contributors: " + ", ".join(str(c) for c in self.contributors)
        if self.note:
            head += f" — {self.note}"
        return head


@dataclass(frozen=True)
class CheckResult:
    """The result of `depslim check`: every budget's outcome against one target."""

    project: str
    target: TargetInfo
    results: tuple[GateResult, ...]
    warnings: tuple[str, ...] = ()
    allow_unmeasured: bool = False  # --allow-unmeasured: a budget the target cannot measure passes

    @property
    def failures(self) -> tuple[GateResult, ...]:
        """Failed budgets, and unmeasured ones unless allowed: a CI gate that cannot measure its
        budget (--max-image-bytes without --image) must not pass silently."""
        failing = (FAIL,) if self.allow_unmeasured else (FAIL, UNMEASURED)
        return tuple(r for r in self.results if r.status in failing)

    @property
    def passed(self) -> bool:
        return not self.failures

    def summary(self) -> str:
        """The one status line every format shows: an unmeasured budget is never called passed, even
        when `--allow-unmeasured` lets the gate pass."""
        total = len(self.results)
        unmeasured = sum(1 for r in self.results if r.status == UNMEASURED)
        if self.failures:
            why = (f" ({unmeasured} not measured: give the target that measures it, or --allow-unmeasured)"
                   if unmeasured and not self.allow_unmeasured else "")
            return f"{len(self.failures)} of {total} budgets failed{why}"
        if unmeasured:
            return (f"{total - unmeasured} of {total} budgets passed, {unmeasured} not measured "
                    "(allowed by --allow-unmeasured)")
        return f"all {total} budgets passed"


# ---------------------------------------------------------------------------------------------
# Measurements the budgets read


def image_bytes(report: Report) -> int | None:
    """The image's bytes: the target's total when it reports one, else the sum of its layers."""
    totals = report.target.totals
    for key in ("image_bytes", "image"):
        if key in totals:
            return int(totals[key])
    if report.target.layers:
        return sum(layer.size_bytes for layer in report.target.layers)
    return None


def python_bytes(report: Report) -> int | None:
    """Bytes of the Python distributions that ship: the one number every command shows for them.

    Installed bytes: the files the distributions' RECORDs list, which include the `.pyc` files
    pip compiles at install (see `sizes.installed_bytes`). In an image everything installed
    ships: the target's installed bytes, each file counted once (`image`, `analyze`'s
    "installed", `check` and `diff` show this same number). In an environment it is what the
    project ships (`runtime_distributions`): the environment also holds dev tools and unrelated
    packages. None when the project declares runtime packages and none of them is installed
    there — not measured, so a budget on it is UNMEASURED, never a pass on 0 B.
    """
    if report.target.kind == "image":
        return report.summary.installed_bytes
    shipped = runtime_distributions(report)
    installed = [d for d in shipped if d.installed]
    if not installed and any(d.declared for d in shipped):
        return None
    return sum(d.size_bytes for d in installed)


def runtime_closure_bytes(report: Report) -> int | None:
    """Installed bytes of what the project keeps and all it needs; None when none of it is
    installed in the target (then the closure was not measured: 0 B would read as a fact)."""
    if not any(d.installed and is_kept(d.verdict, report.scope) for d in report.distributions):
        return None
    return report.summary.runtime_bytes


def waste_findings(report: Report) -> list[Finding]:
    """Measured image-waste findings, biggest first (estimates never count as waste)."""
    found = [
        f
        for f in report.findings
        if f.code in waste_codes() and f.savings_bytes is not None and not f.estimate
    ]
    return sorted(found, key=lambda f: (-(f.savings_bytes or 0), f.id))


def waste_bytes(report: Report) -> int:
    totals = report.target.totals
    for key in ("waste_bytes", "waste"):
        if key in totals:
            return int(totals[key])
    return sum(f.savings_bytes or 0 for f in waste_findings(report))


def runtime_distributions(report: Report) -> list[DistributionReport]:
    """What ships at runtime.

    In an image everything installed ships. In an environment the runtime is what the project
    declares outside dev files, plus everything those need (the installed dependency closure);
    with nothing declared, the whole environment counts.
    """
    by_name = {d.name: d for d in report.distributions}
    if report.target.kind == "image":
        roots = [d for d in report.distributions if d.installed or (d.declared and not d.dev_declared)]
    else:
        roots = [d for d in report.distributions if d.declared and not _dev_only_declared(d)]
        if not any(d.declared for d in report.distributions):
            roots = [d for d in report.distributions if d.installed]
    seen: dict[str, DistributionReport] = {}
    stack = list(roots)
    while stack:
        dist = stack.pop()
        if dist.name in seen:
            continue
        seen[dist.name] = dist
        stack.extend(by_name[n] for n in dist.requires if n in by_name)
    return sorted(seen.values(), key=lambda d: d.name)


def _dev_only_declared(dist: DistributionReport) -> bool:
    # `dev_declared` is read as "declared only in dev files or groups" (requirements-dev.txt,
    # dev dependency groups): such a distribution never ships at runtime.
    return dist.dev_declared


def top_distributions(dists: Iterable[DistributionReport], n: int = TOP_CONTRIBUTORS) -> list[Contributor]:
    ranked = sorted((d for d in dists if d.installed), key=lambda d: (-d.size_bytes, d.name))
    return [Contributor(_label(d), d.size_bytes) for d in ranked[:n]]


def _label(dist: DistributionReport) -> str:
    return f"{dist.name} {dist.version}" if dist.version else dist.name


# ---------------------------------------------------------------------------------------------
# The gate


def evaluate(
    report: Report, budgets: Budgets, lock: LockStatus | None = None, *, allow_unmeasured: bool = False
) -> CheckResult:
    """Check every set budget against the report; pure, so tests feed it hand-built Reports."""
    results: list[GateResult] = []
    if budgets.max_image_bytes is not None:
        results.append(_check_image(report, budgets.max_image_bytes))
    if budgets.max_python_bytes is not None:
        results.append(_check_python(report, budgets.max_python_bytes))
    if budgets.max_waste_bytes is not None or budgets.max_waste_percent is not None:
        results.extend(_check_waste(report, budgets.max_waste_bytes, budgets.max_waste_percent))
    if budgets.forbid:
        results.extend(_check_forbidden(report, budgets.forbid))
    if budgets.fail_on_unused:
        results.append(_check_unused(report))
    if budgets.lock_fresh:
        results.append(_check_lock(lock))
    return CheckResult(
        project=report.project, target=report.target, results=tuple(results), warnings=report.warnings,
        allow_unmeasured=allow_unmeasured,
    )


def _status(actual: float, limit: float) -> str:
    return PASS if actual <= limit else FAIL


def _check_image(report: Report, limit: int) -> GateResult:
    actual = image_bytes(report)
    if actual is None:
        return GateResult(
            "max-image-bytes", "image size", UNMEASURED, format_bytes(limit), "not measured",
            note="the target is not an image; pass --image REF", limit_value=limit,
        )
    contributors = top_distributions(report.distributions)
    if report.target.layers:
        biggest = max(report.target.layers, key=lambda layer: layer.size_bytes)
        contributors.append(
            Contributor(f"layer {biggest.index}", biggest.size_bytes, _short(biggest.instruction))
        )
    return GateResult(
        "max-image-bytes", "image size", _status(actual, limit), format_bytes(limit),
        format_bytes(actual), tuple(contributors), limit_value=limit, actual_value=actual,
    )


def _check_python(report: Report, limit: int) -> GateResult:
    actual = python_bytes(report)
    if actual is None:
        return GateResult(
            "max-python-bytes", "Python bytes", UNMEASURED, format_bytes(limit), "not measured",
            note="no runtime package is installed in this environment; pass --python or --image with "
                 "the project installed", limit_value=limit,
        )
    top = top_distributions(runtime_distributions(report))
    return GateResult(
        "max-python-bytes", "Python bytes", _status(actual, limit), format_bytes(limit),
        format_bytes(actual), tuple(top), evidence=_declared_evidence(report, top),
        limit_value=limit, actual_value=actual,
    )


def _check_waste(report: Report, limit: int | None, percent: float | None) -> list[GateResult]:
    actual = waste_bytes(report)
    contributors = tuple(
        Contributor(f.subject or f.code, f.savings_bytes, f.code) for f in waste_findings(report)
    )[:TOP_CONTRIBUTORS]
    evidence = tuple(e for f in waste_findings(report)[:TOP_CONTRIBUTORS] for e in f.evidence[:1])
    results = []
    if limit is not None:
        results.append(
            GateResult(
                "max-waste-bytes", "waste", _status(actual, limit), format_bytes(limit),
                format_bytes(actual), contributors, evidence, limit_value=limit, actual_value=actual,
            )
        )
    if percent is not None:
        whole = image_bytes(report)
        basis = "of image bytes"
        if whole is None:
            whole, basis = python_bytes(report), "of Python bytes"
        if not whole:
            results.append(
                GateResult(
                    "max-waste-percent", "waste share", UNMEASURED, f"{percent:g}%", "not measured",
                    note="no image or Python bytes to compare with", limit_value=percent,
                )
            )
        else:
            share = 100.0 * actual / whole
            results.append(
                GateResult(
                    "max-waste-percent", "waste share", _status(share, percent), f"{percent:g}%",
                    f"{share:.1f}% {basis} ({format_bytes(actual)} of {format_bytes(whole)})",
                    contributors, evidence, limit_value=percent, actual_value=share,
                )
            )
    return results


def _check_forbidden(report: Report, patterns: Iterable[str]) -> list[GateResult]:
    runtime = runtime_distributions(report)
    by_name = {d.name: d for d in report.distributions}
    results = []
    for pattern in patterns:
        glob = pattern.strip().lower()
        hits = [d for d in runtime if fnmatch.fnmatchcase(d.name, glob)]
        contributors = tuple(
            Contributor(_label(d), d.size_bytes if d.installed else None, _why_present(d, by_name))
            for d in sorted(hits, key=lambda d: (-d.size_bytes, d.name))
        )
        results.append(
            GateResult(
                "forbid", f"forbidden package {pattern}", FAIL if hits else PASS, "none in the runtime",
                f"{len(hits)} present" if hits else "none", contributors[:TOP_CONTRIBUTORS * 2],
                evidence=tuple(ev for d in hits if (ev := _dist_evidence(d, by_name))),
                limit_value=0, actual_value=len(hits),
            )
        )
    return results


def _check_unused(report: Report) -> GateResult:
    unused = sorted(
        (d for d in report.distributions if d.verdict == Verdict.UNUSED and not _dev_only_declared(d)),
        key=lambda d: (-d.retained_bytes, d.name),
    )
    freed = sum(d.retained_bytes for d in unused)
    contributors = tuple(
        Contributor(_label(d), d.retained_bytes if d.installed else None,
                    "declared at " + str(d.declared_at[0]) if d.declared_at else "declared")
        for d in unused
    )
    return GateResult(
        "fail-on-unused", "unused runtime dependencies", FAIL if unused else PASS, "0",
        f"{len(unused)} ({format_bytes(freed)} retained)" if unused else "0",
        contributors[:TOP_CONTRIBUTORS * 2],
        evidence=tuple(
            Evidence(loc.path, loc.line, "declared", d.name) for d in unused for loc in d.declared_at[:1]
        ),
        limit_value=0, actual_value=len(unused),
    )


def _check_lock(lock: LockStatus | None) -> GateResult:
    if lock is None or not lock.available:
        detail = lock.detail if lock else "no lock freshness check ran"
        return GateResult("lock-fresh", "lock freshness", UNMEASURED, "fresh", "not checked", note=detail)
    evidence = (Evidence(lock.path, 0, "lock", lock.detail),) if lock.path else ()
    return GateResult(
        "lock-fresh", "lock freshness", PASS if lock.fresh else FAIL, "fresh",
        "fresh" if lock.fresh else "stale", evidence=evidence, note=lock.detail if not lock.fresh else "",
    )


def _why_present(dist: DistributionReport, by_name: Mapping[str, DistributionReport]) -> str:
    if dist.declared_at:
        return f"declared at {dist.declared_at[0]}"
    if dist.required_by:
        return "required by " + ", ".join(dist.required_by[:3])
    return "installed"


def _dist_evidence(
    dist: DistributionReport, by_name: Mapping[str, DistributionReport], depth: int = 0
) -> Evidence | None:
    """Where to point a reviewer: the declaration, or the declaration of what pulled it in."""
    if dist.declared_at:
        loc = dist.declared_at[0]
        return Evidence(loc.path, loc.line, "declared", dist.name)
    if depth < 5:
        for parent in dist.required_by:
            if parent in by_name:
                found = _dist_evidence(by_name[parent], by_name, depth + 1)
                if found:
                    return Evidence(found.path, found.line, "declared", f"{dist.name} via {parent}")
    return None


def _declared_evidence(report: Report, contributors: list[Contributor]) -> tuple[Evidence, ...]:
    by_name = {d.name: d for d in report.distributions}
    out: list[Evidence] = []
    for c in contributors:
        dist = by_name.get(c.name.split(" ", 1)[0])
        ev = _dist_evidence(dist, by_name) if dist else None
        if ev and all(ev.location != seen.location for seen in out):
            out.append(ev)
    return tuple(out)


def _short(text: str, width: int = 60) -> str:
    return clip(" ".join(text.split()), width)


# ---------------------------------------------------------------------------------------------
# Budgets from flags and config


def budgets_from(values: Mapping[str, object], origin: str = "command line") -> Budgets:
    """Build Budgets from kebab-case keys (flags or `[tool.depslim]`); bad values → InputError."""

    def size(key: str) -> int | None:
        raw = values.get(key)
        if raw is None:
            return None
        try:
            return parse_size(raw)
        except (ValueError, TypeError) as exc:
            raise InputError(origin, f"{key}: {exc}") from None

    raw_percent = values.get("max-waste-percent")
    percent: float | None = None
    if raw_percent is not None:
        try:
            percent = float(str(raw_percent).rstrip("%"))
        except ValueError:
            raise InputError(origin, f"max-waste-percent: not a number: {raw_percent!r}") from None
        if not 0 <= percent <= 100:
            raise InputError(origin, f"max-waste-percent: {percent:g} is not between 0 and 100")
    forbid = values.get("forbid") or ()
    if isinstance(forbid, str):
        forbid = (forbid,)
    if not isinstance(forbid, list | tuple) or not all(isinstance(p, str) for p in forbid):
        raise InputError(origin, "forbid: expected a list of globs such as ['jupyter*', 'nvidia-*']")
    return Budgets(
        max_image_bytes=size("max-image-bytes"),
        max_python_bytes=size("max-python-bytes"),
        max_waste_bytes=size("max-waste-bytes"),
        max_waste_percent=percent,
        forbid=tuple(forbid),
        fail_on_unused=bool(values.get("fail-on-unused", False)),
        lock_fresh=bool(values.get("lock-fresh", False)),
    )
