"""Our target-marker graph agrees with pipdeptree's environment graph on a real venv."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from helpers import build_wheel, make_venv, pip_install
from packaging.utils import canonicalize_name

from depslim.graph import build_graph
from depslim.targets.environment import EnvironmentTarget


def test_edges_match_pipdeptree(tmp_path: Path) -> None:
    wheels = tmp_path / "wheels"
    build_wheel(wheels, "App-Core", requires=["Lib_A>=1", "lib-b; python_version >= '3'",
                                              "never-here; sys_platform == 'win32'", "opt; extra == 'x'"],
                extras=["x"])
    build_wheel(wheels, "lib_a", requires=["lib-c"])
    build_wheel(wheels, "lib-b")
    build_wheel(wheels, "lib-c")
    build_wheel(wheels, "opt")
    python = make_venv(tmp_path / "venv")
    pip_install(python, wheels, "app-core", "opt")
    target = EnvironmentTarget(python)
    ours = build_graph(list(target.distributions()), target.info().markers)
    out = subprocess.run(
        [sys.executable, "-m", "pipdeptree", "--python", str(python), "-o", "json"],
        capture_output=True, text=True, check=True,
    )
    theirs = {
        canonicalize_name(p["package"]["key"]): {canonicalize_name(d["key"]) for d in p["dependencies"]}
        for p in json.loads(out.stdout)
    }
    assert ours.requires["app-core"] == frozenset({"lib-a", "lib-b"})
    for name, deps in theirs.items():
        assert set(ours.requires.get(name, ())) == deps, name
