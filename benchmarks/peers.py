"""The peers' own expectations, scored against depslim: FawltyDeps' sample and real projects, deptry's
functional cases.

Each peer ships what it expects of itself as data: FawltyDeps an `expected.toml` per sample project and a
TOML file per real project (experiments with `undeclared_deps`, `unused_deps`, `imports`, `declared_deps`
and the settings they run with), deptry its functional tests (a fixture project, the command line, the
issues it must print: DEP001 missing, DEP002 unused, DEP003 transitive, DEP004 dev dependency imported at
runtime, DEP005 standard library declared). This harness reads those formats, rebuilds the environment each
expectation was written against (FawltyDeps: the experiment's `requirements` installed with `--no-deps`;
deptry: the fixture copied and installed with the test's own setup command), runs
`depslim analyze --format json` there and scores every expected or reported name:

- **match**: depslim reports what the peer expects (an empty expectation met counts once);
- **depslim-better**: the peer's expectation records the peer's own false positive or miss, and depslim's
  evidence shows why (a first-party module, an import mapped to the declared distribution, an implicit need);
- **by-design**: depslim differs on purpose; the reason is one of `DESIGN` below, each stated in the README;
- **depslim-worse**: anything else.

Nothing here names a project: every folder comes from the command line, every rule reads depslim's
evidence. Peers and projects are fetched by the caller into a scratch folder, never committed:

    python benchmarks/peers.py \\
        --fawltydeps FD/tests --fawltydeps-settings FD/fawltydeps/settings.py \\
        --fawltydeps-real-projects DIR  `# DIR/<real project toml stem>/: the unpacked project` \\
        --deptry DEPTRY/tests --work /tmp/peers -o peers.md

Mapping of the peers' words: FawltyDeps' undeclared = depslim's missing | undeclared | transitive | optional
import findings (by module), unused = verdict `unused`; deptry's DEP001 = those findings whose distribution
is not installed, DEP003 = installed, DEP002 = the cut list's `cut-unused`, DEP004 = `misplaced-dev`, DEP005
= a `cut-unused` distribution named like a standard-library module. A peer's option is passed as depslim's
equivalent (code/source paths and excludes become `--exclude`, requirement files `-r`); output-only options
are ignored; suppressions (ignore lists, inline comments) are read so that what they hide is scored by-design.
"""

from __future__ import annotations

import argparse
import ast
import fnmatch
import hashlib
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from packaging.utils import canonicalize_name

from depslim.imports.walk import IgnoreRules, walk_project

MATCH, BETTER, WORSE, DESIGN_ = "match", "depslim-better", "depslim-worse", "by-design"
OUTCOMES = (MATCH, BETTER, WORSE, DESIGN_)

# Why depslim differs on purpose: each one is a stated design choice (README, "depslim and its peers").
DESIGN = {
    "dev-code": "imports in tests, docs, scripts, notebooks and setup.py are dev code: an undeclared one is no "
                "import problem (it never ships); the imports table lists it with its context",
    "typing-only": "an import only under `if TYPE_CHECKING:` is no runtime need",
    "required-by": "a declared package another runtime package requires is `implicit`, not unused: cutting it "
                   "frees nothing",
    "dev-tool": "a known dev tool declared for runtime is `dev-only` (move it to the dev requirements), not `unused`",
    "suppressed": "the peer's own suppression (config, CLI flag, inline comment, built-in ignore list): depslim "
                  "reads no other tool's suppressions",
    "hidden": "hidden files and folders are project code unless .gitignore'd or excluded (`COPY . .` ships them)",
    "gitignore": "a .gitignore'd file is never project code, whatever other options say",
    "undeclared-dev": "a package declared nowhere is not a cut; dev-declared packages nothing imports are "
                      "reported (verdict `unused`) but never on the runtime cut list",
    "self": "the project's own distribution, declared in its own requirements, is the project, not a dependency",
    "layout": "an import resolves to the project the way Python 3 resolves it: from the layout's roots (the root, "
              "src/, declared package folders) or a script's own non-package folder; inside a package a module of "
              "the same name does not hide the distribution (proj/celery.py next to `import celery`), and a module "
              "elsewhere in the tree (reached through sys.path edits, another working directory or --base-dir) is "
              "reported `missing` with its line, never assumed first-party",
    "dot-ignore": "only .gitignore and .git/info/exclude (and --exclude) take files out of the project; a "
                  "ripgrep-style `.ignore` file is not read",
    "groups": "which declarations are dev is depslim's rule: extras named dev/test/docs/lint/typing and every "
              "dependency group but main/runtime/prod; the peer's own group settings (or defaults) are not read",
    "no-install": "import names are mapped from the target's RECORDs and depslim's packaged index; nothing is "
                  "installed to find out",
    "conda-not-python": "a conda package that is no Python distribution (a binary, a C library) is no Python "
                        "dependency: it gets no verdict",
    "setuptools-invalid": "a declaration setuptools itself would not read (setup.cfg `[options] extras_require = "
                          "x` instead of an `[options.extras_require]` section) is not read either; a warning says so",
}
BETTER_WHY = {
    "first-party": "a module of the project itself (sibling, sub-folder or sys.path-extended), not a dependency",
    "mapped": "the import maps to a declared distribution (installed RECORD or depslim's import-name index)",
    "imported": "depslim maps an import to it: it is used",
    "implicit": "needed without an import (implicit need)",
    "dynamic": "a dynamic import with a literal name",
    "declaration": "a declaration the peer does not read (depslim shows its file:line)",
    "standard-library module": "a standard-library module",
}

IMPORT_FINDINGS = ("missing", "undeclared", "transitive", "optional")
MODULE_CATEGORIES = frozenset({"imports", "undeclared", "DEP001", "DEP003", "DEP004"})
DEP_FINDING_CODES = {"DEP001": "missing", "DEP002": "unused", "DEP003": "transitive", "DEP004": "misplaced-dev",
                     "DEP005": "stdlib declared"}
SOURCE_SUFFIXES = (".py", ".ipynb")
DECLARATION_NAMES = ("pyproject.toml", "setup.cfg", "setup.py", "Pipfile", "pixi.toml", "environment.yml",
                     "environment.yaml")


def norm(category: str, name: str) -> str:
    return name if category in MODULE_CATEGORIES else canonicalize_name(name)


