"""Streaming layer walk: tar headers plus the few small files depslim needs, nothing else.

A multi-GB image holds ~100k files; depslim only needs each member's path, type and size, plus
the bytes of dist-info metadata, dpkg status and os-release, and the dynamic section (SONAME,
DT_NEEDED) of the shared libraries in site dirs, read on the way past (depslim.native.elf reads
only the few stretches it needs and skips the rest). So this module parses tar headers itself
(cheaper per member than `tarfile`, and every name goes through one normaliser that rejects
escapes), skips content by seeking (plain layers on disk) or by inflating into a
discarded buffer (gzip via ISA-L when installed, zstd via `zstandard`), and keeps a compact
tuple per entry. Decompression is bounded in output per call, capped in ratio and in total,
so neither a bomb nor an absurd size field can exhaust memory.
"""

from __future__ import annotations

import posixpath
import re
import sys
import threading
import zlib
from array import array
from collections.abc import Callable
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any, Protocol, TypeGuard

from depslim.distinfo import metadata_header
from depslim.errors import ImageFormatError
from depslim.inputfile import open_regular
from depslim.native.elf import DEFAULT_PREFIX_CAP, ElfInfo, read_elf_stream

_fast_zlib: ModuleType | None
try:  # ISA-L inflates gzip 2-3x faster than zlib and releases the GIL like zlib does.
    from isal import isal_zlib as _fast_zlib
except ImportError:  # pragma: no cover - depends on the environment
    _fast_zlib = None

GZIP_MAGIC = b"\x1f\x8b"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
BLOCK = 512
KiB = 1024
MiB = 1024 * KiB
GiB = 1024 * MiB

# Entry kinds in the compact per-layer table.
FILE, DIR, SYMLINK, HARDLINK, OTHER = "f", "d", "l", "h", "o"

ELF_MIN_SIZE = 52  # the smallest ELF header (32-bit)

WHITEOUT_PREFIX = ".wh."
OPAQUE_MARKER = ".wh..wh..opq"


@dataclass(frozen=True)
class Limits:
    """Caps that keep a hostile or broken archive from exhausting memory or time.

    Memory is bounded by design whatever the input: a member name is at most `max_name_bytes`
    (PATH_MAX: a longer path cannot be created in a container) and `max_depth` components, so no
    member materialises more than `max_depth` implicit parent directories; the merged tree and
    the scans waiting to be merged hold at most `max_entries` entries and `max_tree_bytes` of path
    names together (`Budget`); captured metadata files are capped each (`max_capture`,
    `max_small_capture`, `max_metadata_header`) and in total (`max_captured_total`). Beyond a cap
    the image is refused (ImageFormatError naming the layer) or, for a captured file, skipped with
    a warning.
    """

    max_member_size: int = 1024 * GiB  # a tar size field above this is absurd
    max_layer_bytes: int = 1024 * GiB  # uncompressed bytes per layer
    max_ratio: int = 1000  # uncompressed/compressed, checked once past ratio_after
    ratio_after: int = 64 * MiB
    max_capture: int = 8 * MiB  # one listing we read whole (RECORD, dpkg status): real ones stay under 3 MiB
    max_small_capture: int = 1 * MiB  # top_level.txt, entry_points.txt, INSTALLER, os-release, pyvenv.cfg
    max_metadata_header: int = 1 * MiB  # METADATA/PKG-INFO: only the header is read, at most this much
    max_captured_total: int = 64 * MiB  # every captured file of the image together
    max_ext_header: int = 1 * MiB  # a pax or GNU long-name header record
    max_json: int = 4 * MiB  # a manifest, index or config (registries refuse manifests over 4 MiB)
    max_elf_prefix: int = DEFAULT_PREFIX_CAP  # bytes of a shared library kept to find its dynamic strings
    max_name_bytes: int = 4096  # PATH_MAX
    max_depth: int = 256  # path components (real images stay under 40)
    max_entries: int = 1_250_000  # entries of the merged tree plus the scan being merged (see Budget)
    max_tree_bytes: int = 96 * MiB  # their path names, in bytes of memory (see `path_cost`)
    max_archive_members: int = 100_000  # members of an outer docker-archive / oci-archive


DEFAULT_LIMITS = Limits()

_STR_HEADER = sys.getsizeof("")  # what an empty str costs; the rest of a str's size is its text


def path_cost(path: str) -> int:
    """What a path name held in the tree costs in memory, the unit of `max_tree_bytes`.

    Not its length: CPython stores a str one, two or four bytes a character, by its widest one,
    so a single emoji makes a 4,000-character path cost 16 KB. Counting characters let names of
    ASCII plus one emoji hold four times the budget (622 MB measured where 128 MiB was meant).
    ASCII, the usual case, is checked in O(1) and costs its length.
    """
    return len(path) if path.isascii() else sys.getsizeof(path) - _STR_HEADER


