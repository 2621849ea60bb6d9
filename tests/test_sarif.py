"""SARIF 2.1.0 for Dockerfile and requirements findings."""

from __future__ import annotations

import json
from pathlib import Path

from test_swaps import make_ctx, mlflow_installed

from depslim.dockerfile import audit_dockerfile
from depslim.findings.swaps import SwapFinder
from depslim.model import Evidence, Finding, Owner, Verdict
from depslim.report.sarif import render_sarif, sarif_document
from depslim.swaps.savings import IndexSizer

EXAMPLE = Path(__file__).parents[1] / "fixtures" / "example"


def test_dockerfile_and_requirement_findings_become_located_results() -> None:
    findings = audit_dockerfile(EXAMPLE / "Dockerfile", gpu_use=False)
    ctx = make_ctx(mlflow_installed(), verdicts={"mlflow": Verdict.RUNTIME})
    findings += SwapFinder(sizer=IndexSizer(index_urls=(), offline=True)).find(ctx)
    image_only = Finding(id="pip-cache:/root/.cache/pip", code="pip-cache", title="pip cache", owner=Owner.DEVOPS,
                         fix="--no-cache-dir", savings_bytes=1, evidence=(Evidence("/root/.cache/pip", 0, "layer"),))
    doc = json.loads(render_sarif([*findings, image_only]))
    assert doc["version"] == "2.1.0" and doc["$schema"].endswith("sarif-2.1.0.json")
    run = doc["runs"][0]
    rule_ids = [r["id"] for r in run["tool"]["driver"]["rules"]]
    assert len(rule_ids) == len(set(rule_ids))
    results = run["results"]
    assert {r["ruleId"] for r in results} <= set(rule_ids)
    assert "pip-cache" not in rule_ids  # image findings have no source location
    devel = next(r for r in results if r["ruleId"] == "dockerfile-cuda-devel-base")
    loc = devel["locations"][0]["physicalLocation"]
    assert loc["artifactLocation"]["uri"] == "Dockerfile" and loc["region"]["startLine"] == 1
    assert devel["partialFingerprints"]["depslimFindingId/v1"] == "dockerfile:cuda-devel-base:Dockerfile:1"
    swap = next(r for r in results if r["ruleId"] == "swap")
    assert swap["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "requirements.txt"
    assert swap["level"] == "warning" and "mlflow-skinny" in swap["message"]["text"]
    ignore = next(r for r in results if r["ruleId"] == "dockerfile-dockerignore-incomplete")
    assert "region" not in ignore["locations"][0]["physicalLocation"]  # file-level: no line 0 region
    for r in results:
        region = r["locations"][0]["physicalLocation"].get("region")
        assert region is None or region["startLine"] >= 1


def test_hadolint_equivalent_is_recorded_on_rules() -> None:
    doc = sarif_document(audit_dockerfile(EXAMPLE / "Dockerfile", gpu_use=False))
    rules = {r["id"]: r for r in doc["runs"][0]["tool"]["driver"]["rules"]}  # type: ignore[index]
    assert rules["dockerfile-pip-no-cache-dir"]["properties"]["hadolint"] == "DL3042"
