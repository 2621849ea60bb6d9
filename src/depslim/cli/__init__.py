"""The thin CLI: parse options, call the core, render, write atomically, pick the exit code.

This package is the only place that prints or exits. `ErrorBoundary` turns every
`DepslimError` into one line on stderr (naming the file) and exit 2; a gate failure is exit 1;
an unexpected exception is exit 3 with a short note (traceback only with DEPSLIM_DEBUG=1).
"""

from __future__ import annotations

import importlib
import os
import sys
from typing import Any

import click

from depslim import __version__
from depslim.errors import EXIT_BAD_INPUT, EXIT_BUG, DepslimError

# Each command lives in depslim/cli/<name>.py and exposes `command`; imported lazily so a
# slow import (rich, zstandard) only costs the command that needs it.
COMMANDS: dict[str, str] = {
    "analyze": "depslim.cli.analyze",
    "image": "depslim.cli.image",
    "estimate": "depslim.cli.estimate",
    "audit": "depslim.cli.audit",
    "split": "depslim.cli.split",
    "lock": "depslim.cli.lock",
    "check": "depslim.cli.check",
    "diff": "depslim.cli.diff",
    "slim": "depslim.cli.slim",
    "verify": "depslim.cli.verify",
}


def _commands_available() -> list[str]:
    from importlib.util import find_spec

    return [name for name, module in COMMANDS.items() if find_spec(module) is not None]


def report_error(err: DepslimError) -> None:
    """Print one clear line (plus an optional hint) for an expected error."""
    from rich.markup import escape

    from depslim.redact import console as redacting_console

    console = redacting_console(stderr=True, highlight=False, soft_wrap=True)
    console.print(f"[bold red]error:[/] {escape(err.message)}")
    if err.hint:
        console.print(f"[dim]hint:[/] {escape(err.hint)}")


class DepslimGroup(click.Group):
    """A click group with lazy commands and the single error boundary."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return _commands_available()

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        module = COMMANDS.get(cmd_name)
        if module is None:
            return None
        try:
            return importlib.import_module(module).command  # type: ignore[no-any-return]
        except ModuleNotFoundError as exc:
            if exc.name == module:
                return None
            raise

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except DepslimError as err:
            report_error(err)
            ctx.exit(err.exit_code)
        except (click.exceptions.Exit, click.ClickException, click.Abort):
            raise
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            ctx.exit(130)
        except Exception as exc:  # the boundary: anything else is a bug, said plainly
            if os.environ.get("DEPSLIM_DEBUG"):
                raise
            from depslim.redact import redact

            click.echo(
                redact(f"internal error: {type(exc).__name__}: {exc} ")
                + "(set DEPSLIM_DEBUG=1 for a traceback and report it)",
                err=True,
            )
            ctx.exit(EXIT_BUG)


@click.group(cls=DepslimGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="depslim")
def cli() -> None:
    """Find what your Python ML project really needs at runtime, and what it weighs."""


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point."""
    try:
        cli.main(args=argv, prog_name="depslim", standalone_mode=True)
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else EXIT_BAD_INPUT)
        sys.exit(code)
