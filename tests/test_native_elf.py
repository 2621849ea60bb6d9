"""The ELF reader: real gcc-built libraries against readelf, forward-only streaming, hostile input."""

from __future__ import annotations

import io
import random
import struct
import subprocess
import tracemalloc
from pathlib import Path

import pytest

from depslim.native.elf import ElfInfo, ForwardSource, parse, read_elf_file, read_elf_stream
from tests.elfbuild import Synthetic, gcc_exe, gcc_lib, readelf_dynamic

MiB = 1024 * 1024


class _Stream:
    """A forward-only stream that hands out at most `chunk` bytes per read (like a socket or inflater)."""

    def __init__(self, data: bytes, chunk: int = 7) -> None:
        self._io = io.BytesIO(data)
        self._chunk = chunk
        self.skipped = 0

    def read(self, n: int) -> bytes:
        return self._io.read(min(n, self._chunk))

    def skip(self, n: int) -> int:
        before = self._io.tell()
        self._io.seek(min(before + n, len(self._io.getbuffer())))
        got = self._io.tell() - before
        self.skipped += got
        return got


def stream(data: bytes, chunk: int = 7, cap: int = 32 * MiB) -> ElfInfo | None:
    src = _Stream(data, chunk)
    return read_elf_stream(src.read, src.skip, len(data), cap)


@pytest.fixture(scope="module")
def libs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    tmp = tmp_path_factory.mktemp("elf")
    foo = gcc_lib(tmp / "libfoo.so.1.2.3", "libfoo.so.1", ["-lm"])
    stub = gcc_lib(tmp / "libGL-stub.so", "libGL.so.1")
    bar = gcc_lib(tmp / "libbar.so", "libbar.so.2", [str(foo), str(stub), "-lm", "-lpthread", "-ldl"])
    nosoname = gcc_lib(tmp / "_ext.cpython-311-x86_64-linux-gnu.so", None, [str(bar), "-lm"])
    exe = gcc_exe(tmp / "prog", ["-lm"])
    return {"foo": foo, "bar": bar, "ext": nosoname, "exe": exe, "stub": stub}


@pytest.mark.parametrize("name", ["foo", "bar", "ext", "exe", "stub"])
def test_real_gcc_objects_match_readelf(libs: dict[str, Path], name: str) -> None:
    path = libs[name]
    expected = readelf_dynamic(path)
    disk = read_elf_file(path)
    assert disk is not None and (disk.soname, disk.needed) == expected
    assert (disk.machine, disk.bits, disk.little_endian, disk.unresolved, disk.problem) == (62, 64, True, 0, None)
    data = path.read_bytes()
    for chunk in (1, 7, 4096, 1 << 20):
        forward = stream(data, chunk)
        assert forward == disk


def test_real_needed_names_are_the_sonames_of_what_was_linked(libs: dict[str, Path]) -> None:
    info = read_elf_file(libs["bar"])
    assert info is not None
    assert info.soname == "libbar.so.2"
    assert {"libfoo.so.1", "libGL.so.1", "libm.so.6", "libc.so.6"} <= set(info.needed)


def test_real_32_bit_library_matches_readelf(tmp_path: Path) -> None:
    try:
        stub = gcc_lib(tmp_path / "libstub32.so", "libstub32.so.3", m32=True)
        lib = gcc_lib(tmp_path / "libt32.so", "libt32.so.1", [str(stub)], m32=True)
    except subprocess.CalledProcessError:  # a toolchain without the i386 linker emulation
        pytest.skip("gcc cannot link 32-bit objects here")
    info = read_elf_file(lib)
    assert info is not None and (info.soname, info.needed) == readelf_dynamic(lib)
    assert (info.bits, info.machine) == (32, 3)
    assert stream(lib.read_bytes()) == info


