"""Blob digests: every content-addressed blob is checked against its digest while it is read.

An OCI layout, an oci-archive or a docker-archive names its blobs by their sha256; a blob whose
bytes were altered after the fact (a tampered layer, a swapped config) was analysed as if it
were the image it claims to be. Now the bytes depslim reads are hashed on the way and compared
with the digest the manifest (or the blob's own name) promises; a mismatch is an
ImageFormatError naming the blob (exit 2).

The hash costs one pass over the blob's bytes and no second read of the pipeline:
- small JSON blobs (manifests, indexes, configs) are hashed when read (`check_bytes`);
- a layer read from a stream (an engine save) is hashed inline (`HashingSource`), and what the
  walk does not need (past the end-of-archive blocks) is drained through the hash;
- a layer in a file on disk is hashed by `RegionHasher`, a helper thread reading the blob's
  byte range through its own handle while the walk parses headers and seeks over file contents
  (hashlib releases the GIL on large updates, so the two run in parallel): the walk keeps
  skipping contents by seeking, and the hash, not the walk, sets the pace.
"""

from __future__ import annotations

import hashlib
import re
import threading
from dataclasses import dataclass
from typing import Any

from depslim.errors import ImageFormatError
from depslim.inputfile import open_regular

# Lengths of the hex digests of the algorithms the OCI image spec registers.
ALGORITHMS = {"sha256": 64, "sha512": 128}
_HEX = re.compile(r"[a-f0-9]+")
_CHUNK = 1 << 20


@dataclass(frozen=True)
class Digest:
    """`sha256:<hex>`: the algorithm and the lower-case hex value of a blob's content digest."""

    algorithm: str
    hex: str

    def __str__(self) -> str:
        return f"{self.algorithm}:{self.hex}"

    @property
    def blob_name(self) -> str:
        """Where the OCI image layout keeps this blob."""
        return f"blobs/{self.algorithm}/{self.hex}"

    def short(self) -> str:
        return f"{self.algorithm}:{self.hex[:12]}"

    def new_hash(self) -> Any:
        return hashlib.new(self.algorithm)


def parse_digest(text: object) -> Digest | None:
    """A Digest of a supported algorithm with a well-formed value, else None."""
    if not isinstance(text, str):
        return None
    algorithm, sep, value = text.partition(":")
    length = ALGORITHMS.get(algorithm)
    if not sep or length is None or len(value) != length or not _HEX.fullmatch(value):
        return None
    return Digest(algorithm, value)


def digest_of_blob_name(name: str) -> Digest | None:
    """The digest a content-addressed member name promises: `blobs/sha256/<hex>` or a legacy
    docker-archive config `<hex>.json` (its image id); None for names that promise nothing (`<id>/layer.tar`)."""
    direct = parse_digest(name)  # crane's legacy tarballs name the config "sha256:<hex>"
    if direct is not None:
        return direct
    parts = name.split("/")
    if len(parts) == 3 and parts[0] == "blobs":
        return parse_digest(f"{parts[1]}:{parts[2]}")
    if len(parts) == 1 and name.endswith(".json"):
        return parse_digest(f"sha256:{name[: -len('.json')]}")
    return None


def mismatch(archive: str, name: str, expected: Digest, actual_hex: str) -> ImageFormatError:
    return ImageFormatError(
        archive,
        f"{name}: content does not match its digest (expected {expected.short()}…, "
        f"read {expected.algorithm}:{actual_hex[:12]}…): the blob was altered or is corrupt",
    )


def check_bytes(data: bytes, expected: Digest | None, archive: str, name: str) -> None:
    """Raise unless `data` hashes to `expected` (nothing to check when None)."""
    if expected is None:
        return
    actual = hashlib.new(expected.algorithm, data).hexdigest()
    if actual != expected.hex:
        raise mismatch(archive, name, expected, actual)


class HashingSource:
    """A byte source whose every byte read also goes through a hash (streams are read once)."""

    def __init__(self, source: Any, algorithm: str = "sha256") -> None:
        self._source = source
        self.hash = hashlib.new(algorithm)

    def read(self, n: int) -> bytes:
        data: bytes = self._source.read(n)
        if data:
            self.hash.update(data)
        return data

    def drain(self) -> None:
        """Hash what is left (the walk stops at the end-of-archive blocks; the digest covers all)."""
        while self.read(_CHUNK):
            pass

    def hexdigest(self) -> str:
        return str(self.hash.hexdigest())


class RegionHasher:
    """Hash `length` bytes of `path` from `offset` in a helper thread (see the module docstring).

    `result()` waits for the hash and returns its hex value; an I/O error or a short file is
    raised there as an ImageFormatError. `cancel()` stops it early (the walk failed anyway).
    """

    def __init__(self, path: str, offset: int, length: int, algorithm: str, archive: str) -> None:
        self._path, self._offset, self._length = path, offset, length
        self._archive = archive
        self._hash = hashlib.new(algorithm)
        self._stop = threading.Event()
        self._error: BaseException | None = None
        self._short = False
        self._thread = threading.Thread(target=self._run, daemon=True, name="depslim-digest")
        self._thread.start()

    def _run(self) -> None:
        try:
            with open_regular(self._path) as handle:
                handle.seek(self._offset)
                buf = bytearray(_CHUNK)
                view = memoryview(buf)
                left = self._length
                update = self._hash.update
                while left > 0 and not self._stop.is_set():
                    got = handle.readinto(view[: min(left, _CHUNK)])
                    if not got:
                        self._short = True
                        return
                    update(view[:got])
                    left -= got
        except BaseException as exc:  # handed to result()
            self._error = exc

    def result(self) -> str:
        self._thread.join()
        if self._error is not None:
            if isinstance(self._error, OSError):
                raise ImageFormatError(self._archive, f"cannot read the blob to check its digest: "
                                                      f"{self._error.strerror or self._error}") from None
            raise self._error
        if self._short:
            raise ImageFormatError(self._archive, "blob is shorter than its archive entry (truncated)")
        return str(self._hash.hexdigest())

    def cancel(self) -> None:
        self._stop.set()
        self._thread.join()


__all__ = [
    "ALGORITHMS",
    "Digest",
    "HashingSource",
    "RegionHasher",
    "check_bytes",
    "digest_of_blob_name",
    "mismatch",
    "parse_digest",
]
