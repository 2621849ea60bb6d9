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
        "pandas": "runtime", "numpy": "runtime", "scikit-learn": "runtime", "mlflow": "runtime",
        "torch": "runtime", "fastapi": "runtime", "boto3": "runtime", "requests": "runtime",
        "sqlalchemy": "runtime", "tqdm": "runtime",  # importlib.import_module("tqdm")
        "pyarrow": "implicit", "s3fs": "implicit", "psycopg2-binary": "implicit", "uvicorn": "implicit",
        "pydantic": "typing-only",
        "pytest": "dev-only", "black": "dev-only", "jupyter": "dev-only", "ipykernel": "dev-only",
        "matplotlib": "dev-only", "seaborn": "dev-only", "opencv-python": "dev-only",
    }


def test_evidence_points_at_the_proving_line(report: dict) -> None:
    by_name = {d["name"]: d for d in report["distributions"]}
    source = (EXAMPLE / "src/churn/features.py").read_text().splitlines()
    pyarrow = by_name["pyarrow"]["evidence"][0]
    assert pyarrow["kind"] == "implicit" and "read_parquet" in source[pyarrow["line"] - 1]
    s3fs = by_name["s3fs"]["evidence"][0]
    assert "s3://" in source[s3fs["line"] - 1]
    uvicorn = {(e["path"], e["kind"]) for e in by_name["uvicorn"]["evidence"]}
    assert ("Dockerfile", "implicit") in uvicorn or ("Procfile", "implicit") in uvicorn
    mlflow = by_name["mlflow"]["evidence"][0]
    assert mlflow["path"] == "src/churn/model.py" and mlflow["kind"] == "import"
    assert by_name["mlflow"]["declared_at"] == [{"path": "requirements.txt", "line": 9}]


def test_problems_and_cut_list(report: dict) -> None:
    ids = {f["id"] for f in report["findings"]}
    assert "optional:ujson" in ids
    cut = {f["subject"] for f in report["findings"] if f["code"].startswith("cut-")}
    assert cut == {"pydantic", "pytest", "black", "jupyter", "ipykernel", "matplotlib", "seaborn", "opencv-python"}
    assert report["summary"]["cut_count"] == len(cut)
    assert report["summary"]["declared"] == 22
