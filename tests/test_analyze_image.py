"""`depslim analyze --image`: verdicts, sizes and cut list measured inside an image archive."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from helpers import write_tree
from imagebuild import Image, Whiteout, dist_entries, layer_tar, write_docker_archive

SITE = "/usr/local/lib/python3.11/site-packages"


def test_analyze_measures_in_the_image(tmp_path: Path) -> None:
    base = layer_tar(
        [
            *dist_entries(SITE, "webframe", files={"webframe/__init__.py": b"w" * 5000}, requires=["helperlib"]),
            *dist_entries(SITE, "helperlib", files={"helperlib.py": b"h" * 700}),
            *dist_entries(SITE, "notebookish", files={"notebookish/__init__.py": b"n" * 9000},
                          requires=["plotkit"]),
            *dist_entries(SITE, "plotkit", files={"plotkit/__init__.py": b"p" * 3000}),
        ]
    )
    # A later layer deletes part of plotkit: its final size must not count the deleted file.
    extra = layer_tar([*dist_entries(SITE, "cachejunk", files={"cachejunk/big.bin": b"x" * 20_000})])
    delete = layer_tar([Whiteout(f"{SITE}/cachejunk/big.bin")])
    archive = write_docker_archive(tmp_path / "img.tar", Image([base, extra, delete]))
    project = write_tree(tmp_path / "proj", {
        "requirements.txt": "webframe\nnotebookish\nplotkit\n",
        "src/app/__init__.py": "",
        "src/app/main.py": "import webframe\n",
    })
    out = tmp_path / "r.json"
    result = subprocess.run(
        [sys.executable, "-m", "depslim", "analyze", str(project), "--image", str(archive), "-f", "json",
         "-o", str(out), "--no-cache"], capture_output=True, text=True,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(out.read_text())
    assert report["target"]["kind"] == "image" and report["target"]["python_version"].startswith("3.11")
    dists = {d["name"]: d for d in report["distributions"]}
    assert dists["webframe"]["verdict"] == "runtime"
    assert dists["notebookish"]["verdict"] == "unused"
    # plotkit is declared but only notebookish needs it: it goes with notebookish.
    assert dists["plotkit"]["verdict"] == "unused"
    # Bytes are the files present in the final filesystem (RECORD sizes of what is there).
    assert dists["helperlib"]["size_bytes"] > 700 and dists["webframe"]["retained_bytes"] > 5000
    assert dists["cachejunk"]["size_bytes"] < 20_000  # the whited-out file is gone from the merged view
    cut = {f["subject"]: f for f in report["findings"] if f["code"].startswith("cut-")}
    assert set(cut) == {"notebookish", "plotkit"}
    # plotkit is itself declared, so cutting notebookish alone frees only notebookish; the cut
    # list as a whole frees both.
    assert cut["notebookish"]["savings_bytes"] == dists["notebookish"]["size_bytes"]
    both = dists["notebookish"]["size_bytes"] + dists["plotkit"]["size_bytes"]
    assert report["summary"]["cut_bytes"] == both
    assert any(f["code"] == "deleted-in-later-layer" for f in report["findings"])
