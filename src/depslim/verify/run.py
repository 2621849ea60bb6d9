"""`depslim verify`: build the image (or take one), then prove it in sandboxed containers.

1. `--build`: the engine builds the Dockerfile (`Dockerfile.depslim` by default);
2. the image is read statically (its distributions, Python, command) and the project analysed
   against it, so the checks come from evidence, not from a list someone keeps;
3. one container runs every check (`depslim.verify.inside`) with no network, a read-only root,
   an unprivileged user and limits; each check in a fresh interpreter;
4. cold start: the image's own command, container start until the port accepts (or the entry
   module is imported), median of `runs`;
5. `--baseline`: the same for the original image, the before/after sizes (both read the same
   way, as `depslim image` reads them) and the audit table of the original with measured savings.

The core never prints; the CLI renders the `VerifyReport` and picks the exit code.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import posixpath
import re
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from depslim.audit import AuditTable, audit_table
from depslim.core import Analysis, AnalyzeOptions, analyze_fully
from depslim.errors import InputError
from depslim.model import Scope
from depslim.progress import NULL_PROGRESS, Progress
from depslim.redact import redact
from depslim.targets.spec import TargetSpec
from depslim.verify.checks import CheckResult, FixContext, Planned, classify, command_needs, plan_checks, versions_of
from depslim.verify.engine import BuildResult, Engine, Limits

UNPRIVILEGED = "65534:65534"  # nobody: used when an image would run its checks as root


@dataclass(frozen=True)
class VerifyOptions:
    project: Path
    image: str | None = None
    build: bool = False
    dockerfile: Path | None = None  # default: <project>/Dockerfile.depslim
    tag: str | None = None
    build_args: Mapping[str, str] = field(default_factory=dict)
    build_network: str | None = None
    baseline: str | None = None
    runs: int = 5
    timeout: float = 120.0
    limits: Limits = field(default_factory=Limits)
    dev_paths: tuple[str, ...] | None = None
    script_paths: tuple[str, ...] | None = None
    exclude: tuple[str, ...] = ()
    requirements: tuple[Path, ...] = ()
    config: Mapping[str, object] = field(default_factory=dict)
    cache_dir: Path | None = None


@dataclass(frozen=True)
class ColdStart:
    mode: str  # "port 8080" | "import churn.serve" | ""
    seconds: tuple[float, ...] = ()  # host: `docker start` until ready, per run
    inside: tuple[float, ...] = ()  # the probe's own clock: its start until ready
    error: str = ""

    @property
    def median(self) -> float | None:
        return statistics.median(self.seconds) if self.seconds else None


@dataclass(frozen=True)
class ImageFacts:
    ref: str
    bytes: int | None
    user: str
    python: str
    command: tuple[str, ...]
    cold_start: ColdStart | None = None


@dataclass(frozen=True)
class VerifyReport:
    project: str
    image: ImageFacts
    checks: tuple[CheckResult, ...]
    build: BuildResult | None = None
    baseline: ImageFacts | None = None
    audit: AuditTable | None = None
    notes: tuple[str, ...] = ()

    @property
    def breakages(self) -> tuple[CheckResult, ...]:
        return tuple(c for c in self.checks if not c.ok and c.breakage)

    @property
    def other_errors(self) -> tuple[CheckResult, ...]:
        return tuple(c for c in self.checks if not c.ok and not c.breakage)

    @property
    def passed(self) -> bool:
        """Every check passed: the build, and no breakage (other errors are reported, not failed on:
        a missing secret or no network in the sandbox is not something the image lacks)."""
        return (self.build is None or self.build.ok) and not self.breakages


def probe_source() -> str:
    return resources.files("depslim.verify").joinpath("inside.py").read_text(encoding="utf-8")


def _config(analysis: Analysis) -> Mapping[str, Any]:
    image = getattr(analysis.target, "analysis", None)
    inner = (image.config.get("config") if image is not None else None) or {}
    return inner if isinstance(inner, Mapping) else {}


def _command(config: Mapping[str, Any]) -> tuple[str, ...]:
    words: list[str] = []
    for key in ("Entrypoint", "Cmd"):
        value = config.get(key)
        if isinstance(value, list):
            words += [w for w in value if isinstance(w, str)]
    return tuple(words)


def find_python(analysis: Analysis) -> str:
    """The interpreter the image's PATH finds first (read statically), e.g. /opt/venv/bin/python."""
    image = getattr(analysis.target, "analysis", None)
    if image is None:
        return ""
    for folder in image.env.get("PATH", "/usr/local/bin:/usr/bin:/bin").split(":"):
        for name in ("python3", "python"):
            path = posixpath.join(folder, name)
            if folder.startswith("/") and image.fs.resolve(path, follow_last=True) is not None:
                return path
    return ""


