"""pyproject.toml: PEP 621, setuptools dynamic files, PEP 735 groups, Poetry, uv/pdm dev lists and
pixi's `[tool.pixi]` tables.

Values come from `tomllib`; lines come from `tomlpos` (tomllib has no positions). A requirement
naming the project itself (`myproj[ml]` inside an extra or group) is an include, not a
dependency, and is skipped like an `include-group`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from packaging.utils import NormalizedName, canonicalize_name

from depslim.declared.base import Collector, declared_from, load_toml, parse_requirement
from depslim.declared.classify import is_dev_extra, is_dev_group
from depslim.declared.pixi import read_pixi_table
from depslim.declared.poetry import UnsupportedConstraint, convert
from depslim.declared.requirements import RequirementsReader
from depslim.declared.tomlpos import TomlPositions
from depslim.errors import InputError
from depslim.inputfile import is_regular
from depslim.model import Location


class PyprojectReader:
    """Reads every dependency table of one pyproject.toml into a `Collector`."""

    def __init__(self, collector: Collector, path: Path) -> None:
        self.collector = collector
        self.path = path
        self.rel = collector.rel(path)
        self.data, text = load_toml(path, self.rel)
        self.pos = TomlPositions(text)
        project = self._table(("project",))
        name = project.get("name")
        self.project_name = canonicalize_name(name) if isinstance(name, str) and name else None

    # -- helpers ---------------------------------------------------------------------------

    def _get(self, keys: Sequence[str]) -> Any:
        node: Any = self.data
        for key in keys:
            if not isinstance(node, Mapping) or key not in node:
                return None
            node = node[key]
        return node

    def _table(self, keys: Sequence[str]) -> Mapping[str, Any]:
        node = self._get(keys)
        if node is None:
            return {}
        if not isinstance(node, Mapping):
            raise InputError(self.rel, f"[{'.'.join(keys)}] must be a table", self.pos.key_line(keys))
        return node

    def _strings(self, keys: Sequence[str], value: Any) -> list[Any]:
        if not isinstance(value, list):
            raise InputError(self.rel, f"{'.'.join(keys)} must be an array", self.pos.key_line(keys))
        return value

    def _add(
        self, keys: Sequence[str], text: str, *, group: str, source: str, dev: bool, line: int | None = None
    ) -> None:
        if not isinstance(text, str):
            raise InputError(self.rel, f"{'.'.join(keys)}: expected a string, got {text!r}", self.pos.key_line(keys))
        if line is None:
            line = self.pos.value_line(keys, text)
        req = parse_requirement(text, self.rel, line)
        if self.project_name and canonicalize_name(req.name) == self.project_name:
            return  # self-reference (`myproj[ml]`): an include, not a dependency
        self.collector.add(declared_from(req, Location(self.rel, line), group=group, source=source, dev=dev))

    # -- readers ---------------------------------------------------------------------------

    def read(self) -> None:
        self.collector.files.add(self.rel)
        self._setuptools_dynamic()  # first: it knows the group of lines also found by auto-detection
        self._pep621()
        self._pep735()
        self._poetry()
        self._uv_pdm()
        self._pixi()

    def _pep621(self) -> None:
        project = self._table(("project",))
        if "dependencies" in project:
            keys: tuple[str, ...] = ("project", "dependencies")
            for text in self._strings(keys, project["dependencies"]):
                self._add(keys, text, group="main", source="pep621", dev=False)
        optional = self._table(("project", "optional-dependencies"))
        for extra, items in optional.items():
            keys = ("project", "optional-dependencies", extra)
            for text in self._strings(keys, items):
                self._add(
                    keys, text, group=f"optional:{extra}", source="pep621", dev=is_dev_extra(extra)
                )

    def _dynamic_files(self, keys: Sequence[str], spec: Any) -> list[Path]:
        files = spec.get("file") if isinstance(spec, Mapping) else None
        if files is None:
            raise InputError(self.rel, f"{'.'.join(keys)} must be {{file = [...]}}", self.pos.key_line(keys))
        paths = []
        for name in self._file_names(keys, files):
            path = (self.path.parent / name).resolve()
            if not is_regular(path):  # a name the OS refuses is no such file either
                raise InputError(
                    self.rel, f"dynamic dependencies file {name} does not exist", self.pos.key_line(keys)
                )
            paths.append(path)
        return paths

    def _file_names(self, keys: Sequence[str], files: Any) -> list[str]:
        """`file` of a dynamic spec: a path or a list of paths, each a string a path can hold (no NUL),
        else an error naming the key (Path() and iteration would otherwise fail on the value)."""
        names = [files] if isinstance(files, str) else files
        if not isinstance(names, list) or not all(isinstance(n, str) and "\x00" not in n for n in names):
            raise InputError(self.rel, f"{'.'.join(keys)}.file must be a path or a list of paths",
                             self.pos.key_line(keys))
        return names

    def _setuptools_dynamic(self) -> None:
        dynamic = self._table(("tool", "setuptools", "dynamic"))
        reader = RequirementsReader(self.collector)
        if "dependencies" in dynamic:
            keys: tuple[str, ...] = ("tool", "setuptools", "dynamic", "dependencies")
            for path in self._dynamic_files(keys, dynamic["dependencies"]):
                reader.read(path, group="main", dev=False)
        optional = self._table(("tool", "setuptools", "dynamic", "optional-dependencies"))
        for extra, spec in optional.items():
            keys = ("tool", "setuptools", "dynamic", "optional-dependencies", extra)
            for path in self._dynamic_files(keys, spec):
                reader.read(path, group=f"optional:{extra}", dev=is_dev_extra(extra))

    def _pep735(self) -> None:
        groups = self._table(("dependency-groups",))
        by_name = {canonicalize_name(name): name for name in groups}
        for name, items in groups.items():
            keys = ("dependency-groups", name)
            self._check_includes(name, groups, by_name, ())
            for item in self._strings(keys, items):
                if isinstance(item, Mapping):
                    continue  # include-group: validated above; its entries are declared in their own group
                self._add(keys, item, group=f"group:{name}", source="pep735", dev=is_dev_group(name))

    def _check_includes(
        self, name: str, groups: Mapping[str, Any], by_name: Mapping[NormalizedName, str], stack: tuple[str, ...]
    ) -> None:
        """PEP 735: an include must name an existing group and includes must not form a cycle."""
        keys = ("dependency-groups", name)
        for item in self._strings(keys, groups[name]):
            if not isinstance(item, Mapping):
                continue
            target = item.get("include-group")
            if set(item) != {"include-group"} or not isinstance(target, str):
                raise InputError(self.rel, f"[dependency-groups] {name}: bad entry {item!r}", self.pos.key_line(keys))
            resolved = by_name.get(canonicalize_name(target))
            if resolved is None:
                raise InputError(
                    self.rel, f"[dependency-groups] {name} includes unknown group {target!r}", self.pos.key_line(keys)
                )
            if resolved in (*stack, name):
                cycle = " -> ".join([*stack, name, resolved])
                raise InputError(
                    self.rel, f"[dependency-groups] include-group cycle: {cycle}", self.pos.key_line(keys)
                )
            self._check_includes(resolved, groups, by_name, (*stack, name))

    def _poetry(self) -> None:
        poetry = self._table(("tool", "poetry"))
        if not poetry:
            return
        extras_of: dict[str, str] = {}
        for extra, names in self._table(("tool", "poetry", "extras")).items():
            for dist in names if isinstance(names, list) else []:
                extras_of.setdefault(canonicalize_name(str(dist)), extra)
        # Poetry 2 reads [project].dependencies when present; [tool.poetry.dependencies] then only refines them.
        if "dependencies" not in self._table(("project",)):
            self._poetry_table(("tool", "poetry", "dependencies"), "main", extras_of)
        self._poetry_table(("tool", "poetry", "dev-dependencies"), "dev", extras_of)
        for group in self._table(("tool", "poetry", "group")):
            self._poetry_table(("tool", "poetry", "group", group, "dependencies"), group, extras_of)
        for source in self._get(("tool", "poetry", "source")) or []:
            if isinstance(source, Mapping) and isinstance(source.get("url"), str):
                self.collector.add_extra_index(source["url"])

    def _poetry_table(self, keys: tuple[str, ...], group: str, extras_of: Mapping[str, str]) -> None:
        table = self._table(keys)
        for name, spec in table.items():
            if name.lower() == "python":
                continue  # the interpreter range, not a dependency
            line = self.pos.key_line((*keys, name))
            try:
                converted = convert(name, spec)
            except UnsupportedConstraint as exc:
                raise InputError(self.rel, str(exc), line) from None
            for item in converted:
                self.collector.warnings.extend(f"{self.rel}:{line}: {note}" for note in item.notes)
                if group == "main" and item.optional:
                    extra = extras_of.get(canonicalize_name(name), "")
                    label, dev = f"optional:{extra}" if extra else "optional", is_dev_extra(extra)
                else:
                    label = "main" if group == "main" else f"group:{group}"
                    dev = group != "main" and is_dev_group(group)
                req = parse_requirement(item.text, self.rel, line)
                record = declared_from(req, Location(self.rel, line), group=label, source="poetry", dev=dev)
                self.collector.add(record)

    def _uv_pdm(self) -> None:
        keys: tuple[str, ...] = ("tool", "uv", "dev-dependencies")
        for text in self._strings(keys, self._get(keys) or []):
            self._add(keys, text, group="group:dev", source="pep735", dev=True)
        for group, items in self._table(("tool", "pdm", "dev-dependencies")).items():
            keys = ("tool", "pdm", "dev-dependencies", group)
            for text in self._strings(keys, items):
                if isinstance(text, str) and text.startswith("-e"):
                    line = self.pos.value_line(keys, text)
                    self.collector.warnings.append(f"{self.rel}:{line}: editable {text!r} not read")
                    continue
                self._add(keys, text, group=f"group:{group}", source="pep735", dev=True)


    def _pixi(self) -> None:
        table = self._table(("tool", "pixi"))
        if table:
            read_pixi_table(self.collector, self.rel, table, self.pos, ("tool", "pixi"))


def read_pyproject(collector: Collector, path: Path) -> None:
    """Read one pyproject.toml into `collector`."""
    PyprojectReader(collector, path).read()