# --------------------------------------------------------------------------- cases


@dataclass(frozen=True)
class EnvSpec:
    """The environment an expectation was written against: packages installed `--no-deps`, or a
    copy of `source` set up with the peer's own command (run inside the copy)."""

    packages: tuple[str, ...] = ()
    command: str = ""
    source: str = ""

    def key(self) -> str:
        return hashlib.sha256(json.dumps([self.packages, self.command, self.source]).encode()).hexdigest()[:16]


@dataclass
class Suppressions:
    codes: set[str] = field(default_factory=set)  # whole categories off
    names: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))  # category → fnmatch patterns
    inline_marker: str = ""  # a comment that suppresses codes on its line (deptry: "deptry: ignore")

    def hides(self, category: str, name: str) -> bool:
        if category in self.codes:
            return True
        return any(fnmatch.fnmatchcase(norm(category, name), norm(category, p)) for p in self.names.get(category, ()))


@dataclass
class Case:
    peer: str
    name: str
    project: Path  # the folder the peer ran in (declarations and code)
    expected: dict[str, set[str]]
    analyse: str = ""  # sub-folder depslim analyses instead of the project root ("" = the root)
    env: EnvSpec = field(default_factory=EnvSpec)
    code: tuple[str, ...] = ("",)  # code paths the peer scanned, relative to the project
    excludes: tuple[str, ...] = ()  # gitignore patterns from the peer's options
    requirement_files: tuple[str, ...] = ()  # declaration files named by the peer's options
    suppressed: Suppressions = field(default_factory=Suppressions)
    locations: dict[tuple[str, str], set[str]] = field(default_factory=dict)  # (category, name) → files
    notes: list[str] = field(default_factory=list)
    skip: str = ""
    tests: list[str] = field(default_factory=list)
    installs_declared: bool = False  # the peer installs declared packages to learn their import names
    peer_groups: bool = False  # the peer's config says which declaration groups are dev

    def signature(self) -> str:
        sup = (sorted(self.suppressed.codes), sorted((k, sorted(v)) for k, v in self.suppressed.names.items()))
        exp = sorted((k, sorted(v)) for k, v in self.expected.items())
        return json.dumps([self.peer, str(self.project), self.analyse, self.env.key(), self.code, self.excludes,
                           self.requirement_files, sup, exp, self.skip])


# --------------------------------------------------------------------------- FawltyDeps


FD_COMPAT = {"LINUX": {"linux"}, "MACOS": {"darwin"}, "WINDOWS": {"win32"}, "POSIX": {"linux", "darwin"}}


def fd_default_ignore_unused(settings_py: Path | None) -> set[str]:
    """FawltyDeps' built-in `DEFAULT_IGNORE_UNUSED`, read from its settings.py (never imported)."""
    if settings_py is None:
        return set()
    tree = ast.parse(settings_py.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "DEFAULT_IGNORE_UNUSED"
                                                for t in node.targets):
            return {str(v) for v in ast.literal_eval(node.value)}
    return set()


def fd_tool_config(path: Path) -> dict[str, Any]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError):
        return {}
    tool = data.get("tool", {}).get("fawltydeps", {})
    return tool if isinstance(tool, dict) else {}


def fd_parse_args(args: Sequence[str], toml_dir: Path) -> tuple[dict[str, Any], list[str], str]:
    """A real-project experiment's command line → settings, notes, and an unmapped option ("" if none)."""
    settings: dict[str, Any] = {}
    notes: list[str] = []
    words = [a.replace("$REAL_PROJECTS_DIR", str(toml_dir)) for a in args]
    i = 0
    while i < len(words):
        word = words[i]
        key, _, value = word.partition("=")
        takes = key in ("--exclude", "--config-file", "--code", "--deps", "--ignore-unused", "--ignore-undeclared")
        if takes and not value:
            i += 1
            value = words[i] if i < len(words) else ""
        if key == "--exclude":
            settings.setdefault("exclude", []).append(value)
        elif key == "--config-file":
            settings["config_file"] = value
            notes.append(f"peer config {Path(value).name} read for its settings")
        elif key in ("--code", "--deps", "--ignore-unused", "--ignore-undeclared"):
            settings.setdefault(key[2:].replace("-", "_"), []).append(value)
        elif key in ("--json", "--detailed", "--summary", "-v", "-q"):
            pass
        else:
            return settings, notes, word
        i += 1
    return settings, notes, ""


def fd_case(peer: str, project: Path, name: str, table: Mapping[str, Any], project_table: Mapping[str, Any],
            default_ignore: set[str], cli: Mapping[str, Any] | None = None) -> Case:
    compat = table.get("compatibility") or project_table.get("compatibility")
    expected = {cat: set(table[key]) for key, cat in (("imports", "imports"), ("declared_deps", "declared"),
                ("undeclared_deps", "undeclared"), ("unused_deps", "unused")) if key in table}
    case = Case(peer=peer, name=name, project=project, expected=expected)
    if compat and not any(sys.platform in FD_COMPAT.get(c, set()) for c in str(compat).split("|")):
        case.skip = f"peer marks it {compat}-only"
        return case
    cli = dict(cli or {})
    config_file = Path(cli.pop("config_file")) if "config_file" in cli else project / "pyproject.toml"
    settings: dict[str, Any] = {"ignore_unused": sorted(default_ignore)}
    settings.update(fd_tool_config(config_file))
    for key in ("code", "deps", "exclude", "exclude_from", "pyenvs", "install_deps", "base_dir"):
        if key in table:
            settings[key] = table[key]
    settings.update(cli)
    code = [str(c) for c in settings.get("code", [""])] or [""]
    deps = [str(d) for d in settings.get("deps", [""])] or [""]
    for rel in settings.get("exclude_from", []):  # the files' patterns first: --exclude's come last and win
        lines = (project / rel).read_text(encoding="utf-8").splitlines()
        case.excludes += tuple(line for line in lines if line.strip() and not line.startswith("#"))
        case.notes.append(f"exclude_from {rel}")
    if "exclude" in settings:
        case.excludes += tuple(settings["exclude"])
        case.notes.append(f"--exclude {' '.join(settings['exclude']) or '(none)'}")
    case.installs_declared = bool(settings.get("install_deps"))
    for key, note in (("base_dir", "base_dir (depslim finds first-party modules itself)"),
                      ("pyenvs", "pyenvs (depslim measures the experiment's venv)"),
                      ("install_deps", "install_deps (depslim maps names from its packaged index)")):
        if key in settings:
            case.notes.append(f"ignored {note}")
    if len(code) == 1 and code == deps and code[0] and (project / code[0]).is_dir():
        case.analyse = code[0]
    else:
        case.code = tuple(code)
        files = [d for d in deps if d and (project / d).is_file()]
        dirs = [d for d in deps if d == "" or (project / d).is_dir()]
        if deps != [""]:
            named = [str(Path(d, n)) for d in dirs for n in DECLARATION_NAMES if (project / d / n).is_file()]
            named += [str(p.relative_to(project)) for d in dirs if d for p in (project / d).glob("requirements*.txt")]
            case.requirement_files = tuple(sorted({*files, *named}))
    case.suppressed.names["unused"] |= set(settings.get("ignore_unused", []))
    case.suppressed.names["undeclared"] |= set(settings.get("ignore_undeclared", []))
    case.env = EnvSpec(packages=tuple(table.get("requirements", [])))
    return case


