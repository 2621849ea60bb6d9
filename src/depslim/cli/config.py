"""`--config` and `[tool.depslim]`: one eager callback fills click's `default_map` (pip-tools' habit).

Keys are option names in kebab case (`--dev-paths` is `dev-paths`), so one schema serves flags and
file (command line > `[tool.depslim.<command>]` > `[tool.depslim]` > built-in default). The file is
typed and typo-checked by `depslim.config` (file:line, did-you-mean); here each key is matched to
the command's own click parameters:

- a key in `[tool.depslim.<command>]` must be an option of that command, or a key the analysis
  reads (`ANALYSIS_KEYS`: keep, ignore, swaps...) for a command that analyses;
- a key in `[tool.depslim]` fills every command that has that option and is ignored by the others
  (`forbid` means nothing to `lock`);
- a value for a `click.Path` option is relative to the config file, not the current folder.

`python` is an interpreter (`--python` of the measuring commands); a lock or estimate target is
`python-version`. A version written as `python` is refused with that hint.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import click

from depslim.errors import InputError

META_KEY = "depslim.config"

# Keys read from the config by the analysis itself (core, finders, swap rules), not by a click option.
ANALYSIS_KEYS = frozenset({
    "keep", "ignore", "swaps", "removals", "swaps-file", "rules-file", "disable-swaps", "offline", "index-urls",
    "find-links", "dockerfile",
})
# Commands that run the analysis and so read ANALYSIS_KEYS.
ANALYSING = frozenset({"analyze", "check", "audit", "split", "slim", "verify"})
# Options a config file must not set: where the report goes, overwriting, the config itself.
NOT_CONFIGURABLE = frozenset({"output", "force", "config", "help", "version"})
_VERSION = re.compile(r"^\d+(\.\d+){0,2}$")


def option_keys(command: click.Command) -> dict[str, click.Option]:
    """Config key → option: each option's first long name without dashes (`--python-version` → python-version)."""
    keys: dict[str, click.Option] = {}
    for param in command.params:
        if not isinstance(param, click.Option):
            continue
        long = next((opt[2:] for opt in param.opts if opt.startswith("--")), None)
        if long and long not in NOT_CONFIGURABLE:
            keys[long] = param
    return keys


def _did_you_mean(key: str, known: list[str]) -> str | None:
    import difflib

    close = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
    return f"did you mean {close[0]!r}?" if close else None


def _value(key: str, value: Any, option: click.Option, base: Path, where: str) -> Any:
    """The config value as the option takes it: lists as tuples, paths relative to the config file."""
    if key == "python" and isinstance(value, str) and _VERSION.match(value):
        raise InputError(where, f"python = {value!r} is an interpreter path; a target Python version is "
                               "`python-version`", hint=f"write python-version = {value!r}")
    if isinstance(option.type, click.Path):
        items = value if isinstance(value, list) else [value]
        resolved = [str(base / item) if not Path(str(item)).is_absolute() else str(item) for item in items]
        value = resolved if isinstance(value, list) else resolved[0]
    if option.multiple and isinstance(value, list):
        return tuple(value)
    return value


def command_defaults(config: Any, command: click.Command, name: str) -> dict[str, Any]:
    """`default_map` for one command from a loaded `depslim.config.ProjectConfig`; rejects misplaced keys."""
    keys = option_keys(command)
    base = config.path.parent if config.path is not None else Path(".")
    where = str(config.path or "config")
    own: Mapping[str, Any] = config.commands.get(name, {})
    readable = set(keys) | (set(ANALYSIS_KEYS) if name in ANALYSING else set())
    for key in own:
        if key not in readable:
            line = _line_of(config.path, name, key)
            if key == "python" and "python-version" in readable:
                raise InputError(where, f"[tool.depslim.{name}] python: `depslim {name}` takes python-version "
                                 "(the target Python version); python names an interpreter",
                                 line, hint=f"write python-version = {own[key]!r}")
            raise InputError(where, f"unknown key {key!r} in [tool.depslim.{name}]: "
                             f"`depslim {name}` has no --{key}", line, hint=_did_you_mean(key, sorted(readable)))
    merged = {**config.values, **own}
    return {keys[k].name: _value(k, v, keys[k], base, where) for k, v in merged.items()
            if k in keys and keys[k].name and (k in own or _fits(keys[k], v))}


def _line_of(path: Path | None, command: str, key: str) -> int | None:
    """The line of `key` inside `[tool.depslim.<command>]` (or `[<command>]` in depslim.toml): the error
    names it, as every other config error does. None when the file cannot be read."""
    if path is None:
        return None
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    inside = False
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if line.startswith("["):
            inside = line.strip("[] ") in (f"tool.depslim.{command}", command)
        elif inside and line.split("=", 1)[0].strip().strip('"') == key:
            return number
    return None


def _fits(option: click.Option, value: Any) -> bool:
    """A top-level value fills a command only when it is one of the command's choices: `format = "json"`
    is for the reports, not for `lock --format requirements|pylock`. (Typos are caught by the schema.)"""
    return not isinstance(option.type, click.Choice) or value in option.type.choices


def _load(ctx: click.Context, _param: click.Parameter, value: Path | None) -> Path | None:
    """Eager --config callback: load the config, validate it against this command, fill default_map.

    Runs before the other options are converted (it is eager), after the PATH argument when one is
    given (also eager, and first on the command line), so the project's own config is found."""
    from depslim.config import load_config

    path = ctx.params.get("path")
    root = path if isinstance(path, Path) and path.is_dir() else Path(".")
    config = load_config(root, value)
    ctx.meta[META_KEY] = config
    assert ctx.command.name is not None
    ctx.default_map = {**(ctx.default_map or {}), **command_defaults(config, ctx.command, ctx.command.name)}
    return value


def config_option(func: Any) -> Any:
    """`--config FILE`: the depslim config (default: PATH's depslim.toml, else its pyproject.toml)."""
    return click.option("--config", "config_file", type=click.Path(dir_okay=False, path_type=Path), is_eager=True,
                        callback=_load, help="depslim config file (default: the project's depslim.toml or "
                                             "pyproject.toml [tool.depslim]).")(func)


def analysis_config() -> dict[str, Any]:
    """The config values the analysis reads (top level + this command's table), for `AnalyzeOptions.config`."""
    ctx = click.get_current_context()
    config = ctx.meta.get(META_KEY)
    if config is None:
        return {}
    name = ctx.command.name or ""
    return {**config.values, **config.commands.get(name, {})}
