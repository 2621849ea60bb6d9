"""One check per rule id in `data/dockerfile_rules.toml`; each returns hits (line, detail, fields).

Checks are multi-stage aware: size rules (scope "shipped") look only at the final stage and the
stages it is built FROM, because a builder stage's cache or compiler never reaches the image
unless copied. ENV is inherited along the FROM chain (PIP_NO_CACHE_DIR set in a parent counts).
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from depslim.dockerfile.parse import (
    Dockerfile,
    Instruction,
    Stage,
    apt_install_args,
    pip_install_args,
    run_commands,
)

TRUTHY = {"1", "true", "yes", "on"}


@dataclass(frozen=True)
class Hit:
    line: int
    detail: str
    fields: Mapping[str, str] = field(default_factory=dict)
    path: str | None = None  # another file (".dockerignore"); default: the Dockerfile


@dataclass(frozen=True)
class AuditInput:
    dockerfile: Dockerfile
    dockerignore: list[str] | None  # patterns, None when the file is absent
    gpu_use: bool | None  # runtime GPU evidence from the scan; None when unknown


Check = Callable[[AuditInput, Mapping[str, Any], list[Stage]], list[Hit]]
CHECKS: dict[str, Check] = {}


def check(rule_id: str) -> Callable[[Check], Check]:
    def register(func: Check) -> Check:
        CHECKS[rule_id] = func
        return func

    return register


def _runs(stage: Stage) -> list[Instruction]:
    return [i for i in stage.instructions if i.keyword == "RUN"]


def _image_name(base: str) -> str:
    return base.split("@", 1)[0]


def _is_stage_ref(df: Dockerfile, stage: Stage) -> bool:
    return stage.parent is not None


# ---------------------------------------------------------------------------- base images


@check("cuda-devel-base")
def _cuda_devel(inp: AuditInput, rule: Mapping[str, Any], stages: list[Stage]) -> list[Hit]:
    hits = []
    for stage in stages:
        if _is_stage_ref(inp.dockerfile, stage):
            continue
        if any(re.search(p, stage.base) for p in rule["patterns"]):
            suggest = stage.base.replace("-devel", "-runtime").replace("cudnn-devel", "cudnn-runtime")
            hits.append(Hit(stage.line, f"FROM {stage.base}", {"suggest": suggest}))
    return hits


@check("gpu-base-for-cpu")
def _gpu_base(inp: AuditInput, rule: Mapping[str, Any], stages: list[Stage]) -> list[Hit]:
    if inp.gpu_use is not False:  # only when the scan shows no GPU use at runtime
        return []
    devel = [p for p in _rule_patterns("cuda-devel-base")]
    hits = []
    for stage in stages:
        if _is_stage_ref(inp.dockerfile, stage) or any(re.search(p, stage.base) for p in devel):
            continue
        if any(re.search(p, stage.base) for p in rule["patterns"]):
            hits.append(Hit(stage.line, f"FROM {stage.base} (no GPU use found in runtime code)"))
    return hits


def _rule_patterns(rule_id: str) -> list[str]:
    from depslim.dockerfile.audit import load_rules

    return [p for r in load_rules() if r["id"] == rule_id for p in r.get("patterns", [])]


@check("full-python-base")
def _full_python(inp: AuditInput, rule: Mapping[str, Any], stages: list[Stage]) -> list[Hit]:
    hits = []
    for stage in stages:
        if _is_stage_ref(inp.dockerfile, stage):
            continue
        image = _image_name(stage.base)
        if any(re.search(p, image) for p in rule["patterns"]):
            tag = image.split(":", 1)[1] if ":" in image else ""
            version = tag.split("-", 1)[0] if tag and tag != "latest" else "3.11"
            hits.append(Hit(stage.line, f"FROM {stage.base}", {"suggest": f"python:{version}-slim"}))
    return hits


@check("latest-tag")
def _latest(inp: AuditInput, rule: Mapping[str, Any], stages: list[Stage]) -> list[Hit]:
    return [Hit(s.line, f"FROM {s.base}") for s in stages
            if not _is_stage_ref(inp.dockerfile, s) and _image_name(s.base).endswith(":latest")]


@check("untagged-base")
def _untagged(inp: AuditInput, rule: Mapping[str, Any], stages: list[Stage]) -> list[Hit]:
    hits = []
    for s in stages:
        if _is_stage_ref(inp.dockerfile, s) or s.base == "scratch" or "@" in s.base or "$" in s.base:
            continue
        last = s.base.rsplit("/", 1)[-1]
        if ":" not in last:
            hits.append(Hit(s.line, f"FROM {s.base}"))
    return hits


# ---------------------------------------------------------------------------- package installs


def _has_cache_mount(ins: Instruction, target: str) -> bool:
    return any(f.startswith("--mount=") and ("type=cache" in f or "type=tmpfs" in f) and target in f
               for f in ins.flags)


@check("pip-no-cache-dir")
def _pip_cache(inp: AuditInput, rule: Mapping[str, Any], stages: list[Stage]) -> list[Hit]:
    hits = []
    for stage in stages:
        for ins in _runs(stage):
            env = inp.dockerfile.env(stage, ins.line)
            for argv in run_commands(ins):
                found = pip_install_args(argv)
                if found is None:
                    continue
                tool, args = found
                if tool == "pip":
                    if "--no-cache-dir" in args or env.get("PIP_NO_CACHE_DIR", "").lower() in TRUTHY \
                            or _has_cache_mount(ins, ".cache/pip"):
                        continue
                else:
                    if "--no-cache" in args or env.get("UV_NO_CACHE", "").lower() in TRUTHY \
                            or _has_cache_mount(ins, ".cache/uv"):
                        continue
                hits.append(Hit(ins.line, " ".join(argv)))
                break
    return hits


@check("apt-no-install-recommends")
def _apt_recommends(inp: AuditInput, rule: Mapping[str, Any], stages: list[Stage]) -> list[Hit]:
    hits = []
    for stage in stages:
        for ins in _runs(stage):
            for argv in run_commands(ins):
                found = apt_install_args(argv)
                if found and "--no-install-recommends" not in found[0] and found[1]:
                    hits.append(Hit(ins.line, " ".join(argv)))
                    break
    return hits


def _removes_apt_lists(argv: list[str]) -> bool:
    return bool(argv) and argv[0] == "rm" and any(a.startswith("/var/lib/apt/lists") for a in argv[1:])


@check("apt-lists-not-cleaned")
def _apt_lists(inp: AuditInput, rule: Mapping[str, Any], stages: list[Stage]) -> list[Hit]:
    hits = []
    for stage in stages:
        for ins in _runs(stage):
            commands = run_commands(ins)
            installs = [c for c in commands if apt_install_args(c)]
            if not installs or _has_cache_mount(ins, "/var/lib/apt/lists"):
                continue
            if not any(_removes_apt_lists(c) for c in commands):
                hits.append(Hit(ins.line, " ".join(installs[0])))
    return hits


@check("single-stage-compilers")
def _compilers(inp: AuditInput, rule: Mapping[str, Any], stages: list[Stage]) -> list[Hit]:
    hits = []
    for stage in stages:
        purged: set[str] = set()
        found: list[tuple[Instruction, list[str]]] = []
        for ins in _runs(stage):
            for argv in run_commands(ins):
                apt = apt_install_args(argv)
                if apt:
                    pkgs = [p.split("=")[0] for p in apt[1]]
                    tools = [p for p in pkgs if any(re.match(rx, p) for rx in rule["packages"])]
                    if tools:
                        found.append((ins, tools))
                elif len(argv) > 2 and argv[0] in ("apt-get", "apt") and ("purge" in argv or "remove" in argv):
                    purged |= {a for a in argv[2:] if not a.startswith("-")}
        for ins, tools in found:
            left = [t for t in tools if t not in purged]
            if left:
                hits.append(Hit(ins.line, f"installs {', '.join(left)} in the shipped stage"))
    return hits


# ---------------------------------------------------------------------------- layering


def _cleanup_kind(argv: list[str], rule: Mapping[str, Any]) -> str | None:
    if argv and argv[0] == "rm":
        targets = [a for a in argv[1:] if not a.startswith("-")]
        if targets and all(any(re.match(p, t) for p in rule["cleanup_paths"]) for t in targets):
            return " ".join(argv)
        return None
    for pattern in rule["cleanup_commands"]:
        if argv[: len(pattern)] == pattern:
            return " ".join(argv)
    return None


def _creates(argv: list[str]) -> bool:
    """Does a command leave caches/lists/packages that a later cleanup targets?"""
    return bool(apt_install_args(argv) or pip_install_args(argv)
                or (argv[:2] in (["apt-get", "update"], ["apt", "update"]))
                or (argv and argv[0] in ("conda", "mamba", "micromamba", "wget", "curl")))


@check("cleanup-in-later-layer")
def _later_cleanup(inp: AuditInput, rule: Mapping[str, Any], stages: list[Stage]) -> list[Hit]:
    hits = []
    for stage in stages:
        origin: int | None = None
        for ins in _runs(stage):
            commands = run_commands(ins)
            cleanups = [c for argv in commands if (c := _cleanup_kind(argv, rule))]
            creates_here = any(_creates(argv) for argv in commands)
            if cleanups and not creates_here and origin is not None:
                hits.append(Hit(ins.line, cleanups[0], {"command": cleanups[0], "origin": str(origin)}))
            if creates_here:
                origin = ins.line
    return hits


def _copies_whole_context(ins: Instruction) -> bool:
    if ins.keyword not in ("COPY", "ADD") or any(f.startswith("--from") for f in ins.flags):
        return False
    parts = ins.args.split()
    return any(src in (".", "./", "*", "./*") for src in parts[:-1])


@check("copy-before-install")
def _copy_order(inp: AuditInput, rule: Mapping[str, Any], stages: list[Stage]) -> list[Hit]:
    hits = []
    for stage in stages:
        copied: Instruction | None = None
        for ins in stage.instructions:
            if copied is None and _copies_whole_context(ins):
                copied = ins
            if ins.keyword == "RUN" and copied is not None:
                for argv in run_commands(ins):
                    found = pip_install_args(argv)
                    if found and any(a in ("-r", "--requirement") or a.startswith("--requirement=")
                                     or a.startswith("-r") for a in found[1]):
                        hits.append(Hit(copied.line, f"{copied.text} before `{' '.join(argv)}` (line {ins.line})"))
                        break
                else:
                    continue
                break
    return hits


# ---------------------------------------------------------------------------- pinning


_VALUE_OPTIONS = {"-r", "--requirement", "-c", "--constraint", "-e", "--editable", "-i", "--index-url",
                  "--extra-index-url", "-f", "--find-links", "--target", "-t", "--prefix", "--root",
                  "--trusted-host", "--platform", "--python-version", "--abi", "--implementation",
                  "--python", "--only-binary", "--no-binary", "--cache-dir", "--progress-bar", "--src",
                  "--upgrade-strategy", "--config-settings", "-C", "--log", "--timeout", "--retries"}


def _pip_targets(args: list[str]) -> tuple[list[str], bool, bool]:
    """(requirement args, uses -r, has --require-hashes)."""
    targets, uses_r, hashes = [], False, False
    skip = False
    for i, arg in enumerate(args):
        if skip:
            skip = False
            continue
        if arg == "--require-hashes":
            hashes = True
        if arg in ("-r", "--requirement") or arg.startswith("--requirement=") or (arg.startswith("-r") and len(arg) > 2
                                                                                   and not arg.startswith("--")):
            uses_r = True
        if arg in _VALUE_OPTIONS:
            skip = True
            if arg in ("-e", "--editable"):
                continue
            continue
        if arg.startswith("-"):
            continue
        _ = i
        targets.append(arg)
    return targets, uses_r, hashes


def _pinned(arg: str) -> bool:
    if "==" in arg or "===" in arg or "@" in arg or "://" in arg:
        return True
    return arg.endswith((".whl", ".tar.gz", ".zip")) or arg.startswith((".", "/", "~", "$")) or "/" in arg


@check("unpinned-pip-install")
def _unpinned(inp: AuditInput, rule: Mapping[str, Any], stages: list[Stage]) -> list[Hit]:
    hits = []
    for stage in stages:
        for ins in _runs(stage):
            for argv in run_commands(ins):
                found = pip_install_args(argv)
                if not found:
                    continue
                targets, _uses_r, _h = _pip_targets(found[1])
                loose = [t for t in targets if not _pinned(t)]
                if loose:
                    hits.append(Hit(ins.line, f"unpinned: {', '.join(loose)}"))
                    break
    return hits


@check("no-require-hashes")
def _hashes(inp: AuditInput, rule: Mapping[str, Any], stages: list[Stage]) -> list[Hit]:
    hits = []
    for stage in stages:
        for ins in _runs(stage):
            env = inp.dockerfile.env(stage, ins.line)
            for argv in run_commands(ins):
                found = pip_install_args(argv)
                if not found or found[0] != "pip":
                    continue
                _targets, uses_r, hashes = _pip_targets(found[1])
                if uses_r and not hashes and env.get("PIP_REQUIRE_HASHES", "").lower() not in TRUTHY:
                    hits.append(Hit(ins.line, " ".join(argv)))
                    break
    return hits


# ---------------------------------------------------------------------------- user, secrets, weights


@check("root-user")
def _root(inp: AuditInput, rule: Mapping[str, Any], stages: list[Stage]) -> list[Hit]:
    users = [(ins, s) for s in inp.dockerfile.shipped() for ins in s.instructions if ins.keyword == "USER"]
    if not users:
        final = inp.dockerfile.final
        return [Hit(final.line, f"no USER in the final stage (FROM {final.base}): the service runs as root")]
    last, _stage = users[-1]
    user = last.args.split(":", 1)[0].strip()
    if user in ("root", "0"):
        return [Hit(last.line, f"last USER is {user}")]
    return []


@check("secret-in-env")
def _secrets(inp: AuditInput, rule: Mapping[str, Any], stages: list[Stage]) -> list[Hit]:
    hits = []
    all_ins = list(inp.dockerfile.preamble) + [i for s in stages for i in s.instructions]
    for ins in all_ins:
        if ins.keyword not in ("ENV", "ARG"):
            continue
        pairs = parse_pairs(ins)
        for key, value in pairs.items():
            if re.search(rule["names"], key) and not re.match(rule["ignore_names"], key):
                if ins.keyword == "ARG" and not value:
                    detail = f"ARG {key} (build-arg values are kept in the image history)"
                else:
                    detail = f"{ins.keyword} {key}=<redacted>"
                hits.append(Hit(ins.line, detail))
    return hits


def parse_pairs(ins: Instruction) -> dict[str, str]:
    from depslim.dockerfile.parse import parse_env

    if ins.keyword == "ARG":
        key, _, value = ins.args.strip().partition("=")
        return {key.strip(): value.strip()}
    return parse_env(ins.args)


def _weight_path(path: str, rule: Mapping[str, Any]) -> bool:
    clean = path.rstrip("/")
    if clean.lower().endswith(tuple(rule["extensions"])):
        return True
    return any(part in rule["directories"] for part in Path(clean).parts)


@check("weights-in-image")
def _weights(inp: AuditInput, rule: Mapping[str, Any], stages: list[Stage]) -> list[Hit]:
    hits = []
    for stage in stages:
        for ins in stage.instructions:
            if ins.keyword in ("COPY", "ADD") and not any(f.startswith("--from") for f in ins.flags):
                parts = ins.args.split()
                sources = [p for p in parts[:-1] if _weight_path(p, rule)]
                if sources:
                    hits.append(Hit(ins.line, f"{ins.keyword} {' '.join(sources)}"))
            elif ins.keyword == "RUN":
                for argv in run_commands(ins):
                    joined = " ".join(argv)
                    if argv and argv[0] in ("wget", "curl") and any(
                        a.split("?")[0].lower().endswith(tuple(rule["extensions"])) for a in argv[1:]
                    ):
                        hits.append(Hit(ins.line, joined))
                        break
                    if any(argv[: len(c)] == c for c in rule["download_commands"] if len(c) > 1) or any(
                        c[0] in joined for c in rule["download_commands"] if len(c) == 1
                    ):
                        hits.append(Hit(ins.line, joined))
                        break
    return hits


# ---------------------------------------------------------------------------- .dockerignore


def _ignored(entry: str, patterns: list[str]) -> bool:
    entry_clean = entry.strip("/")
    for raw in patterns:
        pattern = raw.strip()
        if not pattern or pattern.startswith("#") or pattern.startswith("!"):
            continue
        pattern = pattern.lstrip("/").rstrip("/")
        for candidate in (pattern, pattern.removeprefix("**/")):
            if candidate in (entry_clean, "*", "**") or fnmatch.fnmatch(entry_clean, candidate):
                return True
            if entry_clean.startswith("*.") and candidate.endswith(entry_clean[1:]) and "*" in candidate:
                return True
    return False


@check("dockerignore-missing")
def _ignore_missing(inp: AuditInput, rule: Mapping[str, Any], stages: list[Stage]) -> list[Hit]:
    if inp.dockerignore is not None:
        return []
    entries = ", ".join(e.replace("|", " or ") for e in rule["entries"])
    return [Hit(0, "no .dockerignore next to the Dockerfile", {"entries": entries})]


@check("dockerignore-incomplete")
def _ignore_incomplete(inp: AuditInput, rule: Mapping[str, Any], stages: list[Stage]) -> list[Hit]:
    if inp.dockerignore is None:
        return []
    missing = [e.replace("|", " or ") for e in rule["entries"]
               if not any(_ignored(alt, inp.dockerignore) for alt in e.split("|"))]
    if not missing:
        return []
    text = ", ".join(missing)
    return [Hit(0, f"missing: {text}", {"missing": text}, path=".dockerignore")]
