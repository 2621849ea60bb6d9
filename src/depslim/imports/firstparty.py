"""The project's own code: which import names are first-party, and each file's module name.

Sources of truth, most explicit first: `[tool.setuptools]` packages / package-dir /
packages.find where / py-modules, hatch `[tool.hatch.build.targets.wheel] packages`, poetry
`packages`, pdm `package-dir`; then the layout itself: `src/` (every package, PEP 420
namespace folder and module in it), the flat layout (root packages with `__init__.py` and
root modules), and the project name. A root folder *without* `__init__.py` (say `docker/`)
counts only when some import names a module that exists inside it (`docker.build_utils`),
so a helper folder never hides the real `docker` distribution.

Per-file, an import also resolves locally when it names a module next to the importing file
(in the nearest folder without `__init__.py`): that folder is `sys.path[0]` for a script
and pytest's rootdir insertion for tests (`from helpers import ...` in tests/).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

_NAME = re.compile(r"[^A-Za-z0-9_]+")


def _posix(path: str) -> str:
    return path.replace("\\", "/").strip("/").removeprefix("./") if path not in (".", "./") else ""


def project_import_name(pyproject: Mapping[str, Any]) -> str | None:
    """The import name a project's distribution name suggests ("churn-pipeline" -> "churn_pipeline")."""
    name = (pyproject.get("project") or {}).get("name") or (
        (pyproject.get("tool") or {}).get("poetry") or {}
    ).get("name")
    if not isinstance(name, str) or not name.strip():
        return None
    return _NAME.sub("_", name.strip()).lower()


@dataclass
class Layout:
    """Where the project's modules live and what they are called."""

    files: frozenset[str]  # project-relative .py files
    init_dirs: frozenset[str]  # dirs holding __init__.py
    roots: tuple[str, ...]  # package roots, most specific first ("src", "")
    dir_names: dict[str, str] = field(default_factory=dict)  # explicit package-dir: dir -> dotted name
    names: set[str] = field(default_factory=set)  # confirmed first-party top-level names
    py_dirs: frozenset[str] = frozenset()  # every dir that holds a .py file at any depth
    _modules: dict[str, str] | None = field(default=None, repr=False)
    _module_of: dict[str, str] = field(default_factory=dict, repr=False)

    # -- module names

    def module_of(self, rel: str) -> str:
        """Dotted module name of a project .py file (relative to its package root)."""
        found = self._module_of.get(rel)
        if found is None:
            found = self._module_of[rel] = self._compute_module(rel)
        return found

    def _compute_module(self, rel: str) -> str:
        stem = rel[:-3] if rel.endswith(".py") else rel
        for directory, dotted in self.dir_names.items():
            if stem == directory or stem.startswith(directory + "/"):
                rest = stem[len(directory) :].strip("/")
                return _strip_init(".".join(p for p in (dotted, rest.replace("/", ".")) if p))
        for root in self.roots:
            if not root:
                return _strip_init(stem.replace("/", "."))
            if stem.startswith(root + "/"):
                return _strip_init(stem[len(root) + 1 :].replace("/", "."))
        return _strip_init(stem.replace("/", "."))

    def is_package_file(self, rel: str) -> bool:
        return rel.endswith("/__init__.py") or rel == "__init__.py"

    def resolve_relative(self, importer: str, level: int, module: str) -> str:
        """`from ..x import y` in `importer` -> absolute dotted module ("" if above the top)."""
        own = self.module_of(importer)
        package = own if self.is_package_file(importer) else own.rpartition(".")[0]
        parts = package.split(".") if package else []
        if level > 1:
            parts = parts[: max(0, len(parts) - (level - 1))]
        return ".".join(p for p in (*parts, module) if p)

    # -- local resolution

    def base_dir(self, rel: str) -> str:
        """The nearest folder of `rel` without __init__.py: where a script's sibling imports resolve."""
        directory = rel.rpartition("/")[0]
        while directory and directory in self.init_dirs:
            directory = directory.rpartition("/")[0]
        return directory

    def exists_under(self, base: str, dotted: str, *, namespace_ok: bool) -> bool:
        """Does `dotted` name a module or package found under folder `base`?"""
        parts = dotted.split(".")
        prefix = f"{base}/" if base else ""
        first = prefix + parts[0]
        if f"{first}.py" in self.files or first in self.init_dirs:
            return True
        if first not in self.py_dirs:
            return False
        if namespace_ok:
            return True
        # A folder without __init__.py: only an import of something inside it is evidence.
        for k in range(2, len(parts) + 1):
            path = prefix + "/".join(parts[:k])
            if f"{path}.py" in self.files or path in self.init_dirs or path in self.py_dirs:
                return True
        return False

    def local_file(self, base: str, dotted: str) -> str | None:
        """The file `dotted` names when resolved from folder `base` (module or package)."""
        path = (f"{base}/" if base else "") + dotted.replace(".", "/")
        for candidate in (f"{path}.py", f"{path}/__init__.py"):
            if candidate in self.files:
                return candidate
        return None

    def modules(self) -> dict[str, str]:
        """Dotted module name -> project file, for every scanned .py file."""
        if self._modules is None:
            self._modules = {}
            for rel in sorted(self.files):
                self._modules.setdefault(self.module_of(rel), rel)
        return self._modules


