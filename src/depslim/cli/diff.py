"""`depslim diff BASE HEAD` / `depslim diff --git main..HEAD`: what a change adds or cuts, in bytes.

BASE and HEAD may be two JSON reports, two requirement or lock files (pins only: sizes
unknown, and the output says so), two images, or two project folders. With `--git`, both
revisions are exported with `git archive` into temporary folders and analysed there; the
working copy is never touched.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import click
from rich.markup import escape
from rich.table import Table

from depslim.cli.options import emit
from depslim.diffing import (
    DiffReport,
    diff_pins,
    diff_reports,
    export_tree,
    git_toplevel,
    merge_base,
    read_pins,
    resolve_rev,
    split_range,
)
from depslim.errors import DepslimError, InputError
from depslim.gate import format_bytes
from depslim.inputfile import missing_reason, read_text
from depslim.model import Report
from depslim.redact import console as redacting_console

FORMATS = ["terminal", "json", "markdown", "github", "html"]
_PIN_SUFFIXES = (".txt", ".in", ".toml")


@click.command(name="diff")
@click.argument("base", required=False)
@click.argument("head", required=False)
@click.option("--git", "git_range", metavar="BASE..HEAD",
              help="Analyse two git revisions of the project (e.g. main..HEAD; main...HEAD uses the merge base).")
@click.option("--project", type=click.Path(file_okay=False, path_type=Path), default=Path("."),
              show_default=True, help="With --git: the project folder inside the repository.")
@click.option("--python", "python", type=click.Path(dir_okay=False, path_type=Path),
              help="Measure this interpreter's environment for both sides (projects and --git).")
@click.option("--platform", metavar="OS/ARCH", help="Platform of multi-platform images.")
@click.option("--repository-url", metavar="URL", help="Link file:line in Markdown (default: from GITHUB_* env).")
@click.option("--markdown-limit", type=click.IntRange(1000, 65_536), default=65_536, show_default=True,
              help="Character budget for --format markdown (GitHub's comment limit by default).")
@click.option("--format", "-f", "fmt", type=click.Choice(FORMATS), default="terminal", show_default=True)
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), help="Write the result to FILE.")
@click.option("--force", is_flag=True, help="Overwrite an existing --output file.")
def command(**p: Any) -> None:
    """Compare BASE and HEAD: distributions added, removed, upgraded and swapped, with byte deltas."""
    head_sha: str | None = None
    prefix = ""
    if p["git_range"]:
        if p["base"] or p["head"]:
            raise click.UsageError("give either BASE HEAD or --git RANGE, not both")
        diff, head_sha, prefix = _diff_git(p["git_range"], p["project"], p["python"], p["fmt"])
    elif p["base"] and p["head"]:
        diff = _diff_pair(p["base"], p["head"], p)
    else:
        raise click.UsageError("give BASE and HEAD (reports, requirement files, images or folders) or --git RANGE")
    _output(diff, p, head_sha, prefix)


def _kind(spec: str) -> str:
    """What a BASE/HEAD argument names: report | pins | image | project."""
    path = Path(spec)
    if path.is_dir():
        return "image" if (path / "oci-layout").is_file() else "project"
    if path.is_file():
        if path.suffix == ".json":
            return "report"
        if path.suffix in _PIN_SUFFIXES:
            return "pins"
        return "image"  # docker-archive / oci-archive tars
    if path.suffix in (".json", *_PIN_SUFFIXES):
        reason = missing_reason(path)
        raise InputError(spec, "no such file" if reason == "does not exist" else reason)
    return "image"  # docker:NAME:TAG or a name the engine has


def _diff_pair(base: str, head: str, p: dict[str, Any]) -> DiffReport:
    kinds = {_kind(base), _kind(head)}
    if len(kinds) != 1:
        raise DepslimError(
            f"cannot compare {base} ({_kind(base)}) with {head} ({_kind(head)})",
            hint="give two JSON reports, two requirement/lock files, two images or two project folders",
        )
    kind = kinds.pop()
    if kind == "pins":
        return diff_pins(read_pins(Path(base), base), read_pins(Path(head), head), base_label=base,
                         head_label=head)
    if kind == "report":
        return diff_reports(_load(Path(base)), _load(Path(head)), base_label=base, head_label=head)
    from depslim.core import AnalyzeOptions

    if kind == "image":
        options = [AnalyzeOptions(project=None, image=ref, platform=p["platform"]) for ref in (base, head)]
        mode = "images"
    else:
        options = [AnalyzeOptions(project=Path(ref), python=p["python"]) for ref in (base, head)]
        mode = "projects"
    old, new = _analyze_both(options, p["fmt"])
    return diff_reports(old, new, base_label=base, head_label=head, mode=mode)


def _load(path: Path) -> Report:
    from depslim.report.json import load_report

    try:
        text = read_text(path)
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(path, f"cannot read: {exc}") from None
    return load_report(text, str(path))


def _analyze_both(options: list[Any], fmt: str) -> tuple[Report, Report]:
    from depslim.cli.progress import progress_for_terminal
    from depslim.core import analyze

    with progress_for_terminal(fmt == "terminal") as progress:
        old, new = (analyze(o, progress) for o in options)
    return old, new


def _diff_git(spec: str, project: Path, python: Path | None, fmt: str) -> tuple[DiffReport, str, str]:
    """Export both revisions with `git archive` and analyse each tree; returns the head commit too."""
    from depslim.core import AnalyzeOptions

    if not project.is_dir():
        raise InputError(project, "no such project directory")
    repo = git_toplevel(project)
    prefix = project.resolve().relative_to(repo.resolve()).as_posix()
    prefix = "" if prefix == "." else prefix
    left, right = split_range(spec)
    if "..." in spec:
        left = merge_base(repo, left, right)
    base_sha, head_sha = resolve_rev(repo, left), resolve_rev(repo, right)
    with tempfile.TemporaryDirectory(prefix="depslim-diff-") as tmp:
        roots = []
        for name, sha in (("base", base_sha), ("head", head_sha)):
            tree = export_tree(repo, sha, Path(tmp) / name)
            root = tree / prefix if prefix else tree
            if not root.is_dir():
                raise InputError(f"{name}:{prefix}", f"the project folder does not exist at {sha[:12]}")
            roots.append(root)
        # No scan cache: the trees live in throwaway folders.
        old, new = _analyze_both([AnalyzeOptions(project=r, python=python) for r in roots], fmt)
    diff = diff_reports(old, new, base_label=f"{left} ({base_sha[:12]})", head_label=f"{right} ({head_sha[:12]})",
                        mode="git")
    return diff, head_sha, prefix


def render_json(diff: DiffReport) -> str:
    from depslim.report.json import to_data

    data = {"kind": "diff", "total_delta": diff.total_delta, "sizes_known": diff.sizes_known, **to_data(diff)}
    for change, raw in zip(diff.changes, data["changes"], strict=True):
        raw["delta"] = change.delta
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def _output(diff: DiffReport, p: dict[str, Any], head_sha: str | None, prefix: str) -> None:
    fmt = p["fmt"]
    if fmt == "terminal" and p["output"] is None:
        _print_terminal(diff)
        return
    if fmt == "json":
        text = render_json(diff)
    elif fmt == "markdown":
        from depslim.report.markdown import links_from, render

        links = links_from(p["repository_url"], ref=head_sha, prefix=prefix)
        text = render(diff, links=links, limit=p["markdown_limit"])
    elif fmt == "github":
        from depslim.report.github import render as render_github

        text = render_github(diff, prefix=prefix)
    elif fmt == "html":
        from depslim.report.html import render_diff
        from depslim.report.markdown import links_from

        text = render_diff(diff, links=links_from(p["repository_url"], ref=head_sha, prefix=prefix))
    else:
        text = diff.headline + "\n"
    emit(text, p["output"], force=bool(p["force"]))


def _print_terminal(diff: DiffReport) -> None:
    console = redacting_console(highlight=False, soft_wrap=True)
    console.print(f"[bold]{escape(diff.headline)}[/]")
    console.print(f"[dim]{escape(diff.base)} → {escape(diff.head)} ({diff.mode})[/]")
    if diff.changes:
        table = Table(show_edge=False, pad_edge=False)
        for column in ("change", "package", "base", "head", "Δ bytes", "why"):
            table.add_column(column, justify="right" if column == "Δ bytes" else "left")
        for c in diff.changes:
            name = f"{c.swapped_from} → {c.name}" if c.swapped_from else c.name
            if c.cuda:
                name += " (+CUDA)"
            delta = format_bytes(c.delta, signed=True) if c.delta is not None else "unknown"
            imports = [e for e in c.evidence if e.kind.endswith("import")]
            if imports and c.module:
                why = f"import {c.module} in {imports[0].path}:{imports[0].line}"
            elif c.declared_at:
                why = f"declared at {c.declared_at[0]}"
            elif c.required_by:
                why = "required by " + ", ".join(c.required_by[:3])
            else:
                why = ""
            table.add_row(c.kind, escape(name), escape(c.base_version or "—"), escape(c.head_version or "—"),
                          delta, escape(why))
        console.print(table)
    if diff.sizes_known:
        console.print(f"total: {format_bytes(diff.base_bytes)} → {format_bytes(diff.head_bytes)} "
                      f"({format_bytes(diff.total_delta, signed=True)})")
    if diff.image_delta is not None:
        console.print(f"image: {format_bytes(diff.image_delta, signed=True)}")
    for title, findings in (("new findings", diff.new_findings), ("resolved findings", diff.resolved_findings)):
        if findings:
            console.print(f"[bold]{title} ({len(findings)})[/]")
            for f in findings:
                console.print(f"  {escape(f.id)}: {escape(f.title)}")
    for note in diff.notes:
        console.print(f"[yellow]note:[/] {escape(note)}")
