"""Hash-pinned locks for the target: pip-compile or uv resolve, depslim writes the file.

Why depslim renders the lock itself instead of keeping the backend's file:
- pip-compile 7.6 expands `${VAR}` in index URLs and writes the credentials into its output;
  uv does not. depslim copies the *input's* option lines, so a secret that only lives in the
  environment never reaches the file, whichever backend ran; a credential written literally in
  the input is masked in the lock (`depslim.redact`) and the result says to use a reference.
- Both backends write absolute paths and their own command lines into headers; depslim's
  header holds only relative names, the target and a digest of the normalised inputs, which is
  what `--check` compares (plus the pins themselves) to tell a stale lock from a fresh one.
- One format for both backends: the same inputs give the same set of pins either way.

The backend runs in a private temporary directory; the lock is rendered only after the
resolution succeeded and is then replaced atomically, so a failed run leaves the old lock as
it was. Core code: no printing, no exiting; errors are `LockError`/`InputError`.

Start-up matters: the command's own overhead is measured against the bare resolver. So
`packaging` (the largest import here) is imported by the functions that parse, and
`compute_lock` starts the resolver before it reads and validates the inputs, so reading them,
and importing `packaging` for that, happen while the resolver waits on the network.
"""

from __future__ import annotations

import dataclasses
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from depslim.errors import InputError, LockError
from depslim.fsio import decode_text
from depslim.generate.stamp import check_overwrite, is_intact, split_stamp, stamp
from depslim.inputfile import read_bytes, read_text
from depslim.platforms import docker_arch
from depslim.progress import NULL_PROGRESS, Progress

if TYPE_CHECKING:  # imported where used: packaging is most of this module's import time
    from packaging.requirements import Requirement

BACKENDS = ("pip-tools", "uv")
COMPILE_COMMAND = "depslim lock"

# Global options that change what gets resolved or where from: copied verbatim into the lock.
_CARRIED = {
    "-i": "--index-url", "--index-url": "--index-url", "--extra-index-url": "--extra-index-url",
    "-f": "--find-links", "--find-links": "--find-links", "--trusted-host": "--trusted-host",
    "--no-index": "--no-index", "--pre": "--pre", "--only-binary": "--only-binary",
    "--no-binary": "--no-binary", "--prefer-binary": "--prefer-binary",
}
_NESTED = {"-r": "-r", "--requirement": "-r", "-c": "-c", "--constraint": "-c"}
_FLAGS = {"--no-index", "--pre", "--prefer-binary"}

# Docker-style platforms → uv --python-platform targets (manylinux_2_28: Debian 10+/UBI 8+ glibc).
UV_PLATFORMS = {
    "linux/amd64": "x86_64-manylinux_2_28",
    "linux/arm64": "aarch64-manylinux_2_28",
    "linux/arm64/v8": "aarch64-manylinux_2_28",
    "darwin/arm64": "aarch64-apple-darwin",
    "darwin/amd64": "x86_64-apple-darwin",
    "windows/amd64": "x86_64-pc-windows-msvc",
}
_MARKER_ENV = {
    "linux/amd64": {"sys_platform": "linux", "platform_system": "Linux", "platform_machine": "x86_64",
                    "os_name": "posix"},
    "linux/arm64": {"sys_platform": "linux", "platform_system": "Linux", "platform_machine": "aarch64",
                    "os_name": "posix"},
    "darwin/arm64": {"sys_platform": "darwin", "platform_system": "Darwin", "platform_machine": "arm64",
                     "os_name": "posix"},
    "darwin/amd64": {"sys_platform": "darwin", "platform_system": "Darwin", "platform_machine": "x86_64",
                     "os_name": "posix"},
    "windows/amd64": {"sys_platform": "win32", "platform_system": "Windows", "platform_machine": "AMD64",
                      "os_name": "nt"},
}


@dataclass(frozen=True)
class LockOptions:
    """What to lock for and with which backend. `env` replaces os.environ for the backend."""

    backend: str = "pip-tools"
    python_version: str | None = None  # "3.11"; None: the running interpreter's
    platform: str | None = None  # "linux/amd64"; None: the running machine's
    pylock: bool = False
    upgrade: bool = False  # ignore the existing lock's pins as preferences
    env: Mapping[str, str] | None = None
    timeout: float = 1800.0
    allow_build: bool = False  # let the resolver build VCS / sdist requirements (depslim.builds)


