"""`depslim diff --git` on a real repository the test builds, measured in a real venv.

Base: requests only. Head: adds CUDA torch (with an nvidia-cublas-cu12 dependency) and jupyter
to requirements.txt and an `import torch` in src/pipeline/train.py:4. The wheels are small
real wheels with 1-2 MB of data so the byte deltas are real measurements.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import tarfile
from pathlib import Path

import pytest
from click.testing import CliRunner
from helpers import build_wheel, make_venv, pip_install

from depslim.cli import cli


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result.exit_code, result.output


def git(repo: Path, *args: str) -> str:
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com"}
    done = subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True, env=env)
    return done.stdout.strip()


_CACHE: dict[str, object] = {}


def shared_ml_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A venv of small real wheels named like the heavy ones (2 MB of data each), built once per session."""
    if "venv" in _CACHE:
        return _CACHE["venv"]  # type: ignore[return-value]
    root = tmp_path_factory.mktemp("mlenv")
    wheels = root / "wheels"
    blob = os.urandom(2_000_000)  # incompressible is irrelevant on disk; sizes are what RECORD lists
    build_wheel(wheels, "torch", "2.2.2", requires=["nvidia-cublas-cu12"],
                files={"torch/__init__.py": "VERSION = '2.2.2'\n", "torch/lib/libtorch_cpu.so": blob})
    build_wheel(wheels, "nvidia-cublas-cu12", "12.1.3.1", files={"nvidia/cublas/lib/libcublas.so.12": blob})
    build_wheel(wheels, "jupyter", "1.0.0", files={"jupyter.py": "", "jupyter_data/share.bin": blob[:1_000_000]})
    build_wheel(wheels, "requests", "2.31.0", files={"requests/__init__.py": "x = 1\n" * 1000})
    python = make_venv(root / "venv")
    pip_install(python, wheels, "torch", "jupyter", "requests")
    _CACHE["venv"] = python
    return python


def shared_repo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, str]:
    """Two commits: base uses requests only; head adds CUDA torch + jupyter and `import torch`."""
    if "repo" in _CACHE:
        return _CACHE["repo"]  # type: ignore[return-value]
    root = tmp_path_factory.mktemp("repo")
    git(root, "init", "-q", "-b", "main")
    (root / "src" / "pipeline").mkdir(parents=True)
    (root / "pyproject.toml").write_text(
        '[project]\nname = "pipeline"\nversion = "0.1"\ndynamic = ["dependencies"]\n'
        '[tool.setuptools.dynamic]\ndependencies = { file = ["requirements.txt"] }\n'
    )
    (root / "requirements.txt").write_text("requests==2.31.0\n")
    (root / "src" / "pipeline" / "__init__.py").write_text("")
    (root / "src" / "pipeline" / "fetch.py").write_text("import requests\n\n\ndef get(u):\n    return requests\n")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "base")
    base = git(root, "rev-parse", "HEAD")
    (root / "requirements.txt").write_text("requests==2.31.0\ntorch==2.2.2\njupyter==1.0.0\n")
    (root / "src" / "pipeline" / "train.py").write_text(
        '"""Training."""\n\nimport os\nimport torch\n\n\ndef main():\n    return torch, os\n'
    )
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "head: train with torch")
    head = git(root, "rev-parse", "HEAD")
    _CACHE["repo"] = (root, base, head)
    return root, base, head


def checkout(repo_root: Path, rev: str, dest: Path) -> Path:
    """A copy of one revision for `check` (the repository's working copy is left alone)."""
    data = subprocess.run(["git", "-C", str(repo_root), "archive", rev], check=True, capture_output=True).stdout
    dest.mkdir(parents=True)
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        tar.extractall(dest, filter="data")
    return dest


@pytest.fixture(scope="module")
def ml_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return shared_ml_venv(tmp_path_factory)


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, str]:
    return shared_repo(tmp_path_factory)


def test_diff_git_names_packages_with_deltas_and_evidence(repo: tuple[Path, str, str], ml_venv: Path) -> None:
    root, base, head = repo
    before = git(root, "status", "--porcelain")
    code, out = run("diff", "--git", "main~1..main", "--project", str(root), "--python", str(ml_venv),
                    "--format", "json")
    assert code == 0, out
    data = json.loads(out)
    deltas = {c["name"]: c["delta"] for c in data["changes"]}
    assert deltas["torch"] > 2_000_000 and deltas["jupyter"] > 1_000_000
    assert deltas["nvidia-cublas-cu12"] > 2_000_000
    assert "requests" not in deltas
    assert data["headline"].startswith("This PR adds ")
    assert "torch 2.2.2 (+CUDA)" in data["headline"]
    assert "via `import torch` in `src/pipeline/train.py:4`" in data["headline"]
    assert base[:12] in data["base"] and head[:12] in data["head"]
    # the working copy is untouched
    assert git(root, "status", "--porcelain") == before
    code, md = run("diff", "--git", "main~1..main", "--project", str(root), "--python", str(ml_venv),
                   "--format", "markdown", "--repository-url", "https://github.com/acme/pipeline")
    assert code == 0
    assert "> This PR adds" in md and "`jupyter`" in md
    assert f"https://github.com/acme/pipeline/blob/{head}/src/pipeline/train.py#L4" in md
    code, text = run("diff", "--git", "main~1..main", "--project", str(root), "--python", str(ml_venv))
    assert "torch (+CUDA)" in text and "jupyter" in text and "+2.00 MB" in text


def test_diff_git_bad_revision_exits_2(repo: tuple[Path, str, str]) -> None:
    root, _, _ = repo
    code, out = run("diff", "--git", "nope..main", "--project", str(root))
    assert code == 2 and "git rev-parse" in out