@pytest.mark.parametrize("bits", [32, 64])
@pytest.mark.parametrize("little", [True, False])
@pytest.mark.parametrize("after", [False, True])
def test_synthetic_layouts_both_endians_and_classes(bits: int, little: bool, after: bool) -> None:
    elf = Synthetic(bits=bits, little=little, strtab_after_dynamic=after, machine=22 if not little else 62)
    data = elf.build()
    expected = ("libsyn.so.1", ("libGL.so.1", "libm.so.6"))
    info = parse_bytes(data)
    assert info is not None and (info.soname, info.needed, info.bits, info.little_endian) == (*expected, bits, little)
    assert stream(data) == info


def parse_bytes(data: bytes) -> ElfInfo | None:
    class _Bytes:
        size = len(data)

        def get(self, offset: int, length: int) -> bytes | None:
            if offset < 0 or length < 0 or offset + length > len(data):
                return None
            return data[offset : offset + length]

    return parse(_Bytes())


def test_forward_reader_skips_past_the_cap_and_keeps_only_the_prefix() -> None:
    # strings before PT_DYNAMIC, 3 MiB apart: a 1 MiB cap keeps the strings and skips the gap
    data = Synthetic(gap=3 * MiB).build()
    src = _Stream(data, 1 << 16)
    info = read_elf_stream(src.read, src.skip, len(data), MiB)
    assert info is not None and info.needed == ("libGL.so.1", "libm.so.6") and info.problem is None
    assert src.skipped >= 2 * MiB


def test_strings_beyond_the_prefix_cap_are_counted_not_guessed() -> None:
    # strings before PT_DYNAMIC and outside a 64-byte prefix: unresolved, with the reason, no exception
    data = Synthetic(gap=4096).build()
    info = stream(data, 64, cap=64)
    assert info is not None
    assert info.needed == () and info.unresolved == 2 and info.soname is None
    assert info.problem and "prefix" in info.problem


def test_patchelf_layout_strings_at_the_end_need_no_prefix() -> None:
    # patchelf (auditwheel) moves .dynstr after PT_DYNAMIC: readable with no prefix at all
    data = Synthetic(strtab_after_dynamic=True, gap=2 * MiB, needed=[f"libdep{i}.so.{i}" for i in range(40)]).build()
    info = stream(data, 4096, cap=64)
    assert info is not None and len(info.needed) == 40 and info.unresolved == 0


def test_not_elf_is_none(tmp_path: Path) -> None:
    for data in (b"", b"\x7fEL", b"GNU ld script", b"\x7fELF" + bytes(10), b"\x7fELF\x03\x01" + bytes(60),
                 b"#!/bin/sh\n" * 20):
        assert parse_bytes(data) is None
        assert stream(data) is None
    (tmp_path / "text.so").write_text("INPUT(-lfoo)\n")
    assert read_elf_file(tmp_path / "text.so") is None
    assert read_elf_file(tmp_path / "missing.so") is None
    assert read_elf_file(tmp_path) is None  # a directory


def test_static_elf_without_dynamic_has_no_needs() -> None:
    data = Synthetic(phnum=1).build()  # only the PT_LOAD
    assert parse_bytes(data) == ElfInfo(None, (), 62, 64, True)


