"""`analyze`: scan → declared → target → mapping → sizes → verdicts → findings → Report.

The core never prints and never exits; progress goes to an observer and errors are
`DepslimError`s the CLI reports. Every size in the report comes from the target's files.
"""

from __future__ import annotations

import dataclasses
import re
import threading
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from depslim import __version__
from depslim.errors import InputError
from depslim.graph import Graph, build_graph
from depslim.graph import warm as warm_graph
from depslim.implicit import find_hits, merge_patterns, resolve_needs, signal_patterns
from depslim.inputfile import read_bytes, read_text
from depslim.mapping import Mapped, Mapper
from depslim.model import (
    IMPORT_PROBLEM_CODES,
    Context,
    DeclaredRequirement,
    DeclaredSet,
    DistributionReport,
    Evidence,
    Finding,
    ImportRef,
    ImportReport,
    InstalledDistribution,
    Report,
    ScanResult,
    Scope,
    SignalPatterns,
    Summary,
    Unmeasured,
    Verdict,
)
from depslim.progress import NULL_PROGRESS, Progress
from depslim.sizes import SizeTable, installed_bytes
from depslim.targets.base import Target
from depslim.targets.spec import TargetSpec
from depslim.verdicts import Decision, decide, is_cut, is_kept

if TYPE_CHECKING:  # the finders (about 0.15 s of imports) load in `build_report`, not before the scan
    from depslim.findings.base import Finder
    from depslim.imports.launches import Followed


@dataclass(frozen=True)
class AnalyzeOptions:
    """What to analyze. `project=None` analyzes a target alone (e.g. `depslim image`)."""

    project: Path | None = None
    target: TargetSpec = field(default_factory=TargetSpec)
    requirements: tuple[Path, ...] = ()
    dev_paths: tuple[str, ...] | None = None
    script_paths: tuple[str, ...] | None = None
    exclude: tuple[str, ...] = ()
    cache_dir: Path | None = None
    config: Mapping[str, object] = field(default_factory=dict)
    scope: Scope = Scope.ALL
    serving_dockerfile: str = "Dockerfile"  # project-relative: whose final command `serving` means

    # Read-only views of the target options, for code that reads them one by one.
    @property
    def image(self) -> str | None:
        return self.target.image

    @property
    def platform(self) -> str | None:
        return self.target.platform

    @property
    def python(self) -> Path | None:
        return self.target.python


def open_target(options: AnalyzeOptions, progress: Progress = NULL_PROGRESS) -> Target:
    """The target the options name: an image, another interpreter, or this environment."""
    return options.target.open(progress)


def model_loader_patterns() -> SignalPatterns:
    """Model-loading calls and model-file names (whether a served model's origin is known)."""
    from depslim.imports.pickles import model_call_patterns

    return model_call_patterns()


def extra_signal_patterns() -> SignalPatterns:
    """Patterns other finders need the scan to report (swap conditions).

    Read from the rule set itself, not through the swap finder, so the scan can start before
    the finders' imports are paid for."""
    try:
        from depslim.swaps.rules import packaged_rules
    except ImportError:
        return SignalPatterns()
    return packaged_rules().signal_patterns()


def scan(
    options: AnalyzeOptions, progress: Progress = NULL_PROGRESS, alongside: Callable[[], None] | None = None
) -> ScanResult:
    from depslim.imports import scan_project

    assert options.project is not None
    return scan_project(
        options.project,
        dev_paths=options.dev_paths,
        script_paths=options.script_paths,
        exclude=options.exclude,
        patterns=merge_patterns(signal_patterns(), extra_signal_patterns(), model_loader_patterns()),
        cache_dir=options.cache_dir,
        progress=progress,
        alongside=alongside,
    )


def read_declared(options: AnalyzeOptions) -> DeclaredSet:
    from depslim.declared import read_declared as read

    assert options.project is not None
    return read(options.project, list(options.requirements) or None, options.exclude)


def unique_distributions(dists: Sequence[InstalledDistribution]) -> tuple[list[InstalledDistribution], list[str]]:
    """First of each name wins (the one `import` finds); later ones are reported, not measured twice."""
    seen: dict[str, InstalledDistribution] = {}
    shadowed: list[str] = []
    for dist in dists:
        if dist.name in seen:
            shadowed.append(f"{dist.name} {dist.version} in {dist.site} (shadowed by {seen[dist.name].site})")
        else:
            seen[dist.name] = dist
    return list(seen.values()), shadowed


