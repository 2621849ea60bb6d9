"""Content-keyed scan cache: a warm run parses nothing and returns the same result; changes re-parse."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

import depslim.imports as imports_pkg
from depslim.imports import POOL_MIN_FILES, scan_project, scan_project_with_stats
from depslim.model import SignalPatterns
from tests.helpers import age, aged_example


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return aged_example(tmp_path)


def test_warm_run_reuses_everything_and_is_equal(project: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    patterns = SignalPatterns(attributes=frozenset({"pandas.read_parquet"}), strings=("^s3://",))
    cold, cold_stats = scan_project_with_stats(project, cache_dir=cache, patterns=patterns)
    assert cold_stats.parsed == cold_stats.files == 12 and cold_stats.reused == 0
    assert cold_stats.cache_written and any(cache.iterdir())
    warm, warm_stats = scan_project_with_stats(project, cache_dir=cache, patterns=patterns)
    assert warm == cold
    assert warm_stats.parsed == 0 and warm_stats.reused == 12 and warm_stats.hashed == 0
    assert not warm_stats.cache_written  # nothing changed: nothing rewritten


def test_changed_file_is_reparsed_touched_file_is_not(project: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    scan_project_with_stats(project, cache_dir=cache)
    serve = project / "src" / "churn" / "serve.py"
    serve.write_text(serve.read_text() + "import redis\n")
    age(serve, 30)
    (project / "src" / "churn" / "db.py").touch()  # new mtime, same content
    result, stats = scan_project_with_stats(project, cache_dir=cache)
    assert stats.parsed == 1 and stats.hashed == 2 and stats.reused == 11
    assert any(r.module == "redis" and r.location.path == "src/churn/serve.py" for r in result.imports)
    assert result == scan_project(project)  # same as a scan without any cache


def test_recent_mtime_is_rehashed_not_trusted(project: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    scan_project_with_stats(project, cache_dir=cache)
    train = project / "src" / "churn" / "train.py"
    before = train.stat()
    train.write_text(train.read_text().replace("churn.db", "churn.dx"))  # same size
    os.utime(train, ns=(before.st_atime_ns, before.st_mtime_ns))  # and same mtime
    result, stats = scan_project_with_stats(project, cache_dir=cache)
    # The stat matches, but the mtime is old: trusted (like git). Make it racy and it is rehashed.
    assert stats.parsed == 0
    now = time.time_ns()
    os.utime(train, ns=(now, now))
    result, stats = scan_project_with_stats(project, cache_dir=cache)
    assert stats.parsed == 1
    assert any(r.module == "churn.dx" for r in result.imports)


def test_patterns_are_part_of_the_key(project: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    scan_project_with_stats(project, cache_dir=cache)
    patterns = SignalPatterns(strings=("^postgresql",))
    result, stats = scan_project_with_stats(project, cache_dir=cache, patterns=patterns)
    assert stats.parsed == 12
    assert [s.location.path for s in result.signals] == ["src/churn/db.py"]


def test_unwritable_or_corrupt_cache_never_fails(project: Path, tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("x")
    result, stats = scan_project_with_stats(project, cache_dir=blocker / "cache")
    assert stats.parsed == 12 and not stats.cache_written
    assert result == scan_project(project)
    cache = tmp_path / "cache"
    scan_project_with_stats(project, cache_dir=cache)
    for path in cache.iterdir():
        path.write_bytes(b"\x00garbage")
    again, stats = scan_project_with_stats(project, cache_dir=cache)
    assert again == result and stats.parsed == 12


def test_process_pool_gives_the_same_result(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "many"
    for i in range(POOL_MIN_FILES + 10):
        path = root / "pkg" / f"m{i}.py"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"import dep{i}\nfrom . import m{(i + 1) % 5}\n")
    (root / "pkg" / "__init__.py").write_text("")
    result, stats = scan_project_with_stats(root)
    if len(os.sched_getaffinity(0)) > 1:
        assert stats.workers >= 2
    monkeypatch.setattr(imports_pkg, "POOL_MIN_FILES", 10**9)
    serial, serial_stats = scan_project_with_stats(root)
    assert serial_stats.workers == 0 and serial == result
    third_party = sorted((r.location.path, r.module) for r in result.imports if not r.first_party)
    assert third_party == sorted((f"pkg/m{i}.py", f"dep{i}") for i in range(POOL_MIN_FILES + 10))
    assert {r.module for r in result.imports if r.first_party} == {"pkg"}


def test_alongside_starts_once_the_workers_parse_and_never_without_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The caller's side work may start a thread only after the pool has forked."""
    root = tmp_path / "many"
    for i in range(POOL_MIN_FILES + 10):
        path = root / "pkg" / f"m{i}.py"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"import dep{i}\n")
    calls: list[int] = []
    _, stats = scan_project_with_stats(root, alongside=lambda: calls.append(stats_workers()))
    if len(os.sched_getaffinity(0)) > 1:
        assert stats.workers >= 2 and len(calls) == 1
        assert calls[0] >= 2, "called before the worker processes existed"
    monkeypatch.setattr(imports_pkg, "POOL_MIN_FILES", 10**9)
    calls.clear()
    _, serial = scan_project_with_stats(root, alongside=lambda: calls.append(0))
    assert serial.workers == 0 and calls == []


def stats_workers() -> int:
    """Live child processes of this one (the pool's workers, once forked)."""
    import multiprocessing

    return len(multiprocessing.active_children())