def fawltydeps_cases(tests: Path, real_projects: Path | None, settings_py: Path | None) -> Iterator[Case]:
    default_ignore = fd_default_ignore_unused(settings_py)
    samples = tests / "sample_projects"
    for toml in sorted(samples.glob("*/expected.toml")):
        data = tomllib.loads(toml.read_text(encoding="utf-8"))
        for exp_name, table in data.get("experiments", {}).items():
            yield fd_case("FawltyDeps samples", toml.parent, f"{toml.parent.name}/{exp_name}", table,
                          data.get("project", {}), default_ignore)
    real = tests / "real_projects"
    for toml in sorted(real.glob("*.toml")):
        data = tomllib.loads(toml.read_text(encoding="utf-8"))
        project = (real_projects / toml.stem) if real_projects else Path("/nonexistent")
        for exp_name, table in data.get("experiments", {}).items():
            name = f"{toml.stem}/{exp_name}"
            cli, notes, unmapped = fd_parse_args(table.get("args", []), real)
            case = fd_case("FawltyDeps real", project, name, table, data.get("project", {}), default_ignore, cli)
            case.notes[:0] = notes
            if not project.is_dir():
                case.skip = "project not fetched (pass --fawltydeps-real-projects)"
            elif unmapped:
                case.skip = f"peer option {unmapped} has no depslim equivalent"
            yield case


# --------------------------------------------------------------------------- deptry


ISSUE_LINE = re.compile(r"^(?P<file>[^\s:][^:]*?)(?::\d+:\d+)?: (?P<code>DEP\d{3}) '(?P<name>[^']+)'", re.M)
ANSI = re.compile(r"\x1b\[[0-9;]*m")
DEPTRY_OUTPUT_ONLY = {"--no-ansi", "--enforce-posix-paths", "--github-output", "-v", "--verbose",
                      "--experimental-namespace-package"}
DEPTRY_OUTPUT_VALUE = {"-o", "--json-output", "--github-warning-errors"}
DEPTRY_DEFAULT_DEV_FILES = ("dev-requirements.txt", "requirements-dev.txt")


def _string(node: ast.AST | None) -> str | None:
    """A string literal, or an f-string with its substitutions as `{}`."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(v.value if isinstance(v, ast.Constant) else "{}" for v in node.values)  # type: ignore[misc]
    return None


def deptry_factories(tests: Path) -> dict[str, tuple[str, bool]]:
    """fixture name → (setup command, runs as `python -m`), from the peer's conftest.py and utils.py."""
    classes: dict[str, tuple[str, bool]] = {}
    utils = ast.parse((tests / "utils.py").read_text(encoding="utf-8"))
    for cls in (n for n in utils.body if isinstance(n, ast.ClassDef)):
        as_module = True
        command = ""
        for node in ast.walk(cls):
            targets = [node.target] if isinstance(node, ast.AnnAssign) else node.targets \
                if isinstance(node, ast.Assign) else []
            if any(isinstance(t, ast.Name) and t.id == "has_cli_in_venv" for t in targets) \
                    and isinstance(node.value, ast.Constant):  # type: ignore[union-attr]
                as_module = bool(node.value.value)  # type: ignore[union-attr]
            if isinstance(node, ast.FunctionDef) and node.name == "__call__":
                defaults = dict(zip([a.arg for a in node.args.args][-len(node.args.defaults):] if node.args.defaults
                                    else [], node.args.defaults, strict=False))
                for call in (c for c in ast.walk(node) if isinstance(c, ast.Call)):
                    if isinstance(call.func, ast.Attribute) and call.func.attr == "venv" and len(call.args) == 2:
                        arg = call.args[1]
                        text = _string(arg)
                        if text is None and isinstance(arg, ast.Name):
                            text = _string(defaults.get(arg.id))
                        command = text or ""
        if command:
            classes[cls.name] = (command, as_module)
    fixtures: dict[str, tuple[str, bool]] = {}
    conftest = ast.parse((tests / "functional" / "conftest.py").read_text(encoding="utf-8"))
    for fn in (n for n in conftest.body if isinstance(n, ast.FunctionDef)):
        returns = fn.returns
        name = returns.id if isinstance(returns, ast.Name) else _string(returns) or ""
        if name in classes:
            fixtures[fn.name] = classes[name]
    return fixtures


def deptry_projects(tests: Path) -> dict[str, str]:
    tree = ast.parse((tests / "functional" / "utils.py").read_text(encoding="utf-8"))
    found: dict[str, str] = {}
    for cls in (n for n in tree.body if isinstance(n, ast.ClassDef)):
        for node in cls.body:
            if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant):
                for target in node.targets:
                    if isinstance(target, ast.Name):
                        found[target.id] = str(node.value.value)
    return found


def deptry_config(path: Path) -> dict[str, Any]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError):
        return {}
    tool = data.get("tool", {}).get("deptry", {})
    return tool if isinstance(tool, dict) else {}


def _regex_to_globs(value: str) -> list[str]:
    """deptry's exclude regexes (`build/|src/bar\\.py`) as the gitignore patterns depslim takes."""
    return [re.sub(r"\\(.)", r"\1", alt) for alt in value.split("|") if alt]


