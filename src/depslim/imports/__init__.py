"""Static project scan: imports, contexts, first-party code, entrypoints and signals.

Never imports or runs project code. Per-file work (`scan.py`, `notebook.py`) is pure and
cached by content (`cache.py`); everything that depends on the project as a whole —
contexts, first-party resolution, relative imports, entrypoint reachability — is computed
afresh from those per-file results on every run, so a cache hit can never carry a stale
project-level answer.
"""

from __future__ import annotations

import contextlib
import dataclasses
import gc
import os
import tomllib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from depslim.errors import InputError
from depslim.imports import cache as scan_cache
from depslim.imports.contexts import ContextRules, context_data
from depslim.imports.entrypoints import (
    Entrypoint,
    compose_entrypoints,
    dockerfile_entrypoints,
    expand_scripts,
    procfile_entrypoints,
    pyproject_entrypoints,
    pyproject_scripts,
    reachable,
    start_modules,
)
from depslim.imports.firstparty import Layout, build_layout, confirm_namespace_folders
from depslim.imports.notebook import scan_notebook
from depslim.imports.pickles import candidate_suffixes, scan_models
from depslim.imports.scan import (
    DEFERRED,
    DYNAMIC,
    FROM,
    OPTIONAL,
    TYPING,
    CompiledPatterns,
    RawSignal,
    compile_patterns,
    scan_bytes,
)
from depslim.imports.walk import Walk, WalkedFile, walk_project
from depslim.inputfile import read_bytes, read_text
from depslim.model import (
    Context,
    Evidence,
    ImportRef,
    Location,
    NotebookInstall,
    ScanResult,
    Signal,
    SignalPatterns,
)
from depslim.progress import NULL_PROGRESS, Progress
from depslim.redact import redact

__all__ = ["ScanStats", "scan_project", "scan_project_with_stats"]

NO_PATTERNS = SignalPatterns()  # the default: imports only
POOL_MIN_FILES = 150  # below this, starting worker processes costs more than it saves
_TASK = "scan"

# Result: (imports, signals, errors, installs, skipped)
Result = tuple[tuple[Any, ...], tuple[Any, ...], tuple[Any, ...], tuple[Any, ...], bool]


@dataclass
class ScanStats:
    """How the per-file results were obtained (tests assert on it; never timings)."""

    files: int = 0
    parsed: int = 0  # scanned from source this run
    reused: int = 0  # taken from the cache (stat or content match)
    hashed: int = 0  # stat changed, content hash looked up
    workers: int = 0  # processes used for parsing (0 = in this process)
    result_reused: bool = False  # nothing the project-level answer depends on changed
    cache_written: bool = False


# --------------------------------------------------------------------------- per file

_PATTERNS: CompiledPatterns | None = None


def _init_worker(patterns: CompiledPatterns) -> None:
    global _PATTERNS
    _PATTERNS = patterns


def scan_file_bytes(rel: str, data: bytes, patterns: CompiledPatterns) -> Result:
    """One file's result, whatever its kind; never raises on bad content.

    Here the project's text becomes depslim's records (and the scan cache's rows), so here the
    code's literals are redacted: a connection string's password or a token in a string constant
    never reaches the cache, the evidence, a report or a generated file (`depslim.redact`)."""
    if rel.endswith(".ipynb"):
        scanned = scan_notebook(data, patterns)
        if scanned is None:
            return (), (), (), (), True
        imports, signals, errors, installs = scanned
    else:
        imports, signals, error = scan_bytes(data, patterns)
        errors, installs = ((error,) if error else ()), ()
    return imports, _redacted_signals(signals), _redacted_lines(errors), _redacted_lines(installs), False


def _redacted_signals(signals: tuple[RawSignal, ...]) -> tuple[RawSignal, ...]:
    """Signals with their values redacted; the same tuple when nothing changed (the common case)."""
    if not signals:
        return signals
    out = tuple((pattern, redact(value), line, kind) for pattern, value, line, kind in signals)
    return signals if out == signals else out


def _redacted_lines(items: tuple[tuple[int, str], ...]) -> tuple[tuple[int, str], ...]:
    return tuple((line, redact(text)) for line, text in items) if items else items


def _scan_path(job: tuple[str, str]) -> tuple[str, str, Result]:
    rel, path = job
    assert _PATTERNS is not None
    try:
        data = read_bytes(path)
    except OSError as exc:
        return rel, "", ((), (), ((0, f"cannot read: {exc.strerror or exc}"),), (), False)
    return rel, scan_cache.sha256(data), scan_file_bytes(rel, data, _PATTERNS)


