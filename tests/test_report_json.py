"""The JSON format round-trips and refuses foreign documents with one clear error."""

from __future__ import annotations

import json

import pytest

from depslim.errors import InputError
from depslim.model import (
    DistributionReport,
    Evidence,
    Finding,
    ImportReport,
    Location,
    Owner,
    Report,
    Summary,
    TargetInfo,
    Verdict,
)
from depslim.report.json import load_report, render


def sample() -> Report:
    dist = DistributionReport(
        name="mlflow", version="2.12.1", size_bytes=45_900_000, shared_bytes=1_000, retained_bytes=578_400_000,
        verdict=Verdict.RUNTIME, declared=True, installed=True,
        evidence=(Evidence("src/churn/model.py", 7, "import", "mlflow (runtime)"),),
        requires=("mlflow-skinny",), declared_at=(Location("requirements.txt", 8),),
    )
    finding = Finding(
        id="swap:mlflow", code="swap", title="mlflow → mlflow-skinny", owner=Owner.ML_ENGINEER, fix="swap",
        savings_bytes=578_400_000, estimate=True, subject="mlflow", data={"from": "mlflow", "to": "mlflow-skinny"},
    )
    return Report(
        project="fixtures/example",
        target=TargetInfo(kind="environment", ref="/usr/bin/python3", python_version="3.11.7",
                          markers={"python_version": "3.11"}),
        distributions=(dist,),
        imports=(ImportReport("mlflow", "mlflow", "record", (Location("src/churn/model.py", 7),), ("runtime",)),),
        findings=(finding,),
        summary=Summary(1, 1, 0, 0, 1, 45_900_000, 45_900_000, 1, 0),
        tool_version="0.1.0",
    )


def test_round_trip_is_identity() -> None:
    report = sample()
    text = render(report)
    data = json.loads(text)
    assert data["schema_version"] == "1.0"
    assert data["distributions"][0]["verdict"] == "runtime"
    assert data["findings"][0]["owner"] == "ML Engineer"
    back = load_report(text)
    assert back == report
    assert back.findings[0].data == {"from": "mlflow", "to": "mlflow-skinny"}
    assert render(back) == text


@pytest.mark.parametrize(
    ("text", "problem"),
    [("{not json", "not a JSON document"), ('{"a": 1}', "not a depslim JSON report"),
     ('{"schema_version": "9.0", "distributions": []}', "not supported")],
)
def test_foreign_documents_are_input_errors(text: str, problem: str) -> None:
    with pytest.raises(InputError) as info:
        load_report(text, "base.json")
    assert info.value.message.startswith("base.json: ") and problem in info.value.message
