"""What the slim image copies from the project, each item with its evidence.

Only what the served entrypoint needs goes in: the first-party packages (whole, with their data
files) and modules it reaches, the files its code names in string literals ("models/churn.joblib",
relative to the project, to the importing file's folder or to the image's WORKDIR), and the files
the original Dockerfile copied by name (a `COPY . /app` copies everything and is exactly what is
being slimmed, so it is not repeated). Everything else stays out, and `depslim-slim.md` lists
the first-party modules left out with the entrypoints considered.

The project's `.dockerignore` gets depslim's entries merged in a marked block (the user's lines
are never touched), and an exception for any copied path the user's own rules would hide.
"""

from __future__ import annotations

import ast
import os
import posixpath
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from pathlib import Path

from depslim.dockerfile.parse import exec_form, parse_dockerfile
from depslim.errors import InputError
from depslim.model import Evidence, ScanResult
from depslim.slim.base import slim_data

BLOCK_START = "# >>> depslim slim: build-context entries (kept in sync by `depslim slim`; edit outside the block)"
BLOCK_END = "# <<< depslim slim"
MAX_LITERAL = 260  # longer string constants are text, not paths


@dataclass(frozen=True)
class CopyItem:
    source: str  # project-relative POSIX path (file or folder)
    dest: str  # absolute path in the image
    kind: str  # package | module | data | model | dockerfile-copy
    why: str
    evidence: tuple[Evidence, ...] = ()
    size_bytes: int = 0
    is_dir: bool = False


@dataclass(frozen=True)
class CopyPlan:
    items: tuple[CopyItem, ...]
    python_path: tuple[str, ...]  # absolute folders the copied code imports from
    left_out: tuple[str, ...] = ()  # first-party modules not copied (not reached)
    notes: tuple[str, ...] = field(default=())