def _parse_all(
    jobs: list[WalkedFile],
    patterns: CompiledPatterns,
    progress: Progress,
    stats: ScanStats,
    alongside: Callable[[], None] | None = None,
) -> dict[str, tuple[str, Result]]:
    out: dict[str, tuple[str, Result]] = {}
    work = [(f.rel, f.path) for f in jobs]
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    if len(work) >= POOL_MIN_FILES and cpus > 1:
        workers = min(cpus, 8)
        stats.workers = workers
        # Big files first so no worker is left with a long tail; small chunks balance the rest.
        sizes = {f.rel: f.size for f in jobs}
        work.sort(key=lambda job: -sizes[job[0]])
        # Imported here: a warm run never starts a pool, and these imports cost ~20 ms.
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        method = "fork" if "fork" in multiprocessing.get_all_start_methods() else None
        context = multiprocessing.get_context(method)
        chunksize = max(1, len(work) // (workers * 16))
        with ProcessPoolExecutor(workers, context, initializer=_init_worker, initargs=(patterns,)) as pool:
            results = pool.map(_scan_path, work, chunksize=chunksize)
            # Every worker is forked by the first submit, so other work may start threads now
            # (forking while a thread holds a lock could deadlock a child).
            if alongside is not None:
                alongside()
            for rel, sha, result in results:
                out[rel] = (sha, result)
                progress.advance(_TASK)
        return out
    _init_worker(patterns)
    for job in work:
        rel, sha, result = _scan_path(job)
        out[rel] = (sha, result)
        progress.advance(_TASK)
    return out


# --------------------------------------------------------------------------- project


def _read_pyproject(root: Path, warnings: list[str]) -> tuple[str, dict[str, Any]]:
    path = root / "pyproject.toml"
    try:
        text = read_text(path)
    except FileNotFoundError:
        return "", {}
    except (OSError, UnicodeDecodeError) as exc:
        warnings.append(f"pyproject.toml:0: cannot read: {exc}")
        return "", {}
    try:
        return text, tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        warnings.append(f"pyproject.toml:{getattr(exc, 'lineno', 0) or 0}: does not parse: {exc}")
        return text, {}


def _run_configs(root: Path, walk: Any) -> dict[str, bytes]:
    """Dockerfiles, Procfiles, Compose files and shell scripts (what an entrypoint script runs) by project-relative
    path (unreadable ones left out): all part of the scan's fingerprint."""
    found: dict[str, bytes] = {}
    for rel in (*walk.dockerfiles, *walk.procfiles, *walk.compose_files, *walk.shell_scripts):
        try:
            found[rel] = read_bytes(root / rel)
        except OSError:
            continue
    return found


def _entrypoints(walk: Any, configs: dict[str, bytes], text: str, pyproject: dict[str, Any]) -> list[Entrypoint]:
    scripts = pyproject_scripts(pyproject)
    found = pyproject_entrypoints(text, pyproject) if pyproject else []
    for rel in walk.dockerfiles:
        if rel in configs:
            found += dockerfile_entrypoints(rel, configs[rel], scripts)
    for rel in walk.procfiles:
        if rel in configs:
            found += procfile_entrypoints(rel, configs[rel].decode("utf-8", errors="replace"), scripts)
    for rel in walk.compose_files:
        if rel in configs:
            found += compose_entrypoints(rel, configs[rel].decode("utf-8", errors="replace"), scripts)
    shell = {rel: configs[rel].decode("utf-8", errors="replace") for rel in walk.shell_scripts if rel in configs}
    return [expand_scripts(entry, shell, scripts) for entry in found]


def _assemble(
    results: dict[str, Result], layout: Layout, rules: ContextRules
) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]], list[tuple[Any, ...]], list[str], dict[str, set[str]]]:
    """Project-level meaning of per-file results: modules, first-party flags, contexts, graph.

    Imports, signals and notebook installs come out as the cache's rows (`result_rows`): the
    cold run builds its ScanResult from them as a warm run does, and stores them unconverted.
    """
    # Absolute names first: a root folder without __init__.py is first-party only if reached into.
    absolute = set()
    for imports, *_ in results.values():
        for module, level, _line, flags, names in imports:
            if level == 0 and module:
                absolute.add(module)
                if flags & FROM:
                    absolute.update(f"{module}.{n}" for n in names)
    confirm_namespace_folders(layout, absolute)
    modules = layout.modules()
    first_party_names = layout.names
    # Names that could resolve next to some importing file: any module or folder name at all.
    local_tops = {rel.rpartition("/")[2].removesuffix(".py") for rel in layout.files} | {
        d.rpartition("/")[2] for d in layout.py_dirs
    }
    closures: dict[str, tuple[str, ...]] = {}
    refs: list[tuple[Any, ...]] = []
    signals: list[tuple[Any, ...]] = []
    installs: list[tuple[Any, ...]] = []
    warnings: list[str] = []
    edges: dict[str, set[str]] = {}
    for rel in sorted(results):
        imports, raw_signals, errors, raw_installs, _skipped = results[rel]
        context = rules.context_of(rel).value
        notebook = rel.endswith(".ipynb")
        file_bits = _NOTEBOOK if notebook else 0
        as_py = rel[: -len(".ipynb")] + ".py" if notebook else rel
        base = layout.base_dir(as_py)
        own_module = None if notebook else layout.module_of(rel)
        package: list[str] | None = None  # the importer's package parts, for relative imports
        targets: set[str] = set()
        for module, level, line, flags, names in imports:
            local_file = None
            if level:
                if package is None:
                    package = layout.resolve_relative(as_py, 1, "").split(".")
                    package = [p for p in package if p]
                parts = package[: max(0, len(package) - (level - 1))] if level > 1 else package
                resolved = ".".join([*parts, module] if module else parts) or (names[0] if names else "")
                if not resolved:
                    continue
                first_party = True
            else:
                resolved = module
                top = module.split(".", 1)[0]
                first_party = top in first_party_names
                if not first_party and top in local_tops and layout.exists_under(base, module, namespace_ok=False):
                    first_party = True
                    local_file = layout.local_file(base, module)
            bits = flags & _ROW_FLAGS | file_bits | (_FIRST_PARTY if first_party else 0)
            refs.append((resolved, rel, line, context, bits))
            if first_party and own_module is not None and not flags & TYPING:
                if local_file is None and resolved in closures:
                    targets.update(closures[resolved])
                    if flags & FROM:
                        targets.update(s for s in (f"{resolved}.{n}" for n in names) if s in modules)
                    continue
                _add_edges(targets, resolved, names if flags & FROM else (), modules, layout, base, local_file)
                if local_file is None:
                    closures[resolved] = _module_prefixes(resolved, modules)
        if own_module is not None:
            targets.discard(own_module)
            edges[own_module] = targets
        for pattern, value, line, kind in raw_signals:
            signals.append((pattern, value, rel, line, context, kind))
        for line, requirement in raw_installs:
            installs.append((requirement, rel, line))
        for line, problem in errors:
            warnings.append(f"{rel}:{line}: {problem}")
    return refs, signals, installs, warnings, edges


