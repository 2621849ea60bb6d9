"""Issue 14, one number per concept: waste is counted once wherever it is shown (the image
header, the per-layer waterfall, audit's savings), and audit never presents depslim's own
environment as the project's size."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from depslim.audit import audit_table, render_terminal
from depslim.cli import cli
from depslim.model import Evidence, Finding, LayerInfo, Owner, TargetInfo
from depslim.report.html import render_image, waste_by_layer
from depslim.units import human_bytes
from tests.imagebuild import File, Image, dist_entries, image_config, layer_tar, write_docker_archive

SITE = "/usr/local/lib/python3.11/site-packages"
MB = 1_000_000


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A __pycache__ inside a site-packages tests folder: both findings claim its 2 MB (layer 0)."""
    layers = [
        layer_tar([*dist_entries(SITE, "alpha", "1.0", {
            "alpha/__init__.py": "a" * 100,
            "alpha/tests/test_a.py": "t" * (1 * MB),
            "alpha/tests/__pycache__/test_a.cpython-311.pyc": "p" * (2 * MB)})]),
        layer_tar([File("/app/__pycache__/main.cpython-311.pyc", b"m" * (3 * MB // 2))]),
    ]
    config = image_config(layers, history=["/bin/sh -c pip install alpha", "/bin/sh -c python -m compileall /app"])
    return write_docker_archive(tmp_path_factory.mktemp("waste") / "img.tar", Image(layers, config))


def _doc(archive: Path) -> dict[str, object]:
    result = CliRunner().invoke(cli, ["image", str(archive), "--format", "json"])
    assert result.exit_code == 0, result.output
    doc: dict[str, object] = json.loads(result.output)
    return doc


def test_per_layer_waste_counts_overlapping_findings_once(archive: Path) -> None:
    doc = _doc(archive)
    findings = {f["code"]: f for f in doc["findings"]}  # type: ignore[attr-defined]
    assert {"pycache", "site-packages-tests"} <= set(findings)
    waste = doc["totals"]["waste_bytes"]  # type: ignore[index]
    layers = {x["index"]: x["waste_bytes"] for x in doc["layers"]}  # type: ignore[attr-defined]
    # the findings' own per-layer sums count the 2 MB .pyc in the tests folder twice; the layers do not
    claimed = sum(v for f in findings.values() for v in f["data"].get("layers", {}).values())
    assert claimed > waste
    assert sum(layers.values()) == waste
    assert 3 * MB <= layers[0] < 4 * MB  # the tests folder (its .pyc once) and alpha's RECORD/METADATA
    assert layers[1] == 3 * MB // 2
    html = render_image(doc)
    caption = re.search(r"Layers: \d+ layers, [^,]+, ([^<]+) waste", html)
    assert caption is not None and caption.group(1) == human_bytes(waste)


def test_synthetic_report_two_findings_same_bytes_one_layer() -> None:
    """Two findings claim the same 5 MB in layer 1: the waterfall draws and captions it once."""
    layers = [LayerInfo(0, "sha256:a", 50 * MB, "FROM base", 0), LayerInfo(1, "sha256:b", 20 * MB, "RUN pip", 5 * MB)]
    findings = [Finding(id=f"{c}:x", code=c, title=c, owner=Owner.DEVOPS, fix="", savings_bytes=5 * MB,
                        subject="x", evidence=(Evidence("/x", 0, "layer"),), data={"layers": {1: 5 * MB}})
                for c in ("pycache", "site-packages-tests")]
    assert waste_by_layer(layers, findings) == {1: 5 * MB}
    assert waste_by_layer([], findings) == {1: 10 * MB}  # only a document without per-layer waste falls back


def test_audit_counts_overlapping_waste_rows_once() -> None:
    target = TargetInfo(kind="image", ref="app:1", totals={"image_bytes": 1000 * MB, "waste_bytes": 300 * MB})
    rows = [Finding(id=f"{c}:x", code=c, title=c, owner=Owner.DEVOPS, fix="", savings_bytes=s, subject="x")
            for c, s in (("pycache", 233 * MB), ("site-packages-tests", 114 * MB), ("swap", 50 * MB))]
    table = audit_table(rows, target)
    assert all(r.counted for r in table.rows)
    assert table.savings_bytes == 300 * MB + 50 * MB  # the waste rows count as the measured waste, once
    assert table.projected_bytes == 650 * MB
    assert any("share files" in n for n in table.notes)


def test_audit_without_a_target_does_not_measure_depslims_own_environment(tmp_path: Path) -> None:
    """No --python/--image: the environment is the one depslim runs in, which holds none of the
    project's runtime packages. The findings are shown; current and projected are not measured."""
    (tmp_path / "requirements.txt").write_text("depslim-issue14-not-installed==1.0\n")
    (tmp_path / "app.py").write_text("import depslim_issue14_not_installed\n")
    result = CliRunner().invoke(cli, ["audit", str(tmp_path), "-f", "json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    assert doc["current_bytes"] is None and doc["projected_bytes"] is None
    assert "environment depslim runs in" in doc["current_source"]
    assert "--python PATH" in doc["current_source"] and "--image REF" in doc["current_source"]
    text = CliRunner().invoke(cli, ["audit", str(tmp_path)]).output
    assert "current not measured" in text and "projected after all fixes not measured" in text


def test_unmeasured_audit_renders_without_numbers() -> None:
    table = audit_table([], TargetInfo(kind="environment", ref="/venv/bin/python3",
                                       totals={"installed_bytes": 64 * MB}), unmeasured="not measured: why")
    assert table.current_bytes is None and table.projected_bytes is None
    assert "current not measured (not measured: why)" in render_terminal(table, width=200)