class Budget:
    """What one image may hold in memory, shared by the layer scans (threads) and the merge.

    The merged tree and the scans not merged yet together hold at most `max_entries` entries
    and `max_tree_bytes` of path names, whatever the layers hold:
    - the scan of the next layer to merge counts what the merged tree holds plus its own
      entries, and refuses the image past the limits (ImageFormatError naming the layer);
    - a scan of a later layer (scanned ahead, in parallel) waits, instead of growing, while the
      tree plus every pending scan is past the limits: the merge of the layers below frees
      room (or the image is refused there), so scanning ahead never multiplies the memory;
    - a scan with no layer index (an engine stream, read before its manifest gives the order)
      counts every pending scan.
    Scans charge in batches (`charge`); the merge reports after each layer (`merged`).
    `captured` is every captured file's bytes, never given back (they live until parsed).
    """

    def __init__(self, limits: Limits = DEFAULT_LIMITS) -> None:
        self.limits = limits
        self._cond = threading.Condition()
        self.pending_entries = 0
        self.pending_bytes = 0
        self.merged_entries = 0
        self.merged_bytes = 0
        self.next_layer = 0
        self.captured = 0
        self._closed = False

    def _over(self, entries: int, name_bytes: int) -> bool:
        return entries > self.limits.max_entries or name_bytes > self.limits.max_tree_bytes

    def charge(self, entries: int, name_bytes: int, archive: str, layer: int | None = None,
               own: tuple[int, int] = (0, 0)) -> None:
        """Count a batch of scanned entries (`own`: the scan's totals so far, this batch included)."""
        with self._cond:
            self.pending_entries += entries
            self.pending_bytes += name_bytes
            while layer is not None and layer != self.next_layer and not self._closed and self._over(
                    self.merged_entries + self.pending_entries, self.merged_bytes + self.pending_bytes):
                self._cond.wait(1.0)
            if self._closed:
                raise ImageFormatError(archive, "not read: another layer of the image failed")
            if layer is None:
                total = (self.merged_entries + self.pending_entries, self.merged_bytes + self.pending_bytes)
            else:
                total = (self.merged_entries + own[0], self.merged_bytes + own[1])
        if self._over(*total):
            lim = self.limits
            raise ImageFormatError(archive, f"more than {lim.max_entries} entries or {lim.max_tree_bytes} bytes "
                                            "of path names in the image (the limits that bound depslim's memory)")

    def merged(self, released_entries: int, released_bytes: int, live_entries: int, live_bytes: int) -> None:
        """A scan was merged: its pending counts leave, the merged tree's live counts replace theirs."""
        with self._cond:
            self.pending_entries -= released_entries
            self.pending_bytes -= released_bytes
            self.merged_entries = live_entries
            self.merged_bytes = live_bytes
            self.next_layer += 1
            self._cond.notify_all()

    def close(self) -> None:
        """The image failed: release every waiting scan (they finish or fail on their own)."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    def take_capture(self, size: int) -> bool:
        """Reserve `size` bytes for a captured file; False when the image's total is spent."""
        with self._cond:
            if self.captured + size > self.limits.max_captured_total:
                return False
            self.captured += size
            return True


def normalize_member(name: str, archive: str, limits: Limits = DEFAULT_LIMITS) -> str:
    """The one function every archive path goes through: absolute image path or an error.

    Leading "./" is fine (many tools write it); absolute names, "..", and NULs are hostile, and
    so is a name longer than PATH_MAX or deeper than `limits.max_depth` (each component of a
    path is a directory the merged tree holds: a 100,000-component name cost gigabytes).
    Returns "/" for the root entry.
    """
    if len(name) > limits.max_name_bytes:
        raise ImageFormatError(archive, f"member name is {len(name)} characters, longer than PATH_MAX "
                                        f"({limits.max_name_bytes}): {name[:60]!r}…")
    if "\x00" in name:
        raise ImageFormatError(archive, f"member name contains NUL: {name!r}")
    if name.startswith("/"):
        raise ImageFormatError(archive, f"absolute member name {name!r}")
    parts = []
    for part in name.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            raise ImageFormatError(archive, f"member name escapes the archive root: {name!r}")
        parts.append(part)
    if len(parts) > limits.max_depth:
        raise ImageFormatError(archive, f"member name has {len(parts)} components, more than "
                                        f"{limits.max_depth}: {name[:60]!r}…")
    return "/" + "/".join(parts)


def resolve_link_target(member: str, target: str, archive: str, limits: Limits = DEFAULT_LIMITS) -> str:
    """Check a symlink target stays inside the image root; return its absolute form.

    Absolute targets are relative to the image root (as inside a container). A relative
    target that climbs above "/" from where the link sits is rejected as hostile, and so is
    one longer than PATH_MAX (the kernel refuses to create it; the merged tree would keep it).
    """
    if len(target) > limits.max_name_bytes:
        raise ImageFormatError(archive, f"link target of {member} is {len(target)} characters, longer than "
                                        f"PATH_MAX ({limits.max_name_bytes})")
    if "\x00" in target:
        raise ImageFormatError(archive, f"link target contains NUL: {member} -> {target!r}")
    base = "/" if target.startswith("/") else posixpath.dirname(member)
    depth = 0 if base == "/" else base.count("/")
    for part in target.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            depth -= 1
            if depth < 0:
                raise ImageFormatError(archive, f"symlink points outside the image: {member} -> {target}")
        else:
            depth += 1
    return posixpath.normpath(posixpath.join(base, target))


class ByteSource(Protocol):
    def read(self, n: int) -> bytes: ...


class BlobSource(ByteSource, Protocol):
    """A layer blob opened for reading (`LayerRef.opener`): closed once its layer is scanned."""

    def close(self) -> None: ...


class SkipSource(ByteSource, Protocol):
    """A source that can pass over bytes without reading them (it says so with `seekable = True`)."""

    def skip(self, n: int) -> int: ...


class _Discarding(ByteSource, Protocol):
    def discard(self, n: int) -> int: ...


def _seekable(source: ByteSource) -> TypeGuard[SkipSource]:
    return bool(getattr(source, "seekable", False))


def _discards(source: ByteSource) -> TypeGuard[_Discarding]:
    return hasattr(source, "discard")


