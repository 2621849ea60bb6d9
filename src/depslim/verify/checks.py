"""What `depslim verify` checks inside the image, and what a failed check means.

The checks come from the same static evidence the cut list came from, read again against the
image under test: every first-party module the image's command reaches (each imported in a fresh
interpreter), every implicit need (servers and CLIs on PATH, DB drivers, parquet engines, fsspec
backends: their modules importable) and every `module.attribute` a model file's pickle names.

A failure is a **breakage** when the image lacks something the code needs — an `ImportError`
naming a module that is not there, a shared library the loader cannot find, a command not on
PATH, a pickled class missing from the installed version: each comes with the distribution
that provides it and the line to add back. Anything else (a missing environment variable, no
network, missing weights) is reported as what it is, not as a breakage.
"""

from __future__ import annotations

import json
import posixpath
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from depslim.core import Analysis, follow_launches, pickled_modules
from depslim.imports.entrypoints import command_start_modules
from depslim.knowledge import load_data
from depslim.mapping import STDLIB, Mapper
from depslim.model import Context, Evidence, InstalledDistribution, ScanResult, Verdict
from depslim.redact import redact

_SHARED_LIBRARY = re.compile(r"(lib[\w.+-]*\.so(?:\.\d+)*): cannot open shared object file")
MAX_CHECKS = 2000  # a sanity bound on one container's work


@dataclass(frozen=True)
class Planned:
    """The checks to run in one container, each with why it exists."""

    imports: tuple[str, ...] = ()
    models: tuple[tuple[str, tuple[str, ...]], ...] = ()  # (model file, its "module:attr" names in stream order)
    commands: tuple[str, ...] = ()
    why: Mapping[str, Evidence] = field(default_factory=dict)  # "kind:target" -> evidence

    def spec(self, timeout: float) -> str:
        models = [{"file": path, "names": list(names)} for path, names in self.models]
        return json.dumps({"mode": "checks", "imports": list(self.imports), "models": models,
                           "commands": list(self.commands), "timeout": timeout})

    @property
    def count(self) -> int:
        return len(self.imports) + len(self.models) + len(self.commands)


@dataclass(frozen=True)
class CheckResult:
    check: str  # import | model | command | build | start
    target: str
    ok: bool
    breakage: bool = False
    error_type: str | None = None
    message: str = ""
    missing: str | None = None  # the module, library or command that is not there
    distribution: str | None = None  # what provides it
    fix: str = ""
    why: Evidence | None = None
    seconds: float | None = None
    pre_existing: bool = False  # fails the same way in the baseline: not something the slim image lost


def _skip_module(module: str) -> bool:
    """`pkg.__main__` runs the program when imported: the start check covers it instead."""
    return module.endswith("__main__")


def entry_program(words: Sequence[str]) -> str | None:
    """The program an image's command starts (after `/bin/sh -c` and env wrappers), if not Python."""
    from depslim.imports.entrypoints import _split_shell, _strip_wrappers

    items = list(words)
    if len(items) >= 3 and posixpath.basename(items[0]) in ("sh", "bash", "dash") and items[1] == "-c":
        commands = _split_shell(items[2])
        items = commands[0] if commands else []
    items = _strip_wrappers(items)
    if not items:
        return None
    program = posixpath.basename(items[0])
    if re.fullmatch(r"python(\d+(\.\d+)?)?", program) or program in ("sh", "bash", "exec"):
        return None
    return program


def command_needs(command: Sequence[str]) -> dict[str, str]:
    """Programs the image's command runs that an implicit rule knows (`uvicorn` -> uvicorn), with
    the distribution that installs each; plus the command's own program."""
    from depslim.implicit import _command_words, rules

    words = _command_words(" ".join(command))
    found: dict[str, str] = {}
    for rule in rules():
        for name in rule.commands:
            if name in words:
                found.setdefault(name, rule.needs[0])
    program = entry_program(command)
    if program and program not in found:
        found[program] = ""
    return found


