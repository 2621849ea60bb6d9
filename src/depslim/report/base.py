"""The one interface every report format implements."""

from __future__ import annotations

from typing import Protocol, TypeVar

R_contra = TypeVar("R_contra", contravariant=True)


class Format(Protocol[R_contra]):
    """Turns a finished report (analyze, check, diff…) into text. Never prints, never writes."""

    name: str

    def render(self, report: R_contra) -> str:
        """Return the whole document."""
        ...