@dataclass(frozen=True)
class Pin:
    """One fully pinned, hashed entry of a lock."""

    name: str  # canonical
    requirement: str  # "numpy==1.26.4" or "pkg @ https://…"
    version: str | None
    hashes: tuple[str, ...]
    via: tuple[str, ...] = ()
    extras: tuple[str, ...] = ()  # canonical, sorted; part of `requirement` too

    @property
    def constraint(self) -> str:
        """The pin as a constraints-file line: pip refuses extras in constraints."""
        return f"{self.name} @ {self.requirement.split(' @ ', 1)[1]}" if self.version is None else \
            f"{self.name}=={self.version}"


@dataclass(frozen=True)
class InputSpec:
    """The normalised inputs of one lock: carried option lines, requirements, files read."""

    root: Path
    options: tuple[str, ...]
    requirements: tuple[tuple[Requirement, str, int], ...]  # (req, relative file, line)
    normalized: str  # canonical text the inputs digest is taken over
    warnings: tuple[str, ...] = ()  # e.g. a literal credential that the lock masks

    @property
    def digest(self) -> str:
        import hashlib

        return hashlib.sha256(self.normalized.encode()).hexdigest()


@dataclass(frozen=True)
class LockResult:
    """A computed lock, not yet written."""

    input: Path
    output: Path
    pins: tuple[Pin, ...]
    text: str
    inputs_digest: str
    python_version: str
    platform: str
    backend: str
    pylock_path: Path | None = None
    pylock_text: str | None = None
    warnings: tuple[str, ...] = field(default=())


# --------------------------------------------------------------------------- targets


def running_platform() -> str:
    """The docker-style platform of this machine (linux/amd64, darwin/arm64, …)."""
    if hasattr(os, "uname"):  # not the `platform` module: its import is a measurable share of start-up
        system, machine = os.uname().sysname.lower(), os.uname().machine.lower()
    else:  # Windows
        import platform

        system, machine = "windows", platform.machine().lower()
    return f"{system}/{docker_arch(machine)}"


def running_python() -> str:
    return f"{sys.version_info.major}.{sys.version_info.minor}"


def resolve_target(options: LockOptions) -> tuple[str, str]:
    """(python, platform) to lock for; pip-tools can only lock for the interpreter it runs in."""
    python = options.python_version or running_python()
    plat = options.platform or running_platform()
    if not re.fullmatch(r"3\.\d+", python):
        raise InputError("--python", f"expected a version like 3.11, got {python!r}")
    if options.backend not in BACKENDS:
        raise InputError("--backend", f"unknown backend {options.backend!r} (choose {' or '.join(BACKENDS)})")
    if options.backend == "pip-tools" and (python != running_python() or plat != running_platform()):
        raise LockError(
            f"pip-tools can only lock for the running interpreter ({running_python()} on "
            f"{running_platform()}), not Python {python} on {plat}",
            hint="use --backend uv to lock for another Python or platform",
        )
    return python, plat


def uv_platform(plat: str) -> str:
    if plat in UV_PLATFORMS:
        return UV_PLATFORMS[plat]
    if "/" in plat:
        raise InputError("--platform", f"no uv target known for {plat!r}; pass a uv triple such as "
                         "x86_64-manylinux_2_28")
    return plat


# --------------------------------------------------------------------------- inputs


def default_output(path: Path) -> Path:
    """requirements-base.txt → requirements-base.lock.txt (and `x.in` → `x.lock.txt`)."""
    stem = path.name.removesuffix(".txt").removesuffix(".in")
    return path.with_name(f"{stem}.lock.txt")


def check_inputs(root: Path) -> list[Path]:
    """The inputs `lock --check` (and `check --lock-fresh`) checks when none is named.

    requirements-base.txt always (what ships: its lock must exist and match), and
    requirements-dev.txt only when its lock exists: the documented flow is `depslim split`, then
    `depslim lock requirements-base.txt`, and a dev file nobody chose to lock is not a stale lock.
    An input named on the command line is checked strictly, lock or not."""
    base, dev = root / "requirements-base.txt", root / "requirements-dev.txt"
    if not base.is_file():
        raise InputError(base, "no such file (run `depslim split` first, or name the inputs)")
    return [base] + ([dev] if dev.is_file() and default_output(dev).is_file() else [])