def _port(command: Sequence[str], config: Mapping[str, Any]) -> int | None:
    """The port the command serves on: its own option, else the first EXPOSEd TCP port."""
    from depslim.knowledge import load_data

    options = load_data("verify")["port_options"]
    words = [w for item in command for w in (item.split() if " " in item else [item])]
    for i, word in enumerate(words):
        name, eq, value = word.partition("=")
        if name in options:
            value = value if eq else (words[i + 1] if i + 1 < len(words) else "")
            value = value.rpartition(":")[2]
            if value.isdigit():
                return int(value)
    exposed = config.get("ExposedPorts")
    if isinstance(exposed, Mapping):
        for spec in sorted(exposed):
            port, _, proto = str(spec).partition("/")
            if port.isdigit() and proto in ("", "tcp"):
                return int(port)
    return None


def _run_checks(engine: Engine, ref: str, python: str, user: str, planned: Planned,
                options: VerifyOptions) -> tuple[list[dict[str, Any]], str]:
    if not planned.count:
        return [], ""
    total = options.timeout * (planned.count + 1) + 60
    result = engine.run(ref, ["-c", probe_source(), planned.spec(options.timeout)], entrypoint=python,
                        user=user, limits=options.limits, timeout=total)
    records = []
    for line in result.stdout.splitlines():
        line = line.strip()
        if line.startswith("{"):
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError:
                continue
    problem = ""
    if result.timed_out:
        problem = f"the checks did not finish within {total:.0f} s"
    elif len(records) < planned.count:
        tail = redact(" | ".join(result.stderr.strip().splitlines()[-3:]))
        problem = f"the probe stopped after {len(records)} of {planned.count} checks (exit {result.returncode}: {tail})"
    return records, problem


@dataclass
class Starter:
    """One image's start-up, prepared once and run `runs` times (interleaved with the other image's,
    so both see the same machine load: a before/after must not measure the noise of the moment)."""

    ref: str
    python: str
    user: str
    command: tuple[str, ...]
    port: int | None
    entry: str
    host: list[float] = field(default_factory=list)
    inside: list[float] = field(default_factory=list)
    error: str = ""

    def __post_init__(self) -> None:
        if not self.python:
            self.error = "no Python interpreter on the image's PATH"
        elif not self.command:
            self.error = "the image has no command (CMD/ENTRYPOINT) to start"
        elif self.port is None and not self.entry:
            self.error = "neither a served port nor an entry module is known for the command"

    @property
    def mode(self) -> str:
        return f"port {self.port}" if self.port else (f"import {self.entry}" if self.entry else "")

    def once(self, engine: Engine, options: VerifyOptions) -> None:
        """One cold start: container start until the port accepts (or the entry module imports)."""
        spec = json.dumps({"mode": "start", "argv": list(self.command), "port": self.port, "module": self.entry,
                           "timeout": options.timeout})
        with engine.created(self.ref, ["-c", probe_source(), spec], entrypoint=self.python, user=self.user,
                            limits=options.limits) as name:
            line, seconds = engine.start_attached(name, options.timeout + 30)
        try:
            record = json.loads(line) if line else {}
        except json.JSONDecodeError:
            record = {}
        if record.get("ready"):
            self.host.append(round(seconds, 4))
            if isinstance(record.get("seconds"), (int, float)):
                self.inside.append(float(record["seconds"]))
        else:
            self.error = redact(f"{record.get('type') or 'no answer'}: {record.get('message') or line or 'no output'}")

    def result(self) -> ColdStart:
        return ColdStart(self.mode, tuple(self.host), tuple(self.inside), self.error)


def run_starts(engine: Engine, starters: Sequence[Starter], options: VerifyOptions) -> None:
    """`options.runs` cold starts of each image, alternating between them."""
    for _ in range(max(1, options.runs)):
        for starter in starters:
            if not starter.error:
                starter.once(engine, options)


def _facts(ref: str, analysis: Analysis) -> tuple[ImageFacts, Starter]:
    config = _config(analysis)
    command = _command(config)
    python = find_python(analysis)
    user = str(config.get("User") or "")
    run_as = user if user and user.split(":")[0] not in ("root", "0") else UNPRIVILEGED
    entry = ""
    if analysis.scan is not None:
        from depslim.imports.entrypoints import command_start_modules

        start = sorted(command_start_modules(command, analysis.scan.module_files), key=lambda m: (-m.count("."), m))
        entry = start[0] if start else ""
    size = analysis.report.target.totals.get("image_bytes")
    starter = Starter(ref, python, run_as, command, _port(command, config), entry)
    return ImageFacts(ref, size, user or "root", python, command), starter


