"""pixi.toml (pixi workspaces): `[pypi-dependencies]` and the conda `[dependencies]`, top level,
per platform (`[target.<platform>.*]`) and per feature (`[feature.<name>.*]`); the same tables under
pyproject.toml's `[tool.pixi]` (`read_pixi_table`, called by the pyproject reader).

PyPI entries are PEP 508 as pixi writes them: a version string (`"*"` for any) or a table with
`version`, `extras`, `env-markers`, or a `url`; `git`/`path` references are warned and not read (as
in a Pipfile), `path = "."` being the project itself. Conda entries are match specs or tables with
`version`, read as `depslim.declared.conda` reads an environment file's (non-Python packages
skipped, conda names mapped to PyPI names).

Groups: the top-level tables are the runtime; a feature named like a dev extra (`test`, `docs`,
`lint`: `data/dev_groups.toml [extras]`) is dev; another feature is runtime when the `default`
environment includes it (`pixi install` installs it), else optional (`optional:<feature>`).
`[host-dependencies]`/`[build-dependencies]` are build inputs, not read. A table of the wrong
shape is an `InputError` at its line.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from depslim.declared.base import Collector, declared_from, load_toml, parse_requirement
from depslim.declared.classify import is_dev_extra
from depslim.declared.conda import declare_conda, pep440
from depslim.declared.tomlpos import TomlPositions
from depslim.errors import InputError
from depslim.model import Location


def read_pixi(collector: Collector, path: Path) -> None:
    rel = collector.rel(path)
    data, text = load_toml(path, rel)
    collector.files.add(rel)
    read_pixi_table(collector, rel, data, TomlPositions(text), ())


def read_pixi_table(collector: Collector, rel: str, data: Mapping[str, Any], positions: TomlPositions,
                    prefix: tuple[str, ...]) -> None:
    """The workspace table: a pixi.toml's top level, or pyproject.toml's `[tool.pixi]` (prefix
    `("tool", "pixi")`), where pixi reads the same tables."""
    reader = _Reader(collector, rel, positions)
    default = reader.default_features(data.get("environments"), prefix)
    reader.scope(data, prefix, "main", False)
    features = data.get("feature", {})
    if not isinstance(features, Mapping):
        raise InputError(rel, f"[{'.'.join((*prefix, 'feature'))}] expected tables, one per feature",
                         reader.line((*prefix, "feature")))
    for name, table in features.items():
        if not isinstance(table, Mapping):
            raise InputError(rel, f"[{'.'.join((*prefix, 'feature', name))}] expected a table",
                             reader.line((*prefix, "feature", name)))
        if is_dev_extra(name):
            group, dev = "dev", True
        elif name in default:
            group, dev = "main", False
        else:
            group, dev = f"optional:{name}", False
        reader.scope(table, (*prefix, "feature", name), group, dev)


class _Reader:
    def __init__(self, collector: Collector, rel: str, positions: TomlPositions) -> None:
        self.collector = collector
        self.rel = rel
        self.positions = positions

    def line(self, keys: tuple[str, ...]) -> int | None:
        try:
            return self.positions.key_line(keys) or None
        except (KeyError, ValueError):
            return None

    def default_features(self, environments: Any, prefix: tuple[str, ...] = ()) -> set[str]:
        """Features the `default` environment installs (a list, or a table with `features`)."""
        keys = (*prefix, "environments")
        if environments is None:
            return set()
        if not isinstance(environments, Mapping):
            raise InputError(self.rel, f"[{'.'.join(keys)}] expected a table", self.line(keys))
        default = environments.get("default")
        if isinstance(default, Mapping):
            default = default.get("features", [])
        if default is None:
            return set()
        if not isinstance(default, list) or not all(isinstance(f, str) for f in default):
            raise InputError(self.rel, f"[{'.'.join(keys)}] default: expected a list of feature names",
                             self.line((*keys, "default")))
        return set(default)

    def scope(self, table: Mapping[str, Any], prefix: tuple[str, ...], group: str, dev: bool) -> None:
        """The dependency tables of the workspace or one feature, its per-platform targets included."""
        self.tables(table, prefix, group, dev)
        targets = table.get("target", {})
        if not isinstance(targets, Mapping):
            raise InputError(self.rel, f"[{'.'.join((*prefix, 'target'))}] expected tables, one per platform",
                             self.line((*prefix, "target")))
        for platform, inner in targets.items():
            if not isinstance(inner, Mapping):
                raise InputError(self.rel, f"[{'.'.join((*prefix, 'target', platform))}] expected a table",
                                 self.line((*prefix, "target", platform)))
            self.tables(inner, (*prefix, "target", platform), group, dev)

    def tables(self, table: Mapping[str, Any], prefix: tuple[str, ...], group: str, dev: bool) -> None:
        for section, conda in (("pypi-dependencies", False), ("dependencies", True)):
            entries = table.get(section)
            if entries is None:
                continue
            keys = (*prefix, section)
            if not isinstance(entries, Mapping):
                raise InputError(self.rel, f"[{'.'.join(keys)}] expected a table of name = version",
                                 self.line(keys))
            for name, value in entries.items():
                line = self.line((*keys, name)) or 0
                if conda:
                    self.conda(keys, str(name), value, line, group, dev)
                else:
                    self.pypi(keys, str(name), value, line, group, dev)

    def _shape(self, keys: tuple[str, ...], name: str, line: int, expected: str) -> InputError:
        return InputError(self.rel, f"[{'.'.join(keys)}] {name}: expected {expected}", line or None)

    def pypi(self, keys: tuple[str, ...], name: str, value: Any, line: int, group: str, dev: bool) -> None:
        if isinstance(value, str):
            spec = value.strip()
            text = name if spec in ("", "*") else f"{name}{spec}"
        elif isinstance(value, Mapping):
            if "path" in value or "git" in value:
                what = "the project itself" if value.get("path") in (".", "./") else "a git/path reference"
                self.collector.warnings.append(f"{self.rel}:{line}: {name}: {what} is not read")
                return
            text = self._pypi_table(keys, name, value, line)
        else:
            raise self._shape(keys, name, line, "a version string or a table")
        req = parse_requirement(text, self.rel, line)
        self.collector.add(declared_from(req, Location(self.rel, line), group=group, source="pixi", dev=dev))

    def _pypi_table(self, keys: tuple[str, ...], name: str, value: Mapping[str, Any], line: int) -> str:
        extras = value.get("extras", [])
        if not isinstance(extras, list) or not all(isinstance(e, str) for e in extras):
            raise self._shape(keys, name, line, "extras as a list of strings")
        text = name + (f"[{','.join(extras)}]" if extras else "")
        for key in ("version", "url", "env-markers"):
            if key in value and not isinstance(value[key], str):
                raise self._shape(keys, name, line, f"{key} as a string")
        if "url" in value:
            text += f" @ {value['url']}"
        else:
            version = str(value.get("version", "")).strip()
            text += "" if version in ("", "*") else version
        markers = str(value.get("env-markers", "")).strip()
        return f"{text} ; {markers}" if markers else text

    def conda(self, keys: tuple[str, ...], name: str, value: Any, line: int, group: str, dev: bool) -> None:
        if isinstance(value, Mapping):
            value = value.get("version", "*")
        if not isinstance(value, str):
            raise self._shape(keys, name, line, "a version string or a table with `version`")
        declare_conda(self.collector, self.rel, name, pep440(value), line, group=group, dev=dev, source="pixi-conda")
