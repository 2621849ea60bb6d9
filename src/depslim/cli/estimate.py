"""`depslim estimate REQUIREMENTS`: installed size for a target platform, before building anything."""

from __future__ import annotations

import contextlib
from pathlib import Path

import click

from depslim.cli.options import allow_build_option, config_option, output_options, resolve_output, ui, write_report


@click.command(name="estimate")
@click.argument("requirements", type=click.Path(path_type=Path))
@click.option("--platform", default="linux/amd64", show_default=True, help="Target platform (linux/<arch>).")
@click.option("--python-version", "--python", "python", default="3.11", show_default=True,
              help="Target Python version (X.Y) the wheels are chosen for.")
@click.option("--index-url", "-i", default=None, help="Base URL of the package index (PEP 503).")
@click.option("--extra-index-url", multiple=True, help="Extra index URL (repeatable).")
@click.option("--find-links", "find_links", multiple=True, help="Directory or URL with wheels (repeatable).")
@click.option("--isolated", is_flag=True, help="Ignore pip's config files and PIP_* variables.")
@click.option("--no-compile", "no_compile", is_flag=True,
              help="The install uses pip's --no-compile: leave out the estimated .pyc bytecode pip writes.")
@allow_build_option
@config_option
@output_options("estimate")
def command(requirements: Path, platform: str, python: str, index_url: str | None,
            extra_index_url: tuple[str, ...], find_links: tuple[str, ...], isolated: bool, no_compile: bool,
            allow_build: bool,
            config_file: Path | None, fmt: str | None, output: Path | None, force: bool) -> None:
    """What REQUIREMENTS weighs once installed: sizes read from each wheel's zip central directory, plus
    the .pyc pip compiles at install (estimated from the .py bytes; --no-compile leaves it out)."""
    from depslim import estimate as est

    out = resolve_output("estimate", fmt, output, force=force)
    with _status(out.terminal and not ui().quiet, f"resolving {requirements} for {platform}"):
        result = est.estimate_requirements(
            requirements, platform=platform, python=python, index_url=index_url,
            extra_index_urls=extra_index_url, find_links=find_links, isolated=isolated, allow_build=allow_build,
            compile_pyc=not no_compile,
        )
    write_report(out, result)


def _status(enabled: bool, text: str) -> contextlib.AbstractContextManager[object]:
    if not enabled:
        return contextlib.nullcontext()
    from depslim.redact import console

    return console(stderr=True).status(text)