class _Decompressor(Protocol):
    """What `_Inflater` uses of a `zlib` or ISA-L `decompressobj`."""

    @property
    def eof(self) -> bool: ...
    @property
    def unused_data(self) -> bytes: ...
    @property
    def unconsumed_tail(self) -> bytes: ...
    def decompress(self, data: bytes, max_length: int = ..., /) -> bytes: ...


class RegionFile:
    """A byte range of a file on disk, read through its own handle (one per worker thread)."""

    seekable = True

    def __init__(self, path: str, offset: int, length: int) -> None:
        self._fh = open_regular(path)  # a FIFO put where a blob belongs: an error, not a hang
        self._fh.seek(offset)
        self._left = length
        self.consumed = 0

    def read(self, n: int) -> bytes:
        n = min(n, self._left)
        if n <= 0:
            return b""
        data = self._fh.read(n)
        self._left -= len(data)
        self.consumed += len(data)
        return data

    def readinto(self, buf: Any) -> int:
        """Fill `buf` from the region (ISA-L's reader pulls input this way, without a copy)."""
        view = memoryview(buf).cast("B")
        n = min(len(view), self._left)
        if n <= 0:
            return 0
        got = self._fh.readinto(view[:n]) or 0
        self._left -= got
        self.consumed += got
        return got

    def skip(self, n: int) -> int:
        """Seek forward; returns how far (short when the region ends first)."""
        n = min(n, self._left)
        self._fh.seek(n, 1)
        self._left -= n
        self.consumed += n
        return n

    def close(self) -> None:
        self._fh.close()


class BoundedStream:
    """The next `length` bytes of a non-seekable parent stream (a member of a streamed tar)."""

    seekable = False

    def __init__(self, parent: ByteSource, length: int) -> None:
        self._parent = parent
        self._left = length
        self.consumed = 0

    def read(self, n: int) -> bytes:
        n = min(n, self._left)
        if n <= 0:
            return b""
        data = self._parent.read(n)
        self._left -= len(data)
        self.consumed += len(data)
        return data

    def drain(self) -> None:
        while self.read(MiB):
            pass

    @property
    def left(self) -> int:
        return self._left


class _Prefixed:
    """A source with bytes already peeked put back in front."""

    def __init__(self, head: bytes, source: ByteSource) -> None:
        self._head = head
        self._source = source

    def read(self, n: int) -> bytes:
        if self._head:
            out, self._head = self._head[:n], self._head[n:]
            if len(out) < n:
                out += self._source.read(n - len(out))
            return out
        return self._source.read(n)


class _Inflater:
    """gzip (possibly multi-member) with bounded output per call."""

    def __init__(self, source: ByteSource, archive: str) -> None:
        self._source = source
        self._archive = archive
        self._lib = _fast_zlib or zlib
        self._d: _Decompressor = self._lib.decompressobj(31)
        self._pending = b""
        self._done = False

    def read(self, n: int) -> bytes:
        while not self._done:
            if not self._pending:
                self._pending = self._source.read(MiB)
                if not self._pending:
                    if not self._d.eof:
                        raise ImageFormatError(self._archive, "truncated gzip layer")
                    self._done = True
                    break
            try:
                out = self._d.decompress(self._pending, n)
            except Exception as exc:  # zlib.error / isal error: corrupt stream
                raise ImageFormatError(self._archive, f"corrupt gzip layer: {exc}") from None
            self._pending = self._d.unconsumed_tail
            if self._d.eof:
                rest = self._d.unused_data + self._pending
                self._pending = b""
                if rest.strip(b"\x00"):
                    if not rest.startswith(GZIP_MAGIC):
                        raise ImageFormatError(self._archive, "corrupt gzip layer: trailing garbage")
                    self._d = self._lib.decompressobj(31)
                    self._pending = rest
                elif not self._source_exhausted():
                    self._d = self._lib.decompressobj(31)
            if out:
                return out
        return b""

    def _source_exhausted(self) -> bool:
        more = self._source.read(MiB)
        if more:
            if not more.startswith(GZIP_MAGIC) and more.strip(b"\x00"):
                raise ImageFormatError(self._archive, "corrupt gzip layer: trailing garbage")
            self._pending = more
            return False
        return True


class _ThreadedInflater:
    """Inflate in a helper thread so inflating overlaps header parsing.

    One big gzip layer (a pip install of torch + nvidia wheels is ~4 GB compressed) cannot be
    split across threads, but ISA-L releases the GIL, so a producer inflating ahead into a
    small bounded queue hides the parser's cost. Memory stays bounded: at most `depth` chunks
    of `chunk` bytes wait in the queue. Only used for files on disk (the source must not be
    shared with another reader).
    """

    chunk = 4 * MiB
    depth = 6

    def __init__(self, source: ByteSource, archive: str) -> None:
        import queue
        import threading

        self._queue: queue.Queue[bytes | BaseException | None] = queue.Queue(self.depth)
        self._stop = threading.Event()
        self._buf = b""
        self._pos = 0
        self._done = False
        inner = _Inflater(source, archive)
        self._thread = threading.Thread(target=self._run, args=(inner,), daemon=True, name="depslim-inflate")
        self._thread.start()

    def _put(self, item: bytes | BaseException | None) -> bool:
        import queue

        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _run(self, inner: _Inflater) -> None:
        try:
            while not self._stop.is_set():
                data = inner.read(self.chunk)
                if not data:
                    break
                if not self._put(data):
                    return
            self._put(None)
        except BaseException as exc:  # handed to the consumer, which raises it
            self._put(exc)

    def read(self, n: int) -> bytes:
        """Up to `n` bytes; `read(0)` only refills the buffer (used by `discard`)."""
        if self._pos >= len(self._buf):
            if self._done:
                return b""
            item = self._queue.get()
            if item is None:
                self._done = True
                return b""
            if isinstance(item, BaseException):
                self._done = True
                raise item
            self._buf, self._pos = item, 0
        out = self._buf[self._pos : self._pos + n]
        self._pos += len(out)
        return out

    def discard(self, n: int) -> int:
        """Drop the next `n` bytes without copying them (skipping file contents is the hot path)."""
        left = n
        while left > 0:
            if self._pos >= len(self._buf):
                if not self.read(0) and self._done:
                    break
                continue
            step = min(left, len(self._buf) - self._pos)
            self._pos += step
            left -= step
        return n - left

    def close(self) -> None:
        self._stop.set()