def _analyse(options: VerifyOptions, ref: str, progress: Progress) -> Analysis:
    return analyze_fully(AnalyzeOptions(
        project=options.project, target=TargetSpec(image=ref), dev_paths=options.dev_paths,
        script_paths=options.script_paths, requirements=options.requirements,
        exclude=options.exclude, cache_dir=options.cache_dir, config=options.config, scope=Scope.SERVING,
        serving_dockerfile=_dockerfile(options).name,
    ), progress)


def _dockerfile(options: VerifyOptions) -> Path:
    return options.dockerfile or options.project / "Dockerfile.depslim"


def _engine_ref(ref: str) -> str:
    """An image name the engine knows is read through the engine (`docker:` prefix)."""
    if ref.startswith(("docker:", "oci:", "oci-archive:", "docker-archive:")) or Path(ref).exists():
        return ref
    return f"docker:{ref}"


def default_tag(project: Path) -> str:
    digest = hashlib.sha256(str(project.resolve()).encode()).hexdigest()[:10]
    name = "".join(c if c.isalnum() or c in "-_." else "-" for c in project.resolve().name.lower()) or "project"
    return f"{name}-depslim:{digest}"


def verify(options: VerifyOptions, engine: Engine | None = None, progress: Progress = NULL_PROGRESS) -> VerifyReport:
    """Build (when asked) and prove the image; never prints, never exits."""
    project = options.project
    if not project.is_dir():
        raise InputError(project, "no such project directory")
    if not options.build and not options.image:
        raise InputError("verify", "say which image: --image REF, or --build to build the Dockerfile")
    engine = engine or Engine()
    engine.check()
    build: BuildResult | None = None
    ref = options.image or ""
    if options.build:
        dockerfile = _dockerfile(options)
        if not dockerfile.is_file():
            raise InputError(dockerfile, "no such Dockerfile (run `depslim slim` first, or pass --dockerfile)")
        ref = options.tag or default_tag(project)
        progress.start("verify-build", f"building {dockerfile.name}", None)
        try:
            build = engine.build(project, dockerfile, ref, build_args=options.build_args,
                                 network=options.build_network)
        finally:
            progress.finish("verify-build")
        if not build.ok:
            failed = CheckResult("build", dockerfile.name, False, True, "BuildFailed",
                                 " | ".join(build.log_tail[-4:]), fix="fix the build (see the log lines)")
            facts = ImageFacts(ref, None, "", "", ())
            return VerifyReport(str(project), facts, (failed,), build)
    analysis = _analyse(options, _engine_ref(ref), progress)
    image_dists = list(analysis.target.distributions())
    config = _config(analysis)
    planned, _reached = plan_checks(analysis, _command(config), image_dists, project,
                                    str(config.get("WorkingDir") or "/"))
    facts, starter = _facts(ref, analysis)
    python, run_as = facts.python, starter.user
    notes: list[str] = []
    if facts.user in ("root", "0") or facts.user.startswith(("root:", "0:")):
        notes.append(f"{ref} runs as root; the checks ran as {UNPRIVILEGED}")
    baseline_facts = audit = None
    baseline_analysis: Analysis | None = None
    starters = [starter]
    if options.baseline:
        baseline_analysis = _analyse(options, _engine_ref(options.baseline), progress)
        baseline_facts, baseline_starter = _facts(options.baseline, baseline_analysis)
        starters.append(baseline_starter)
        audit = audit_table(baseline_analysis.report.findings, baseline_analysis.report.target)
    run_starts(engine, starters, options)
    facts = dataclasses.replace(facts, cold_start=starter.result())
    if baseline_facts is not None:
        baseline_facts = dataclasses.replace(baseline_facts, cold_start=starters[1].result())
    results: list[CheckResult] = []
    if not python:
        results.append(CheckResult("start", "python", False, True, "NoPython",
                                   "no python3/python on the image's PATH", fix="install Python in the final stage"))
    else:
        records, problem = _run_checks(engine, ref, python, run_as, planned, options)
        reference = baseline_analysis.target.distributions() if baseline_analysis else image_dists
        ctx = _fix_context(analysis, reference, command_needs(_command(config)))
        results += [classify(record, planned, ctx) for record in records]
        if problem:
            notes.append(problem)
        started = facts.cold_start
        if started is not None and started.error and not started.seconds:
            results.append(classify(start_record(started.error, facts.command), planned, ctx))
    if baseline_analysis is not None and baseline_facts is not None and any(c.breakage for c in results):
        results = _against_baseline(engine, results, planned, baseline_analysis, baseline_facts, options)
    return VerifyReport(str(project), facts, tuple(results), build, baseline_facts, audit, tuple(notes))


