"""Options and helpers every command shares: output format and file, ui flags, target, project.

Each option is declared once here; a command is a short declaration over these (pip-tools habit).
The report leaves through `write_report` only: format choice, stamp, redaction, atomic write."""

from __future__ import annotations

import dataclasses
import functools
import os
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, overload

import click

from depslim.cli.config import config_option
from depslim.errors import WriteRefused
from depslim.fsio import atomic_write
from depslim.inputfile import read_text
from depslim.report.base import KINDS, RenderOptions

# Where the --quiet/--verbose/--color choices live for the rest of the run (click's ctx.meta is
# shared by every context of one invocation), so progress, notes and renderers read one answer.
UI_KEY = "depslim.ui"


@dataclass(frozen=True)
class Ui:
    """The run's verbosity and colour, from `--quiet`, `--verbose` and `--color`."""

    quiet: bool = False
    verbose: bool = False
    color: str = "auto"


def ui() -> Ui:
    """The current run's `Ui` (defaults outside a click command, e.g. in library use)."""
    ctx = click.get_current_context(silent=True)
    found = ctx.meta.get(UI_KEY) if ctx is not None else None
    return found if isinstance(found, Ui) else Ui()


def _set_ui(field_name: str) -> Callable[[click.Context, click.Parameter, Any], None]:
    def callback(ctx: click.Context, _param: click.Parameter, value: Any) -> None:
        if value in (None, False):
            return
        current = ctx.meta.get(UI_KEY)
        ctx.meta[UI_KEY] = replace(current if isinstance(current, Ui) else Ui(), **{field_name: value})

    return callback


def ui_options(func: Any) -> Any:
    """`--quiet`, `--verbose`, `--color`: the same three on every command, read through `ui()`."""
    func = click.option("--color", type=click.Choice(["auto", "always", "never"]), default=None, expose_value=False,
                        callback=_set_ui("color"),
                        help="Colour the terminal report [default: auto (a tty, no NO_COLOR)].")(func)
    func = click.option("--verbose", "-v", is_flag=True, default=False, expose_value=False,
                        callback=_set_ui("verbose"), help="Show every note and warning, not the first few.")(func)
    func = click.option("--quiet", "-q", is_flag=True, default=False, expose_value=False,
                        callback=_set_ui("quiet"), help="No progress and no notes on stderr; only the report.")(func)
    return func


def output_options(kind: str) -> Callable[[Any], Any]:
    """`--format`, `--output`, `--force` and the ui options for a command whose report is a `kind` report.

    Its --format choices are the registered formats that render `kind` (`depslim.report.formats_for`),
    so a new format module reaches every command that can show it with no change here."""
    from depslim.report import formats_for

    def decorate(func: Any) -> Any:
        func = click.option(
            "--output", "-o", type=click.Path(dir_okay=False, path_type=Path), default=None,
            help="Write the report to FILE (atomically); its suffix (.json, .md, .sarif, .html) picks the format.",
        )(func)
        func = click.option(
            "--format", "-f", "fmt", type=click.Choice(formats_for(kind)), default=None,
            help="Report format [default: from the --output suffix, else terminal].",
        )(func)
        func = click.option(
            "--force", is_flag=True, default=False, help="Overwrite an --output file depslim did not write.",
        )(func)
        if {"markdown", "html"} & set(formats_for(kind)):  # formats that link evidence to file:line
            func = click.option(
                "--repository-url", metavar="URL", expose_value=False, callback=_keep(REPOSITORY_KEY),
                help="Link file:line in Markdown and HTML to this repository (default: from GITHUB_* env).",
            )(func)
        return ui_options(func)

    return decorate


REPOSITORY_KEY = "depslim.repository_url"


def _keep(key: str) -> Callable[[click.Context, click.Parameter, Any], None]:
    """Store an option's value for `resolve_output`, so no command has to pass it along."""
    def callback(ctx: click.Context, _param: click.Parameter, value: Any) -> None:
        if value is not None:
            ctx.meta[key] = value

    return callback