class _PooledInflater:
    """ISA-L's C gzip reader inflating straight into a few reused buffers, in a helper thread.

    Faster than `decompressobj` for the one-big-layer case: no per-chunk `bytes` allocation
    (each a fresh mmap and ~1000 page faults), no output-buffer join copy, and the reader
    pulls compressed input with `readinto`. The helper thread takes a free buffer, fills it
    and hands it over; the parser gives it back when it has moved past it. Memory stays
    bounded at `depth` x `chunk` and the bomb caps still apply downstream (`_Guarded`).
    """

    chunk = 4 * MiB
    depth = 4
    input_chunk = 1 * MiB

    def __init__(self, source: _IntoSource, archive: str) -> None:
        import queue
        import threading

        assert _fast_zlib is not None
        self._archive = archive
        self._free: queue.SimpleQueue[bytearray | None] = queue.SimpleQueue()
        self._full: queue.SimpleQueue[tuple[bytearray, int] | BaseException | None] = queue.SimpleQueue()
        for _ in range(self.depth):
            self._free.put(bytearray(self.chunk))
        self._cur: bytearray | None = None
        self._view = memoryview(b"")
        self._pos = 0
        self._end = 0
        self._done = False
        reader = _fast_zlib._GzipReader(source, self.input_chunk)
        self._thread = threading.Thread(target=self._run, args=(reader,), daemon=True, name="depslim-inflate")
        self._thread.start()

    def _run(self, reader: Any) -> None:
        try:
            while True:
                buf = self._free.get()
                if buf is None:  # close() asked us to stop
                    return
                n = reader.readinto(buf)
                if not n:
                    self._full.put(None)
                    return
                self._full.put((buf, n))
        except ImageFormatError as exc:
            self._full.put(exc)
        except EOFError:
            self._full.put(ImageFormatError(self._archive, "truncated gzip layer (or trailing garbage)"))
        except Exception as exc:  # isal error, BadGzipFile (CRC/length), OSError: corrupt stream
            self._full.put(ImageFormatError(self._archive, f"corrupt gzip layer: {exc}"))

    def _next(self) -> bool:
        """Hand the current buffer back and wait for the next full one; False at the end."""
        if self._done:
            return False
        if self._cur is not None:
            self._view.release()
            self._free.put(self._cur)
            self._cur = None
            self._pos = self._end = 0
        item = self._full.get()
        if item is None:
            self._done = True
            return False
        if isinstance(item, BaseException):
            self._done = True
            raise item
        self._cur, self._end = item
        self._view = memoryview(self._cur)
        self._pos = 0
        return True

    def read(self, n: int) -> bytes:
        if self._pos >= self._end and not self._next():
            return b""
        end = min(self._pos + n, self._end)
        out = self._view[self._pos : end].tobytes()
        self._pos = end
        return out

    def discard(self, n: int) -> int:
        """Drop the next `n` bytes without copying them (skipping file contents is the hot path)."""
        left = n
        while left > 0:
            if self._pos >= self._end and not self._next():
                break
            step = min(left, self._end - self._pos)
            self._pos += step
            left -= step
        return n - left

    def close(self) -> None:
        self._done = True
        self._free.put(None)
        self._thread.join()


class _IntoSource:
    """Compressed input for ISA-L's reader: the peeked magic, then the counted region.

    The reader grows its input buffer to fit a gzip header (FEXTRA/FNAME have no length
    bound); refusing absurd requests keeps a hostile header from costing its size in memory.
    """

    def __init__(self, head: bytes, raw: RegionFile, counter: _Counting, archive: str, limit: int) -> None:
        self._head = head
        self._raw = raw
        self._counter = counter
        self._archive = archive
        self._limit = limit

    def read(self, n: int) -> bytes:  # pragma: no cover - ISA-L checks it exists, uses readinto
        buf = bytearray(n)
        return bytes(buf[: self.readinto(buf)])

    def readinto(self, buf: Any) -> int:
        view = memoryview(buf).cast("B")
        if len(view) > self._limit:
            raise ImageFormatError(self._archive, "corrupt gzip layer: absurd gzip header size")
        if self._head:
            n = min(len(view), len(self._head))
            view[:n] = self._head[:n]
            self._head = self._head[n:]
            return n
        got = self._raw.readinto(view)
        self._counter.tally(got)
        return got


class _Unzstd:
    """zstd frames with bounded output per call (a bomb can't expand a chunk to gigabytes)."""

    def __init__(self, source: ByteSource, archive: str) -> None:
        import zstandard

        self._archive = archive
        self._error = zstandard.ZstdError
        self._reader = zstandard.ZstdDecompressor().stream_reader(
            source,  # type: ignore[arg-type]  # zstandard reads any object with read(); its stubs say IO[bytes]
            read_size=MiB,
            read_across_frames=True,
            closefd=False,
        )

    def read(self, n: int) -> bytes:
        try:
            return self._reader.read(n)
        except self._error as exc:
            raise ImageFormatError(self._archive, f"corrupt zstd layer: {exc}") from None


