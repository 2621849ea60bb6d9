"""Check depslim's ELF reader on real wheels' shared libraries, and measure its prefix buffer.

For every `*.so` / `*.so.*` member of the given wheels (or, without arguments, of the wheels
named by WHEEL_GLOBS that exist on this machine) the member is extracted to a temp file and:
- `readelf -d` (binutils) gives the reference SONAME and NEEDED list;
- `depslim.native.elf.read_elf_file` (random access) must agree;
- the forward-only reader over the same bytes (`read_elf_stream`, default prefix cap) must
  agree too, and a recording source measures the prefix a forward reader must keep (the end
  of the furthest string read *behind* the stream position: the dynamic string table sits
  before PT_DYNAMIC) and where PT_DYNAMIC starts.
Writes benchmarks/results/native_elf.md. Run by hand: `python benchmarks/native_elf.py [WHEEL...]`;
`--download NAME...` fetches wheels with `pip download --no-deps --only-binary=:all:` first;
`--all-local` instead compares the forward reader with the random-access one (no readelf) on
every `*.so` of every wheel under /opt/pypi*/files, in memory, and writes native_elf_all.md.
"""

from __future__ import annotations

import glob
import io
import os
import re
import subprocess
import sys
import tempfile
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

from depslim.native import elf

ROOT = Path(__file__).resolve().parent
WHEEL_GLOBS = [
    "/opt/pypi-more/files/torch-2.14.1-cp311-*.whl",
    "/opt/pypi-more/files/opencv_python-4.14.0.94-*.whl",
    "/opt/pypi*/files/scipy-1.17.0-cp311-*x86_64*.whl",
    "/opt/pypi*/files/numpy-2.4.6-cp311-*x86_64*.whl",
    "/opt/pypi/files/lightgbm-4.7.0-*.whl",
    "/opt/pypi/files/onnxruntime-1.30.0-cp311-*.whl",
    "/opt/pypi/files/psycopg2_binary-2.9.13-cp311-*.whl",
    "/opt/pypi/files/pyyaml-6.0.3-cp311-*.whl",
    "/opt/pypi/files/markupsafe-3.0.3-cp311-*.whl",
    "/opt/pypi/files/shapely-2.1.2-cp311-*.whl",
    "/opt/pypi/files/faiss_cpu-1.15.1-*.whl",
    "/opt/pypi-more/files/soundfile-0.14.0-*manylinux*.whl",
    "/opt/pypi-more/files/nvidia_cudnn_cu13-*.whl",
    "/opt/pypi-more/files/nvidia_cublas-*.whl",
    "/opt/pypi/files/triton-3.8.0-cp311-*.whl",
]
SO = re.compile(r"\.so(\.[0-9.]+)?$")


@dataclass
class Row:
    wheel: str
    member: str
    size: int
    dynamic_offset: int
    prefix_needed: int
    kept: int
    match: bool
    note: str


class Recording:
    """Random access that records what a forward-only reader would have had to keep."""

    def __init__(self, path: str) -> None:
        self._fh = open(path, "rb")  # noqa: SIM115 - closed by close()
        self.size = os.fstat(self._fh.fileno()).st_size
        self.reads: list[tuple[int, int]] = []

    def get(self, offset: int, length: int) -> bytes | None:
        if offset < 0 or length < 0 or offset + length > self.size:
            return None
        self.reads.append((offset, length))
        self._fh.seek(offset)
        return self._fh.read(length)

    def close(self) -> None:
        self._fh.close()


def readelf(path: str) -> tuple[str | None, tuple[str, ...]]:
    out = subprocess.run(["readelf", "-d", "--wide", path], capture_output=True, text=True).stdout
    soname = None
    needed: list[str] = []
    for line in out.splitlines():
        match = re.search(r"\((NEEDED|SONAME)\)\s+\S+.*\[(.*)\]", line)
        if match:
            if match.group(1) == "SONAME":
                soname = match.group(2)
            elif match.group(2) not in needed:
                needed.append(match.group(2))
    return soname, tuple(needed)


def forward(path: str) -> tuple[elf.ElfInfo | None, int]:
    with open(path, "rb") as fh:
        size = os.fstat(fh.fileno()).st_size

        def skip(n: int) -> int:
            fh.seek(n, 1)
            return n

        source = elf.ForwardSource(fh.read, skip, size)
        return elf.parse(source), source.peak


def check(wheel: Path, tmp: str) -> list[Row]:
    rows = []
    with zipfile.ZipFile(wheel) as archive:
        for info in archive.infolist():
            base = info.filename.rpartition("/")[2]
            if not SO.search(base) or info.is_dir():
                continue
            path = os.path.join(tmp, "member.so")
            with archive.open(info) as src, open(path, "wb") as dst:
                while chunk := src.read(1 << 22):
                    dst.write(chunk)
            ref = readelf(path)
            disk = elf.read_elf_file(path)
            fwd, kept = forward(path)
            rec = Recording(path)
            elf.parse(rec)
            rec.close()
            # reads: header, program headers, PT_DYNAMIC, then the strings; a string before
            # PT_DYNAMIC must come from the kept prefix
            dynamic = rec.reads[2][0] if len(rec.reads) > 2 else 0
            prefix = max((o + n for o, n in rec.reads[3:] if o < dynamic), default=0)
            got = (disk.soname, disk.needed) if disk else None
            fgot = (fwd.soname, fwd.needed) if fwd else None
            ok = got == ref and fgot == ref
            note = "" if ok else f"readelf={ref} disk={got} forward={fgot}"
            rows.append(Row(wheel.name, info.filename, info.file_size, dynamic, prefix, kept, ok,
                            note))
    return rows


