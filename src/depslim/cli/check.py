"""`depslim check [PATH]`: the CI gate. Exit 0 every budget holds, 1 one failed, 2 bad input.

Budgets come from flags or `[tool.depslim]` (keys are the option names in kebab case; a flag
wins). The Report is measured by `core.analyze` — or read from `--report FILE.json` so CI can
analyze once and gate, diff and comment from the same numbers.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from depslim.cli.config import analysis_config
from depslim.cli.options import config_option, output_options, resolve_output, target_options, write_report
from depslim.errors import EXIT_GATE_FAILED, DepslimError, InputError
from depslim.gate import Budgets, LockStatus, budgets_from, evaluate
from depslim.inputfile import read_text
from depslim.model import Report


@click.command(name="check")
@click.argument("path", type=click.Path(path_type=Path), required=False, is_eager=True)
@target_options
@click.option("--report", "report_file", type=click.Path(dir_okay=False, path_type=Path),
              help="Gate an existing `depslim analyze --format json` report instead of analysing.")
@click.option("--max-image-bytes", metavar="SIZE", help="Fail when the image is bigger (e.g. 500MB, 1.5GB).")
@click.option("--max-python-bytes", metavar="SIZE", help="Fail when the shipped Python packages weigh more.")
@click.option("--max-waste-bytes", metavar="SIZE", help="Fail when image waste (caches, deleted files…) exceeds SIZE.")
@click.option("--max-waste-percent", type=float, metavar="PCT", help="Fail when waste exceeds PCT% of the image.")
@click.option("--forbid", multiple=True, metavar="GLOB",
              help="Package forbidden in the runtime, fnmatch glob (repeatable): 'jupyter*', 'nvidia-*'.")
@click.option("--fail-on-unused", is_flag=True, default=False, help="Fail when a runtime dependency is unused.")
@click.option("--lock-fresh", is_flag=True, default=False, help="Fail when the lock is stale against its inputs.")
@click.option("--lock-input", type=click.Path(dir_okay=False, path_type=Path),
              help="Requirements file the lock was made from (default: requirements-base.txt in PATH).")
@click.option("--allow-unmeasured", is_flag=True, default=False,
              help="Pass a budget the target cannot measure (e.g. --max-image-bytes without --image); "
                   "by default it fails, so a gate never passes without measuring.")
@click.option("--markdown-limit", type=click.IntRange(1000, 65_536), default=65_536, show_default=True,
              help="Character budget for --format markdown (GitHub's comment limit by default).")
@config_option
@output_options("check")
@click.pass_context
def command(ctx: click.Context, /, **p: Any) -> None:
    """Gate PATH (or an image) on size budgets, forbidden packages, unused deps and lock freshness."""
    path: Path | None = p["path"]
    if path is None and not p["target"].image and not p["report_file"]:
        path = Path(".")
    if path is not None and not path.is_dir():
        raise InputError(path, "no such project directory")
    budgets = budgets_from(
        {key.replace("_", "-"): p[key] for key in (
            "max_image_bytes", "max_python_bytes", "max_waste_bytes", "max_waste_percent", "forbid",
            "fail_on_unused", "lock_fresh",
        ) if p[key] not in (None, ())},
        origin="command line / [tool.depslim]",
    )
    if not budgets.any():
        raise DepslimError(
            "no budgets to check",
            hint="pass e.g. --max-image-bytes 500MB --forbid 'jupyter*', or set them in [tool.depslim]",
        )
    out = resolve_output("check", p["fmt"], p["output"], force=p["force"], prefix=_repo_prefix(path),
                         markdown_limit=p["markdown_limit"])
    report = _measure(p, path, analysis_config(), out.terminal)
    lock = _lock_status(path, p["lock_input"]) if budgets.lock_fresh else None
    result = evaluate(report, budgets, lock, allow_unmeasured=bool(p["allow_unmeasured"]))
    write_report(out, result)
    if not result.passed:
        ctx.exit(EXIT_GATE_FAILED)


def _measure(p: dict[str, Any], path: Path | None, config: dict[str, Any], show_progress: bool) -> Report:
    if p["report_file"] is not None:
        from depslim.report.json import load_report

        file: Path = p["report_file"]
        try:
            text = read_text(file)
        except (OSError, UnicodeDecodeError) as exc:
            raise InputError(file, f"cannot read: {getattr(exc, 'strerror', None) or exc}") from None
        return load_report(text, str(file))
    from depslim.cli.progress import progress_for_terminal
    from depslim.core import AnalyzeOptions, analyze

    options = AnalyzeOptions(
        project=path,
        target=p["target"],
        config=config,
    )
    with progress_for_terminal(show_progress) as progress:
        return analyze(options, progress)


def _lock_status(path: Path | None, lock_input: Path | None) -> LockStatus:
    """Ask `depslim.generate.lock.check_lock` (optional: another module) whether the locks are fresh.

    Same inputs as `depslim lock --check` (`generate.lock.check_inputs`): requirements-base.txt,
    and requirements-dev.txt when it was locked, in the project; or the `--lock-input` file.
    """
    try:
        from depslim.generate.lock import check_inputs, check_lock
    except ImportError:
        return LockStatus(False, "lock freshness check is not available in this install", available=False)
    root = path or Path(".")
    inputs = [lock_input] if lock_input is not None else check_inputs(root)  # as `depslim lock --check`
    problems = [problem for file in inputs for problem in check_lock(file)]
    shown = inputs[0].relative_to(root).as_posix() if inputs[0].is_relative_to(root) else str(inputs[0])
    return LockStatus(not problems, "; ".join(problems), shown)


def _repo_prefix(path: Path | None) -> str:
    """The project's folder inside its git repository, so annotations and links name repo paths."""
    if path is None:
        return ""
    root = path.resolve()
    for parent in (root, *root.parents):
        if (parent / ".git").exists():
            rel = root.relative_to(parent).as_posix()
            return "" if rel == "." else rel
    return ""


__all__ = ["Budgets", "command"]