def _third_party(refs: Iterable[ImportRef], first_party: frozenset[str]) -> list[ImportRef]:
    return [r for r in refs if not r.first_party and r.top_level not in first_party]


def _map_imports(mapper: Mapper, refs: Sequence[ImportRef]) -> dict[ImportRef, Mapped]:
    cache: dict[str, Mapped] = {}
    result = {}
    for ref in refs:
        if ref.module not in cache:
            cache[ref.module] = mapper.map(ref.module)
        result[ref] = cache[ref.module]
    return result


def _import_reports(mapped: Mapping[ImportRef, Mapped]) -> tuple[ImportReport, ...]:
    groups: dict[tuple[str, tuple[str, ...], str], list[ImportRef]] = defaultdict(list)
    for ref, m in mapped.items():
        groups[(ref.top_level, m.distributions, m.how)].append(ref)
    reports = [
        ImportReport(
            module=top,
            distribution=",".join(dists) or None,
            mapping=how,
            locations=tuple(sorted({r.location for r in refs})),
            contexts=tuple(sorted({r.context.value for r in refs})),
        )
        for (top, dists, how), refs in groups.items()
        if how != "stdlib"
    ]
    return tuple(sorted(reports, key=lambda r: (r.module, r.distribution or "")))


def declared_by_name(declared: DeclaredSet) -> dict[str, list[DeclaredRequirement]]:
    by_name: dict[str, list[DeclaredRequirement]] = defaultdict(list)
    for req in declared.requirements:
        if req.name and not req.constraint:
            by_name[req.name].append(req)
    return by_name


def _decide_all(
    declared: Mapping[str, list[DeclaredRequirement]],
    imports_by_dist: Mapping[str, list[ImportRef]],
    implicit: Mapping[str, list[Evidence]],
    graph: Graph,
    reach: Reach,
) -> dict[str, tuple[Verdict, tuple[Evidence, ...]]]:
    def one(name: str, dependents: Sequence[str]) -> Decision:
        return decide(name, imports_by_dist.get(name, []), implicit.get(name, []), dependents,
                      reach.reached, reach.unreached_implicit.get(name, ()))

    first = {name: one(name, []) for name in declared}
    kept = {n for n, d in first.items() if is_kept(d.verdict, reach.scope)}
    needed_by_kept = graph.closure(kept) - kept
    unread = sorted(k for k in kept if k not in graph.requires)  # kept, but not installed here
    result: dict[str, tuple[Verdict, tuple[Evidence, ...]]] = {}
    for name, dec in first.items():
        if not is_kept(dec.verdict, reach.scope) and name in needed_by_kept:
            dependents = sorted(k for k in graph.required_by.get(name, ()) if k in kept or k in needed_by_kept)
            dec = one(name, dependents or ["(runtime closure)"])
        elif dec.verdict is Verdict.UNUSED and unread:
            dec = _unproven_unused(unread)
        result[name] = (dec.verdict, dec.evidence)
    return result


def _unproven_unused(unread: Sequence[str]) -> Decision:
    """`unused` says nothing requires the package; that needs the requirements of every package the
    runtime keeps. When some are not installed in the target, theirs cannot be read: `requests`,
    declared and never imported, was cut although mlflow-skinny requires it. Kept, saying why."""
    shown = ", ".join(unread[:3]) + (f" and {len(unread) - 3} more" if len(unread) > 3 else "")
    return Decision(Verdict.IMPLICIT, (Evidence("", 0, "dependency", (
        f"possibly required by a runtime package: {shown} not installed in this target, so what they require "
        "cannot be read (measure with --image or --python to know)")),))


