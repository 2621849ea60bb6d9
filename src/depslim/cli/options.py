"""Options and helpers every command shares: output format, output file, atomic write."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from depslim.errors import WriteRefused
from depslim.fsio import atomic_write


def output_options(formats: list[str], default: str = "terminal") -> Callable[[Any], Any]:
    """`--format` and `--output` for a command whose report formats are `formats`."""

    def decorate(func: Any) -> Any:
        func = click.option(
            "--output", "-o", type=click.Path(dir_okay=False, path_type=Path), default=None,
            help="Write the report to FILE (atomically) instead of stdout.",
        )(func)
        func = click.option(
            "--format", "-f", "fmt", type=click.Choice(formats), default=default, show_default=True,
            help="Report format.",
        )(func)
        func = click.option(
            "--force", is_flag=True, default=False, help="Overwrite existing output files.",
        )(func)
        return func

    return decorate


def emit(text: str, output: Path | None, *, force: bool) -> None:
    """Write a rendered report to `output` atomically, or to stdout."""
    if output is None:
        click.echo(text, nl=not text.endswith("\n"))
    else:
        atomic_write(output, text, force=force)
        click.echo(f"wrote {output}", err=True)


def refuse_overwrite(output: Path | None, *, force: bool) -> None:
    """Fail before any work when --output would overwrite a file without --force."""
    if output is not None and output.exists() and not force:
        raise WriteRefused(f"{output}: exists; pass --force to overwrite it")
