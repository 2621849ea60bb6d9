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
    """Write a rendered report to `output` atomically, or to stdout.

    Every report of every command leaves through here, so here it is redacted
    (`depslim.redact`): whatever a format shows of its inputs, no credential gets out."""
    if output is None:
        from depslim.redact import redact  # its rules load on first use, not at every command's start

        text = redact(text)
        click.echo(text, nl=not text.endswith("\n"))
    else:
        atomic_write(output, text, force=force)
        click.echo(f"wrote {output}", err=True)


def refuse_overwrite(output: Path | None, *, force: bool) -> None:
    """Fail before any work when --output would overwrite a file without --force."""
    if output is not None and output.exists() and not force:
        raise WriteRefused(f"{output}: exists; pass --force to overwrite it")


# --------------------------------------------------------------------------- shared declarations
# Each option is declared once here and reused by every command that takes it, so the same flag
# means the same thing (and has the same help) everywhere.


def target_options(func: Any) -> Any:
    """`--image`, `--platform`, `--python`: where installed packages are measured."""
    func = click.option("--python", "python", type=click.Path(dir_okay=False, path_type=Path),
                        help="Measure another interpreter's environment (its python executable).")(func)
    func = click.option("--platform", metavar="OS/ARCH",
                        help="Platform of a multi-platform image, e.g. linux/amd64.")(func)
    func = click.option("--image", metavar="REF",
                        help="Measure inside an image: archive, OCI layout, or docker:NAME[:TAG].")(func)
    return func


def project_options(func: Any) -> Any:
    """How the project is read: declaration files, dev/script paths, exclusions, cache, config."""
    func = click.option("--config", "config_file", type=click.Path(dir_okay=False, path_type=Path),
                        help="depslim config file (default: the project's pyproject.toml).")(func)
    func = click.option("--no-cache", is_flag=True, help="Do not read or write the scan cache.")(func)
    func = click.option("--exclude", multiple=True, help="Glob of paths to skip (repeatable).")(func)
    func = click.option("--script-paths", multiple=True, help="Paths whose imports are scripts (repeatable).")(func)
    func = click.option("--dev-paths", multiple=True, help="Paths whose imports are dev-only (repeatable).")(func)
    func = click.option("-r", "--requirements", multiple=True, type=click.Path(path_type=Path),
                        help="Declaration files to read (default: auto-detected; depslim's outputs never).")(func)
    return func


def scope_option(default: str) -> Callable[[Any], Any]:
    """`--scope`: which entrypoints define what the runtime needs."""
    return click.option(
        "--scope", type=click.Choice(["all", "serving"]), default=default, show_default=True,
        help="all: every entrypoint counts; serving: only what the image's command (Dockerfile CMD, else "
             "Procfile) reaches ships, and packages only other entrypoints need are cut as 'unreachable'.",
    )


def allow_build_option(func: Any) -> Any:
    """`--allow-build`: let the resolver build what the requirements name (see `depslim.builds`)."""
    return click.option(
        "--allow-build", is_flag=True, default=False,
        help="Let the resolver build local folders, source archives, editables and VCS requirements the "
             "input names (runs their setup.py or build backend). Without it depslim refuses them: it runs "
             "no code of what it analyses.",
    )(func)
