"""Replay a finished `depslim analyze` (or `audit`, `image`) when nothing it read has changed.

Why: the second run on unchanged files (a pre-commit hook, a CI re-run, a reviewer re-checking)
should cost a process start, not an analysis. The scan cache already skips parsing unchanged
files, but reading and sizing the environment, mapping and rendering still take a second on a
large tree. The memo stores the finished report's bytes and replays them when every input is
as it was.

How it knows the inputs: while a run records, a PEP 578 audit hook collects every file opened
for reading and every directory listed. That covers the project walk, every file parsed, the
requirement and config files, the environment's metadata, the data files and depslim's own
lazily imported modules, without each reader having to declare what it reads. The memo then
keeps a stat fingerprint (mtime_ns, size, inode) of:

- every file opened (and whether a file that was probed was missing);
- every directory listed, and every entry in it (a scan-cache hit only stats a file, it does
  not open it, so the listing's entries carry the project's files);
- the parent directory of every opened file (its mtime moves when an entry is created or
  removed there, which covers "does pyproject.toml exist?" checks that never open anything).

A replay re-stats those paths (a few thousand `stat` calls, no reads) and prints the stored
bytes only if all match. Anything the hook cannot see makes the run unrecordable, so it is never
replayed: a subprocess, a socket (an image in the Docker engine, an index), a directory listed
by file descriptor. (`--python` reads the other environment's files, which the hook sees.) An
image archive or OCI layout is a file like any other: a second `depslim image app.tar` replays
until the archive is rewritten. The key covers the command line, working directory, interpreter,
`sys.path`, depslim's version, the environment variables and, for a terminal, its size — as one
BLAKE2b hash: a memo never stores any of those values (the environment holds credentials; the
memo lives on disk). The memo folder is 0700 and each memo 0600, and a folder that is not this
user's own, or that others can write, is never replayed from.

Limits, stated in the README: installed files changed in place without their distribution's
RECORD or directory changing are not seen (pip, uv and conda rewrite RECORD on every install);
a file modified within two seconds of the run is not trusted (the racy-git rule), so such a run
is not stored. `--no-cache` (or `DEPSLIM_NO_MEMO=1`) neither reads nor writes the memo.

`depslim.entry` asks this module before anything else on every start, so it imports only the
standard library's cheapest modules.
"""

from __future__ import annotations

import io
import marshal
import os
import sys
import time

from depslim import __version__
from depslim.cachedir import cache_root, is_private_folder, private_folder

TYPE_CHECKING = False  # typing costs ~10 ms to import; this module runs before every command
if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import Any

MEMO_FORMAT = 2  # 2: the key is a hash
COMMANDS = frozenset({"analyze", "audit", "image"})
# Options that write somewhere else than stdout or opt out. An image in the Docker engine (a
# socket) needs no entry here: the hook sees it and never stores.
UNSAFE_OPTIONS = ("-o", "--output", "--no-cache", "-h", "--help", "--version", "--force")
# Variables that change between otherwise identical shell invocations, or only steer the memo's log.
VOLATILE_ENV = frozenset({"_", "OLDPWD", "PWD", "SHLVL", "SSH_CLIENT", "SSH_CONNECTION", "SSH_TTY", "WINDOWID",
                          "DEPSLIM_MEMO_LOG"})
# Events that mean an input came from somewhere the hook cannot fingerprint. `os.fork` is not
# one: the scan's forked workers only parse files the parent listed (so they are fingerprinted).
UNTRACKABLE_EVENTS = frozenset({
    "subprocess.Popen", "os.system", "os.exec", "os.posix_spawn", "os.spawn",
    "socket.connect", "socket.getaddrinfo", "urllib.Request",
})
RACY_NS = 2_000_000_000
KEEP = 32  # memos kept (one per command line, folder and environment); the oldest go first
_STDLIB = os.path.dirname(os.__file__) + os.sep  # the interpreter's own modules: keyed by sys.version
_INSTALLED = ("site-packages", "dist-packages")  # under _STDLIB in a POSIX prefix, and real inputs

Fingerprint = tuple[int, int, int] | None


def eligible(argv: Sequence[str]) -> bool:
    """Only a command whose whole output is its stdout, with every input a local file."""
    if not argv or argv[0] not in COMMANDS or os.environ.get("DEPSLIM_NO_MEMO"):
        return False
    return not any(arg == opt or arg.startswith(opt + "=") or (len(opt) == 2 and arg.startswith(opt))
                   for arg in argv[1:] for opt in UNSAFE_OPTIONS)


