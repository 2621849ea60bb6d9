"""Progress observer: the core reports steps, only the CLI decides how to show them."""

from __future__ import annotations

from typing import Protocol


class Progress(Protocol):
    """Receives progress from long work (layer walks, file scans, resolution)."""

    def start(self, key: str, description: str, total: int | None = None) -> None:
        """Begin a task; `total` is in units the task chooses (files, bytes)."""

    def advance(self, key: str, amount: int = 1) -> None:
        """Move a task forward."""

    def finish(self, key: str) -> None:
        """End a task."""


class NullProgress:
    """The default observer: discards everything (tests, libraries, non-terminals)."""

    def start(self, key: str, description: str, total: int | None = None) -> None:
        return None

    def advance(self, key: str, amount: int = 1) -> None:
        return None

    def finish(self, key: str) -> None:
        return None


NULL_PROGRESS = NullProgress()
