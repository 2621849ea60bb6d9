"""The real-engine test parts shared by the Docker tests: the engine check (a failure, never a skip,
under CI=true), the local base image, and real wheels from the package index served on 127.0.0.1.

Real wheels, not built ones, where the test proves a real service: scikit-learn unpickling a real
model, uvicorn serving a real FastAPI app. They are downloaded once per machine by the host's pip
(its configured index) into a cache keyed by the requirements, and served to builds and resolvers
from a local PEP 503 index (`tests/pyindex.py`): no container ever reaches a registry.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

BASE = os.environ.get("DEPSLIM_TEST_BASE", "depslim-test-base:bookworm")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def engine_problem() -> str | None:
    if shutil.which("docker") is None:
        return "docker CLI not installed (run .ci/docker-setup)"
    probe = subprocess.run(["docker", "info"], capture_output=True, text=True)
    if probe.returncode != 0:
        return f"Docker engine not reachable: {probe.stderr.strip()[:200]}"
    if subprocess.run(["docker", "image", "inspect", BASE], capture_output=True).returncode != 0:
        return f"base image {BASE} missing (run .ci/docker-setup)"
    return None


def require_engine() -> None:
    problem = engine_problem()
    if problem:
        if IN_CI:
            pytest.fail(f"CI=true but {problem}")
        pytest.skip(problem)


def docker(*args: str, timeout: float = 1800) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["docker", *args], check=True, capture_output=True, text=True, timeout=timeout)


def base_python_version() -> str:
    """The full Python version of the local base (pip picks wheels by Requires-Python against it)."""
    out = docker("run", "--rm", "--network", "none", BASE, "python3", "-c",
                 "import platform; print(platform.python_version())")
    return out.stdout.strip()


def real_wheels(requirements: Path, python_version: str) -> Path:
    """Every wheel `requirements` needs on the base's Python, downloaded once per machine."""
    text = requirements.read_bytes()
    key = hashlib.sha256(text + python_version.encode()).hexdigest()[:16]
    root = Path(os.environ.get("DEPSLIM_TEST_WHEELS") or Path.home() / ".cache" / "depslim-tests" / "wheels")
    done = root / key / ".complete"
    if done.is_file():
        return done.parent
    target = root / key
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    result = subprocess.run(
        [sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check", "--only-binary=:all:",
         "--python-version", python_version, "-d", str(target), "-r", str(requirements)],
        capture_output=True, text=True, timeout=1800,
    )
    if result.returncode != 0:
        message = f"could not download the example's wheels: {result.stderr.strip()[-400:]}"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    done.write_text("ok\n")
    return target
