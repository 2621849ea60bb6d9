"""Dockerfile structure: stages, instructions with 1-based lines, and RUN commands as argv lists.

`dockerfile-parse` does the Dockerfile grammar (continuations, comments, instruction values);
shell commands inside RUN are tokenised with `shlex` (POSIX rules, `&&`/`;`/`|` as operators),
never with regexes over the whole file.
"""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass, field
from pathlib import Path

from dockerfile_parse import DockerfileParser

from depslim.errors import InputError
from depslim.inputfile import read_bytes

OPERATORS = {"&&", "||", ";", "|", "&", ";;", "(", ")", "|&"}


@dataclass(frozen=True)
class Instruction:
    keyword: str  # upper-case: FROM, RUN, COPY, ...
    value: str
    line: int  # 1-based start line
    flags: tuple[str, ...] = ()  # leading --flags (RUN --mount=..., COPY --from=...)
    args: str = ""  # value without the leading flags

    @property
    def text(self) -> str:
        return f"{self.keyword} {self.value}"


@dataclass
class Stage:
    index: int
    base: str
    alias: str | None
    line: int
    instructions: list[Instruction] = field(default_factory=list)
    parent: int | None = None  # index of the stage this one is built FROM

    @property
    def name(self) -> str:
        return self.alias or str(self.index)


@dataclass
class Dockerfile:
    path: Path
    stages: list[Stage]
    preamble: list[Instruction]  # ARGs before the first FROM

    @property
    def final(self) -> Stage:
        return self.stages[-1]

    def shipped(self) -> list[Stage]:
        """The final stage and the stages it is built FROM: their layers are the image."""
        chain, stage = [], self.stages[-1] if self.stages else None
        while stage is not None:
            chain.append(stage)
            stage = self.stages[stage.parent] if stage.parent is not None else None
        return list(reversed(chain))

    def env(self, stage: Stage, upto_line: int) -> dict[str, str]:
        """ENV in effect at a line: inherited from parent stages, then this stage's earlier ENVs."""
        env: dict[str, str] = {}
        chain = []
        current: Stage | None = stage
        while current is not None:
            chain.append(current)
            current = self.stages[current.parent] if current.parent is not None else None
        for st in reversed(chain):
            for ins in st.instructions:
                if st is stage and ins.line >= upto_line:
                    break
                if ins.keyword == "ENV":
                    env.update(parse_env(ins.args))
        return env


def _split_flags(value: str) -> tuple[tuple[str, ...], str]:
    flags = []
    rest = value.lstrip()
    while rest.startswith("--"):
        token, _, rest = rest.partition(" ")
        flags.append(token)
        rest = rest.lstrip()
    return tuple(flags), rest


def parse_env(args: str) -> dict[str, str]:
    """`ENV A=1 B="x y"` and legacy `ENV A 1`."""
    try:
        tokens = shlex.split(args, posix=True)
    except ValueError:
        tokens = args.split()
    if not tokens:
        return {}
    if "=" not in tokens[0]:
        return {tokens[0]: " ".join(tokens[1:])}
    out = {}
    for token in tokens:
        key, _, val = token.partition("=")
        out[key] = val
    return out


def parse_dockerfile(path: Path) -> Dockerfile:
    try:
        content = read_bytes(path)
    except OSError as exc:
        raise InputError(path, f"cannot read Dockerfile: {exc.strerror or exc}") from None
    import io

    try:
        parser = DockerfileParser(fileobj=io.BytesIO(content), env_replace=False)
        structure = parser.structure
    except Exception as exc:  # dockerfile-parse raises plain exceptions on broken input
        raise InputError(path, f"cannot parse Dockerfile: {exc}") from None
    stages: list[Stage] = []
    preamble: list[Instruction] = []
    aliases: dict[str, int] = {}
    for item in structure:
        keyword = str(item["instruction"]).upper()
        if keyword == "COMMENT":
            continue
        flags, args = _split_flags(str(item["value"]))
        ins = Instruction(keyword, str(item["value"]), int(item["startline"]) + 1, flags, args)
        if keyword == "FROM":
            parts = args.split()
            if not parts:
                raise InputError(path, "FROM without an image", ins.line)
            base = parts[0]
            alias = parts[2] if len(parts) >= 3 and parts[1].lower() == "as" else None
            parent = aliases.get(base.lower())
            if parent is None and base.isascii() and base.isdigit() and int(base) < len(stages):
                parent = int(base)
            stage = Stage(len(stages), base, alias, ins.line, [], parent)
            stages.append(stage)
            if alias:
                aliases[alias.lower()] = stage.index
        elif stages:
            stages[-1].instructions.append(ins)
        else:
            preamble.append(ins)
    if not stages:
        raise InputError(path, "no FROM instruction: not a Dockerfile")
    return Dockerfile(path, stages, preamble)


