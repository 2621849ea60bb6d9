"""Frozen records shared by every stage: scan → declared → target → mapping → sizes → findings → report.

Constructors do no I/O. Paths in `Location`/`Evidence` are project-relative POSIX strings
(image paths are absolute inside the image) so reports are stable across machines.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cached_property

SCHEMA_VERSION = "1.0"


class Context(StrEnum):
    """Where an import stands: it decides whether the package is needed at runtime."""

    RUNTIME = "runtime"  # package code
    DEV = "dev"  # tests/, conftest.py, test_*.py, docs/, benchmarks/, notebooks
    SCRIPT = "script"  # scripts/, tools/


class Verdict(StrEnum):
    """What a declared distribution is for; `unused` is the cut list."""

    RUNTIME = "runtime"
    IMPLICIT = "implicit"
    UNREACHABLE = "unreachable"  # runtime code imports it, but no entrypoint in scope reaches that code
    TYPING_ONLY = "typing-only"
    DEV_ONLY = "dev-only"
    UNUSED = "unused"


class Scope(StrEnum):
    """Which entrypoints define "runtime": every one the project has, or only what the image serves.

    `unreachable` packages are kept under `all` (the default: a cut is a promise) and cut under
    `serving`, where only the code the served command reaches ships.
    """

    ALL = "all"
    SERVING = "serving"


# Finding codes of import problems: what runtime code imports or needs against what is declared. The
# summary counts these; the import-problems tables also list the informational `optional` and
# `notebook-install` (a notebook's `!pip install X`, X declared or not).
IMPORT_PROBLEM_CODES = frozenset(
    {"missing", "transitive", "undeclared", "misplaced-dev", "missing-implicit", "undeclared-implicit"}
)
IMPORT_FINDING_CODES = IMPORT_PROBLEM_CODES | {"optional", "notebook-install"}


def import_findings_title(findings: Iterable[Finding], bold: tuple[str, str] = ("", "")) -> str:
    """The heading of the import table, counting as `Summary.problems` does: the informational
    rows (optional imports, notebook installs) are listed there but are not problems."""
    codes = [f.code for f in findings if f.code in IMPORT_FINDING_CODES]
    problems = sum(1 for code in codes if code in IMPORT_PROBLEM_CODES)
    notes = len(codes) - problems
    return f"{bold[0]}Import problems{bold[1]} ({problems})" + (f" and notes ({notes})" if notes else "")


class Owner(StrEnum):
    """Who acts on a finding (the seed case study's Owner column)."""

    DEVOPS = "DevOps"
    DATA_SCIENTIST = "Data Scientist"
    ML_ENGINEER = "ML Engineer"


@dataclass(frozen=True, order=True)
class Location:
    """A place in the project (path relative to the project root) or in an image (absolute path)."""

    path: str
    line: int = 0

    def __str__(self) -> str:
        return f"{self.path}:{self.line}" if self.line else self.path


@dataclass(frozen=True, order=True)
class Evidence:
    """Why depslim believes something: a place plus what was seen there.

    `kind` is one of: import, optional-import, typing-import, dynamic-import, notebook-import,
    notebook-install, implicit, entrypoint, declared, dockerfile, layer, metadata, rule.
    """

    path: str
    line: int
    kind: str
    detail: str = ""

    @property
    def location(self) -> Location:
        return Location(self.path, self.line)

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else self.path
        what = f"{self.kind}{': ' + self.detail if self.detail else ''}"
        return f"{where} ({what})" if where else what


@dataclass(frozen=True)
class ImportRef:
    """One import statement (or dynamic import) found by the static scan.

    `module` is the full dotted name as written (relative imports already resolved).
    """

    module: str
    location: Location
    context: Context
    optional: bool = False  # in try/except ImportError whose handler falls back (one that re-raises: a hard need)
    typing_only: bool = False  # under `if TYPE_CHECKING:`
    deferred: bool = False  # inside a function body
    dynamic: bool = False  # importlib.import_module("lit") / __import__("lit")
    notebook: bool = False  # from an .ipynb code cell
    first_party: bool = False  # resolves to the project's own code

    @property
    def top_level(self) -> str:
        return self.module.split(".", 1)[0]


@dataclass(frozen=True)
class Signal:
    """A usage the scan was asked to look for (see `SignalPatterns`), with where it was seen.

    `pattern` is the pattern that matched ("pandas.read_parquet", ".cuda", "re:^s3://");
    `value` is what the code said (the resolved dotted name or the string literal).
    Implicit runtime needs and swap conditions are decided from these, never from regexes
    over source text.
    """

    pattern: str
    value: str
    location: Location
    context: Context
    kind: str  # attribute | call | string


@dataclass(frozen=True)
class SignalPatterns:
    """What the scan should report besides imports.

    - `attributes`: qualified names after import-alias resolution ("pandas.read_parquet",
      "torch.cuda", "cv2.imshow") match that name or any longer chain starting with it;
      names starting with "." (".cuda", ".to_parquet") match that attribute on any object.
    - `strings`: regular expressions matched (re.match) against string constants shorter
      than 300 characters ("^s3://", "^postgresql\\+psycopg2://", "^cuda(:\\d+)?$").
    """

    attributes: frozenset[str] = frozenset()
    strings: tuple[str, ...] = ()


@dataclass(frozen=True)
class NotebookInstall:
    """`!pip install X` / `%pip install X` seen in a notebook: a hint, never a declaration."""

    requirement: str
    location: Location


@dataclass(frozen=True)
class PickledFile:
    """A model or data file whose pickles name modules: loading it imports them (depslim never does).

    `names` are the (module, attribute) pairs its opcodes name, as the unpickler resolves them
    (attribute "" for a module imported by name, as cloudpickle's `subimport` does); `modules` their
    top-level names outside the standard library.
    """

    location: Location  # the file, line 0
    context: Context
    format: str  # pickle | zip | torch-legacy | <compression>+pickle
    names: tuple[tuple[str, str], ...]
    modules: tuple[str, ...]


@dataclass(frozen=True)
class ScanResult:
    """Everything the static project scan produced."""

    imports: tuple[ImportRef, ...]
    first_party: frozenset[str]  # top-level first-party module names
    files_scanned: int
    notebook_installs: tuple[NotebookInstall, ...] = ()
    warnings: tuple[str, ...] = ()  # "path:line: problem" for files that did not parse
    reachable_modules: frozenset[str] | None = None  # first-party modules reached from entrypoints
    entrypoints: tuple[Evidence, ...] = ()
    signals: tuple[Signal, ...] = ()
    pickled: tuple[PickledFile, ...] = ()  # model files naming modules (depslim.imports.pickles)
    # The first-party graph, so reachability can be asked again for a subset of entrypoints
    # (`--scope serving`) and `slim` knows which files hold the modules it copies.
    module_files: Mapping[str, str] = field(default_factory=dict, compare=False, hash=False)  # module -> file
    module_edges: Mapping[str, frozenset[str]] = field(default_factory=dict, compare=False, hash=False)
    entry_starts: tuple[frozenset[str], ...] = ()  # per entrypoint (same order): the modules it runs

    def reachable_from(self, entrypoints: Sequence[Evidence]) -> frozenset[str]:
        """First-party modules reached from a subset of `self.entrypoints` (empty when none)."""
        start: set[str] = set()
        for evidence, modules in zip(self.entrypoints, self.entry_starts, strict=False):
            if evidence in entrypoints:
                start.update(modules)
        return self.reached_from_modules(start)

    def reached_from_modules(self, start: Iterable[str]) -> frozenset[str]:
        """First-party modules reached from `start` over the import graph (`start` included)."""
        seen = set(start)
        todo = list(start)
        while todo:
            for nxt in self.module_edges.get(todo.pop(), ()):
                if nxt not in seen:
                    seen.add(nxt)
                    todo.append(nxt)
        return frozenset(seen)

    def module_of_file(self, path: str) -> str | None:
        """The first-party module a project file is (None for notebooks and non-modules)."""
        return self._file_modules.get(path)

    @cached_property
    def _file_modules(self) -> Mapping[str, str]:
        return {rel: module for module, rel in self.module_files.items()}

    @cached_property
    def imports_by_top(self) -> Mapping[str, tuple[ImportRef, ...]]:
        """Imports grouped by top-level module, built once per scan.

        Rules ask "is `torch.cuda` imported?" many times over; walking every import for each
        question made the swap finder quadratic (0.7 s on a 12,000-import tree). Not a field:
        it is derived, and stays out of equality and hashing.
        """
        index: dict[str, list[ImportRef]] = {}
        for ref in self.imports:
            index.setdefault(ref.module.partition(".")[0], []).append(ref)
        return {top: tuple(refs) for top, refs in index.items()}


@dataclass(frozen=True)
class IndexOptions:
    """Index options carried over from requirement sources into generated files and locks."""

    index_url: str | None = None
    extra_index_urls: tuple[str, ...] = ()
    find_links: tuple[str, ...] = ()
    trusted_hosts: tuple[str, ...] = ()


@dataclass(frozen=True)
class DeclaredRequirement:
    """One declared requirement with the file and line it came from.

    `requirement` is the PEP 508 string as `packaging` normalises it; `name` is the canonical
    distribution name (None for a bare URL/path requirement whose name is not stated).
    `group` is "main", "optional:<extra>", "group:<name>" (PEP 735 / Poetry) or "dev".
    """

    name: str | None
    requirement: str
    location: Location
    group: str = "main"
    source: str = "requirements"  # requirements | pep621 | pep735 | poetry | setup.cfg | setup.py | pipfile
    dev: bool = False  # declared in a dev file/group (requirements-dev.txt, dev groups)
    constraint: bool = False  # from a -c constraints file: pins, not declarations
    editable: bool = False
    url: str | None = None  # direct URL or local path


@dataclass(frozen=True)
class DeclaredSet:
    """All declared requirements of a project and where they came from."""

    requirements: tuple[DeclaredRequirement, ...]
    files: tuple[str, ...]  # project-relative files read
    index: IndexOptions = IndexOptions()
    warnings: tuple[str, ...] = ()  # "file:line: problem" for parts deliberately not read


@dataclass(frozen=True)
class InstalledFile:
    """One RECORD file present in the target's final filesystem, with its lstat size."""

    path: str  # absolute POSIX path inside the target
    size: int


@dataclass(frozen=True)
class InstalledDistribution:
    """An installed distribution as the target reports it (environment or image).

    Only files that exist in the final filesystem are in `files`; RECORD entries that are
    gone count in `missing_files`. `top_level` comes from top_level.txt when shipped.
    """

    name: str  # canonical (packaging.utils.canonicalize_name)
    display_name: str
    version: str
    site: str  # absolute POSIX site-packages / dist-packages dir
    dist_info: str  # absolute path of the .dist-info / .egg-info dir
    requires: tuple[str, ...] = ()  # raw Requires-Dist strings
    provides_extras: tuple[str, ...] = ()
    top_level: tuple[str, ...] = ()  # from top_level.txt (may be empty: ~half of wheels ship none)
    files: tuple[InstalledFile, ...] = ()
    missing_files: int = 0
    has_record: bool = True
    installer: str = ""
    editable: bool = False
    entry_points: tuple[str, ...] = ()  # console_scripts names

    @property
    def size_bytes(self) -> int:
        return sum(f.size for f in self.files)


@dataclass(frozen=True)
class LayerInfo:
    """One image layer: its bytes and the history instruction that made it."""

    index: int
    digest: str
    size_bytes: int
    instruction: str
    waste_bytes: int = 0  # measured waste added by this layer, overlaps removed (sums to totals.waste_bytes)


@dataclass(frozen=True)
class TargetInfo:
    """What was measured: kind, reference, the Python inside and its marker environment."""

    kind: str  # "environment" | "image"
    ref: str
    python_version: str = ""
    platform: str = ""  # e.g. linux/amd64
    site_dirs: tuple[str, ...] = ()
    markers: Mapping[str, str] = field(default_factory=dict, compare=False, hash=False)
    layers: tuple[LayerInfo, ...] = ()
    totals: Mapping[str, int] = field(default_factory=dict, compare=False, hash=False)
    env: Mapping[str, str] = field(default_factory=dict, compare=False, hash=False)
    user: str = ""


@dataclass(frozen=True)
class Finding:
    """A problem or opportunity with an owner, a fix, its saving and the evidence for it.

    `id` is stable across runs (code + subject) so diffs, SARIF and suppressions can key on it.
    `estimate` is True when `savings_bytes` is not measured on this target (e.g. a rule's
    recorded figure); every format must say so.
    """

    id: str
    code: str
    title: str
    owner: Owner
    fix: str
    savings_bytes: int | None = None
    estimate: bool = False
    subject: str = ""
    severity: str = "warning"  # info | warning | error
    evidence: tuple[Evidence, ...] = ()
    data: Mapping[str, object] = field(default_factory=dict, compare=False, hash=False)


@dataclass(frozen=True)
class DistributionReport:
    """One installed or declared distribution with sizes and its verdict."""

    name: str
    version: str | None
    size_bytes: int  # its own present RECORD files (shared files counted once, see shared_bytes)
    shared_bytes: int  # bytes of files also listed by another distribution
    retained_bytes: int  # what removing it (and what only it needs) frees
    verdict: Verdict | None  # None when not declared
    declared: bool
    installed: bool
    evidence: tuple[Evidence, ...] = ()
    requires: tuple[str, ...] = ()  # canonical names of its installed dependencies
    required_by: tuple[str, ...] = ()
    declared_at: tuple[Location, ...] = ()
    dev_declared: bool = False
    site: str = ""


@dataclass(frozen=True)
class ImportReport:
    """A third-party top-level import and the distribution it maps to."""

    module: str
    distribution: str | None
    mapping: str  # how: record | top_level | alias | index | ambiguous | identity | stdlib | first-party | unresolved
    locations: tuple[Location, ...]
    contexts: tuple[str, ...]


@dataclass(frozen=True)
class Unmeasured:
    """Something depslim could not measure, with the reason (shown by every format)."""

    name: str
    reason: str


@dataclass(frozen=True)
class Summary:
    declared: int
    runtime: int
    cut_count: int
    cut_bytes: int
    installed: int
    installed_bytes: int
    runtime_bytes: int
    findings: int
    problems: int


@dataclass(frozen=True)
class Report:
    """The result of `depslim analyze`: what every format renders."""

    project: str
    target: TargetInfo
    distributions: tuple[DistributionReport, ...]
    imports: tuple[ImportReport, ...]
    findings: tuple[Finding, ...]
    summary: Summary
    warnings: tuple[str, ...] = ()
    unmeasured: tuple[Unmeasured, ...] = ()
    schema_version: str = SCHEMA_VERSION
    tool_version: str = ""
    scope: Scope = Scope.ALL
    entrypoints: tuple[Evidence, ...] = ()  # the entrypoints reachability was computed from

    def distribution(self, name: str) -> DistributionReport | None:
        for dist in self.distributions:
            if dist.name == name:
                return dist
        return None
