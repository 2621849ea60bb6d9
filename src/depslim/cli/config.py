"""`[tool.depslim]` values fill the options a user did not give on the command line.

Config keys are the option names in kebab case, so one schema serves flags and file
(command line > pyproject > built-in default).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click


def project_config(root: Path | None, config_file: Path | None = None) -> dict[str, Any]:
    """The [tool.depslim] table of the project (validated by depslim.config when present)."""
    if root is None and config_file is None:
        return {}
    try:
        from depslim.config import load_config
    except ImportError:  # pragma: no cover - config module ships with the package
        return {}
    return dict(load_config(root or Path("."), config_file).values)


def apply_config(ctx: click.Context, params: dict[str, Any], config: dict[str, Any]) -> dict[str, Any]:
    """Fill every parameter still at its default from the config (kebab-case keys)."""
    merged = dict(params)
    for key, value in config.items():
        param = key.replace("-", "_")
        if param not in merged:
            continue
        source = ctx.get_parameter_source(param)
        if source in (None, click.core.ParameterSource.DEFAULT):
            if isinstance(merged[param], tuple) and isinstance(value, list):
                value = tuple(value)
            merged[param] = value
    return merged
