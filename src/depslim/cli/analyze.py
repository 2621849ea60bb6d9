"""`depslim analyze [PATH]`: what the project needs at runtime, what it weighs, what to cut."""

from __future__ import annotations

from pathlib import Path

import click

from depslim import report as formats
from depslim.cachedir import cache_root
from depslim.cli.config import apply_config, project_config
from depslim.cli.options import emit, refuse_overwrite, scope_option
from depslim.cli.progress import progress_for_terminal
from depslim.core import AnalyzeOptions, analyze
from depslim.model import Scope


def default_cache_dir() -> Path:
    return Path(cache_root()) / "scan"


@click.command(name="analyze")
@click.argument("path", type=click.Path(path_type=Path), default=".")
@click.option("--image", metavar="REF", help="Measure inside an image: archive, OCI layout, or docker:NAME[:TAG].")
@click.option("--platform", metavar="OS/ARCH", help="Platform of a multi-platform image, e.g. linux/amd64.")
@click.option(
    "--python", "python", type=click.Path(dir_okay=False, path_type=Path), help="Measure another interpreter's env."
)
@click.option(
    "-r", "--requirements", multiple=True, type=click.Path(path_type=Path), help="Requirement files to read."
)
@click.option("--dev-paths", multiple=True, help="Paths whose imports are dev-only (repeatable).")
@click.option("--script-paths", multiple=True, help="Paths whose imports are scripts (repeatable).")
@click.option("--exclude", multiple=True, help="Glob of paths to skip (repeatable).")
@click.option("--no-cache", is_flag=True, help="Do not read or write the scan cache.")
@scope_option("all")
@click.option("--repository-url", metavar="URL", help="Link file:line in Markdown and HTML to this repository.")
@click.option("--config", "config_file", type=click.Path(dir_okay=False, path_type=Path), help="depslim config file.")
@click.option("--format", "-f", "fmt", type=click.Choice(formats.available()), default="terminal", show_default=True)
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), help="Write the report to FILE.")
@click.option("--force", is_flag=True, help="Overwrite an existing --output file.")
@click.pass_context
def command(ctx: click.Context, **params: object) -> None:
    """Scan PATH's imports, measure the target, give every dependency a verdict with evidence."""
    root = Path(str(params["path"]))
    config = project_config(root if root.is_dir() else None, params["config_file"])  # type: ignore[arg-type]
    p = apply_config(ctx, params, config)
    options = AnalyzeOptions(
        project=root,
        image=p["image"] or None,  # type: ignore[arg-type]
        platform=p["platform"] or None,  # type: ignore[arg-type]
        python=p["python"] or None,  # type: ignore[arg-type]
        requirements=tuple(Path(str(r)) for r in p["requirements"]),  # type: ignore[attr-defined]
        dev_paths=tuple(p["dev_paths"]) or None,  # type: ignore[arg-type]
        script_paths=tuple(p["script_paths"]) or None,  # type: ignore[arg-type]
        exclude=tuple(p["exclude"]),  # type: ignore[arg-type]
        cache_dir=None if p["no_cache"] else default_cache_dir(),
        config=config,
        scope=Scope(str(p["scope"])),
    )
    fmt = str(p["fmt"])
    refuse_overwrite(p["output"], force=bool(p["force"]))  # type: ignore[arg-type]
    with progress_for_terminal(fmt == "terminal" or p["output"] is not None) as progress:
        result = analyze(options, progress)
    if fmt == "terminal" and p["output"] is None:
        from rich.console import Group

        from depslim.redact import console
        from depslim.report.terminal import renderables

        console(highlight=False).print(Group(*renderables(result)))
        return
    if fmt == "markdown":
        from depslim.report.markdown import links_from
        from depslim.report.markdown import render as render_markdown

        text = render_markdown(result, links=links_from(p["repository_url"]))  # type: ignore[arg-type]
    elif fmt == "html":
        from depslim.report.html import render as render_html
        from depslim.report.markdown import links_from

        text = render_html(result, links=links_from(p["repository_url"]))  # type: ignore[arg-type]
    else:
        text = formats.get(fmt).render(result)
    emit(text, p["output"], force=bool(p["force"]))  # type: ignore[arg-type]
