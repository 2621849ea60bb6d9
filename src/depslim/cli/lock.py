"""`depslim lock`: hash-pinned locks for the target with pip-tools or uv; `--check` for CI."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from depslim.cli.options import allow_build_option, config_option, ui_options
from depslim.cli.progress import plain_stderr
from depslim.errors import InputError

if TYPE_CHECKING:
    from rich.console import Console


def _from_image(image: str, plat: str | None, python: str | None) -> tuple[str | None, str | None]:
    """Target Python (major.minor) and platform as measured inside the image."""
    from depslim.targets.spec import TargetSpec

    info = TargetSpec(image=image, platform=plat).open().info()
    found = ".".join(info.python_version.split(".")[:2]) if info.python_version else None
    return python or found, plat or info.platform or None


def _default_inputs(root: Path) -> list[Path]:
    base, dev = root / "requirements-base.txt", root / "requirements-dev.txt"
    if not base.is_file():
        raise InputError(base, "no such file (run `depslim split` first, or name the inputs)")
    return [base] + ([dev] if dev.is_file() else [])


@click.command(name="lock")
@click.argument("inputs", nargs=-1, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--backend", type=click.Choice(["pip-tools", "uv"]), default=None,
              help="Resolver to drive (default pip-tools; uv can lock for another platform).")
@click.option("--python-version", "--python", "python_version", default=None,
              help="Target Python version, e.g. 3.11 (config key `python-version`; `python` is an interpreter).")
@click.option("--platform", "plat", default=None, help="Target platform, e.g. linux/amd64.")
@click.option("--image", metavar="REF", default=None,
              help="Take the target Python and platform from this image (archive, OCI layout, docker:NAME).")
@click.option("--format", "fmt", type=click.Choice(["requirements", "pylock"]), default="requirements",
              show_default=True, help="pylock also writes a PEP 751 pylock.toml.")
@click.option("--check", is_flag=True, help="Exit 1 when a lock is stale against its inputs; write nothing.")
@click.option("--upgrade", is_flag=True, help="Ignore the pins of the existing lock.")
@click.option("--force", is_flag=True, help="Overwrite hand-edited or foreign lock files.")
@allow_build_option
@config_option
@ui_options
def command(inputs: tuple[Path, ...], backend: str | None, python_version: str | None, plat: str | None,
            image: str | None, fmt: str, check: bool, upgrade: bool, force: bool, allow_build: bool,
            config_file: Path | None) -> None:
    """Lock requirements-base.txt (and requirements-dev.txt) into hash-pinned *.lock.txt files."""
    from depslim.generate.lock import (
        LockOptions,
        LockResult,
        check_inputs,
        check_lock,
        compute_lock,
        default_output,
        includes,
        read_inputs,
        write_lock,
    )
    from depslim.generate.stamp import check_overwrite

    if image and not (python_version and plat):
        python_version, plat = _from_image(str(image), plat, python_version)
    options = LockOptions(
        backend=backend or "pip-tools",
        python_version=python_version,
        platform=plat,
        pylock=fmt == "pylock",
        upgrade=upgrade,
        allow_build=allow_build,
    )
    missing = [path for path in inputs if not path.is_file()]
    if missing:  # bad input (exit 2), not a stale lock (exit 1)
        raise InputError(missing[0], "no such file")
    paths = list(inputs) or (check_inputs(Path.cwd()) if check else _default_inputs(Path.cwd()))
    from depslim.fsio import recover_interrupted

    for folder in {path.parent for path in paths}:  # a split killed mid-set: completed before it is read
        recover_interrupted(folder)
    console: Console | None  # None: plain stderr, no status spinner
    if check:
        from rich.markup import escape

        from depslim.redact import console as redacting_console

        console = redacting_console(stderr=True, highlight=False)
        problems = [p for path in paths for p in check_lock(path, options=options)]
        for problem in problems:
            console.print(f"[yellow]stale:[/] {escape(problem)}")
        if problems:
            raise click.exceptions.Exit(1)
        console.print(f"[green]fresh:[/] {len(paths)} lock(s) match their inputs")
        return
    for path in paths:  # refuse early: a hand-edited lock should not cost a resolution first
        check_overwrite(default_output(path), None, force=force)
    console = None
    if not plain_stderr():
        from depslim.redact import console as redacting_console

        console = redacting_console(stderr=True, highlight=False)
    results: list[LockResult] = []
    for path in paths:  # resolve everything first, then write
        # a file that includes an input locked in this run is constrained to that lock's pins;
        # the first file needs no such check, so compute_lock reads it while the resolver runs
        spec = read_inputs(path) if results else None
        constraints = [pin for done in results if spec is not None and includes(spec, done.input)
                       for pin in done.pins]
        if console is not None and console.is_terminal:
            with console.status(f"locking {path} with {options.backend}…"):
                results.append(compute_lock(path, options=options, constraints=constraints, spec=spec))
        else:
            results.append(compute_lock(path, options=options, constraints=constraints, spec=spec))
    for result in results:  # refuse before anything is replaced
        check_overwrite(result.output, result.text, force=force)
        if result.pylock_path is not None:
            check_overwrite(result.pylock_path, result.pylock_text, force=force)
    for result in results:
        for written in write_lock(result, force=force):
            summary = (f"({len(result.pins)} pins, {sum(len(p.hashes) for p in result.pins)} hashes; "
                       f"Python {result.python_version} on {result.platform}, {result.backend})")
            if console is None:
                click.echo(f"wrote {written} {summary}", err=True)
            else:
                from rich.markup import escape

                console.print(f"wrote {escape(str(written))} {summary}")
    for note in dict.fromkeys(w for result in results for w in result.warnings):
        if console is None:
            click.echo(f"note: {note}", err=True)
        else:
            from rich.markup import escape

            console.print(f"[yellow]note:[/] {escape(note)}")
