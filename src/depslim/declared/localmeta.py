"""The name of a local project directory, read statically from its metadata files.

Used to name bare path requirements (`./localpkg`, `-e ../lib`) without building or running them.
"""

from __future__ import annotations

import configparser
import tomllib
from pathlib import Path

from packaging.utils import canonicalize_name

from depslim.inputfile import read_text


def local_project_name(directory: Path) -> str | None:
    """Canonical name from pyproject ([project] or [tool.poetry]) or setup.cfg [metadata]; else None."""
    pyproject = directory / "pyproject.toml"
    if pyproject.is_file():
        try:
            data = tomllib.loads(read_text(pyproject))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
            data = {}
        for table in (data.get("project", {}), data.get("tool", {}).get("poetry", {})):
            name = table.get("name") if isinstance(table, dict) else None
            if isinstance(name, str) and name:
                return canonicalize_name(name)
    setup_cfg = directory / "setup.cfg"
    if setup_cfg.is_file():
        parser = configparser.ConfigParser(interpolation=None)
        try:
            parser.read(setup_cfg, encoding="utf-8")
        except (configparser.Error, UnicodeDecodeError):
            return None
        name = parser.get("metadata", "name", fallback="").strip()
        if name:
            return canonicalize_name(name)
    return None