class _Bytes:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.size = len(data)

    def get(self, offset: int, length: int) -> bytes | None:
        return None if offset < 0 or length < 0 or offset + length > self.size else self.data[offset : offset + length]


def all_local() -> None:
    """Forward reader vs random access on every local wheel's shared objects."""
    t0 = time.perf_counter()
    wheels = sorted(set(glob.glob("/opt/pypi*/files/*.whl")))
    count, differ, kept = 0, [], []
    for wheel in wheels:
        try:
            archive = zipfile.ZipFile(wheel)
        except (zipfile.BadZipFile, OSError):
            continue
        with archive:
            for info in archive.infolist():
                if info.is_dir() or not SO.search(info.filename.rpartition("/")[2]):
                    continue
                data = archive.read(info)
                direct = elf.parse(_Bytes(data))
                stream = io.BytesIO(data)

                def skip(n: int, stream: io.BytesIO = stream, size: int = len(data)) -> int:
                    before = stream.tell()
                    stream.seek(min(before + n, size))
                    return stream.tell() - before

                source = elf.ForwardSource(stream.read, skip, len(data))
                forward = elf.parse(source)
                count += 1
                kept.append(source.peak)
                if direct != forward:
                    differ.append(f"- {Path(wheel).name}: `{info.filename}`: random access {direct}, forward {forward}")
    lines = [
        "# ELF reader: forward-only vs random access on every local wheel",
        "",
        f"{len(wheels)} wheels, {count} shared objects, {count - len(differ)} agree, {len(differ)} differ; "
        f"kept by the forward reader: largest {max(kept, default=0):,} bytes, {sum(kept) / 1e9:.2f} GB in all. "
        f"{time.perf_counter() - t0:.0f} s.",
        "",
        *differ,
    ]
    text = "\n".join(lines) + "\n"
    (ROOT / "results").mkdir(exist_ok=True)
    (ROOT / "results" / "native_elf_all.md").write_text(text)
    print(text)


def main(argv: list[str]) -> None:
    if argv[:1] == ["--all-local"]:
        all_local()
        return
    tmp = tempfile.mkdtemp(prefix="depslim-elf-")
    if argv[:1] == ["--download"]:
        subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary=:all:",
                        "-d", tmp, *argv[1:]], check=True)
        wheels = sorted(Path(tmp).glob("*.whl"))
    elif argv:
        wheels = [Path(a) for a in argv]
    else:
        wheels = [Path(sorted(glob.glob(g))[0]) for g in WHEEL_GLOBS if glob.glob(g)]
    t0 = time.perf_counter()
    rows = [row for wheel in wheels for row in check(wheel, tmp)]
    wall = time.perf_counter() - t0
    bad = [r for r in rows if not r.match]
    top = sorted(rows, key=lambda r: r.prefix_needed, reverse=True)[:12]
    after = sum(1 for r in rows if r.prefix_needed == 0)
    lines = [
        "# ELF reader on real wheels",
        "",
        f"{len(wheels)} wheels, {len(rows)} shared libraries ({sum(r.size for r in rows) / 1e9:.2f} GB); "
        f"{len(rows) - len(bad)} agree with `readelf -d` (SONAME and NEEDED, both the random-access and the "
        f"forward reader with the default {elf.DEFAULT_PREFIX_CAP // elf.MiB} MiB prefix cap), {len(bad)} differ. "
        f"{wall:.1f} s including extraction and readelf.",
        "",
        f"Largest prefix a forward reader had to keep: {max((r.prefix_needed for r in rows), default=0):,} bytes "
        f"(the string table before PT_DYNAMIC); {after} of the {len(rows)} libraries have every name *after* "
        "PT_DYNAMIC (patchelf, run by auditwheel, moves the grown string table to the end of the file).",
        "",
        f"What the forward reader kept (the stretches `_string_table_ranges` names: file start to the code, "
        f"PT_DYNAMIC's own segment before it, a little after the code; {elf.DEFAULT_PREFIX_CAP // elf.MiB} MiB cap): "
        f"largest {max((r.kept for r in rows), default=0):,} bytes, {sum(r.kept for r in rows) / 1e6:.1f} MB in all.",
        "",
        "| library | size | PT_DYNAMIC at | prefix needed | kept |",
        "|---|---:|---:|---:|---:|",
    ]
    lines += [f"| {r.wheel.split('-')[0]}: `{r.member}` | {r.size:,} | {r.dynamic_offset:,} | {r.prefix_needed:,} "
              f"| {r.kept:,} |" for r in top]
    lines += ["", "Wheels: " + ", ".join(w.name for w in wheels)]
    if bad:
        lines += ["", "## Differences", ""] + [f"- {r.wheel}: {r.member}: {r.note}" for r in bad]
    text = "\n".join(lines) + "\n"
    (ROOT / "results").mkdir(exist_ok=True)
    (ROOT / "results" / "native_elf.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main(sys.argv[1:])