def default_pylock(path: Path) -> Path:
    """requirements-base.txt → pylock.toml; requirements-dev.txt → pylock.dev.toml (PEP 751 names)."""
    stem = path.name.removesuffix(".txt").removesuffix(".in")
    stem = stem.removeprefix("requirements-").removeprefix("requirements")
    if stem in ("", "base"):
        return path.with_name("pylock.toml")
    return path.with_name(f"pylock.{re.sub(r'[^A-Za-z0-9_-]', '-', stem.strip('-_.'))}.toml")


def _logical_lines(text: str) -> list[tuple[int, str]]:
    """pip's requirements-file lines: join `\\` continuations, then strip comments."""
    out: list[tuple[int, str]] = []
    buf, start = "", 0
    for number, raw in enumerate(text.splitlines(), 1):
        if not buf:
            start = number
        if raw.endswith("\\") and not re.search(r"(^|\s)#", raw):
            buf += raw[:-1] + " "
            continue
        line = re.sub(r"(^|\s+)#.*$", "", buf + raw).strip()
        buf = ""
        if line:
            out.append((start, line))
    if buf.strip():
        out.append((start, buf.strip()))
    return out


def _split_option(line: str) -> tuple[str, str]:
    """`--opt=value`, `--opt value`, `-r file` or `-rfile` → (option, value)."""
    if line.startswith("--"):
        match = re.match(r"(--[A-Za-z-]+)(?:\s*=\s*|\s+|$)(.*)$", line)
        if match:
            return match.group(1), match.group(2).strip()
        return line, ""
    return line[:2], line[2:].strip()


# patterns as strings, compiled (and cached) by `re` on first use: not at import, before the resolver starts
_LOCAL = r"^(\.{1,2}[/\\]|/|~|[A-Za-z]:[/\\]|file:)"


def read_inputs(path: Path) -> InputSpec:
    """Read an input file and what it includes; refuse what cannot be hash-locked."""
    from depslim.declared.base import parse_requirement
    from depslim.redact import has_literal_credential, literal_credential_note

    root = path.parent.resolve()
    options: list[str] = []
    reqs: list[tuple[Requirement, str, int]] = []
    norm: list[str] = []
    seen: set[Path] = set()
    warnings: list[str] = []

    def visit(file: Path, constraint: bool) -> None:
        resolved = file.resolve()
        if resolved in seen:
            return
        seen.add(resolved)
        rel = os.path.relpath(resolved, root)
        try:
            text = decode_text(read_bytes(resolved))
        except (OSError, UnicodeDecodeError) as exc:
            raise InputError(rel, f"cannot read: {exc.strerror if isinstance(exc, OSError) else exc}") from None
        norm.append(f"{'-c' if constraint else '-r'} {rel}")
        file_reqs: list[str] = []
        for number, line in _logical_lines(text):
            if has_literal_credential(line):
                warnings.append(literal_credential_note(f"{rel}:{number}"))
            if line.startswith("-"):
                option, value = _split_option(line)
                if option in ("-e", "--editable"):
                    raise InputError(rel, f"editable requirement {value!r} cannot be hash-locked; "
                                     "keep editables out of the lock input (install them separately)", number)
                if option in _NESTED:
                    if not value:
                        raise InputError(rel, f"{option} needs a file name", number)
                    visit(resolved.parent / value, constraint or _NESTED[option] == "-c")
                    continue
                if option not in _CARRIED:
                    raise InputError(rel, f"unsupported option {option!r} in a lock input", number)
                carried = _CARRIED[option] if option in _FLAGS else f"{_CARRIED[option]} {value}"
                if _CARRIED[option] == "--find-links" and re.match(_LOCAL, value) and not value.startswith("file:"):
                    # relative find-links dirs stay relative to the lock's directory
                    carried = f"--find-links {os.path.relpath(resolved.parent / value, root)}"
                if carried not in options:
                    options.append(carried)
                norm.append(carried)
                continue
            line_req = re.sub(r"\s--hash[=\s]\S+", "", line).strip()
            if re.match(_LOCAL, line_req):
                raise InputError(rel, f"local path {line_req!r} cannot go into a portable hash-pinned lock; "
                                 "publish it to an index or install it separately", number)
            req = parse_requirement(line_req, rel, number)
            if req.url and req.url.startswith("file:"):
                raise InputError(rel, f"local path {req.url!r} cannot go into a portable hash-pinned lock; "
                                 "publish it to an index or install it separately", number)
            file_reqs.append(str(req))
            if not constraint:
                reqs.append((req, rel, number))
        norm.extend(sorted(file_reqs))

    if not path.is_file():
        raise InputError(path, "no such file (run `depslim split` first, or name the inputs)")
    visit(path, False)
    return InputSpec(root=root, options=tuple(options), requirements=tuple(reqs), normalized="\n".join(norm),
                     warnings=tuple(warnings))


