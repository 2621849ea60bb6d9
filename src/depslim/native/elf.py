"""A bounded, read-only ELF reader: a shared library's SONAME and DT_NEEDED entries.

Why its own reader: image layers are tar streams (often gzip or zstd), read once, forward
only, so a file's bytes cannot be revisited; and nothing in an image may be executed, so
`ldd`/`readelf` on the files are out. Only what the dynamic loader itself reads is parsed:
the ELF header, the program headers, the PT_DYNAMIC segment and the few strings of the
dynamic string table its entries point to (section headers sit at the end of the file and
are never needed).

The order of reads is header -> program headers -> dynamic segment -> strings. Linkers put the
dynamic string table *before* the dynamic segment, ahead of the code; patchelf, which auditwheel
runs on most manylinux wheels, moves a grown table after the dynamic segment or just before it
in the segment it relocates. So the forward reader keeps, as they pass and up to a cap, only
the stretches where the table can be (`_string_table_ranges`), skips (seeks or discards) the
rest, and reads the strings in ascending file order. On 5,878 shared libraries from 966 real
wheels (torch, triton, cudnn, tensorflow, cv2, scipy...; benchmarks/native_elf.py checks a
subset against `readelf -d`) the forward reader agrees with the random-access one on all but
libtensorflow_cc.so.2, whose 82 MB string table puts the names 97 MB in: a name outside what
was kept is counted in `ElfInfo.unresolved`, never guessed.

Hostile input is expected: every count, offset and size is checked against the data size and
fixed caps before anything is read or allocated, and the parser never raises. Data that is
not ELF gives None; an ELF whose dynamic part is damaged gives an ElfInfo naming the problem.
"""

from __future__ import annotations

import os
import stat
import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import BinaryIO, Protocol

KiB = 1024
MiB = 1024 * KiB

ELF_MAGIC = b"\x7fELF"
# Caps: real libraries have ~10 program headers, a dynamic segment of a few hundred bytes and
# names shorter than 100 bytes; these are orders of magnitude above that and still small.
MAX_PHNUM = 512
MAX_DYNAMIC_BYTES = 256 * KiB
MAX_NEEDED = 1024
MAX_NAME = 4 * KiB
DEFAULT_PREFIX_CAP = 32 * MiB  # the most the forward reader keeps (largest needed seen: 19 MB, libtriton.so)
READ_CHUNK = MiB
AFTER_CODE = 8 * MiB  # how much after the code segment the forward reader keeps (lowest priority)
RECENT = 64 * KiB  # the forward reader's look-back window for neighbouring strings

PT_LOAD, PT_DYNAMIC = 1, 2
PF_X = 1
DT_NULL, DT_NEEDED, DT_STRTAB, DT_STRSZ, DT_SONAME = 0, 1, 5, 10, 14
PN_XNUM = 0xFFFF


@dataclass(frozen=True)
class ElfInfo:
    """The dynamic-linking facts of one ELF file.

    `needed` keeps DT_NEEDED order (duplicates dropped); `unresolved` counts DT_NEEDED entries
    whose name could not be read (string table beyond the forward reader's prefix cap, or out
    of range); `problem` says why the dynamic part is incomplete, None when it was read whole.
    A static executable or an object without PT_DYNAMIC has no soname and no needs.
    """

    soname: str | None
    needed: tuple[str, ...]
    machine: int = 0  # e_machine (62 x86-64, 183 AArch64, 3 i386, 40 ARM, 21 PPC64, 22 S390, 243 RISC-V)
    bits: int = 64
    little_endian: bool = True
    unresolved: int = 0
    problem: str | None = None


class _Source(Protocol):
    """Bytes of one file by absolute offset; None when they cannot be had (past the end, or behind
    a forward-only reader's kept prefix)."""

    size: int

    def get(self, offset: int, length: int) -> bytes | None: ...


