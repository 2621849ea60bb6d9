"""`[tool.depslim]` (pyproject.toml) or `depslim.toml`: defaults for the CLI options.

Keys are the CLI option names in kebab-case, so one schema serves flags and file (deptry's
habit): `dev-paths` in the file is `--dev-paths` on the command line and `dev_paths` in click's
`default_map` (filled by `depslim.cli.config`, which also checks each key against the command).
The known keys and their types live in `data/config_keys.toml`; an unknown key is an error with
a did-you-mean hint (pypa/build's `_find_typo`), because a typo that is silently ignored turns
a CI budget off. Precedence: command line > `[tool.depslim.<command>]` > `[tool.depslim]` >
built-in defaults.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from depslim.errors import InputError
from depslim.inputfile import missing_reason, read_text

if TYPE_CHECKING:
    from depslim.declared.tomlpos import TomlPositions

# The TOML-position, declared-dependency and data-file machinery is imported only when a file
# holds a config to validate: a project without one (most) costs one tomllib parse, which matters
# for `depslim lock`, whose resolver waits for the options.

CONFIG_FILE = "depslim.toml"

# SI (powers of 1000) and IEC (powers of 1024) units; bare K/M/G are refused as ambiguous.
_UNITS: dict[str, int] = {
    "b": 1,
    "kb": 1000,
    "mb": 1000**2,
    "gb": 1000**3,
    "tb": 1000**4,
    "kib": 1024,
    "mib": 1024**2,
    "gib": 1024**3,
    "tib": 1024**4,
}
_SIZE = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*([A-Za-z]*)\s*$")


def parse_size(text: object) -> int:
    """Bytes from an int or a string such as "500MB", "1.2GiB", "2 kB", "1024" (SI and IEC units).

    Any other value (an unchecked config or flag value) is read as its str(); bools are rejected."""
    if isinstance(text, bool):
        raise ValueError(f"not a size: {text!r}")
    if isinstance(text, int):
        if text < 0:
            raise ValueError(f"size must not be negative: {text}")
        return text
    match = _SIZE.match(str(text))
    if not match:
        raise ValueError(f"not a size: {text!r} (write e.g. 500MB, 1.2GiB or a number of bytes)")
    number, unit = match.groups()
    factor = _UNITS.get(unit.lower() or "b")
    if factor is None:
        raise ValueError(f"unknown size unit {unit!r} in {text!r} (use B, kB, MB, GB, TB, KiB, MiB, GiB, TiB)")
    return round(float(number) * factor)


@dataclass(frozen=True)
class ProjectConfig:
    """Validated config values (kebab-case keys) and the file they came from (None: no config)."""

    values: Mapping[str, Any]
    path: Path | None
    commands: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)  # [tool.depslim.<command>]

    def get(self, key: str, command: str | None = None, default: Any = None) -> Any:
        """A value with command-specific overrides applied."""
        if command and key in self.commands.get(command, {}):
            return self.commands[command][key]
        return self.values.get(key, default)


@dataclass(frozen=True)
class _KeySpec:
    type: str
    commands: tuple[str, ...]
    choices: tuple[str, ...] = ()


def _schema() -> tuple[dict[str, _KeySpec], tuple[str, ...]]:
    from depslim.knowledge import check_keys, load_data

    data = load_data("config_keys")
    where = "depslim/data/config_keys.toml"
    check_keys(data, required=("keys", "commands"), where=where)
    specs = {}
    for key, record in data["keys"].items():
        check_keys(record, required=("type", "help", "commands"), optional=("choices",), where=f"{where} [{key}]")
        if record["type"] not in _VALIDATORS:
            raise InputError(where, f"[keys.{key}] unknown type {record['type']!r}")
        specs[key] = _KeySpec(record["type"], tuple(record["commands"]), tuple(record.get("choices", ())))
    return specs, tuple(data["commands"]["names"])


# -- type validators: return the normalised value or raise ValueError with what was expected -------


def _str(value: Any) -> Any:
    if not isinstance(value, str):
        raise ValueError("a string")
    return value


def _bool(value: Any) -> Any:
    if not isinstance(value, bool):
        raise ValueError("true or false")
    return value


def _int(value: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError("an integer")
    return value


def _number(value: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError("a number")
    return value


def _size(value: Any) -> Any:
    expected = 'a size (bytes, or a string like "500MB" or "1.2GiB")'
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ValueError(expected)
    try:
        return parse_size(value)
    except ValueError as exc:
        raise ValueError(f"{expected}: {exc}") from None


def _percent(value: Any) -> Any:
    if isinstance(value, str) and value.strip().endswith("%"):
        try:
            value = float(value.strip()[:-1])
        except ValueError:
            raise ValueError('a percentage (a number from 0 to 100, or "5%")') from None
    number = _number(value)
    if not 0 <= number <= 100:
        raise ValueError("a percentage from 0 to 100")
    return number


def _str_list(value: Any) -> Any:
    if isinstance(value, str):
        return [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError("a list of strings")
    return list(value)


def _bool_or_list(value: Any) -> Any:
    if isinstance(value, bool):
        return value
    try:
        return _str_list(value)
    except ValueError:
        raise ValueError("true/false or a list of strings") from None


def _entries(value: Any) -> Any:
    ok = isinstance(value, list) and all(
        isinstance(v, str) or (isinstance(v, dict) and all(isinstance(x, str) for x in v.values())) for v in value
    )
    if not ok:
        raise ValueError('a list of strings or tables of strings (e.g. {name = "x", reason = "..."})')
    return list(value)


def _tables(value: Any) -> Any:
    if isinstance(value, dict):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise ValueError("a list of tables")
    return list(value)


_VALIDATORS = {
    "str": _str,
    "bool": _bool,
    "int": _int,
    "number": _number,
    "size": _size,
    "percent": _percent,
    "list[str]": _str_list,
    "str|list[str]": lambda v: v if isinstance(v, str) else _str_list(v),
    "bool|list[str]": _bool_or_list,
    "entries": _entries,
    "tables": _tables,
}


def _did_you_mean(key: str, known: list[str]) -> str | None:
    import difflib

    close = difflib.get_close_matches(key.replace("_", "-").lower(), known, n=1, cutoff=0.6)
    return f"did you mean {close[0]!r}?" if close else None


class _Validator:
    def __init__(self, rel: str, positions: TomlPositions, prefix: tuple[str, ...]) -> None:
        self.rel = rel
        self.positions = positions
        self.prefix = prefix
        self.specs, self.commands = _schema()

    def table(self, table: Mapping[str, Any], where: tuple[str, ...]) -> dict[str, Any]:
        values: dict[str, Any] = {}
        header = "[" + ".".join(where) + "]" if where else "the top level"
        for key, value in table.items():
            line = self.positions.key_line((*where, key))
            spec = self.specs.get(key)
            if spec is None:
                known = sorted(self.specs) + ([] if len(where) > len(self.prefix) else list(self.commands))
                raise InputError(
                    self.rel, f"unknown key {key!r} in {header}", line or None, hint=_did_you_mean(key, known)
                )
            try:
                normalised = _VALIDATORS[spec.type](value)
            except ValueError as exc:
                raise InputError(self.rel, f"{header} {key} must be {exc}, got {value!r}", line or None) from None
            if spec.choices and normalised not in spec.choices:
                raise InputError(
                    self.rel,
                    f"{header} {key} must be one of {', '.join(spec.choices)}, got {value!r}",
                    line or None,
                    hint=_did_you_mean(str(normalised), list(spec.choices)),
                )
            values[key] = normalised
        return values

    def config(self, table: Mapping[str, Any], path: Path) -> ProjectConfig:
        plain = {k: v for k, v in table.items() if not (k in self.commands and isinstance(v, dict))}
        per_command = {
            k: self.table(v, (*self.prefix, k)) for k, v in table.items() if k in self.commands and isinstance(v, dict)
        }
        return ProjectConfig(values=self.table(plain, self.prefix), path=path, commands=per_command)


def _without_config(path: Path) -> bool:
    """True only for a pyproject.toml that is valid TOML with no [tool.depslim] table.

    Anything else (another file name, unreadable or invalid TOML) goes through `load_toml`,
    which reports it with file and line.
    """
    if path.name != "pyproject.toml":
        return False
    import tomllib

    try:
        data = tomllib.loads(read_text(path))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return False
    tool = data.get("tool", {})
    return not (isinstance(tool, dict) and "depslim" in tool)


def _read(path: Path, root: Path) -> ProjectConfig | None:
    """The config in one file: [tool.depslim] of a pyproject, or a depslim.toml's top level."""
    if _without_config(path):
        return None
    from depslim.declared.base import load_toml, rel_path
    from depslim.declared.tomlpos import TomlPositions

    rel = rel_path(path, root)
    data, text = load_toml(path, rel)
    tool = data.get("tool", {})
    prefix: tuple[str, ...]
    if isinstance(tool, dict) and "depslim" in tool:
        table, prefix = tool["depslim"], ("tool", "depslim")
    elif path.name == CONFIG_FILE or path.name != "pyproject.toml":
        table, prefix = data, ()
    else:
        return None
    if not isinstance(table, dict):
        raise InputError(rel, "[tool.depslim] must be a table")
    return _Validator(rel, TomlPositions(text), prefix).config(table, path)


def load_config(root: Path, config_file: Path | None = None) -> ProjectConfig:
    """Load and validate the project's config.

    With `config_file`, that file (a pyproject.toml's [tool.depslim], or a depslim.toml whose top
    level is the table). Otherwise `root/depslim.toml` if present, else `root/pyproject.toml`'s
    [tool.depslim]; no config at all gives empty values and `path=None`.
    """
    root = Path(root)
    if config_file is not None:
        if not Path(config_file).is_file():
            raise InputError(config_file, f"config file {missing_reason(config_file)}")
        return _read(Path(config_file), root) or ProjectConfig(values={}, path=Path(config_file))
    for candidate in (root / CONFIG_FILE, root / "pyproject.toml"):
        if candidate.is_file():
            found = _read(candidate, root)
            if found is not None:
                return found
    return ProjectConfig(values={}, path=None)
