"""`depslim slim [PATH]`: write the slim image's Dockerfile, requirements, lock and explanation."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from depslim.cli.options import allow_build_option, project_options, scope_option, target_options, ui_options


@click.command(name="slim")
@click.argument("path", type=click.Path(path_type=Path), default=".", is_eager=True)
@target_options
@project_options
@scope_option("serving", dockerfile=False)
@click.option("--base", metavar="IMAGE", help="Base image of both stages (default: chosen from the evidence).")
@click.option("--dockerfile", "dockerfile", default="Dockerfile", show_default=True, metavar="FILE",
              help="The original Dockerfile (project-relative): its command, WORKDIR, ENV and EXPOSE are kept.")
@click.option("--apply-swaps", is_flag=True,
              help="Apply every proven swap (CPU torch, mlflow-skinny, headless OpenCV…).")
@click.option("--swap", "swap_ids", multiple=True, metavar="ID", help="Apply one swap (finding id or package).")
@click.option("--backend", type=click.Choice(["pip-tools", "uv"]), default=None,
              help="Resolver for the lock (default: pip-tools when the target is this interpreter, else uv).")
@click.option("--no-index-check", is_flag=True,
              help="Do not look up wheels for the target on the index (offline; no compile detection).")
@click.option("--output-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Where to write the files (default: PATH).")
@click.option("--force", is_flag=True, help="Overwrite files edited by hand or not written by depslim.")
@allow_build_option
@ui_options
def command(path: Path, **params: Any) -> None:
    """Write Dockerfile.depslim (multi-stage, non-root, hash-pinned), requirements-slim.txt, its lock and
    depslim-slim.md from the evidence; merge depslim's entries into .dockerignore.

    Nothing is built or run here: `depslim verify PATH --build` builds the image and proves it."""
    from rich.markup import escape

    from depslim.cli.analyze import default_cache_dir
    from depslim.cli.config import analysis_config
    from depslim.cli.progress import progress_for_terminal
    from depslim.errors import InputError
    from depslim.fsio import atomic_write_all
    from depslim.generate.stamp import check_overwrite
    from depslim.model import Scope
    from depslim.redact import console as redacting_console
    from depslim.slim import SlimOptions, plan_slim

    if not path.is_dir():
        raise InputError(path, "no such project directory")
    options = SlimOptions(
        project=path,
        output_dir=params["output_dir"],
        target=params["target"],
        base=params["base"],
        dockerfile=params["dockerfile"],
        scope=Scope(params["scope"]),
        apply_swaps=bool(params["apply_swaps"]),
        swap_ids=tuple(params["swap_ids"]),
        requirements=tuple(params["requirements"]),
        backend=params["backend"],
        dev_paths=tuple(params["dev_paths"]) or None,
        script_paths=tuple(params["script_paths"]) or None,
        exclude=tuple(params["exclude"]),
        cache_dir=None if params["no_cache"] else default_cache_dir(),
        config=analysis_config(),
        check_index=not params["no_index_check"],
        allow_build=bool(params["allow_build"]),
    )
    with progress_for_terminal(True) as progress:
        plan = plan_slim(options, progress)
    dockerignore = plan.files[-1][0]
    for target, text in plan.files:  # refuse before anything is written
        if target != dockerignore:
            check_overwrite(target, text, force=bool(params["force"]))
    changed = [(target, text) for target, text in plan.files
               if not (target.is_file() and target.read_text(encoding="utf-8", errors="replace") == text)]
    # the user's own .dockerignore lines are written back as they were; depslim's block is redacted
    own = dockerignore.read_text(encoding="utf-8", errors="replace") if dockerignore.is_file() else None
    atomic_write_all(changed, keep={dockerignore: own} if own is not None else None)
    console = redacting_console(stderr=True, highlight=False)
    for target, _text in plan.files:
        state = "wrote" if any(t == target for t, _ in changed) else "unchanged"
        console.print(f"{state} {escape(str(target))}")
    size = plan.projection.headline()
    console.print(
        f"base {escape(plan.base.image)}; {len(plan.lock.pins)} pinned packages, {len(plan.native.packages)} OS "
        f"packages, {len(plan.copies.items)} copies; projected {size}"
    )
    for note in plan.notes:
        console.print(f"[dim]note:[/] {escape(note)}")
    console.print(f"next: depslim verify {escape(str(path))} --build")