@dataclass(frozen=True)
class _Layout:
    """The ELF header fields and struct formats the rest of the parse needs."""

    bits: int
    endian: str  # "<" or ">"
    machine: int
    phoff: int
    phentsize: int
    phnum: int
    entry: int = 0

    @property
    def phdr(self) -> struct.Struct:
        if self.bits == 64:  # p_type p_flags p_offset p_vaddr p_paddr p_filesz p_memsz p_align
            return struct.Struct(self.endian + "IIQQQQQQ")
        return struct.Struct(self.endian + "IIIIIIII")  # p_type p_offset p_vaddr p_paddr p_filesz p_memsz ...

    @property
    def dyn(self) -> struct.Struct:
        return struct.Struct(self.endian + ("qQ" if self.bits == 64 else "iI"))


@dataclass(frozen=True)
class _Segment:
    type: int
    offset: int
    vaddr: int
    filesz: int
    flags: int = 0


def _layout(head: bytes) -> _Layout | None:
    """Parse e_ident and the header; None when this is not a usable ELF header."""
    if len(head) < 52 or head[:4] != ELF_MAGIC:
        return None
    klass, data = head[4], head[5]
    if klass not in (1, 2) or data not in (1, 2) or (klass == 2 and len(head) < 64):
        return None
    endian = "<" if data == 1 else ">"
    # e_type e_machine e_version e_entry e_phoff e_shoff e_flags e_ehsize e_phentsize e_phnum
    fmt = endian + ("HHIQQQIHHH" if klass == 2 else "HHIIIIIHHH")
    _type, machine, _version, entry, phoff, _shoff, _flags, _ehsize, phentsize, phnum = struct.unpack_from(
        fmt, head, 16
    )
    return _Layout(64 if klass == 2 else 32, endian, machine, phoff, phentsize, phnum, entry)


def _segments(src: _Source, lay: _Layout) -> tuple[list[_Segment], str | None]:
    """Program headers (PT_LOAD and PT_DYNAMIC only), bounded in count and bytes."""
    if lay.phnum == 0:
        return [], None
    if lay.phnum == PN_XNUM or lay.phnum > MAX_PHNUM:
        return [], f"unsupported program header count {lay.phnum}"
    fmt = lay.phdr
    if not fmt.size <= lay.phentsize <= 4 * fmt.size:
        return [], f"bad program header entry size {lay.phentsize}"
    table = src.get(lay.phoff, lay.phnum * lay.phentsize)
    if table is None:
        return [], "program headers out of range"
    out = []
    for index in range(lay.phnum):
        fields = fmt.unpack_from(table, index * lay.phentsize)
        if lay.bits == 64:
            p_type, flags, offset, vaddr, _paddr, filesz = fields[:6]
        else:
            p_type, offset, vaddr, _paddr, filesz, _memsz, flags = fields[:7]
        if p_type in (PT_LOAD, PT_DYNAMIC):
            out.append(_Segment(p_type, offset, vaddr, filesz, flags))
    return out, None


def _code_span(loads: list[_Segment], entry: int) -> tuple[int, int] | None:
    """File offsets [start, end) of code, where no layout puts the dynamic string table.

    A separate executable segment (ld -z separate-code, lld, gold) starts after the string
    table: all of it is code. An executable segment at offset 0 (older ld layouts) holds the
    table first, then the code from the entry point on. None when neither can be told.
    """
    execs = sorted((s for s in loads if s.flags & PF_X), key=lambda s: s.offset)
    if not execs:
        return None
    code = execs[0]
    if code.offset > 0:
        return code.offset, code.offset + code.filesz
    if entry and code.vaddr < entry < code.vaddr + code.filesz:
        return code.offset + (entry - code.vaddr), code.offset + code.filesz
    return None