def _add_edges(
    targets: set[str],
    dotted: str,
    names: Sequence[str],
    modules: dict[str, str],
    layout: Layout,
    base: str,
    local_file: str | None,
) -> None:
    """Modules executed by importing `dotted` (and `from dotted import names`)."""
    if local_file is not None:
        # A sibling import (script folder on sys.path): map it into the module namespace.
        local_module = layout.module_of(local_file)
        targets.add(local_module)
        for name in names:
            sub = layout.local_file(base, f"{dotted}.{name}")
            if sub is not None:
                targets.add(layout.module_of(sub))
        return
    targets.update(_module_prefixes(dotted, modules))
    for name in names:
        sub = f"{dotted}.{name}"
        if sub in modules:
            targets.add(sub)


def _module_prefixes(dotted: str, modules: dict[str, str]) -> tuple[str, ...]:
    """`a.b.c` -> the project modules among `a`, `a.b`, `a.b.c` (importing runs each of them)."""
    parts = dotted.split(".")
    return tuple(p for p in (".".join(parts[:k]) for k in range(1, len(parts) + 1)) if p in modules)


# The cache's rows of a ScanResult: imports (module, path, line, context, bits), sorted first-party
# names, files scanned, notebook installs (requirement, path, line), warnings, sorted reachable
# modules or None, entrypoints (path, line, kind, detail), signals (pattern, value, path, line,
# context, kind), and the first-party graph (module -> file pairs, module -> imported modules, each
# entrypoint's start modules). Built by `_assemble` and `scan_project_with_stats`, read by
# `result_from_rows`.
_CONTEXTS = {c.value: c for c in Context}
# An import row's flag bits: the scanner's OPTIONAL|TYPING|DEFERRED|DYNAMIC as they are, then these.
# (FROM, the scanner's 16, is not kept: a row's 16 means a notebook.)
_ROW_FLAGS = OPTIONAL | TYPING | DEFERRED | DYNAMIC
_NOTEBOOK = 16
_FIRST_PARTY = 32


