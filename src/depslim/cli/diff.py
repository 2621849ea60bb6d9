"""`depslim diff BASE HEAD` / `depslim diff --git main..HEAD`: what a change adds or cuts, in bytes.

BASE and HEAD may be two JSON reports, two requirement or lock files (pins only: sizes
unknown, and the output says so), two images, or two project folders. With `--git`, both
revisions are exported with `git archive` into temporary folders and analysed there; the
working copy is never touched.
"""

from __future__ import annotations

import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Any

import click

from depslim.cli.options import config_option, output_options, resolve_output, target_options, write_report
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
from depslim.inputfile import missing_reason, read_text
from depslim.model import Report
from depslim.targets.spec import TargetSpec

_PIN_SUFFIXES = (".txt", ".in", ".toml")


@click.command(name="diff")
@click.argument("base", required=False)
@click.argument("head", required=False)
@click.option("--git", "git_range", metavar="BASE..HEAD",
              help="Analyse two git revisions of the project (e.g. main..HEAD; main...HEAD uses the merge base).")
@click.option("--project", type=click.Path(file_okay=False, path_type=Path), default=Path("."),
              show_default=True, help="With --git: the project folder inside the repository.")
@target_options(without=("image",))
@click.option("--markdown-limit", type=click.IntRange(1000, 65_536), default=65_536, show_default=True,
              help="Character budget for --format markdown (GitHub's comment limit by default).")
@config_option
@output_options("diff")
def command(**p: Any) -> None:
    """Compare BASE and HEAD: distributions added, removed, upgraded and swapped, with byte deltas."""
    head_sha: str | None = None
    prefix = ""
    out = resolve_output("diff", p["fmt"], p["output"], force=p["force"])
    if p["git_range"]:
        if p["base"] or p["head"]:
            raise click.UsageError("give either BASE HEAD or --git RANGE, not both")
        diff, head_sha, prefix = _diff_git(p["git_range"], p["project"], p["target"], out.terminal)
    elif p["base"] and p["head"]:
        diff = _diff_pair(p["base"], p["head"], p, out.terminal)
    else:
        raise click.UsageError("give BASE and HEAD (reports, requirement files, images or folders) or --git RANGE")
    # links point at the head commit and the project's folder in the repository
    write_report(replace(out, options=replace(out.options, ref=head_sha, prefix=prefix,
                                               markdown_limit=p["markdown_limit"])), diff)


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


def _diff_pair(base: str, head: str, p: dict[str, Any], show_progress: bool) -> DiffReport:
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
        options = [AnalyzeOptions(project=None, target=replace(p["target"], image=ref)) for ref in (base, head)]
        mode = "images"
    else:
        options = [AnalyzeOptions(project=Path(ref), target=p["target"]) for ref in (base, head)]
        mode = "projects"
    old, new = _analyze_both(options, show_progress)
    return diff_reports(old, new, base_label=base, head_label=head, mode=mode)


def _load(path: Path) -> Report:
    from depslim.report.json import load_report

    try:
        text = read_text(path)
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(path, f"cannot read: {exc}") from None
    return load_report(text, str(path))


def _analyze_both(options: list[Any], show_progress: bool) -> tuple[Report, Report]:
    from depslim.cli.progress import progress_for_terminal
    from depslim.core import analyze

    with progress_for_terminal(show_progress) as progress:
        old, new = (analyze(o, progress) for o in options)
    return old, new


def _diff_git(spec: str, project: Path, target: TargetSpec, show_progress: bool) -> tuple[DiffReport, str, str]:
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
        old, new = _analyze_both([AnalyzeOptions(project=r, target=target) for r in roots], show_progress)
    diff = diff_reports(old, new, base_label=f"{left} ({base_sha[:12]})", head_label=f"{right} ({head_sha[:12]})",
                        mode="git")
    return diff, head_sha, prefix
