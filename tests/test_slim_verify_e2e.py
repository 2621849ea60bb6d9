"""`depslim slim` then `depslim verify --build` on the bundled example, with the real engine.

The original image is the example's own Dockerfile and requirements (the notebook environment:
jupyter, mlflow, matplotlib, build-essential…) built on the local Debian base; `slim` analyses that
image and writes the slim one, `verify` builds it and proves it in sandboxed containers. Then a
deliberately wrong cut (scikit-learn, needed only because the model file is a pickled sklearn
pipeline) must fail verification, naming the module and the requirement to add back.

Everything is real: wheels from the package index served on 127.0.0.1, the engine's builds and
containers, the test's own `docker run` as ground truth for the user. Nothing skips under CI=true.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.engine import BASE, base_python_version, docker, real_wheels, require_engine
from tests.pyindex import Index, serve_index

pytestmark = pytest.mark.docker

EXAMPLE = Path(__file__).resolve().parents[1] / "fixtures" / "example"
ORIG = f"depslim-e2e-orig:{os.getpid()}"
ORIG_BASE = f"depslim-e2e-origbase:{os.getpid()}"
SLIM = f"depslim-e2e-slim:{os.getpid()}"
BROKEN = f"depslim-e2e-broken:{os.getpid()}"


def depslim(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "depslim", *args], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, cwd=cwd, timeout=1800)


@pytest.fixture(scope="module")
def index() -> Iterator[Index]:
    require_engine()
    wheels = real_wheels(EXAMPLE / "requirements.txt", base_python_version())
    with serve_index(wheels) as served:
        yield served


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory, index: Index) -> Iterator[Path]:
    """The example, with its original image built: the Dockerfile as written, its FROM pointed at
    the local base (no registry here) and pip pointed at the local index."""
    root = Path(shutil.copytree(EXAMPLE, tmp_path_factory.mktemp("slim-e2e") / "example"))
    base_ctx = tmp_path_factory.mktemp("origbase")
    (base_ctx / "Dockerfile").write_text(
        f"FROM {BASE}\nENV PIP_BREAK_SYSTEM_PACKAGES=1 PIP_INDEX_URL={index.url}\n")
    docker("build", "-q", "-t", ORIG_BASE, str(base_ctx))
    dockerfile = root / "Dockerfile"
    lines = dockerfile.read_text().splitlines()
    original_from = lines[0]
    dockerfile.write_text("\n".join([f"FROM {ORIG_BASE}", *lines[1:]]) + "\n")
    try:
        docker("build", "--network", "host", "-t", ORIG, str(root))
        dockerfile.write_text("\n".join([original_from, *lines[1:]]) + "\n")  # the project as the user has it
        yield root
    finally:
        for tag in (BROKEN, SLIM, ORIG, ORIG_BASE):
            subprocess.run(["docker", "rmi", "-f", tag], capture_output=True)


def _resolver_env(index: Index) -> dict[str, str]:
    # pip-compile and the wheel lookups see only the local index, as a private index in CI would be
    return {"PIP_INDEX_URL": index.url, "PIP_CONFIG_FILE": os.devnull, "PIP_EXTRA_INDEX_URL": "",
            "PIP_FIND_LINKS": "", "PIP_CONSTRAINT": ""}


@pytest.fixture(scope="module")
def slimmed(project: Path, index: Index) -> Path:
    result = depslim("slim", str(project), "--image", ORIG, "--base", BASE, env=_resolver_env(index))
    assert result.returncode == 0, result.stderr
    return project


def test_slim_writes_a_hash_pinned_non_root_image_from_the_evidence(slimmed: Path) -> None:
    requirements = (slimmed / "requirements-slim.txt").read_text()
    lines = {ln.split("==")[0].split("[")[0]: ln for ln in requirements.splitlines() if ln and ln[0].isalpha()}
    # the served code's needs, each with its reason
    assert set(lines) == {"fastapi", "joblib", "numpy", "pydantic", "scikit-learn", "uvicorn"}
    assert "pickled in models/churn.joblib" in lines["scikit-learn"]  # serve.py never imports sklearn
    assert "the entrypoint runs uvicorn" in lines["uvicorn"] and lines["uvicorn"].startswith("uvicorn[standard]==")
    # what only the training job reaches is cut, with its bytes measured in the original image
    assert re.search(r"^#   mlflow==\S+  \d", requirements, re.M)
    lock = (slimmed / "requirements-slim.lock.txt").read_text()
    pins = re.findall(r"^([A-Za-z0-9_.-]+)==", lock, re.M)
    assert "scikit-learn" in pins and "mlflow" not in pins and "jupyter" not in pins
    assert all(block.count("--hash=sha256:") for block in lock.split("==")[1:])
    dockerfile = (slimmed / "Dockerfile.depslim").read_text()
    assert "FROM depslim-test-base:bookworm AS builder" in dockerfile
    assert "--require-hashes" in dockerfile and "--no-cache-dir" in dockerfile
    final = dockerfile.split("\nFROM ", 2)[2]
    assert "USER app" in final and "build-essential" not in final and "gcc" not in final
    assert 'CMD ["uvicorn", "churn.serve:app", "--host", "0.0.0.0", "--port", "8080"]' in final
    assert "COPY models/churn.joblib /app/models/churn.joblib" in final
    assert "COPY src/churn /app/src/churn" in final and "notebooks" not in final
    assert "MLFLOW_TRACKING_URI" in final  # non-secret ENV of the original is carried
    explained = (slimmed / "depslim-slim.md").read_text()
    assert "## Base image" in explained and "--base depslim-test-base:bookworm" in explained
    ignore = (slimmed / ".dockerignore").read_text()
    assert ignore.startswith(".git\n__pycache__/\n")  # the user's lines, untouched and first
    assert "# >>> depslim slim" in ignore


def test_verify_builds_the_slim_image_and_proves_it(slimmed: Path, index: Index, tmp_path: Path) -> None:
    out = tmp_path / "verify.json"
    result = depslim("verify", str(slimmed), "--build", "--tag", SLIM, "--build-network", "host",
                     "--build-arg", f"PIP_INDEX_URL={index.url}", "--baseline", ORIG, "--runs", "2",
                     "--format", "json", "-o", str(out))
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(out.read_text())
    assert report["passed"] and report["breakages"] == 0
    checks = {(c["check"], c["target"]): c for c in report["checks"]}
    for module in ("churn", "churn.serve", "churn.features", "churn.schema"):
        assert checks[("import", module)]["ok"], module
    assert checks[("import", "sklearn")]["ok"]  # the implicit need from the model file
    assert checks[("model", "models/churn.joblib")]["ok"]  # every class its pickles name, in their order
    assert checks[("command", "uvicorn")]["ok"]
    assert ("import", "churn.train") not in checks  # not reached by the served command
    # smaller than the original, both measured the same way
    assert 0 < report["image"]["bytes"] < report["baseline"]["bytes"]
    assert report["image"]["cold_start"]["median_seconds"] > 0
    assert report["image"]["cold_start"]["mode"] == "port 8080"
    assert report["audit"]["rows"]  # the original's audit table, savings measured in it
    # ground truth, from the test's own container: the image runs as the unprivileged user
    assert report["image"]["user"] == "app"
    assert docker("run", "--rm", "--network", "none", SLIM, "id", "-u").stdout.strip() == "10001"


def test_a_wrong_cut_fails_verification_naming_the_module_and_the_requirement(
        slimmed: Path, index: Index, tmp_path: Path) -> None:
    broken = Path(shutil.copytree(slimmed, tmp_path / "broken"))
    lock = broken / "requirements-slim.lock.txt"
    text = lock.read_text()
    cut = re.sub(r"^scikit-learn==.*?(?=^\S)", "", text, flags=re.M | re.S)
    assert cut != text
    lock.write_text(cut)
    out = tmp_path / "broken.json"
    result = depslim("verify", str(broken), "--build", "--tag", BROKEN, "--build-network", "host",
                     "--build-arg", f"PIP_INDEX_URL={index.url}", "--runs", "1", "--format", "json", "-o", str(out))
    assert result.returncode == 1, result.stderr
    report = json.loads(out.read_text())
    assert not report["passed"] and report["breakages"] == 1
    failed = [c for c in report["checks"] if not c["ok"]]
    assert {c["missing"] for c in failed if c["breakage"]} == {"sklearn"}
    version = re.search(r"^scikit-learn==(\S+)", (broken / "requirements-slim.txt").read_text(), re.M)
    assert version is not None
    fixes = {c["fix"] for c in failed if c["breakage"]}
    assert fixes == {f"add scikit-learn=={version.group(1)} to requirements-slim.txt (it provides `sklearn`)"}
    assert ("import", "churn.serve") in {(c["check"], c["target"]) for c in failed}
    terminal = depslim("verify", str(broken), "--image", BROKEN, "--runs", "1")
    assert terminal.returncode == 1
    assert "BREAKAGE sklearn is missing" in terminal.stdout and "scikit-learn==" in terminal.stdout
    # against a baseline that fails the same way, the failure is not the slim image's doing
    same = depslim("verify", str(broken), "--image", BROKEN, "--baseline", BROKEN, "--runs", "1")
    assert same.returncode == 0, same.stdout
    assert "ALSO-BEFORE" in same.stdout and "BREAKAGE" not in same.stdout