def _size(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    total = 0
    for folder, dirs, files in os.walk(path):
        dirs[:] = [d for d in dirs if d not in ("__pycache__", ".git")]
        for name in files:
            try:
                total += os.lstat(os.path.join(folder, name)).st_size
            except OSError:
                continue
    return total


def code_root(module: str, rel: str) -> str:
    """The folder a module is imported from: `src/churn/serve.py` for `churn.serve` -> `src`."""
    stem = rel[:-3] if rel.endswith(".py") else rel
    parts = stem.split("/")
    if parts[-1] == "__init__":
        parts = parts[:-1]
    depth = len(module.split("."))
    return "/".join(parts[:-depth]) if len(parts) >= depth else ""


def _dest(workdir: str, rel: str) -> str:
    return posixpath.normpath(posixpath.join(workdir, rel)) if rel else workdir


def _literals(path: Path) -> list[tuple[str, int]]:
    """String constants of a module that could be paths (short, one line)."""
    try:
        tree = ast.parse(path.read_bytes(), filename=str(path))
    except (SyntaxError, ValueError, OSError, RecursionError, MemoryError):
        return []
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            value = node.value.strip()
            if 0 < len(value) <= MAX_LITERAL and "\n" not in value and value not in (".", "..", "/", "./"):
                found.append((value, node.lineno))
    return found


def _project_path(root: Path, candidate: str) -> str | None:
    """A project-relative POSIX path if `candidate` names something inside the project."""
    if candidate.startswith(("~", "$")) or "://" in candidate:
        return None
    try:
        full = (root / candidate).resolve()
        full.relative_to(root)
    except (ValueError, OSError, RuntimeError):
        return None
    if full == root or not full.exists():
        return None
    return full.relative_to(root).as_posix()


def _named_path(root: Path, text: str, here: str, workdir: str) -> str | None:
    """The project path a string names: relative to the project or to the naming file's folder, or
    absolute under the image's WORKDIR (`/app/models/m.pkl` is `models/m.pkl` here)."""
    if text.startswith("/"):
        prefix = workdir.rstrip("/") + "/"
        return _project_path(root, text[len(prefix):]) if text.startswith(prefix) else None
    return _project_path(root, text) or (_project_path(root, posixpath.join(here, text)) if here else None)


def _covered(rel: str, folders: Iterable[str]) -> bool:
    return any(rel == f or rel.startswith(f + "/") for f in folders)


def plan_copies(
    root: Path,
    scan: ScanResult,
    reached: frozenset[str] | None,
    workdir: str,
    dockerfile: Path | None,
    is_runtime_file: Callable[[str], bool],
    entry_files: Sequence[str] = (),
    named: Sequence[tuple[str, Evidence]] = (),
) -> CopyPlan:
    """Decide every COPY of the slim image. `reached` None: reachability unknown, so every
    first-party module of runtime code is copied (nothing is left out without evidence).

    `named` are strings the image's start-up carries (ENV values, command words) with where they come
    from: one that names a project file (`MODEL_PATH=/app/models/model.pkl`) is copied like a literal."""
    root = root.resolve()
    module_files = dict(scan.module_files)
    chosen = {m for m, rel in module_files.items() if is_runtime_file(rel)} if reached is None else set(reached)
    items: dict[str, CopyItem] = {}
    roots: dict[str, None] = {}
    for module in sorted(chosen):
        rel = module_files.get(module)
        if rel is None or not module:
            continue
        base = code_root(module, rel)
        roots.setdefault(base, None)
        top = module.split(".")[0]
        package_dir = posixpath.join(base, top) if base else top
        if (root / package_dir).is_dir():
            if package_dir not in items:
                items[package_dir] = CopyItem(package_dir, _dest(workdir, package_dir), "package",
                                              f"package {top}: the served code imports it",
                                              (Evidence(rel, 0, "reached", module),), _size(root / package_dir), True)
        elif rel not in items:
            items[rel] = CopyItem(rel, _dest(workdir, rel), "module", f"module {module}: the served code runs it",
                                  (Evidence(rel, 0, "reached", module),), _size(root / rel))
    for rel in entry_files:  # scripts run by path (`python app.py`) that are not importable modules
        if rel not in items and (root / rel).is_file() and not _covered(rel, [i.source for i in items.values()]):
            items[rel] = CopyItem(rel, _dest(workdir, rel), "module", "the entrypoint runs this file",
                                  (Evidence(rel, 0, "entrypoint", rel),), _size(root / rel))
    folders = [i.source for i in items.values() if i.is_dir]
    model_suffixes = tuple(slim_data()["copy"]["model_suffixes"])

    def add(target: str, why: str, evidence: Evidence, kind: str = "") -> None:
        is_dir = (root / target).is_dir()
        kind = kind or ("model" if target.lower().endswith(model_suffixes) else "data")
        items[target] = CopyItem(target, _dest(workdir, target), kind, why, (evidence,), _size(root / target), is_dir)
        if is_dir:
            folders.append(target)

    def fresh(target: str | None) -> bool:
        return target is not None and target not in items and not _covered(target, folders) and not _hidden(target)

    for module in sorted(chosen):
        rel = module_files.get(module)
        if rel is None:
            continue
        for literal, line in _literals(root / rel):
            target = _named_path(root, literal, posixpath.dirname(rel), workdir)
            if fresh(target):
                assert target is not None
                add(target, f"named in served code ({literal!r})", Evidence(rel, line, "literal", literal))
    for text, evidence in named:
        for word in text.replace("=", " ").replace(":", " ").split():
            target = _named_path(root, word, "", workdir)
            if fresh(target):
                assert target is not None
                add(target, f"named by the image's start-up ({word!r})", evidence)
    for pickled in scan.pickled:  # a runtime model file whose libraries are kept is loaded: it ships too
        target = pickled.location.path
        if is_runtime_file(target) and fresh(target):
            add(target, "model file whose pickled classes the image keeps", Evidence(target, 0, "model-file",
                                                                                      pickled.format), "model")
    notes: list[str] = []
    if dockerfile is not None and dockerfile.is_file():
        for source, ev in _dockerfile_copies(dockerfile, root):
            if source in items or _covered(source, folders) or _hidden(source):
                continue
            if source.endswith(".py") or ((root / source).is_dir() and _holds_code(root / source)):
                notes.append(f"{source}: copied by {ev.path}:{ev.line} but holds code no served entrypoint reaches; "
                             "not copied")
                continue
            is_dir = (root / source).is_dir()
            items[source] = CopyItem(source, _dest(workdir, source), "dockerfile-copy",
                                     f"copied by name in the original {ev.path}", (ev,), _size(root / source), is_dir)
            if is_dir:
                folders.append(source)
    python_path = tuple(_dest(workdir, r) for r in roots)
    left_out = tuple(sorted(m for m, rel in module_files.items() if m and m not in chosen and is_runtime_file(rel)))
    ordered = tuple(sorted(items.values(), key=lambda i: (i.kind not in ("package", "module"), i.source)))
    return CopyPlan(ordered, python_path, left_out, tuple(notes))


def _holds_code(folder: Path) -> bool:
    return any(folder.rglob("*.py"))


def _hidden(rel: str) -> bool:
    """Never copy VCS folders, caches or environments, even when code names them."""
    parts = rel.split("/")
    return any(fnmatchcase(p, pat) for p in parts for pat in (".git", ".venv", "venv", "__pycache__", ".env"))


def _dockerfile_copies(path: Path, root: Path) -> list[tuple[str, Evidence]]:
    """Sources the original Dockerfile copies from the build context by name (not `.` or globs)."""
    try:
        parsed = parse_dockerfile(path)
    except InputError:
        return []
    rel_file = path.relative_to(root).as_posix() if path.is_relative_to(root) else path.name
    found = []
    for stage in parsed.shipped():
        for ins in stage.instructions:
            if ins.keyword not in ("COPY", "ADD") or any(f.startswith("--from") for f in ins.flags):
                continue
            words = _copy_words(ins.args)
            for source in words[:-1]:
                clean = source.removeprefix("./").rstrip("/")
                if clean in ("", ".") or any(ch in clean for ch in "*?[$") or "://" in clean:
                    continue
                target = _project_path(root, clean)
                if target is not None:
                    found.append((target, Evidence(rel_file, ins.line, "dockerfile", f"{ins.keyword} {ins.args}")))
    return found


def _copy_words(args: str) -> list[str]:
    return exec_form(args) or args.split()


# --------------------------------------------------------------------------- .dockerignore


def _ignored(rel: str, patterns: Sequence[str]) -> bool:
    """Docker's rule: the last matching pattern decides (`!` re-includes); a folder pattern hides
    what is inside it."""
    decision = False
    parts = rel.split("/")
    prefixes = ["/".join(parts[: k + 1]) for k in range(len(parts))]
    for raw in patterns:
        pattern = raw.strip()
        if not pattern or pattern.startswith("#"):
            continue
        negate = pattern.startswith("!")
        pattern = pattern.lstrip("!").strip("/").removeprefix("./")
        if any(_match(pattern, prefix) for prefix in prefixes):
            decision = not negate
    return decision


def _match(pattern: str, path: str) -> bool:
    if "**" in pattern:
        regex = re.escape(pattern).replace(r"\*\*/", "(.*/)?").replace(r"\*\*", ".*").replace(r"\*", "[^/]*")
        regex = regex.replace(r"\?", "[^/]")
        return re.fullmatch(regex, path) is not None
    return fnmatchcase(path, pattern) and pattern.count("/") == path.count("/")


def merge_dockerignore(existing: str | None, copies: Sequence[CopyItem], extra_sources: Sequence[str]) -> str:
    """The project's .dockerignore with depslim's block (re)written; user lines untouched.

    `extra_sources` are other files the build needs (the lock): never ignored either."""
    lines = (existing or "").splitlines()
    user: list[str] = []
    inside = False
    for line in lines:
        if line.strip() == BLOCK_START:
            inside = True
            continue
        if line.strip() == BLOCK_END:
            inside = False
            continue
        if not inside:
            user.append(line)
    needed = [c.source for c in copies] + list(extra_sources)
    ours = [p for p in slim_data()["copy"]["dockerignore"] if not any(_ignored(n, [p]) for n in needed)]
    block = [BLOCK_START, *ours]
    for source in needed:
        if _ignored(source, [*user, *ours]):
            block.append(f"!{source}")
    block.append(BLOCK_END)
    while user and not user[-1].strip():
        user.pop()
    return "\n".join([*user, *([""] if user else []), *block]) + "\n"


