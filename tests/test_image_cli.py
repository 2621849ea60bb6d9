"""`depslim image`: JSON document, Markdown, terminal tables, output file handling."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from depslim.cli import cli
from tests.imagebuild import File, Image, Whiteout, dist_entries, image_config, layer_tar, write_docker_archive

SITE = "/usr/local/lib/python3.11/site-packages"


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    layers = [
        layer_tar([*dist_entries(SITE, "alpha", "1.0", {"alpha/__init__.py": "a" * 5000, "common.py": "c" * 10}),
                   *dist_entries(SITE, "beta", "2.0", {"beta.py": "b" * 100, "common.py": "c" * 10}),
                   File("/root/.cache/pip/blob", b"p" * 3000)]),
        layer_tar([Whiteout("/root/.cache/pip")]),
    ]
    config = image_config(layers, history=["/bin/sh -c pip install alpha beta", "/bin/sh -c rm -rf /root/.cache/pip"])
    return write_docker_archive(tmp_path_factory.mktemp("cli") / "img.tar", Image(layers, config))


def test_json_document_is_stable_and_complete(archive: Path) -> None:
    result = CliRunner().invoke(cli, ["image", str(archive), "--format", "json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    assert set(doc) >= {"schema_version", "target", "distributions", "layers", "findings", "totals"}
    assert doc["target"]["kind"] == "image"
    assert doc["distributions"][0]["name"] == "alpha"  # largest first
    beta = next(d for d in doc["distributions"] if d["name"] == "beta")
    assert beta["shared_bytes"] == 10  # common.py is also alpha's
    assert doc["layers"][1]["instruction"] == "RUN rm -rf /root/.cache/pip"
    deleted = next(f for f in doc["findings"] if f["code"] == "deleted-in-later-layer")
    assert deleted["savings_bytes"] == 3000 and deleted["owner"] == "DevOps"
    assert deleted["id"] == "deleted-in-later-layer:/root/.cache/pip"
    assert doc["totals"]["waste_bytes"] >= 3000


def test_terminal_and_markdown_show_tables(archive: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["image", str(archive)])
    assert result.exit_code == 0, result.output
    for text in ("Layers", "Distributions by size", "Findings", "alpha", "rm -rf /root/.cache/pip"):
        assert text in result.output
    out = tmp_path / "report.md"
    result = CliRunner().invoke(cli, ["image", str(archive), "-f", "markdown", "-o", str(out)])
    assert result.exit_code == 0
    text = out.read_text()
    assert "## Findings" in text and "| alpha | 1.0 |" in text
    again = CliRunner().invoke(cli, ["image", str(archive), "-o", str(out)])  # .md: markdown, no -f
    assert again.exit_code == 0 and out.read_text() == text  # depslim's own stamped report: replaced
    out.write_text(text + "my notes\n")  # edited by hand: no longer depslim's
    edited = CliRunner().invoke(cli, ["image", str(archive), "-o", str(out)])
    assert edited.exit_code == 2 and "--force" in edited.output


def test_missing_reference_exits_2(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["image", str(tmp_path / "nope.tar")])
    assert result.exit_code == 2
    assert "Traceback" not in result.output
