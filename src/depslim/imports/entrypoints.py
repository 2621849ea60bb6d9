"""Entrypoints (how the project is started) and the first-party modules they reach.

Entrypoints come from `[project.scripts]`, `[project.gui-scripts]`, `[tool.poetry.scripts]`,
each Dockerfile stage's effective command (ENTRYPOINT + CMD, exec or shell form, parsed with
dockerfile-parse and shlex — never regexes over the file), Procfile lines and Compose services'
`entrypoint:`/`command:` (`depslim.imports.compose`). A command is
read through wrappers (`exec`, `tini --`, `poetry run`, `sh -c "..."`) down to what names
project code: `python -m pkg`, `python app.py`, `uvicorn pkg.api:app`, `gunicorn mod:app`,
`celery -A pkg`, `streamlit run app.py`, or one of the project's own console scripts. The
runner table is data (`contexts.toml [runners]`).

Reachability follows first-party imports from the targets over the scan's own import graph
(no importlib, nothing executed): `import a.b` reaches `a` and `a.b`; `from a import b`
also reaches the submodule `a.b` when it exists; typing-only imports are not followed.
"""

from __future__ import annotations

import io
import os
import re
import shlex
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from depslim.imports.contexts import context_data
from depslim.imports.firstparty import Layout
from depslim.model import Evidence

if TYPE_CHECKING:
    from dockerfile_parse import Instruction  # stubs/dockerfile_parse: the shape of one `structure` item

_PYTHON = re.compile(r"python(?:\d+(?:\.\d+)?)?$")
_SHELLS = frozenset({"sh", "bash", "dash", "ash", "zsh"})
_ASSIGN = re.compile(r"[A-Za-z_][A-Za-z0-9_]*=")
_PY_VALUE_OPTIONS = frozenset({"-W", "-X", "--check-hash-based-pycs"})
_SEPARATORS = frozenset({"&&", "||", ";", "|", "&"})
_TABLE = re.compile(r"^\s*\[\s*([^\[\]]+?)\s*\]\s*(?:#.*)?$")


@dataclass(frozen=True)
class Target:
    """What an entrypoint runs: a module (dotted) or a file (project-relative)."""

    kind: str  # "module" | "file" | "glob" (files a runner loads by convention: streamlit's pages/) | "script"
    value: str


@dataclass(frozen=True)
class Entrypoint:
    evidence: Evidence
    targets: tuple[Target, ...]


# --------------------------------------------------------------------------- commands


