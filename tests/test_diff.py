"""diffing: two Reports or two pin files → DiffReport, on hand-built records and real files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from test_diff_factory import MB, dist, finding, imported, report, torch_base, torch_head

from depslim.diffing import (
    ADDED,
    DOWNGRADED,
    REBUILT,
    REMOVED,
    SWAPPED,
    UNMEASURED,
    UPGRADED,
    diff_pins,
    diff_reports,
    read_pins,
    split_range,
)
from depslim.errors import InputError
from depslim.model import Verdict


def test_added_cuda_torch_and_jupyter_with_evidence_line() -> None:
    diff = diff_reports(torch_base(), torch_head(), swap_pairs=())
    kinds = {c.name: c.kind for c in diff.changes}
    assert kinds == {"torch": ADDED, "nvidia-cublas-cu12": ADDED, "jupyter": ADDED}
    torch = next(c for c in diff.changes if c.name == "torch")
    assert torch.delta == 700 * MB and torch.cuda and torch.module == "torch"
    assert diff.total_delta == (700 + 510 + 2) * MB
    # nvidia-cublas is credited to torch, which pulls it in
    top = diff.contributions[0]
    assert top.change.name == "torch" and top.delta == 1210 * MB and top.brings == ("nvidia-cublas-cu12",)
    assert diff.headline == (
        "This PR adds 1.21 GB: torch 2.2.2 (+CUDA) +1.21 GB via `import torch` in `src/pipeline/train.py:4`; "
        "jupyter 1.0.0 +2.00 MB, declared in `requirements.txt:3` (dev-only)."
    )


def test_single_contributor_headline_matches_the_issue_wording() -> None:
    head = report([d for d in torch_head().distributions if d.name != "jupyter"])
    diff = diff_reports(torch_base(), head, swap_pairs=())
    assert diff.headline == (
        "This PR adds 1.21 GB: torch 2.2.2 (+CUDA) via `import torch` in `src/pipeline/train.py:4`."
    )


def test_reverse_diff_removes_and_resolved_findings() -> None:
    base = report(list(torch_head().distributions), findings=[finding("cut-dev-only", "jupyter", 2 * MB)])
    head = report(list(torch_base().distributions), findings=[finding("pip-cache", "/root/.cache", MB)])
    diff = diff_reports(base, head, swap_pairs=())
    assert {c.name: c.kind for c in diff.changes}["torch"] == REMOVED
    assert diff.headline.startswith("This PR removes 1.21 GB: torch 2.2.2 removed (+CUDA) −1.21 GB")
    assert [f.id for f in diff.resolved_findings] == ["cut-dev-only:jupyter"]
    assert [f.id for f in diff.new_findings] == ["pip-cache:/root/.cache"]


def test_swap_upgrade_downgrade_rebuild() -> None:
    where = ["requirements.txt:1"]
    base = report([
        dist("mlflow", "2.12.1", 640 * MB, verdict=Verdict.RUNTIME, declared_at=where),
        dist("numpy", "1.26.4", 40 * MB, verdict=Verdict.RUNTIME, declared_at=["requirements.txt:2"]),
        dist("pandas", "2.2.1", 60 * MB, verdict=Verdict.RUNTIME, declared_at=["requirements.txt:3"]),
        dist("torch", "2.2.2+cu121", 4700 * MB, verdict=Verdict.RUNTIME, declared_at=["requirements.txt:4"]),
    ], kind="image")
    head = report([
        dist("mlflow-skinny", "2.12.1", 63 * MB, verdict=Verdict.RUNTIME, declared_at=where),
        dist("numpy", "2.0.0", 45 * MB, verdict=Verdict.RUNTIME, declared_at=["requirements.txt:2"]),
        dist("pandas", "2.1.0", 58 * MB, verdict=Verdict.RUNTIME, declared_at=["requirements.txt:3"]),
        dist("torch", "2.2.2+cpu", 740 * MB, verdict=Verdict.RUNTIME, declared_at=["requirements.txt:4"]),
    ], kind="image")
    diff = diff_reports(base, head, swap_pairs=())
    by = {c.name: c for c in diff.changes}
    assert by["mlflow-skinny"].kind == SWAPPED and by["mlflow-skinny"].swapped_from == "mlflow"
    assert by["mlflow-skinny"].delta == -577 * MB
    assert by["numpy"].kind == UPGRADED and by["numpy"].delta == 5 * MB
    assert by["pandas"].kind == DOWNGRADED
    assert by["torch"].kind == REBUILT and by["torch"].delta == -3960 * MB
    assert diff.changes[0].name == "torch"  # biggest change first
    assert diff.headline.startswith("This PR removes 4.53 GB: torch 2.2.2+cu121 → 2.2.2+cpu −3.96 GB")
    assert "mlflow → mlflow-skinny 2.12.1 −577.0 MB" in diff.headline


def test_no_change() -> None:
    diff = diff_reports(torch_base(), torch_base(), swap_pairs=())
    assert diff.changes == () and diff.headline == "No dependency changes." and diff.total_delta == 0


def test_pins_from_requirement_and_lock_files(tmp_path: Path) -> None:
    base = tmp_path / "base.txt"
    base.write_text("# base\n--index-url https://pypi.org/simple\npandas==2.2.1\nmlflow==2.12.1  # tracking\n"
                    "numpy==1.26.4 \\\n    --hash=sha256:abc \\\n    --hash=sha256:def\n")
    head = tmp_path / "head.lock.txt"
    head.write_text("pandas==2.2.1\nmlflow-skinny==2.12.1\nnumpy==2.0.0 --hash=sha256:123\n"
                    "torch==2.2.2 ; sys_platform == 'linux'\n")
    pins = read_pins(base)
    assert pins["numpy"].version == "1.26.4" and pins["numpy"].location.line == 5
    diff = diff_pins(read_pins(base), read_pins(head), base_label="base.txt", head_label="head.lock.txt",
                     swap_pairs=())
    assert {c.name: c.kind for c in diff.changes} == {"mlflow-skinny": SWAPPED, "numpy": UPGRADED, "torch": ADDED}
    assert not diff.sizes_known and all(c.delta is None for c in diff.changes)
    assert diff.headline.startswith("This PR changes 3 pin(s) (sizes unknown): ")
    assert "sizes unknown" in diff.notes[0]


def test_pylock_pins(tmp_path: Path) -> None:
    lock = tmp_path / "pylock.toml"
    lock.write_text('lock-version = "1.0"\n[[packages]]\nname = "Torch"\nversion = "2.2.2"\n')
    assert read_pins(lock)["torch"].version == "2.2.2"


def test_bad_requirement_line_names_file_and_line(tmp_path: Path) -> None:
    bad = tmp_path / "requirements.txt"
    bad.write_text("pandas==2\nthis is not ==== a requirement\n")
    with pytest.raises(InputError, match=r"requirements.txt:2: not a requirement"):
        read_pins(bad)


def test_split_range() -> None:
    assert split_range("main..HEAD") == ("main", "HEAD")
    assert split_range("main") == ("main", "HEAD")
    assert split_range("a...b") == ("a", "b")


def test_import_evidence_prefers_runtime_imports() -> None:
    head = report([
        dist("requests", "2.31.0", MB, verdict=Verdict.RUNTIME, declared_at=["requirements.txt:1"],
             evidence=[imported("notebooks/a.ipynb", 1, "requests", "dev", "notebook-import"),
                       imported("tests/test_http.py", 2, "requests", "dev"),
                       imported("src/app/http.py", 3, "requests.adapters")]),
    ])
    diff = diff_reports(report([]), head, swap_pairs=())
    assert diff.headline == "This PR adds 1.00 MB: requests 2.31.0 via `import requests` in `src/app/http.py:3`."


def test_diff_two_image_archives(tmp_path: Path) -> None:
    from click.testing import CliRunner
    from test_check_cli import build_docker_archive, default_dists, dist_files

    from depslim.cli import cli

    base, head = tmp_path / "base.tar", tmp_path / "head.tar"
    build_docker_archive(base)
    slim = {"numpy": dist_files("numpy", "2.0.0", {"numpy/__init__.py": b"n" * 600_000})}
    sizes = build_docker_archive(head, slim)
    result = CliRunner().invoke(cli, ["diff", str(base), str(head), "--format", "json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    kinds = {c["name"]: (c["kind"], c["delta"]) for c in data["changes"]}
    old_sizes = {name: sum(len(d) for d in files.values()) for name, files in default_dists().items()}
    assert kinds["torch"] == ("removed", -old_sizes["torch"])
    assert kinds["numpy"] == ("upgraded", sizes["numpy"] - old_sizes["numpy"])
    # torch takes its nvidia wheel with it: one contributor, the whole 5 MB less 0.1 MB of numpy growth
    assert data["headline"] == "This PR removes 4.90 MB: torch 2.2.2 removed (+CUDA)."
    assert data["mode"] == "images" and data["image_delta"] < 0


def test_declaration_changes_are_listed_at_zero_bytes() -> None:
    """HEAD declares requests, which base already pulled in through httpx-like deps: 0 bytes, still a change."""
    from depslim.diffing import DECLARED, UNDECLARED

    base = report([dist("app", size=MB, declared_at=["requirements.txt:1"], requires=["requests"]),
                   dist("requests", "2.31.0", size=2 * MB)])
    head = report([dist("app", size=MB, declared_at=["requirements.txt:1"], requires=["requests"]),
                   dist("requests", "2.31.0", size=2 * MB, declared_at=["requirements.txt:2"])])
    diff = diff_reports(base, head, swap_pairs=())
    assert [(c.name, c.kind, c.delta) for c in diff.changes] == [("requests", DECLARED, 0)]
    back = diff_reports(head, base, swap_pairs=())
    assert [(c.name, c.kind) for c in back.changes] == [("requests", UNDECLARED)]
    assert diff.headline != "No dependency changes."


def test_image_package_declared_but_absent_in_head_is_removed_with_its_bytes() -> None:
    """Two `analyze --image` reports: the slim image keeps opencv-python declared but does not
    install it. An image is measured whole, so it is removed (−its bytes), not "changed → — unknown",
    and the headline and the total use the same Python bytes as `image` and `check`."""
    base = report([dist("pandas", "2.2.3", 60 * MB, declared_at=["requirements.txt:1"]),
                   dist("opencv-python", "5.1.0.95", 300 * MB, declared_at=["requirements.txt:2"])], kind="image")
    head = report([dist("pandas", "2.2.3", 60 * MB, declared_at=["requirements.txt:1"]),
                   dist("opencv-python", None, declared_at=["requirements.txt:2"], installed=False)], kind="image")
    diff = diff_reports(base, head, swap_pairs=())
    assert [(c.name, c.kind, c.delta) for c in diff.changes] == [("opencv-python", REMOVED, -300 * MB)]
    assert (diff.base_bytes, diff.head_bytes) == (360 * MB, 60 * MB)
    assert "sizes unknown" not in diff.headline and diff.headline.startswith("This PR removes 300.0 MB")


def test_environment_head_that_did_not_install_a_package_does_not_remove_it() -> None:
    """An image base against an environment where the project's packages are not installed
    (issue 14): mlflow is declared but not installed in the head, so neither it nor scipy (which
    only mlflow pulls in) was measured there. Neither is "removed", no byte delta or total is
    claimed, and the headline says they were not measured."""
    base = report([dist("mlflow", "2.22.0", 100 * MB, declared_at=["requirements.txt:1"], requires=["scipy"]),
                   dist("scipy", "1.17.1", 140 * MB),
                   dist("numpy", "2.2.6", 30 * MB, declared_at=["requirements.txt:2"])], kind="image")
    head = report([dist("mlflow", None, declared_at=["requirements.txt:1"], installed=False),
                   dist("numpy", "2.2.6", 30 * MB, declared_at=["requirements.txt:2"])])
    diff = diff_reports(base, head, swap_pairs=())
    assert sorted((c.name, c.kind, c.delta) for c in diff.changes) == [
        ("mlflow", UNMEASURED, None), ("scipy", UNMEASURED, None)]
    assert (diff.base_bytes, diff.head_bytes, diff.total_delta) == (270 * MB, None, None)
    assert "removed" not in diff.headline and "MB" not in diff.headline
    assert "2 package(s) not measured" in diff.headline
    assert any("mlflow" in note and "not installed" in note for note in diff.notes)
    # The same reports the other way round: nothing is "added" either.
    back = diff_reports(head, base, swap_pairs=())
    assert sorted((c.name, c.kind, c.delta) for c in back.changes) == [
        ("mlflow", UNMEASURED, None), ("scipy", UNMEASURED, None)]
    assert back.total_delta is None and "adds" not in back.headline
