"""`depslim split [PATH]`: requirements-base.txt / requirements-dev.txt / depslim-cuts.md from evidence."""

from __future__ import annotations

from pathlib import Path

import click

from depslim.cli.config import analysis_config
from depslim.cli.options import config_option, scope_option, target_options, ui_options
from depslim.errors import InputError
from depslim.inputfile import read_text
from depslim.model import Scope
from depslim.targets.spec import TargetSpec


def _declaration_files(root: Path, given: tuple[Path, ...]) -> tuple[Path, ...]:
    """The files to read declarations from: as given, else auto-detected (depslim's outputs excluded)."""
    if given:
        return given
    from depslim.declared.detect import detect_sources

    return tuple(s.path for s in detect_sources(root))


@click.command(name="split")
@click.argument("path", type=click.Path(path_type=Path), default=".", is_eager=True)
@target_options
@click.option("-r", "--requirements", multiple=True, type=click.Path(path_type=Path),
              help="Declaration files to read (default: auto-detected, depslim's own outputs excluded).")
@scope_option("all")
@click.option("--apply-swaps", is_flag=True, help="Apply every proposed swap.")
@click.option("--swap", "swap_ids", multiple=True, metavar="ID", help="Apply one swap (finding id or package).")
@click.option("--to", "to", type=click.Choice(["requirements", "pyproject"]), default="requirements",
              show_default=True, help="Write requirements files, or edit pyproject.toml in place.")
@click.option("--output-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Where to write the files (default: PATH).")
@click.option("--pin/--no-pin", default=None,
              help="Pin declared packages to the installed versions [default: pin for requirements files; "
                   "keep the declared specifiers for --to pyproject, a library's ranges are its users'].")
@click.option("--dry-run", is_flag=True, help="Show the change as a unified diff; write nothing.")
@config_option
@ui_options
@click.option("--force", is_flag=True, help="Overwrite files edited by hand or not written by depslim.")
@click.pass_context
def command(ctx: click.Context, path: Path, target: TargetSpec,
            requirements: tuple[Path, ...], apply_swaps: bool, swap_ids: tuple[str, ...], to: str,
            output_dir: Path | None, config_file: Path | None, force: bool, scope: str, dockerfile: str,
            pin: bool | None, dry_run: bool) -> None:
    """Split the declared requirements into runtime (base) and dev files, each line with its reason."""
    from rich.markup import escape

    from depslim.cli.progress import progress_for_terminal
    from depslim.core import AnalyzeOptions, analyze, read_declared
    from depslim.fsio import atomic_write_all, recover_interrupted
    from depslim.generate.split import SplitOptions, plan_split, select_swaps
    from depslim.generate.stamp import check_overwrite
    from depslim.redact import console as redacting_console

    if not path.is_dir():
        raise InputError(path, "no such project directory")
    options = AnalyzeOptions(project=path, target=target,
                             requirements=_declaration_files(path, requirements), config=analysis_config(),
                             scope=Scope(scope), serving_dockerfile=dockerfile)
    # a split killed between its renames left a journal: complete it before anything reads the set
    recover_interrupted(output_dir or path)
    with progress_for_terminal(True) as progress:
        report = analyze(options, progress)
    declared = read_declared(options)
    swaps = select_swaps(report, apply_all=apply_swaps, ids=swap_ids)
    result = plan_split(report, declared, swaps, SplitOptions(pin=(to == "requirements") if pin is None else pin))
    out_dir = output_dir or path
    console = redacting_console(stderr=True, highlight=False)

    keep: dict[Path, str] = {}  # a file depslim edits in place: the user's own lines stay as they are
    if to == "pyproject":
        from depslim.generate.pyproject_edit import edit_pyproject

        pyproject = path / "pyproject.toml"
        if not pyproject.is_file():
            raise InputError(pyproject, "no such file (--to pyproject edits the project's pyproject.toml)")
        original = read_text(pyproject)
        edited = edit_pyproject(original, result.base, result.dev, path=str(pyproject))
        keep[pyproject] = original
        if result.index_lines:
            console.print("[yellow]note:[/] index options cannot live in pyproject.toml; keep them in your "
                          "installer config: " + escape("; ".join(result.index_lines)))
        writes = [(pyproject, edited, True), (out_dir / "depslim-cuts.md", result.cuts_text, force)]
    else:
        writes = [(out_dir / "requirements-base.txt", result.base_text, force),
                  (out_dir / "requirements-dev.txt", result.dev_text, force),
                  (out_dir / "depslim-cuts.md", result.cuts_text, force)]
    if dry_run:
        click.echo(preview(writes), nl=False)
        return
    for dest, text, allowed in writes:  # refuse before anything is written
        if dest.name != "pyproject.toml":
            check_overwrite(dest, text, force=allowed)
    # One change for all files (every new content synced before the first rename, the renames under
    # a journal): a kill leaves the old set or one the next run completes, never a new
    # requirements-base.txt beside an old requirements-dev.txt.
    changed = [(dest, text) for dest, text, _ in writes
               if not (dest.is_file() and dest.read_text(encoding="utf-8") == text)]
    atomic_write_all(changed, keep=keep)
    for dest, _text, _ in writes:
        state = "wrote" if any(t == dest for t, _ in changed) else "unchanged"
        console.print(f"{state} {escape(str(dest))}")
    cut = [c for c in result.cuts if c.kind == "dropped"]
    optional = len([c for c in result.cuts if c.kind == "optional"])
    console.print(f"{len(result.base)} runtime, {len(result.dev)} dev, {len(cut)} cut, "
                  f"{len([c for c in result.cuts if c.kind == 'swapped'])} swapped"
                  + (f", {optional} optional (left out)" if optional else ""))
    for note in result.notes:
        console.print(f"[dim]note:[/] {escape(note)}")


def preview(writes: list[tuple[Path, str, bool]]) -> str:
    """What `--dry-run` shows: a unified diff per file that would change (new files against nothing)."""
    import difflib

    from depslim.redact import redact

    out: list[str] = []
    for target, text, _ in writes:
        old = target.read_text(encoding="utf-8") if target.is_file() else ""
        if old == text:
            continue
        out += difflib.unified_diff(old.splitlines(keepends=True), redact(text).splitlines(keepends=True),
                                    fromfile=f"a/{target}" if old else "/dev/null", tofile=f"b/{target}")
    return "".join(out) or "no changes\n"
