"""The audit table (rows, overlaps, projection, renderers) and one end-to-end run on real code."""

from __future__ import annotations

import importlib
import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from helpers import write_tree
from markdown_it import MarkdownIt
from test_swaps import MB, dist, make_ctx, mlflow_installed

from depslim.audit import audit_table, render_json, render_markdown, render_terminal
from depslim.cli import cli
from depslim.dockerfile import audit_dockerfile
from depslim.findings.swaps import SwapFinder
from depslim.model import Evidence, Finding, Owner, TargetInfo, Verdict
from depslim.swaps.savings import IndexSizer

EXAMPLE = Path(__file__).parents[1] / "fixtures" / "example"


def finding(id: str, code: str, savings: int | None, estimate: bool = False, subject: str = "") -> Finding:
    return Finding(id=id, code=code, title=id, owner=Owner.DEVOPS, fix=f"fix {id}", savings_bytes=savings,
                   estimate=estimate, subject=subject, evidence=(Evidence("Dockerfile", 3, "dockerfile", "x"),))


def test_rows_sorted_by_savings_and_projection_from_target_totals() -> None:
    target = TargetInfo(kind="image", ref="app:1", totals={"image_bytes": 5000 * MB})
    table = audit_table([
        finding("a", "swap", 600 * MB, subject="mlflow"),
        finding("b", "dockerfile-cuda-devel-base", 2200 * MB, estimate=True),
        finding("c", "root-user", None),
        finding("d", "pip-cache", 180 * MB),
        finding("e", "dockerfile-pip-no-cache-dir", 180 * MB, estimate=True),  # measured as pip-cache
        finding("a", "swap", 600 * MB, subject="mlflow"),  # duplicate id dropped
    ], target)
    assert [r.finding.id for r in table.rows] == ["b", "a", "d", "e", "c"]  # by savings, counted or not
    assert not table.rows[3].counted and "measured as pip-cache" in table.rows[3].savings_text
    assert table.savings_bytes == (2200 + 600 + 180) * MB
    assert table.estimated_bytes == 2200 * MB
    assert table.projected_bytes == (5000 - 2980) * MB


def test_dockerfile_estimates_never_add_to_a_measured_image() -> None:
    """The image's waste was measured: a Dockerfile estimate counts neither on top of the measured
    pip cache nor for a waste the image does not hold."""
    target = TargetInfo(kind="image", ref="app:1", totals={"image_bytes": 1000 * MB, "waste_bytes": 30 * MB})
    table = audit_table([
        finding("pip", "pip-cache", 30 * MB),
        finding("df-pip", "dockerfile-pip-no-cache-dir", 180 * MB, estimate=True),
        finding("df-apt", "dockerfile-apt-lists-not-cleaned", 40 * MB, estimate=True),
    ], target)
    counted = {r.finding.id: (r.counted, r.note) for r in table.rows}
    assert counted == {"pip": (True, ""), "df-pip": (False, "measured as pip-cache"),
                       "df-apt": (False, "not found in the measured image")}
    assert table.savings_bytes == 30 * MB and table.projected_bytes == 970 * MB
    assert [r.finding.id for r in table.rows] == ["df-pip", "df-apt", "pip"]  # sorted by savings