@dataclass(frozen=True)
class Reach:
    """What the entrypoints in scope reach: decides `runtime` versus `unreachable`.

    `modules` is None when reachability is unknown (no entrypoint names project code): then
    every runtime import counts, as it always did.
    """

    scope: Scope
    entrypoints: tuple[Evidence, ...]
    modules: frozenset[str] | None
    scan: ScanResult | None
    unreached_implicit: Mapping[str, Sequence[Evidence]] = field(default_factory=dict)
    followed: tuple[tuple[str, int, str], ...] = ()  # launches followed into (file, line, command)
    commands: tuple[tuple[str, int, int, tuple[str, ...]], ...] = ()  # (file, line, end line, words) code runs
    foreign_loads: tuple[tuple[str, int, str], ...] = ()  # reached model loads of files the project lacks

    def reached_path(self, path: str) -> bool:
        if self.modules is None or self.scan is None:
            return True
        return self.scan.module_of_file(path) in self.modules

    def reached(self, ref: ImportRef) -> bool:
        return self.reached_path(ref.location.path)


def serving_entrypoints(scan: ScanResult, dockerfile: str) -> tuple[Evidence, ...]:
    """What an image built from the project serves: the Dockerfile's final command, else the
    Procfile's entries, else nothing (the caller then falls back to every entrypoint). Compose
    services' commands always count: `command:` overrides the image's CMD when the service runs,
    and which service runs the image is not knowable from the files, so every one is kept."""
    from depslim.imports.compose import is_compose_file

    composed = tuple(e for e in scan.entrypoints if is_compose_file(e.path.rpartition("/")[2]))
    from_dockerfile = [e for e in scan.entrypoints if e.path == dockerfile]
    if from_dockerfile:
        return (from_dockerfile[-1], *composed)  # one per stage with a command: the last is the image's
    return (*(e for e in scan.entrypoints if e.path.rpartition("/")[2] == "Procfile"), *composed)


def reach_for(options: AnalyzeOptions, scan_result: ScanResult | None) -> tuple[Reach, list[str]]:
    """Reachability for the options' scope, and a warning when `serving` had to fall back."""
    if scan_result is None or not scan_result.entrypoints:
        return Reach(options.scope, (), None, scan_result), []
    warnings: list[str] = []
    chosen = scan_result.entrypoints
    if options.scope is Scope.SERVING:
        serving = serving_entrypoints(scan_result, options.serving_dockerfile)
        if serving:
            chosen = serving
        else:
            warnings.append(f"--scope serving: {options.serving_dockerfile} has no CMD/ENTRYPOINT and there is no "
                            "Procfile; every entrypoint counts")
    start = {m for e, ms in zip(scan_result.entrypoints, scan_result.entry_starts, strict=False) if e in chosen
             for m in ms}
    if not start:
        return Reach(options.scope, tuple(chosen), None, scan_result), warnings
    start |= pickled_modules(scan_result)
    followed = follow_launches(scan_result, options.project, start)
    startup = startup_strings(options.project, options.serving_dockerfile)
    foreign = foreign_model_loads(scan_result, followed.modules, startup, options.project)
    unknown = [*followed.unknown, *foreign]
    if unknown:
        where = "; ".join(f"{path}:{line} ({what})" for path, line, what in unknown[:3])
        warnings.append(f"reachability is incomplete: reached code starts code it names at run time ({where}); "
                        "nothing is treated as unreachable")
        return Reach(options.scope, tuple(chosen), None, scan_result, followed=followed.followed,
                     commands=followed.commands, foreign_loads=tuple(foreign)), warnings
    return Reach(options.scope, tuple(chosen), followed.modules, scan_result, followed=followed.followed,
                 commands=followed.commands), warnings


def startup_strings(root: Path | None, dockerfile: str) -> list[str]:
    """The words the image's start-up carries (ENV values, CMD/ENTRYPOINT words): `MODEL_PATH=/app/m.pkl`
    names the model the served code loads from the environment."""
    from depslim.dockerfile.parse import parse_dockerfile

    path = root / dockerfile if root is not None else None
    if path is None or not path.is_file():
        return []
    try:
        parsed = parse_dockerfile(path)
    except InputError:
        return []
    words: list[str] = []
    for stage in parsed.shipped():
        for ins in stage.instructions:
            if ins.keyword in ("ENV", "CMD", "ENTRYPOINT", "ARG"):
                words += ins.args.replace("=", " ").replace('"', " ").replace(",", " ").split()
    return words


