"""The default target: a Python environment on this machine (the running one or `--python`).

`--python PY` is never started. Starting it runs code its environment controls: a venv's
pyvenv.cfg decides which standard library the interpreter imports (a `home` pointing at an
attacker's folder runs the attacker's `json`, even under `-I -S`), and `.pth` files and
`sitecustomize` run at every normal start. So the environment is read from files only
(`read_interpreter`): pyvenv.cfg (home, include-system-site-packages, version), the site-packages
layout of venvs and of installations (python.org, pyenv, conda, Debian's dist-packages; data in
`data/interpreters.toml`), found from the executable's real path and its `lib` siblings; the full
version from pyvenv.cfg, conda-meta, the installed headers or the binary's own version string; the
marker values from the executable's ELF/Mach-O header and this machine's kernel (where PY would run).
"""

from __future__ import annotations

import mmap
import os
import re
import stat
import struct
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from depslim import distinfo
from depslim.errors import TargetError
from depslim.knowledge import load_data
from depslim.model import InstalledDistribution, InstalledFile, TargetInfo
from depslim.native.elf import ElfInfo, read_elf_file
from depslim.native.sonames import DPKG_INFO, debian_release, looks_like_shared_object, os_release, soname_packages
from depslim.platforms import docker_arch

MAX_CONFIG_BYTES = 64 * 1024  # pyvenv.cfg, patchlevel.h, a conda-meta record: all a few hundred bytes
MAX_BINARY_BYTES = 256 * 1024 * 1024  # a binary searched for its version string (libpython: ~25 MB)
_XY = re.compile(r"(?:python|pypy)(3\.\d+)")


@dataclass(frozen=True)
class Interpreter:
    """What `--python` names, read from files alone."""

    executable: str
    prefix: str  # the venv's folder, or the installation's
    version: str  # "3.11.7" (or "3.11" when no file states the micro version)
    implementation: str  # "cpython" | "pypy"
    site_dirs: tuple[str, ...]
    markers: dict[str, str] = field(default_factory=dict)
    venv: bool = False


def _read_small(path: str, limit: int = MAX_CONFIG_BYTES) -> str | None:
    """A small regular file's text (never a FIFO or device: opened non-blocking, checked first)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError:
        return None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or st.st_size > limit:
            return None
        return os.read(fd, limit).decode("utf-8", "replace")
    except OSError:
        return None
    finally:
        os.close(fd)


def _pyvenv(folder: str) -> dict[str, str] | None:
    """pyvenv.cfg's keys (lower case) when `folder` holds one, as site.py reads it."""
    text = _read_small(os.path.join(folder, "pyvenv.cfg"))
    if text is None:
        return None
    values: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep:
            values[key.strip().lower()] = value.strip()
    return values


def _xy_of(version: str) -> str | None:
    match = re.match(r"(\d+)\.(\d+)", version)
    return f"{match.group(1)}.{match.group(2)}" if match else None


def _full_version(version: str) -> str:
    """"3.11.4.final.0" (virtualenv's version_info) -> "3.11.4"."""
    return ".".join(version.split(".")[:3]) if re.match(r"\d+\.\d+\.\d+", version) else version


def _stdlib_versions(prefix: str, lib: str) -> list[str]:
    """X.Y of every `lib/pythonX.Y` folder under `prefix` that holds a standard library (os.py)."""
    try:
        names = os.listdir(os.path.join(prefix, "lib"))
    except OSError:
        return []
    found = []
    for name in names:
        match = re.fullmatch(rf"{lib}(3\.\d+)", name)
        if match and os.path.isfile(os.path.join(prefix, "lib", name, "os.py")):
            found.append(match.group(1))
    return sorted(found, key=lambda v: tuple(int(p) for p in v.split(".")))


def _venv_versions(prefix: str, lib: str) -> list[str]:
    """X.Y of every `lib/pythonX.Y/site-packages` of a venv (it has no standard library of its own)."""
    try:
        names = os.listdir(os.path.join(prefix, "lib"))
    except OSError:
        return []
    return sorted((m.group(1) for n in names if (m := re.fullmatch(rf"{lib}(3\.\d+)", n))
                   and os.path.isdir(os.path.join(prefix, "lib", n, "site-packages"))),
                  key=lambda v: tuple(int(p) for p in v.split(".")))


