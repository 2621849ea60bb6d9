"""The report memo: a second `depslim analyze` on unchanged inputs replays the first one's bytes;
any change to what the first run read (a file's content, a new file, a requirement, an
environment variable) makes it analyze again. Real processes, real files, nothing stubbed."""

from __future__ import annotations

import json
import marshal
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.helpers import age, aged_example


def memo_env(cache: Path, **extra: str) -> dict[str, str]:
    """The suite's environment with the memo on, logging, in `cache` (and stable across pytest's
    phases: it changes PYTEST_CURRENT_TEST between fixture setup and the test)."""
    environ = {k: v for k, v in os.environ.items() if k not in ("DEPSLIM_NO_MEMO", "PYTEST_CURRENT_TEST")}
    environ.update({"DEPSLIM_CACHE_DIR": str(cache), "DEPSLIM_MEMO_LOG": "1", **extra})
    return environ


def run(project: Path, cache: Path, *extra: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "depslim", "analyze", str(project), "--format", "json", *extra],
        capture_output=True, text=True, env=memo_env(cache, **(env or {})), check=False,
    )


def memo_lines(result: subprocess.CompletedProcess[str]) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.startswith("memo: ")]


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return aged_example(tmp_path)


@pytest.fixture
def stored(project: Path, tmp_path: Path) -> tuple[Path, Path, str]:
    """A project whose first analysis was stored; returns (project, cache, its JSON report)."""
    cache = tmp_path / "cache"
    first = run(project, cache)
    assert first.returncode == 0, first.stderr
    assert memo_lines(first) == ["memo: miss (none stored)", memo_lines(first)[1]]
    assert memo_lines(first)[1].startswith("memo: stored (")
    return project, cache, first.stdout


def test_unchanged_inputs_replay_the_same_bytes(stored: tuple[Path, Path, str]) -> None:
    project, cache, report = stored
    second = run(project, cache)
    assert second.returncode == 0
    assert memo_lines(second)[0].startswith("memo: hit (")
    assert second.stdout == report
    fresh = run(project, cache, env={"DEPSLIM_NO_MEMO": "1"})
    assert memo_lines(fresh) == [] and fresh.stdout == report  # the replay is what a full run prints


def edit_module(project: Path) -> None:
    module = next(p for p in sorted(project.rglob("*.py")) if "tests" not in p.parts and p.stat().st_size > 0)
    module.write_text(module.read_text() + "\nimport ruamel_only_here_xyz\n")
    age(project)  # an old mtime again: only size and content moved


def test_an_edited_module_is_analyzed_again(stored: tuple[Path, Path, str]) -> None:
    project, cache, report = stored
    edit_module(project)
    again = run(project, cache)
    assert memo_lines(again)[0].startswith("memo: miss (") and "changed" in memo_lines(again)[0]
    assert again.stdout != report
    modules = {imp["module"] for imp in json.loads(again.stdout)["imports"]}
    assert "ruamel_only_here_xyz" in modules


def test_a_new_file_is_analyzed_again(stored: tuple[Path, Path, str]) -> None:
    project, cache, report = stored
    assert report
    package = next(p.parent for p in sorted(project.rglob("__init__.py")) if "tests" not in p.parts)
    (package / "late.py").write_text("import late_import_xyz\n")
    age(project)
    again = run(project, cache)
    assert memo_lines(again)[0].startswith("memo: miss (")
    assert "late_import_xyz" in {imp["module"] for imp in json.loads(again.stdout)["imports"]}


def test_an_edited_requirement_is_analyzed_again(stored: tuple[Path, Path, str]) -> None:
    project, cache, report = stored
    requirements = project / "requirements.txt"
    requirements.write_text(requirements.read_text() + "left-pad-xyz==1.0\n")
    age(project)
    again = run(project, cache)
    assert memo_lines(again)[0].startswith("memo: miss (")
    names = {d["name"] for d in json.loads(again.stdout)["distributions"]}
    assert "left-pad-xyz" in names and again.stdout != report


def test_environment_and_options_are_part_of_the_key(stored: tuple[Path, Path, str]) -> None:
    project, cache, report = stored
    other_env = run(project, cache, env={"DEPSLIM_SOME_SETTING": "x"})
    assert memo_lines(other_env)[0] == "memo: miss (none stored)"
    markdown = run(project, cache, "--format", "markdown")
    assert memo_lines(markdown)[0] == "memo: miss (none stored)" and markdown.stdout != report


def test_runs_that_write_elsewhere_or_opt_out_never_replay(stored: tuple[Path, Path, str]) -> None:
    project, cache, _ = stored
    out = project.parent / "out.json"
    for option in (["--no-cache"], ["-o", str(out)], [f"--output={out}", "--force"]):
        result = run(project, cache, *option)
        assert result.returncode == 0, result.stderr
        assert memo_lines(result) == [], option  # the memo is neither read nor written
    assert json.loads(out.read_text())["schema_version"]


