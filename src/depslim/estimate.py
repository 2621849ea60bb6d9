"""`depslim estimate`: what a requirements file will weigh once installed, before anything is built.

pip resolves for the *target* platform (`pip install --dry-run --report --platform ...
--python-version ... --only-binary=:all: --target <tmp>`; it fetches metadata only), then each
resolved wheel's installed size is read from its zip central directory with HTTP range requests
(`wheelsize`). Only an sdist (no wheel for the platform) cannot be measured this way; it is
reported as an estimate from its archive size.

What the central directory cannot say is the `.pyc` pip compiles for every installed `.py`: that is
added per wheel as `ratio x .py bytes` (`depslim.bytecode`, ratio measured per Python minor), kept
apart as `bytecode_bytes` and labelled an estimate, so the total is comparable with the installed
bytes `depslim image` measures from RECORDs. `compile_pyc=False` (pip's `--no-compile`) leaves it out.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections import Counter
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit
from urllib.request import url2pathname

from packaging.utils import canonicalize_name

from depslim import jsonshape
from depslim.bytecode import BytecodeRatio, bytecode_bytes, ratio_for
from depslim.errors import DepslimError, InputError
from depslim.inputfile import missing_reason
from depslim.jsonshape import Where, expect_object
from depslim.units import human_bytes as human
from depslim.wheelsize import FetchCounter, RangeSource, WheelSizeError, target_tags, wheel_info

if TYPE_CHECKING:
    from depslim.report.base import RenderOptions


@dataclass(frozen=True)
class PackageEstimate:
    name: str
    version: str
    url: str
    filename: str
    files_bytes: int  # the files the wheel unpacks (central directory), or the sdist's archive size
    wheel_bytes: int
    fetched_bytes: int
    estimate: bool = False  # files_bytes itself is an estimate (an sdist)
    note: str = ""
    bytecode_bytes: int = 0  # .pyc pip writes at install: always an estimate (ratio x .py bytes)
    # (installed path, bytes) of each file, and the .py paths pip compiles: to count shared paths once
    paths: tuple[tuple[str, int], ...] = field(default=(), repr=False, compare=False)
    compiled: frozenset[str] = field(default=frozenset(), repr=False, compare=False)

    @property
    def installed_bytes(self) -> int:
        """What this package's install writes (its own files, even those another package also writes)."""
        return self.files_bytes + self.bytecode_bytes


@dataclass(frozen=True)
class Estimate:
    requirements: str
    platform: str
    python: str
    packages: tuple[PackageEstimate, ...]
    resolver: str
    fetched_bytes: int
    problems: tuple[str, ...] = field(default_factory=tuple)
    bytecode: BytecodeRatio | None = None  # None: installed with --no-compile, no .pyc written

    @property
    def installed_bytes(self) -> int:
        """What the install puts on disk, each installed path counted once: the same concept
        `depslim image` measures from RECORDs (per-package sizes each count their own copy)."""
        return self.files_bytes + self.bytecode_bytes

    @property
    def files_bytes(self) -> int:
        return sum(p.files_bytes for p in self.packages) - self.shared_files_bytes

    @property
    def bytecode_bytes(self) -> int:
        return sum(p.bytecode_bytes for p in self.packages) - self.shared_bytecode_bytes

    @property
    def shared_bytes(self) -> int:
        """Bytes the per-package sizes count more than once: files (and their bytecode) that two or
        more wheels install at the same path (mlflow and mlflow-skinny both ship `mlflow/`)."""
        return self.shared_files_bytes + self.shared_bytecode_bytes

    @cached_property
    def shared_files_bytes(self) -> int:
        return _repeated(p.paths for p in self.packages)

    @cached_property
    def shared_bytecode_bytes(self) -> int:
        if self.bytecode is None:
            return 0
        source = _repeated(tuple((path, size) for path, size in p.paths if path in p.compiled)
                           for p in self.packages)
        return bytecode_bytes(source, self.bytecode)

    @property
    def shared_paths(self) -> int:
        counts = Counter(path for p in self.packages for path in {path for path, _ in p.paths})
        return sum(1 for n in counts.values() if n > 1)

    @property
    def wheel_bytes(self) -> int:
        return sum(p.wheel_bytes for p in self.packages)

    @property
    def estimated(self) -> tuple[PackageEstimate, ...]:
        return tuple(p for p in self.packages if p.estimate)


def _repeated(per_package: Iterable[Iterable[tuple[str, int]]]) -> int:
    """Bytes beyond one copy of each path: the file on disk is one (the larger copy is counted)."""
    sizes: dict[str, list[int]] = {}
    for paths in per_package:
        for path, size in dict(paths).items():
            sizes.setdefault(path, []).append(size)
    return sum(sum(copies) - max(copies) for copies in sizes.values() if len(copies) > 1)


@dataclass(frozen=True)
class Resolved:
    name: str
    version: str
    url: str


def pip_platforms(platform: str, python: str) -> list[str]:
    """The platform tags pip should accept for the target (manylinux family for linux/<arch>)."""
    seen: list[str] = []
    for tag in target_tags(platform, python):
        if tag.platform != "any" and tag.platform not in seen:
            seen.append(tag.platform)
    return seen


