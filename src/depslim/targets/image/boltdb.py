"""A read-only reader of bbolt database files: enough to list nested buckets and their keys.

containerd keeps which snapshot directory holds which layer in a bbolt file (the overlayfs
snapshotter's `metadata.db`). depslim reads it without containerd's API (gRPC) and without Go: the
format is small and stable (bbolt's page layout, version 2): two meta pages pointing at the root
bucket, B+tree branch and leaf pages, buckets nested as leaf values (inline when small). Only the
committed meta page with the highest transaction id and a valid checksum is used, so a file that
containerd is writing at the same moment reads as its last committed state.

Every offset and size is checked against the file before it is used: a corrupt or hostile file is
a `BoltError`, never an unbounded read (the file is read whole once, up to a cap).
"""

from __future__ import annotations

import os
import stat
import struct
from collections.abc import Iterator

MAGIC = 0xED0CDAED
VERSION = 2
PAGE_HEADER = struct.Struct("<QHHI")  # id, flags, count, overflow
# magic, version, page size, flags, root bucket (pgid, sequence), freelist, high-water pgid, txid, checksum
META = struct.Struct("<IIII QQ QQQ Q")
ELEMENT = struct.Struct("<IIII")  # leaf: flags, pos, ksize, vsize; branch: pos, ksize, pgid (lo, hi)
BRANCH, LEAF, META_PAGE = 0x01, 0x02, 0x04
BUCKET_LEAF = 0x01
MAX_FILE = 256 * 1024 * 1024  # a snapshotter's metadata.db is a few MiB even with thousands of snapshots
MAX_DEPTH = 64  # B+tree levels plus nested buckets


class BoltError(Exception):
    """The file is not a bbolt database depslim can read (one line: what is wrong)."""


