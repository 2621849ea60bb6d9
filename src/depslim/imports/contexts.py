"""Which context (runtime, dev, script) a project file belongs to.

The rules are data (`depslim/data/contexts.toml`); `[tool.depslim] dev-paths/script-paths`
replace the directory lists. A plain name ("tests") matches a directory of that name — at
any depth for dev, at the project root for script, because `pkg/tools/` inside a package is
package code while a root `tools/` folder is not. An entry with "/" or a glob character is a
project-relative path glob ("src/pkg/experimental", "ops/*").
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

from depslim.knowledge import check_keys, load_data
from depslim.model import Context

_TOP_KEYS = ("dev", "script", "notebooks", "runners", "wrappers")


@cache
def context_data() -> dict[str, Any]:
    """contexts.toml, validated once per process."""
    data = dict(load_data("contexts"))
    where = "depslim/data/contexts.toml"
    check_keys(data, required=_TOP_KEYS, where=where)
    for section in ("dev", "script"):
        check_keys(data[section], required=("dirs", "files"), where=f"{where} [{section}]")
    check_keys(data["notebooks"], required=("python_cell_magics",), where=f"{where} [notebooks]")
    for name, runner in data["runners"].items():
        check_keys(runner, required=("kind", "value_options"), optional=("companions", "env_app"),
                   where=f"{where} [runners.{name}]")
    check_keys(
        data["wrappers"], required=("names", "skip_words", "value_options", "takes_argument"),
        where=f"{where} [wrappers]",
    )
    return data


def _is_glob(entry: str) -> bool:
    return "/" in entry or any(ch in entry for ch in "*?[")


def _path_regex(entries: Sequence[str]) -> re.Pattern[str] | None:
    """Project-relative path globs -> one regex matching the path or anything under it."""
    globs = [e.strip("/") for e in entries if _is_glob(e)]
    if not globs:
        return None
    parts = [fnmatch.translate(g).removesuffix(r"\Z").removeprefix("(?s:").removesuffix(")") for g in globs]
    return re.compile("(?s:" + "|".join(f"(?:{p})" for p in parts) + r")(?:/.*)?\Z")


def _name_regex(globs: Sequence[str]) -> re.Pattern[str] | None:
    if not globs:
        return None
    return re.compile("|".join(f"(?:{fnmatch.translate(g)})" for g in globs))


@dataclass(frozen=True)
class ContextRules:
    dev_dirs: frozenset[str]
    dev_paths: re.Pattern[str] | None
    dev_files: re.Pattern[str] | None
    script_dirs: frozenset[str]
    script_paths: re.Pattern[str] | None
    script_files: re.Pattern[str] | None

    @classmethod
    def build(cls, dev_paths: Sequence[str] | None, script_paths: Sequence[str] | None) -> ContextRules:
        data = context_data()
        dev = list(data["dev"]["dirs"]) if dev_paths is None else list(dev_paths)
        script = list(data["script"]["dirs"]) if script_paths is None else list(script_paths)
        return cls(
            dev_dirs=frozenset(e.strip("/") for e in dev if not _is_glob(e)),
            dev_paths=_path_regex(dev),
            dev_files=_name_regex(data["dev"]["files"]),
            script_dirs=frozenset(e.strip("/") for e in script if not _is_glob(e)),
            script_paths=_path_regex(script),
            script_files=_name_regex(data["script"]["files"]),
        )

    def context_of(self, rel: str) -> Context:
        """Context of a project-relative POSIX path."""
        if rel.endswith(".ipynb"):
            return Context.DEV
        directory, _, name = rel.rpartition("/")
        if self.dev_files is not None and self.dev_files.match(name):
            return Context.DEV
        dirs = directory.split("/") if directory else []
        if any(d in self.dev_dirs for d in dirs) or (self.dev_paths is not None and self.dev_paths.match(rel)):
            return Context.DEV
        if (dirs and dirs[0] in self.script_dirs) or (
            self.script_paths is not None and self.script_paths.match(rel)
        ):
            return Context.SCRIPT
        if self.script_files is not None and self.script_files.match(name):
            return Context.SCRIPT
        return Context.RUNTIME
