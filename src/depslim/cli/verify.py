"""`depslim verify [PATH]`: build the image and prove it — the one command that runs project code."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from depslim.cli.options import output_options, project_options, resolve_output, write_report


def _build_args(values: tuple[str, ...]) -> dict[str, str]:
    from depslim.errors import InputError

    args: dict[str, str] = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise InputError("--build-arg", f"expected KEY=VALUE, got {item!r}")
        args[key] = value
    return args


@click.command(name="verify")
@click.argument("path", type=click.Path(path_type=Path), default=".", is_eager=True)
@click.option("--image", metavar="REF", help="Verify this image (engine name, archive or OCI layout).")
@click.option("--build", is_flag=True, help="Build the Dockerfile with the engine first, then verify the result.")
@click.option("--dockerfile", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="The Dockerfile to build (default: PATH/Dockerfile.depslim).")
@click.option("--tag", metavar="NAME:TAG", help="Tag for the built image (default: <project>-depslim:<hash>).")
@click.option("--build-arg", "build_args", multiple=True, metavar="KEY=VALUE",
              help="Build argument, e.g. PIP_INDEX_URL=https://… for a private index (repeatable).")
@click.option("--build-network", metavar="MODE", help="Network for the build's RUN steps (e.g. host).")
@click.option("--baseline", metavar="REF", help="The original image: before/after bytes, cold start, audit table.")
@click.option("--runs", type=click.IntRange(1, 50), default=5, show_default=True, help="Cold-start runs (median).")
@click.option("--timeout", type=click.FloatRange(1, 3600), default=120.0, show_default=True,
              help="Seconds each check (and each start) may take.")
@click.option("--memory", default="4g", show_default=True, help="Memory limit of the verification containers.")
@click.option("--cpus", default="2", show_default=True, help="CPU limit of the verification containers.")
@project_options
@output_options("verify")
def command(path: Path, **params: Any) -> None:
    """Build the slim image and prove it: import every first-party module the image's command reaches
    (each in a fresh interpreter), check every implicit need (servers on PATH, drivers, engines, the
    modules model files name) and measure cold start.

    This command deliberately RUNS PROJECT CODE — only here, and only inside containers with no
    network, a read-only root filesystem, a non-root user and memory/CPU limits.

    Exit codes: 0 every check passed, 1 a breakage (one line each: module, error, fix) or a failed
    build, 2 bad input or no engine answering at DOCKER_HOST."""
    from depslim.cli.analyze import default_cache_dir
    from depslim.cli.config import analysis_config
    from depslim.cli.progress import progress_for_terminal
    from depslim.errors import EXIT_GATE_FAILED
    from depslim.verify import VerifyOptions, verify
    from depslim.verify.engine import Limits

    out = resolve_output("verify", params["fmt"], params["output"], force=bool(params["force"]))
    options = VerifyOptions(
        project=path, image=params["image"], build=bool(params["build"]), dockerfile=params["dockerfile"],
        tag=params["tag"], build_args=_build_args(params["build_args"]), build_network=params["build_network"],
        baseline=params["baseline"], runs=params["runs"], timeout=params["timeout"],
        limits=Limits(memory=params["memory"], cpus=params["cpus"]),
        dev_paths=tuple(params["dev_paths"]) or None, script_paths=tuple(params["script_paths"]) or None,
        exclude=tuple(params["exclude"]), requirements=tuple(params["requirements"]), config=analysis_config(),
        cache_dir=None if params["no_cache"] else default_cache_dir(),
    )
    with progress_for_terminal(True) as progress:
        report = verify(options, progress=progress)
    write_report(out, report)
    if not report.passed:
        raise click.exceptions.Exit(EXIT_GATE_FAILED)