HOSTILE = {
    "huge phnum": Synthetic(phnum=0xFFFE),
    "PN_XNUM": Synthetic(phnum=0xFFFF),
    "phentsize 0": Synthetic(phentsize=0),
    "phentsize huge": Synthetic(phentsize=0xFFFF),
    "phoff past end": Synthetic(phoff=1 << 40),
    "dynamic past end": Synthetic(dyn_offset=1 << 50),
    "dynamic filesz huge": Synthetic(dyn_filesz=(1 << 63) - 1),
    "dynamic size 0": Synthetic(dyn_filesz=0),
    "strtab unmapped": Synthetic(strtab_vaddr=0x7FFFFFFF0000),
    "strtab at 0": Synthetic(strtab_vaddr=0),
    "strsz 0": Synthetic(strsz=0),
    "strsz huge": Synthetic(strsz=1 << 62),
    "needed offsets past strtab": Synthetic(extra_dyn=[(1, 1 << 60), (1, 5000), (14, 1 << 33)]),
    "no DT_NULL": Synthetic(terminate=False),
    "many needed": Synthetic(extra_dyn=[(1, 1)] * 5000),
    "negative tags": Synthetic(extra_dyn=[(-1, 1), (-(1 << 62), 3)]),
    "32-bit huge phnum": Synthetic(bits=32, phnum=0xFFFE),
    "big-endian dynamic past end": Synthetic(little=False, dyn_offset=(1 << 64) - 1),
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_fields_give_a_clean_result(name: str) -> None:
    data = HOSTILE[name].build()
    for info in (parse_bytes(data), stream(data, 3)):
        assert info is None or isinstance(info, ElfInfo)
        if info is not None:
            assert all(isinstance(n, str) for n in info.needed)
            assert len(info.needed) <= 1024


def test_unterminated_string_is_unresolved_not_read_on() -> None:
    elf = Synthetic(needed=["libA.so.1"])
    data = bytearray(elf.build())
    at = data.find(b"libA.so.1\x00")
    data[at + 9] = ord("X")  # no NUL before the dynamic section... and strsz bounds the read
    info = parse_bytes(bytes(data))
    assert info is not None and info.needed == () and info.unresolved == 1


def test_truncated_at_every_length_never_raises(libs: dict[str, Path]) -> None:
    data = libs["bar"].read_bytes()
    for cut in list(range(0, 200)) + list(range(200, len(data), 97)):
        part = data[:cut]
        assert parse_bytes(part) is None or isinstance(parse_bytes(part), ElfInfo)
        # the stream claims the full size but ends early: the reader must notice, not hang or raise
        src = _Stream(part, 13)
        result = read_elf_stream(src.read, src.skip, len(data))
        assert result is None or isinstance(result, ElfInfo)


def test_random_mutations_never_raise(libs: dict[str, Path]) -> None:
    data = libs["bar"].read_bytes()
    rng = random.Random(1234)
    for _ in range(400):
        mutated = bytearray(data)
        for _ in range(rng.randint(1, 12)):
            pos = rng.choice([rng.randrange(0, 64), rng.randrange(0, 1024), rng.randrange(0, len(data))])
            mutated[pos] = rng.randrange(256)
        blob = bytes(mutated)
        for info in (parse_bytes(blob), stream(blob, 4096)):
            assert info is None or isinstance(info, ElfInfo)


def test_memory_stays_bounded_on_a_huge_claimed_stream() -> None:
    # PT_DYNAMIC claims to sit 2 GiB into a stream: the reader keeps at most its cap, then skips
    head = bytearray(Synthetic().build())
    e_dyn = 64 + 56  # second program header
    struct.pack_into("<Q", head, e_dyn + 8, 2 * 1024 * MiB)
    size = 3 * 1024 * MiB
    fed = {"n": 0}

    def read(n: int) -> bytes:
        start = fed["n"]
        fed["n"] += n
        return bytes(head[start : start + n]).ljust(n, b"\x00")

    def skip(n: int) -> int:
        fed["n"] += n
        return n

    tracemalloc.start()
    info = read_elf_stream(read, skip, size, prefix_cap=2 * MiB)
    _current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert info is not None
    assert peak < 8 * MiB


def test_forward_source_serves_back_reads_from_prefix_and_window() -> None:
    data = bytes(range(256)) * 4096  # 1 MiB
    src = _Stream(data, 1000)
    fwd = ForwardSource(src.read, src.skip, len(data), prefix_cap=1024)
    assert fwd.get(0, 16) == data[:16]
    assert fwd.get(500_000, 100) == data[500_000:500_100]
    assert fwd.get(500_050, 100) == data[500_050:500_150]  # overlaps the recent window, then reads on
    assert fwd.get(10, 10) == data[10:20]  # from the kept prefix
    assert fwd.get(100_000, 10) is None  # skipped and not kept
    assert fwd.get(len(data) - 1, 2) is None  # past the end