def _split_shell(text: str) -> list[list[str]]:
    """A shell-form command line -> simple commands (split at &&, ||, ;, |)."""
    lexer = shlex.shlex(text, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    try:
        words = list(lexer)
    except ValueError:
        words = text.split()
    commands: list[list[str]] = [[]]
    for word in words:
        if word in _SEPARATORS or (set(word) <= set("&|;") and word):
            commands.append([])
        else:
            commands[-1].append(word)
    return [c for c in commands if c]


def _option_value(words: Sequence[str], i: int) -> tuple[str | None, int]:
    """(value of option at i, index after it) for `--opt value` and `--opt=value`."""
    word = words[i]
    if "=" in word and word.startswith("--"):
        return word.split("=", 1)[1], i + 1
    return (words[i + 1], i + 2) if i + 1 < len(words) else (None, i + 1)


def _strip_wrappers(words: list[str]) -> list[str]:
    wrappers = context_data()["wrappers"]
    names = set(wrappers["names"])
    skip_words = set(wrappers["skip_words"])
    value_options = set(wrappers["value_options"])
    takes_argument = set(wrappers["takes_argument"])
    i = 0
    while i < len(words) and _ASSIGN.match(words[i]):
        i += 1
    while i < len(words) and os.path.basename(words[i]) in names:
        wrapper = os.path.basename(words[i])
        i += 1
        positional_taken = wrapper not in takes_argument
        while i < len(words):
            word = words[i]
            if word in value_options:
                i += 2
            elif word.startswith("-") or word in skip_words or _ASSIGN.match(word):
                i += 1
            elif not positional_taken:
                positional_taken = True
                i += 1
            else:
                break
    return words[i:]


def _module_target(text: str) -> str:
    """"pkg.api:app" / "pkg.wsgi:create_app()" / "pkg.api" -> "pkg.api"."""
    return text.split(":", 1)[0].strip()


def command_targets(words: Sequence[str], scripts: Mapping[str, str]) -> list[tuple[Target, str]]:
    """What a command runs, as (target, detail) pairs; empty when it names no project code."""
    words = _strip_wrappers(list(words))
    if not words:
        return []
    program = os.path.basename(words[0])
    rest = words[1:]
    if program.endswith(".sh"):  # ./entrypoint.sh: what it runs is read from the file (expand_scripts)
        return [(Target("script", words[0]), program)]
    if program in _SHELLS and rest and "-c" not in rest:
        script = next((w for w in rest if not w.startswith("-")), None)
        return [(Target("script", script), os.path.basename(script))] if script else []
    if program in _SHELLS and "-c" in rest:
        script = rest[rest.index("-c") + 1] if rest.index("-c") + 1 < len(rest) else ""
        found: list[tuple[Target, str]] = []
        for command in _split_shell(script):
            found += command_targets(command, scripts)
        return found
    if _PYTHON.match(program):
        runner_module = _runner_module(rest)
        if runner_module is not None:  # `python -m streamlit run app.py` is `streamlit run app.py`
            return command_targets([runner_module[0], *runner_module[1]], scripts)
        return _python_targets(rest)
    if program in scripts:
        return [(Target("module", _module_target(scripts[program])), scripts[program])]
    runner = context_data()["runners"].get(program)
    if runner is None:
        return []
    return _runner_targets(runner, rest)


def _runner_module(args: Sequence[str]) -> tuple[str, list[str]] | None:
    """(runner, its arguments) when python runs a known runner as a module (`-m uvicorn app:app`)."""
    for i, word in enumerate(args):
        if word == "-m" and i + 1 < len(args):
            name, rest = args[i + 1], list(args[i + 2 :])
        elif word.startswith("-m") and len(word) > 2:
            name, rest = word[2:], list(args[i + 1 :])
        elif word.startswith("-"):
            continue
        else:
            return None
        return (name, rest) if name in context_data()["runners"] else None
    return None


def _python_targets(args: Sequence[str]) -> list[tuple[Target, str]]:
    i = 0
    while i < len(args):
        word = args[i]
        if word == "-m" and i + 1 < len(args):
            return [(Target("module", args[i + 1]), args[i + 1])]
        if word.startswith("-m") and len(word) > 2:
            return [(Target("module", word[2:]), word[2:])]
        if word == "-c":
            return []
        if word in _PY_VALUE_OPTIONS:
            i += 2
            continue
        if word.startswith("-"):
            i += 1
            continue
        return [(Target("file", word), word)]
    return []


def _runner_targets(runner: Mapping[str, Any], args: Sequence[str]) -> list[tuple[Target, str]]:
    kind = runner["kind"]
    value_options = set(runner["value_options"])
    positional: list[str] = []
    i = 0
    while i < len(args):
        word = args[i]
        name = word.split("=", 1)[0]
        if kind == "celery" and name in ("-A", "--app"):
            value, i = _option_value(args, i)
            return [(Target("module", _module_target(value)), value)] if value else []
        if word.startswith("-A") and kind == "celery" and len(word) > 2:
            return [(Target("module", _module_target(word[2:])), word[2:])]
        if name in value_options:
            i = _option_value(args, i)[1] if "=" not in word else i + 1
            continue
        if word.startswith("-"):
            i += 1
            continue
        positional.append(word)
        i += 1
    if kind == "app" and positional:
        return [(Target("module", _module_target(positional[0])), positional[0])]
    if kind == "run" and len(positional) > 1 and positional[0] == "run" and not positional[1].endswith(".py") \
            and ":" in positional[1]:  # `serve run pkg.app:deployment`: an import path, not a file
        return [(Target("module", _module_target(positional[1])), positional[1])]
    if kind == "run" and len(positional) > 1 and positional[0] == "run":
        folder = positional[1].replace("\\", "/").rpartition("/")[0]
        companions = [(Target("glob", f"{folder}/{c}" if folder else c), "") for c in runner.get("companions", ())]
        return [(Target("file", positional[1]), positional[1]), *companions]
    if kind == "file" and positional:
        path = positional[1] if positional[0] in ("run", "dev") and len(positional) > 1 else positional[0]
        return [(Target("file", path), path)]
    return []


# --------------------------------------------------------------------------- sources


def _toml_line(text: str, tables: Sequence[str], key: str) -> int:
    """Line of `key = ...` inside one of `tables` (tomllib keeps no positions)."""
    current = ""
    key_re = re.compile(r'^\s*(?:"' + re.escape(key) + r'"|\'' + re.escape(key) + r"'|" + re.escape(key) + r")\s*=")
    inline = re.compile(r"\b" + re.escape(key) + r"\s*=")
    for number, line in enumerate(text.splitlines(), start=1):
        table = _TABLE.match(line)
        if table:
            current = table.group(1).replace('"', "").replace(" ", "")
            continue
        if current in tables and key_re.match(line):
            return number
        if current in ("project", "tool.poetry") and inline.search(line) and "scripts" in line:
            return number
    return 0


def pyproject_scripts(pyproject: Mapping[str, Any]) -> dict[str, str]:
    """Console/GUI script name -> "module:function" from PEP 621 and Poetry tables."""
    project = pyproject.get("project") or {}
    scripts: dict[str, str] = {}
    for table in (project.get("scripts"), project.get("gui-scripts")):
        if isinstance(table, dict):
            scripts.update({k: v for k, v in table.items() if isinstance(v, str)})
    poetry = ((pyproject.get("tool") or {}).get("poetry") or {}).get("scripts") or {}
    if isinstance(poetry, dict):
        for name, value in poetry.items():
            if isinstance(value, str):
                scripts[name] = value
            elif (
                isinstance(value, dict)
                and isinstance(value.get("reference"), str)
                and value.get("type", "console") == "console"
            ):
                scripts[name] = value["reference"]
    return scripts


def pyproject_entrypoints(text: str, pyproject: Mapping[str, Any]) -> list[Entrypoint]:
    found = []
    tables = ("project.scripts", "project.gui-scripts", "tool.poetry.scripts")
    for name, value in pyproject_scripts(pyproject).items():
        evidence = Evidence("pyproject.toml", _toml_line(text, tables, name), "entrypoint", value)
        found.append(Entrypoint(evidence, (Target("module", _module_target(value)),)))
    return found


def _docker_words(value: str) -> list[list[str]]:
    """An instruction value in exec form (JSON array) or shell form -> simple commands."""
    from depslim.dockerfile.parse import exec_form

    words = exec_form(value)
    return [words] if words is not None else _split_shell(value.strip())


def dockerfile_entrypoints(rel: str, content: bytes, scripts: Mapping[str, str]) -> list[Entrypoint]:
    """Each stage's effective command: ENTRYPOINT + CMD when both are set, else the one set."""
    from dockerfile_parse import DockerfileParser  # imports requests: only when a Dockerfile exists

    parser = DockerfileParser(fileobj=io.BytesIO(content), env_replace=False)
    try:
        structure = parser.structure
    except Exception:  # dockerfile-parse raises plain exceptions on odd input
        return []
    stages: list[dict[str, Instruction]] = [{}]
    envs: list[dict[str, str]] = [{}]
    for item in structure:
        instruction = str(item.get("instruction", "")).upper()
        if instruction == "FROM":
            stages.append({})
            envs.append({})
        elif instruction in ("CMD", "ENTRYPOINT"):
            stages[-1][instruction] = item
        elif instruction == "ENV":
            from depslim.dockerfile.parse import parse_env

            envs[-1].update(parse_env(str(item.get("value", ""))))
    found = []
    for stage, env in zip(stages, envs, strict=True):
        entry, cmd = stage.get("ENTRYPOINT"), stage.get("CMD")
        where = cmd if cmd is not None else entry
        if where is None:  # neither is set
            continue
        commands: list[list[str]] = []
        if entry is not None:
            entry_cmds = _docker_words(entry["value"])
            if cmd is not None and len(entry_cmds) == 1 and str(entry["value"]).lstrip().startswith("["):
                commands.append(entry_cmds[0] + [w for c in _docker_words(cmd["value"]) for w in c])
            commands += entry_cmds
        if cmd is not None:
            commands += _docker_words(cmd["value"])
        targets: list[tuple[Target, str]] = []
        for command in commands:
            targets += command_targets(command, scripts) or env_targets(command, env)
        unique = list(dict.fromkeys(targets))
        detail = ", ".join(dict.fromkeys(d for _, d in unique if d)) or str(where["value"]).strip()
        line = int(where.get("startline", 0)) + 1
        found.append(Entrypoint(Evidence(rel, line, "entrypoint", detail), tuple(t for t, _ in unique)))
    return found


def env_targets(words: Sequence[str], env: Mapping[str, str]) -> list[tuple[Target, str]]:
    """What a runner that names its app in the environment runs (`flask run` with `ENV FLASK_APP=...`)."""
    words = _strip_wrappers(list(words))
    runner = context_data()["runners"].get(os.path.basename(words[0])) if words else None
    value = env.get(runner.get("env_app", "")) if runner else None
    if not value:
        return []
    if value.endswith(".py"):
        return [(Target("file", value), value)]
    return [(Target("module", _module_target(value)), value)]


def procfile_entrypoints(rel: str, text: str, scripts: Mapping[str, str]) -> list[Entrypoint]:
    found = []
    for number, line in enumerate(text.splitlines(), start=1):
        name, sep, command = line.partition(":")
        if not sep or not name.strip() or name.strip().startswith("#"):
            continue
        targets: list[tuple[Target, str]] = []
        for words in _split_shell(command):
            targets += command_targets(words, scripts)
        unique = list(dict.fromkeys(targets))
        detail = ", ".join(dict.fromkeys(d for _, d in unique if d)) or command.strip()
        found.append(Entrypoint(Evidence(rel, number, "entrypoint", detail), tuple(t for t, _ in unique)))
    return found


def compose_entrypoints(rel: str, text: str, scripts: Mapping[str, str]) -> list[Entrypoint]:
    """Each Compose service's start command (`entrypoint:` + `command:`). The detail keeps the
    command's words (secrets redacted), so the programs it starts (uvicorn, celery…) are named
    even when the command sits on lines after its key."""
    from depslim.imports.compose import service_commands
    from depslim.redact import redact

    found = []
    for command in service_commands(text):
        # Compose runs the words without a shell: they are one command (`sh -c` is read inside)
        unique = list(dict.fromkeys(command_targets(list(command.words), scripts)))
        detail = redact(f"{command.service}: {shlex.join(command.words)}")[:300]
        found.append(Entrypoint(Evidence(rel, command.line, "entrypoint", detail), tuple(t for t, _ in unique)))
    return found


# --------------------------------------------------------------------------- reachability


def resolve_file(path: str, declared_in: str, files: Iterable[str]) -> str | None:
    """A file named in a command -> the project file it is, trying the declaring file's folder
    and then ever shorter suffixes (`/app/src/app.py` in an image is `src/app.py` here)."""
    file_set = set(files)
    clean = path.replace("\\", "/").removeprefix("./")
    base = declared_in.rpartition("/")[0]
    candidates = [clean, f"{base}/{clean}" if base else clean]
    parts = clean.strip("/").split("/")
    candidates += ["/".join(parts[k:]) for k in range(len(parts))]
    for candidate in candidates:
        if candidate in file_set:
            return candidate
    return None


def start_modules(entrypoints: Iterable[Entrypoint], layout: Layout) -> set[str]:
    """First-party modules the entrypoints run directly (with their parent packages)."""
    modules = layout.modules()
    start: set[str] = set()
    for entrypoint in entrypoints:
        for target in entrypoint.targets:
            if target.kind == "glob":
                start.update(layout.module_of(rel) for rel in glob_files(target.value, layout.files))
                continue
            if target.kind == "file":
                rel = resolve_file(target.value, entrypoint.evidence.path, layout.files)
                if rel is not None:
                    start.add(layout.module_of(rel))
                continue
            name = target.value
            if name in modules:
                start.add(name)
                main = f"{name}.__main__"
                if main in modules:
                    start.add(main)
            elif f"{name}.celery" in modules:
                start.add(f"{name}.celery")
    closed = set(start)
    for name in start:
        parts = name.split(".")
        closed.update(".".join(parts[:k]) for k in range(1, len(parts)) if ".".join(parts[:k]) in modules)
    return closed


MAX_SCRIPT_DEPTH = 3  # an entrypoint script that runs a script that runs a script


def expand_scripts(entry: Entrypoint, shell: Mapping[str, str], scripts: Mapping[str, str],
                   depth: int = 0) -> Entrypoint:
    """An entrypoint whose command runs a shell script (`CMD ["./entrypoint.sh"]`, `sh start.sh`), with
    the script's own commands in its place: what the image really starts (`ray start`, then
    `python serve_app.py`). The script's commands join the evidence detail, where implicit rules
    look for the programs they know (uvicorn, ray…)."""
    if not any(t.kind == "script" for t in entry.targets) or depth >= MAX_SCRIPT_DEPTH:
        return entry
    targets: list[Target] = []
    commands: list[str] = []
    for target in entry.targets:
        if target.kind != "script":
            targets.append(target)
            continue
        rel = resolve_file(target.value, entry.evidence.path, shell)
        if rel is None:
            continue
        for line in shell[rel].splitlines():
            line = line.split(" #", 1)[0].strip()
            if not line or line.startswith(("#", "set ", "export ", "echo ", "cd ", "if ", "fi", "then", "else")):
                continue
            for words in _split_shell(line):
                inner = Entrypoint(entry.evidence, tuple(t for t, _ in command_targets(words, scripts)))
                targets += list(expand_scripts(inner, shell, scripts, depth + 1).targets)
                commands.append(" ".join(words))
    detail = "; ".join(dict.fromkeys([entry.evidence.detail, *commands]))[:500]
    evidence = Evidence(entry.evidence.path, entry.evidence.line, entry.evidence.kind, detail)
    return Entrypoint(evidence, tuple(dict.fromkeys(targets)))


def glob_files(pattern: str, files: Iterable[str]) -> list[str]:
    """Project files a runner's convention names (`src/pages/*.py`). Like `resolve_file`, leading
    folders that are not the project's are dropped (`/app/src/pages/*.py` in an image is
    `src/pages/*.py` here), but never the folder part entirely."""
    from fnmatch import fnmatchcase

    parts = pattern.replace("\\", "/").strip("/").removeprefix("./").split("/")
    for k in range(max(1, len(parts) - 1)):
        candidate = "/".join(parts[k:])
        found = sorted(rel for rel in files if fnmatchcase(rel, candidate))
        if found:
            return found
    return []


def reachable(start: set[str], edges: Mapping[str, set[str]]) -> frozenset[str]:
    seen = set(start)
    todo = list(start)
    while todo:
        for nxt in edges.get(todo.pop(), ()):
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return frozenset(seen)


def command_start_modules(words: Sequence[str], module_files: Mapping[str, str],
                          scripts: Mapping[str, str] | None = None) -> set[str]:
    """The first-party modules a command line runs (`uvicorn pkg.api:app`, `python app.py`), for a
    command that is not in a project file (an image's CMD), with their parent packages."""
    files = {rel: module for module, rel in module_files.items()}
    start: set[str] = set()
    for target, _detail in command_targets(list(words), scripts or {}):
        if target.kind == "glob":
            start.update(files[rel] for rel in glob_files(target.value, files))
        elif target.kind == "file":
            rel = resolve_file(target.value, "", files)
            if rel is not None:
                start.add(files[rel])
        elif target.value in module_files:
            start.add(target.value)
            if f"{target.value}.__main__" in module_files:
                start.add(f"{target.value}.__main__")
    for name in list(start):
        parts = name.split(".")
        start.update(".".join(parts[:k]) for k in range(1, len(parts)) if ".".join(parts[:k]) in module_files)
    return start
