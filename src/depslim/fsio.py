"""Atomic writes: the bytes go to a file beside the target, are synced, then renamed over it.

Nothing half-written ever reaches the user's path, and an existing file is only replaced
with `force=True` (the CLI's `--force`).

Kill-safety: the new content is written into an *unnamed* file in the target's directory
(Linux `O_TMPFILE`), so a SIGKILL during the write and the fsync leaves nothing behind; it gets a
name (`.NAME.depslim-PID-XXXXXXXX.tmp`) only for the microseconds between `linkat` and the rename.
Where unnamed files are not supported the same name is used for the whole write. Either way, every
write first removes the temps of depslim's naming pattern next to its target whose process is gone
(and the `.NAME.XXXXXXXX.tmp` files older releases left when killed), so no temp outlives the next
run even after a kill in that window.

Several files as one change (`atomic_write_all`: split's requirements-base.txt, requirements-dev.txt
and depslim-cuts.md): POSIX renames one file at a time, so a kill between two renames would leave a
new base beside an old dev file, each stamped valid. So the set is committed through a journal:
every new content is written, synced and linked under its temp name; then a journal naming every
(temp, target) pair appears in one step (an unnamed file linked to `.depslim-PID-XXXXXXXX.journal`,
complete or absent); then the renames; then the journal goes. A kill before the journal leaves the
old set (the temps are removed as stale); a kill after it leaves a journal that the next depslim run
writing or reading that folder completes (`recover_interrupted`: it renames the temps still there),
so the set is seen old or new, never mixed.

Secrets: every text written here goes through `depslim.redact` first (bytes are the caller's own
binary formats). For a file depslim merges into (the user's `.dockerignore` or `pyproject.toml`),
`keep` is the user's text as it was: its lines are written back untouched, only depslim's own lines
are redacted. Private files (the caches) pass `mode=0o600`.
"""

from __future__ import annotations

import codecs
import contextlib
import json
import os
import re
import stat
import time
from collections.abc import Sequence
from pathlib import Path

from depslim.errors import WriteRefused

TEMP_SUFFIX = ".tmp"
_OWN_TEMP = re.compile(r"^\.(?P<name>.+)\.depslim-(?P<pid>\d+)-[0-9a-f]{8}\.tmp$")
_JOURNAL = re.compile(r"^\.depslim-(?P<pid>\d+)-[0-9a-f]{8}\.journal$")
_LEGACY_TEMP = re.compile(r"^\.(?P<name>.+)\.[a-z0-9_]{8}\.tmp$")  # tempfile.mkstemp's, before this module used pids
LEGACY_STALE_S = 60.0  # a legacy temp this old belongs to no write in progress (a write takes milliseconds)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # EPERM: alive, someone else's
        return True
    return True


def remove_stale_temps(folder: Path, name: str | None = None) -> list[Path]:
    """Remove depslim's leftover temp files in `folder` (for target `name`, or all): those of a
    process that is gone, and legacy ones older than a minute. Returns what was removed."""
    removed: list[Path] = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    now = time.time()
    for entry in entries:
        if not entry.name.endswith(TEMP_SUFFIX) or not entry.name.startswith("."):
            continue
        own, legacy = _OWN_TEMP.match(entry.name), _LEGACY_TEMP.match(entry.name)
        match = own or legacy
        if match is None or (name is not None and match.group("name") != name):
            continue
        try:
            if not entry.is_file(follow_symlinks=False):
                continue
            if own is not None:
                stale = int(own.group("pid")) != os.getpid() and not _pid_alive(int(own.group("pid")))
            else:
                stale = now - entry.stat(follow_symlinks=False).st_mtime > LEGACY_STALE_S
            if stale:
                os.unlink(entry.path)
                removed.append(Path(entry.path))
        except OSError:
            continue
    return removed


_PROC_FD = os.path.isdir("/proc/self/fd")


def remove_stale_folders(parent: str, prefix: str) -> None:
    """Remove `parent/PREFIX<pid>-*` folders whose process is gone (a run killed with its helpers)."""
    import shutil

    try:
        entries = list(os.scandir(parent))
    except OSError:
        return
    for entry in entries:
        if not entry.name.startswith(prefix):
            continue
        pid = entry.name[len(prefix):].partition("-")[0]
        if pid.isdigit() and int(pid) != os.getpid() and not _pid_alive(int(pid)):
            with contextlib.suppress(OSError):
                if entry.is_dir(follow_symlinks=False) and entry.stat(follow_symlinks=False).st_uid == os.getuid():
                    shutil.rmtree(entry.path, ignore_errors=True)