def inputs_digest(spec: InputSpec, python: str, plat: str) -> str:
    """Digest of the normalised inputs and the target: what `--check` compares."""
    import hashlib  # not at the top: loading OpenSSL is start-up time spent before the resolver starts

    blob = f"{spec.normalized}\npython={python}\nplatform={plat}\n"
    return hashlib.sha256(blob.encode()).hexdigest()


# --------------------------------------------------------------------------- backends


def find_uv() -> str:
    found = shutil.which("uv")
    if found:
        return found
    try:
        from uv import find_uv_bin

        return str(find_uv_bin())
    except (ImportError, FileNotFoundError):
        raise LockError("uv is not installed; install it (pip install uv) or use --backend pip-tools") from None


def backend_command(backend: str, input_name: str, out: Path, python: str, plat: str) -> list[str]:
    """The real resolver command line; output goes to a private temporary file.

    Extras stay on the pins (`pandas[parquet]==3.1.1`): pip before 23.3 rejects, under
    --require-hashes, a dependency asking for a package with extras (`pandas[parquet]>=1.3`) unless the
    lock pins it with those extras — a slim image build failed on exactly that."""
    if backend == "uv":
        return [
            find_uv(), "pip", "compile", "--quiet", "--generate-hashes", "--no-strip-extras",
            "--python-version", python, "--python-platform", uv_platform(plat),
            "--no-header", "--annotation-style", "line", "--custom-compile-command", COMPILE_COMMAND,
            "--output-file", str(out), input_name,
        ]
    return [
        # not --quiet: pip's retry warnings are how an unreachable index shows up in stderr
        sys.executable, "-m", "piptools", "compile", "--generate-hashes", "--allow-unsafe",
        "--no-strip-extras", "--no-header", "--annotation-style", "line",
        "--no-emit-index-url", "--no-emit-trusted-host", "--no-emit-find-links",
        "--output-file", str(out), input_name,
    ]


_UNREACHABLE = ("NewConnectionError", "Connection refused", "Failed to establish", "Max retries exceeded",
                "error sending request", "dns error", "Name or service not known", "timed out",
                "Failed to fetch", "ConnectionError")


def _failure_line(backend: str, stderr: str) -> str:
    from depslim.redact import redact  # error messages echo the expanded index URL

    lines = [ln.strip() for ln in stderr.splitlines() if ln.strip()]
    # pip prints "ERROR: Ignored the following versions that require a different python version"
    # before the real reason ("Could not find a version that satisfies ..."): the reason comes first
    picks = [ln for ln in lines if ln.startswith(("ERROR:", "error:", "×", "Could not find", "No matching"))
             and not ln.startswith("ERROR: Ignored the following")]
    reasons = [ln for ln in picks if "Could not find" in ln or "No matching" in ln or "ResolutionImpossible" in ln]
    picks = reasons + [ln for ln in picks if ln not in reasons]
    line = picks[0] if picks else (lines[-1] if lines else "no output")
    causes = [ln for ln in lines if ln.startswith(("cause:", "Caused by:", "╰─▶"))]
    if causes and line.startswith(("error:", "×")):  # uv states the reason on the next line
        line = f"{line.rstrip(':')}: {causes[-1].split(':', 1)[-1].split('▶', 1)[-1].strip()}"
    if any(marker in stderr for marker in _UNREACHABLE):
        urls = re.findall(r"https?://[^\s'\"`)>]+", stderr)
        where = f" ({urls[0]})" if urls else ""
        return redact(f"index unreachable{where}: {line}")
    return redact(line)


