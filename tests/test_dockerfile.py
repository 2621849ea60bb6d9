"""Dockerfile audit: every rule on a positive and a negative Dockerfile, with file and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from depslim.dockerfile import audit_dockerfile, load_rules
from depslim.dockerfile.parse import parse_dockerfile, run_commands, split_shell
from depslim.errors import InputError
from depslim.findings.base import AnalysisContext
from depslim.findings.dockerfile import DockerfileFinder
from depslim.model import Context, Location, ScanResult, Signal, TargetInfo

GOOD_IGNORE = ".git\n.env\ndata/\nmodels/\nnotebooks/\n**/__pycache__\n"
SLIM = "FROM python:3.11-slim\n"
USER = "USER 10001\n"

# rule id -> (positive Dockerfile, expected line, negative Dockerfile)
CASES: dict[str, tuple[str, int, str]] = {
    "cuda-devel-base": (
        "FROM nvidia/cuda:12.1.0-devel-ubuntu22.04\nUSER 1000\n", 1,
        # multi-stage: devel only in the builder, runtime shipped
        "FROM nvidia/cuda:12.1.0-devel-ubuntu22.04 AS build\nRUN make\n"
        "FROM nvidia/cuda:12.1.0-runtime-ubuntu22.04\nCOPY --from=build /out /out\nUSER 1000\n",
    ),
    "gpu-base-for-cpu": (
        "FROM pytorch/pytorch:2.2.2-cuda12.1-cudnn8-runtime\nUSER 1000\n", 1,
        SLIM + USER,
    ),
    "full-python-base": ("FROM python:3.11\nUSER 1\n", 1, "FROM python:3.11-slim-bookworm\nUSER 1\n"),
    "single-stage-compilers": (
        SLIM + "RUN apt-get update && apt-get install -y --no-install-recommends build-essential libpq-dev"
        " && rm -rf /var/lib/apt/lists/*\n" + USER, 2,
        "FROM python:3.11-slim AS build\nRUN apt-get update && apt-get install -y --no-install-recommends gcc"
        " && rm -rf /var/lib/apt/lists/*\nRUN pip wheel --no-cache-dir -w /w -r req.txt\n"
        "FROM python:3.11-slim\nCOPY --from=build /w /w\n" + USER,
    ),
    "pip-no-cache-dir": (
        SLIM + "COPY requirements.txt .\nRUN python -m pip install -r requirements.txt\n" + USER, 3,
        SLIM + "ENV PIP_NO_CACHE_DIR=1\nCOPY requirements.txt .\nRUN pip install -r requirements.txt\n" + USER,
    ),
    "apt-no-install-recommends": (
        SLIM + "RUN apt-get update && apt-get -y install curl && rm -rf /var/lib/apt/lists/*\n" + USER, 2,
        SLIM + "RUN apt-get update && apt-get install -y --no-install-recommends curl"
        " && rm -rf /var/lib/apt/lists/*\n" + USER,
    ),
    "apt-lists-not-cleaned": (
        SLIM + "RUN apt-get update \\\n && apt-get install -y --no-install-recommends curl\n" + USER, 2,
        SLIM + "RUN apt-get update \\\n && apt-get install -y --no-install-recommends curl \\\n"
        " && rm -rf /var/lib/apt/lists/*\n" + USER,
    ),
    "cleanup-in-later-layer": (
        SLIM + "RUN pip install --no-cache-dir torch==2.2.2\nRUN rm -rf /root/.cache/pip\n" + USER, 3,
        SLIM + "RUN pip install torch==2.2.2 && rm -rf /root/.cache/pip\n" + USER,
    ),
    "copy-before-install": (
        SLIM + "WORKDIR /app\nCOPY . .\nRUN pip install --no-cache-dir -r requirements.txt\n" + USER, 3,
        SLIM + "WORKDIR /app\nCOPY requirements.txt .\nRUN pip install --no-cache-dir -r requirements.txt\n"
        "COPY . .\n" + USER,
    ),
    "unpinned-pip-install": (
        SLIM + "RUN pip install --no-cache-dir fastapi uvicorn==0.29.0\n" + USER, 2,
        SLIM + "RUN pip install --no-cache-dir fastapi==0.110.1 ./dist/app.whl -r req.txt -e .\n" + USER,
    ),
    "no-require-hashes": (
        SLIM + "RUN pip install --no-cache-dir -r requirements.txt\n" + USER, 2,
        SLIM + "RUN pip install --no-cache-dir --require-hashes -r requirements.lock\n" + USER,
    ),
    "root-user": (
        SLIM + "RUN true\n", 1,
        SLIM + "RUN useradd -r app\nUSER app\n",
    ),
    "dockerignore-missing": (SLIM + USER, 0, SLIM + USER),
    "dockerignore-incomplete": (SLIM + USER, 0, SLIM + USER),
    "weights-in-image": (
        SLIM + "COPY models/churn.pt /app/models/churn.pt\n" + USER, 2,
        SLIM + "COPY src/ /app/src/\n" + USER,
    ),
    "secret-in-env": (
        SLIM + "ENV AWS_SECRET_ACCESS_KEY=abc123 MLFLOW_TRACKING_URI=http://mlflow\n" + USER, 2,
        SLIM + "ENV MLFLOW_TRACKING_URI=http://mlflow LOG_LEVEL=info\n" + USER,
    ),
    "latest-tag": ("FROM python:latest\nUSER 1\n", 1, SLIM + USER),
    "untagged-base": ("FROM ubuntu\nUSER 1\n", 1, "FROM ubuntu:24.04\nUSER 1\n"),
}

IGNORES: dict[str, tuple[str | None, str | None]] = {
    "dockerignore-missing": (None, GOOD_IGNORE),
    "dockerignore-incomplete": (".git\n__pycache__/\n", GOOD_IGNORE),
}


def _audit(tmp_path: Path, text: str, ignore: str | None, *, gpu_use: bool | None = False):
    tmp_path.mkdir(parents=True, exist_ok=True)
    (tmp_path / "Dockerfile").write_text(text)
    if ignore is not None:
        (tmp_path / ".dockerignore").write_text(ignore)
    return audit_dockerfile(tmp_path / "Dockerfile", gpu_use=gpu_use)


def test_every_rule_has_a_case() -> None:
    assert {r["id"] for r in load_rules()} == set(CASES)


@pytest.mark.parametrize("rule_id", sorted(CASES))
def test_rule_fires_on_positive_and_not_on_negative(tmp_path: Path, rule_id: str) -> None:
    positive, line, negative = CASES[rule_id]
    pos_ignore, neg_ignore = IGNORES.get(rule_id, (GOOD_IGNORE, GOOD_IGNORE))
    hits = [f for f in _audit(tmp_path / "pos", positive, pos_ignore) if f.data["rule"] == rule_id]
    assert hits, f"{rule_id} did not fire"
    assert hits[0].evidence[0].line == line
    assert hits[0].evidence[0].path in ("Dockerfile", ".dockerignore")
    assert hits[0].id == f"dockerfile:{rule_id}:{hits[0].evidence[0].path}:{line}"
    assert not [f for f in _audit(tmp_path / "neg", negative, neg_ignore) if f.data["rule"] == rule_id]


def test_ids_are_stable_across_runs(tmp_path: Path) -> None:
    text = Path(__file__).parents[1].joinpath("fixtures/example/Dockerfile").read_text()
    first = [f.id for f in _audit(tmp_path / "a", text, None)]
    second = [f.id for f in _audit(tmp_path / "b", text, None)]
    assert first == second and len(set(first)) == len(first)


def test_bundled_example_gets_the_case_study_findings() -> None:
    root = Path(__file__).parents[1] / "fixtures/example"
    rules = {f.data["rule"]: f for f in audit_dockerfile(root / "Dockerfile", gpu_use=False)}
    for expected in ("cuda-devel-base", "pip-no-cache-dir", "single-stage-compilers", "cleanup-in-later-layer",
                     "copy-before-install", "weights-in-image", "root-user", "dockerignore-incomplete"):
        assert expected in rules, expected
    assert rules["cuda-devel-base"].savings_bytes and rules["cuda-devel-base"].estimate
    assert "nvidia/cuda:12.1.0-runtime-ubuntu22.04" in rules["cuda-devel-base"].fix
    assert rules["cleanup-in-later-layer"].evidence[0].line == 4
    assert "line 3" in rules["cleanup-in-later-layer"].fix


def test_pip_cache_env_inherited_from_parent_stage_and_cache_mount(tmp_path: Path) -> None:
    text = ("FROM python:3.11-slim AS base\nENV PIP_NO_CACHE_DIR=1\nFROM base\n"
            "RUN pip install x==1\nRUN --mount=type=cache,target=/root/.cache/pip pip install y==2\nUSER 1\n")
    assert not [f for f in _audit(tmp_path, text, GOOD_IGNORE) if f.data["rule"] == "pip-no-cache-dir"]


def test_build_stage_cache_is_not_flagged_but_shipped_stage_is(tmp_path: Path) -> None:
    text = ("FROM python:3.11-slim AS build\nRUN pip install build==1\n"
            "FROM python:3.11-slim\nRUN pip install app==1\nUSER 1\n")
    hits = [f for f in _audit(tmp_path, text, GOOD_IGNORE) if f.data["rule"] == "pip-no-cache-dir"]
    assert [h.evidence[0].line for h in hits] == [4]


def test_gpu_base_needs_scan_evidence(tmp_path: Path) -> None:
    text = "FROM pytorch/pytorch:2.2.2-cuda12.1-cudnn8-runtime\nUSER 1\n"
    assert not [f for f in _audit(tmp_path / "a", text, GOOD_IGNORE, gpu_use=True)
                if f.data["rule"] == "gpu-base-for-cpu"]
    assert not [f for f in _audit(tmp_path / "b", text, GOOD_IGNORE, gpu_use=None)
                if f.data["rule"] == "gpu-base-for-cpu"]


def test_finder_reads_project_dockerfile_and_uses_runtime_gpu_signals(tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text("FROM pytorch/pytorch:2.2.2-cuda12.1-cudnn8-runtime\nUSER 1\n")
    (tmp_path / ".dockerignore").write_text(GOOD_IGNORE)
    target = TargetInfo(kind="environment", ref="env")

    def ctx(signals: tuple[Signal, ...]) -> AnalysisContext:
        scan = ScanResult(imports=(), first_party=frozenset(), files_scanned=2, signals=signals)
        return AnalysisContext(tmp_path, scan, None, target, {}, {})

    cuda = Signal("torch.cuda", "torch.cuda.is_available", Location("app.py", 3), Context.RUNTIME, "attribute")
    test_only = Signal("torch.cuda", "torch.cuda.is_available", Location("tests/t.py", 3), Context.DEV, "attribute")
    assert not [f for f in DockerfileFinder().find(ctx((cuda,))) if "gpu-base" in f.id]
    assert [f for f in DockerfileFinder().find(ctx((test_only,))) if "gpu-base" in f.id]
    no_file = AnalysisContext(tmp_path / "nothing", None, None, target, {}, {})
    assert DockerfileFinder().find(no_file) == []


def test_shell_splitting_handles_operators_quotes_and_exec_form(tmp_path: Path) -> None:
    assert split_shell("apt-get update&&DEBIAN_FRONTEND=noninteractive apt-get install -y 'a b'; echo x|tee y") == [
        ["apt-get", "update"], ["apt-get", "install", "-y", "a b"], ["echo", "x"], ["tee", "y"]]
    (tmp_path / "Dockerfile").write_text('FROM x:1\nRUN ["pip", "install", "y"]\n')
    df = parse_dockerfile(tmp_path / "Dockerfile")
    assert run_commands(df.final.instructions[0]) == [["pip", "install", "y"]]


@pytest.mark.parametrize("text", ["", "# only a comment\nRUN echo\n"])
def test_not_a_dockerfile_is_bad_input(tmp_path: Path, text: str) -> None:
    (tmp_path / "Dockerfile").write_text(text)
    with pytest.raises(InputError) as info:
        audit_dockerfile(tmp_path / "Dockerfile")
    assert "Dockerfile" in str(info.value)


def test_missing_dockerfile_is_bad_input(tmp_path: Path) -> None:
    with pytest.raises(InputError):
        audit_dockerfile(tmp_path / "Dockerfile")