def _rule_names(spec: str | Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    if isinstance(spec, str):
        for part in spec.split(","):
            code, _, names = part.partition("=")
            for name in names.split("|"):
                yield code.strip(), name.strip()
    else:
        for code, names in spec.items():
            for name in names:
                yield code, str(name)


def deptry_options(case: Case, words: Sequence[str], config: Mapping[str, Any]) -> str:
    """Apply deptry's command line (after `deptry`) and its [tool.deptry] config to `case`; return an
    unmapped option, or ""."""
    roots: list[str] = []
    options: dict[str, list[str]] = defaultdict(list)
    i = 0
    while i < len(words):
        word = words[i]
        if not word.startswith("-"):
            roots.append(word)
        elif word in DEPTRY_OUTPUT_ONLY:
            pass
        elif word in DEPTRY_OUTPUT_VALUE:
            i += 1
        elif word in ("-e", "--exclude", "-ee", "--extend-exclude", "-kf", "--known-first-party", "-i", "--ignore",
                      "-pri", "--per-rule-ignores", "-rf", "--requirements-files", "-rfd",
                      "--requirements-files-dev", "--config"):
            i += 1
            options[word.lstrip("-")].append(words[i] if i < len(words) else "")
        elif word in ("-nb", "--ignore-notebooks"):
            options["ignore-notebooks"].append("")
        else:
            return word
        i += 1
    config_file = options.get("config", ["pyproject.toml"])[-1]
    if config_file != "pyproject.toml":
        config = deptry_config(case.project / config_file)
        case.requirement_files += (config_file,)
        case.notes.append(f"--config {config_file} read as a declaration file")
    if roots and roots != ["."]:
        case.code = tuple("" if r == "." else r.rstrip("/") for r in roots)
        case.notes.append(f"source roots {' '.join(roots)}")

    def pick(short: str, long: str, key: str) -> list[str]:
        given = options.get(short, []) + options.get(long, [])
        if given:
            return given
        value = config.get(key)
        return [value] if isinstance(value, str) else [str(v) for v in value or []]

    excludes = pick("e", "exclude", "exclude") + pick("ee", "extend-exclude", "extend_exclude")
    for value in excludes:
        case.excludes += tuple(_regex_to_globs(value))
    if excludes:
        case.notes.append(f"excludes {' '.join(excludes)}")
    if options.get("ignore-notebooks") or config.get("ignore_notebooks"):
        case.excludes += ("*.ipynb",)
        case.notes.append("--ignore-notebooks")
    requirement_files = [f for v in pick("rf", "requirements-files", "requirements_files") for f in v.split(",")]
    dev_files = [f for v in pick("rfd", "requirements-files-dev", "requirements_files_dev") for f in v.split(",")]
    if requirement_files and not dev_files:  # deptry's default dev files still count
        dev_files = [f for f in DEPTRY_DEFAULT_DEV_FILES if (case.project / f).is_file()]
    requirement_files += dev_files
    if requirement_files:
        case.requirement_files += tuple(requirement_files)
    for code in (c for v in pick("i", "ignore", "ignore") for c in v.split(",")):
        case.suppressed.codes.add(code.strip())
    rules = options.get("pri", []) + options.get("per-rule-ignores", [])
    for code, name in (p for r in rules for p in _rule_names(r)) if rules else \
            _rule_names(config.get("per_rule_ignores", {})):
        case.suppressed.names[code].add(name)
    for name in (n for v in pick("kf", "known-first-party", "known_first_party") for n in v.split(",")):
        case.suppressed.names["DEP001"].add(name)
        case.suppressed.names["DEP003"].add(name)
    case.suppressed.inline_marker = "deptry: ignore"
    case.peer_groups = any(k in config for k in ("non_dev_dependency_groups", "optional_dependencies_dev_groups"))
    return ""


def _windows_only(fn: ast.FunctionDef) -> bool:
    return any("win32" in ast.unparse(d) and "!=" in ast.unparse(d) for d in fn.decorator_list)


def deptry_cases(tests: Path) -> Iterator[Case]:
    fixtures = deptry_factories(tests)
    projects = deptry_projects(tests)
    for test_file in sorted((tests / "functional").rglob("test_*.py")):
        tree = ast.parse(test_file.read_text(encoding="utf-8"))
        for fn in (n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name.startswith("test_")):
            yield from _deptry_case(tests, fixtures, projects, fn)


def _deptry_case(tests: Path, fixtures: Mapping[str, tuple[str, bool]], projects: Mapping[str, str],
                 fn: ast.FunctionDef) -> Iterator[Case]:
    project = command = ""
    as_module = True
    words: list[str] | None = None
    snapshots: list[str] = []
    json_issues: list[tuple[str, str, str]] = []
    exits_zero = False
    for node in ast.walk(fn):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in fixtures:
            command, as_module = fixtures[node.func.id]
            if node.args and isinstance(node.args[0], ast.Attribute):
                project = projects.get(node.args[0].attr, "")
            for kw in node.keywords:
                if kw.arg == "install_command":
                    command = _string(kw.value) or command
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            text = _string(node.args[0]) if node.args else None
            if node.func.attr == "run_deptry":
                words = shlex.split(text or "")
            elif node.func.attr == "run" and text and text.startswith("deptry"):
                words = shlex.split(text)[1:]
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "snapshot" \
                and node.args and (text := _string(node.args[0])) is not None:
            snapshots.append(text)
        if isinstance(node, ast.Dict):
            keys = [k.value if isinstance(k, ast.Constant) else None for k in node.keys]
            if "error" in keys and "module" in keys:
                err = node.values[keys.index("error")]
                module = _string(node.values[keys.index("module")])
                code = None
                if isinstance(err, ast.Dict):
                    ekeys = [k.value if isinstance(k, ast.Constant) else None for k in err.keys]
                    code = _string(err.values[ekeys.index("code")]) if "code" in ekeys else None
                if code and module:
                    json_issues.append((code, module, ""))
        if isinstance(node, ast.Compare) and ast.unparse(node.left).endswith("returncode") \
                and any(isinstance(c, ast.Constant) and c.value == 0 for c in node.comparators):
            exits_zero = True
    if not project or words is None:
        return
    issues = [(m["code"], m["name"], m["file"]) for text in snapshots
              for m in ISSUE_LINE.finditer(ANSI.sub("", text))]
    issues += json_issues
    expected: dict[str, set[str]] = {code: set() for code in DEP_FINDING_CODES}
    case = Case(peer="deptry", name=f"{project}/{fn.name}", project=tests / "fixtures" / project,
                expected=expected, tests=[fn.name])
    if not (snapshots or json_issues or exits_zero):
        case.skip = "the test checks no issues"
    if _windows_only(fn):
        case.skip = "peer marks it Windows-only"
    for code, name, where in issues:
        expected.setdefault(code, set()).add(name)
        if where:
            case.locations.setdefault((code, norm(code, name)), set()).add(where)
    setup = command if not as_module else f"python -m {command}"
    case.env = EnvSpec(command=setup, source=str(case.project))
    unmapped = deptry_options(case, words, deptry_config(case.project / "pyproject.toml"))
    if unmapped:
        case.skip = f"peer option {unmapped} has no depslim equivalent"
    yield case


# --------------------------------------------------------------------------- environments and runs


UVX_FROM: dict[str, str] = {}  # tool → the requirement uvx installs it from (--uvx-from)


def run_quiet(argv: Sequence[str], cwd: Path | None = None, env: Mapping[str, str] | None = None,
              timeout: int = 1800) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(argv), cwd=cwd, env=dict(env) if env else None, capture_output=True, text=True,
                          timeout=timeout, check=False)