class BackendRun:
    """A resolver started in a private temp dir; `result()` waits for it and returns its output.

    Starting and waiting are separate so the caller can do its own work (read and validate the
    inputs) while the resolver runs, instead of before it. `cancel()` stops it (e.g. when the
    inputs turn out to be bad); either way the temp dir is removed.

    On POSIX the resolver runs under `depslim.generate.watchdog`, which owns the temp dir and holds
    a lifeline only this process writes: however depslim ends (even SIGKILL), the kernel closes the
    lifeline, the watchdog kills the resolver's process group and removes the folder. The resolver
    also gets SIGKILL if the watchdog dies (Linux `PR_SET_PDEATHSIG`).
    """

    def __init__(self, backend: str, input_path: Path, python: str, plat: str, *, previous: str | None,
                 options: LockOptions, constraints: Sequence[Pin] = ()) -> None:
        import json

        from depslim.fsio import remove_stale_folders
        from depslim.generate import watchdog

        remove_stale_folders(tempfile.gettempdir(), "depslim-lock-")  # a watchdog killed along with depslim
        self._stopped = False
        self.backend, self.input_path, self.timeout = backend, input_path, options.timeout
        env = dict(options.env if options.env is not None else os.environ)
        env["CUSTOM_COMPILE_COMMAND"] = COMPILE_COMMAND  # pip-tools reads its header command from here
        files: dict[str, str] = {}
        if previous is not None and not options.upgrade:
            files["out.txt"] = previous  # existing pins are preferences for both tools
        cmd = backend_command(backend, input_path.name, Path(watchdog.TMP) / "out.txt", python, plat)
        if constraints:  # e.g. the base lock's pins when locking the dev file that includes it
            files["constraints.txt"] = "".join(f"{p.constraint}\n" for p in constraints)
            cmd[-1:-1] = ["--constraint", str(Path(watchdog.TMP) / "constraints.txt")]
        if shutil.which(cmd[0]) is None:
            raise LockError(f"{backend} could not be started: No such file or directory: {cmd[0]}")
        status_r, status_w = os.pipe()
        life_r, self._lifeline = os.pipe()
        try:
            self._proc = subprocess.Popen(
                [sys.executable, "-I", "-S", watchdog.__file__, str(status_w), str(life_r)],
                cwd=input_path.parent, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                stderr=subprocess.PIPE, pass_fds=(status_w, life_r), text=True,
            )
        except BaseException:
            for fd in (status_r, self._lifeline):
                os.close(fd)
            raise
        finally:
            os.close(status_w)
            os.close(life_r)
        self._status = os.fdopen(status_r, "r", encoding="utf-8")
        self._deadline = time.monotonic() + options.timeout
        stdin = self._proc.stdin
        assert stdin is not None
        try:
            stdin.write(json.dumps({"argv": cmd, "files": files, "prefix": f"depslim-lock-{os.getpid()}-"}))
            stdin.close()
        except BrokenPipeError:  # the watchdog is gone already: result() reports what it said
            pass
        self._proc.stdin = None  # written and closed: communicate() must not touch it again

    def result(self) -> str:
        """Wait (within the timeout) and return the resolver's output text."""
        try:
            try:
                stdout, stderr = self._drain()
            except subprocess.TimeoutExpired:
                self._stop()
                raise LockError(f"{self.input_path.name}: {self.backend} did not finish within "
                                f"{self.timeout:.0f} s") from None
            except BaseException:  # e.g. Ctrl-C: do not leave the resolver running
                self._stop()
                raise
            folder, code = self._report()
            out = Path(folder) / "out.txt" if folder else None
            if code != 0 or out is None or not out.is_file():
                raise LockError(f"{self.input_path.name}: {self.backend} could not lock: "
                                f"{_failure_line(self.backend, stderr + stdout)}")
            return out.read_text(encoding="utf-8")
        finally:
            self._stop()

    def _drain(self) -> tuple[str, str]:
        """Read the resolver's output to its end (not the watchdog's exit: it waits for the lifeline).

        `communicate()` would also wait for the watchdog to exit, which it only does once depslim
        closes the lifeline after this read: a deadlock.
        """
        import selectors

        streams = {s.fileno(): s for s in (self._proc.stdout, self._proc.stderr) if s is not None}
        chunks: dict[int, list[bytes]] = {fd: [] for fd in streams}
        with selectors.DefaultSelector() as sel:
            for fd in streams:
                sel.register(fd, selectors.EVENT_READ)
            while sel.get_map():
                left = self._deadline - time.monotonic()
                if left <= 0:
                    raise subprocess.TimeoutExpired(self.backend, self.timeout)
                for key, _ in sel.select(timeout=left):
                    data = os.read(key.fd, 65536)
                    if data:
                        chunks[key.fd].append(data)
                    else:
                        sel.unregister(key.fd)
        out, err = (b"".join(chunks[s.fileno()]).decode("utf-8", "replace") if s is not None else ""
                    for s in (self._proc.stdout, self._proc.stderr))
        return out, err

    def cancel(self) -> None:
        """Stop the resolver and remove its temp dir."""
        self._stop()

    def _report(self) -> tuple[str | None, int | None]:
        """The watchdog's status: its folder, and the resolver's exit code (None: it never said)."""
        folder, code = None, None
        for line in self._status:
            kind, _, value = line.rstrip("\n").partition(" ")
            if kind == "tmp":
                folder = value
            elif kind == "exit":
                code = int(value)
                break
        return folder, code

    def _stop(self) -> None:
        """Close the lifeline: the watchdog kills the resolver (if it still runs) and removes the folder."""
        if self._stopped:
            return
        self._stopped = True
        os.close(self._lifeline)
        try:
            self._proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:  # a watchdog that does not end: end it (its folder may stay)
            self._proc.kill()
            self._proc.communicate()
        self._status.close()


