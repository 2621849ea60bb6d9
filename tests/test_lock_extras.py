"""A lock keeps the extras dependents ask for on the pin: `evidently` requires `pandas[parquet]`, and
`pip install --require-hashes` refuses `pandas[parquet]>=1.3.5` when the lock's line says only
`pandas==2.3.1` (a real slim build failed that way). Constraints never carry extras (pip refuses them)."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
from pathlib import Path

from helpers import build_wheel

from depslim.generate.lock import InputSpec, Pin, parse_compiled, render_lock
from depslim.generate.stamp import split_stamp

COMPILED = """\
evidently==0.7.10 \\
    --hash=sha256:aaaa
    # via -r requirements.txt
pandas[parquet,performance]==2.3.1 \\
    --hash=sha256:bbbb \\
    --hash=sha256:cccc
    # via evidently
pyarrow==21.0.0 \\
    --hash=sha256:dddd
    # via pandas
"""


def test_extras_stay_on_the_pin_and_leave_the_constraint() -> None:
    pins = {p.name: p for p in parse_compiled(COMPILED, "out.txt")}
    pandas = pins["pandas"]
    assert pandas.requirement == "pandas[parquet,performance]==2.3.1"
    assert pandas.extras == ("parquet", "performance")
    assert pandas.constraint == "pandas==2.3.1"
    assert pins["pyarrow"].requirement == "pyarrow==21.0.0" and pins["pyarrow"].extras == ()


def test_the_same_pin_listed_twice_keeps_both_extras() -> None:
    text = "x[a]==1 \\\n    --hash=sha256:aa\nx[b]==1 \\\n    --hash=sha256:aa\n"
    (pin,) = parse_compiled(text, "out.txt")
    assert pin.requirement == "x[a,b]==1"


def _sha256(path: Path) -> str:
    return "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_lock_with_extras_installs_with_the_bundled_pip_of_a_fresh_venv(tmp_path: Path) -> None:
    """The pip a slim image's venv carries (the interpreter's bundled one; Debian bookworm's is 23.0.1)
    let a dependent's plain `base<3` pick base 2.0 beside the pinned `base[x]==1.0`, then refused it
    under --require-hashes. The lock writes the plain pin too, so every pip installs exactly the pins."""
    wheels = tmp_path / "wheels"
    for version in ("1.0", "2.0"):
        build_wheel(wheels, "base", version, extras=["x"], requires=['dep-x; extra == "x"'])
    build_wheel(wheels, "dep-x", "1.0")
    build_wheel(wheels, "app", "1.0", requires=["base<3"])
    wheel = {p.name.split("-")[0]: p for p in wheels.glob("*-1.0-*.whl")}
    pins = [Pin("app", "app==1.0", "1.0", (_sha256(wheel["app"]),)),
            Pin("base", "base[x]==1.0", "1.0", (_sha256(wheel["base"]),), extras=("x",)),
            Pin("dep-x", "dep-x==1.0", "1.0", (_sha256(wheel["dep_x"]),))]
    spec = InputSpec(root=tmp_path, options=(), requirements=(), normalized="")
    lock = tmp_path / "requirements.lock.txt"
    lock.write_text(render_lock(spec, "requirements.txt", pins, "3.11", "linux", "pip-tools", "0" * 64))
    python = shutil.which("python3", path="/usr/bin:/bin") or sys.executable
    subprocess.run([python, "-m", "venv", str(tmp_path / "venv")], check=True)
    pip = [str(tmp_path / "venv/bin/python"), "-m", "pip", "install", "--quiet", "--no-index",
           "--no-cache-dir", "--disable-pip-version-check", "--find-links", str(wheels), "--require-hashes"]
    env = {"PATH": "/usr/bin:/bin", "PIP_CONFIG_FILE": "/dev/null"}
    result = subprocess.run([*pip, "-r", str(lock)], capture_output=True, text=True, env=env)
    assert result.returncode == 0, result.stderr
    shown = subprocess.run([str(tmp_path / "venv/bin/python"), "-c",
                            "import importlib.metadata as m; print(m.version('base'), m.version('dep-x'))"],
                           capture_output=True, text=True, check=True).stdout.split()
    assert shown == ["1.0", "1.0"]
    assert parse_compiled(split_stamp(lock.read_text())[1], "lock")[1].requirement == "base[x]==1.0"


def test_a_failed_resolution_names_the_reason_not_pips_ignored_versions_note() -> None:
    """pip's first ERROR line lists releases skipped for another Python; the user needs the next one."""
    from depslim.generate.lock import _failure_line

    stderr = ("ERROR: Ignored the following versions that require a different python version: 1.21.2 "
              "Requires-Python >=3.7,<3.11\n"
              "ERROR: Could not find a version that satisfies the requirement xgboost-cpu==1.7.6 "
              "(from versions: 2.0.0, 2.1.0)\n"
              "ERROR: No matching distribution found for xgboost-cpu==1.7.6\n")
    assert _failure_line("pip-tools", stderr).startswith(
        "ERROR: Could not find a version that satisfies the requirement xgboost-cpu==1.7.6")
