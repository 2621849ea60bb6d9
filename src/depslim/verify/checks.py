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

from depslim.core import Analysis, follow_launches
from depslim.imports.entrypoints import command_start_modules
from depslim.mapping import STDLIB, Mapper
from depslim.model import Context, Evidence, InstalledDistribution, Verdict
from depslim.redact import redact

_SHARED_LIBRARY = re.compile(r"(lib[\w.+-]*\.so(?:\.\d+)*): cannot open shared object file")
MAX_CHECKS = 2000  # a sanity bound on one container's work


@dataclass(frozen=True)
class Planned:
    """The checks to run in one container, each with why it exists."""

    imports: tuple[str, ...] = ()
    attributes: tuple[str, ...] = ()  # "module:attr" named by model files
    commands: tuple[str, ...] = ()
    why: Mapping[str, Evidence] = field(default_factory=dict)  # "kind:target" -> evidence

    def spec(self, timeout: float) -> str:
        return json.dumps({"mode": "checks", "imports": list(self.imports), "attributes": list(self.attributes),
                           "commands": list(self.commands), "timeout": timeout})

    @property
    def count(self) -> int:
        return len(self.imports) + len(self.attributes) + len(self.commands)


@dataclass(frozen=True)
class CheckResult:
    check: str  # import | attribute | command | build | start
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
                root: Path | None = None) -> tuple[Planned, frozenset[str] | None]:
    """The checks for an image whose command is `command`, from the project's analysis against it.

    Returns the plan and the first-party modules the command reaches (None: unknown)."""
    scan = analysis.scan
    why: dict[str, Evidence] = {}
    imports: list[str] = []
    reached: frozenset[str] | None = None
    if scan is not None:
        start = command_start_modules(command, scan.module_files)
        if start:
            followed = follow_launches(scan, root, start)
            reached = None if followed.unknown else followed.modules
        else:
            reached = analysis.reach.modules
        modules = sorted(reached) if reached is not None else sorted(
            m for m, rel in scan.module_files.items() if _runtime(rel))
        for module in modules:
            if module and not _skip_module(module):
                imports.append(module)
                why[f"import:{module}"] = Evidence(scan.module_files.get(module, ""), 0, "reached", module)
    commands = list(command_needs(command))
    for name in commands:
        why[f"command:{name}"] = Evidence("image command", 0, "entrypoint", redact(" ".join(command))[:200])
    mapper = Mapper(image_dists)
    for dist in analysis.report.distributions:
        if dist.verdict is not Verdict.IMPLICIT:
            continue
        for module in sorted(mapper.modules_of(dist.name)):
            if module.isidentifier() and module not in imports and module not in STDLIB:
                imports.append(module)
                why[f"import:{module}"] = dist.evidence[0] if dist.evidence else Evidence("", 0, "implicit", dist.name)
    attributes: list[str] = []
    for pickled in (scan.pickled if scan is not None else ()):
        if pickled.context is not Context.RUNTIME:
            continue
        for module, attr in pickled.names:
            if module.split(".")[0] in STDLIB or module.split(".")[0] in ("builtins", "__builtin__"):
                continue
            target = f"{module}:{attr}" if attr else module
            if target not in attributes:
                attributes.append(target)
                why[f"attribute:{target}"] = Evidence(pickled.location.path, 0, "model-file", f"{module}.{attr}")
    planned = Planned(tuple(imports[:MAX_CHECKS]), tuple(attributes[:MAX_CHECKS]), tuple(commands), why)
    return planned, reached


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
        dist = mapped.distributions[0] if mapped.distributions and mapped.how != "stdlib" else None
        fix = (f"add {_requirement(ctx, dist)} to {ctx.requirements_file} (it provides `{top}`)" if dist
               else f"install what provides `{missing}`")
        return CheckResult(check, target, False, True, kind, message, missing, dist, fix, why, seconds)
    if kind in ("ImportError", "AttributeError") and check == "attribute":
        module = target.split(":")[0]
        mapped = ctx.mapper.map(module)
        dist = mapped.distributions[0] if mapped.distributions else None
        fix = (f"pin {_requirement(ctx, dist)} (the version the model file was written with) in "
               f"{ctx.requirements_file}" if dist else "install the library the model file was written with")
        return CheckResult(check, target, False, True, kind, message, target, dist, fix, why, seconds)
    return CheckResult(check, target, False, False, kind, message, missing, None, "", why, seconds)


def versions_of(dists: Iterable[InstalledDistribution]) -> dict[str, str]:
    return {d.name: d.version for d in dists}