# --------------------------------------------------------------------------- parse & render


def parse_compiled(text: str, source: str) -> tuple[Pin, ...]:
    """Pins from a pip-compile / uv / depslim lock; every entry must be pinned and hashed."""
    from packaging.requirements import InvalidRequirement, Requirement
    from packaging.utils import canonicalize_name

    pins: dict[str, Pin] = {}
    current: str | None = None
    joined: list[str] = []
    buf: list[str] = []  # pieces of a continued line (a list: a pin's dozens of hash lines, joined once)
    for raw in text.splitlines():  # join continuations, keep comment lines for "# via"
        trimmed = raw.rstrip()
        if trimmed.endswith("\\"):
            buf += (trimmed[:-1], " ")
            continue
        buf.append(raw)
        joined.append("".join(buf))
        buf.clear()
    for line in joined:
        stripped = line.strip()
        if not stripped:
            continue
        if stripped.startswith("#"):
            via = re.match(r"#\s*via\s*(.*)$", stripped)
            cont = re.match(r"#\s{2,}(\S.*)$", stripped)
            if current and via:
                items = tuple(v.strip() for v in via.group(1).split(",") if v.strip())
                pins[current] = _with_via(pins[current], items)
            elif current and cont and pins[current].via is not None:
                pins[current] = _with_via(pins[current], (cont.group(1).strip(),))
            continue
        if stripped.startswith("-"):
            current = None
            continue
        hashes = tuple(sorted(re.findall(r"--hash[=\s](\S+)", stripped)))
        req_text = re.sub(r"\s*--hash[=\s]\S+", "", stripped).split(" #", 1)[0].strip()
        try:
            req = Requirement(req_text)
        except (InvalidRequirement, SyntaxError) as exc:  # SyntaxError: an unterminated marker string
            raise LockError(f"{source}: unexpected line from the resolver: {req_text!r} ({exc})") from None
        name = canonicalize_name(req.name)
        specs = list(req.specifier)
        if req.url:
            version = None
        elif len(specs) == 1 and specs[0].operator in ("==", "==="):
            version = specs[0].version
        else:
            raise LockError(f"{source}: {req_text!r} is not pinned with ==")
        if not hashes:
            raise LockError(f"{source}: {req_text!r} has no hashes")
        # the extras a dependent asks for stay on the pin (`pandas[parquet]==2.3.1`): pip's
        # --require-hashes refuses an extra that is not on a pinned line
        extras = sorted({*(canonicalize_name(e) for e in req.extras), *(pins[name].extras if name in pins else ())})
        shown = f"{name}[{','.join(extras)}]" if extras else name
        requirement = f"{shown} @ {req.url}" if req.url else f"{shown}=={version}"
        pins[name] = Pin(name, requirement, version, hashes, extras=tuple(extras))
        current = name
    return tuple(pins[k] for k in sorted(pins))