def plan_checks(analysis: Analysis, command: Sequence[str], image_dists: Sequence[InstalledDistribution],
                root: Path | None = None, workdir: str = "/") -> tuple[Planned, frozenset[str] | None]:
    """The checks for an image whose command is `command`, from the project's analysis against it.

    Returns the plan and the first-party modules the command reaches (None: unknown)."""
    scan = analysis.scan
    why: dict[str, Evidence] = {}
    imports: list[str] = []
    reached: frozenset[str] | None = None
    if scan is not None:
        start = command_start_modules(command, scan.module_files)
        if start:
            start |= pickled_modules(scan)
            followed = follow_launches(scan, root, start)
            reached = None if followed.unknown else followed.modules
        else:
            reached = analysis.reach.modules
        modules = sorted(reached) if reached is not None else sorted(
            m for m, rel in scan.module_files.items() if _runtime(rel))
        for module in modules:
            if module and not _skip_module(module):
                target = import_target(scan, module, workdir)
                imports.append(target)
                why[f"import:{target}"] = Evidence(scan.module_files.get(module, ""), 0, "reached", module)
    commands = list(command_needs(command))
    for name in commands:
        why[f"command:{name}"] = Evidence("image command", 0, "entrypoint", redact(" ".join(command))[:200])
    mapper = Mapper(image_dists)
    stray = set(load_data("verify")["stray_top_level"])
    for dist in analysis.report.distributions:
        # an implicit need a rule or a model file names; "required by a runtime package" is pip's to keep
        if dist.verdict is not Verdict.IMPLICIT or not any(e.kind == "implicit" for e in dist.evidence):
            continue
        provided = sorted(m for m in mapper.modules_of(dist.name)
                          if m.isidentifier() and m not in STDLIB and m not in stray)
        public = [m for m in provided if not m.startswith("_")]
        # a private top-level extension (catboost's `_catboost`) is loaded by its package, not on its own
        for module in public or provided:
            if module not in imports:
                imports.append(module)
                why[f"import:{module}"] = dist.evidence[0] if dist.evidence else Evidence("", 0, "implicit", dist.name)
    models: list[tuple[str, tuple[str, ...]]] = []
    for pickled in (scan.pickled if scan is not None else ()):
        if pickled.context is not Context.RUNTIME:
            continue
        # every name, in the order the file's opcodes name them: a later name may only resolve once an
        # earlier module is imported (catboost's `_catboost` is registered by `catboost`)
        names = tuple(dict.fromkeys(f"{module}:{attr}" if attr else module for module, attr in pickled.names
                                    if module.split(".")[0] not in ("builtins", "__builtin__")))
        if any(name.split(".")[0].split(":")[0] not in STDLIB for name in names):
            models.append((pickled.location.path, names))
            why[f"model:{pickled.location.path}"] = Evidence(pickled.location.path, 0, "model-file",
                                                             f"{len(names)} names in its pickles")
    planned = Planned(tuple(imports[:MAX_CHECKS]), tuple(models[:MAX_CHECKS]), tuple(commands), why)
    return planned, reached


def import_target(scan: ScanResult, module: str, workdir: str) -> str:
    """How to import a module the way the image runs it: a file in a folder that is not a package and
    imports its siblings (`streamlit run app/main.py` with `from components import x`) is a script —
    its folder is sys.path[0] — so it is imported as `main@/app/app`; anything else by its dotted name."""
    rel = scan.module_files.get(module, "")
    folder, _, name = rel.rpartition("/")
    files = set(scan.module_files.values())
    if not folder or f"{folder}/__init__.py" in files or not name.endswith(".py"):
        return module
    siblings = any(f"{folder}/{ref.top_level}.py" in files or f"{folder}/{ref.top_level}/__init__.py" in files
                   for ref in scan.imports if ref.location.path == rel)
    return f"{name[:-3]}@{posixpath.join(workdir, folder)}" if siblings else module


def _runtime(rel: str) -> bool:
    from depslim.imports.contexts import ContextRules

    return ContextRules.build(None, None).context_of(rel) is Context.RUNTIME


# --------------------------------------------------------------------------- classification


@dataclass(frozen=True)
class FixContext:
    """What a fix line can name: who provides a module, at which version, in which file."""

    mapper: Mapper
    versions: Mapping[str, str]  # distribution -> version (the baseline's, else declared pins)
    first_party: frozenset[str]
    requirements_file: str = "requirements-slim.txt"
    packages_for_soname: Mapping[str, str] = field(default_factory=dict)
    command_owners: Mapping[str, str] = field(default_factory=dict)  # command -> distribution
    project: Path | None = None  # a file the code opens that the project has but the image lacks is a breakage
    workdir: str = "/"