def _binary_version(paths: Iterable[str], xy: str) -> str | None:
    """The `X.Y.Z` string compiled into the interpreter (PY_VERSION), searched in its binaries."""
    needle = f"{xy}.".encode()
    tail = re.compile(rb"(\d+(?:(?:a|b|rc)\d+)?\+?)\x00")
    for path in paths:
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
        except OSError:
            continue
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode) or not 0 < st.st_size <= MAX_BINARY_BYTES:
                continue
            with mmap.mmap(fd, 0, access=mmap.ACCESS_READ) as data:
                counts: dict[str, int] = {}
                at = data.find(needle)
                while at != -1:
                    before = data[at - 1:at] if at else b""
                    match = tail.match(data, at + len(needle)) if not (before.isdigit() or before == b".") else None
                    if match:
                        version = f"{xy}.{match.group(1).decode()}"
                        counts[version] = counts.get(version, 0) + 1
                    at = data.find(needle, at + 1)
            if counts:
                return max(counts, key=lambda v: counts[v])
        except (OSError, ValueError):
            continue
        finally:
            os.close(fd)
    return None


def _installed_version(prefix: str, xy: str, executable: str, lib: str) -> str:
    """X.Y.Z of an installation: conda's record, the installed headers, else the binary's string."""
    meta = os.path.join(prefix, "conda-meta")
    try:
        records = sorted(n for n in os.listdir(meta) if n.startswith(f"python-{xy}.") and n.endswith(".json"))
    except OSError:
        records = []
    for name in records:
        match = re.match(rf"python-({re.escape(xy)}\.\d+)-", name)
        if match:
            return match.group(1)
    header = _read_small(os.path.join(prefix, "include", f"{lib}{xy}", "patchlevel.h"))
    match = re.search(r'#define\s+PY_VERSION\s+"([^"]+)"', header or "")
    if match and match.group(1).startswith(f"{xy}."):
        return match.group(1)
    libdir = os.path.join(prefix, "lib")
    shared = [os.path.join(libdir, f"lib{lib}{xy}{suffix}") for suffix in (".so.1.0", ".so", ".dylib")]
    return _binary_version([executable, *shared], xy) or xy


def _header_machine(executable: str) -> tuple[str, str] | None:
    """(sys_platform, platform_machine) from the executable's ELF or Mach-O header, if it has one."""
    data = _read_head(executable)
    if data is None:
        return None
    known = load_data("interpreters")
    if data[:4] == b"\x7fELF" and len(data) >= 20:
        endian = "<" if data[5] == 1 else ">"
        machine = struct.unpack_from(endian + "H", data, 18)[0]
        name = known["elf_machines"].get(str(machine))
        return ("linux", name) if name else None
    if data[:4] in (b"\xcf\xfa\xed\xfe", b"\xce\xfa\xed\xfe") and len(data) >= 8:
        cpu = struct.unpack_from("<i", data, 4)[0]
        name = known["macho_cpus"].get(str(cpu))
        return ("darwin", name) if name else None
    return None


def _read_head(path: str) -> bytes | None:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError:
        return None
    try:
        return os.read(fd, 64) if stat.S_ISREG(os.fstat(fd).st_mode) else None
    except OSError:
        return None
    finally:
        os.close(fd)


def _site_dirs(layout: str, prefix: str, xy: str, lib: str) -> list[str]:
    templates = list(load_data("interpreters")["layouts"][layout])
    if layout == "installation" and os.path.normpath(prefix) == "/usr":
        templates += load_data("interpreters")["layouts"]["debian"]
    return [t.format(prefix=prefix, xy=xy, lib=lib) for t in templates]


def _markers(version: str, implementation: str, executable: str) -> dict[str, str]:
    """The PEP 508 marker values PY would report on this machine."""
    header = _header_machine(executable)
    uname = os.uname() if hasattr(os, "uname") else None
    sys_platform, machine = header or (sys.platform, uname.machine if uname else "")
    system = {"linux": "Linux", "darwin": "Darwin", "win32": "Windows"}.get(sys_platform, sys_platform.title())
    xy = _xy_of(version) or version
    return {
        "implementation_name": implementation,
        "implementation_version": version if implementation == "cpython" else "",
        "os_name": "nt" if sys_platform == "win32" else "posix",
        "platform_machine": machine,
        "platform_release": uname.release if uname else "",
        "platform_system": system,
        "platform_version": uname.version if uname else "",
        "python_full_version": version,
        "platform_python_implementation": {"cpython": "CPython", "pypy": "PyPy"}.get(implementation, implementation),
        "python_version": xy,
        "sys_platform": sys_platform,
    }


