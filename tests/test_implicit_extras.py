"""A feature that needs an extra (`from ray import serve` needs `ray[serve]`) keeps every package the
extra adds, read from the installed metadata, in requirements-base: a base that says only `ray` would
rebuild an image whose Serve proxy fails at import. Real wheels in a real venv."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import build_wheel, make_venv, pip_install, write_tree

SERVE_APP = (
    "from ray import serve\n\n\n"
    "@serve.deployment\n"
    "class Model:\n"
    "    def __call__(self, request):\n"
    "        return 'ok'\n\n\n"
    "serve.run(Model.bind())\n"
)


@pytest.fixture(scope="module")
def python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("extras")
    wheels = root / "wheels"
    build_wheel(wheels, "ray", "2.9.0", files={"ray/__init__.py": "", "ray/serve/__init__.py": ""},
                extras=["serve"], requires=["click", 'fastapi ; extra == "serve"',
                                            'uvicorn[standard] ; extra == "serve"',
                                            'ray[default] ; extra == "serve"'])
    build_wheel(wheels, "fastapi", "0.110.0", requires=["starlette"])
    build_wheel(wheels, "starlette", "0.36.0")
    build_wheel(wheels, "uvicorn", "0.29.0", extras=["standard"], requires=['uvloop ; extra == "standard"'])
    build_wheel(wheels, "uvloop", "0.19.0")
    build_wheel(wheels, "click", "8.1.7")
    python = make_venv(root / "venv")
    pip_install(python, wheels, "ray[serve]==2.9.0")
    return python


def _split(root: Path, python: Path) -> list[str]:
    result = subprocess.run([sys.executable, "-m", "depslim", "split", str(root), "--python", str(python)],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    text = (root / "requirements-base.txt").read_text()
    return [line.split("  #")[0].strip() for line in text.splitlines() if line and not line.startswith("#")]


def test_serve_keeps_the_extras_packages_in_base(python: Path, tmp_path: Path) -> None:
    root = write_tree(tmp_path / "app", {"requirements.txt": "ray\n", "app.py": SERVE_APP})
    base = _split(root, python)
    # the extra's packages, and the extra they ask for in turn (uvicorn[standard] -> uvloop)
    for pin in ("ray==2.9.0", "fastapi==0.110.0", "uvicorn==0.29.0", "uvloop==0.19.0"):
        assert pin in base
    report = subprocess.run([sys.executable, "-m", "depslim", "analyze", str(root), "--python", str(python),
                             "-f", "json"], capture_output=True, text=True)
    assert report.returncode == 0, report.stderr
    needs = {f["subject"]: f for f in json.loads(report.stdout)["findings"] if f["code"] == "undeclared-implicit"}
    assert {"fastapi", "uvicorn", "uvloop"} <= set(needs)
    evidence = needs["fastapi"]["evidence"]
    assert [(e["path"], e["line"]) for e in evidence] == [("app.py", 4), ("app.py", 10)]  # @serve.deployment, serve.run
    assert all("ray[serve] requires fastapi" in e["detail"] for e in evidence)


def test_without_serve_the_extra_is_not_kept(python: Path, tmp_path: Path) -> None:
    root = write_tree(tmp_path / "app", {"requirements.txt": "ray\n", "app.py": "import ray\nray.init()\n"})
    base = _split(root, python)
    assert "ray==2.9.0" in base
    assert not any(line.startswith(("fastapi", "uvicorn", "uvloop")) for line in base)