def resolve_with_pip(
    requirements: Path,
    *,
    platform: str = "linux/amd64",
    python: str = "3.11",
    index_url: str | None = None,
    extra_index_urls: Sequence[str] = (),
    find_links: Sequence[str] = (),
    isolated: bool = False,
    pip: Sequence[str] = (sys.executable, "-m", "pip"),
) -> list[Resolved]:
    """Resolve `requirements` for the target with pip's dry run; return what it would install."""
    major, minor = python.split(".")[:2]
    cmd = [*pip, "install", "--dry-run", "--quiet", "--report", "-", "--ignore-installed",
           "--only-binary=:all:", "--python-version", f"{major}.{minor}", "--implementation", "cp",
           "--abi", f"cp{major}{minor}", "--disable-pip-version-check"]
    for plat in pip_platforms(platform, python):
        cmd += ["--platform", plat]
    if isolated:
        cmd.append("--isolated")
    if index_url:
        cmd += ["--index-url", index_url]
    for url in extra_index_urls:
        cmd += ["--extra-index-url", url]
    for link in find_links:
        cmd += ["--find-links", link]
    with tempfile.TemporaryDirectory(prefix="depslim-estimate-") as tmp:
        cmd += ["--target", tmp, "-r", str(requirements)]
        env = dict(os.environ)
        if isolated:
            env["PIP_CONFIG_FILE"] = os.devnull
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    if proc.returncode != 0:
        lines = [ln for ln in proc.stderr.splitlines() if ln.startswith("ERROR")] or proc.stderr.splitlines()[-1:]
        raise InputError(requirements, f"cannot resolve for {platform} / Python {python}: "
                                       f"{lines[-1] if lines else 'pip failed'}")
    if not proc.stdout.strip():
        raise DepslimError(f"pip printed no installation report for {requirements}")
    where = Where("pip's installation report", f"for {requirements}", lambda file, problem: DepslimError(
        f"{file} {problem}"))
    report = expect_object(jsonshape.loads(proc.stdout, where), where)
    resolved = []
    for item in report.objects("install"):
        meta = item.obj("metadata")
        url = item.obj("download_info").text("url")
        resolved.append(Resolved(canonicalize_name(meta.text("name")), meta.text("version"), url))
    return resolved


def _measure(item: Resolved, python: str, bytecode: BytecodeRatio | None) -> PackageEstimate:
    """One resolved item's sizes; `bytecode` None means pip will not compile (`--no-compile`).
    An sdist gets no bytecode estimate: its archive size is already the rough figure."""
    counter = FetchCounter()
    if item.url.startswith("file:") and os.path.isdir(url2pathname(urlsplit(item.url).path)):
        raise WheelSizeError("a local folder: pip builds it, so its installed size is not known before "
                             "it is built; not measured")
    filename = item.url.rsplit("/", 1)[-1]
    if not filename.endswith(".whl"):
        source = RangeSource(item.url, counter)
        size = source.size
        return PackageEstimate(item.name, item.version, item.url, filename, size, size, counter.bytes_fetched,
                               estimate=True, note="sdist: installed size not in a central directory; "
                                                   "archive size used")
    info = wheel_info(item.url, counter=counter, metadata=False, python=python)
    pyc = bytecode_bytes(info.source_bytes or 0, bytecode) if bytecode is not None else 0
    return PackageEstimate(item.name, item.version, item.url, info.filename, info.installed_bytes,
                           info.wheel_bytes, counter.bytes_fetched, bytecode_bytes=pyc, paths=info.paths,
                           compiled=info.compiled)


def estimate_requirements(
    requirements: Path,
    *,
    platform: str = "linux/amd64",
    python: str = "3.11",
    index_url: str | None = None,
    extra_index_urls: Sequence[str] = (),
    find_links: Sequence[str] = (),
    isolated: bool = False,
    workers: int = 8,
    allow_build: bool = False,
    compile_pyc: bool = True,
) -> Estimate:
    """Resolve for the target, then range-read every wheel's installed size (in parallel), adding the
    estimated bytecode pip compiles unless `compile_pyc` is False (an install with `--no-compile`).

    A line pip would build even with `--only-binary=:all:` (a local folder, a VCS URL, an editable)
    is refused unless `allow_build` (`depslim.builds`): building runs its setup.py."""
    if not requirements.is_file():
        reason = missing_reason(requirements)
        raise InputError(requirements, "no such requirements file" if reason == "does not exist" else reason)
    if not allow_build:
        from depslim.builds import refuse_builds

        refuse_builds(requirements, binary_only=True)
    resolved = resolve_with_pip(requirements, platform=platform, python=python, index_url=index_url,
                                extra_index_urls=extra_index_urls, find_links=find_links, isolated=isolated)
    bytecode = ratio_for(python) if compile_pyc else None
    problems: list[str] = []
    packages: list[PackageEstimate] = []
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        futures = {pool.submit(_measure, item, python, bytecode): item for item in resolved}
        for future, item in futures.items():
            try:
                packages.append(future.result())
            except WheelSizeError as exc:
                problems.append(f"{item.name} {item.version}: {exc}")
    packages.sort(key=lambda p: (-p.installed_bytes, p.name))
    return Estimate(str(requirements), platform, python, tuple(packages), "pip --dry-run --report",
                    sum(p.fetched_bytes for p in packages), tuple(problems), bytecode)