def _string_table_ranges(loads: list[_Segment], dyn: _Segment, entry: int) -> list[tuple[int, int]]:
    """Where the dynamic string table can sit before PT_DYNAMIC, most likely first, for the
    forward reader to keep (its cap is spent in this order).

    1. From the start of the file to the code (`_code_span`): linkers put .dynsym/.dynstr
       ahead of .text; without a known code span, everything before PT_DYNAMIC.
    2. The stretch of PT_DYNAMIC's own segment before it: where patchelf puts a grown table
       when it rewrites a library (auditwheel does, on most manylinux wheels).
    3. The first AFTER_CODE bytes after the code, for layouts that put read-only data (and the
       table) after an executable segment at offset 0.
    """
    end = dyn.offset
    code = _code_span(loads, entry)
    first = (0, min(code[0], end)) if code else (0, end)
    after = (code[1], min(code[1] + AFTER_CODE, end)) if code else (end, end)
    home = next((s for s in loads if s.offset <= end < s.offset + s.filesz), None)
    return [first, (home.offset, end) if home is not None else (end, end), after]


def _vaddr_to_offset(loads: list[_Segment], vaddr: int) -> int | None:
    """Where a virtual address lives in the file, through the PT_LOAD that maps it."""
    for seg in loads:
        if seg.vaddr <= vaddr < seg.vaddr + seg.filesz:
            return seg.offset + (vaddr - seg.vaddr)
    return None


def _string(src: _Source, start: int, limit: int) -> str | None:
    """A NUL-terminated string at `start`, read in growing bounded steps, at most `limit` bytes."""
    step = 64
    while True:
        length = min(step, limit, src.size - start)
        if length <= 0:
            return None
        raw = src.get(start, length)
        if raw is None:
            return None
        end = raw.find(b"\x00")
        if end >= 0:
            return raw[:end].decode("utf-8", "replace")
        if length >= limit or length >= src.size - start:
            return None  # no terminator within bounds
        step *= 8


def _dynamic(src: _Source, lay: _Layout, dyn: _Segment) -> tuple[list[tuple[int, int]], str | None]:
    """(tag, value) pairs up to DT_NULL, bounded by the segment, the data and MAX_DYNAMIC_BYTES."""
    entsize = lay.dyn.size
    length = min(dyn.filesz, MAX_DYNAMIC_BYTES, max(src.size - dyn.offset, 0))
    length -= length % entsize
    if length <= 0:
        return [], "dynamic segment out of range"
    raw = src.get(dyn.offset, length)
    if raw is None:
        return [], "dynamic segment out of range"
    entries = []
    for tag, value in lay.dyn.iter_unpack(raw):
        if tag == DT_NULL:
            break
        if tag in (DT_NEEDED, DT_STRTAB, DT_STRSZ, DT_SONAME):
            entries.append((tag, value))
    return entries, None


def _info(lay: _Layout, soname: str | None = None, needed: tuple[str, ...] = (), unresolved: int = 0,
          problem: str | None = None) -> ElfInfo:
    return ElfInfo(soname, needed, lay.machine, lay.bits, lay.endian == "<", unresolved, problem)


def _names(
    src: _Source, table: int | None, strsz: int | None, names: list[tuple[int, int]]
) -> tuple[str | None, tuple[str, ...], int]:
    """Resolve DT_SONAME / DT_NEEDED string offsets: (soname, needed, how many unreadable).

    Strings are read in ascending file order, so a forward-only source never has to go back:
    patchelf (run by auditwheel on most manylinux wheels) moves the grown string table to the
    end of the file, *after* PT_DYNAMIC, where only an ascending walk can reach every name.
    """
    texts: dict[int, str | None] = {}
    if table is not None:
        for value in sorted({v for _t, v in names}):
            if strsz is None or value < strsz:
                limit = MAX_NAME if strsz is None else min(MAX_NAME, strsz - value)
                texts[value] = _string(src, table + value, limit)
    soname: str | None = None
    needed: list[str] = []
    unresolved = 0
    for tag, value in names:
        text = texts.get(value)
        if tag == DT_SONAME:
            soname = text if soname is None else soname
        elif text is None:
            unresolved += 1
        elif text not in needed:
            needed.append(text)
    return soname, tuple(needed), unresolved