def _against_baseline(engine: Engine, results: list[CheckResult], planned: Planned, baseline: Analysis,
                      facts: ImageFacts, options: VerifyOptions) -> list[CheckResult]:
    """The failed checks run again in the original image: one that fails there the same way is a
    pre-existing failure (a module the project never had, a secret the sandbox lacks), not a
    breakage of the slim image. Only the failures are rerun, so this costs little."""
    failed = [c for c in results if c.breakage]
    keys = {(c.check, c.target) for c in failed}
    rerun = Planned(tuple(t for t in planned.imports if ("import", t) in keys),
                    tuple(m for m in planned.models if ("model", m[0]) in keys),
                    tuple(t for t in planned.commands if ("command", t) in keys), planned.why)
    before: dict[tuple[str, str], str] = {}
    if facts.python and rerun.count:
        user = facts.user if facts.user not in ("root", "0", "") else UNPRIVILEGED
        records, _problem = _run_checks(engine, facts.ref, facts.python, user, rerun, options)
        before = {(str(r.get("check")), str(r.get("target"))): str(r.get("type") or "") for r in records
                  if not r.get("ok")}
    start = facts.cold_start
    if start is not None and start.error and not start.seconds:
        before[("start", "")] = start_record(start.error, facts.command)["type"]
    out = []
    for check in results:
        key = (check.check, "" if check.check == "start" else check.target)
        if check.breakage and before.get(key) == check.error_type:
            check = dataclasses.replace(check, breakage=False, pre_existing=True,
                                        fix=f"also fails in {facts.ref}: not a breakage of the slim image")
        out.append(check)
    return out


_EXCEPTION = re.compile(r"\b([A-Z]\w*(?:Error|Exception)): (.*?)(?: \| |$)")
_NO_MODULE = re.compile(r"No module named '([^']+)'")


def start_record(error: str, command: Sequence[str]) -> dict[str, Any]:
    """A failed start as a probe record: the exception that ended the start-up traceback is classified
    like any other check's (a missing module or project file is a breakage with its fix)."""
    record: dict[str, Any] = {"check": "start", "target": " ".join(command)[:160], "ok": False,
                              "type": "StartFailed", "message": error}
    failures = _EXCEPTION.findall(error)
    if failures:
        kind, message = failures[-1]
        missing = _NO_MODULE.search(message)
        record.update(type=kind, message=message, missing=missing.group(1) if missing else None)
    return record


def _fix_context(analysis: Analysis, reference: Sequence[Any], commands: Mapping[str, str]) -> FixContext:
    from depslim.mapping import Mapper
    from depslim.native.data import package_map

    image = getattr(analysis.target, "analysis", None)
    release = image.debian_release if image is not None else None
    sonames = dict(package_map(release))
    if image is not None:
        sonames.update(image.dpkg_sonames)
    declared = [d.name for d in analysis.report.distributions if d.declared]
    versions = {**pinned_versions(analysis), **versions_of(reference)}
    first_party = analysis.scan.first_party if analysis.scan is not None else frozenset()
    slim_file = analysis.report.project and (Path(analysis.report.project) / "requirements-slim.txt").is_file()
    workdir = str(_config(analysis).get("WorkingDir") or "/")
    return FixContext(Mapper(list(reference), declared), versions, first_party,
                      "requirements-slim.txt" if slim_file else "the image's requirements",
                      sonames, {k: v for k, v in commands.items() if v},
                      Path(analysis.report.project) if analysis.report.project else None, workdir)


def pinned_versions(analysis: Analysis) -> dict[str, str]:
    """`name==version` pins the project states (its declarations and requirements-slim.txt): the
    version a fix line names when the image under test does not have the package."""
    from packaging.utils import canonicalize_name

    from depslim.declared.base import read_requirement
    from depslim.declared.requirements import logical_lines

    texts = [r.requirement for r in analysis.declared.requirements] if analysis.declared else []
    slim = Path(analysis.report.project) / "requirements-slim.txt" if analysis.report.project else None
    if slim is not None and slim.is_file():
        texts += [line for _, line in logical_lines(slim.read_text(encoding="utf-8", errors="replace"))
                  if not line.startswith("-")]
    pins: dict[str, str] = {}
    for req in filter(None, map(read_requirement, texts)):
        exact = [s.version for s in req.specifier if s.operator == "=="]
        if len(exact) == 1 and "*" not in exact[0]:
            pins[canonicalize_name(req.name)] = exact[0]
    return pins
