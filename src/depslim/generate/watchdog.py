"""Run a resolver so that it dies with depslim, and its temporary folder goes with it.

Why: `depslim lock` starts pip-compile (or uv) in a private temporary folder. A SIGKILL of depslim
(a CI job cancelled, an OOM kill, `kill -9`) runs none of its cleanup: the resolver went on running
and its folder stayed behind. This program sits between the two, started by depslim as
`python -I -S watchdog.py` (standard library only, nothing of depslim imported), and:

1. reads its request on stdin (JSON: the command, files to put in the folder, a name prefix),
   creates the folder and reports it on the status descriptor (`tmp PATH`);
2. starts the resolver in its own session (so a signal to it reaches every process it starts), with
   `PR_SET_PDEATHSIG` set to SIGKILL on Linux between fork and exec (plain `os.fork` in this
   single-threaded process: no `preexec_fn` in a threaded parent), so the resolver dies if this
   watchdog does;
3. waits for the resolver to end (reported as `exit CODE` on the status descriptor) or for its
   lifeline — a pipe whose only writer is depslim — to close, which the kernel does when depslim
   ends in any way. Lifeline closed before the resolver ended: the resolver's whole process group
   is killed. Either way the folder is removed, then the watchdog exits.

The resolver's stdout and stderr are the watchdog's own (pipes depslim reads); the watchdog closes
its copies once the resolver runs, so depslim sees end-of-file exactly when the resolver is done.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import shutil
import signal
import sys
import tempfile

PR_SET_PDEATHSIG = 1
TMP = "@@DEPSLIM_TMP@@"  # in the request's argv: the folder, once it exists


class _Terminated(Exception):
    """SIGTERM or SIGHUP to the watchdog (a CI runner stopping the job's process group)."""


def _terminated(signum: int, frame: object) -> None:
    raise _Terminated


def _die_with_parent() -> None:
    """In the forked resolver: SIGKILL when the watchdog dies (Linux; elsewhere the lifeline only)."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def _spawn(argv: list[str]) -> int:
    parent = os.getpid()
    pid = os.fork()
    if pid == 0:  # the resolver-to-be
        try:
            os.setsid()
            _die_with_parent()
            if os.getppid() != parent:  # the watchdog died before the death signal was armed
                os._exit(137)
            null = os.open(os.devnull, os.O_RDONLY)
            os.dup2(null, 0)
            os.execvp(argv[0], argv)
        except OSError as exc:
            os.write(2, f"cannot start {argv[0]}: {exc.strerror}\n".encode())
        finally:
            os._exit(127)
    return pid


def _wait(pid: int, lifeline: int) -> int | None:
    """The resolver's exit code, or None when the lifeline closed first."""
    pidfd = None
    try:
        pidfd = os.pidfd_open(pid)
    except (AttributeError, OSError):
        pidfd = None
    while True:
        watched = [lifeline] + ([pidfd] if pidfd is not None else [])
        ready, _, _ = select.select(watched, [], [], None if pidfd is not None else 0.05)
        if lifeline in ready and not os.read(lifeline, 1):
            return None
        done, status = os.waitpid(pid, os.WNOHANG)
        if done == pid:
            return os.waitstatus_to_exitcode(status)


def main() -> int:
    status_fd, lifeline = int(sys.argv[1]), int(sys.argv[2])
    request = json.loads(sys.stdin.buffer.read())
    folder = tempfile.mkdtemp(prefix=request["prefix"])
    try:
        for name, text in request["files"].items():
            with open(os.path.join(folder, name), "w", encoding="utf-8") as handle:
                handle.write(text)
        os.write(status_fd, f"tmp {folder}\n".encode())
        argv = [arg.replace(TMP, folder) for arg in request["argv"]]
        pid = _spawn(argv)
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, 1)  # depslim's pipes now end with the resolver
        os.dup2(null, 2)
        try:
            code = _wait(pid, lifeline)
        except _Terminated:
            code = None
        _ignore_stops()  # the cleanup below is not to be cut short
        if code is None:  # depslim is gone, gave up on the resolver, or the job is being stopped
            with contextlib.suppress(OSError):
                os.killpg(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            return 0
        os.write(status_fd, f"exit {code}\n".encode())
        while os.read(lifeline, 4096):  # depslim reads the output; it closes the lifeline when done
            continue
        return 0
    finally:
        _ignore_stops()
        shutil.rmtree(folder, ignore_errors=True)


def _ignore_stops() -> None:
    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, signal.SIG_IGN)


if __name__ == "__main__":
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches depslim, which closes the lifeline
    signal.signal(signal.SIGTERM, _terminated)
    signal.signal(signal.SIGHUP, _terminated)
    sys.exit(main())
