"""Build ELF files for tests: real ones with the machine's gcc, synthetic ones with struct.

Real libraries (gcc + ld) are checked against `readelf -d`; synthetic ones cover what this
machine's toolchain cannot make (big-endian, layouts patchelf produces, hostile fields).
"""

from __future__ import annotations

import re
import shutil
import struct
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest


def need_tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.skip(f"{name} not installed")
    return path


def gcc_lib(
    out: Path, soname: str | None, links: Sequence[str] = (), source: str = "int f(void) { return 1; }\n",
    m32: bool = False,
) -> Path:
    """A real shared library: `gcc -shared -fPIC [-Wl,-soname,S] -Wl,--no-as-needed LINKS`."""
    need_tool("gcc")
    src = out.with_suffix(".c")
    src.write_text(source)
    cmd = ["gcc", "-shared", "-fPIC", "-o", str(out), str(src)]
    if m32:
        cmd[1:1] = ["-m32", "-nostdlib"]
    if soname:
        cmd.append(f"-Wl,-soname,{soname}")
    cmd += ["-Wl,--no-as-needed", *links]
    subprocess.run(cmd, check=True, capture_output=True)
    return out


def gcc_exe(out: Path, links: Sequence[str] = ()) -> Path:
    need_tool("gcc")
    src = out.with_suffix(".c")
    src.write_text("int main(void) { return 0; }\n")
    subprocess.run(["gcc", "-o", str(out), str(src), "-Wl,--no-as-needed", *links], check=True, capture_output=True)
    return out


def readelf_dynamic(path: Path) -> tuple[str | None, tuple[str, ...]]:
    """(SONAME, NEEDED) as binutils' readelf reports them."""
    need_tool("readelf")
    out = subprocess.run(["readelf", "-d", "--wide", str(path)], capture_output=True, text=True, check=True).stdout
    soname = None
    needed: list[str] = []
    for line in out.splitlines():
        match = re.search(r"\((NEEDED|SONAME)\)\s+\S+.*\[(.*)\]", line)
        if match and match.group(1) == "SONAME":
            soname = match.group(2)
        elif match and match.group(2) not in needed:
            needed.append(match.group(2))
    return soname, tuple(needed)


@dataclass
class Synthetic:
    """A minimal dynamic ELF: header, program headers (one PT_LOAD, one PT_DYNAMIC), strings, dynamic.

    Fields can be overridden to make it hostile; `strtab_after_dynamic` lays it out the way
    patchelf does; `gap` puts that many zero bytes between the first part and the second.
    """

    bits: int = 64
    little: bool = True
    machine: int = 62
    soname: str | None = "libsyn.so.1"
    needed: list[str] = field(default_factory=lambda: ["libGL.so.1", "libm.so.6"])
    strtab_after_dynamic: bool = False
    gap: int = 0
    vbase: int = 0x400000
    # hostile overrides
    phnum: int | None = None
    phentsize: int | None = None
    phoff: int | None = None
    dyn_offset: int | None = None
    dyn_filesz: int | None = None
    strtab_vaddr: int | None = None
    strsz: int | None = None
    extra_dyn: list[tuple[int, int]] = field(default_factory=list)
    terminate: bool = True

    def build(self) -> bytes:
        e = "<" if self.little else ">"
        ehsize, phent = (64, 56) if self.bits == 64 else (52, 32)
        strings = b"\x00"
        offsets = {}
        for name in ([self.soname] if self.soname else []) + self.needed:
            offsets[name] = len(strings)
            strings += name.encode() + b"\x00"
        dyn_fmt = e + ("qQ" if self.bits == 64 else "iI")
        phdr_end = ehsize + 2 * phent
        entries_count = len(self.needed) + (1 if self.soname else 0) + 2 + len(self.extra_dyn) + 1
        dyn_size = entries_count * struct.calcsize(dyn_fmt)
        if self.strtab_after_dynamic:
            dyn_off = phdr_end + self.gap
            str_off = dyn_off + dyn_size
        else:
            str_off = phdr_end
            dyn_off = str_off + len(strings) + self.gap
            dyn_off += (-dyn_off) % 8
        dyn = b""
        entries = [(1, offsets[n]) for n in self.needed]
        if self.soname:
            entries.append((14, offsets[self.soname]))
        entries += [(5, self.strtab_vaddr if self.strtab_vaddr is not None else self.vbase + str_off),
                    (10, self.strsz if self.strsz is not None else len(strings))]
        entries += self.extra_dyn
        if self.terminate:
            entries.append((0, 0))
        for tag, value in entries:
            dyn += struct.pack(dyn_fmt, tag, value)
        total = max(dyn_off + len(dyn), str_off + len(strings))
        body = bytearray(total)
        body[str_off : str_off + len(strings)] = strings
        body[dyn_off : dyn_off + len(dyn)] = dyn
        ident = b"\x7fELF" + bytes([2 if self.bits == 64 else 1, 1 if self.little else 2, 1]) + bytes(9)
        phnum = self.phnum if self.phnum is not None else 2
        phentsize = self.phentsize if self.phentsize is not None else phent
        phoff = self.phoff if self.phoff is not None else ehsize
        if self.bits == 64:
            header = ident + struct.pack(e + "HHIQQQIHHHHHH", 3, self.machine, 1, 0, phoff, 0, 0, ehsize, phentsize,
                                         phnum, 64, 0, 0)
            load = struct.pack(e + "IIQQQQQQ", 1, 5, 0, self.vbase, self.vbase, total, total, 0x1000)
            dynamic = struct.pack(e + "IIQQQQQQ", 2, 6, self.dyn_offset if self.dyn_offset is not None else dyn_off,
                                  self.vbase + dyn_off, self.vbase + dyn_off,
                                  self.dyn_filesz if self.dyn_filesz is not None else len(dyn), len(dyn), 8)
        else:
            header = ident + struct.pack(e + "HHIIIIIHHHHHH", 3, self.machine, 1, 0, phoff, 0, 0, ehsize, phentsize,
                                         phnum, 40, 0, 0)
            load = struct.pack(e + "IIIIIIII", 1, 0, self.vbase, self.vbase, total, total, 5, 0x1000)
            dynamic = struct.pack(e + "IIIIIIII", 2, self.dyn_offset if self.dyn_offset is not None else dyn_off,
                                  self.vbase + dyn_off, self.vbase + dyn_off,
                                  self.dyn_filesz if self.dyn_filesz is not None else len(dyn), len(dyn), 6, 4)
        body[0 : len(header)] = header
        body[ehsize : ehsize + 2 * phent] = load + dynamic
        return bytes(body)
