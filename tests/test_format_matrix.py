"""Every command × every format it offers × a target, through the real CLI, on small fixtures.

The registry (`depslim.report`) decides what a command offers; this walks it, so a format that
crashes on one report kind (the old `analyze --format sarif`), or is registered and reachable
from no command, fails here. `verify` needs a container engine and is covered at render level.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from depslim import report as registry
from depslim.cli import COMMANDS, cli
from tests.imagebuild import File, Image, dist_entries, image_config, layer_tar, write_docker_archive

EXAMPLE = Path(__file__).resolve().parent.parent / "fixtures" / "example"
SITE = "/usr/local/lib/python3.11/site-packages"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """One analyze JSON of the example, two requirement files, a small image archive."""
    root = tmp_path_factory.mktemp("matrix")
    report = root / "example.json"
    done = CliRunner().invoke(cli, ["analyze", str(EXAMPLE), "--no-cache", "-o", str(report)])
    assert done.exit_code == 0, done.output
    (root / "old.txt").write_text("numpy==1.26.4\nrequests==2.31.0\n")
    (root / "new.txt").write_text("numpy==1.26.4\nhttpx==0.27.0\n")
    layers = [layer_tar([*dist_entries(SITE, "alpha", "1.0", {"alpha/__init__.py": "a" * 5000}),
                         File("/root/.cache/pip/blob", b"p" * 3000)])]
    archive = write_docker_archive(root / "img.tar", Image(layers, image_config(layers, history=["pip install"])))
    (root / "empty").mkdir()
    return {"report": report, "old": root / "old.txt", "new": root / "new.txt", "image": archive,
            "empty": root / "empty"}


# kind -> target name -> argv (without --format); every kind a command produces, every target it takes
CASES: dict[str, dict[str, Callable[[dict[str, Path]], list[str]]]] = {
    "analyze": {
        "project": lambda w: ["analyze", str(EXAMPLE), "--no-cache"],
        "image": lambda w: ["analyze", str(w["empty"]), "--image", str(w["image"]), "--no-cache"],
    },
    "check": {
        "report": lambda w: ["check", "--report", str(w["report"]), "--forbid", "jupyter*"],
        "image": lambda w: ["check", "--image", str(w["image"]), "--max-image-bytes", "1GB"],
    },
    "diff": {
        "reports": lambda w: ["diff", str(w["report"]), str(w["report"])],
        "pins": lambda w: ["diff", str(w["old"]), str(w["new"])],
    },
    "audit": {
        "report": lambda w: ["audit", "--report", str(w["report"])],
        "image": lambda w: ["audit", str(w["empty"]), "--image", str(w["image"])],
    },
    "image": {"archive": lambda w: ["image", str(w["image"])]},
}
NOT_IN_MATRIX = {"estimate": "covered by test_estimate_formats (needs a local index)",
                 "verify": "needs a container engine"}


def _matrix() -> Iterator[tuple[str, str, str]]:
    for kind, targets in CASES.items():
        for fmt in registry.formats_for(kind):
            for target in targets:
                yield kind, fmt, target


@pytest.mark.parametrize(("kind", "fmt", "target"), list(_matrix()))
def test_every_command_renders_every_format(world: dict[str, Path], kind: str, fmt: str, target: str) -> None:
    result = CliRunner().invoke(cli, [*CASES[kind][target](world), "--format", fmt])
    assert result.exit_code in (0, 1), result.output  # 1: a gate that failed, never a crash (3)
    assert result.output.strip(), "empty report"
    if fmt in ("json", "sarif"):
        assert isinstance(json.loads(result.output), dict)
    if fmt == "html":
        assert result.output.startswith("<!DOCTYPE html>") and result.output.rstrip().endswith("</html>")


def test_estimate_formats(tmp_path: Path) -> None:
    from helpers import build_wheel
    from test_wheelsize import serve_index

    build_wheel(tmp_path, "app", "1.0")
    req = tmp_path / "requirements.txt"
    req.write_text("app==1.0\n")
    with serve_index(tmp_path) as index:
        for fmt in registry.formats_for("estimate"):
            result = CliRunner().invoke(cli, ["estimate", str(req), "--index-url", index.url, "--isolated",
                                              "--format", fmt])
            assert result.exit_code == 0, (fmt, result.output)
            assert "app" in result.output


def _format_choices(name: str) -> list[str]:
    command = cli.get_command(click.Context(cli), name)
    assert command is not None
    option = next((p for p in command.params if p.name == "fmt"), None)
    return list(option.type.choices) if option is not None and isinstance(option.type, click.Choice) else []


def test_every_registered_format_is_reachable_and_every_kind_covered() -> None:
    kinds_seen = set()
    for name in registry.available():
        fmt = registry.get(name)
        assert fmt.renderers, f"{name} renders nothing"
        assert set(fmt.renderers) <= set(registry.KINDS), f"{name} declares an unknown report kind"
        kinds_seen |= set(fmt.renderers)
        reachable = [c for c in COMMANDS if name in _format_choices(c)]
        assert reachable, f"format {name} is registered but no command offers it"
    assert kinds_seen == set(registry.KINDS)
    assert set(CASES) | set(NOT_IN_MATRIX) == set(registry.KINDS)


def test_each_command_offers_exactly_the_formats_of_its_kind() -> None:
    for kind in CASES:
        assert _format_choices(kind) == registry.formats_for(kind)
    assert "sarif" in _format_choices("analyze") and "sarif" in _format_choices("audit")
    # html is a registered format like the others: every report kind but estimate's renders it
    assert [kind for kind in registry.KINDS if registry.get("html").supports(kind)] == [
        "analyze", "image", "audit", "check", "diff", "verify"]
    for kind in CASES:
        assert "html" in _format_choices(kind), kind
    assert registry.infer(Path("r.html")) == "html"


def test_verify_renders_in_every_format() -> None:
    from depslim.verify.run import ImageFacts, VerifyReport

    report = VerifyReport("proj", ImageFacts("x:1", 1000, "app", "3.11", ("python", "-m", "app")), ())
    assert "html" in registry.formats_for("verify")
    for name in registry.formats_for("verify"):
        assert registry.get(name).render("verify", report).strip()


def test_a_package_is_cut_or_swapped_never_both(world: dict[str, Path]) -> None:
    doc = json.loads(world["report"].read_text())
    cut = {f["subject"] for f in doc["findings"] if f["code"].startswith("cut-")}
    swapped = {f["subject"] for f in doc["findings"] if f["code"] == "swap"}
    assert "opencv-python" in cut and not cut & swapped
    assert "mlflow" in swapped  # a runtime package still gets its swap


def test_summary_counts_match_the_tables(world: dict[str, Path]) -> None:
    from depslim.model import IMPORT_PROBLEM_CODES

    doc = json.loads(world["report"].read_text())
    summary = doc["summary"]
    assert summary["findings"] == len(doc["findings"])
    assert summary["problems"] == sum(1 for f in doc["findings"] if f["code"] in IMPORT_PROBLEM_CODES)
    assert summary["cut_count"] == sum(1 for f in doc["findings"] if f["code"].startswith("cut-"))
    text = CliRunner().invoke(cli, ["analyze", str(EXAMPLE), "--no-cache"]).output
    assert f"{summary['findings']} ({summary['problems']} import problems)" in text
    assert f"Import problems ({summary['problems']})" in text


def test_check_fails_an_unmeasured_budget_unless_allowed(world: dict[str, Path]) -> None:
    gate = ["check", "--report", str(world["report"]), "--max-image-bytes", "100MB"]
    failed = CliRunner().invoke(cli, gate)
    assert failed.exit_code == 1 and "UNMEASURED" in failed.output and "budgets failed" in failed.output
    allowed = CliRunner().invoke(cli, [*gate, "--allow-unmeasured"])
    assert allowed.exit_code == 0, allowed.output