def _requirement(ctx: FixContext, dist: str) -> str:
    version = ctx.versions.get(dist)
    return f"{dist}=={version}" if version else dist


def classify(raw: Mapping[str, Any], planned: Planned, ctx: FixContext) -> CheckResult:
    """One probe record -> a result: pass, breakage (with its fix) or another error."""
    check = str(raw.get("check", ""))
    target = str(raw.get("target", ""))
    why = planned.why.get(f"{check}:{target}")
    seconds = raw.get("seconds") if isinstance(raw.get("seconds"), (int, float)) else None
    if raw.get("ok"):
        return CheckResult(check, target, True, why=why, seconds=seconds)
    kind = str(raw.get("type") or "Error")
    message = redact(str(raw.get("message") or ""))
    missing = raw.get("missing") if isinstance(raw.get("missing"), str) else None
    if check == "command":
        dist = ctx.command_owners.get(target)
        fix = f"add {_requirement(ctx, dist)} to {ctx.requirements_file} (it installs `{target}`)" if dist else \
            f"install the program `{target}` in the image"
        return CheckResult(check, target, False, True, kind, message, target, dist, fix, why, seconds)
    library = _SHARED_LIBRARY.search(message)
    if kind in ("ImportError", "ModuleNotFoundError") and library:
        soname = library.group(1)
        package = ctx.packages_for_soname.get(soname)
        fix = (f"apt-get install --no-install-recommends {package} in the final stage (provides {soname})"
               if package else f"install the OS package that provides {soname} in the final stage")
        return CheckResult(check, target, False, True, kind, message, soname, package, fix, why, seconds)
    if kind in ("ImportError", "ModuleNotFoundError") and missing:
        top = missing.split(".")[0]
        if top in ctx.first_party:
            fix = f"copy the first-party module {missing} into the image"
            return CheckResult(check, target, False, True, kind, message, missing, None, fix, why, seconds)
        mapped = ctx.mapper.map(missing)
        # a distribution only when something says it provides the module: never a guess from its name
        dist = mapped.distributions[0] if mapped.distributions and mapped.how in _KNOWN else None
        fix = (f"add {_requirement(ctx, dist)} to {ctx.requirements_file} (it provides `{top}`)" if dist
               else f"install what provides `{missing}`")
        return CheckResult(check, target, False, True, kind, message, missing, dist, fix, why, seconds)
    missing_file = _project_file(_MISSING_FILE.search(message), ctx)
    if kind == "FileNotFoundError" and missing_file:
        fix = f"copy {missing_file} into the image (the project has it; the code opens it)"
        return CheckResult(check, target, False, True, kind, message, missing_file, None, fix, why, seconds)
    if kind in ("ImportError", "AttributeError") and check == "model":
        module = str(raw.get("at") or target).split(":")[0]
        mapped = ctx.mapper.map(module)
        dist = mapped.distributions[0] if mapped.distributions and mapped.how != "ambiguous" else None
        fix = (f"pin {_requirement(ctx, dist)} (the version the model file was written with) in "
               f"{ctx.requirements_file}" if dist else "install the library the model file was written with")
        return CheckResult(check, target, False, True, kind, message, target, dist, fix, why, seconds)
    return CheckResult(check, target, False, False, kind, message, missing, None, "", why, seconds)


_MISSING_FILE = re.compile(r"No such file or directory: '([^']+)'")
_KNOWN = frozenset({"record", "top_level", "alias", "index"})  # mappings that name a real distribution


def _project_file(match: re.Match[str] | None, ctx: FixContext) -> str | None:
    """The project-relative file a missing path names (absolute under the image's WORKDIR, or relative
    to it), when the project has that file."""
    if match is None or ctx.project is None:
        return None
    path = match.group(1)
    prefix = ctx.workdir.rstrip("/") + "/"
    rel = path[len(prefix):] if path.startswith(prefix) else (None if path.startswith("/") else path)
    if not rel:
        return None
    candidate = ctx.project / rel
    try:
        return rel if candidate.resolve().is_relative_to(ctx.project.resolve()) and candidate.exists() else None
    except OSError:
        return None


def versions_of(dists: Iterable[InstalledDistribution]) -> dict[str, str]:
    return {d.name: d.version for d in dists}
