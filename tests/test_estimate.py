"""`depslim estimate`: real pip resolution against a real 127.0.0.1 index, real range reads."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from helpers import build_wheel
from test_wheelsize import big_wheel, serve_index, zip_sum

from depslim.bytecode import ratio_for
from depslim.cli import cli
from depslim.errors import InputError
from depslim.estimate import estimate_requirements, pip_platforms

pytestmark = pytest.mark.index


@pytest.fixture(scope="module")
def wheels(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("estimate-wheels")
    big_wheel(root, "heavy", "1.0")
    build_wheel(root, "app", "1.0", requires=["heavy>=1", 'winonly; sys_platform == "win32"'])
    build_wheel(root, "winonly", "1.0")
    build_wheel(root, "native", "1.0", tag="cp311-cp311-manylinux_2_28_x86_64",
                files={"native/__init__.py": "x\n", "native/_x.so": b"\1" * 50_000})
    build_wheel(root, "native", "1.0", tag="cp311-cp311-manylinux_2_28_aarch64",
                files={"native/__init__.py": "x\n", "native/_x.so": b"\1" * 90_000})
    return root


def test_estimate_sums_central_directories_for_the_target_platform(wheels: Path, tmp_path: Path) -> None:
    req = tmp_path / "requirements.txt"
    req.write_text("app==1.0\nnative\n")
    with serve_index(wheels) as index:
        est = estimate_requirements(req, index_url=index.url, isolated=True)
        arm = estimate_requirements(req, index_url=index.url, isolated=True, platform="linux/arm64")
    sizes = {p.name: p.files_bytes for p in est.packages}
    assert set(sizes) == {"app", "heavy", "native"}  # winonly's marker is false on linux
    assert sizes["heavy"] == zip_sum(next(wheels.glob("heavy-*.whl")))
    assert sizes["native"] == zip_sum(next(wheels.glob("native-*x86_64.whl")))
    assert {p.name: p.files_bytes for p in arm.packages}["native"] == zip_sum(
        next(wheels.glob("native-*aarch64.whl")))
    assert est.files_bytes == sum(sizes.values())
    assert est.installed_bytes == est.files_bytes + est.bytecode_bytes
    assert not est.estimated and est.packages[0].name == "heavy"  # biggest first
    assert 0 < est.fetched_bytes < 0.1 * est.wheel_bytes


def test_cli_json_and_bad_input(wheels: Path, tmp_path: Path) -> None:
    req = tmp_path / "requirements.txt"
    req.write_text("app==1.0\n")
    runner = CliRunner()
    with serve_index(wheels) as index:
        ok = runner.invoke(cli, ["estimate", str(req), "--index-url", index.url, "--isolated", "--format", "json"])
        assert ok.exit_code == 0, ok.output
        doc = json.loads(ok.output)
        assert doc["platform"] == "linux/amd64" and doc["python"] == "3.11"
        assert {p["name"] for p in doc["packages"]} == {"app", "heavy"}
        assert all(p["estimate"] is False for p in doc["packages"])
        md = runner.invoke(cli, ["estimate", str(req), "--index-url", index.url, "--isolated", "-f", "markdown"])
        assert md.exit_code == 0 and "| heavy | 1.0 |" in md.output
        req.write_text("does-not-exist==9\n")
        bad = runner.invoke(cli, ["estimate", str(req), "--index-url", index.url, "--isolated"])
    assert bad.exit_code == 2 and "requirements.txt" in bad.output and "Traceback" not in bad.output
    missing = runner.invoke(cli, ["estimate", str(tmp_path / "nope.txt")])
    assert missing.exit_code == 2 and "nope.txt" in missing.output


def test_missing_file_is_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError):
        estimate_requirements(tmp_path / "none.txt")


def test_pip_platforms_cover_manylinux_and_linux() -> None:
    plats = pip_platforms("linux/amd64", "3.11")
    assert "manylinux_2_28_x86_64" in plats and "manylinux2014_x86_64" in plats and plats[-1] == "linux_x86_64"


# .py members of known size; `shipped.py` comes with its own 3.11 bytecode, which pip overwrites in place
_PY = {"pysrc/__init__.py": "A = 1\n" * 200, "pysrc/core.py": "def f(x):\n    return x\n" * 400,
       "pysrc/shipped.py": "B = 2\n" * 100}
_OTHER: dict[str, str | bytes] = {"pysrc/__pycache__/shipped.cpython-311.pyc": b"\0" * 700,
                                  "pysrc/table.bin": b"\1" * 9_000}


def test_estimate_adds_the_bytecode_pip_compiles_as_ratio_times_py_bytes(tmp_path: Path) -> None:
    """Without the bytecode term the total is the central directory sum alone, ~25% under what
    `depslim image` measures from RECORD on the same install."""
    build_wheel(tmp_path / "w", "pysrc", "1.0", files={**_PY, **_OTHER})
    req = tmp_path / "requirements.txt"
    req.write_text("pysrc==1.0\n")
    compiled = len(_PY["pysrc/__init__.py"]) + len(_PY["pysrc/core.py"])  # not shipped.py: its .pyc is in the wheel
    with serve_index(tmp_path / "w") as index:
        est = estimate_requirements(req, index_url=index.url, isolated=True)
        bare = estimate_requirements(req, index_url=index.url, isolated=True, compile_pyc=False)
        runner = CliRunner()
        doc = json.loads(runner.invoke(cli, ["estimate", str(req), "--index-url", index.url, "--isolated",
                                             "-f", "json"]).output)
        md = runner.invoke(cli, ["estimate", str(req), "--index-url", index.url, "--isolated", "-f", "markdown"])
        off = json.loads(runner.invoke(cli, ["estimate", str(req), "--index-url", index.url, "--isolated",
                                             "--no-compile", "-f", "json"]).output)
    (pkg,) = est.packages
    ratio = ratio_for("3.11")
    assert ratio.measured_on == "3.11"
    assert pkg.files_bytes == zip_sum(next((tmp_path / "w").glob("pysrc-*.whl")))
    assert pkg.bytecode_bytes == round(ratio.ratio * compiled) > 0
    assert pkg.installed_bytes == pkg.files_bytes + pkg.bytecode_bytes == est.installed_bytes
    assert est.bytecode_bytes == pkg.bytecode_bytes and est.bytecode == ratio
    assert bare.bytecode is None and bare.bytecode_bytes == 0 and bare.installed_bytes == pkg.files_bytes
    assert doc["installed_bytes"] == doc["files_bytes"] + doc["bytecode_bytes"] == est.installed_bytes
    assert doc["bytecode_estimated"] is True and doc["bytecode"]["ratio"] == ratio.ratio
    assert doc["packages"][0]["bytecode_bytes"] == pkg.bytecode_bytes
    assert doc["packages"][0]["bytecode_estimated"] is True
    assert off["bytecode_bytes"] == 0 and off["bytecode_estimated"] is False
    assert off["installed_bytes"] == pkg.files_bytes
    assert md.exit_code == 0 and "of bytecode pip writes (est.)" in md.output


def test_a_path_two_wheels_install_counts_once_in_the_total(tmp_path: Path) -> None:
    """mlflow and mlflow-skinny both ship `mlflow/`: one file on disk, so the total (the same
    concept as `image`'s RECORD bytes) counts it once, its bytecode too; package rows keep their own."""
    shared = {"shared/__init__.py": "S = 1\n" * 500, "shared/blob.bin": b"\2" * 20_000}
    build_wheel(tmp_path / "w", "fat", "1.0", files={**shared, "fat/__init__.py": "F = 1\n"},
                requires=["skinny==1.0"])
    build_wheel(tmp_path / "w", "skinny", "1.0", files={**shared, "skinny/__init__.py": "K = 1\n"})
    req = tmp_path / "requirements.txt"
    req.write_text("fat==1.0\n")
    with serve_index(tmp_path / "w") as index:
        est = estimate_requirements(req, index_url=index.url, isolated=True)
        doc = json.loads(CliRunner().invoke(cli, ["estimate", str(req), "--index-url", index.url,
                                                  "--isolated", "-f", "json"]).output)
    sizes = {p.name: p for p in est.packages}
    assert set(sizes) == {"fat", "skinny"}
    for name in ("fat", "skinny"):
        assert sizes[name].files_bytes == zip_sum(next((tmp_path / "w").glob(f"{name}-*.whl")))
    shared_files = len(shared["shared/__init__.py"]) + 20_000
    shared_pyc = round(ratio_for("3.11").ratio * len(shared["shared/__init__.py"]))
    assert est.shared_files_bytes == shared_files and est.shared_bytecode_bytes == shared_pyc
    assert est.files_bytes == sum(p.files_bytes for p in est.packages) - shared_files
    assert est.bytecode_bytes == sum(p.bytecode_bytes for p in est.packages) - shared_pyc
    assert est.installed_bytes == est.files_bytes + est.bytecode_bytes
    assert est.installed_bytes == sum(p.installed_bytes for p in est.packages) - est.shared_bytes
    assert doc["installed_bytes"] == est.installed_bytes and doc["shared_bytes"] == shared_files + shared_pyc
    assert doc["shared_paths"] == 2