def _installation(executable: str) -> Interpreter:
    """A Python installation (system, pyenv, conda, python.org) from its real executable's path."""
    real = os.path.realpath(executable)
    prefix = os.path.dirname(os.path.dirname(real))
    name = os.path.basename(real).lower()
    implementation = "pypy" if "pypy" in name or os.path.isdir(os.path.join(prefix, "lib", "pypy")) else "cpython"
    lib = "pypy" if implementation == "pypy" else "python"
    named = _XY.search(name)
    candidates = _stdlib_versions(prefix, lib)
    xy = named.group(1) if named else (candidates[-1] if candidates else None)
    if xy is None:
        raise TargetError(f"{executable}: cannot tell which Python this is without running it "
                          f"(no {lib}3.N standard library under {prefix}/lib)")
    version = _installed_version(prefix, xy, real, lib)
    dirs = _site_dirs("installation", prefix, xy, lib)
    return Interpreter(executable, prefix, version, implementation, tuple(dirs),
                       _markers(version, implementation, real))


def read_interpreter(python: Path) -> Interpreter:
    """Everything depslim needs of the interpreter `python`, read from files (it is never run)."""
    executable = os.path.abspath(str(python))
    try:
        st = os.stat(executable)
    except OSError:
        raise TargetError(f"{python}: no such interpreter") from None
    if not stat.S_ISREG(st.st_mode):
        raise TargetError(f"{python}: not an interpreter (not a regular file)")
    folder = os.path.dirname(executable)
    for candidate in (folder, os.path.dirname(folder)):  # where site.py looks for pyvenv.cfg
        config = _pyvenv(candidate)
        if config is not None:
            return _venv(executable, candidate, config)
    return _installation(executable)


def _venv(executable: str, prefix: str, config: dict[str, str]) -> Interpreter:
    """A venv (stdlib venv, virtualenv, uv): its own site-packages, and the base installation's when
    include-system-site-packages says so. The base is read like any installation; its `home` is a
    path to look at, never an interpreter to start."""
    implementation = "pypy" if config.get("implementation", "").lower() == "pypy" else "cpython"
    lib = "pypy" if implementation == "pypy" else "python"
    stated = config.get("version_info") or config.get("version") or ""
    base: Interpreter | None = None
    home = config.get("home", "")
    base_exe = config.get("executable") or (os.path.join(home, f"{lib}{_xy_of(stated)}") if _xy_of(stated) else "")
    candidates = [base_exe] if base_exe else []
    candidates += [os.path.join(home, name) for name in (f"{lib}3", lib)] if home else []
    for candidate in candidates:
        if os.path.isfile(candidate):
            try:
                base = _installation(candidate)
            except TargetError:
                base = None
            break
    named = _XY.search(os.path.basename(os.path.realpath(executable)).lower())
    own = _venv_versions(prefix, lib)
    xy = _xy_of(stated) or (base and _xy_of(base.version)) or (named.group(1) if named else None) or \
        (own[-1] if own else None)
    if xy is None:
        raise TargetError(f"{executable}: cannot tell which Python this venv is for without running it "
                          f"(pyvenv.cfg states no version and {prefix}/lib has no {lib}3.N folder)")
    version = _full_version(stated) if _xy_of(stated) else (base.version if base else xy)
    dirs = _site_dirs("venv", prefix, xy, lib)
    if config.get("include-system-site-packages", "").lower() == "true" and base is not None:
        dirs += base.site_dirs
    real = os.path.realpath(executable)
    return Interpreter(executable, prefix, version, implementation, tuple(dirs),
                       _markers(version, implementation, real), venv=True)


def _unique_dirs(dirs: Sequence[str]) -> list[str]:
    seen: list[str] = []
    for entry in dirs:
        path = os.path.realpath(entry)
        if os.path.isdir(path) and path not in seen:
            seen.append(path)
    return seen


def _read(path: str) -> bytes | None:
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except OSError:
        return None


