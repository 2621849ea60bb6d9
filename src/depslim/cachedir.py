"""Where depslim keeps derived data (the scan cache, the report memo).

`DEPSLIM_CACHE_DIR` wins (CI caches one folder; the test suite isolates itself with it), then
`$XDG_CACHE_HOME/depslim`, then `~/.cache/depslim`. Standard library only: the memo asks for it
before any other import.
"""

from __future__ import annotations

import os


def cache_root() -> str:
    """The folder for everything depslim may delete and rebuild."""
    explicit = os.environ.get("DEPSLIM_CACHE_DIR")
    if explicit:
        return os.path.abspath(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "depslim")
