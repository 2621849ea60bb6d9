"""Where reports go and how they look: -o suffix → format, stamped overwrite, --quiet/--verbose/
--color on every command, and terminal tables that never cut a path, URL or command mid-token."""

from __future__ import annotations

import json
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from depslim.cli import COMMANDS, cli
from depslim.model import Evidence, Finding, Owner
from depslim.report.base import RenderOptions

EXAMPLE = Path(__file__).resolve().parent.parent / "fixtures" / "example"


def run(*args: str, env: dict[str, str] | None = None) -> click.testing.Result:
    return CliRunner().invoke(cli, list(args), env=env)


@pytest.mark.parametrize(("suffix", "check"), [
    (".json", lambda text: json.loads(text)["summary"]),
    (".sarif", lambda text: json.loads(text)["version"] == "2.1.0"),
    (".md", lambda text: text.startswith("<!-- depslim: generated") and "## depslim" in text),
    (".html", lambda text: text.startswith("<!-- depslim: generated") and "<!DOCTYPE html>" in text
     and 'class="chart treemap"' in text),
])
def test_output_suffix_picks_the_format(tmp_path: Path, suffix: str, check: object) -> None:
    out = tmp_path / f"r{suffix}"
    result = run("analyze", str(EXAMPLE), "--no-cache", "-o", str(out))
    assert result.exit_code == 0, result.output
    assert check(out.read_text())  # type: ignore[operator]


def test_an_html_report_is_replaced_on_rerun_a_hand_edited_one_is_not(tmp_path: Path) -> None:
    out = tmp_path / "r.html"
    assert run("analyze", str(EXAMPLE), "--no-cache", "-o", str(out)).exit_code == 0
    assert run("analyze", str(EXAMPLE), "--no-cache", "-o", str(out)).exit_code == 0  # its own: no --force
    out.write_text(out.read_text().replace("</main>", "<p>mine</p></main>"))
    refused = run("analyze", str(EXAMPLE), "--no-cache", "-o", str(out))
    assert refused.exit_code == 2 and "--force" in refused.output and "<p>mine</p>" in out.read_text()


def test_a_suffix_the_command_cannot_write_is_a_usage_error(tmp_path: Path) -> None:
    result = run("check", str(EXAMPLE), "--forbid", "x", "-o", str(tmp_path / "r.sarif"))
    assert result.exit_code == 2 and "cannot write sarif" in result.output
    assert not (tmp_path / "r.sarif").exists()


def test_own_report_is_replaced_a_users_file_is_not(tmp_path: Path) -> None:
    out = tmp_path / "r.json"
    assert run("analyze", str(EXAMPLE), "--no-cache", "-o", str(out)).exit_code == 0
    assert run("analyze", str(EXAMPLE), "--no-cache", "-o", str(out)).exit_code == 0  # its own: no --force
    mine = tmp_path / "notes.md"
    mine.write_text("# my notes\n")
    refused = run("analyze", str(EXAMPLE), "--no-cache", "-o", str(mine))
    assert refused.exit_code == 2 and "--force" in refused.output and mine.read_text() == "# my notes\n"
    forced = run("analyze", str(EXAMPLE), "--no-cache", "-o", str(mine), "--force")
    assert forced.exit_code == 0 and "my notes" not in mine.read_text()


def test_every_command_takes_quiet_verbose_and_color() -> None:
    for name in COMMANDS:
        command = cli.get_command(click.Context(cli), name)
        assert command is not None
        opts = {opt for p in command.params for opt in p.opts}
        assert {"--quiet", "--verbose", "--color"} <= opts, name


def test_color_always_never_and_quiet(tmp_path: Path) -> None:
    always = run("analyze", str(EXAMPLE), "--no-cache", "--color", "always")
    never = run("analyze", str(EXAMPLE), "--no-cache", "--color", "never")
    assert "\x1b[" in always.output and "\x1b[" not in never.output
    out = tmp_path / "r.json"
    quiet = CliRunner().invoke(cli, ["analyze", str(EXAMPLE), "--no-cache", "-o", str(out), "--quiet"])
    assert quiet.exit_code == 0 and "wrote" not in quiet.output
    loud = CliRunner().invoke(cli, ["analyze", str(EXAMPLE), "--no-cache", "-o", str(out)])
    assert "wrote" in loud.output


def test_verbose_shows_every_warning() -> None:
    from depslim.report.json import load_report
    from depslim.report.terminal import render_analyze

    done = run("analyze", str(EXAMPLE), "--no-cache", "-f", "json")
    report = load_report(done.output)
    from dataclasses import replace

    many = replace(report, warnings=tuple(f"warning number {i}" for i in range(30)))
    assert "warning number 29" not in render_analyze(many, RenderOptions())
    assert "warning number 29" in render_analyze(many, RenderOptions(verbose=True))


LONG_FIX = ("pip install --index-url https://download.pytorch.org/whl/cpu --extra-index-url "
            "https://pypi.org/simple torch==2.3.1+cpu")


def _finding() -> Finding:
    return Finding(id="swap:torch-cpu", code="swap", title="torch → torch (+cpu)", owner=Owner.ML_ENGINEER,
                   fix=LONG_FIX,
                   savings_bytes=2_000_000_000, subject="torch",
                   evidence=(Evidence("requirements/very/long/path/to/requirements-serving.txt", 12, "declared"),))


@pytest.mark.parametrize("width", [60, 80, 100, 300])
def test_terminal_never_breaks_a_command_or_path_mid_token(width: int) -> None:
    from depslim.audit import audit_table, render_terminal

    text = render_terminal(audit_table([_finding()]), width=width)
    for token in [*LONG_FIX.split(), "requirements/very/long/path/to/requirements-serving.txt:12"]:
        assert token in text, (width, token)
    if width >= 300:
        assert "┃" in text or "│" in text  # wide enough: a table
    if width <= 80:
        assert "• " in text  # too narrow for the table: one block per row, nothing folded


def test_terminal_width_follows_the_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    from depslim.cli.options import resolve_output

    monkeypatch.setenv("COLUMNS", "173")
    with click.Context(cli):
        assert resolve_output("analyze", None, None, force=False).options.width == 173


def test_every_command_that_links_evidence_takes_repository_url() -> None:
    """Declared once with the output options: a command whose formats link file:line (Markdown, HTML) has it."""
    from click.testing import CliRunner

    from depslim.cli import cli
    from depslim.report import formats_for

    for name in cli.commands:
        kinds = {"markdown", "html"} & set(formats_for(name)) if name in ("analyze", "image", "audit", "check",
                                                                          "diff", "verify", "estimate") else set()
        if not kinds:
            continue
        result = CliRunner().invoke(cli, [name, "--help"])
        assert "--repository-url" in result.output, name