# ---------------------------------------------------------------------------- rendering


def bytecode_note(est: Estimate) -> str:
    """The one phrase every format uses for the bytecode part of the total: an estimate, said so."""
    if est.bytecode is None:
        return "no bytecode (--no-compile)"
    measured = "" if est.bytecode.measured_on == ".".join(est.python.split(".")[:2]) else \
        f", ratio measured on Python {est.bytecode.measured_on}"
    return f"incl. ~{human(est.bytecode_bytes)} of bytecode pip writes (est.{measured})"


def shared_note(est: Estimate) -> str:
    """The phrase for paths two wheels install: counted once in the total, not in package rows."""
    if not est.shared_bytes:
        return ""
    return (f"{human(est.shared_bytes)} in {est.shared_paths} path(s) two or more packages install "
            "counted once in the total (package rows each count their copy)")


def render_json(est: Estimate) -> str:
    """`installed_bytes` = `files_bytes` (measured, central directories) + `bytecode_bytes` (estimated)."""
    bytecode = None if est.bytecode is None else {
        "estimated": True, "ratio": est.bytecode.ratio, "ratio_python": est.bytecode.measured_on,
        "method": "ratio x bytes of the .py members pip compiles (depslim/data/bytecode.toml)"}
    doc = {
        "schema": "depslim/estimate",
        "requirements": est.requirements, "platform": est.platform, "python": est.python,
        "resolver": est.resolver, "installed_bytes": est.installed_bytes, "files_bytes": est.files_bytes,
        "bytecode_bytes": est.bytecode_bytes, "bytecode_estimated": est.bytecode is not None,
        "bytecode": bytecode, "shared_bytes": est.shared_bytes, "shared_paths": est.shared_paths,
        "wheel_bytes": est.wheel_bytes, "fetched_bytes": est.fetched_bytes,
        "packages": [
            {"name": p.name, "version": p.version, "installed_bytes": p.installed_bytes,
             "files_bytes": p.files_bytes, "bytecode_bytes": p.bytecode_bytes,
             "bytecode_estimated": est.bytecode is not None,
             "wheel_bytes": p.wheel_bytes, "fetched_bytes": p.fetched_bytes, "estimate": p.estimate,
             "note": p.note, "url": p.url}
            for p in est.packages
        ],
        "problems": list(est.problems),
    }
    return json.dumps(doc, indent=2) + "\n"


def render_markdown(est: Estimate) -> str:

    lines = [f"## depslim estimate: `{est.requirements}`", "",
             f"Target **{est.platform}**, Python **{est.python}**: **{human(est.installed_bytes)} installed** "
             f"{bytecode_note(est)}; {human(est.wheel_bytes)} download, {len(est.packages)} packages. "
             f"Sizes from each wheel's zip central directory ({human(est.fetched_bytes)} fetched)."
             + (f" {shared_note(est)}." if est.shared_bytes else ""), "",
             "| package | version | installed | bytecode (est.) | download | measured |",
             "|---|---|---:|---:|---:|---|"]
    for p in est.packages:
        how = "estimate: " + p.note if p.estimate else "central directory"
        lines.append(f"| {p.name} | {p.version} | {human(p.installed_bytes)} | {human(p.bytecode_bytes)} "
                     f"| {human(p.wheel_bytes)} | {how} |")
    for problem in est.problems:
        lines.append(f"\n> not measured: {problem}")
    return "\n".join(lines) + "\n"


def render_terminal(result: Estimate, options: RenderOptions) -> str:
    """One row per package (installed incl. estimated bytecode, download, how measured), then the total."""
    from io import StringIO

    from rich.markup import escape

    from depslim.report.terminal import new_console, rows

    out = StringIO()
    console = new_console(options, out)
    rows(console, f"{escape(result.requirements)} on {result.platform}, Python {result.python}",
         ("package", "version", "installed", "bytecode (est.)", "download", "measured"),
         [(escape(p.name), escape(p.version), human(p.installed_bytes), human(p.bytecode_bytes),
           human(p.wheel_bytes), "estimate (sdist)" if p.estimate else "central directory")
          for p in result.packages],
         right=("installed", "bytecode (est.)", "download"))
    console.print(f"total installed {human(result.installed_bytes)}, {escape(bytecode_note(result))}; "
                  f"{human(result.wheel_bytes)} download; "
                  f"{human(result.fetched_bytes)} fetched to measure it"
                  + (f"; {len(result.estimated)} estimated" if result.estimated else "")
                  + (f"; {escape(shared_note(result))}" if result.shared_bytes else ""), soft_wrap=True)
    for problem in result.problems:
        console.print(f"not measured: {escape(problem)}", soft_wrap=True)
    return out.getvalue()
