"""The Python inside an image: its site dirs, version and installed distributions.

Everything comes from the merged filesystem and the small files captured during the walk:
dist-info METADATA/RECORD/top_level.txt/entry_points.txt/direct_url.json, egg-info
PKG-INFO/installed-files.txt, pyvenv.cfg, dpkg status and file lists. A distribution's bytes
are the lstat sizes of its RECORD files that exist in the final filesystem, resolved the way
`os.lstat(os.path.join(site, path))` resolves them inside a running container.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from packaging.version import InvalidVersion, Version

from depslim import distinfo
from depslim.model import InstalledDistribution, InstalledFile
from depslim.platforms import machine_of
from depslim.targets.image.fs import MergedFS
from depslim.targets.image.layers import DIR, FILE

SITE_NAMES = frozenset({"site-packages", "dist-packages"})
_PY_DIR = re.compile(r"/python(3\.\d+)/")
_PY_BIN = re.compile(r"^/(?:usr/local/bin|usr/bin|opt/[^/]+/bin|opt/conda/bin)/python(3\.\d+)$")
_CONDA_PY = re.compile(r"/conda-meta/python-(3\.\d+\.\d+)-[^/]*\.json$")
_DEB_PY = re.compile(r"^python(3\.\d+)(?:-minimal)?$")


@dataclass
class Orphans:
    """Files in a site dir that no distribution's RECORD (nor dpkg) claims."""

    site: str
    bytes: int = 0
    files: int = 0
    tops: dict[str, int] = field(default_factory=dict)  # top-level name under site -> bytes
    layers: dict[int, int] = field(default_factory=dict)


def env_dict(config: Mapping[str, object]) -> dict[str, str]:
    """The image config's Env list as a mapping (later duplicates win, as docker does)."""
    inner = config.get("config") or {}
    env: dict[str, str] = {}
    for item in (inner.get("Env") if isinstance(inner, Mapping) else None) or []:
        if isinstance(item, str):
            key, _, value = item.partition("=")
            env[key] = value
    return env


def find_site_dirs(fs: MergedFS, env: Mapping[str, str]) -> list[str]:
    """site-packages / dist-packages dirs (any prefix: system, venv, conda) plus PYTHONPATH.

    Ordered roughly like sys.path: PYTHONPATH, venvs on PATH, /usr/local, then the rest, so
    the first of two copies of a distribution is the one Python would import.
    """
    found: set[str] = set()
    for path, node in fs.walk("/"):
        if (
            node[0] == DIR
            and path.rpartition("/")[2] in SITE_NAMES
            and not any(part in SITE_NAMES for part in path.split("/")[:-1])
        ):
            found.add(path)
    pythonpath = [p for p in env.get("PYTHONPATH", "").split(":") if p.startswith("/")]
    for entry in pythonpath:
        real = fs.resolve(posixpath.normpath(entry), follow_last=True)
        if real is not None and fs.nodes.get(real, ("",))[0] == DIR:
            found.add(real)
    path_dirs = [posixpath.dirname(p) for p in env.get("PATH", "").split(":") if p.startswith("/")]

    def order(site: str) -> tuple[int, int, str]:
        if site in pythonpath:
            return (0, pythonpath.index(site), site)
        if any(site.startswith(prefix + "/") for prefix in path_dirs if prefix not in ("/usr", "/usr/local", "/")):
            return (1, 0, site)
        if site.startswith("/usr/local/"):
            return (2, 0, site)
        if site.startswith("/usr/"):
            return (3, 0, site)
        return (4, 0, site)

    return sorted(found, key=order)


def dpkg_packages(status: bytes | None) -> dict[str, dict[str, str]]:
    """Installed packages from /var/lib/dpkg/status: name -> fields (Version, Installed-Size…)."""
    packages: dict[str, dict[str, str]] = {}
    if not status:
        return packages
    for stanza in status.decode("utf-8", "replace").split("\n\n"):
        fields: dict[str, str] = {}
        key = ""
        for line in stanza.splitlines():
            if line[:1] in (" ", "\t"):
                continue  # continuation lines (descriptions, conffiles) are not needed
            key, _, value = line.partition(":")
            fields[key.strip()] = value.strip()
        name = fields.get("Package")
        if name and "installed" in fields.get("Status", "").split():
            arch = fields.get("Architecture", "")
            packages[name if name not in packages else f"{name}:{arch}"] = fields
    return packages


