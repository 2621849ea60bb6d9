"""`depslim analyze [PATH]`: what the project needs at runtime, what it weighs, what to cut."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from depslim.cachedir import cache_root
from depslim.cli.config import analysis_config
from depslim.cli.options import (
    output_options,
    project_options,
    resolve_output,
    scope_option,
    target_options,
    write_report,
)
from depslim.cli.progress import progress_for_terminal
from depslim.core import AnalyzeOptions, analyze
from depslim.model import Scope


def default_cache_dir() -> Path:
    return Path(cache_root()) / "scan"


@click.command(name="analyze")
@click.argument("path", type=click.Path(path_type=Path), default=".", is_eager=True)
@target_options
@project_options
@scope_option("all")
@output_options("analyze")
def command(**p: Any) -> None:
    """Scan PATH's imports, measure the target, give every dependency a verdict with evidence."""
    root = Path(str(p["path"]))
    out = resolve_output("analyze", p["fmt"], p["output"], force=p["force"])
    options = AnalyzeOptions(
        project=root,
        target=p["target"],
        requirements=tuple(Path(str(r)) for r in p["requirements"]),
        dev_paths=tuple(p["dev_paths"]) or None,
        script_paths=tuple(p["script_paths"]) or None,
        exclude=tuple(p["exclude"]),
        cache_dir=None if p["no_cache"] else default_cache_dir(),
        config=analysis_config(),
        scope=Scope(str(p["scope"])),
        serving_dockerfile=str(p["dockerfile"]),
    )
    with progress_for_terminal(out.terminal or out.path is not None) as progress:
        result = analyze(options, progress)
    write_report(out, result)
