"""One error family and the exit codes the CLI maps it to.

The core raises these and never prints or exits; `depslim.cli` is the single boundary
that turns them into one clear line on stderr and an exit code.
"""

from __future__ import annotations

from pathlib import Path

EXIT_OK = 0
EXIT_GATE_FAILED = 1
EXIT_BAD_INPUT = 2
EXIT_BUG = 3


class DepslimError(Exception):
    """Base for every error depslim expects and reports without a traceback."""

    exit_code = EXIT_BAD_INPUT

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message


class InputError(DepslimError):
    """Bad user input: a file that is missing, unreadable, malformed or hostile.

    The message always names the file (and line when known) so the user can act on it.
    """

    def __init__(
        self, path: str | Path, problem: str, line: int | None = None, hint: str | None = None
    ) -> None:
        where = f"{path}:{line}" if line else str(path)
        super().__init__(f"{where}: {problem}", hint)
        self.path = str(path)
        self.line = line
        self.problem = problem


class TargetError(DepslimError):
    """The target (environment, image archive, engine) cannot be read."""


class ImageFormatError(InputError):
    """An image archive or layout is corrupt, truncated or tries to escape its root."""


class LockError(DepslimError):
    """Resolution failed or the index is unreachable; any existing lock is left untouched."""


class WriteRefused(DepslimError):
    """A user file would be overwritten without --force."""
