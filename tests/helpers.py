"""Real test parts: wheels built on the spot, throwaway venvs, project trees on disk.

No network and no mocks: a wheel made here is a real zip that pip installs, so mapping and
size tests run against genuine installed metadata.
"""

from __future__ import annotations

import base64
import hashlib
import os
import shutil
import subprocess
import sys
import textwrap
import time
import venv
import zipfile
from collections.abc import Iterable, Mapping
from pathlib import Path


def _record_hash(data: bytes) -> str:
    digest = hashlib.sha256(data).digest()
    return "sha256=" + base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def build_wheel(
    out_dir: Path,
    name: str,
    version: str = "1.0",
    files: Mapping[str, str | bytes] | None = None,
    requires: Iterable[str] = (),
    top_level: Iterable[str] | None = None,
    extras: Iterable[str] = (),
    console_scripts: Mapping[str, str] | None = None,
    tag: str = "py3-none-any",
) -> Path:
    """Write a real wheel `<name>-<version>-<tag>.whl` and return its path.

    `files` maps archive paths (e.g. "pkg/__init__.py") to contents; by default one module
    named after the distribution. `top_level=None` ships no top_level.txt (like hatchling and
    flit wheels), so mapping must fall back to RECORD.
    """
    dist = name.replace("-", "_")
    files = dict(files) if files is not None else {f"{dist.lower()}/__init__.py": f"NAME = {name!r}\n"}
    info = f"{dist}-{version}.dist-info"
    meta = ["Metadata-Version: 2.1", f"Name: {name}", f"Version: {version}"]
    meta += [f"Provides-Extra: {extra}" for extra in extras]
    meta += [f"Requires-Dist: {req}" for req in requires]
    entries: dict[str, bytes] = {}
    for path, content in files.items():
        entries[path] = content.encode() if isinstance(content, str) else content
    entries[f"{info}/METADATA"] = ("\n".join(meta) + "\n").encode()
    entries[f"{info}/WHEEL"] = (
        f"Wheel-Version: 1.0\nGenerator: depslim-tests\nRoot-Is-Purelib: true\nTag: {tag}\n"
    ).encode()
    if top_level is not None:
        entries[f"{info}/top_level.txt"] = ("\n".join(top_level) + "\n").encode()
    if console_scripts:
        body = "[console_scripts]\n" + "".join(f"{k} = {v}\n" for k, v in console_scripts.items())
        entries[f"{info}/entry_points.txt"] = body.encode()
    record = [f"{path},{_record_hash(data)},{len(data)}" for path, data in entries.items()]
    record.append(f"{info}/RECORD,,")
    entries[f"{info}/RECORD"] = ("\n".join(record) + "\n").encode()
    out_dir.mkdir(parents=True, exist_ok=True)
    wheel = out_dir / f"{dist}-{version}-{tag}.whl"
    with zipfile.ZipFile(wheel, "w", zipfile.ZIP_DEFLATED) as zf:
        for path, data in entries.items():
            zf.writestr(path, data)
    return wheel


def make_venv(path: Path) -> Path:
    """Create a venv with pip and return its python executable."""
    venv.EnvBuilder(with_pip=True, clear=True).create(path)
    return path / "bin" / "python"


def pip_install(python: Path, wheels_dir: Path, *requirements: str) -> None:
    """Install from local wheels only (no index, no network)."""
    subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "--no-index", "--no-cache-dir",
         "--disable-pip-version-check", "--find-links", str(wheels_dir), *requirements],
        check=True,
        env={"PATH": "/usr/bin:/bin", "PIP_CONFIG_FILE": "/dev/null"},
    )


def site_packages(python: Path) -> Path:
    """The purelib dir of a venv's interpreter (asked from the interpreter, not guessed)."""
    out = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True, capture_output=True, text=True,
    )
    return Path(out.stdout.strip())


def write_tree(root: Path, files: Mapping[str, str | bytes]) -> Path:
    """Write a project tree: {"src/pkg/__init__.py": "...", ...}."""
    for rel, content in files.items():
        target = root / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            target.write_bytes(content)
        else:
            target.write_text(content)
    return root


PYTHON = Path(sys.executable)


EXAMPLE = Path(__file__).resolve().parents[1] / "fixtures" / "example"


def write_dedented(root: Path, files: Mapping[str, str]) -> Path:
    """Write a project tree whose file texts are indented triple-quoted strings in the test."""
    return write_tree(root, {rel: textwrap.dedent(content).lstrip("\n") for rel, content in files.items()})


def age(root: Path, seconds: float = 60) -> None:
    """Backdate a tree, `root` included: depslim's caches never trust an mtime within 2 s of a run."""
    past = time.time() - seconds
    for path in [root, *root.rglob("*")]:
        os.utime(path, (past, past))


def aged_example(tmp_path: Path) -> Path:
    """A private, backdated copy of the bundled example project."""
    root = tmp_path / "proj"
    shutil.copytree(EXAMPLE, root)
    age(root)
    return root