def _strip_init(dotted: str) -> str:
    if dotted == "__init__":
        return ""
    return dotted.removesuffix(".__init__")


def _setuptools(tool: Mapping[str, Any]) -> tuple[list[str], dict[str, str], set[str]]:
    """(roots, explicit dir->name map, names) from [tool.setuptools]."""
    config = tool.get("setuptools") or {}
    roots: list[str] = []
    dir_names: dict[str, str] = {}
    names: set[str] = set()
    package_dir = config.get("package-dir") or {}
    if isinstance(package_dir, dict):
        for name, directory in package_dir.items():
            if not isinstance(directory, str):
                continue
            if name == "":
                roots.append(_posix(directory))
            else:
                dir_names[_posix(directory)] = name
                names.add(name.split(".")[0])
    packages = config.get("packages")
    if isinstance(packages, list):
        names.update(p.split(".")[0] for p in packages if isinstance(p, str))
    elif isinstance(packages, dict):
        find = packages.get("find") or {}
        roots.extend(_posix(w) for w in find.get("where") or () if isinstance(w, str))
    modules = config.get("py-modules")
    if isinstance(modules, list):
        names.update(m for m in modules if isinstance(m, str))
    return roots, dir_names, names


def _other_backends(tool: Mapping[str, Any]) -> tuple[list[str], set[str]]:
    """(roots, names) from hatch, poetry and pdm package settings."""
    roots: list[str] = []
    names: set[str] = set()
    wheel = ((((tool.get("hatch") or {}).get("build") or {}).get("targets") or {}).get("wheel")) or {}
    for entry in wheel.get("packages") or ():
        if isinstance(entry, str):
            head, _, name = _posix(entry).rpartition("/")
            names.add(name.removesuffix(".py"))
            roots.append(head)
    for entry in (tool.get("poetry") or {}).get("packages") or ():
        if isinstance(entry, dict) and isinstance(entry.get("include"), str):
            names.add(_posix(entry["include"]).split("/")[0].removesuffix(".py"))
            roots.append(_posix(entry.get("from") or ""))
    pdm_dir = ((tool.get("pdm") or {}).get("build") or {}).get("package-dir")
    if isinstance(pdm_dir, str):
        roots.append(_posix(pdm_dir))
    return roots, names


def build_layout(files: Iterable[str], init_dirs: Iterable[str], pyproject: Mapping[str, Any]) -> Layout:
    """Package roots and first-party names from configuration and the files on disk."""
    file_set = frozenset(f for f in files if f.endswith(".py"))
    py_dirs: set[str] = set()
    for rel in file_set:
        directory = rel.rpartition("/")[0]
        while directory and directory not in py_dirs:
            py_dirs.add(directory)
            directory = directory.rpartition("/")[0]
    tool = pyproject.get("tool") or {}
    roots, dir_names, names = _setuptools(tool)
    more_roots, more_names = _other_backends(tool)
    roots += more_roots
    names |= more_names
    if "src" in py_dirs and "src" not in init_dirs:
        roots.append("src")
    roots = [r for r in dict.fromkeys(roots) if r]
    roots.sort(key=lambda r: -r.count("/"))
    layout = Layout(
        files=file_set,
        init_dirs=frozenset(init_dirs),
        roots=(*roots, ""),
        dir_names=dir_names,
        names=names,
        py_dirs=frozenset(py_dirs),
    )
    # Explicit roots: every module, package and namespace folder directly inside them.
    for root in roots:
        prefix = root + "/"
        for rel in file_set:
            if rel.startswith(prefix):
                head = rel[len(prefix) :].split("/")[0]
                layout.names.add(head.removesuffix(".py"))
    # Flat layout: root modules and root packages (folders with __init__.py).
    for rel in file_set:
        head, sep, _ = rel.partition("/")
        if not sep:
            layout.names.add(head.removesuffix(".py"))
        elif head in layout.init_dirs and head not in roots:
            layout.names.add(head)
    project_name = project_import_name(pyproject)
    if project_name:
        layout.names.add(project_name)
    layout.names.discard("")
    layout.names.discard("__init__")
    return layout


def confirm_namespace_folders(layout: Layout, modules: Iterable[str]) -> None:
    """Add root folders without __init__.py that some import reaches into (`tools.build`)."""
    for dotted in modules:
        top = dotted.split(".")[0]
        if top in layout.names or "." not in dotted or top not in layout.py_dirs:
            continue
        if layout.exists_under("", dotted, namespace_ok=False):
            layout.names.add(top)