@dataclass(frozen=True)
class Output:
    """Where one report goes and how it is drawn, decided once before any work."""

    kind: str
    fmt: str
    path: Path | None
    force: bool
    options: RenderOptions

    @property
    def terminal(self) -> bool:
        """True when a person is likely watching: the terminal format to stdout."""
        return self.fmt == "terminal" and self.path is None


def _use_color(choice: str, path: Path | None) -> bool:
    if choice != "auto":
        return choice == "always"
    if path is not None or os.environ.get("NO_COLOR"):
        return False
    return bool(os.environ.get("FORCE_COLOR")) or sys.stdout.isatty()


def resolve_output(kind: str, fmt: str | None, path: Path | None, *, force: bool, **render: Any) -> Output:
    """Pick the format (`-f`, else the `-o` suffix, else terminal), refuse a bad overwrite early.

    A suffix that names a format this command cannot write is a usage error, not a silent terminal
    table in `r.sarif`."""
    from depslim import report

    if fmt is None:
        fmt = report.infer(path) or "terminal"
        if not report.get(fmt).supports(kind):
            raise click.UsageError(f"{path}: depslim {kind} cannot write {fmt} (formats: "
                                   f"{', '.join(report.formats_for(kind))}); pass --format")
    refuse_overwrite(path, force=force)
    context = click.get_current_context(silent=True)
    if context is not None and REPOSITORY_KEY in context.meta:
        render.setdefault("repository_url", context.meta[REPOSITORY_KEY])
    width = 100 if path is not None else shutil.get_terminal_size((100, 24)).columns
    current = ui()
    options = RenderOptions(width=max(width, 40), color=_use_color(current.color, path), verbose=current.verbose,
                            **render)
    return Output(kind, fmt, path, force, options)


def write_report(out: Output, report_value: Any) -> None:
    """Render `report_value` in the chosen format and write it (stamped when it goes to a file)."""
    from depslim import report

    fmt = report.get(out.fmt)
    text = fmt.render(out.kind, report_value, out.options)
    if out.path is not None and fmt.comment is not None:
        from depslim.generate.stamp import stamp

        text = stamp(text, comment=fmt.comment)
    emit(text, out.path, force=True, color=out.options.color)


def emit(text: str, output: Path | None, *, force: bool, color: bool = False) -> None:
    """Write a rendered report to `output` atomically, or to stdout.

    Every report of every command leaves through here, so here it is redacted
    (`depslim.redact`): whatever a format shows of its inputs, no credential gets out."""
    if output is None:
        from depslim.redact import redact  # its rules load on first use, not at every command's start

        text = redact(text)
        click.echo(text, nl=not text.endswith("\n"), color=color or None)
    else:
        atomic_write(output, text, force=force)
        if not ui().quiet:
            click.echo(f"wrote {output}", err=True)


def written_by_depslim(text: str) -> bool:
    """True for a report depslim wrote and nobody edited since: an intact stamp, or depslim's JSON.

    JSON cannot carry a comment, so a JSON file counts when it is a depslim document (its
    `schema_version`/`schema`/`kind` keys, or SARIF whose driver is depslim)."""
    import json

    from depslim.generate.stamp import is_intact

    if is_intact(text):
        return True
    try:
        doc = json.loads(text)
    except ValueError:
        return False
    if not isinstance(doc, dict):
        return False
    schema = doc.get("schema")
    if "schema_version" in doc or (isinstance(schema, str) and schema.startswith("depslim")):
        return True
    if doc.get("kind") in KINDS:
        return True
    runs = doc.get("runs")
    first = runs[0] if isinstance(runs, list) and runs else None
    tool = first.get("tool") if isinstance(first, dict) else None
    driver = tool.get("driver") if isinstance(tool, dict) else None
    return isinstance(driver, dict) and driver.get("name") == "depslim"


def refuse_overwrite(output: Path | None, *, force: bool) -> None:
    """Fail before any work when --output would replace a file depslim did not write (without --force).

    Rerunning a report onto its previous output is the normal CI loop, so depslim's own intact
    reports are replaced freely; anything else (a user's file, a hand-edited report) needs --force."""
    if output is None or force or not output.exists():
        return
    try:
        text = read_text(output)
    except (OSError, UnicodeDecodeError):
        text = ""
    if not written_by_depslim(text):
        raise WriteRefused(f"{output}: exists and is not a report depslim wrote; pass --force to overwrite it")