class _Counting:
    """Counts compressed bytes pulled from the source (for the ratio cap and progress)."""

    def __init__(self, source: ByteSource, on_read: Callable[[int], None] | None) -> None:
        self._source = source
        self._on_read = on_read
        self.count = 0

    def read(self, n: int = -1) -> bytes:
        data = self._source.read(MiB if n is None or n < 0 else n)
        self.count += len(data)
        if self._on_read is not None and data:
            self._on_read(len(data))
        return data

    def tally(self, n: int) -> None:
        """Count `n` bytes pulled from the source past `read` (skipped, or read into a buffer)."""
        self.count += n
        if self._on_read is not None and n:
            self._on_read(n)


def sniff(head: bytes) -> str:
    """Decide compression from magic bytes: media types in the wild are not reliable."""
    if head.startswith(GZIP_MAGIC):
        return "gzip"
    if head.startswith(ZSTD_MAGIC):
        return "zstd"
    return "tar"


@dataclass
class LayerScan:
    """What one layer tar holds, compactly: the merge applies these in layer order.

    Entries are columns, not a tuple each (a million-file layer is a million entries): `paths`,
    `kinds` (one FILE/DIR/... code per entry), `sizes` (a machine-int array) and `links` (only
    the entries that are links, by position). The path strings are the ones the merged tree
    keeps as its keys, so nothing is copied when the layer is merged.
    """

    paths: list[str] = field(default_factory=list)
    kinds: list[str] = field(default_factory=list)
    sizes: array[int] = field(default_factory=lambda: array("q"))
    links: dict[int, str] = field(default_factory=dict)
    name_bytes: int = 0  # total length of `paths` (charged to the image's Budget until merged)
    whiteouts: list[str] = field(default_factory=list)  # paths hidden in lower layers
    opaques: list[str] = field(default_factory=list)  # dirs whose lower children are hidden
    captured: dict[str, bytes] = field(default_factory=dict)
    elf: dict[str, ElfInfo] = field(default_factory=dict)  # shared libraries in site dirs -> DT_NEEDED/SONAME
    content_bytes: int = 0  # regular file bytes + symlink lengths (what the layer adds)
    tar_bytes: int = 0  # uncompressed tar length
    compressed_bytes: int = 0
    compression: str = "tar"
    warnings: list[str] = field(default_factory=list)

    @property
    def entries(self) -> list[tuple[str, str, int, str | None]]:
        """The entries as (path, kind, size, link) tuples (for tests and small layers)."""
        links = self.links
        return [(path, kind, size, links.get(i)) for i, (path, kind, size) in
                enumerate(zip(self.paths, self.kinds, self.sizes, strict=True))]


_CAPTURE_DIST_INFO = frozenset(
    {"METADATA", "RECORD", "top_level.txt", "entry_points.txt", "direct_url.json", "INSTALLER"}
)
_CAPTURE_EGG_INFO = frozenset({"PKG-INFO", "installed-files.txt", "top_level.txt", "entry_points.txt"})
_CAPTURE_EXACT = frozenset(
    {"/var/lib/dpkg/status", "/etc/os-release", "/usr/lib/os-release"}
)
# Captured files read whole up to `max_capture`: listings that grow with what is installed.
_LISTINGS = frozenset({"RECORD", "installed-files.txt", "status"})
_HEADERS = frozenset({"METADATA", "PKG-INFO"})


def wanted(path: str) -> bool:
    """The small files depslim reads; everything else is header-only."""
    if path in _CAPTURE_EXACT:
        return True
    parent, _, base = path.rpartition("/")
    if base in _CAPTURE_DIST_INFO and parent.endswith(".dist-info"):
        return True
    if base in _CAPTURE_EGG_INFO and parent.endswith(".egg-info"):
        return True
    if base == "pyvenv.cfg":
        return True
    return base.endswith(".list") and parent == "/var/lib/dpkg/info"


def native_candidate(path: str, base: str) -> bool:
    """A file the walk reads the ELF dynamic section of: `*.so` / `*.so.*` inside a site dir.

    Only these can be wheels' extension modules or vendored libraries (`<pkg>.libs/`), and
    the test order keeps the common case (not a shared library) at one suffix check.
    """
    return (base.endswith(".so") or ".so." in base) and "-packages/" in path


# A dpkg list line naming a shared library: basename lib*.so[.*] or the loader (ld-*.so*); the
# bytes twin of depslim.native.sonames.is_shared_library_name, run on every captured list line.
_SHARED_LIB_LINE = re.compile(rb"/(?:lib|ld-)[^/]*\.so(?:\.[^/]*)?$")
MAX_DPKG_LIB_LINES = 4096  # per package: a few hundred at most in real packages (mesa, llvm)


def _dpkg_list_filter(data: bytes) -> bytes:
    """Keep the lines of a dpkg file list depslim uses, bounded.

    Python-site lines mark dpkg-owned site files; shared-library lines tell which package
    provides a soname (the OS libraries a wheel needs, see depslim.native).
    """
    keep = []
    libs = 0
    for line in data.splitlines():
        if b"-packages/" in line:
            keep.append(line)
        elif libs < MAX_DPKG_LIB_LINES and b".so" in line and _SHARED_LIB_LINE.search(line):
            keep.append(line)
            libs += 1
    return b"\n".join(keep)