def foreign_model_loads(scan_result: ScanResult, modules: frozenset[str], startup: Sequence[str],
                        root: Path | None) -> list[tuple[str, int, str]]:
    """Model loads in reached code whose file nothing names: the model comes from outside the project
    (a registry, a mounted volume) and whatever it needs cannot be seen. A pickle load is of known
    origin when its file, or the image's start-up, names a model file the project has; an MLflow
    load never is (its flavor's modules come from the model's metadata, usually in a registry)."""
    from depslim.imports.pickles import loader_patterns

    loaders = loader_patterns()
    files = {scan_result.module_files[m] for m in modules if m in scan_result.module_files}

    def has(text: str, here: str) -> bool:
        if root is None or not text or "\x00" in text:
            return False
        for base in (root, root / here):
            candidates = [text.lstrip("/")] if text.startswith("/") else [text]
            if text.startswith("/"):  # absolute in the image: its tail may be a project path
                parts = text.strip("/").split("/")
                candidates = ["/".join(parts[k:]) for k in range(len(parts))]
            if any((base / c).is_file() for c in candidates if c):
                return True
        return False

    named = {sig.location.path for sig in scan_result.signals
             if sig.kind == "string" and sig.pattern.removeprefix("re:") in loaders.strings
             and has(sig.value, sig.location.path.rpartition("/")[0])}
    started = any(has(word, "") for word in startup if loaders.strings and re.match(loaders.strings[0], word))
    found = []
    for sig in scan_result.signals:
        if sig.kind == "string" or sig.location.path not in files:
            continue
        if not any(sig.value == a or sig.value.startswith(a + ".") for a in loaders.attributes):
            continue
        # an MLflow load reads its flavor's modules from the model's own metadata: a registry's business
        known = not sig.value.startswith("mlflow.") and (sig.location.path in named or started)
        if not known:
            found.append((sig.location.path, sig.location.line, f"{sig.value} loads a model the project does not ship"))
    return found


def model_writer_needs(scan_result: ScanResult, foreign: Sequence[tuple[str, int, str]],
                       mapper: Mapper) -> dict[str, list[Evidence]]:
    """Served code loads a model the project does not ship, so what it holds cannot be read; the
    project's own code that writes models (`joblib.dump` in a training script) is the evidence left.
    The model libraries such a file imports stay, with the load and the import as evidence: a
    training script's sklearn is exactly what unpickling its LogisticRegression needs."""
    from depslim.imports.pickles import writer_patterns

    if not foreign:
        return {}
    writers = writer_patterns()
    files = {sig.location.path for sig in scan_result.signals if sig.kind != "string"
             and any(sig.value == a or sig.value.startswith(a + ".") for a in writers.attributes)}
    path, line, what = foreign[0]
    needs: dict[str, list[Evidence]] = defaultdict(list)
    for ref in scan_result.imports:
        top = ref.module.partition(".")[0]
        if ref.location.path not in files or top not in writers.libraries:
            continue
        for name in mapper.map(ref.module).distributions:
            evidence = Evidence(ref.location.path, ref.location.line, "implicit",
                                f"{path}:{line} {what}; {ref.location.path} writes models with {top}: "
                                "kept in case the served model is one of them")
            if evidence not in needs[name]:
                needs[name].append(evidence)
    return dict(needs)


def pickled_modules(scan_result: ScanResult) -> set[str]:
    """First-party modules a runtime model file's pickles name: loading the model imports them (a custom
    transformer in `final_model_functions.py` that no served module imports), so they are reached."""
    found: set[str] = set()
    for pickled in scan_result.pickled:
        if pickled.context is not Context.RUNTIME:
            continue
        for module, _attr in pickled.names:
            parts = module.split(".")
            found.update(".".join(parts[:k]) for k in range(1, len(parts) + 1)
                         if ".".join(parts[:k]) in scan_result.module_files)
    return found


def promote_reached(scan_result: ScanResult | None, reach: Reach) -> ScanResult | None:
    """Script and dev files an entrypoint reaches run in production: `CMD python scripts/serve.py`, or
    `subprocess.run([sys.executable, "scripts/load.py"])` from served code. Their imports and signals
    count as runtime then, whatever folder they sit in."""
    if scan_result is None or reach.modules is None:
        return scan_result
    files = {scan_result.module_files[m] for m in reach.modules if m in scan_result.module_files}
    if not any(r.context is not Context.RUNTIME and r.location.path in files and not r.notebook
               for r in scan_result.imports):
        return scan_result
    imports = tuple(dataclasses.replace(r, context=Context.RUNTIME)
                    if r.context is not Context.RUNTIME and r.location.path in files and not r.notebook else r
                    for r in scan_result.imports)
    signals = tuple(dataclasses.replace(s, context=Context.RUNTIME)
                    if s.context is not Context.RUNTIME and s.location.path in files else s
                    for s in scan_result.signals)
    return dataclasses.replace(scan_result, imports=imports, signals=signals)