def test_apt_pkgcache_is_a_cache_not_model_weights(tmp_path: Path) -> None:
    from tests.imagebuild import File, Image, image_config, layer_tar, write_docker_archive

    layers = [layer_tar([File("/var/cache/apt/pkgcache.bin", b"k" * 60_000_000),
                         File("/app/model.bin", b"w" * 60_000_000)])]
    archive = write_docker_archive(tmp_path / "img.tar", Image(layers, image_config(layers, history=["x"])))
    result = CliRunner().invoke(cli, ["audit", str(tmp_path), "--image", str(archive), "-f", "json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)["rows"]
    weights = [r["subject"] for r in rows if r["code"] == "model-weights"]
    assert weights == ["/app/model.bin"]
    assert any(r["code"] == "apt-cache" for r in rows)
    savings = [r["savings_bytes"] or 0 for r in rows]
    assert savings == sorted(savings, reverse=True)


def test_public_ca_certificate_under_usr_share_is_not_a_secret(tmp_path: Path) -> None:
    from tests.imagebuild import File, Image, image_config, layer_tar, write_docker_archive

    layers = [layer_tar([File("/usr/share/gnupg/sks-keyservers.netCA.pem", b"-----BEGIN CERTIFICATE-----\n"),
                         File("/app/deploy.pem", b"-----BEGIN PRIVATE KEY-----\n")])]
    archive = write_docker_archive(tmp_path / "img.tar", Image(layers, image_config(layers, history=["x"])))
    result = CliRunner().invoke(cli, ["audit", str(tmp_path), "--image", str(archive), "-f", "json"])
    assert result.exit_code == 0, result.output
    secrets = [r["subject"] for r in json.loads(result.output)["rows"] if r["code"] == "secret-file"]
    assert secrets == ["/app/deploy.pem"]


def test_audit_takes_the_target_options_of_analyze() -> None:
    from test_config_cli import command

    audit = {opt for p in command("audit").params for opt in p.opts}
    analyze = {opt for p in command("analyze").params for opt in p.opts}
    assert {"--python", "--image", "--platform"} <= audit & analyze
    import sys

    result = CliRunner().invoke(cli, ["audit", str(EXAMPLE), "--python", sys.executable, "-f", "json"])
    assert result.exit_code == 0, result.output
    target = json.loads(result.output)["target"]
    assert target["kind"] == "environment" and target["ref"] == sys.executable


def test_cut_finding_yields_to_removal_on_same_package() -> None:
    table = audit_table([finding("cut:jupyter", "cut-dev-only", 10, subject="jupyter"),
                         finding("remove-from-runtime:jupyter", "remove-from-runtime", 10, subject="jupyter")])
    assert [r.finding.id for r in table.rows] == ["remove-from-runtime:jupyter"]


def test_renderers_carry_ids_owner_fix_savings_and_from_to() -> None:
    ctx = make_ctx(mlflow_installed(), verdicts={"mlflow": Verdict.RUNTIME})
    findings = SwapFinder(sizer=IndexSizer(index_urls=(), offline=True)).find(ctx)
    findings += audit_dockerfile(EXAMPLE / "Dockerfile", gpu_use=False)
    table = audit_table(findings, TargetInfo(kind="environment", ref="venv", totals={"installed_bytes": 900 * MB}))
    doc = json.loads(render_json(table))
    swap = next(r for r in doc["rows"] if r["id"] == "swap:mlflow-skinny")
    assert swap["from"] == "mlflow==3.17.2" and swap["to"] == "mlflow-skinny==3.17.2"
    assert swap["owner"] == "ML Engineer" and swap["savings_bytes"] > 0 and swap["evidence"]
    assert doc["projected_bytes"] == doc["current_bytes"] - doc["savings_bytes"]
    md = render_markdown(table)
    tokens = MarkdownIt("commonmark").enable("table").parse(md)
    assert any(t.type == "table_open" for t in tokens)
    assert "| Finding | Owner | Fix | Savings |" in md and "(estimate)" in md
    text = render_terminal(table)
    assert "depslim audit" in text and "projected after all fixes" in text


def test_cli_audit_dockerfile_only_and_sarif(tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(cli, ["audit", str(EXAMPLE), "--dockerfile-only", "--format", "json"])
    assert result.exit_code == 0, result.output
    ids = {r["id"] for r in json.loads(result.output)["rows"]}
    assert "dockerfile:cuda-devel-base:Dockerfile:1" in ids
    sarif = runner.invoke(cli, ["audit", str(EXAMPLE), "--dockerfile-only", "--format", "sarif"])
    assert json.loads(sarif.output)["version"] == "2.1.0"
    out = tmp_path / "audit.md"
    runner.invoke(cli, ["audit", str(EXAMPLE), "--dockerfile-only", "-f", "markdown", "-o", str(out)])
    again = runner.invoke(cli, ["audit", str(EXAMPLE), "--dockerfile-only", "-o", str(out)])
    assert again.exit_code == 0 and out.read_text().startswith("<!-- depslim: generated")  # own report, .md
    user = tmp_path / "notes.md"
    user.write_text("mine\n")
    refused = runner.invoke(cli, ["audit", str(EXAMPLE), "--dockerfile-only", "-o", str(user)])
    assert refused.exit_code == 2 and "--force" in refused.output and user.read_text() == "mine\n"
    bad = runner.invoke(cli, ["audit", str(tmp_path), "--dockerfile-only"])
    assert bad.exit_code == 2 and "Dockerfile" in bad.output and "Traceback" not in bad.output


def test_cli_audit_from_saved_report(tmp_path: Path) -> None:
    report = {"target": {"kind": "image", "ref": "x", "totals": {"image_bytes": 3_000_000_000}},
              "findings": [{"id": "swap:torch-cpu", "code": "swap", "title": "torch → torch (+cpu)",
                            "owner": "ML Engineer", "fix": "use +cpu", "savings_bytes": 2_000_000_000,
                            "estimate": False, "evidence": [], "data": {"from": "torch==2.2.2", "to": "torch+cpu"}}]}
    path = tmp_path / "report.json"
    path.write_text(json.dumps(report))
    result = CliRunner().invoke(cli, ["audit", "--report", str(path), "-f", "json"])
    doc = json.loads(result.output)
    assert doc["projected_bytes"] == 1_000_000_000 and doc["rows"][0]["to"] == "torch+cpu"
    path.write_text("{not json")
    bad = CliRunner().invoke(cli, ["audit", "--report", str(path)])
    assert bad.exit_code == 2 and "report.json" in bad.output


def test_real_scanner_evidence_drives_the_swaps(tmp_path: Path) -> None:
    """The scan (depslim.imports.scan_project) reports the signals our conditions need."""
    scan_project = getattr(importlib.import_module("depslim.imports"), "scan_project", None)
    if scan_project is None:
        pytest.skip("depslim.imports.scan_project not available yet")
    from depslim.findings.swaps import signal_patterns

    write_tree(tmp_path, {
        "pyproject.toml": '[project]\nname = "app"\nversion = "1"\n',
        "src/app/__init__.py": "",
        "src/app/serve.py": "import torch\nimport cv2\n\ndef run(x):\n    cv2.imwrite('a.png', x)\n"
                            "    return torch.tensor(x).to('cuda:0')\n",
        "tests/test_gui.py": "import cv2\n\ncv2.imshow('w', None)\n",
    })
    scan = scan_project(tmp_path, patterns=signal_patterns())
    installed = [dist("torch", "2.2.2", 100 * MB, ("nvidia-cublas-cu12",)), dist("nvidia-cublas-cu12", "12", MB),
                 dist("opencv-python", "4.9", 50 * MB)]
    ctx = make_ctx(installed, scan=scan, verdicts={"torch": Verdict.RUNTIME, "opencv-python": Verdict.RUNTIME})
    finder = SwapFinder(sizer=IndexSizer(index_urls=(), offline=True))
    ids = {f.id for f in finder.find(ctx)}
    assert "swap:torch-cpu" not in ids  # held back: 'cuda:0' in runtime code
    assert "swap:opencv-headless" in ids  # imshow only in tests


def _image(layers: list[tuple[int, str]], waste: int = 1) -> TargetInfo:
    from depslim.model import LayerInfo

    infos = tuple(LayerInfo(i, f"sha256:{i}", size, text) for i, (size, text) in enumerate(layers))
    return TargetInfo(kind="image", ref="app:1", layers=infos,
                      totals={"image_bytes": sum(size for size, _ in layers), "waste_bytes": waste})


def test_projection_stops_at_the_base_image_layers(tmp_path: Path) -> None:
    """Fixes that would save more than the image holds: the projection stops at the base's layers
    (less the waste measured inside them), and every format says so."""
    from depslim.dockerfile.parse import parse_dockerfile
    from depslim.report import html

    (tmp_path / "Dockerfile").write_text("FROM python:3.11-slim AS build\nRUN pip wheel -w /w x\n"
                                         "FROM python:3.11-slim\nWORKDIR /app\nCOPY . /app\n"
                                         "RUN pip install -r requirements.txt\nCMD [\"app\"]\n")
    target = _image([(300 * MB, "ADD file:abc in /"), (100 * MB, "RUN apt-get update"),  # the base's two layers
                     (1 * MB, "COPY . /app"), (900 * MB, "RUN pip install -r requirements.txt")],
                    waste=50 * MB)  # the waste rows count at most the measured waste total
    base_pycache = Finding(id="pyc", code="pycache", title="pyc", owner=Owner.DEVOPS, fix="x", savings_bytes=50 * MB,
                           data={"layer": 3, "layers": {"1": 20 * MB, "3": 30 * MB}})
    table = audit_table([base_pycache, finding("swap", "swap", 1300 * MB, subject="torch")], target,
                        parse_dockerfile(tmp_path / "Dockerfile"))
    assert table.current_bytes == 1301 * MB and table.savings_bytes == 1350 * MB  # more than the image holds
    assert table.floor is not None and table.floor.known and table.floor.layers == (0, 1)
    assert (table.floor.layer_bytes, table.floor.waste_bytes) == (400 * MB, 20 * MB)
    assert table.floored and table.projected_bytes == 380 * MB
    assert "floor: base image layers 380.0 MB" in table.floor_text and "stops at the floor" in table.floor_text
    doc = json.loads(render_json(table))
    assert doc["projected_bytes"] == 380 * MB and doc["floor"]["bytes"] == 380 * MB and doc["floor"]["binding"]
    assert "Floor: base image layers 380.0 MB" in render_markdown(table)
    assert "projected after all fixes 380.0 MB" in render_terminal(table, width=200)
    assert "floor: base image layers 380.0 MB" in render_terminal(table, width=200)
    assert "base image layers 380.0 MB" in html.render_audit(table)
    # a final stage whose layers do not match the history: the base cannot be told
    (tmp_path / "Dockerfile").write_text("FROM python:3.11-slim\nCOPY a /a\nCOPY b /b\nCOPY c /c\n")
    mismatch = audit_table([finding("swap", "swap", 1200 * MB)], target, parse_dockerfile(tmp_path / "Dockerfile"))
    assert mismatch.floor is not None and not mismatch.floor.known and mismatch.projected_bytes == 101 * MB


def test_projection_keeps_the_zero_floor_with_a_note_when_the_base_cannot_be_told() -> None:
    """No Dockerfile and no history: today's behaviour (floor 0), said in every format."""
    target = _image([(300 * MB, ""), (100 * MB, "")])
    table = audit_table([finding("swap", "swap", 1200 * MB, subject="torch")], target)
    assert table.floor is not None and not table.floor.known and not table.floored
    assert table.projected_bytes == 0
    assert "base image layers unknown (no Dockerfile" in table.floor_text
    assert json.loads(render_json(table))["floor"]["known"] is False
    assert "floored at 0 B" in render_markdown(table) and "floored at 0 B" in render_terminal(table, width=200)
    # an environment (or a Python-only total) has no base to floor at: nothing is said
    env = audit_table([finding("swap", "swap", 10 * MB)], TargetInfo(kind="environment", ref="venv",
                                                                     totals={"installed_bytes": 5 * MB}))
    assert env.floor is None and env.floor_text == "" and env.projected_bytes == 0


def test_cli_audit_example_image_floor_from_its_dockerfile(tmp_path: Path) -> None:
    from tests.imagebuild import File, Image, image_config, layer_tar, write_docker_archive

    (tmp_path / "Dockerfile").write_text("FROM debian\nCOPY app.py /app/app.py\n")
    layers = [layer_tar([File("/etc/base.txt", b"b" * 200_000)]), layer_tar([File("/app/app.py", b"print(1)\n")])]
    config = image_config(layers, history=["ADD file:base in /", "COPY file:app in /app/app.py"])
    archive = write_docker_archive(tmp_path / "img.tar", Image(layers, config))
    result = CliRunner().invoke(cli, ["audit", str(tmp_path), "--image", str(archive), "-f", "json"])
    assert result.exit_code == 0, result.output
    floor = json.loads(result.output)["floor"]
    assert floor["known"] and floor["base_layers"] == [0] and floor["base_layer_bytes"] >= 200_000
