"""Per-file scan results cached by content, so a second scan of an unchanged tree parses nothing.

One snapshot file per (project root, scanner version, Python version, signal patterns):
a marshal dict `rel path -> (mtime_ns, size, sha256, result)`. marshal is the fastest
stdlib format to load (the warm path is dominated by it) and results are plain tuples.
A warm run trusts mtime+size like git's index — except for files modified within two seconds
of the snapshot being written, whose content is re-hashed (a same-second edit can keep both).
A file whose stat changed is hashed; when its sha256 matches any cached entry (an unchanged
touch, a rename, a copy) that result is reused; otherwise it is parsed again.

Any problem with the cache directory (unwritable, corrupt file, other Python) means "no
cache": the scan never fails because of it.

Privacy: results are redacted before they get here (`depslim.imports.scan_file_bytes`); the
folder is 0700 and each snapshot 0600, and a folder another user owns or can write is not read
(its results could be planted).
"""

from __future__ import annotations

import contextlib
import gc
import hashlib
import marshal
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from depslim.cachedir import is_private_folder, private_folder
from depslim.errors import DepslimError
from depslim.fsio import atomic_write
from depslim.imports.scan import SCANNER_VERSION

RACY_NS = 2_000_000_000
_FORMAT = 4  # 4: string literals redacted (older snapshots may hold secrets)

# Result: (imports, signals, errors, installs, skipped) — see depslim.imports.scan.
Entry = tuple[int, int, str, Any]  # (mtime_ns, size, sha256 hex, result)


def cache_key(root: Path, patterns_key: str) -> str:
    material = f"{_FORMAT}|{SCANNER_VERSION}|{sys.version_info[:2]}|{patterns_key}|{root}"
    return hashlib.sha256(material.encode("utf-8")).hexdigest()[:24]


@dataclass
class Snapshot:
    path: Path | None
    entries: dict[str, Entry] = field(default_factory=dict)
    written_ns: int = 0
    result_key: str = ""
    result: Any = None
    _by_sha: dict[str, Any] | None = None

    def fresh(self, rel: str, mtime_ns: int, size: int) -> Any | None:
        """The cached result when stat says the file is unchanged (None: hash it)."""
        entry = self.entries.get(rel)
        if entry is None or entry[0] != mtime_ns or entry[1] != size:
            return None
        if mtime_ns >= self.written_ns - RACY_NS:
            return None
        return entry

    def by_sha(self, sha: str) -> Any | None:
        if self._by_sha is None:
            self._by_sha = {entry[2]: entry[3] for entry in self.entries.values()}
        return self._by_sha.get(sha)


def load(cache_dir: Path | None, key: str) -> Snapshot:
    if cache_dir is None:
        return Snapshot(None)
    path = cache_dir / f"scan-{key}.marshal"
    if not is_private_folder(str(cache_dir)):
        return Snapshot(path)  # written only once the folder is made private (see `save`)
    try:
        gc_was_enabled = gc.isenabled()
        gc.disable()  # marshal builds ~10^5 tuples: GC passes over them would be wasted work
        try:
            data = marshal.loads(path.read_bytes())
        finally:
            if gc_was_enabled:
                gc.enable()
        if not (isinstance(data, dict) and data.get("format") == _FORMAT):
            return Snapshot(path)
        return Snapshot(path, data["entries"], data["written_ns"], data["result_key"], data["result"])
    except (OSError, EOFError, ValueError, TypeError, KeyError, IndexError):
        return Snapshot(path)


def save(snapshot: Snapshot, entries: dict[str, Entry], result_key: str = "", result: Any = None) -> bool:
    """Write the snapshot; False (and nothing raised) when the cache cannot be written.

    `result` is the assembled project-level answer as plain tuples (see
    the rows `depslim.imports` builds), so a warm run skips resolution, contexts and the graph.
    """
    if snapshot.path is None:
        return False
    if result_key == snapshot.result_key and result == snapshot.result and entries == snapshot.entries:
        return False  # nothing changed: leave the file alone
    payload = {
        "format": _FORMAT,
        "written_ns": time.time_ns(),
        "entries": entries,
        "result_key": result_key,
        "result": result,
    }
    if not private_folder(str(snapshot.path.parent)):
        return False
    with contextlib.suppress(OSError, ValueError, DepslimError):
        atomic_write(snapshot.path, marshal.dumps(payload), mode=0o600)
        return True
    return False


def fingerprint(*parts: Any) -> str:
    return hashlib.sha256(repr(parts).encode("utf-8")).hexdigest()


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
