"""Run one function over many jobs in forked worker processes, with no feeder in this process.

Why not `ProcessPoolExecutor`: its manager thread in this process hands every chunk to a
worker and unpickles every result. While this process does other work (the core's
`alongside` thread reads the environment meanwhile), the GIL holds that thread back and the
workers sit idle. Here the job list is inherited through `fork`, the job numbers wait in one
pipe (a read of 4 bytes from a pipe is atomic, so every number goes to exactly one worker,
with no lock), and each worker sends its results in marshal batches down its own pipe; this
process only reads pipes, which releases the GIL.

A job whose result never arrives (a worker died) is left for the caller to run itself, so a
crash costs speed, never a result. Only for platforms with `fork`; results must be
marshal-able (plain tuples, strings, numbers).
"""

from __future__ import annotations

import contextlib
import marshal
import os
import selectors
import signal
import struct
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

Job = TypeVar("Job")

_INDEX = struct.Struct("<I")
_FRAME = struct.Struct("<Q")
_BATCH = 32  # results per message: fewer wake-ups here, steady progress on a terminal


def available() -> bool:
    return hasattr(os, "fork")


def _worker(jobs: Sequence[Job], func: Callable[[Job], Any], numbers: int, out: int) -> None:
    """Claim job numbers until the pipe is empty; send results in batches. Never returns."""
    code = 0
    try:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
        batch: list[Any] = []
        while True:
            raw = os.read(numbers, _INDEX.size)
            if len(raw) < _INDEX.size:
                break
            with contextlib.suppress(Exception):  # left out: the parent runs the job itself
                batch.append(func(jobs[_INDEX.unpack(raw)[0]]))
            if len(batch) >= _BATCH:
                _send(out, batch)
                batch = []
        if batch:
            _send(out, batch)
    except BaseException:  # whatever happened, the parent runs what is missing
        code = 1
    finally:
        os._exit(code)


def _send(fd: int, batch: list[Any]) -> None:
    data = marshal.dumps(batch)
    view = memoryview(_FRAME.pack(len(data)) + data)
    while view:
        view = view[os.write(fd, view) :]


def run(
    jobs: Sequence[Job],
    func: Callable[[Job], Any],
    workers: int,
    on_result: Callable[[Any], None],
    started: Callable[[], None] | None = None,
) -> None:
    """Call `on_result(func(job))` for the jobs, `func` running in `workers` forked processes.

    `started` is called here once every worker exists (threads started before a fork are a
    deadlock risk for the child; after it, none). Results come in no particular order; the
    caller finds jobs whose result is missing and runs them itself.
    """
    numbers_r, numbers_w = os.pipe()
    children: dict[int, int] = {}  # result fd -> pid
    try:
        for _ in range(workers):
            out_r, out_w = os.pipe()
            pid = os.fork()
            if pid == 0:  # the child
                os.close(numbers_w)
                os.close(out_r)
                for fd in children:
                    os.close(fd)
                _worker(jobs, func, numbers_r, out_w)
            os.close(out_w)
            children[out_r] = pid
    finally:
        os.close(numbers_r)
    try:
        _write_numbers(numbers_w, len(jobs))
    finally:
        os.close(numbers_w)
    if started is not None:
        started()
    _collect(children, on_result)


def _write_numbers(fd: int, count: int) -> None:
    data = memoryview(b"".join(_INDEX.pack(i) for i in range(count)))
    try:
        while data:
            data = data[os.write(fd, data) :]
    except BrokenPipeError:  # every worker is gone: the caller runs what is missing
        pass


def _collect(children: dict[int, int], on_result: Callable[[Any], None]) -> None:
    buffers = {fd: bytearray() for fd in children}
    finished = False
    try:
        with selectors.DefaultSelector() as selector:
            for fd in children:
                selector.register(fd, selectors.EVENT_READ)
            while buffers:
                for key, _ in selector.select():
                    fd = key.fd
                    chunk = os.read(fd, 1 << 20)
                    if not chunk:
                        selector.unregister(fd)
                        del buffers[fd]
                        continue
                    buffer = buffers[fd]
                    buffer += chunk
                    _drain(buffer, on_result)
        finished = True
    finally:
        for fd, pid in children.items():
            os.close(fd)
            if not finished:  # interrupted or failed here: the workers' results are unwanted
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, 0)


def _drain(buffer: bytearray, on_result: Callable[[Any], None]) -> None:
    """Hand over every complete frame in `buffer` and drop it from there."""
    start = 0
    while len(buffer) - start >= _FRAME.size:
        (size,) = _FRAME.unpack_from(buffer, start)
        end = start + _FRAME.size + size
        if len(buffer) < end:
            break
        for result in marshal.loads(bytes(buffer[start + _FRAME.size : end])):
            on_result(result)
        start = end
    del buffer[:start]