@contextlib.contextmanager
def _no_gc() -> Iterator[None]:
    """Pause the cyclic GC while building ~10^4 acyclic records: its passes over them cost more
    than building them, and records cannot form cycles."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def result_from_rows(rows: Any) -> ScanResult | None:
    """Rebuild a cached ScanResult; None when the rows do not fit (an older layout)."""
    with _no_gc():
        return _result_from_rows(rows)


def _result_from_rows(rows: Any) -> ScanResult | None:
    try:
        imports, first_party, files, installs, warnings, reach, entrypoints, signals, graph = rows
        module_files, edges, starts = graph
        contexts = _CONTEXTS
        return ScanResult(
            imports=tuple(
                ImportRef(module, Location(path, line), contexts[ctx], bool(f & OPTIONAL), bool(f & TYPING),
                          bool(f & DEFERRED), bool(f & DYNAMIC), bool(f & _NOTEBOOK), bool(f & _FIRST_PARTY))
                for module, path, line, ctx, f in imports
            ),
            first_party=frozenset(first_party),
            files_scanned=files,
            notebook_installs=tuple(NotebookInstall(req, Location(path, line)) for req, path, line in installs),
            warnings=tuple(warnings),
            reachable_modules=None if reach is None else frozenset(reach),
            entrypoints=tuple(Evidence(*e) for e in entrypoints),
            signals=tuple(
                Signal(pattern, value, Location(path, line), contexts[ctx], kind)
                for pattern, value, path, line, ctx, kind in signals
            ),
            module_files=dict(module_files),
            module_edges={module: frozenset(targets) for module, targets in edges},
            entry_starts=tuple(frozenset(s) for s in starts),
        )
    except (TypeError, ValueError, KeyError):
        return None


def scan_project_with_stats(
    root: Path,
    *,
    dev_paths: Sequence[str] | None = None,
    script_paths: Sequence[str] | None = None,
    exclude: Sequence[str] = (),
    patterns: SignalPatterns = NO_PATTERNS,
    cache_dir: Path | None = None,
    progress: Progress = NULL_PROGRESS,
    alongside: Callable[[], None] | None = None,
) -> tuple[ScanResult, ScanStats]:
    """`scan_project` plus how each file's result was obtained."""
    root = Path(root)
    if not root.is_dir():
        raise InputError(str(root), "not a directory (expected a project folder)")
    root = root.resolve()
    compiled = compile_patterns(patterns)
    walk = walk_project(root, exclude, candidate_suffixes())
    stats = ScanStats(files=len(walk.sources))
    progress.start(_TASK, "Scanning imports", total=len(walk.sources))
    snapshot = scan_cache.load(cache_dir, scan_cache.cache_key(root, compiled.key))
    entries: dict[str, scan_cache.Entry] = {}
    results: dict[str, Result] = {}
    to_parse: list[WalkedFile] = []
    for walked in walk.sources:
        entry = snapshot.fresh(walked.rel, walked.mtime_ns, walked.size)
        if entry is not None:
            entries[walked.rel] = entry
            results[walked.rel] = entry[3]
            stats.reused += 1
            progress.advance(_TASK)
        elif snapshot.entries:
            # stat changed: the content may not have (touch, checkout, rename).
            try:
                data = read_bytes(walked.path)
            except OSError:
                to_parse.append(walked)
                continue
            sha = scan_cache.sha256(data)
            stats.hashed += 1
            cached = snapshot.by_sha(sha)
            if cached is not None:
                entries[walked.rel] = (walked.mtime_ns, walked.size, sha, cached)
                results[walked.rel] = cached
                stats.reused += 1
                progress.advance(_TASK)
            else:
                to_parse.append(walked)
        else:
            to_parse.append(walked)
    if to_parse:
        parsed = _parse_all(to_parse, compiled, progress, stats, alongside)
        for walked in to_parse:
            sha, result = parsed[walked.rel]
            results[walked.rel] = result
            stats.parsed += 1
            if sha:
                entries[walked.rel] = (walked.mtime_ns, walked.size, sha, result)
    progress.finish(_TASK)

    warnings: list[str] = []
    text, pyproject = _read_pyproject(root, warnings)
    configs = _run_configs(root, walk)
    # Everything the project-level answer depends on; equal -> the stored result is the answer.
    fingerprint = scan_cache.fingerprint(
        sorted((rel, entries[rel][2] if rel in entries else "") for rel in results),
        sorted(walk.init_dirs),
        text,
        sorted((rel, scan_cache.sha256(data)) for rel, data in configs.items()),
        (dev_paths, script_paths),
        context_data(),
    )
    if snapshot.result_key == fingerprint:
        cached_result = result_from_rows(snapshot.result)
        if cached_result is not None:
            stats.result_reused = True
            stats.cache_written = scan_cache.save(snapshot, entries, fingerprint, snapshot.result)
            return _with_models(cached_result, walk, dev_paths, script_paths), stats

    layout = build_layout((f.rel for f in walk.sources), walk.init_dirs, pyproject)
    rules = ContextRules.build(dev_paths, script_paths)
    with _no_gc():
        refs, signals, installs, file_warnings, edges = _assemble(results, layout, rules)
    entrypoints = _entrypoints(walk, configs, text, pyproject)
    start = start_modules(entrypoints, layout)
    graph = (
        tuple(sorted(layout.modules().items())),
        tuple(sorted((module, tuple(sorted(targets))) for module, targets in edges.items())),
        tuple(tuple(sorted(start_modules([ep], layout))) for ep in entrypoints),
    )
    rows = (
        tuple(refs),
        tuple(sorted(layout.names)),
        len(walk.sources),
        tuple(installs),
        tuple(warnings + file_warnings),
        tuple(sorted(reachable(start, edges))) if start else None,
        tuple((e.path, e.line, e.kind, e.detail) for e in (ep.evidence for ep in entrypoints)),
        tuple(signals),
        graph,
    )
    scanned = result_from_rows(rows)
    assert scanned is not None, "rows built here always fit"
    stats.cache_written = scan_cache.save(snapshot, entries, fingerprint, rows)
    return _with_models(scanned, walk, dev_paths, script_paths), stats


