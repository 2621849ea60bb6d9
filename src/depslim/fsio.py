"""Atomic writes: a temp file beside the target, fsync, then os.replace.

Nothing half-written ever reaches the user's path, and an existing file is only replaced
with `force=True` (the CLI's `--force`).
"""

from __future__ import annotations

import codecs
import contextlib
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

from depslim.errors import WriteRefused


def atomic_write(path: str | Path, data: str | bytes, *, force: bool = True) -> Path:
    """Write `data` to `path` atomically; refuse to replace an existing file unless `force`."""
    target = Path(path)
    if target.exists() and not force:
        raise WriteRefused(f"{target}: exists; pass --force to overwrite it")
    target.parent.mkdir(parents=True, exist_ok=True)
    payload = data.encode("utf-8") if isinstance(data, str) else data
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
        if target.exists():
            with contextlib.suppress(OSError):
                os.chmod(tmp, target.stat().st_mode & 0o7777)
        else:
            os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return target


def atomic_write_all(items: Sequence[tuple[Path, str | bytes]]) -> list[Path]:
    """Write several files as one change: every temp file is written and synced first, then they
    replace their targets one after another. An interruption before the renames leaves every
    target as it was (and no temp file behind); the renames themselves take microseconds."""
    staged: list[tuple[str, Path]] = []
    try:
        for path, data in items:
            target = Path(path)
            target.parent.mkdir(parents=True, exist_ok=True)
            payload = data.encode("utf-8") if isinstance(data, str) else data
            fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
            staged.append((tmp, target))
            with os.fdopen(fd, "wb") as handle:
                handle.write(payload)
                handle.flush()
                os.fsync(handle.fileno())
            mode = target.stat().st_mode & 0o7777 if target.exists() else 0o644
            os.chmod(tmp, mode)
        for tmp, target in staged:
            os.replace(tmp, target)
    except BaseException:
        for tmp, _target in staged:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
        raise
    return [target for _tmp, target in staged]


_BOMS = ((codecs.BOM_UTF32_LE, "utf-32-le"), (codecs.BOM_UTF32_BE, "utf-32-be"), (codecs.BOM_UTF8, "utf-8"),
         (codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be"))


def decode_text(data: bytes) -> str:
    """Text of a requirements-style file as pip reads it: a byte-order mark decides the encoding
    (Windows' `pip freeze > requirements.txt` writes UTF-16 with one), else UTF-8.

    Raises UnicodeDecodeError when the bytes are not text in that encoding."""
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            return data[len(bom):].decode(encoding)
    return data.decode("utf-8")
