"""`depslim image REF`: what an image ships, per layer and per distribution, and its waste.

Self-contained on the image target and its findings (no project scan): the quick look a
DevOps engineer takes before `depslim analyze --image`.
"""

from __future__ import annotations

from pathlib import Path

import click

from depslim.cli.options import config_option, output_options, resolve_output, target_options, write_report
from depslim.cli.progress import progress_for_terminal
from depslim.imagedoc import build_document
from depslim.targets.image import open_image
from depslim.targets.spec import TargetSpec

__all__ = ["build_document", "command"]


@click.command("image")
@click.argument("ref")
@target_options(without=("image", "python"))
@config_option
@output_options("image")
def command(ref: str, target: TargetSpec, config_file: Path | None, fmt: str | None, output: Path | None,
            force: bool) -> None:
    """Measure an image: layers, per-distribution sizes and waste findings.

    REF is a docker-archive or oci-archive tar, an OCI layout directory, or an image in the
    Docker engine (docker:NAME[:TAG], or a bare name). Nothing in the image is run.
    """
    out = resolve_output("image", fmt, output, force=force)
    with progress_for_terminal() as progress:
        image = open_image(ref, platform=target.platform, progress=progress)
    write_report(out, build_document(image))