def _drop_temp_via(pin: Pin) -> Pin:
    """Remove `-c /tmp/.../constraints.txt` annotations: a private temp path means nothing in a lock."""
    via = tuple(v for v in pin.via if not (v.startswith(("-c ", "--constraint")) and "depslim-lock-" in v))
    return dataclasses.replace(pin, via=via)


def includes(spec: InputSpec, other: Path) -> bool:
    """True when `other` is read as part of `spec` (via -r), e.g. the dev file including the base."""
    rel = os.path.relpath(other.resolve(), spec.root)
    return f"-r {rel}" in spec.normalized.splitlines()[1:]


def _with_via(pin: Pin, items: tuple[str, ...]) -> Pin:
    return dataclasses.replace(pin, via=tuple(dict.fromkeys((*pin.via, *items))))


_HEADER_INPUTS = r"(?m)^# inputs sha256=([0-9a-f]{64})$"
_HEADER_TARGET = r"(?m)^# target: Python (\S+) on (\S+)"


def render_lock(spec: InputSpec, input_name: str, pins: Sequence[Pin], python: str, plat: str,
                backend: str, digest: str) -> str:
    """The depslim lock text (stamped): relative names only, option lines as the inputs wrote them."""
    flags = "" if backend == "pip-tools" else f" --backend {backend}"
    out = [
        f"# Hash-pinned lock of {input_name}, written by `depslim lock`; do not edit.",
        f"# target: Python {python} on {plat} (resolved with {backend})",
        f"# inputs sha256={digest}",
        f"# update: depslim lock{flags} --python-version {python} --platform {plat} {input_name}",
        f"# install: pip install --require-hashes -r {default_output(Path(input_name)).name}",
        "",
        *spec.options,
    ]
    if spec.options:
        out.append("")
    for pin in pins:
        # pip before 23.3 lets a dependency's plain `pandas<3` pick another release beside a pinned
        # `pandas[parquet]==2.3.1` and then refuses it under --require-hashes (the venv a slim image
        # builds in carries the interpreter's bundled pip): the plain pin first closes that door
        lines = [pin.constraint, pin.requirement] if pin.extras and pin.version is not None else [pin.requirement]
        for line in lines:
            out.append(line + " \\")
            out += [f"    --hash={h} \\" for h in pin.hashes[:-1]]
            out.append(f"    --hash={pin.hashes[-1]}")
        if pin.via:
            out.append(f"    # via {', '.join(pin.via)}")
    return stamp("\n".join(out) + "\n")


# --------------------------------------------------------------------------- the operation


def compute_lock(input_path: Path, output: Path | None = None, options: LockOptions = LockOptions(),
                 progress: Progress = NULL_PROGRESS, *, constraints: Sequence[Pin] = (),
                 spec: InputSpec | None = None) -> LockResult:
    """Resolve one input with the chosen backend and render the lock (nothing written).

    `constraints` are pins the result must agree with (the base lock's, when locking a dev file
    that includes the base), so one package never gets two versions across base and dev locks.
    `spec` is `read_inputs(input_path)` when the caller already has it.

    The resolver starts first and the inputs are read and validated while it runs (it only
    needs the file's name); a bad input stops it and raises the same error as before, and a bad
    target or an error starting the resolver is raised only after the inputs were found valid,
    as if they were read first.
    """
    def inputs_first() -> None:  # a bad input is reported before a target or backend problem
        if spec is None:
            read_inputs(input_path)

    try:
        python, plat = resolve_target(options)
    except Exception:
        inputs_first()
        raise
    output = output or default_output(input_path)
    previous = None
    if output.is_file():
        with _suppress_decode():
            text = read_text(output)
            previous = split_stamp(text)[1] if is_intact(text) else None
    if not input_path.is_file():
        inputs_first()  # raises the usual "no such file"; nothing to start a resolver on
    if not options.allow_build:
        from depslim.builds import refuse_builds, suspect

        if suspect(input_path):  # before the resolver starts: it would build at once
            if spec is None:
                spec = read_inputs(input_path)  # a local path or editable: the lock's own refusal first
            refuse_builds(input_path)
    try:
        run = BackendRun(options.backend, input_path, python, plat, previous=previous, options=options,
                         constraints=constraints)
    except Exception:
        inputs_first()
        raise
    try:
        if spec is None:
            spec = read_inputs(input_path)
        digest = inputs_digest(spec, python, plat)  # also while the resolver runs
        if options.pylock:  # its imports (urllib, ssl, http) too
            from depslim.generate.pylock import render_pylock
    except BaseException:
        run.cancel()
        raise
    key = f"lock:{input_path.name}"
    progress.start(key, f"locking {input_path.name} with {options.backend}", None)
    try:
        raw = run.result()
    finally:
        progress.finish(key)
    pins = tuple(_drop_temp_via(p) for p in parse_compiled(raw, f"{input_path.name} ({options.backend} output)"))
    if not pins:
        raise LockError(f"{input_path.name}: nothing to lock (no requirements)")
    text = render_lock(spec, input_path.name, pins, python, plat, options.backend, digest)
    pylock_path = pylock_text = None
    if options.pylock:
        pylock_path = default_pylock(input_path)
        pylock_text = render_pylock(pins, spec, python, plat, env=options.env)
    return LockResult(input_path, output, pins, text, digest, python, plat, options.backend,
                      pylock_path, pylock_text, spec.warnings)


