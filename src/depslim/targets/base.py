"""The one interface every source of installed distributions implements.

A target measures; it never judges. What counts as waste in an image is a finder's business
(`depslim.findings.image`), so targets never import findings.

An environment, an image archive, an OCI layout and an engine image all answer the same
questions, so every verdict, tree and report works on any of them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from depslim.model import InstalledDistribution, TargetInfo


class Target(Protocol):
    """A place where distributions are installed and can be measured without running anything."""

    def info(self) -> TargetInfo:
        """Kind, reference, Python version, marker environment (and layers for images)."""
        ...

    def distributions(self) -> Sequence[InstalledDistribution]:
        """Every installed distribution, with RECORD files present in the final filesystem."""
        ...