def follow_launches(scan_result: ScanResult, root: Path | None, start: set[str]) -> Followed:
    """Reach from `start` over imports and the launches (subprocess, os.system, runpy, importlib)
    of the reached code: a served process that starts `python scripts/job.py` reaches that script."""
    from depslim.imports.launches import follow

    def read(rel: str) -> bytes | None:
        if root is None:
            return None
        try:
            return read_bytes(root / rel)
        except OSError:
            return None

    return follow(start, scan_result.module_files, scan_result.reached_from_modules, read)






def _line_reader(root: Path | None) -> Callable[[Evidence], str]:
    """Reads the declaring line of an entrypoint (Dockerfile CMD, Procfile) from the project."""

    def read(evidence: Evidence) -> str:
        if root is None or not evidence.line:
            return ""
        try:
            lines = read_text(root / evidence.path, errors="replace").splitlines()
        except OSError:
            return ""
        return lines[evidence.line - 1] if evidence.line <= len(lines) else ""

    return read


def merge_removals(findings: Sequence[Finding]) -> list[Finding]:
    """One row per cut package: a removal rule's finding (`remove-from-runtime:X`) folds into the
    verdict's `cut:X`, lending its recorded figure (marked as an estimate) when X is not
    installed in the target and so could not be measured."""
    removals = {f.subject: f for f in findings if f.code == "remove-from-runtime"}
    cut_subjects = {f.subject for f in findings if f.id.startswith("cut:")}
    merged: list[Finding] = []
    for f in findings:
        if f.code == "remove-from-runtime" and f.subject in cut_subjects:
            continue
        rule = removals.get(f.subject) if f.id.startswith("cut:") else None
        if rule is not None and f.savings_bytes is None and rule.savings_bytes is not None:
            f = dataclasses.replace(
                f, savings_bytes=rule.savings_bytes, estimate=True, evidence=(*f.evidence, *rule.evidence)
            )
        merged.append(f)
    return merged


def sort_findings(findings: Iterable[Finding]) -> tuple[Finding, ...]:
    """Deterministic: biggest saving first, then by code and subject; duplicates by id dropped."""
    unique: dict[str, Finding] = {}
    for f in findings:
        unique.setdefault(f.id, f)
    return tuple(sorted(unique.values(), key=lambda f: (-(f.savings_bytes or 0), f.code, f.subject, f.id)))


class _Alongside:
    """Work that needs nothing from the scan, run in a thread while the scan's worker processes
    parse (this process only waits for them then), or here afterwards when there is no pool.

    Its exception is raised where the result is asked for, so errors surface in the same
    order as when the steps ran one after the other.
    """

    def __init__(self, work: Callable[[], DeclaredSet]) -> None:
        self._work = work
        self._thread: threading.Thread | None = None
        self._value: DeclaredSet | None = None
        self._error: BaseException | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="depslim-alongside", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            self._value = self._work()
        except BaseException as exc:  # re-raised by result(), in the caller's thread
            self._error = exc

    def result(self) -> DeclaredSet:
        if self._thread is None:
            self._run()
        else:
            self._thread.join()
        if self._error is not None:
            raise self._error
        assert self._value is not None
        return self._value


def _prepare(options: AnalyzeOptions, target: Target) -> DeclaredSet:
    """What `build_report` needs besides the scan: the declarations, the environment's
    distributions (an image reads its own way, with its own workers) and the finders' modules."""
    declared = read_declared(options)
    if target.info().kind == "environment":
        warm_graph(target.distributions())  # the target keeps its distributions
    import depslim.findings  # noqa: F401  (loaded now, used by build_report)

    return declared


@dataclass(frozen=True)
class Analysis:
    """A report with what it was built from, for commands that go on from it (`slim`, `verify`)."""

    report: Report
    target: Target
    scan: ScanResult | None
    declared: DeclaredSet | None
    reach: Reach


