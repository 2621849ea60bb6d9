"""Where depslim keeps derived data (the scan cache, the report memo).

`DEPSLIM_CACHE_DIR` wins (CI caches one folder; the test suite isolates itself with it), then
`$XDG_CACHE_HOME/depslim`, then `~/.cache/depslim`. Standard library only: the memo asks for it
before any other import.
"""

from __future__ import annotations

import os
import stat


def cache_root() -> str:
    """The folder for everything depslim may delete and rebuild."""
    explicit = os.environ.get("DEPSLIM_CACHE_DIR")
    if explicit:
        return os.path.abspath(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "depslim")


def private_folder(path: str) -> bool:
    """Make `path` (a folder of depslim's cache) exist, be a real directory of this user, and be
    readable by this user only (0700). False when it cannot be made so: then nothing is cached.

    The caches hold what depslim read from projects and images (paths, imports, finished
    reports); on a shared machine another user must not read them, nor plant a memo whose
    stored output a later run would replay."""
    try:
        os.makedirs(path, mode=0o700, exist_ok=True)
        st = os.lstat(path)
        if not stat.S_ISDIR(st.st_mode) or (hasattr(os, "geteuid") and st.st_uid != os.geteuid()):
            return False
        if st.st_mode & 0o077:
            os.chmod(path, 0o700)
    except OSError:
        return False
    return True


def is_private_folder(path: str) -> bool:
    """Is `path` a directory of this user that nobody else can write (checked before a replay)?"""
    try:
        st = os.lstat(path)
    except OSError:
        return False
    owned = not hasattr(os, "geteuid") or st.st_uid == os.geteuid()
    return stat.S_ISDIR(st.st_mode) and owned and not st.st_mode & 0o022
