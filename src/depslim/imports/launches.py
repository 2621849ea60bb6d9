"""Code that starts other code: what a module launches by command or imports by a computed name.

Reachability follows imports; a served process can also run `subprocess.run([sys.executable,
"scripts/load.py"])`, `os.system("python -m pkg.job")` or `importlib.import_module(name)`. The
first two are read here (literal arguments only, parsed with `ast`, never run) so their targets
become entrypoints too; a launch or an import whose target is computed at run time cannot be
followed, and says so — reachability is then incomplete, and whoever cuts by it must not.
"""

from __future__ import annotations

import ast
import shlex
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass

_SUBPROCESS_CALLS = frozenset({"run", "call", "check_call", "check_output", "Popen", "getoutput", "getstatusoutput"})
_OS_CALLS = frozenset({"system", "popen"})
_SPAWN_PREFIXES = ("spawn", "exec")
_DYNAMIC_IMPORTS = frozenset({"import_module", "__import__", "run_module", "run_path"})
PYTHON = "python3"  # what `sys.executable` stands for in a launched command


@dataclass(frozen=True)
class Launch:
    """One launch or dynamic import in a file.

    `words` is the command line (`sys.executable` as "python3"), or None when it is computed at
    run time; `kind` is `command`, `module` (runpy/importlib with a literal name: that module runs)
    or `file` (runpy.run_path with a literal path)."""

    line: int
    kind: str
    words: tuple[str, ...] | None
    pythonic: bool = False  # a computed launch that visibly starts Python (so its target is unknown code)
    end_line: int = 0  # the call's last line: a multi-line argument list belongs to it


def _name(node: ast.AST) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = _name(node.value)
        return f"{base}.{node.attr}" if base else node.attr
    return ""


def _is_executable(node: ast.AST) -> bool:
    return _name(node) in ("sys.executable", "executable")


def _word(node: ast.AST) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if _is_executable(node):
        return PYTHON
    return None


def _command(node: ast.AST) -> tuple[tuple[str, ...] | None, bool]:
    """A launched command as words (None when any part is computed), and whether it is Python."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        try:
            words = tuple(shlex.split(node.value))
        except ValueError:
            words = tuple(node.value.split())
        return words, bool(words) and "python" in words[0]
    if isinstance(node, (ast.List, ast.Tuple)):
        parts = [_word(elt) for elt in node.elts]
        pythonic = bool(node.elts) and (_is_executable(node.elts[0]) or "python" in (parts[0] or ""))
        if all(w is not None for w in parts):
            return tuple(w for w in parts if w is not None), pythonic
        return None, pythonic
    return None, _is_executable(node)


def _calls(tree: ast.AST) -> Iterator[ast.Call]:
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            yield node


def launches(source: bytes | str) -> list[Launch]:
    """Every launch and dynamic import in one module's source (empty when it does not parse)."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return []
    found: list[Launch] = []
    for call in _calls(tree):
        name = _name(call.func)
        leaf = name.rpartition(".")[2]
        first = call.args[0] if call.args else None
        if leaf in _SUBPROCESS_CALLS and ("subprocess" in name or name == leaf):
            if leaf in ("run", "call") and "." not in name:
                continue  # a bare run()/call() is someone else's function
            if first is not None:
                words, pythonic = _command(first)
                found.append(Launch(call.lineno, "command", words, pythonic, end_line=call.end_lineno or call.lineno))
        elif leaf in _OS_CALLS and name.startswith("os."):
            if first is not None:
                words, pythonic = _command(first)
                found.append(Launch(call.lineno, "command", words, pythonic, end_line=call.end_lineno or call.lineno))
        elif name.startswith("os.") and leaf.startswith(_SPAWN_PREFIXES) and len(call.args) >= 2:
            rest = call.args[1:] if leaf.startswith("exec") else call.args[2:]
            if rest and isinstance(rest[0], (ast.List, ast.Tuple)):  # execv/spawnv: argv as one sequence
                words, pythonic = _command(rest[0])
            else:  # execl/spawnl: argv as separate arguments
                items = [_word(arg) for arg in rest if not isinstance(arg, ast.Starred)]
                words = tuple(w for w in items if w is not None) if all(w is not None for w in items) else None
                pythonic = any("python" in (w or "") for w in items)
            found.append(Launch(call.lineno, "command", words, pythonic, end_line=call.end_lineno or call.lineno))
        elif leaf in _DYNAMIC_IMPORTS and (leaf == "__import__" or name.startswith(("importlib", "runpy"))
                                           or name == leaf):
            if first is None:
                continue
            literal = first.value if isinstance(first, ast.Constant) and isinstance(first.value, str) else None
            if literal is None:
                found.append(Launch(call.lineno, "module", None, True, end_line=call.end_lineno or call.lineno))
            elif leaf == "run_path":
                found.append(Launch(call.lineno, "file", (literal,), end_line=call.end_lineno or call.lineno))
            elif leaf in ("run_module", "import_module") or leaf == "__import__":
                found.append(Launch(call.lineno, "module", (literal,), end_line=call.end_lineno or call.lineno))
    return found


@dataclass(frozen=True)
class Followed:
    """Reachability after following launches: what it reaches, what was followed, what could not be."""

    modules: frozenset[str]
    followed: tuple[tuple[str, int, str], ...] = ()  # (file, line, what it starts)
    unknown: tuple[tuple[str, int, str], ...] = ()  # (file, line, why): computed targets
    commands: tuple[tuple[str, int, int, tuple[str, ...]], ...] = ()  # (file, line, end line, words) run by code


def follow(start: set[str], module_files: Mapping[str, str], edges: Callable[[Iterable[str]], frozenset[str]],
           read: Callable[[str], bytes | None]) -> Followed:
    """Reach from `start` over imports and over the launches of every reached module, to a fixpoint.

    `edges(start)` is the import reachability (ScanResult.reached_from_modules); `read(rel)` gives a
    project file's bytes. Only first-party targets matter: a launched `aws s3 cp` is a program, not code.
    """
    from depslim.imports.entrypoints import command_start_modules

    reached = edges(set(start))
    inspected: set[str] = set()
    followed: list[tuple[str, int, str]] = []
    unknown: list[tuple[str, int, str]] = []
    commands: list[tuple[str, int, int, tuple[str, ...]]] = []
    while True:
        new: set[str] = set()
        for module in sorted(reached - inspected):
            inspected.add(module)
            rel = module_files.get(module)
            data = read(rel) if rel else None
            if not data:
                continue
            for launch in launches(data):
                if launch.words is None:
                    if launch.pythonic:
                        what = "a computed module name" if launch.kind == "module" else "a computed Python command"
                        unknown.append((rel or "", launch.line, what))
                    continue
                if launch.kind == "command":
                    commands.append((rel or "", launch.line, launch.end_line or launch.line, launch.words))
                targets = _targets(launch, module_files, command_start_modules)
                if targets - reached:
                    followed.append((rel or "", launch.line, " ".join(launch.words)))
                new |= targets - reached
        if not new:
            return Followed(reached, tuple(followed), tuple(unknown), tuple(commands))
        reached = edges(reached | new)


def _targets(launch: Launch, module_files: Mapping[str, str],
             command_modules: Callable[[Sequence[str], Mapping[str, str]], set[str]]) -> set[str]:
    assert launch.words is not None
    if launch.kind == "command":
        return command_modules(launch.words, module_files)
    if launch.kind == "file":
        return command_modules([PYTHON, launch.words[0]], module_files)
    name = launch.words[0]
    return command_modules([PYTHON, "-m", name], module_files) if name in module_files else set()
