"""Open input files only when they are regular files, so a FIFO is an error and never a hang.

`Path.read_bytes()` on a FIFO blocks until something writes to it: a `requirements.txt`, a
Dockerfile, a report or an OCI blob replaced by `mkfifo` hung depslim forever (in CI, until the
job's timeout). A character device (`/dev/zero`, `/dev/urandom`) is worse: it never ends, and the
read grows without bound. Every reader of an input file goes through `open_regular`: it opens with
`O_NONBLOCK` (opening a FIFO with no writer returns at once instead of waiting) and `O_NOCTTY`,
then `fstat`s the open descriptor (no window between a check and the open) and refuses anything
that is not a regular file.

The refusals are `OSError` subclasses with a readable `strerror`, so the callers' existing
`except OSError` turn them into their one-line `InputError` ("requirements.txt: cannot read: not
a regular file (a FIFO)") without knowing about this module.
"""

from __future__ import annotations

import errno
import io
import os
import stat
from pathlib import Path

_FLAGS = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_CLOEXEC", 0)

_KINDS = (
    (stat.S_ISFIFO, "a FIFO"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISDIR, "a directory"),
)


class NotRegularFile(OSError):
    """An input path names a FIFO, device, socket or directory instead of a file."""

    def __init__(self, path: str | Path, mode: int) -> None:
        kind = next((name for test, name in _KINDS if test(mode)), "not a file")
        super().__init__(errno.EINVAL, f"not a regular file ({kind})", str(path))


class FileTooLarge(OSError):
    """An input file is larger than its reader accepts (read nothing rather than everything)."""

    def __init__(self, path: str | Path, size: int, limit: int) -> None:
        super().__init__(errno.EFBIG, f"{size} bytes, more than the {limit} accepted here", str(path))


def open_regular(path: str | Path) -> io.BufferedReader:
    """A binary reader of `path`, which must be a regular file (see the module docstring)."""
    fd = os.open(path, _FLAGS)
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise NotRegularFile(path, mode)
        # O_NONBLOCK means nothing for a regular file; cleared anyway so the handle is ordinary
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def is_regular(path: str | Path) -> bool:
    """Whether `path` is a regular file (symlinks followed), without opening it."""
    try:
        return stat.S_ISREG(os.stat(path).st_mode)
    except (OSError, ValueError):
        return False


def missing_reason(path: str | Path) -> str:
    """Why `path` is no input file, for the messages of callers that check before reading:
    "does not exist", or "is not a regular file (a FIFO)" for a FIFO put in a file's place."""
    try:
        mode = os.stat(path).st_mode
    except (OSError, ValueError):
        return "does not exist"
    return "exists" if stat.S_ISREG(mode) else f"is {NotRegularFile(path, mode).strerror}"


def read_bytes(path: str | Path, limit: int | None = None) -> bytes:
    """The bytes of a regular file; `limit` refuses a bigger one before reading any of it."""
    with open_regular(path) as handle:
        if limit is not None:
            size = os.fstat(handle.fileno()).st_size
            if size > limit:
                raise FileTooLarge(path, size, limit)
            data = handle.read(limit + 1)
            if len(data) > limit:  # grew while we read it
                raise FileTooLarge(path, len(data), limit)
            return data
        return handle.read()


def read_text(path: str | Path, encoding: str = "utf-8", errors: str = "strict", limit: int | None = None) -> str:
    """The text of a regular file, decoded as `Path.read_text` does (universal newlines: `\\r\\n`
    and `\\r` read as `\\n`), so switching a reader to this changes nothing but the refusals."""
    text = read_bytes(path, limit).decode(encoding, errors)
    return text.replace("\r\n", "\n").replace("\r", "\n") if "\r" in text else text


__all__ = [
    "FileTooLarge", "NotRegularFile", "is_regular", "missing_reason", "open_regular", "read_bytes", "read_text",
]