def analyze(options: AnalyzeOptions, progress: Progress = NULL_PROGRESS) -> Report:
    """Run the whole analysis and return the report (no printing, no exiting)."""
    return analyze_fully(options, progress).report


def analyze_fully(options: AnalyzeOptions, progress: Progress = NULL_PROGRESS) -> Analysis:
    """`analyze`, keeping the target, the scan and the declarations beside the report."""
    if options.project is not None and not options.project.is_dir():
        raise InputError(options.project, "no such project directory")
    target = open_target(options, progress)
    if options.project is None:
        report = build_report(options, target, None, None, progress)
        return Analysis(report, target, None, None, Reach(options.scope, (), None, None))
    alongside = _Alongside(lambda: _prepare(options, target))
    scan_result = scan(options, progress, alongside.start)
    declared = alongside.result()
    reach = reach_for(options, scan_result)
    report = build_report(options, target, scan_result, declared, progress, reached=reach)
    return Analysis(report, target, scan_result, declared, reach[0])


def build_report(
    options: AnalyzeOptions,
    target: Target,
    scan_result: ScanResult | None,
    declared_set: DeclaredSet | None,
    progress: Progress = NULL_PROGRESS,
    finders: Sequence[Callable[[], Finder]] | None = None,
    reached: tuple[Reach, list[str]] | None = None,
) -> Report:
    """Everything after reading: pure over the scan, the declarations and the target (and the
    reachability `reach_for` computed from them, when the caller has it already).

    Every finding comes from the finder registry (`depslim.findings.FINDERS`, or `finders`
    when a caller wants a subset); the core only measures and decides verdicts."""
    info = target.info()
    dists, shadowed = unique_distributions(list(target.distributions()))
    installed = {d.name: d for d in dists}
    declared = declared_by_name(declared_set) if declared_set else {}
    requested = [r.requirement for reqs in declared.values() for r in reqs]
    graph = build_graph(dists, info.markers, requested)
    sizes = SizeTable(dists, graph, roots=declared.keys())

    reach, reach_warnings = reached if reached is not None else reach_for(options, scan_result)
    scan_result = promote_reached(scan_result, reach)
    refs = _third_party(scan_result.imports, scan_result.first_party) if scan_result else []
    mapper = Mapper(dists, declared.keys())
    mapped = _map_imports(mapper, refs)
    imports_by_dist: dict[str, list[ImportRef]] = defaultdict(list)
    for ref, m in mapped.items():
        for name in m.distributions:
            imports_by_dist[name].append(ref)
    hits = find_hits(scan_result, _line_reader(options.project), reach.commands) if scan_result else []
    in_scope = [h for h in hits if _hit_in_scope(h.evidence, reach)]
    implicit = resolve_needs(in_scope, declared.keys(), installed.keys())
    if any(h.rule.extra for h in in_scope):  # a feature that needs an extra: the extra's packages
        from depslim.implicit import extra_needs

        merged = {name: list(evidence) for name, evidence in implicit.items()}
        for name, evidence in extra_needs(in_scope, installed, info.markers, declared.keys()).items():
            have = merged.setdefault(name, [])
            have.extend(e for e in evidence if e not in have)
        implicit = merged
    if scan_result is not None and scan_result.pickled:  # model files: loading one imports what it names
        from depslim.implicit import with_pickled_needs

        implicit = with_pickled_needs(implicit, scan_result, mapper, declared.keys(), installed.keys())
    if scan_result is not None and reach.foreign_loads:  # a model from outside: its writers' libraries
        merged = {name: list(evidence) for name, evidence in implicit.items()}
        for name, evidence in model_writer_needs(scan_result, reach.foreign_loads, mapper).items():
            merged.setdefault(name, []).extend(e for e in evidence if e not in merged.get(name, []))
        implicit = merged
    unreached = resolve_needs([h for h in hits if h not in in_scope], declared.keys(), installed.keys())
    reach = dataclasses.replace(reach, unreached_implicit=unreached)
    decisions: Mapping[str, tuple[Verdict | None, tuple[Evidence, ...]]] = (
        _decide_all(declared, imports_by_dist, implicit, graph, reach) if declared_set else {})
    from depslim.policy import apply_ignore, apply_keep, cut_or_swapped

    decisions, policy_notes = apply_keep(decisions, options.config or {}, reach.scope, "depslim config")

    reports: list[DistributionReport] = []
    for name in sorted(set(installed) | set(declared)):
        dist = installed.get(name)
        size = sizes.of(name)
        verdict, dist_evidence = decisions.get(name, (None, ()))
        reqs = declared.get(name, [])
        reports.append(
            DistributionReport(
                name=name,
                version=dist.version if dist else None,
                size_bytes=size.size_bytes,
                shared_bytes=size.shared_bytes,
                retained_bytes=sizes.retained_one(name) if dist else 0,
                verdict=verdict,
                declared=bool(reqs),
                installed=dist is not None,
                evidence=dist_evidence,
                requires=tuple(sorted(graph.requires.get(name, ()))),
                required_by=tuple(sorted(graph.required_by.get(name, ()))),
                declared_at=tuple(sorted({r.location for r in reqs})),
                dev_declared=bool(reqs) and all(r.dev for r in reqs),
                site=dist.site if dist else "",
            )
        )
    by_name = {r.name: r for r in reports}

    from depslim.findings import run as run_finders
    from depslim.findings.base import AnalysisContext

    context = AnalysisContext(
        project_root=options.project,
        scan=scan_result,
        declared=declared_set,
        target=info,
        installed=installed,
        distributions=by_name,
        config=options.config,
        scope=reach.scope,
        source=target,
        mapped=mapped,
        graph=graph,
        reach=reach,
        implicit=implicit,
    )
    found = run_finders(context, finders) if finders is not None else run_finders(context)
    if found.totals:  # measured by a finder (image waste): the report's target carries it
        info = dataclasses.replace(info, totals={**info.totals, **found.totals}, layers=tuple(
            dataclasses.replace(layer, waste_bytes=found.layer_waste.get(layer.index, 0)) for layer in info.layers))
    findings, ignored_notes = apply_ignore(cut_or_swapped(merge_removals(list(found.findings))),
                                           options.config or {})
    policy_notes += ignored_notes

    unmeasured = [
        Unmeasured(r.name, "declared but not installed in the target")
        for r in reports
        if r.declared and not r.installed
    ]
    unmeasured += [Unmeasured(d.name, "no RECORD: installed files unknown") for d in dists if not d.has_record]
    cut = [r for r in reports if is_cut(r.verdict, reach.scope) and not r.dev_declared]
    kept = [r.name for r in reports if is_kept(r.verdict, reach.scope)]
    ordered = sort_findings(findings)
    summary = Summary(
        declared=len(declared),
        runtime=len(kept),
        cut_count=len(cut),
        cut_bytes=sizes.retained([r.name for r in cut if r.installed]),
        installed=len(dists),
        installed_bytes=installed_bytes(target.distributions()),  # shadowed copies ship too: the image's number
        runtime_bytes=sizes.bytes_of(graph.closure(kept)) if declared_set else sizes.total_bytes,
        findings=len(ordered),
        problems=sum(1 for f in ordered if f.code in IMPORT_PROBLEM_CODES),
    )
    warnings = list(scan_result.warnings) if scan_result else []
    warnings += list(declared_set.warnings) if declared_set else []
    warnings += [f"duplicate distribution: {s}" for s in shadowed]
    warnings += reach_warnings
    warnings += policy_notes
    return Report(
        project=str(options.project) if options.project else "",
        target=info,
        distributions=tuple(reports),
        imports=_import_reports(mapped),
        findings=ordered,
        summary=summary,
        warnings=tuple(warnings),
        unmeasured=tuple(sorted(unmeasured, key=lambda u: u.name)),
        tool_version=__version__,
        scope=reach.scope,
        entrypoints=reach.entrypoints,
    )


def _hit_in_scope(evidence: Evidence, reach: Reach) -> bool:
    """An implicit need counts when its entrypoint is in scope or its code is reached."""
    if reach.modules is None:
        return True
    if any(e.path == evidence.path and e.line == evidence.line for e in reach.entrypoints):
        return True
    if reach.scan is not None and any(e.path == evidence.path for e in reach.scan.entrypoints):
        return False  # another entrypoint's command (a Procfile worker when serving the Dockerfile's)
    return reach.reached_path(evidence.path)
