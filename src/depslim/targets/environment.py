"""The default target: a Python environment on this machine (the running one or `--python`).

A foreign interpreter is asked only for its paths, version and marker values, with `-I -S`
so no `.pth` file or site hook runs; nothing of the project is imported.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path

from depslim import distinfo
from depslim.errors import TargetError
from depslim.model import Finding, InstalledDistribution, InstalledFile, TargetInfo
from depslim.native.elf import ElfInfo, read_elf_file
from depslim.native.sonames import DPKG_INFO, debian_release, looks_like_shared_object, os_release, soname_packages

# Run inside the target interpreter with -I -S: stdlib only, no site hooks, no project code.
_PROBE = r"""
import json, os, platform, site, sys, sysconfig
# -S skips site.venv(), so find a venv's pyvenv.cfg the way site.py does, without running .pth files.
exe_dir = os.path.dirname(sys.executable)
venv_prefix, system_site = None, True
for cand in (exe_dir, os.path.dirname(exe_dir)):
    cfg = os.path.join(cand, "pyvenv.cfg")
    if os.path.isfile(cfg):
        venv_prefix = cand
        with open(cfg, encoding="utf-8", errors="replace") as fh:
            for line in fh:
                key, _, value = line.partition("=")
                if key.strip().lower() == "include-system-site-packages":
                    system_site = value.strip().lower() == "true"
        break
dirs = []
if venv_prefix:
    vpaths = sysconfig.get_paths(vars={"base": venv_prefix, "platbase": venv_prefix})
    dirs += [vpaths.get("purelib"), vpaths.get("platlib")]
if not venv_prefix or system_site:
    paths = sysconfig.get_paths()
    dirs += [paths.get("purelib"), paths.get("platlib")]
    try:
        dirs += site.getsitepackages()
    except Exception:
        pass
iver = sys.implementation.version
impl_version = "{0.major}.{0.minor}.{0.micro}".format(iver)
if iver.releaselevel != "final":
    impl_version += iver.releaselevel[0] + str(iver.serial)
markers = {
    "implementation_name": sys.implementation.name,
    "implementation_version": impl_version,
    "os_name": os.name,
    "platform_machine": platform.machine(),
    "platform_release": platform.release(),
    "platform_system": platform.system(),
    "platform_version": platform.version(),
    "python_full_version": platform.python_version(),
    "platform_python_implementation": platform.python_implementation(),
    "python_version": ".".join(platform.python_version_tuple()[:2]),
    "sys_platform": sys.platform,
}
print(json.dumps({"dirs": [d for d in dirs if d], "markers": markers, "prefix": venv_prefix or sys.prefix}))
"""

_MACHINE_TO_ARCH = {"x86_64": "amd64", "aarch64": "arm64", "arm64": "arm64"}


def probe_interpreter(python: Path) -> dict[str, object]:
    """Ask an interpreter (isolated, no site) for its site dirs and marker environment."""
    try:
        out = subprocess.run(
            [str(python), "-I", "-S", "-c", _PROBE], capture_output=True, text=True, timeout=60, check=True
        )
    except FileNotFoundError:
        raise TargetError(f"{python}: no such interpreter") from None
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError) as exc:
        raise TargetError(f"{python}: cannot query the interpreter ({exc})") from None
    try:
        result: dict[str, object] = json.loads(out.stdout)
    except ValueError:
        raise TargetError(f"{python}: the interpreter gave an unreadable answer") from None
    return result


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
        probe = probe_interpreter(python) if python is not None else None
        if probe is None:
            import site
            import sysconfig

            from packaging.markers import default_environment

            paths = sysconfig.get_paths()
            raw_dirs = [paths["purelib"], paths["platlib"], *site.getsitepackages()]
            markers: dict[str, str] = dict(default_environment())
            ref = sys.executable
        else:
            raw_dirs = [str(d) for d in probe["dirs"]]  # type: ignore[union-attr]
            markers = {str(k): str(v) for k, v in probe["markers"].items()}  # type: ignore[union-attr]
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
            platform=f"{self._markers.get('sys_platform', '')}/{_MACHINE_TO_ARCH.get(machine, machine)}",
            site_dirs=tuple(self._site_dirs),
            markers=dict(self._markers),
        )

    def distributions(self) -> Sequence[InstalledDistribution]:
        if self._dists is None:
            self._dists = scan_site_dirs(self._site_dirs)
        return self._dists

    def findings(self) -> Sequence[Finding]:
        return ()