def exec_form(value: str) -> list[str] | None:
    """An instruction value in exec form (a JSON array of strings) as argv; None for shell form."""
    text = value.strip()
    if not text.startswith("["):
        return None
    try:
        argv = json.loads(text)
    except (json.JSONDecodeError, RecursionError):
        return None
    return argv if isinstance(argv, list) and all(isinstance(a, str) for a in argv) else None


def run_commands(ins: Instruction) -> list[list[str]]:
    """The simple commands of a RUN (shell or exec form), each an argv list."""
    argv = exec_form(ins.args)
    if argv is not None:
        if argv[:2] in (["/bin/sh", "-c"], ["sh", "-c"], ["bash", "-c"], ["/bin/bash", "-c"]):
            return split_shell(" ".join(argv[2:]))
        return [argv]
    return split_shell(ins.args.strip())


def split_shell(script: str) -> list[list[str]]:
    lexer = shlex.shlex(script, posix=True, punctuation_chars=";&|()")
    lexer.whitespace_split = True
    lexer.commenters = ""
    commands: list[list[str]] = []
    current: list[str] = []
    try:
        tokens = list(lexer)
    except ValueError:  # unbalanced quotes: fall back to whitespace
        tokens = script.split()
    for token in tokens:
        if token in OPERATORS:
            if current:
                commands.append(current)
            current = []
        else:
            current.append(token)
    if current:
        commands.append(current)
    return [_strip_prefix(c) for c in commands if _strip_prefix(c)]


def _strip_prefix(argv: list[str]) -> list[str]:
    """Drop `VAR=x` assignments, `sudo`, `env`, `time`, `exec` before the real command."""
    i = 0
    while i < len(argv) and (("=" in argv[i] and not argv[i].startswith("-") and argv[i].split("=")[0].isidentifier())
                             or argv[i] in ("sudo", "env", "time", "exec", "nohup")):
        i += 1
    return argv[i:]


def pip_install_args(argv: list[str]) -> tuple[str, list[str]] | None:
    """(tool, args after `install`) for pip / pip3 / python -m pip / uv pip install."""
    if not argv:
        return None
    cmd = Path(argv[0]).name
    rest: list[str] | None = None
    if cmd.startswith("pip") and (cmd[3:] == "" or cmd[3:].replace(".", "").isdigit()):
        rest, tool = argv[1:], "pip"
    elif cmd.startswith("python") and len(argv) > 2 and argv[1] == "-m" and argv[2] in ("pip", "pip3"):
        rest, tool = argv[3:], "pip"
    elif cmd == "uv" and len(argv) > 1 and argv[1] == "pip":
        rest, tool = argv[2:], "uv"
    else:
        return None
    words = [a for a in rest if not a.startswith("-")]
    if not words or words[0] != "install":
        return None
    return tool, rest[rest.index("install") + 1 :]


def apt_install_args(argv: list[str]) -> tuple[list[str], list[str]] | None:
    """(options, packages) of `apt-get install` / `apt install`; None for other commands."""
    if not argv or Path(argv[0]).name not in ("apt-get", "apt"):
        return None
    words = [a for a in argv[1:] if not a.startswith("-")]
    if not words or words[0] != "install":
        return None
    after = argv[argv.index("install") + 1 :]
    options = [a for a in argv[1:] if a.startswith("-")]
    return options, [a for a in after if not a.startswith("-")]