def ensure_env(work: Path, spec: EnvSpec) -> tuple[Path, Path | None, str]:
    """(python of the environment, the copied project or None, error text or "")."""
    home = work / "envs" / spec.key()
    python = home / "bin" / "python"
    project = home / "project" if spec.command else None
    if (home / ".ready").is_file():
        return python, project, ""
    if home.exists():
        shutil.rmtree(home)
    home.parent.mkdir(parents=True, exist_ok=True)
    made = run_quiet([sys.executable, "-m", "venv", str(home)])
    if made.returncode:
        return python, project, made.stderr.strip()[-300:]
    if spec.packages:
        done = run_quiet(["uv", "pip", "install", "--python", str(python), "--no-deps", *spec.packages])
        if done.returncode:
            return python, project, done.stderr.strip()[-300:]
    if spec.command and project is not None:
        shutil.copytree(spec.source, project, symlinks=True)
        words = shlex.split(spec.command)
        env = {**os.environ, "VIRTUAL_ENV": str(home), "UV_PROJECT_ENVIRONMENT": str(home),
               "PATH": f"{home / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}", "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
        if words[:1] == ["python"]:
            words[0] = str(python)
        elif shutil.which(words[0]) is None:  # the peer's setup tool, run without installing it here
            source = ["--from", UVX_FROM[words[0]]] if words[0] in UVX_FROM else []
            words = ["uvx", *source, words[0], *words[1:]]
        done = run_quiet(words, cwd=project, env=env)
        if done.returncode:
            return python, project, (done.stderr or done.stdout).strip()[-300:]
    (home / ".ready").touch()
    return python, project, ""


def sources_of(root: Path) -> list[str]:
    return [f.rel for f in walk_project(root).sources]


def _under(rel: str, roots: Iterable[str]) -> bool:
    return any(not r or rel == r or rel.startswith(r.rstrip("/") + "/") for r in roots)


def depslim_args(case: Case, root: Path) -> list[str]:
    """The peer's code paths and excludes as depslim `--exclude`s (every other source file, anchored),
    its named declaration files as `-r`."""
    args: list[str] = []
    rules = IgnoreRules.parse(case.excludes) if case.excludes else None
    for rel in sources_of(root):
        dropped = not _under(rel, case.code)
        if rules is not None and not dropped:
            parts = rel.split("/")
            given = max(len(c.split("/")) if c else 0 for c in case.code if _under(rel, [c]))
            dropped = any(rules.verdict("/".join(parts[: i + 1]), True) for i in range(given, len(parts) - 1)) \
                or (len(parts) > given and bool(rules.verdict(rel, False)))
        if dropped:
            args += ["--exclude", "/" + rel]
    if case.code == ("",):  # the patterns themselves too: depslim's --exclude also skips declaration files
        args += [w for pattern in case.excludes for w in ("--exclude", pattern)]
    for rel in case.requirement_files:
        args += ["-r", rel]
    return args


@dataclass
class Observed:
    """depslim's report read in the peers' terms."""

    report: dict[str, Any]
    root: Path
    sources: set[str]
    error: str = ""

    @property
    def imports(self) -> dict[str, dict[str, Any]]:
        return {i["module"]: i for i in self.report.get("imports", [])}

    @property
    def dists(self) -> dict[str, dict[str, Any]]:
        return {canonicalize_name(d["name"]): d for d in self.report.get("distributions", [])}

    def finding_modules(self, codes: Iterable[str]) -> dict[str, list[dict[str, Any]]]:
        """module → the findings of `codes` naming it (from each finding's import evidence)."""
        wanted = set(codes)
        found: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for finding in self.report.get("findings", []):
            if finding["code"] not in wanted:
                continue
            for ev in finding.get("evidence", []):
                module = ev.get("detail", "").split(" (", 1)[0].split(".", 1)[0]
                if module and finding not in found[module]:
                    found[module].append(finding)
        return found

    def installed(self, dist: str) -> bool:
        d = self.dists.get(canonicalize_name(dist))
        return bool(d and d.get("installed"))

    def categories(self, peer: str) -> dict[str, set[str]]:
        dists = self.dists
        cut_unused = {canonicalize_name(f["subject"]) for f in self.report.get("findings", [])
                      if f["code"] == "cut-unused"}
        if peer != "deptry":
            problems = self.finding_modules(IMPORT_FINDINGS)
            return {
                "imports": set(self.imports),
                "declared": {n for n, d in dists.items() if d.get("declared")},
                "undeclared": set(problems),
                "unused": {n for n, d in dists.items() if d.get("verdict") == "unused"},
            }
        dep001, dep003 = set(), set()
        for module, findings in self.finding_modules(IMPORT_FINDINGS).items():
            for f in findings:
                installed = f["code"] in ("undeclared", "transitive") or (
                    f["code"] == "optional" and self.installed(f["subject"]))
                (dep003 if installed else dep001).add(module)
        stdlib = {canonicalize_name(m) for m in sys.stdlib_module_names}
        return {
            "DEP001": dep001,
            "DEP002": cut_unused - stdlib,
            "DEP003": dep003,
            "DEP004": set(self.finding_modules(["misplaced-dev"])),
            "DEP005": cut_unused & stdlib,
        }


def run_depslim(depslim: Sequence[str], case: Case, work: Path) -> Observed:
    python, copied, error = ensure_env(work, case.env)
    base = copied or case.project
    root = base / case.analyse if case.analyse else base
    if error:
        return Observed({}, root, set(), f"environment: {error}")
    argv = [*depslim, "analyze", "--format", "json", "--no-cache", "--python", str(python),
            *depslim_args(case, root), str(root)]
    env = {**os.environ, "DEPSLIM_CACHE_DIR": str(work / "cache")}
    done = run_quiet(argv, env=env)
    try:
        report = json.loads(done.stdout)
    except ValueError:
        return Observed({}, root, set(), f"depslim exit {done.returncode}: {done.stderr.strip()[-300:]}")
    return Observed(report, root, set(sources_of(root)))


# --------------------------------------------------------------------------- scoring


@dataclass(frozen=True)
class Row:
    peer: str
    case: str
    category: str
    name: str
    peer_says: str
    depslim_says: str
    outcome: str
    reason: str


IMPORT_LINE = r"^\s*(?:import|from)\s+{}\b"


def _import_sites(obs: Observed, module: str) -> list[tuple[str, int]]:
    """Where the project's files import `module` (a text search, for files depslim did not report)."""
    pattern = re.compile(IMPORT_LINE.format(re.escape(module)), re.M)
    sites = []
    for path in sorted(obs.root.rglob("*")):
        if path.suffix not in SOURCE_SUFFIXES or not path.is_file():
            continue
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        for match in pattern.finditer(text):
            sites.append((path.relative_to(obs.root).as_posix(), text.count("\n", 0, match.start()) + 1))
    return sites


def _first_party(obs: Observed, module: str, under: str = "") -> bool:
    base = obs.root / under
    if under:
        return (base / module).is_dir() or (base / f"{module}.py").is_file()
    return any(p.name in (module, f"{module}.py") for p in base.rglob(f"{module}*") if p.is_dir() or p.suffix == ".py")


def _unknown_name(obs: Observed, category: str, name: str) -> bool:
    """Neither installed nor mapped by depslim's index: only installing the declared packages would tell."""
    if category in MODULE_CATEGORIES:
        return obs.imports.get(name, {}).get("mapping") in ("identity", "unresolved")
    dist = obs.dists.get(canonicalize_name(name), {})
    return not dist.get("installed")


def _hidden(rel: str) -> bool:
    return any(part.startswith(".") for part in rel.split("/"))


def _inline_suppressed(case: Case, obs: Observed, category: str, evidence: Iterable[Mapping[str, Any]]) -> bool:
    if not case.suppressed.inline_marker:
        return False
    for ev in evidence:
        try:
            line = (obs.root / ev["path"]).read_text(encoding="utf-8").splitlines()[int(ev["line"]) - 1]
        except (OSError, IndexError, ValueError, KeyError):
            continue
        marker = line.partition(case.suppressed.inline_marker)[2]
        if marker and (not marker.startswith("[") or category in marker.split("]")[0]):
            return True
    return False


def explain_missed(case: Case, obs: Observed, category: str, name: str) -> tuple[str, str, str]:
    """The peer expects `name` in `category`; depslim does not report it there."""
    imports, dists = obs.imports, obs.dists
    if category in MODULE_CATEGORIES:
        report = imports.get(name)
        if category in ("DEP001", "DEP003"):
            sibling = "DEP003" if category == "DEP001" else "DEP001"
            if name in obs.categories(case.peer)[sibling]:
                return f"{sibling} (installed: {category == 'DEP001'})", WORSE, "environment differs from the peer's"
        if report is None:
            if name in sys.stdlib_module_names:
                return "standard library", BETTER, "standard-library module"
            sites = _import_sites(obs, name)
            if sites and all(site[0] not in obs.sources for site in sites):
                return "file not scanned", DESIGN_, "gitignore"
            if _first_party(obs, name):
                return "first-party", BETTER, "first-party"
            return "no import seen", WORSE, ""
        contexts = set(report["contexts"])
        dist = report.get("distribution") or ""
        declared = any(dists.get(canonicalize_name(d), {}).get("declared") for d in dist.split(",") if d)
        if category == "imports":
            return f"import ({report['mapping']})", WORSE, "present under another name"
        if declared and category != "DEP004":
            return f"maps to declared {dist} ({report['mapping']})", BETTER, "mapped"
        if category == "DEP004" and declared and all(_declared_in_toml(dists.get(canonicalize_name(d), {}))
                                                     for d in dist.split(",") if d):
            return f"declared for runtime ({dist})", DESIGN_, "groups"
        if contexts and "runtime" not in contexts:
            return f"imported only in {'/'.join(sorted(contexts))} code", DESIGN_, "dev-code"
        if _typing_only(obs, name):
            return "typing-only import", DESIGN_, "typing-only"
        return f"not flagged ({dist or 'unmapped'}, {report['mapping']})", WORSE, ""
    dist = dists.get(canonicalize_name(name))
    if (dist is None or not dist.get("declared")) and _conda_not_python(obs, name):
        return "not a Python distribution (conda package)", DESIGN_, "conda-not-python"
    if _setuptools_would_not_read(obs, name):
        return "not read: setuptools would not read it (warned)", DESIGN_, "setuptools-invalid"
    if category == "declared":
        return "not read as declared", WORSE, ""
    if dist is None or not dist.get("declared"):
        return "not declared for depslim", WORSE, "declaration not read"
    verdict = dist.get("verdict")
    evidence = dist.get("evidence", [])
    if verdict == "implicit":
        if evidence and all(e.get("kind") == "dependency" for e in evidence):
            return f"implicit ({evidence[0].get('detail')})", DESIGN_, "required-by"
        detail = "; ".join(f"{e.get('path')}:{e.get('line')} {e.get('detail')}" for e in evidence[:2])
        return f"implicit ({detail})", BETTER, "implicit"
    if verdict == "dev-only" and any(e.get("kind") == "rule" for e in evidence):
        return "dev-only (known dev tool)", DESIGN_, "dev-tool"
    if verdict == "unused" and dist.get("dev_declared"):
        return "unused, dev-declared (not on the cut list)", DESIGN_, "undeclared-dev"
    if verdict in ("runtime", "dev-only", "typing-only", "unreachable"):
        modules = sorted({e.get("detail", "").split(" (")[0] for e in evidence if "import" in e.get("kind", "")})
        return f"{verdict}: imported as {', '.join(modules)}", BETTER, "imported"
    return f"verdict {verdict}", WORSE, ""


def _typing_only(obs: Observed, module: str) -> bool:
    kinds = {ev.get("kind") for d in obs.report.get("distributions", []) for ev in d.get("evidence", [])
             if ev.get("detail", "").split(" (")[0].split(".")[0] == module}
    return kinds == {"typing-import"}


def _setuptools_would_not_read(obs: Observed, name: str) -> bool:
    """depslim warned that a setup.cfg value naming `name` is not where setuptools reads declarations."""
    for warning in obs.report.get("warnings", []):
        file = warning.partition(":")[0]
        if "is not read: setuptools" in warning and file.endswith("setup.cfg") and (obs.root / file).is_file():
            text = (obs.root / file).read_text(encoding="utf-8", errors="replace")
            if re.search(rf"(?mi)^\s*extras_require\s*[=:].*\b{re.escape(name)}\b", text):
                return True
    return False


def _conda_not_python(obs: Observed, name: str) -> bool:
    """A conda package of the project's pixi/environment files that depslim's data says is no Python
    distribution (a binary, a C library)."""
    from depslim.declared.conda import pypi_name

    conda_files = [p for p in obs.root.iterdir() if p.name in ("pixi.toml", "environment.yml", "environment.yaml")]
    mentioned = any(re.search(rf"(?m)^\s*-?\s*{re.escape(name)}\b", p.read_text(encoding="utf-8", errors="replace"))
                    for p in conda_files)
    return mentioned and pypi_name(name) is None


def explain_extra(case: Case, obs: Observed, category: str, name: str) -> tuple[str, str, str]:
    """depslim reports `name` in `category`; the peer does not expect it."""
    evidence: list[dict[str, Any]] = []
    dist: dict[str, Any] = {}
    if category in MODULE_CATEGORIES:
        codes = ["misplaced-dev"] if category == "DEP004" else list(IMPORT_FINDINGS)
        findings = obs.finding_modules(codes).get(name, [])
        for finding in findings:
            evidence += [e for e in finding.get("evidence", []) if e.get("detail", "").split(" (")[0]
                         .split(".")[0] == name]
            dist = obs.dists.get(canonicalize_name(finding["subject"]), dist)
        report = obs.imports.get(name)
        paths = [e["path"] for e in evidence] or [loc["path"] for loc in (report or {}).get("locations", [])]
        says = " / ".join(sorted({f["code"] for f in findings})) or \
            f"third-party import ({(report or {}).get('mapping', '?')})"
    else:
        dist = obs.dists.get(canonicalize_name(name), {})
        paths = [loc["path"] for loc in dist.get("declared_at", [])]
        says = f"{dist.get('verdict') or 'declared'} ({', '.join(sorted(set(paths)))})"
    if case.suppressed.hides(category, name) or _inline_suppressed(case, obs, category, evidence):
        return says, DESIGN_, "suppressed"
    if case.installs_declared and _unknown_name(obs, category, name):
        return says, DESIGN_, "no-install"
    if case.peer.startswith("FawltyDeps") and paths and all(_hidden(p) for p in paths):
        return says, DESIGN_, "hidden"
    if paths and all(_dot_ignored(obs.root, p) for p in paths):
        return says, DESIGN_, "dot-ignore"
    if any(e.get("kind") == "dynamic-import" for e in evidence):
        return says, BETTER, "dynamic"
    if category in MODULE_CATEGORIES and category != "DEP004" and _first_party(obs, name):
        return says, DESIGN_, "layout"
    if category == "DEP004" and paths and _declared_in_toml(dist):
        return says, DESIGN_, "groups"
    if category == "DEP002" and _declared_in_toml(dist) and case.peer_groups:
        return says, DESIGN_, "groups"
    if category not in MODULE_CATEGORIES:
        project_name = _project_name(obs.root)
        if project_name and canonicalize_name(name) == project_name:
            return says, DESIGN_, "self"
        if category == "declared" and _declares(obs, dist, name):
            if case.excludes and _excluded(case, [loc["path"] for loc in dist.get("declared_at", [])]):
                return says, WORSE, "--exclude skips code, not declaration files"
            return says, BETTER, "declaration"
    return says, WORSE, ""


def _declared_in_toml(dist: Mapping[str, Any]) -> bool:
    locations = dist.get("declared_at", [])
    return bool(locations) and all(str(loc.get("path", "")).endswith(".toml") for loc in locations)


def _declares(obs: Observed, dist: Mapping[str, Any], name: str) -> bool:
    """Does the file:line depslim gives as the declaration name `name`? (A declaration the peer does not read.)"""
    key = canonicalize_name(name)
    for loc in dist.get("declared_at", []):
        try:
            line = (obs.root / loc["path"]).read_text(encoding="utf-8").splitlines()[int(loc["line"]) - 1]
        except (OSError, IndexError, ValueError, KeyError):
            continue
        if key in canonicalize_name(re.sub(r"[^A-Za-z0-9._-]+", "-", line)):
            return True
    return False


def _excluded(case: Case, paths: Sequence[str]) -> bool:
    rules = IgnoreRules.parse(case.excludes)
    return rules is not None and bool(paths) and all(rules.verdict(p, False) for p in paths)


def _dot_ignored(root: Path, rel: str) -> bool:
    """Listed by a ripgrep-style `.ignore` file at the project root (which some peers obey)."""
    rules = IgnoreRules.parse((root / ".ignore").read_text(encoding="utf-8").splitlines()) \
        if (root / ".ignore").is_file() else None
    return rules is not None and bool(rules.verdict(rel, False))


def _project_name(root: Path) -> str:
    try:
        data = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError):
        return ""
    name = data.get("project", {}).get("name") or data.get("tool", {}).get("poetry", {}).get("name") or ""
    return canonicalize_name(name) if name else ""


