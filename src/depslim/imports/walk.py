"""Project file discovery: every `.py` and `.ipynb` the project owns, plus its run configs.

Honours `.gitignore` files at every level (and `.git/info/exclude`) with git's rules: last
matching pattern wins, `!` re-includes, a trailing `/` matches directories only, a pattern
with a slash is anchored to its file's directory, `**` spans directories, and nothing inside
an excluded directory can be re-included. Implemented here (about 80 lines) rather than adding
a dependency: the walk needs only matching, and per-directory compiled regexes keep it fast.

Skipped without asking: VCS folders, virtualenvs (any dir holding `pyvenv.cfg`, and the
bin/lib/include of a project that is one itself; conda envs holding `conda-meta`), `site-packages`,
`__pypackages__`, `node_modules`, `__pycache__`, tool caches, notebook checkpoints, and
`build/`/`dist/` unless they are Python packages themselves.

The same pass collects candidate model files (names ending with `model_suffixes`) under the same
rules, for `depslim.imports.pickles`. `find_files` walks with the same rules, to a bounded depth,
for other files the project owns (requirement files in sub-folders, `depslim.declared.detect`).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from depslim.imports.compose import is_compose_file
from depslim.inputfile import read_text

ALWAYS_SKIP = frozenset(
    {
        ".git", ".hg", ".svn", "__pycache__", "node_modules", "site-packages", "dist-packages",
        ".tox", ".nox", ".mypy_cache", ".pytest_cache", ".ruff_cache", ".ipynb_checkpoints", ".eggs",
        ".direnv", ".cache", "__pypackages__",
    }
)
BUILD_DIRS = frozenset({"build", "dist"})
ENV_MARKERS = ("pyvenv.cfg", "conda-meta")
# A project that is itself a virtualenv (`pyvenv.cfg` beside its code): the environment's own folders
# are the interpreter's, not the project's (a script in bin/ is an installed tool).
ENV_LAYOUT_DIRS = frozenset({"bin", "Scripts", "lib", "lib64", "include"})
RUN_CONFIGS = ("Procfile",)
MAX_SHELL_SCRIPTS = 200  # entrypoint scripts are few; a tree of thousands of .sh files is not read


def _is_dockerfile(name: str) -> bool:
    lower = name.lower()
    return (
        lower in ("dockerfile", "containerfile")
        or lower.startswith(("dockerfile.", "containerfile."))
        or lower.endswith(".dockerfile")
    )


@dataclass(frozen=True)
class WalkedFile:
    path: str  # absolute (a str: building 1,000s of Path objects shows in warm runs)
    rel: str  # project-relative POSIX
    mtime_ns: int
    size: int


@dataclass
class Walk:
    """What the walk found: sources to scan and files that say how the project runs."""

    sources: list[WalkedFile] = field(default_factory=list)  # .py and .ipynb, sorted by rel
    dockerfiles: list[str] = field(default_factory=list)  # project-relative
    procfiles: list[str] = field(default_factory=list)
    compose_files: list[str] = field(default_factory=list)  # docker-compose.yml: services' commands
    shell_scripts: list[str] = field(default_factory=list)  # *.sh: what an entrypoint script runs
    init_dirs: set[str] = field(default_factory=set)  # dirs holding __init__.py ("" = root)
    models: list[WalkedFile] = field(default_factory=list)  # candidate model files, sorted by rel


# --------------------------------------------------------------------------- gitignore


def _translate(pattern: str) -> str:
    """One gitignore glob (already stripped of `!`, anchoring and trailing `/`) -> regex."""
    out: list[str] = []
    i, n = 0, len(pattern)
    while i < n:
        ch = pattern[i]
        if ch == "*":
            if pattern.startswith("**", i):
                before_ok = i == 0 or pattern[i - 1] == "/"
                after = pattern[i + 2 : i + 3]
                if before_ok and after == "/":
                    out.append("(?:.*/)?")
                    i += 3
                    continue
                if before_ok and i + 2 == n:
                    out.append(".*")
                    i += 2
                    continue
            out.append("[^/]*")
        elif ch == "?":
            out.append("[^/]")
        elif ch == "[":
            close = pattern.find("]", i + 2 if pattern[i + 1 : i + 2] in ("!", "^") else i + 1)
            if close < 0:
                out.append(re.escape(ch))
            else:
                body = pattern[i + 1 : close]
                negate = body[:1] in ("!", "^")
                body = body[1:] if negate else body
                # inside a set, `\`, `[`, `&`, `~`, `|` are literal for git; escaped, Python's re
                # neither reads them as escapes nor warns of future set operations
                for special in "\\[&~|":
                    body = body.replace(special, "\\" + special)
                body = body.replace("--", "-\\-")
                out.append("[" + ("^" if negate else "") + body + "]")
                i = close
        elif ch == "\\" and i + 1 < n:
            i += 1
            out.append(re.escape(pattern[i]))
        else:
            out.append(re.escape(ch))
        i += 1
    return "".join(out)


@dataclass(frozen=True)
class IgnoreRules:
    """The rules of one ignore file, matched against paths relative to its directory.

    Alternatives are tried in reverse order so the first hit is git's "last matching rule".
    """

    files: re.Pattern[str] | None
    dirs: re.Pattern[str] | None
    files_negated: tuple[bool, ...]
    dirs_negated: tuple[bool, ...]

    @classmethod
    def parse(cls, lines: Iterable[str]) -> IgnoreRules | None:
        rules: list[tuple[str, bool, bool]] = []  # (regex, negated, dir_only)
        for raw in lines:
            line = raw.rstrip("\n").rstrip("\r")
            if not line or line.startswith("#"):
                continue
            while line.endswith(" ") and not line.endswith("\\ "):
                line = line[:-1]
            negated = line.startswith("!")
            if negated or line.startswith("\\!") or line.startswith("\\#"):
                line = line[1:]
            dir_only = line.endswith("/")
            line = line.rstrip("/")
            if not line:
                continue
            anchored = "/" in line
            line = line.lstrip("/")
            body = _translate(line)
            regex = body if anchored else f"(?:.*/)?{body}"
            try:
                re.compile(regex)
            except re.error:  # `[z-a]`: git's wildmatch matches nothing with it, so neither do we
                continue
            rules.append((regex, negated, dir_only))
        if not rules:
            return None
        rules.reverse()
        file_rules = [r for r in rules if not r[2]]

        def build(selected: list[tuple[str, bool, bool]]) -> re.Pattern[str] | None:
            if not selected:
                return None
            return re.compile("(?:" + "|".join(f"({rx})" for rx, _, _ in selected) + r")\Z")

        return cls(
            files=build(file_rules),
            dirs=build(rules),
            files_negated=tuple(r[1] for r in file_rules),
            dirs_negated=tuple(r[1] for r in rules),
        )

    def verdict(self, rel: str, is_dir: bool) -> bool | None:
        """True = ignored, False = re-included, None = no rule matches."""
        regex, negated = (self.dirs, self.dirs_negated) if is_dir else (self.files, self.files_negated)
        if regex is None:
            return None
        match = regex.match(rel)
        if match is None:
            return None
        assert match.lastindex is not None  # every alternative of the combined regex is one group
        return not negated[match.lastindex - 1]


def _read_rules(path: Path) -> IgnoreRules | None:
    try:
        return IgnoreRules.parse(read_text(path, errors="replace").splitlines())
    except OSError:
        return None


# --------------------------------------------------------------------------- walk


def walk_project(root: Path, exclude: Sequence[str] = (), model_suffixes: tuple[str, ...] = ()) -> Walk:
    """Find the project's sources (and files whose lower-cased name ends with one of
    `model_suffixes`); never follows symlinked directories (no loops, no escape)."""
    root = root.resolve()
    found = Walk()
    base_rules: list[tuple[str, IgnoreRules]] = []
    info_exclude = _read_rules(root / ".git" / "info" / "exclude")
    if info_exclude is not None:
        base_rules.append(("", info_exclude))
    user = IgnoreRules.parse(exclude) if exclude else None
    _walk_dir(str(root), "", base_rules, user, found, model_suffixes)
    found.sources.sort(key=lambda f: f.rel)
    found.models.sort(key=lambda f: f.rel)
    found.dockerfiles.sort()
    found.procfiles.sort()
    found.compose_files.sort()
    found.shell_scripts.sort()
    return found


def _ignored(stack: Sequence[tuple[str, IgnoreRules]], user: IgnoreRules | None, rel: str, is_dir: bool) -> bool:
    if user is not None and user.verdict(rel, is_dir):
        return True
    for base, rules in reversed(stack):
        sub = rel[len(base) + 1 :] if base else rel
        verdict = rules.verdict(sub, is_dir)
        if verdict is not None:
            return verdict
    return False


def _list_dir(
    directory: str, rel_dir: str, stack: list[tuple[str, IgnoreRules]]
) -> tuple[list[os.DirEntry[str]], set[str], list[tuple[str, IgnoreRules]]] | None:
    """A folder's entries, their names and the ignore rules in force inside it; None for an
    unreadable folder or an environment (a virtualenv or conda env inside the project)."""
    try:
        entries = list(os.scandir(directory))
    except OSError:
        return None
    names = {entry.name for entry in entries}
    if rel_dir and any(marker in names for marker in ENV_MARKERS):
        return None
    if ".gitignore" in names:
        rules = _read_rules(Path(directory) / ".gitignore")
        if rules is not None:
            stack = [*stack, (rel_dir, rules)]
    return entries, names, stack


def _enters(
    entry: os.DirEntry[str], rel: str, stack: Sequence[tuple[str, IgnoreRules]], user: IgnoreRules | None
) -> bool:
    """Is this sub-folder the project's own (not a tool's, a vendored tree, a build output or ignored)?"""
    name = entry.name
    if name in ALWAYS_SKIP or name.endswith(".egg-info"):
        return False
    if name in BUILD_DIRS and not os.path.exists(os.path.join(entry.path, "__init__.py")):
        return False
    if name in ENV_LAYOUT_DIRS and os.path.exists(os.path.join(os.path.dirname(entry.path), "pyvenv.cfg")):
        return False
    return not _ignored(stack, user, rel, True)


def find_files(root: Path, wanted: Callable[[str, str], bool], max_depth: int) -> list[str]:
    """Project-relative paths of the files `wanted(rel_dir, name)` accepts in the folders at most
    `max_depth` below `root` (the root is depth 0), under the source walk's rules: .gitignore
    files and .git/info/exclude, no virtualenv or conda env, no vendored or tool folder
    (`__pypackages__`, `site-packages`, `node_modules`, ...), no build output. Never follows a
    symlinked folder. Sorted."""
    root = root.resolve()
    stack: list[tuple[str, IgnoreRules]] = []
    info_exclude = _read_rules(root / ".git" / "info" / "exclude")
    if info_exclude is not None:
        stack.append(("", info_exclude))
    found: list[str] = []
    todo: list[tuple[str, str, list[tuple[str, IgnoreRules]], int]] = [(str(root), "", stack, 0)]
    while todo:
        directory, rel_dir, rules, depth = todo.pop()
        listed = _list_dir(directory, rel_dir, rules)
        if listed is None:
            continue
        entries, _names, rules = listed
        for entry in entries:
            rel = f"{rel_dir}/{entry.name}" if rel_dir else entry.name
            try:
                if entry.is_dir(follow_symlinks=False):
                    if depth < max_depth and _enters(entry, rel, rules, None):
                        todo.append((entry.path, rel, rules, depth + 1))
                elif entry.is_file() and wanted(rel_dir, entry.name) and not _ignored(rules, None, rel, False):
                    found.append(rel)
            except OSError:
                continue
    return sorted(found)


def _walk_dir(
    directory: str,
    rel_dir: str,
    stack: list[tuple[str, IgnoreRules]],
    user: IgnoreRules | None,
    found: Walk,
    model_suffixes: tuple[str, ...] = (),
) -> None:
    listed = _list_dir(directory, rel_dir, stack)
    if listed is None:
        return
    entries, names, stack = listed
    if "__init__.py" in names:
        found.init_dirs.add(rel_dir)
    for entry in entries:
        name = entry.name
        rel = f"{rel_dir}/{name}" if rel_dir else name
        try:
            if entry.is_dir(follow_symlinks=False):
                if _enters(entry, rel, stack, user):
                    _walk_dir(entry.path, rel, stack, user, found, model_suffixes)
                continue
            if not entry.is_file():
                continue
        except OSError:
            continue
        if name.endswith((".py", ".ipynb")):
            if _ignored(stack, user, rel, False):
                continue
            try:
                stat = entry.stat()
            except OSError:
                continue
            found.sources.append(WalkedFile(entry.path, rel, stat.st_mtime_ns, stat.st_size))
        elif _is_dockerfile(name):
            if not _ignored(stack, user, rel, False):
                found.dockerfiles.append(rel)
        elif name in RUN_CONFIGS and not _ignored(stack, user, rel, False):
            found.procfiles.append(rel)
        elif is_compose_file(name) and not _ignored(stack, user, rel, False):
            found.compose_files.append(rel)
        elif name.endswith(".sh") and len(found.shell_scripts) < MAX_SHELL_SCRIPTS \
                and not _ignored(stack, user, rel, False):
            found.shell_scripts.append(rel)
        elif model_suffixes and name.lower().endswith(model_suffixes) and not _ignored(stack, user, rel, False):
            try:
                stat = entry.stat()
            except OSError:
                continue
            found.models.append(WalkedFile(entry.path, rel, stat.st_mtime_ns, stat.st_size))