def _parse_number(field_bytes: bytes, archive: str, what: str) -> int:
    if field_bytes and field_bytes[0] & 0x80:  # GNU base-256
        value = int.from_bytes(field_bytes[1:], "big")
        if field_bytes[0] & 0x40:
            raise ImageFormatError(archive, f"negative {what} in tar header")
        return value
    text = field_bytes.split(b"\x00", 1)[0].strip()
    if not text:
        return 0
    try:
        return int(text, 8)
    except ValueError:
        raise ImageFormatError(archive, f"bad {what} field in tar header: {text[:20]!r}") from None


def _cstr(raw: bytes) -> str:
    return raw.split(b"\x00", 1)[0].decode("utf-8", "replace")


def _parse_pax(data: bytes, archive: str) -> dict[str, str]:
    out: dict[str, str] = {}
    pos = 0
    while pos < len(data):
        space = data.find(b" ", pos)
        if space < 0:
            break
        try:
            length = int(data[pos:space])
        except ValueError:
            raise ImageFormatError(archive, "corrupt pax header") from None
        if length <= 0 or pos + length > len(data):
            raise ImageFormatError(archive, "corrupt pax header")
        record = data[space + 1 : pos + length - 1]
        key, _, value = record.partition(b"=")
        out[key.decode("utf-8", "replace")] = value.decode("utf-8", "replace")
        pos += length
    return out


class TarWalker:
    """Iterates tar headers of a byte source, reading content only when asked.

    Works for plain files (skips by seeking) and for streams (skips by reading). Every error
    (truncation, bad checksum, absurd size) is an ImageFormatError naming `archive`.
    """

    def __init__(self, source: ByteSource, archive: str, limits: Limits = DEFAULT_LIMITS) -> None:
        self._source = source
        self._archive = archive
        self._limits = limits
        self._skipper: SkipSource | None = source if _seekable(source) else None
        self._seekable = self._skipper is not None
        # a source that can `discard` keeps its own buffer: ask it for exactly what a header
        # needs instead of copying a MiB out of it per refill
        self._discard: Callable[[int], int] | None = getattr(source, "discard", None)
        self._chunk = 64 * KiB if self._seekable else (BLOCK if self._discard is not None else MiB)
        self._buf = b""
        self._pos = 0
        self.offset = 0  # bytes consumed from the tar stream
        self._data_left = 0  # unread content bytes (incl. padding) of the current member

    @property
    def archive(self) -> str:
        return self._archive

    # --- low-level buffer -------------------------------------------------------------
    def _take(self, n: int) -> bytes:
        """Exactly n bytes, or fewer only at a clean end of input."""
        buf, pos = self._buf, self._pos
        if len(buf) - pos >= n:
            self._pos = pos + n
            self.offset += n
            return buf[pos : pos + n]
        if pos >= len(buf) and self._chunk <= n:
            first = self._source.read(n)
            if len(first) == n:  # the usual case for a buffered source: one call, no join
                self._buf, self._pos = b"", 0
                self.offset += n
                return first
            buf, pos = first, 0
        parts = [buf[pos:]]
        have = len(buf) - pos
        self._buf, self._pos = b"", 0
        while have < n:
            chunk = self._source.read(max(self._chunk, n - have))
            if not chunk:
                break
            need = n - have
            if len(chunk) > need:
                parts.append(chunk[:need])
                self._buf, self._pos = chunk, need
                have = n
            else:
                parts.append(chunk)
                have += len(chunk)
        self.offset += have
        return b"".join(parts)

    def _skip(self, n: int) -> None:
        avail = len(self._buf) - self._pos
        if n <= avail:
            self._pos += n
            self.offset += n
            return
        n -= avail
        self.offset += avail
        self._buf, self._pos = b"", 0
        if self._skipper is not None:
            got = self._skipper.skip(n)
            self.offset += got
            if got < n:
                raise ImageFormatError(self._archive, "truncated tar (member data cut short)")
            return
        discard = self._discard
        if discard is not None:
            got = discard(n)
            self.offset += got
            if got < n:
                raise ImageFormatError(self._archive, "truncated tar (member data cut short)")
            return
        while n > 0:
            chunk = self._source.read(min(MiB, n) if n < MiB else MiB)
            if not chunk:
                raise ImageFormatError(self._archive, "truncated tar (member data cut short)")
            if len(chunk) > n:
                self._buf, self._pos = chunk, n
                self.offset += n
                return
            n -= len(chunk)
            self.offset += len(chunk)

    def _padded(self, size: int) -> int:
        return (size + BLOCK - 1) // BLOCK * BLOCK

    def read_data(self, size: int) -> bytes:
        """Read the current member's content (only for small wanted files)."""
        data = self._take(size)
        if len(data) < size:
            raise ImageFormatError(self._archive, "truncated tar (member data cut short)")
        pad = self._padded(size) - size
        self._data_left = 0
        if pad:
            self._skip(pad)
        return data

    def read_raw(self, n: int) -> bytes:
        """Stream the current member's content (a nested tar inside a streamed archive)."""
        n = min(n, self._data_left)
        if n <= 0:
            return b""
        data = self._take(n)
        self._data_left -= len(data)
        return data

    def skip_raw(self, n: int) -> int:
        """Skip ahead inside the current member's content (the ELF reader jumping to PT_DYNAMIC)."""
        n = min(n, self._data_left)
        if n <= 0:
            return 0
        self._data_left -= n
        self._skip(n)
        return n

    def skip_data(self) -> None:
        if self._data_left:
            left, self._data_left = self._data_left, 0
            self._skip(left)

    # --- headers ------------------------------------------------------------------------
    def __iter__(self) -> TarWalker:
        return self

    def __next__(self) -> tuple[str, str, int, str]:
        """Next member as (raw name, typeflag, size, linkname); StopIteration at the end."""
        self.skip_data()
        pax: dict[str, str] = {}
        longname: str | None = None
        longlink: str | None = None
        while True:
            header = self._take(BLOCK)
            if not header:
                raise StopIteration
            if len(header) < BLOCK:
                raise ImageFormatError(self._archive, "truncated tar (header cut short)")
            if header.count(0) == BLOCK:  # end-of-archive marker
                raise StopIteration
            try:
                stored = _parse_number(header[148:156], self._archive, "checksum")
            except ImageFormatError:
                stored = -1
            if stored != sum(header) - sum(header[148:156]) + 256:
                raise ImageFormatError(
                    self._archive, f"not a tar or corrupt tar header at offset {self.offset - BLOCK}"
                )
            typeflag = chr(header[156]) if header[156] else "0"
            size = _parse_number(header[124:136], self._archive, "size")
            if "size" in pax:
                try:
                    size = int(pax["size"])
                except ValueError:
                    raise ImageFormatError(self._archive, "bad pax size") from None
            if size < 0 or size > self._limits.max_member_size:
                raise ImageFormatError(self._archive, f"absurd member size {size} in tar header")
            if typeflag in "xgLK":
                if size > self._limits.max_ext_header:
                    raise ImageFormatError(self._archive, f"absurd extended header size {size}")
                data = self.read_data(size)
                if typeflag == "x":
                    pax = _parse_pax(data, self._archive)
                elif typeflag == "L":
                    longname = _cstr(data)
                elif typeflag == "K":
                    longlink = _cstr(data)
                continue  # global pax ("g") carries nothing depslim needs
            if longname is not None:
                name = longname
            elif "path" in pax:
                name = pax["path"]
            else:
                name = _cstr(header[0:100])
                if header[257:263] == b"ustar\x00" and header[345]:
                    name = _cstr(header[345:500]) + "/" + name
            link = longlink if longlink is not None else pax.get("linkpath", _cstr(header[157:257]))
            # links, dirs and devices carry no data whatever the size field says (as tarfile)
            data_size = 0 if typeflag in "123456" else size
            self._data_left = self._padded(data_size)
            return name, typeflag, data_size, link