def score(case: Case, obs: Observed) -> list[Row]:
    rows: list[Row] = []
    actual = obs.categories(case.peer)
    for category, expected_raw in sorted(case.expected.items()):
        expected = {norm(category, n) for n in expected_raw}
        got = {norm(category, n) for n in actual.get(category, set())}
        if not expected and not got:
            rows.append(Row(case.peer, case.name, category, "(none)", "none", "none", MATCH, ""))
        for name in sorted(expected | got):
            if name in expected and name in got:
                rows.append(Row(case.peer, case.name, category, name, "yes", "yes", MATCH, ""))
            elif name in expected:
                says, outcome, why = explain_missed(case, obs, category, name)
                rows.append(Row(case.peer, case.name, category, name, "yes", says, outcome, why))
            else:
                says, outcome, why = explain_extra(case, obs, category, name)
                rows.append(Row(case.peer, case.name, category, name, "no", says, outcome, why))
    return rows


# --------------------------------------------------------------------------- report


def merge(cases: Iterable[Case]) -> list[Case]:
    """Expectations the peer repeats (the same project, options and issues in several tests) count once."""
    merged: dict[str, Case] = {}
    for case in cases:
        key = case.signature()
        if key in merged:
            merged[key].tests += case.tests
        else:
            merged[key] = case
    return list(merged.values())