def _temp_name(target: Path) -> Path:
    return target.parent / f".{target.name}.depslim-{os.getpid()}-{os.urandom(4).hex()}{TEMP_SUFFIX}"


class _Staged:
    """New content for one target, synced to disk, not yet visible under any name (when the
    file system has O_TMPFILE) or under its temp name otherwise."""

    def __init__(self, target: Path, payload: bytes, mode: int) -> None:
        self.target, self._payload, self._mode = target, payload, mode
        self.temp: Path | None = None  # named only when O_TMPFILE is unavailable, or once linked
        self._fd: int | None = None
        try:
            if not _PROC_FD:
                raise OSError("no /proc/self/fd to link an unnamed file from")
            self._fd = os.open(target.parent, os.O_TMPFILE | os.O_WRONLY | os.O_CLOEXEC, 0o600)
        except (AttributeError, OSError):  # no O_TMPFILE here (not Linux, or the file system lacks it)
            self._write_named()
            return
        try:
            self._fill(self._fd)
        except BaseException:
            self.discard()
            raise

    def _fill(self, fd: int) -> None:
        view = memoryview(self._payload)
        while view:
            view = view[os.write(fd, view):]
        os.fchmod(fd, self._mode)
        os.fsync(fd)

    def _write_named(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        self.temp = _temp_name(self.target)
        self._fd = os.open(self.temp, os.O_CREAT | os.O_EXCL | os.O_WRONLY | os.O_CLOEXEC, 0o600)
        try:
            self._fill(self._fd)
        except BaseException:
            self.discard()
            raise

    def link(self, exact: bool = False) -> None:
        """Give the content a name: its temp name, or (`exact`) the target's own name, which must
        not exist yet (a journal: it appears complete or not at all)."""
        assert self._fd is not None
        if self.temp is None:
            name = self.target if exact else _temp_name(self.target)
            folder = os.open(self.target.parent, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
            try:  # a dir fd makes os.link call linkat(AT_SYMLINK_FOLLOW), which links the open file
                os.link(f"/proc/self/fd/{self._fd}", name.name, dst_dir_fd=folder, follow_symlinks=True)
                self.temp = None if exact else name
            except OSError:  # the kernel or file system does not link unnamed files: write it named
                self._write_named()
            finally:
                os.close(folder)
        if exact and self.temp is not None:
            os.replace(self.temp, self.target)
            self.temp = None

    def commit(self) -> None:
        """Give the content its name: link the unnamed file to a temp name, then rename over the target."""
        assert self._fd is not None
        self.link()
        assert self.temp is not None
        os.replace(self.temp, self.target)
        self.temp = None
        os.close(self._fd)
        self._fd = None

    def discard(self) -> None:
        if self.temp is not None:
            with contextlib.suppress(OSError):
                os.unlink(self.temp)
            self.temp = None
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._fd)
            self._fd = None


def _payload(data: str | bytes, keep: str | None) -> bytes:
    """The bytes to write: text redacted (a line `keep` already had is the user's and stays)."""
    if isinstance(data, bytes):
        return data
    from depslim.redact import redact  # its rules load on first use: only runs that write text pay

    if keep is None:
        return redact(data).encode("utf-8")
    own = set(keep.splitlines())
    lines = data.splitlines(keepends=True)
    return "".join(line if line.rstrip("\r\n") in own else redact(line) for line in lines).encode("utf-8")


def _mode(target: Path, mode: int | None) -> int:
    if mode is not None:
        return mode
    try:
        return target.stat().st_mode & 0o7777
    except OSError:
        return 0o644


def _sync_dir(folder: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def atomic_write(path: str | Path, data: str | bytes, *, force: bool = True, mode: int | None = None,
                 keep: str | None = None) -> Path:
    """Write `data` to `path` atomically; refuse to replace an existing file unless `force`.

    `mode` (default: the existing file's, else 0644); `keep`: the user's own text of a file
    depslim merges into (see the module docstring)."""
    target = Path(path)
    if target.exists() and not force:
        raise WriteRefused(f"{target}: exists; pass --force to overwrite it")
    return atomic_write_all([(target, data)], mode=mode, keep={target: keep} if keep is not None else None)[0]


def atomic_write_all(items: Sequence[tuple[Path, str | bytes]], *, mode: int | None = None,
                     keep: dict[Path, str] | None = None) -> list[Path]:
    """Write several files as one change: every new content is written and synced first, then they
    replace their targets. One file: a rename. Several: through a journal (module docstring), so a
    kill at any moment leaves the old set, or a set the next run completes — never a mixed one."""
    staged: list[_Staged] = []
    journal: Path | None = None
    try:
        for path, data in items:
            target = Path(path)
            target.parent.mkdir(parents=True, exist_ok=True)
            recover_interrupted(target.parent)  # before the stale temps go: a journal may need them
            remove_stale_temps(target.parent, target.name)
            payload = _payload(data, (keep or {}).get(target))
            staged.append(_Staged(target, payload, _mode(target, mode)))
        if len(staged) > 1:
            for item in staged:
                item.link()
            journal = _write_journal(staged)
        for item in staged:
            item.commit()
        if journal is not None:
            os.unlink(journal)
    finally:
        for item in staged:
            item.discard()
    for folder in {item.target.parent for item in staged}:
        _sync_dir(folder)  # the renames themselves survive a power cut
    return [item.target for item in staged]


def _write_journal(staged: Sequence[_Staged]) -> Path:
    """The set's journal beside its first target, complete or absent (an unnamed file, synced, then
    linked to its name). Paths are relative to that folder when they can be (a moved project)."""
    folder = staged[0].target.parent
    pairs = []
    for item in staged:
        assert item.temp is not None
        pairs.append([os.path.relpath(item.temp, folder), os.path.relpath(item.target, folder)])
    name = folder / f".depslim-{os.getpid()}-{os.urandom(4).hex()}.journal"
    entry = _Staged(name, json.dumps({"renames": pairs}).encode(), 0o600)
    try:
        entry.link(exact=True)
    finally:
        entry.discard()
    _sync_dir(folder)  # the journal is on disk before the first rename
    return name


def _journaled(temp: Path, target: Path) -> bool:
    """True when `temp` is a depslim temp file for `target`, beside it: `.NAME.depslim-PID-X.tmp`
    for NAME in the same folder, a regular file. A journal is read from the user's folder, which a
    checked-out pull request controls: a forged one can at most rename such a temp over the file it
    names next to it, never move anything elsewhere."""
    match = _OWN_TEMP.match(temp.name)
    if match is None or match.group("name") != target.name or temp.parent != target.parent:
        return False
    try:
        return stat.S_ISREG(os.lstat(temp).st_mode)
    except OSError:
        return False


def recover_interrupted(folder: Path) -> list[Path]:
    """Complete the multi-file writes a killed depslim left half-done in `folder` (see the module
    docstring): for each journal of a process that is gone, rename the temps still there over their
    targets, then remove the journal. Returns the targets completed. A journal that cannot be read
    is removed (its temps then go as stale): that set was never begun."""
    done: list[Path] = []
    try:
        entries = [(entry, found) for entry in os.scandir(folder) if (found := _JOURNAL.match(entry.name))]
    except OSError:
        return done
    for entry, found in entries:
        pid = int(found.group("pid"))
        if pid == os.getpid() or _pid_alive(pid):
            continue
        try:
            with open(entry.path, "rb") as handle:
                pairs = json.loads(handle.read(1 << 20))["renames"]
            for temp, target in pairs:
                source, destination = Path(folder, temp), Path(folder, target)
                if _journaled(source, destination):
                    os.replace(source, destination)
                    done.append(destination)
        except (OSError, ValueError, KeyError, TypeError):
            pass
        with contextlib.suppress(OSError):
            os.unlink(entry.path)
    if done:
        _sync_dir(folder)
    return done


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


def expand_user(text: str) -> Path:
    """`~` and `~user` expanded as pip expands them: a user this machine does not know (`~=1` read
    as a path, `~nobody-here/x`) leaves the text as written, where `Path.expanduser` raises
    RuntimeError and a requirement line would crash the reader."""
    return Path(os.path.expanduser(text))