def open_layer_stream(
    raw: ByteSource,
    archive: str,
    limits: Limits = DEFAULT_LIMITS,
    on_read: Callable[[int], None] | None = None,
) -> tuple[ByteSource, _Counting, str]:
    """Wrap a layer blob: sniff its compression and return (tar source, counter, kind)."""
    counter = _Counting(raw, on_read)
    head = b""
    while len(head) < 4:  # sockets give short reads; sniffing needs the full magic
        more = counter.read(4 - len(head))
        if not more:
            break
        head += more
    kind = sniff(head)
    if kind == "tar" and _seekable(raw):
        # plain layer on disk: keep it seekable so content is skipped, not read
        return _SeekablePrefixed(head, raw, counter), counter, kind
    source: ByteSource = _Prefixed(head, counter)
    if kind == "gzip":
        inflater: ByteSource
        if isinstance(raw, RegionFile) and hasattr(_fast_zlib, "_GzipReader"):
            inflater = _PooledInflater(_IntoSource(head, raw, counter, archive, limits.max_capture), archive)
        elif isinstance(raw, RegionFile):
            inflater = _ThreadedInflater(source, archive)
        else:
            inflater = _Inflater(source, archive)
        source = _Guarded(inflater, counter, archive, limits)
    elif kind == "zstd":
        source = _Guarded(_Unzstd(source, archive), counter, archive, limits)
    return source, counter, kind


class _SeekablePrefixed:
    """A seekable region whose first bytes were peeked for sniffing."""

    seekable = True

    def __init__(self, head: bytes, raw: SkipSource, counter: _Counting) -> None:
        self._head = head
        self._raw = raw
        self._counter = counter

    def read(self, n: int) -> bytes:
        if self._head:
            out, self._head = self._head[:n], self._head[n:]
            if len(out) < n:
                out += self._counter.read(n - len(out))
            return out
        return self._counter.read(n)

    def skip(self, n: int) -> int:
        skipped = 0
        if self._head:
            take = min(n, len(self._head))
            self._head = self._head[take:]
            skipped, n = take, n - take
        got = self._raw.skip(n)
        self._counter.tally(got)
        return skipped + got


class _Guarded:
    """Decompressed output with the bomb caps applied (ratio and total)."""

    def __init__(self, inner: ByteSource, counter: _Counting, archive: str, limits: Limits) -> None:
        self._inner = inner
        self._counter = counter
        self._archive = archive
        self._limits = limits
        self.produced = 0
        if _discards(inner):
            # `discard` exists only when the inner stream can drop bytes without copying them.
            self._inner_discard = inner.discard
            self.discard = self._discard

    def read(self, n: int) -> bytes:
        data = self._inner.read(n)
        self._account(len(data))
        return data

    def _discard(self, n: int) -> int:
        got = self._inner_discard(n)
        self._account(got)
        return got

    def _account(self, produced: int) -> None:
        self.produced += produced
        lim = self._limits
        if self.produced > lim.max_layer_bytes:
            raise ImageFormatError(
                self._archive, f"layer inflates past {lim.max_layer_bytes} bytes (decompression bomb?)"
            )
        if self.produced > lim.ratio_after and self.produced > lim.max_ratio * max(self._counter.count, 1):
            raise ImageFormatError(
                self._archive,
                f"layer inflates more than {lim.max_ratio}x (decompression bomb?)",
            )