def _with_models(
    result: ScanResult, walk: Walk, dev_paths: Sequence[str] | None, script_paths: Sequence[str] | None
) -> ScanResult:
    """The model files' pickled names added to a scan (depslim.imports.pickles). Read on every run,
    not through the scan cache: they are few, and reading one costs its opcodes, not its arrays."""
    if not walk.models:
        return result
    pickled, warnings = scan_models(walk.models, ContextRules.build(dev_paths, script_paths))
    return dataclasses.replace(result, pickled=pickled, warnings=result.warnings + warnings)


def scan_project(
    root: Path,
    *,
    dev_paths: Sequence[str] | None = None,
    script_paths: Sequence[str] | None = None,
    exclude: Sequence[str] = (),
    patterns: SignalPatterns = NO_PATTERNS,
    cache_dir: Path | None = None,
    progress: Progress = NULL_PROGRESS,
    alongside: Callable[[], None] | None = None,
) -> ScanResult:
    """Scan a project statically; never imports or runs project code.

    `dev_paths` / `script_paths` replace the default dev/script folder lists
    (`data/contexts.toml`); `exclude` holds gitignore-style globs relative to `root`, on top of
    the project's own `.gitignore` files. `patterns` says which usages to report as `Signal`s.
    `cache_dir` (None = no cache) keeps per-file results keyed by content; an unusable cache
    directory only costs speed. `alongside` is called once worker processes are parsing, to
    start work of the caller's that can use this process meanwhile (it is not called when
    the files are parsed here). Raises `InputError` when `root` is not a directory; files that
    do not parse become "path:line: problem" warnings and the scan goes on.
    """
    return scan_project_with_stats(
        root,
        dev_paths=dev_paths,
        script_paths=script_paths,
        exclude=exclude,
        patterns=patterns,
        cache_dir=cache_dir,
        progress=progress,
        alongside=alongside,
    )[0]


# Re-exported for callers that want to know a file's context without scanning.
__all__ += ["Context", "Evidence"]