# --------------------------------------------------------------------------- shared declarations
# Each option is declared once here and reused by every command that takes it, so the same flag
# means the same thing (and has the same help) everywhere.


@overload
def target_options(func: Callable[..., Any]) -> Callable[..., Any]: ...


@overload
def target_options(*, without: tuple[str, ...] = ()) -> Callable[[Callable[..., Any]], Callable[..., Any]]: ...


def target_options(func: Callable[..., Any] | None = None, *, without: tuple[str, ...] = ()) -> Any:
    """The target options (`--image`, `--platform`, `--python`), generated from `TargetSpec`'s fields.

    The command receives them whole as `target: TargetSpec`, never one by one, so a new target
    option is a field of `TargetSpec` and nothing here or in any command changes. `without` drops
    options a command takes differently (`diff`'s images are its arguments)."""
    from depslim.targets.spec import TargetSpec

    def decorate(command: Any) -> Any:
        @functools.wraps(command)
        def wrapper(*args: Any, **params: Any) -> Any:
            return command(*args, target=TargetSpec.from_params(params), **params)

        for spec_field in reversed(dataclasses.fields(TargetSpec)):
            if spec_field.name in without:
                continue
            meta = spec_field.metadata
            kind = click.Path(dir_okay=False, path_type=Path) if meta["path"] else None
            wrapper = click.option(meta["flag"], spec_field.name, type=kind, metavar=meta["metavar"],
                                   help=meta["help"])(wrapper)
        return wrapper

    return decorate(func) if func is not None else decorate


def project_options(func: Any) -> Any:
    """How the project is read: declaration files, dev/script paths, exclusions, cache, config."""
    func = config_option(func)
    func = click.option("--no-cache", is_flag=True, help="Do not read or write the scan cache.")(func)
    func = click.option("--exclude", multiple=True, help="Glob of paths to skip (repeatable).")(func)
    func = click.option("--script-paths", multiple=True, help="Paths whose imports are scripts (repeatable).")(func)
    func = click.option("--dev-paths", multiple=True, help="Paths whose imports are dev-only (repeatable).")(func)
    func = click.option("-r", "--requirements", multiple=True, type=click.Path(path_type=Path),
                        help="Declaration files to read (default: auto-detected; depslim's outputs never).")(func)
    return func


def scope_option(default: str, *, dockerfile: bool = True) -> Callable[[Any], Any]:
    """`--scope`: which entrypoints define what the runtime needs; with `--dockerfile`, whose command is
    the image's (projects name theirs `dockerfile`, `app.Dockerfile`, `docker/Dockerfile.train`).
    `slim` declares its own `--dockerfile` (it also carries that file's ENV/CMD), so it asks for none."""
    scope = click.option(
        "--scope", type=click.Choice(["all", "serving"]), default=default, show_default=True,
        help="all: every entrypoint counts; serving: only what the image's command (Dockerfile CMD, else "
             "Procfile) reaches ships, and packages only other entrypoints need are cut as 'unreachable'.",
    )
    if not dockerfile:
        return scope
    file = click.option(
        "--dockerfile", "dockerfile", default="Dockerfile", show_default=True, metavar="FILE",
        help="The Dockerfile (relative to PATH) whose CMD/ENTRYPOINT --scope serving follows.",
    )
    return lambda func: scope(file(func))


def allow_build_option(func: Any) -> Any:
    """`--allow-build`: let the resolver build what the requirements name (see `depslim.builds`)."""
    return click.option(
        "--allow-build", is_flag=True, default=False,
        help="Let the resolver build local folders, source archives, editables and VCS requirements the "
             "input names (runs their setup.py or build backend). Without it depslim refuses them: it runs "
             "no code of what it analyses.",
    )(func)


__all__ = ["config_option", "output_options", "project_options", "resolve_output", "target_options", "write_report"]
