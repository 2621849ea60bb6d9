"""Target options are declared once (`TargetSpec`): every measuring command takes the same ones,
generated from the spec's fields and passed whole, so a new target option is one field."""

from __future__ import annotations

import dataclasses

import click
import pytest

from depslim.cli import cli
from depslim.core import AnalyzeOptions
from depslim.targets.spec import TargetSpec

MEASURING = ("analyze", "audit", "check", "slim", "split")
FLAGS = {f.metadata["flag"] for f in dataclasses.fields(TargetSpec)}


def _command(name: str) -> click.Command:
    command = cli.get_command(click.Context(cli), name)
    assert command is not None
    return command


def _flags(command: click.Command) -> set[str]:
    return {opt for p in command.params if isinstance(p, click.Option) for opt in p.opts}


@pytest.mark.parametrize("name", MEASURING)
def test_every_measuring_command_takes_every_target_option(name: str) -> None:
    assert _flags(_command(name)) >= FLAGS


def test_diff_and_image_take_the_spec_without_their_argument_options() -> None:
    assert {"--python", "--platform"} <= _flags(_command("diff")) and "--image" not in _flags(_command("diff"))
    assert "--platform" in _flags(_command("image"))


def test_spec_reaches_the_options_whole() -> None:
    spec = TargetSpec(image="app.tar", platform="linux/arm64")
    options = AnalyzeOptions(target=spec)
    assert options.target is spec and options.image == "app.tar" and options.platform == "linux/arm64"


def test_a_new_field_becomes_an_option_of_every_command() -> None:
    """What adding a target option costs: one field. The decorator builds options from the fields."""
    from depslim.cli.options import target_options

    seen: dict[str, object] = {}

    @click.command()
    @target_options
    def probe(target: TargetSpec) -> None:
        seen["target"] = target

    from click.testing import CliRunner

    result = CliRunner().invoke(probe, ["--image", "x.tar", "--platform", "linux/amd64"])
    assert result.exit_code == 0, result.output
    assert seen["target"] == TargetSpec(image="x.tar", platform="linux/amd64")