def _lstat_size(path: str) -> int | None:
    try:
        return os.lstat(path).st_size
    except OSError:
        return None


def _measure(paths: Iterable[str]) -> tuple[list[InstalledFile], int]:
    """lstat every RECORD path: present files with their sizes, and how many are gone."""
    files: list[InstalledFile] = []
    missing = 0
    for path in paths:
        size = _lstat_size(path)
        if size is None:
            missing += 1
        else:
            files.append(InstalledFile(path, size))
    return files, missing


def read_distribution(site: str, meta_dir: str) -> InstalledDistribution | None:
    """One dist-info/egg-info dir on disk → InstalledDistribution with lstat sizes."""
    return distinfo.build_distribution(site, meta_dir, _read, _measure)


def scan_site_dirs(site_dirs: Sequence[str]) -> list[InstalledDistribution]:
    """Every distribution in the given site dirs; the first site dir wins for a duplicate name
    (that is the one `import` would find)."""
    found: list[InstalledDistribution] = []
    for site in site_dirs:
        try:
            names = sorted(os.listdir(site))
        except OSError:
            continue
        for name in names:
            if name.endswith((".dist-info", ".egg-info")) and os.path.isdir(os.path.join(site, name)):
                dist = read_distribution(site, os.path.join(site, name))
                if dist is not None:
                    found.append(dist)
    return found


MAX_DPKG_LIST_BYTES = 64 * 1024 * 1024  # a dpkg .list larger than this is not read (as in images)


def read_native(dists: Iterable[InstalledDistribution]) -> dict[str, ElfInfo]:
    """ELF facts of the `*.so` / `*.so.*` RECORD files of `dists`, read from disk (never loaded)."""
    out: dict[str, ElfInfo] = {}
    for dist in dists:
        for item in dist.files:
            if looks_like_shared_object(item.path.rpartition("/")[2]) and item.path not in out:
                info = read_elf_file(item.path)
                if info is not None:
                    out[item.path] = info
    return out


def _dpkg_lists(info_dir: str) -> Iterable[tuple[str, bytes]]:
    try:
        names = sorted(os.listdir(info_dir))
    except OSError:
        return
    for name in names:
        if not name.endswith(".list"):
            continue
        path = os.path.join(info_dir, name)
        size = _lstat_size(path)
        if size is not None and size <= MAX_DPKG_LIST_BYTES:
            data = _read(path)
            if data is not None:
                yield path, data


def host_dpkg_sonames(info_dir: str = DPKG_INFO) -> dict[str, str]:
    """soname -> Debian package from this machine's dpkg file lists ({} without dpkg)."""
    return soname_packages(_dpkg_lists(info_dir))


def host_debian_release(path: str = "/etc/os-release") -> str | None:
    """This machine's Debian codename (the release `host_dpkg_sonames` names belong to), or None."""
    return debian_release(os_release(_read(path)))


class EnvironmentTarget:
    """The running interpreter's environment, or another interpreter's (`--python`)."""

    def __init__(self, python: Path | None = None) -> None:
        self._python = python
        if python is None:
            import site
            import sysconfig

            from packaging.markers import default_environment

            paths = sysconfig.get_paths()
            raw_dirs = [paths["purelib"], paths["platlib"], *site.getsitepackages()]
            markers = {key: str(value) for key, value in default_environment().items()}  # all str already
            ref = sys.executable
        else:
            interpreter = read_interpreter(python)  # from files: the interpreter is never started
            raw_dirs = list(interpreter.site_dirs)
            markers = dict(interpreter.markers)
            ref = str(python)
        self._site_dirs = _unique_dirs(raw_dirs)
        self._markers = markers
        self._ref = ref
        self._dists: list[InstalledDistribution] | None = None

    def info(self) -> TargetInfo:
        machine = self._markers.get("platform_machine", "")
        return TargetInfo(
            kind="environment",
            ref=self._ref,
            python_version=self._markers.get("python_full_version", ""),
            platform=f"{self._markers.get('sys_platform', '')}/{docker_arch(machine)}",
            site_dirs=tuple(self._site_dirs),
            markers=dict(self._markers),
        )

    def distributions(self) -> Sequence[InstalledDistribution]:
        if self._dists is None:
            self._dists = scan_site_dirs(self._site_dirs)
        return self._dists