def reason_text(outcome: str, why: str) -> str:
    if outcome == DESIGN_:
        return DESIGN.get(why, why)
    if outcome == BETTER:
        return BETTER_WHY.get(why, why)
    return why


def render(rows: Sequence[Row], cases: Sequence[Case], errors: Mapping[str, str]) -> str:
    out = ["# depslim against its peers' own expectations", ""]
    peers = sorted({c.peer for c in cases})
    out += ["| peer | cases run | cases skipped | expectations | match | depslim-better | by-design | depslim-worse |",
            "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for peer in peers:
        mine = [r for r in rows if r.peer == peer]
        counts = Counter(r.outcome for r in mine)
        run = sum(1 for c in cases if c.peer == peer and not c.skip and c.name not in errors)
        skipped = sum(1 for c in cases if c.peer == peer and (c.skip or c.name in errors))
        out.append(f"| {peer} | {run} | {skipped} | {len(mine)} | {counts[MATCH]} | {counts[BETTER]} | "
                   f"{counts[DESIGN_]} | {counts[WORSE]} |")
    counts = Counter(r.outcome for r in rows)
    out.append(f"| **all** | | | {len(rows)} | {counts[MATCH]} | {counts[BETTER]} | {counts[DESIGN_]} | "
               f"{counts[WORSE]} |")
    out += ["", "An expectation is one name the peer expects or depslim reports, per case and category (an empty "
            "expectation met counts once); cases a peer repeats with the same options and issues count once.", ""]
    why = Counter((r.outcome, r.reason) for r in rows if r.outcome in (BETTER, DESIGN_))
    if why:
        out += ["## Why depslim differs", "", "| outcome | rows | reason |", "|---|---:|---|"]
        for (outcome, reason), n in sorted(why.items(), key=lambda kv: (kv[0][0], -kv[1])):
            out.append(f"| {outcome} | {n} | {reason_text(outcome, reason)} |")
        out.append("")
    out += ["## Rows that differ", "",
            "| peer | case | category | name | peer expects | depslim says | outcome | reason |",
            "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        if r.outcome != MATCH:
            out.append(f"| {r.peer} | {r.case} | {r.category} | `{r.name}` | {r.peer_says} | {r.depslim_says} | "
                       f"{r.outcome} | {r.reason} |")
    skipped = [c for c in cases if c.skip or c.name in errors]
    if skipped:
        out += ["", "## Cases not run", "", "| peer | case | why |", "|---|---|---|"]
        for c in skipped:
            out.append(f"| {c.peer} | {c.name} | {c.skip or errors[c.name]} |")
    noted = [c for c in cases if c.notes and not c.skip]
    if noted:
        out += ["", "## Peer options passed on", "", "| peer | case | options |", "|---|---|---|"]
        for c in noted:
            out.append(f"| {c.peer} | {c.name} | {'; '.join(c.notes)} |")
    return "\n".join(out) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--fawltydeps", type=Path, help="FawltyDeps' tests/ (sample_projects/, real_projects/)")
    parser.add_argument("--fawltydeps-settings", type=Path, help="FawltyDeps' settings.py (its built-in ignore list)")
    parser.add_argument("--fawltydeps-real-projects", type=Path,
                        help="folder holding each real project unpacked as <its toml's stem>/")
    parser.add_argument("--deptry", type=Path, help="deptry's tests/ (functional/, fixtures/, utils.py)")
    parser.add_argument("--work", type=Path, default=Path("/tmp/depslim-peers"), help="venvs and copies")
    parser.add_argument("--depslim", default="depslim", help="the depslim command (default: depslim)")
    parser.add_argument("--only", default="", help="run only cases whose name contains this")
    parser.add_argument("--uvx-from", action="append", default=[], metavar="TOOL=REQ",
                        help="what uvx installs a peer's setup tool from (pdm='pdm[locked]')")
    parser.add_argument("-o", "--output", type=Path, help="write the Markdown here (default: stdout)")
    parser.add_argument("--rows", type=Path, help="also write every scored row as JSON")
    args = parser.parse_args(argv)
    UVX_FROM.update(item.split("=", 1) for item in args.uvx_from)
    cases: list[Case] = []
    if args.fawltydeps:
        cases += fawltydeps_cases(args.fawltydeps, args.fawltydeps_real_projects, args.fawltydeps_settings)
    if args.deptry:
        cases += deptry_cases(args.deptry)
    if not cases:
        parser.error("nothing to score: pass --fawltydeps and/or --deptry")
    cases = [c for c in merge(cases) if args.only in c.name]
    rows: list[Row] = []
    errors: dict[str, str] = {}
    depslim = shlex.split(args.depslim)
    for case in cases:
        if case.skip:
            continue
        print(f"{case.peer}: {case.name}", file=sys.stderr)
        obs = run_depslim(depslim, case, args.work)
        if obs.error:
            errors[case.name] = obs.error
            continue
        rows += score(case, obs)
    text = render(rows, cases, errors)
    if args.output:
        args.output.write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    if args.rows:
        args.rows.write_text(json.dumps([r.__dict__ for r in rows], indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
