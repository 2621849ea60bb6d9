"""The bundled example end to end through the real CLI: every verdict with its evidence."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).resolve().parent.parent / "fixtures" / "example"


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> dict:
    out = tmp_path_factory.mktemp("example") / "report.json"
    result = subprocess.run(
        [sys.executable, "-m", "depslim", "analyze", str(EXAMPLE), "--format", "json", "-o", str(out), "--no-cache"],
        capture_output=True, text=True,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(out.read_text())


def verdicts(report: dict) -> dict[str, str]:
    return {d["name"]: d["verdict"] for d in report["distributions"] if d["declared"]}


def test_every_declared_dependency_has_the_right_verdict(report: dict) -> None:
    assert verdicts(report) == {
        "fastapi": "runtime", "pydantic": "runtime", "numpy": "runtime", "joblib": "runtime",
        "pandas": "runtime", "scikit-learn": "runtime", "mlflow": "runtime", "sqlalchemy": "runtime",
        "tqdm": "runtime",  # importlib.import_module("tqdm")
        "pyarrow": "implicit", "s3fs": "implicit", "psycopg2-binary": "implicit", "uvicorn": "implicit",
        # never imported, but the runtime packages are not installed here, so whether one of them requires
        # these cannot be read: kept, saying why (in the example's image requests is required by mlflow)
        "requests": "implicit", "httpx": "implicit",
        "pytest": "dev-only", "black": "dev-only", "jupyter": "dev-only", "ipykernel": "dev-only",
        "matplotlib": "dev-only", "seaborn": "dev-only", "opencv-python": "dev-only",
    }
    unproven = {d["name"]: d["evidence"][0]["detail"] for d in report["distributions"]
                if d["name"] in ("requests", "httpx")}
    assert all(v.startswith("possibly required by a runtime package:") and "not installed in this target" in v
               for v in unproven.values()), unproven
    assert report["scope"] == "all"
    assert {(e["path"], e["detail"]) for e in report["entrypoints"]} == {
        ("pyproject.toml", "churn.train:main"), ("Dockerfile", "churn.serve:app"), ("Procfile", "churn.serve:app")}


def test_evidence_points_at_the_proving_line(report: dict) -> None:
    by_name = {d["name"]: d for d in report["distributions"]}
    source = (EXAMPLE / "src/churn/train.py").read_text().splitlines()
    pyarrow = by_name["pyarrow"]["evidence"][0]
    assert pyarrow["kind"] == "implicit" and "read_parquet" in source[pyarrow["line"] - 1]
    s3fs = by_name["s3fs"]["evidence"][0]
    assert "s3://" in source[s3fs["line"] - 1]
    uvicorn = {(e["path"], e["kind"]) for e in by_name["uvicorn"]["evidence"]}
    # the exec-form CMD names uvicorn as well as the Procfile's shell form
    assert {("Dockerfile", "implicit"), ("Procfile", "implicit")} <= uvicorn
    mlflow = by_name["mlflow"]["evidence"][0]
    assert mlflow["path"] == "src/churn/train.py" and mlflow["kind"] == "import"
    assert by_name["mlflow"]["declared_at"] == [{"path": "requirements.txt", "line": 13}]


def test_problems_and_cut_list(report: dict) -> None:
    ids = {f["id"] for f in report["findings"]}
    assert "optional:ujson" in ids
    cut = {f["subject"] for f in report["findings"] if f["code"].startswith("cut-")}
    assert cut == {"pytest", "black", "jupyter", "ipykernel", "matplotlib", "seaborn", "opencv-python"}
    assert report["summary"]["cut_count"] == len(cut)
    assert report["summary"]["declared"] == 22


@pytest.fixture(scope="module")
def serving(tmp_path_factory: pytest.TempPathFactory) -> dict:
    out = tmp_path_factory.mktemp("example") / "serving.json"
    result = subprocess.run(
        [sys.executable, "-m", "depslim", "analyze", str(EXAMPLE), "--scope", "serving", "--format", "json",
         "-o", str(out), "--no-cache"], capture_output=True, text=True,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(out.read_text())


def test_serving_scope_cuts_what_only_training_reaches(serving: dict) -> None:
    """The image serves `uvicorn churn.serve:app` (Dockerfile CMD): training code is never reached."""
    got = verdicts(serving)
    for name in ("mlflow", "pandas", "sqlalchemy", "psycopg2-binary", "pyarrow", "s3fs", "tqdm"):
        assert got[name] == "unreachable", name
    for name in ("fastapi", "pydantic", "numpy", "joblib"):
        assert got[name] == "runtime", name
    assert got["uvicorn"] == "implicit"
    assert serving["entrypoints"] == [{"path": "Dockerfile", "line": 15, "kind": "entrypoint",
                                       "detail": "churn.serve:app"}]
    cut = {f["subject"] for f in serving["findings"] if f["code"] == "cut-unreachable"}
    assert {"mlflow", "pandas", "sqlalchemy"} <= cut


def test_a_pickled_model_keeps_the_library_the_code_never_imports(serving: dict) -> None:
    """serve.py never imports sklearn; unpickling models/churn.joblib does."""
    sklearn = next(d for d in serving["distributions"] if d["name"] == "scikit-learn")
    assert sklearn["verdict"] == "implicit"
    assert any(e["path"] == "models/churn.joblib" and "sklearn" in e["detail"] for e in sklearn["evidence"])