def _terminal(stream: Any) -> tuple[int, int] | None:
    try:
        if stream.isatty():
            size = os.get_terminal_size(stream.fileno())
            return (size.columns, size.lines)
    except (OSError, ValueError, AttributeError):
        return None
    return None


def memo_key(argv: Sequence[str]) -> str:
    """A hash of everything outside the file system that can change the output (never the values)."""
    env = sorted((k, v) for k, v in os.environ.items() if k not in VOLATILE_ENV)
    parts = (MEMO_FORMAT, __version__, sys.executable, sys.version, tuple(sys.path), os.getcwd(),
             tuple(argv), tuple(env), _terminal(sys.stdout), _terminal(sys.stderr) is not None)
    return _hash(repr(parts).encode("utf-8", "surrogateescape"))


def _hash(data: bytes) -> str:
    try:  # the builtin module: 0.2 ms to import, against 2 ms for hashlib (OpenSSL) on every start
        from _blake2 import blake2b
    except ImportError:  # pragma: no cover - an interpreter built without it
        from hashlib import blake2b
    return blake2b(data, digest_size=32).hexdigest()


def _memo_folder() -> str:
    return os.path.join(cache_root(), "memo")


def _memo_file(key: str) -> str:
    return os.path.join(_memo_folder(), f"{key[:32]}.marshal")


def fingerprint(path: str) -> Fingerprint:
    """(mtime_ns, size, inode), or None for a path that is missing (or not a path at all)."""
    try:
        st = os.stat(path)
    except (OSError, TypeError, ValueError):
        return None
    return (st.st_mtime_ns, st.st_size, st.st_ino)


def log(message: str) -> None:
    if os.environ.get("DEPSLIM_MEMO_LOG"):
        print(f"memo: {message}", file=sys.stderr)


def stored_output(argv: Sequence[str]) -> bytes | None:
    """The stored report's bytes when the run would produce exactly them, else None."""
    if not eligible(argv):
        return None
    key = memo_key(argv)
    folder = _memo_folder()
    if os.path.lexists(folder) and not is_private_folder(folder):
        log("miss (the memo folder is not private: not replayed from)")
        return None
    try:
        with open(_memo_file(key), "rb") as handle:
            memo = marshal.loads(handle.read())  # load(handle) reads in small chunks: 3x slower
    except (OSError, EOFError, ValueError, TypeError):
        log("miss (none stored)")
        return None
    if not isinstance(memo, dict) or memo.get("key") != key:
        log("miss (different command or environment)")
        return None
    paths, stats, printed = memo.get("paths"), memo.get("stats"), memo.get("stdout")
    if not (isinstance(paths, list) and isinstance(stats, list) and len(paths) == len(stats)
            and isinstance(printed, bytes)):
        log("miss (unreadable memo)")  # another version's, or damaged: the next run rewrites it
        return None
    for path, was in zip(paths, stats, strict=True):
        if fingerprint(path) != was:
            log(f"miss ({path} changed)")
            return None
    log(f"hit ({len(paths)} paths unchanged)")
    return printed