def scan_layer(
    raw: ByteSource,
    archive: str,
    limits: Limits = DEFAULT_LIMITS,
    on_read: Callable[[int], None] | None = None,
    budget: Budget | None = None,
    layer: int | None = None,
) -> LayerScan:
    """Walk one layer blob (any compression) into a LayerScan; content is never kept.

    `budget` is the image's (shared by the layers scanned in parallel), `layer` this layer's
    place in the stack (None when not known yet); a layer scanned on its own gets its own budget.
    """
    source, counter, kind = open_layer_stream(raw, archive, limits, on_read)
    try:
        budget = budget if budget is not None else Budget(limits)
        return _scan(source, counter, kind, archive, limits, budget, layer)
    finally:
        inner = getattr(source, "_inner", None)
        if isinstance(inner, (_ThreadedInflater, _PooledInflater)):
            inner.close()


_CHARGE_EVERY = 8192  # entries between two charges to the shared Budget (one lock per batch)


def _scan(
    source: ByteSource, counter: _Counting, kind: str, archive: str, limits: Limits, budget: Budget,
    layer: int | None,
) -> LayerScan:
    scan = LayerScan(compression=kind)
    walker = TarWalker(source, archive, limits)
    paths, kinds, sizes, links = scan.paths, scan.kinds, scan.sizes, scan.links
    add_path, add_kind, add_size = paths.append, kinds.append, sizes.append
    name_bytes = charged_entries = charged_bytes = 0
    for name, typeflag, size, link in walker:
        path = normalize_member(name, archive, limits)
        if path == "/":
            continue
        parent, _, base = path.rpartition("/")
        parent = parent or "/"
        if base.startswith(WHITEOUT_PREFIX):
            if base == OPAQUE_MARKER:
                scan.opaques.append(parent)
            elif base == WHITEOUT_PREFIX:
                raise ImageFormatError(archive, f"invalid bare whiteout {path}")
            else:
                scan.whiteouts.append(posixpath.join(parent, base[len(WHITEOUT_PREFIX) :]))
            continue
        if typeflag in "07":
            kind_code = FILE
            scan.content_bytes += size
            if wanted(path):
                _capture(walker, scan, path, base, size, limits, budget)
            elif size >= ELF_MIN_SIZE and native_candidate(path, base):
                info = read_elf_stream(walker.read_raw, walker.skip_raw, size, limits.max_elf_prefix)
                if info is not None:
                    scan.elf[path] = info
        elif typeflag == "5":
            kind_code, size = DIR, 0
        elif typeflag == "2":
            kind_code = SYMLINK
            resolve_link_target(path, link, archive, limits)
            links[len(paths)] = link
            size = len(link.encode("utf-8", "replace"))
            scan.content_bytes += size
        elif typeflag == "1":
            kind_code = HARDLINK
            links[len(paths)] = normalize_member(link, archive, limits)
            size = 0
        else:
            kind_code, size = OTHER, 0
        add_path(path)
        add_kind(kind_code)
        add_size(size)
        name_bytes += path_cost(path)
        if len(paths) - charged_entries >= _CHARGE_EVERY:
            budget.charge(len(paths) - charged_entries, name_bytes - charged_bytes, archive, layer,
                          (len(paths), name_bytes))
            charged_entries, charged_bytes = len(paths), name_bytes
    budget.charge(len(paths) - charged_entries, name_bytes - charged_bytes, archive, layer, (len(paths), name_bytes))
    # anything after the end-of-archive blocks is ignored, as docker and tar do
    scan.name_bytes = name_bytes
    scan.tar_bytes = walker.offset
    scan.compressed_bytes = counter.count
    return scan


def _capture(
    walker: TarWalker, scan: LayerScan, path: str, base: str, size: int, limits: Limits, budget: Budget
) -> None:
    """Read one wanted small file into `scan.captured`, within its caps (see `Limits`).

    METADATA / PKG-INFO: only the header (the body is a README of any size), at most
    `max_metadata_header` bytes of it, and only the fields depslim parses. Listings (RECORD,
    dpkg status): whole, up to `max_capture`. Everything else: up to `max_small_capture`. A file
    over its cap, or past the image's `max_captured_total`, is skipped with a warning.
    """
    if base in _HEADERS:
        header, complete = _read_header(walker, size, limits.max_metadata_header)
        if not complete:
            scan.warnings.append(f"{path}: header longer than {limits.max_metadata_header} bytes; "
                                 "only its start was read")
        data = metadata_header(header)
    else:
        cap = limits.max_capture if base in _LISTINGS or base.endswith(".list") else limits.max_small_capture
        if size > cap:
            scan.warnings.append(f"{path}: {size} bytes, too large to read (limit {cap}); skipped")
            return
        data = walker.read_data(size)
        if path.startswith("/var/lib/dpkg/info/"):
            data = _dpkg_list_filter(data)
    if not budget.take_capture(len(data)):
        scan.warnings.append(f"{path}: not read: the image's metadata files exceed "
                             f"{limits.max_captured_total} bytes together")
        return
    scan.captured[path] = data


def _read_header(walker: TarWalker, size: int, cap: int) -> tuple[bytes, bool]:
    """The current member's bytes up to the end of its RFC 822 header (a blank line), reading at
    most `cap` of them; True when the header ended within the cap. The rest is skipped unread."""
    chunks: list[bytes] = []
    got = 0
    tail = b""
    while got < size and got < cap:
        piece = walker.read_raw(min(64 * KiB, size - got, cap - got))
        if not piece:
            raise ImageFormatError(walker.archive, "truncated tar (member data cut short)")
        chunks.append(piece)
        got += len(piece)
        window = tail + piece
        if b"\n\n" in window or b"\n\r\n" in window:
            return b"".join(chunks), True
        tail = window[-3:]
    return b"".join(chunks), got >= size
