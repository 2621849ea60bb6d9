"""rich progress attached to the core's Progress observer, only on an interactive stderr."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from depslim.progress import NULL_PROGRESS
from depslim.progress import Progress as ProgressObserver

if TYPE_CHECKING:
    from rich.progress import Progress, TaskID


class RichProgress:
    """Maps the core's start/advance/finish calls onto rich tasks (rich's Progress is
    thread-safe, so image layer workers may advance from their threads)."""

    def __init__(self, progress: Progress) -> None:
        self._progress = progress
        self._tasks: dict[str, TaskID] = {}

    def start(self, key: str, description: str, total: int | None = None) -> None:
        from depslim.redact import redact  # rich reads a description as markup, not through the console

        self._tasks[key] = self._progress.add_task(redact(description), total=total)

    def advance(self, key: str, amount: int = 1) -> None:
        if key in self._tasks:
            self._progress.advance(self._tasks[key], amount)

    def finish(self, key: str) -> None:
        task = self._tasks.pop(key, None)
        if task is not None:
            self._progress.remove_task(task)


def plain_stderr() -> bool:
    """True when rich would see stderr as a plain file or pipe (no spinner, no colour).

    Then rich need not be imported at all (a measurable part of a short command's start-up).
    Whenever rich might decide otherwise (a tty, or its FORCE_COLOR / TTY_* overrides), it is
    asked as before.
    """
    if any(name in os.environ for name in ("FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE")):
        return False
    try:
        return not sys.stderr.isatty()
    except (AttributeError, ValueError):
        return True


@contextlib.contextmanager
def progress_for_terminal(enabled: bool = True) -> Iterator[ProgressObserver]:
    """A live progress display on stderr when it is a terminal; a silent observer otherwise."""
    from depslim.cli.options import ui

    if not enabled or plain_stderr() or ui().quiet:
        yield NULL_PROGRESS
        return
    # rich (about 40 ms of imports) is loaded only when a display may be shown.
    from rich.progress import BarColumn, Progress, SpinnerColumn, TaskProgressColumn, TextColumn, TimeElapsedColumn

    from depslim.redact import console as redacting_console

    console = redacting_console(stderr=True)
    if not console.is_terminal:
        yield NULL_PROGRESS
        return
    columns: tuple[Any, ...] = (
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, transient=True) as progress:
        yield RichProgress(progress)