def test_a_failed_run_is_never_stored(project: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    (project / "requirements.txt").write_text("torch==\n")
    age(project)
    for _ in range(2):
        bad = run(project, cache)
        assert bad.returncode == 2 and "requirements.txt" in bad.stderr
        assert "memo: not stored (exit 2)" in memo_lines(bad)


def test_a_run_whose_inputs_just_changed_is_not_stored(project: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    (project / "requirements.txt").touch()  # now: within the 2 s the stat cannot be trusted
    first = run(project, cache)
    assert any("changed within 2 s" in line for line in memo_lines(first))
    second = run(project, cache)
    assert memo_lines(second)[0] == "memo: miss (none stored)"


def run_image(archive: Path, cache: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "depslim", "image", str(archive), "--format", "json"],
                          capture_output=True, text=True, env=memo_env(cache), check=False)


def test_an_image_archive_replays_until_it_is_rewritten(tmp_path: Path) -> None:
    from tests.imagebuild import Image, dist_entries, image_config, layer_tar, write_docker_archive

    site = "/usr/local/lib/python3.11/site-packages"

    def write(payload: int) -> Path:
        layers = [layer_tar(dist_entries(site, "alpha", "1.0", {"alpha/__init__.py": "a" * payload}))]
        (tmp_path / "images").mkdir(exist_ok=True)
        archive = write_docker_archive(tmp_path / "images" / "img.tar", Image(layers, image_config(layers)))
        age(tmp_path / "images")
        return archive

    archive, cache = write(5000), tmp_path / "cache"
    first = run_image(archive, cache)
    assert first.returncode == 0, first.stderr
    assert memo_lines(first)[-1].startswith("memo: stored (")
    second = run_image(archive, cache)
    assert memo_lines(second)[0].startswith("memo: hit (") and second.stdout == first.stdout
    write(7000)  # `docker save` again: same path, other bytes
    third = run_image(archive, cache)
    assert memo_lines(third)[0].startswith("memo: miss (")
    sizes = {d["name"]: d["size_bytes"] for d in json.loads(third.stdout)["distributions"]}
    assert sizes["alpha"] > 7000 and third.stdout != first.stdout


def test_a_damaged_memo_is_a_miss_not_a_crash(stored: tuple[Path, Path, str]) -> None:
    project, cache, report = stored
    for memo in (cache / "memo").glob("*.marshal"):
        data = marshal.loads(memo.read_bytes())
        memo.write_bytes(marshal.dumps({"key": data["key"], "paths": ["x"], "stats": []}))
    again = run(project, cache)
    assert again.returncode == 0 and "Traceback" not in again.stderr
    assert memo_lines(again)[0] == "memo: miss (unreadable memo)" and again.stdout == report
    for memo in (cache / "memo").glob("*.marshal"):
        memo.write_bytes(b"\x00garbage")
    assert memo_lines(run(project, cache))[0] == "memo: miss (none stored)"


def test_bytecode_maps_to_its_source_so_an_edited_module_is_seen() -> None:
    from depslim.memo import source_of_bytecode

    assert source_of_bytecode("/x/pkg/__pycache__/mod.cpython-311.pyc") == "/x/pkg/mod.py"
    assert source_of_bytecode("/x/pkg/__pycache__/mod.cpython-311.opt-1.pyc") == "/x/pkg/mod.py"
    assert source_of_bytecode("/x/pkg/legacy.pyc") == "/x/pkg/legacy.pyc"  # sourceless: itself


def test_a_recorded_import_fingerprints_the_module_source(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Importing a module with a current .pyc opens only the .pyc, and the package's folder was listed
    before the run (as depslim's own is): the memo must still fingerprint the .py."""
    import importlib
    import py_compile

    from depslim.memo import Recorder

    package = tmp_path / "src" / "memo_probe_pkg"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "probe.py").write_text("VALUE = 1\n")
    (package / "other.py").write_text("")
    age(tmp_path / "src")
    for module in ("__init__.py", "probe.py", "other.py"):  # after aging: a .pyc records its source's mtime
        py_compile.compile(str(package / module))
    age(package / "__pycache__")
    os.utime(package, (time.time() - 60,) * 2)
    monkeypatch.setenv("DEPSLIM_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.syspath_prepend(str(tmp_path / "src"))
    importlib.import_module("memo_probe_pkg.other")  # the package's folder is listed now, before
    recorder = Recorder(["analyze", "probe"])
    try:
        importlib.import_module("memo_probe_pkg.probe")
    finally:
        recorder.finish(0)
    assert not any(p.endswith("probe.py") for p in recorder.opened)  # only the bytecode was opened
    (memo,) = (tmp_path / "cache" / "memo").glob("*.marshal")
    assert str(package / "probe.py") in marshal.loads(memo.read_bytes())["paths"]


def test_a_memo_problem_never_stops_the_command(project: Path, tmp_path: Path) -> None:
    """The working folder is gone (os.getcwd() fails): no replay, no record, the report as usual."""
    gone = tmp_path / "gone"
    gone.mkdir()
    script = f'cd "{gone}" && rmdir "{gone}" && exec "{sys.executable}" -m depslim analyze "{project}" --format json'
    result = subprocess.run(["sh", "-c", script], capture_output=True, text=True, env=memo_env(tmp_path / "cache"),
                            check=False)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["project"] == str(project)
    assert [line for line in memo_lines(result) if line.startswith("memo: off (")]
    assert "Traceback" not in result.stderr