def _fnv64a(data: bytes) -> int:
    value = 0xCBF29CE484222325
    for byte in data:
        value = ((value ^ byte) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return value


class BoltDB:
    """One bbolt file, read whole (`path`), navigated from its root bucket."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.page_size, self.root = self._meta()

    @classmethod
    def open(cls, path: str) -> BoltDB:
        """Read the file at `path` (a regular file, symlinks not followed, at most MAX_FILE bytes)."""
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
        try:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode):
                raise BoltError(f"{path} is not a regular file")
            if info.st_size > MAX_FILE:
                raise BoltError(f"{path} is {info.st_size} bytes, more than {MAX_FILE}")
            chunks, got = [], 0
            while got < info.st_size:
                chunk = os.read(fd, min(info.st_size - got, 1 << 20))
                if not chunk:
                    break
                chunks.append(chunk)
                got += len(chunk)
        finally:
            os.close(fd)
        return cls(b"".join(chunks))

    def _meta(self) -> tuple[int, int]:
        """(page size, root bucket page) of the newest valid meta page (pages 0 and 1)."""
        first = self._read_meta(0)
        size = first[1] if first is not None else 4096  # bbolt's own guess when page 0 is damaged
        second = self._read_meta(size)
        valid = [m for m in (first, second) if m is not None and m[1] == size]
        if not valid:
            raise BoltError("no valid bbolt meta page")
        _txid, page_size, root = max(valid)
        return page_size, root

    def _read_meta(self, offset: int) -> tuple[int, int, int] | None:
        """(txid, page size, root page) of the meta page at `offset`, None unless its checksum holds."""
        end = offset + PAGE_HEADER.size + META.size
        if end > len(self.data):
            return None
        flags = PAGE_HEADER.unpack_from(self.data, offset)[1]
        magic, version, size, _flags, root, _seq, _freelist, _pgid, txid, checksum = META.unpack_from(
            self.data, offset + PAGE_HEADER.size)
        if not flags & META_PAGE or magic != MAGIC or version != VERSION or not 512 <= size <= 1 << 20:
            return None
        if _fnv64a(self.data[offset + PAGE_HEADER.size : end - 8]) != checksum:
            return None
        return txid, size, root

    def _page(self, pgid: int) -> tuple[bytes, int]:
        """(the buffer, the offset of page `pgid`) with its header checked to fit in the file."""
        offset = pgid * self.page_size
        if pgid < 2 or offset + PAGE_HEADER.size > len(self.data):
            raise BoltError(f"page {pgid} is outside the file")
        return self.data, offset

    def _items(self, buf: bytes, offset: int, depth: int) -> Iterator[tuple[bytes, bytes, int]]:
        """(key, value, flags) of every leaf element under the page at `offset` of `buf`, in key order."""
        if depth > MAX_DEPTH:
            raise BoltError("bbolt tree too deep")
        _pid, flags, count, overflow = PAGE_HEADER.unpack_from(buf, offset)
        end = offset + (overflow + 1) * self.page_size if buf is self.data else len(buf)
        if end > len(buf) or offset + PAGE_HEADER.size + count * ELEMENT.size > end:
            raise BoltError("bbolt page runs past the end of the file")
        base = offset + PAGE_HEADER.size
        for index in range(count):
            at = base + index * ELEMENT.size
            if flags & LEAF:
                elem_flags, pos, ksize, vsize = ELEMENT.unpack_from(buf, at)
                start = at + pos
                if start + ksize + vsize > end:
                    raise BoltError("bbolt leaf element runs past its page")
                yield buf[start : start + ksize], buf[start + ksize : start + ksize + vsize], elem_flags
            elif flags & BRANCH:
                pos, _ksize, low, high = ELEMENT.unpack_from(buf, at)
                child = low | high << 32
                yield from self._items(*self._page(child), depth + 1)
            else:
                raise BoltError(f"unexpected bbolt page flags {flags:#x}")

    def _bucket_items(self, header: bytes, depth: int) -> Iterator[tuple[bytes, bytes, int]]:
        """The elements of a bucket given its 16-byte header (+ its inline page when root is 0)."""
        if len(header) < 16:
            raise BoltError("bbolt bucket header cut short")
        root = struct.unpack_from("<Q", header, 0)[0]
        if root == 0:  # an inline bucket: its only page follows the header inside the value
            if len(header) < 16 + PAGE_HEADER.size:
                raise BoltError("bbolt inline bucket cut short")
            yield from self._items(header, 16, depth + 1)
        else:
            yield from self._items(*self._page(root), depth + 1)

    def bucket(self, *path: bytes) -> Bucket:
        """The bucket at `path` from the root (`db.bucket(b"v1", b"snapshots")`); BoltError when absent."""
        items = list(self._items(*self._page(self.root), 0))
        for depth, name in enumerate(path):
            for key, value, flags in items:
                if key == name and flags & BUCKET_LEAF:
                    items = list(self._bucket_items(value, depth + 1))
                    break
            else:
                raise BoltError(f"no bucket {b'/'.join(path[: depth + 1]).decode('utf-8', 'replace')}")
        return Bucket(self, items, len(path))


class Bucket:
    """A bucket's keys: plain values and nested buckets."""

    def __init__(self, db: BoltDB, items: list[tuple[bytes, bytes, int]], depth: int) -> None:
        self._db = db
        self._items = items
        self._depth = depth

    def values(self) -> dict[bytes, bytes]:
        return {key: value for key, value, flags in self._items if not flags & BUCKET_LEAF}

    def buckets(self) -> Iterator[tuple[bytes, Bucket]]:
        for key, value, flags in self._items:
            if flags & BUCKET_LEAF:
                yield key, Bucket(self._db, list(self._db._bucket_items(value, self._depth + 1)), self._depth + 1)


def uvarint(data: bytes) -> int:
    """Go's `binary.Uvarint` (containerd stores snapshot ids this way)."""
    value = shift = 0
    for index, byte in enumerate(data[:10]):
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value
        shift += 7
        if index == 9:
            break
    raise BoltError("bad varint")


__all__ = ["BoltDB", "BoltError", "Bucket", "uvarint"]
