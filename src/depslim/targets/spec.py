"""`TargetSpec`: where installed packages are measured, declared once for the CLI and the core.

Each field is one target option. Its `metadata` is the click declaration (flag, metavar, help,
whether it is a path), which `depslim.cli.options.target_options` turns into options for every
measuring command, and `open` is the one place a target is chosen from the spec. So a new
target option (say `--engine-read`) is one field here and its use in `open`: no command,
options record or CLI module changes.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from depslim.progress import NULL_PROGRESS, Progress

if TYPE_CHECKING:
    from depslim.targets.base import Target


def _option(flag: str, help_text: str, metavar: str | None = None, path: bool = False) -> dict[str, Any]:
    """The click declaration of one target option, kept beside its field."""
    return {"flag": flag, "help": help_text, "metavar": metavar, "path": path}


@dataclass(frozen=True)
class TargetSpec:
    """The target options as one value, passed whole from the CLI into every options record."""

    image: str | None = field(default=None, metadata=_option(
        "--image", "Measure inside an image: archive, OCI layout, or docker:NAME[:TAG].", metavar="REF"))
    platform: str | None = field(default=None, metadata=_option(
        "--platform", "Platform of a multi-platform image, e.g. linux/amd64.", metavar="OS/ARCH"))
    python: Path | None = field(default=None, metadata=_option(
        "--python", "Measure another interpreter's environment (its python executable).", path=True))

    @classmethod
    def from_params(cls, params: dict[str, Any]) -> TargetSpec:
        """Build from click's parsed values, popping them (empty strings count as not given)."""
        values = {f.name: params.pop(f.name, None) or None for f in dataclasses.fields(cls)}
        return cls(**values)

    def open(self, progress: Progress = NULL_PROGRESS) -> Target:
        """The target this spec names: an image, another interpreter, or this environment."""
        if self.image:
            from depslim.targets.image import open_image

            return open_image(self.image, platform=self.platform, progress=progress)
        from depslim.targets.environment import EnvironmentTarget

        return EnvironmentTarget(self.python)