class _TeeBuffer(io.RawIOBase):
    """The real stdout's buffer, keeping a copy of every byte written through it."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self.chunks: list[bytes] = []

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        chunk = bytes(data)
        self.chunks.append(chunk)
        self._inner.write(chunk)
        return len(chunk)

    def flush(self) -> None:
        self._inner.flush()

    def isatty(self) -> bool:
        return bool(self._inner.isatty())

    def fileno(self) -> int:
        return int(self._inner.fileno())


class Recorder:
    """Collects a run's inputs and stdout; `finish` stores them when the run can be replayed."""

    _active: Recorder | None = None
    _hooked = False

    def __init__(self, argv: Sequence[str]) -> None:
        self.key = memo_key(argv)
        self.started_ns = time.time_ns()
        self.opened: set[str] = set()
        self.listed: set[str] = set()
        self.untrackable: str | None = None
        self._skip = cache_root() + os.sep
        self._stdout = sys.stdout
        self._tee = _TeeBuffer(sys.stdout.buffer)
        sys.stdout = io.TextIOWrapper(
            self._tee,
            encoding=self._stdout.encoding,
            errors=self._stdout.errors,
            line_buffering=bool(self._stdout.line_buffering),  # typeshed's TextIO says int
            write_through=True,
        )
        Recorder._active = self
        if not Recorder._hooked:
            sys.addaudithook(_hook)
            Recorder._hooked = True

    def _wanted(self, raw: Any) -> str | None:
        if isinstance(raw, int):
            self.untrackable = self.untrackable or "a directory listed by descriptor"
            return None
        if not isinstance(raw, str | bytes | os.PathLike):
            return None
        path = os.path.abspath(os.fsdecode(raw))
        return None if _skipped(path, self._skip) else path

    def on_open(self, raw: Any, mode: Any, flags: Any) -> None:
        if isinstance(raw, int):  # os.fdopen / open(fd): the path was seen when it was opened
            return
        writing = (isinstance(mode, str) and any(c in mode for c in "wax+")) or (
            mode is None and isinstance(flags, int) and flags & (os.O_WRONLY | os.O_RDWR))
        path = self._wanted(raw)
        if path is not None and not writing:
            self.opened.add(path)

    def on_list(self, raw: Any) -> None:
        path = self._wanted("." if raw is None else raw)
        if path is not None:
            self.listed.add(path)

    def stop(self) -> bytes:
        """Stop recording and give stdout back; returns what the run printed."""
        Recorder._active = None
        sys.stdout.flush()
        sys.stdout = self._stdout
        return b"".join(self._tee.chunks)

    def finish(self, exit_code: int) -> None:
        printed = self.stop()
        if exit_code != 0 or self.untrackable:
            log(f"not stored ({self.untrackable or f'exit {exit_code}'})")
            return
        paths = set(self.opened) | self.listed
        paths.update(os.path.dirname(p) for p in self.opened)
        paths.update(source_of_bytecode(p) for p in self.opened if p.endswith(".pyc"))
        for directory in self.listed:
            try:
                with os.scandir(directory) as entries:
                    paths.update(entry.path for entry in entries)
            except OSError:
                continue
        ordered = sorted(p for p in paths if not _skipped(p, self._skip))
        stats = [fingerprint(p) for p in ordered]
        racy = self.started_ns - RACY_NS
        for path, stat in zip(ordered, stats, strict=True):
            if stat is not None and stat[0] >= racy:
                log(f"not stored ({path} changed within 2 s of the run)")
                return
        from depslim.fsio import atomic_write  # the recording path: the CLI's imports are paid already

        memo = {"key": self.key, "paths": ordered, "stats": stats, "stdout": printed}
        target = _memo_file(self.key)
        if not private_folder(os.path.dirname(target)):
            log("not stored (the memo folder cannot be made private)")
            return
        try:
            atomic_write(target, marshal.dumps(memo), mode=0o600)
            _prune(os.path.dirname(target))
        except OSError as exc:  # a memo is an optimisation: never fail the run for it
            log(f"not stored ({exc})")
            return
        log(f"stored ({len(ordered)} paths)")


def source_of_bytecode(path: str) -> str:
    """`pkg/__pycache__/mod.cpython-311.pyc` -> `pkg/mod.py` (PEP 3147).

    An import opens only the cached bytecode when it is current; the source is only stat'ed, so
    the hook never sees it. Fingerprinting the source too means editing a module of an editable
    install (depslim's own, a finder's) is a miss, not a replay of the old code's report.
    """
    folder, name = os.path.split(path)
    if os.path.basename(folder) != "__pycache__":
        return path
    return os.path.join(os.path.dirname(folder), name.split(".", 1)[0] + ".py")


def _prune(folder: str) -> None:
    """Keep the newest KEEP memos; remove every memo of the old naming (`crc32-len.marshal`), whose
    key held the environment's values in clear."""
    with os.scandir(folder) as entries:
        found = [(e.stat().st_mtime_ns, e.path, e.name) for e in entries if e.name.endswith(".marshal")]
    old = [path for _, path, name in found if len(name) != 40 or "-" in name]
    memos = sorted((mtime, path) for mtime, path, name in found if path not in old)
    for path in old + [path for _, path in memos[:-KEEP]]:
        try:
            os.unlink(path)
        except OSError:
            continue


def _skipped(path: str, cache: str) -> bool:
    """Derived data (depslim's caches) and the interpreter's standard library are not inputs."""
    if path.startswith(cache):
        return True
    if path.startswith(_STDLIB):
        return not path[len(_STDLIB):].startswith(_INSTALLED)
    return False


def _hook(event: str, args: tuple[Any, ...]) -> None:
    recorder = Recorder._active
    if recorder is None:
        return
    if event == "open":
        recorder.on_open(*args[:3])
    elif event in ("os.scandir", "os.listdir"):
        recorder.on_list(args[0] if args else None)
    elif event in UNTRACKABLE_EVENTS:
        recorder.untrackable = recorder.untrackable or event