def parse(src: _Source) -> ElfInfo | None:
    """The shared parse behind both readers (see the module doc for the read order)."""
    lay = _layout(src.get(0, min(64, src.size)) or b"")
    if lay is None:
        return None
    segments, problem = _segments(src, lay)
    dyns = [s for s in segments if s.type == PT_DYNAMIC]
    if problem or not dyns:
        return _info(lay, problem=problem)
    loads = [s for s in segments if s.type == PT_LOAD]
    keep = getattr(src, "keep_only", None)
    if keep is not None:
        keep(_string_table_ranges(loads, dyns[0], lay.entry))
    entries, problem = _dynamic(src, lay, dyns[0])
    if problem:
        return _info(lay, problem=problem)
    strtab = next((v for t, v in entries if t == DT_STRTAB), None)
    strsz = next((v for t, v in entries if t == DT_STRSZ), None)
    names = [(t, v) for t, v in entries if t in (DT_NEEDED, DT_SONAME)]
    if len(names) > MAX_NEEDED:
        names = names[:MAX_NEEDED]
        problem = f"more than {MAX_NEEDED} DT_NEEDED entries; the rest ignored"
    table = _vaddr_to_offset(loads, strtab) if strtab is not None else None
    soname, needed, unresolved = _names(src, table, strsz, names)
    if unresolved and problem is None:
        problem = (
            "dynamic string table not located" if table is None
            else f"{unresolved} DT_NEEDED name(s) unreadable (out of range or beyond the read prefix)"
        )
    return _info(lay, soname, needed, unresolved, problem)


class _FileSource:
    """Random access to a file on disk (the environment target)."""

    def __init__(self, handle: BinaryIO, size: int) -> None:
        self._fh = handle
        self.size = size

    def get(self, offset: int, length: int) -> bytes | None:
        if offset < 0 or length < 0 or offset + length > self.size:
            return None
        self._fh.seek(offset)
        data = self._fh.read(length)
        return data if len(data) == length else None