class _suppress_decode:
    def __enter__(self) -> None:
        return None

    def __exit__(self, exc_type: object, exc: object, tb: object) -> bool:
        return isinstance(exc, (OSError, UnicodeDecodeError))


def write_lock(result: LockResult, *, force: bool = False) -> list[Path]:
    """Replace the lock (and pylock) atomically, as one change (a kill never leaves a new lock
    beside an old pylock.toml); refuse hand-edited or foreign files without force."""
    from depslim.fsio import atomic_write_all

    targets = [(result.output, result.text)]
    if result.pylock_path is not None and result.pylock_text is not None:
        targets.append((result.pylock_path, result.pylock_text))
    for path, text in targets:
        check_overwrite(path, text, force=force)
    return atomic_write_all(targets)


def check_lock(input_path: Path, output: Path | None = None, options: LockOptions = LockOptions()) -> list[str]:
    """Why the lock is stale against its inputs (empty list: fresh). No resolver runs."""
    from packaging.markers import InvalidMarker, UndefinedEnvironmentName
    from packaging.utils import canonicalize_name

    output = output or default_output(input_path)
    if not output.is_file():
        return [f"{output}: missing (run `depslim lock`)"]
    text = read_text(output)
    if not is_intact(text):
        return [f"{output}: edited by hand or not written by depslim (stamp does not match)"]
    target = re.search(_HEADER_TARGET, text)
    recorded = re.search(_HEADER_INPUTS, text)
    python = options.python_version or (target.group(1) if target else running_python())
    plat = options.platform or (target.group(2) if target else running_platform())
    spec = read_inputs(input_path)
    problems: list[str] = []
    if recorded is None or recorded.group(1) != inputs_digest(spec, python, plat):
        problems.append(f"{output}: stale: {input_path.name} (or what it includes) or the target "
                        f"(Python {python} on {plat}) changed since the lock was written")
    pins = {p.name: p for p in parse_compiled(split_stamp(text)[1], str(output))}
    env = _marker_env(python, plat)
    for req, rel, line in spec.requirements:
        if req.marker is not None:
            try:
                if not req.marker.evaluate(env):
                    continue
            except (InvalidMarker, UndefinedEnvironmentName):
                pass
        pin = pins.get(canonicalize_name(req.name))
        if pin is None:
            problems.append(f"{output}: {req.name} ({rel}:{line}) is not in the lock")
        elif pin.version is not None and req.specifier and not req.specifier.contains(pin.version, prereleases=True):
            problems.append(f"{output}: pinned {pin.requirement} does not satisfy {req} ({rel}:{line})")
    return problems


def _marker_env(python: str, plat: str) -> dict[str, str]:
    env = dict(_MARKER_ENV.get(plat, {}))
    env.update({"python_version": python, "python_full_version": f"{python}.0",
                "implementation_name": "cpython", "platform_python_implementation": "CPython"})
    return env
