"""The container engine `depslim verify` builds and runs with: the `docker` CLI at `DOCKER_HOST`.

The CLI, not the Engine API, because it is what users build with: it drives BuildKit or the
legacy builder alike, follows contexts and `DOCKER_HOST` (ssh, tcp, unix), and reads the
`.dockerignore`. Every call has a timeout; every container gets a unique name and is removed
in a `finally`, so an interrupted run leaves nothing behind. Output shown to the user goes
through `depslim.redact` (build logs echo index URLs and build args).
"""

from __future__ import annotations

import os
import queue
import secrets
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

from depslim.errors import TargetError
from depslim.redact import redact


class EngineError(TargetError):
    """No engine answers, or it refused a request: bad input for `verify` (exit 2)."""


@dataclass(frozen=True)
class Limits:
    """What a verification container may use."""

    memory: str = "4g"
    cpus: str = "2"
    pids: int = 1024
    tmpfs_size: str = "512m"


@dataclass(frozen=True)
class BuildResult:
    ok: bool
    seconds: float
    log_tail: tuple[str, ...]


@dataclass(frozen=True)
class RunResult:
    returncode: int
    stdout: str
    stderr: str
    seconds: float
    timed_out: bool = False


# The docker CLI's own notices, not the build's: never what a user needs to see about a failure.
_NOISE = ("DEPRECATED: The legacy builder", "Install the buildx component", "https://docs.docker.com/go/buildx",
          "Sending build context", "WARNING: Running pip as the 'root' user")


def _tail(text: str, lines: int = 12) -> tuple[str, ...]:
    kept = [line.rstrip() for line in text.strip().splitlines()
            if line.strip() and not any(noise in line for noise in _NOISE)]
    return tuple(redact(line) for line in kept[-lines:])


class Engine:
    """A thin, typed wrapper over the docker CLI."""

    def __init__(self, docker: str | None = None, env: Mapping[str, str] | None = None) -> None:
        self.docker = docker or shutil.which("docker") or ""
        self.env = dict(env if env is not None else os.environ)

    def _run(self, args: Sequence[str], timeout: float, stdin: bytes | None = None) -> subprocess.CompletedProcess[str]:
        try:
            return subprocess.run([self.docker, *args], capture_output=True, text=True, timeout=timeout,
                                  env=self.env, input=None if stdin is None else stdin.decode())
        except FileNotFoundError:
            raise EngineError("the docker CLI is not installed (needed to build and run the image)") from None

    def check(self) -> str:
        """The engine's version; EngineError when no engine answers at DOCKER_HOST."""
        if not self.docker:
            raise EngineError("the docker CLI is not installed (needed to build and run the image)")
        where = self.env.get("DOCKER_HOST") or "the default socket"
        try:
            done = self._run(["version", "--format", "{{.Server.Version}}"], timeout=30)
        except subprocess.TimeoutExpired:
            raise EngineError(f"no Docker engine answered at {redact(where)} within 30 s") from None
        if done.returncode != 0 or not done.stdout.strip():
            reason = redact((done.stderr.strip().splitlines() or ["no answer"])[-1])
            raise EngineError(f"no Docker engine answers at {redact(where)}: {reason}")
        return done.stdout.strip()

    def build(self, context: Path, dockerfile: Path, tag: str, *, build_args: Mapping[str, str] | None = None,
              network: str | None = None, timeout: float = 3600) -> BuildResult:
        args = ["build", "-f", str(dockerfile), "-t", tag]
        for key, value in (build_args or {}).items():
            args += ["--build-arg", f"{key}={value}"]
        if network:
            args += ["--network", network]
        args.append(str(context))
        started = time.monotonic()
        try:
            done = self._run(args, timeout)
        except subprocess.TimeoutExpired:
            return BuildResult(False, time.monotonic() - started, (f"the build did not finish within {timeout:.0f} s",))
        output = done.stdout + "\n" + done.stderr
        return BuildResult(done.returncode == 0, time.monotonic() - started, _tail(output))

    def run(self, image: str, argv: Sequence[str], *, entrypoint: str | None = None, user: str | None = None,
            limits: Limits = Limits(), timeout: float = 600, env: Mapping[str, str] | None = None) -> RunResult:
        """`docker run` in the verification sandbox: no network, read-only root, a tmpfs /tmp,
        no capabilities, no privilege escalation, memory/CPU/PID limits; removed afterwards."""
        name = f"depslim-verify-{secrets.token_hex(6)}"
        args = ["run", "--name", name, *self.sandbox(limits, user, entrypoint, env), image, *argv]
        started = time.monotonic()
        try:
            done = self._run(args, timeout)
            return RunResult(done.returncode, done.stdout, done.stderr, time.monotonic() - started)
        except subprocess.TimeoutExpired as exc:
            out = exc.stdout.decode() if isinstance(exc.stdout, bytes) else (exc.stdout or "")
            return RunResult(-1, out, "", time.monotonic() - started, timed_out=True)
        finally:
            self.remove_container(name)

    @staticmethod
    def sandbox(limits: Limits, user: str | None, entrypoint: str | None, env: Mapping[str, str] | None) -> list[str]:
        args = ["--network", "none", "--read-only", "--tmpfs", f"/tmp:rw,exec,size={limits.tmpfs_size}",
                "--cap-drop", "ALL", "--security-opt", "no-new-privileges", "--memory", limits.memory,
                "--memory-swap", limits.memory, "--cpus", limits.cpus, "--pids-limit", str(limits.pids)]
        if user:
            args += ["--user", user]
        if entrypoint is not None:
            args += ["--entrypoint", entrypoint]
        for key, value in (env or {}).items():
            args += ["-e", f"{key}={value}"]
        return args

    @contextmanager
    def created(self, image: str, argv: Sequence[str], *, entrypoint: str | None, user: str | None,
                limits: Limits) -> Iterator[str]:
        """A created (not started) sandboxed container, removed on exit: `start` is timed apart."""
        name = f"depslim-verify-{secrets.token_hex(6)}"
        done = self._run(["create", "--name", name, *self.sandbox(limits, user, entrypoint, None), image, *argv],
                         timeout=120)
        if done.returncode != 0:
            self.remove_container(name)
            raise EngineError(f"{image}: the engine could not create a container: "
                              f"{redact((done.stderr.strip().splitlines() or ['?'])[-1])}")
        try:
            yield name
        finally:
            self.remove_container(name)

    def start_attached(self, name: str, timeout: float) -> tuple[str, float]:
        """Start a created container attached; return (its first output line, seconds from the start
        call to that line). Reading the line as it arrives is what makes this a cold-start clock."""
        lines: queue.Queue[str] = queue.Queue()
        started = time.monotonic()
        proc = subprocess.Popen([self.docker, "start", "-a", name], stdout=subprocess.PIPE,
                                stderr=subprocess.DEVNULL, text=True, env=self.env)

        def read() -> None:
            assert proc.stdout is not None
            for raw in proc.stdout:
                if raw.strip():
                    lines.put(raw.strip())
            lines.put("")

        threading.Thread(target=read, daemon=True).start()
        try:
            try:
                line = lines.get(timeout=timeout)
            except queue.Empty:
                line = ""
            return line, time.monotonic() - started
        finally:
            self._run(["kill", name], timeout=30)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()

    def remove_container(self, name: str) -> None:
        with suppress(subprocess.TimeoutExpired, EngineError):
            self._run(["rm", "-f", name], timeout=60)

    def remove_image(self, tag: str) -> None:
        with suppress(subprocess.TimeoutExpired, EngineError):
            self._run(["rmi", "-f", tag], timeout=120)