def python_version(
    fs: MergedFS, env: Mapping[str, str], site_dirs: Iterable[str], dpkg: Mapping[str, Mapping[str, str]]
) -> str:
    """The image's main Python version, most precise source first.

    Official images set PYTHON_VERSION; venvs write pyvenv.cfg; conda records python-X.Y.Z in
    conda-meta; Debian's dpkg knows python3.X's version; else the lib/python3.X dir name.
    """
    if re.fullmatch(r"3\.\d+\.\d+", env.get("PYTHON_VERSION", "")):
        return env["PYTHON_VERSION"]
    for site in site_dirs:
        root = site
        for _ in range(4):
            root = posixpath.dirname(root)
            cfg = fs.captured(posixpath.join(root, "pyvenv.cfg"))
            if cfg:
                line = re.search(rb"^version(?:_info)?\s*=\s*(3\.\d+\.\d+)", cfg, re.M)
                if line:
                    return line.group(1).decode()
    minors = []
    for site in site_dirs:
        match = _PY_DIR.search(site + "/")
        if match:
            minors.append(match.group(1))
    conda = [m.group(1) for p in fs.glob("/opt/conda/conda-meta/python-3*.json") if (m := _CONDA_PY.search(p))]
    if conda:
        return conda[0]
    for name, fields in dpkg.items():
        match = _DEB_PY.match(name)
        if match and (not minors or match.group(1) in minors):
            upstream = re.match(r"(?:\d+:)?(3\.\d+\.\d+)", fields.get("Version", ""))
            if upstream:
                return upstream.group(1)
    if minors:
        return minors[0]
    for path in fs.glob("/usr/local/bin/python3.*") + fs.glob("/usr/bin/python3.*"):
        match = _PY_BIN.match(path)
        if match:
            return match.group(1)
    return ""


def marker_environment(version: str, platform: str) -> dict[str, str]:
    """A packaging marker environment for the image's Python and platform."""
    parts = platform.split("/")
    arch = parts[1] if len(parts) > 1 else ""
    variant = parts[2] if len(parts) > 2 else ""
    machine = machine_of(arch) or arch
    if arch == "arm" and variant in ("v6", "v5"):
        machine = f"arm{variant}l"
    try:
        release = Version(version).release
        short = ".".join(str(p) for p in release[:2])
    except InvalidVersion:
        short = version
    return {
        "implementation_name": "cpython",
        "implementation_version": version,
        "os_name": "posix",
        "platform_machine": machine,
        "platform_python_implementation": "CPython",
        "platform_release": "",
        "platform_system": "Linux",
        "platform_version": "",
        "python_full_version": version,
        "python_version": short,
        "sys_platform": "linux",
    }


def _present(fs: MergedFS, paths: Iterable[str]) -> tuple[list[InstalledFile], int]:
    files: list[InstalledFile] = []
    missing = 0
    seen: set[str] = set()
    for path in paths:
        if path in seen:
            continue
        seen.add(path)
        node = fs.lstat(path)
        if node is None:
            missing += 1
        else:
            files.append(InstalledFile(path, 0 if node[0] == DIR else node[1]))
    return files, missing


def read_distribution(fs: MergedFS, site: str, info_dir: str) -> InstalledDistribution | None:
    """One .dist-info / .egg-info dir as an InstalledDistribution (None without metadata)."""
    direct_url = fs.nodes.get(f"{info_dir}/direct_url.json")
    label = f"{fs.archive}: layer {direct_url[2]}" if direct_url is not None else fs.archive
    return distinfo.build_distribution(site, info_dir, fs.captured, lambda paths: _present(fs, paths), label)


def read_distributions(fs: MergedFS, site_dirs: Iterable[str]) -> list[InstalledDistribution]:
    """Every distribution in every site dir, in site order then name order."""
    out: list[InstalledDistribution] = []
    for site in site_dirs:
        infos = sorted(
            child for child in fs.children.get(site, ())
            if child.endswith((".dist-info", ".egg-info")) and fs.nodes[child][0] == DIR
        )
        for info_dir in infos:
            dist = read_distribution(fs, site, info_dir)
            if dist is not None:
                out.append(dist)
    return out


def dpkg_owned(fs: MergedFS) -> set[str]:
    """Site-package paths that dpkg file lists claim (Debian's python3-* packages)."""
    owned: set[str] = set()
    for path in fs.captured_paths():
        if path.startswith("/var/lib/dpkg/info/") and path.endswith(".list"):
            owned.update(distinfo.parse_lines(fs.captured(path) or b""))
    return owned


def find_orphans(
    fs: MergedFS, site_dirs: Iterable[str], dists: Iterable[InstalledDistribution], dpkg: set[str]
) -> list[Orphans]:
    """Files in site dirs owned by no RECORD and no dpkg list (copied in, or left by hand)."""
    owned = {f.path for d in dists for f in d.files} | dpkg
    info_dirs = {d.dist_info for d in dists}
    result = []
    for site in site_dirs:
        orphans = Orphans(site)
        for path, (kind, size, layer, _link) in fs.walk(site):
            if kind == DIR or path in owned or "/__pycache__/" in path:
                continue  # bytecode is the pycache finding's business
            top = path[len(site) + 1 :].split("/", 1)[0]
            if posixpath.join(site, top) in info_dirs or top.endswith((".dist-info", ".egg-info")):
                continue
            orphans.files += 1
            orphans.bytes += size if kind != DIR else 0
            orphans.tops[top] = orphans.tops.get(top, 0) + size
            orphans.layers[layer] = orphans.layers.get(layer, 0) + size
        if orphans.files:
            result.append(orphans)
    return result


def regular_files_under(fs: MergedFS, top: str) -> Iterable[tuple[str, int, int]]:
    """(path, size, layer) for every non-directory under `top`."""
    for path, (kind, size, layer, _link) in fs.walk(top):
        if kind != DIR:
            yield path, size, layer


__all__ = [
    "FILE",
    "Orphans",
    "dpkg_owned",
    "dpkg_packages",
    "env_dict",
    "find_orphans",
    "find_site_dirs",
    "marker_environment",
    "python_version",
    "read_distributions",
]
