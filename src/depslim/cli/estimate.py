"""`depslim estimate REQUIREMENTS`: installed size for a target platform, before building anything."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import TYPE_CHECKING

import click

from depslim.cli.options import allow_build_option, emit, output_options

if TYPE_CHECKING:
    from depslim.estimate import Estimate


@click.command(name="estimate")
@click.argument("requirements", type=click.Path(path_type=Path))
@click.option("--platform", default="linux/amd64", show_default=True, help="Target platform (linux/<arch>).")
@click.option("--python", "python", default="3.11", show_default=True, help="Target Python version (X.Y).")
@click.option("--index-url", "-i", default=None, help="Base URL of the package index (PEP 503).")
@click.option("--extra-index-url", multiple=True, help="Extra index URL (repeatable).")
@click.option("--find-links", "find_links", multiple=True, help="Directory or URL with wheels (repeatable).")
@click.option("--isolated", is_flag=True, help="Ignore pip's config files and PIP_* variables.")
@allow_build_option
@output_options(["terminal", "json", "markdown"])
def command(requirements: Path, platform: str, python: str, index_url: str | None,
            extra_index_url: tuple[str, ...], find_links: tuple[str, ...], isolated: bool, allow_build: bool,
            fmt: str, output: Path | None, force: bool) -> None:
    """What REQUIREMENTS weighs once installed: sizes read from each wheel's zip central directory."""
    from depslim import estimate as est

    with _status(fmt == "terminal" and output is None, f"resolving {requirements} for {platform}"):
        result = est.estimate_requirements(
            requirements, platform=platform, python=python, index_url=index_url,
            extra_index_urls=extra_index_url, find_links=find_links, isolated=isolated, allow_build=allow_build,
        )
    if fmt == "json":
        emit(est.render_json(result), output, force=force)
    elif fmt == "markdown":
        emit(est.render_markdown(result), output, force=force)
    else:
        emit(_terminal(result), output, force=force)


def _status(enabled: bool, text: str) -> contextlib.AbstractContextManager[object]:
    if not enabled:
        return contextlib.nullcontext()
    from depslim.redact import console

    return console(stderr=True).status(text)


def _terminal(result: Estimate) -> str:
    from io import StringIO

    from rich.table import Table

    from depslim.audit import human
    from depslim.redact import console as redacting_console

    out = StringIO()
    console = redacting_console(file=out, width=120, highlight=False, color_system=None)
    table = Table(title=f"{result.requirements} on {result.platform}, Python {result.python}")
    for col, justify in (("package", "left"), ("version", "left"), ("installed", "right"),
                         ("download", "right"), ("measured", "left")):
        table.add_column(col, justify=justify)  # type: ignore[arg-type]
    for p in result.packages:
        table.add_row(p.name, p.version, human(p.installed_bytes), human(p.wheel_bytes),
                      "estimate (sdist)" if p.estimate else "central directory")
    console.print(table)
    console.print(f"total installed {human(result.installed_bytes)} ({human(result.wheel_bytes)} download); "
                  f"{human(result.fetched_bytes)} fetched to measure it"
                  + (f"; {len(result.estimated)} estimated" if result.estimated else ""))
    for problem in result.problems:
        console.print(f"not measured: {problem}")
    return out.getvalue()