def read_elf_file(path: str | os.PathLike[str]) -> ElfInfo | None:
    """ElfInfo of a file on disk, or None (not ELF, unreadable, not a regular file).

    Opened non-blocking and checked to be a regular file first, so a FIFO or device that
    happens to be named `*.so` cannot hang the read.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError:
        return None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            return None
        with os.fdopen(fd, "rb", closefd=False) as handle:
            return parse(_FileSource(handle, info.st_size))
    except OSError:
        return None
    finally:
        os.close(fd)


class ForwardSource:
    """A forward-only byte stream made addressable: kept ranges are stored as they pass, the rest skipped.

    `read(n)` returns up to n bytes (b"" at the end); `skip(n)` drops n bytes and returns how
    many it dropped. Bytes inside the keep ranges (at first [0, prefix_cap); the parser narrows
    them with `keep_only` once it knows the layout) are stored as they pass, so a later request
    for an earlier offset is served from memory; so are the last RECENT bytes read. Anything
    else behind the position is gone (None). Memory: at most prefix_cap kept bytes, the window,
    and one request (itself capped by the parser).
    """

    def __init__(
        self, read: Callable[[int], bytes], skip: Callable[[int], int], size: int,
        prefix_cap: int = DEFAULT_PREFIX_CAP,
    ) -> None:
        self._read = read
        self._skip = skip
        self.size = size
        self._cap = max(prefix_cap, 64)
        self._ranges: list[tuple[int, int]] = [(0, self._cap)]  # sorted, disjoint, total <= cap
        self._pieces: list[tuple[int, bytearray]] = []  # (start, contiguous kept bytes)
        self._recent = b""  # the last bytes read, ending at `pos` (strings sit close together)
        self.pos = 0  # bytes consumed from the stream
        self.failed = False  # the stream ended early
        self.peak = 0  # bytes kept (for measuring what real libraries need)

    def keep_only(self, ranges: list[tuple[int, int]]) -> None:
        """From now on keep only bytes inside `ranges`, spending the cap on them in the order given."""
        budget = self._cap - self.peak
        chosen: list[tuple[int, int]] = []
        for start, end in ranges:
            start = max(start, self.pos)
            for lo, hi in sorted(chosen):  # take only what earlier ranges do not already cover
                if lo <= start < hi:
                    start = hi
            stop = min(end, start + budget)
            nxt = min((lo for lo, _hi in chosen if lo > start), default=stop)
            stop = min(stop, nxt)
            if stop > start:
                chosen.append((start, stop))
                budget -= stop - start
        self._ranges = sorted(chosen)

    def _store(self, offset: int, data: bytes) -> None:
        """Keep the parts of `data` (read at `offset`) that fall in a keep range."""
        end = offset + len(data)
        for start, stop in self._ranges:
            lo, hi = max(start, offset), min(stop, end)
            if lo >= hi:
                continue
            piece = data[lo - offset : hi - offset]
            if self._pieces and self._pieces[-1][0] + len(self._pieces[-1][1]) == lo:
                self._pieces[-1][1].extend(piece)
            else:
                self._pieces.append((lo, bytearray(piece)))
            self.peak += hi - lo

    def _take(self, n: int, want: bool = True) -> bytes | None:
        """Exactly the next n bytes (stored where kept), or None when the stream ends first.

        With `want` False the bytes are only stored, not joined and returned (b"" on success).
        """
        parts = []
        left = n
        while left > 0:
            chunk = self._read(min(left, READ_CHUNK))
            if not chunk:
                self.failed = True
                return None
            self._store(self.pos + n - left, chunk)
            self._recent = chunk[-RECENT:] if len(chunk) >= RECENT else (self._recent + chunk)[-RECENT:]
            if want:
                parts.append(chunk)
            left -= len(chunk)
        self.pos += n
        return b"".join(parts) if want else b""

    def _advance(self, target: int) -> bool:
        """Move to `target`, reading through keep ranges and skipping everything else."""
        while self.pos < target:
            nxt = next(((s, e) for s, e in self._ranges if e > self.pos and s < target), None)
            if nxt is not None and nxt[0] <= self.pos:
                if self._take(min(nxt[1], target, self.pos + READ_CHUNK) - self.pos, want=False) is None:
                    return False
                continue
            want = (nxt[0] if nxt is not None else target) - self.pos
            got = self._skip(want)
            self.pos += got
            self._recent = b""  # the window must end at `pos`
            if got < want:
                self.failed = True
                return False
        return True

    def _held(self, offset: int, stop: int) -> bytes | None:
        """Bytes in [offset, stop) (all behind `pos`) from the kept pieces and the recent window."""
        out = b""
        at = offset
        recent_start = self.pos - len(self._recent)
        while at < stop:
            if at >= recent_start:
                return out + self._recent[at - recent_start : stop - recent_start]
            piece = next(((s, b) for s, b in self._pieces if s <= at < s + len(b)), None)
            if piece is None:
                return None  # skipped, not kept
            start, buf = piece
            upto = min(stop, start + len(buf))
            out += bytes(buf[at - start : upto - start])
            at = upto
        return out

    def get(self, offset: int, length: int) -> bytes | None:
        if offset < 0 or length < 0 or offset + length > self.size or self.failed:
            return None
        end = offset + length
        if offset < self.pos:
            head = self._held(offset, min(end, self.pos))
            if head is None or end <= self.pos:
                return head
            rest = self.get(self.pos, end - self.pos)
            return None if rest is None else head + rest
        if not self._advance(offset):
            return None
        return self._take(length)


def read_elf_stream(
    read: Callable[[int], bytes], skip: Callable[[int], int], size: int, prefix_cap: int = DEFAULT_PREFIX_CAP
) -> ElfInfo | None:
    """ElfInfo from a forward-only stream of a `size`-byte file (a tar member); None if not ELF.

    Consumes at most up to the end of what it needs; the caller skips whatever is left.
    """
    return parse(ForwardSource(read, skip, size, prefix_cap))
