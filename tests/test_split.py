"""depslim split as a pure function over hand-built records, plus stamps and --to pyproject."""

from __future__ import annotations

import random
import tomllib
from dataclasses import replace
from pathlib import Path

import pytest

from depslim.errors import InputError, WriteRefused
from depslim.fsio import atomic_write
from depslim.generate.pyproject_edit import edit_pyproject
from depslim.generate.split import plan_split, select_swaps
from depslim.generate.stamp import check_overwrite, is_intact
from depslim.model import (
    DeclaredRequirement,
    DeclaredSet,
    DistributionReport,
    Evidence,
    Finding,
    IndexOptions,
    Location,
    Owner,
    Report,
    Summary,
    TargetInfo,
    Verdict,
)


def _dist(name: str, version: str | None, verdict: Verdict | None, *evidence: Evidence, retained: int = 0,
          declared: bool = True, required_by: tuple[str, ...] = ()) -> DistributionReport:
    return DistributionReport(
        name=name, version=version, size_bytes=retained, shared_bytes=0, retained_bytes=retained,
        verdict=verdict, declared=declared, installed=version is not None, evidence=evidence,
        required_by=required_by,
    )


def _req(name: str, text: str, line: int, *, path: str = "requirements.txt", dev: bool = False) -> DeclaredRequirement:
    return DeclaredRequirement(name=name, requirement=text, location=Location(path, line), dev=dev)


DISTS = (
    _dist("pandas", "2.2.1", Verdict.RUNTIME, Evidence("src/churn/features.py", 3, "import", "pandas"),
          Evidence("tests/test_model.py", 1, "import", "pandas")),
    _dist("pyarrow", "15.0.2", Verdict.IMPLICIT,
          Evidence("src/churn/features.py", 14, "implicit", "pandas.read_parquet")),
    _dist("uvicorn", "0.29.0", Verdict.RUNTIME, Evidence("Dockerfile", 12, "entrypoint", "uvicorn churn.serve:app")),
    _dist("mlflow", "2.12.1", Verdict.RUNTIME, Evidence("src/churn/model.py", 5, "import", "mlflow"),
          retained=641_000_000),
    _dist("torch", "2.2.2", Verdict.RUNTIME, Evidence("src/churn/model.py", 2, "import", "torch")),
    _dist("jupyter", "1.0.0", Verdict.UNUSED, Evidence("requirements.txt", 16, "declared", "jupyter==1.0.0"),
          retained=170_000_000),
    _dist("pytest", "8.1.1", Verdict.DEV_ONLY, Evidence("tests/test_model.py", 1, "import", "pytest"),
          retained=3_500_000),
    _dist("types-requests", "2.31.0", Verdict.TYPING_ONLY,
          Evidence("src/churn/serve.py", 8, "typing-import", "requests")),
    _dist("black", "24.3.0", Verdict.DEV_ONLY, Evidence("", 0, "rule", "formatter")),
    _dist("requests", "2.31.0", None, declared=False, required_by=("mlflow",)),
    _dist("scipy", None, None),
)
FINDINGS = (
    Finding(id="swap:mlflow-skinny", code="swap", title="mlflow → mlflow-skinny", owner=Owner.ML_ENGINEER,
            fix="replace", savings_bytes=578_400_000, subject="mlflow",
            data={"from": "mlflow==2.12.1", "to": "mlflow-skinny==2.12.1", "index_lines": []}),
    Finding(id="swap:torch-cpu", code="swap", title="torch → torch (+cpu)", owner=Owner.ML_ENGINEER,
            fix="replace", savings_bytes=4_023_500_000, estimate=True, subject="torch",
            data={"from": "torch==2.2.2", "to": "torch==2.2.2+cpu",
                  "index_lines": ["--extra-index-url https://download.pytorch.org/whl/cpu"]}),
    Finding(id="transitive:requests", code="transitive", title="requests is transitive", owner=Owner.DATA_SCIENTIST,
            fix="declare", subject="requests", evidence=(Evidence("src/churn/serve.py", 4, "import", "requests"),)),
)
REPORT = Report(
    project="churn-pipeline", target=TargetInfo(kind="environment", ref="/usr/bin/python3", python_version="3.11"),
    distributions=DISTS, imports=(), findings=FINDINGS,
    summary=Summary(0, 0, 0, 0, 0, 0, 0, 0, 0),
)
DECLARED = DeclaredSet(
    requirements=(
        _req("pandas", "pandas==2.2.1", 2),
        _req("pyarrow", "pyarrow>=15", 4),
        _req("uvicorn", 'uvicorn[standard]==0.29.0; python_version >= "3.8"', 11),
        _req("mlflow", "mlflow==2.12.1", 8),
        _req("torch", "torch==2.2.2", 9),
        _req("jupyter", "jupyter==1.0.0", 16),
        _req("pytest", "pytest==8.1.1", 19),
        _req("types-requests", "types-requests", 20),
        _req("black", "black==24.3.0", 2, path="requirements-dev.txt", dev=True),
        _req("scipy", "scipy>=1.10", 21),
        DeclaredRequirement(name="numpy", requirement="numpy<2", location=Location("constraints.txt", 1),
                            constraint=True),
    ),
    files=("requirements.txt", "requirements-dev.txt"),
    index=IndexOptions(extra_index_urls=("${PRIVATE_INDEX}",)),
)


def _body_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line and not line.startswith(("#", "-"))]


def test_base_has_runtime_and_implicit_lines_each_with_a_reason() -> None:
    result = plan_split(REPORT, DECLARED)
    lines = _body_lines(result.base_text)
    assert lines == [
        "mlflow==2.12.1  # import: src/churn/model.py:5",
        "pandas==2.2.1  # import: src/churn/features.py:3",
        "pyarrow==15.0.2  # implicit: pandas.read_parquet in src/churn/features.py:14",
        "requests==2.31.0  # transitive: imported at src/churn/serve.py:4, installed via mlflow"
        " (not declared upstream)",
        "scipy>=1.10  # declared: requirements.txt:21 (no verdict: kept)",
        "torch==2.2.2  # import: src/churn/model.py:2",
        'uvicorn[standard]==0.29.0 ; python_version >= "3.8"  # entrypoint: Dockerfile:12',
    ]
    assert "--extra-index-url ${PRIVATE_INDEX}" in result.base_text.splitlines()
    assert "numpy" not in result.base_text  # constraints are not declarations


def test_cut_list_block_and_markdown_name_bytes_and_evidence() -> None:
    result = plan_split(REPORT, DECLARED)
    head = result.base_text.split("\n\n", 1)[0]
    assert "# Cut list (dropped): 1 package(s), 170.0 MB incl. what only they need:" in head
    assert ("#   jupyter==1.0.0  170.0 MB  unused: no import or implicit use found; "
            "declared at requirements.txt:16") in head
    assert "#   pytest==8.1.1  3.50 MB  dev-only: tests/test_model.py:1" in head
    assert "types-requests==2.31.0" in head and "typing-only: src/churn/serve.py:8" in head
    md = result.cuts_text
    assert md.startswith("<!-- depslim: generated sha256=")
    assert "| jupyter | 1.0.0 | 170.0 MB | unused: no import or implicit use found; declared at " \
           "requirements.txt:16 | requirements.txt:16 (declared: jupyter==1.0.0) |" in md


def test_dev_file_includes_base_and_dev_only_typing_only_and_dev_declared() -> None:
    dev = plan_split(REPORT, DECLARED).dev_text.splitlines()
    assert "-r requirements-base.txt" in dev
    assert [line for line in dev if line and not line.startswith(("#", "-"))] == [
        "black==24.3.0  # dev tool: formatter",
        "pytest==8.1.1  # dev-only: tests/test_model.py:1",
        "types-requests==2.31.0  # typing-only: src/churn/serve.py:8",
    ]


def test_accepted_swaps_replace_what_goes_with_sizes_and_index_lines() -> None:
    swaps = select_swaps(REPORT, apply_all=True)
    result = plan_split(REPORT, DECLARED, swaps)
    lines = _body_lines(result.base_text)
    assert "mlflow-skinny==2.12.1  # swapped from mlflow (−578.4 MB)" in lines
    assert "torch==2.2.2+cpu  # swapped from torch (~−4.02 GB (est.))" in lines
    assert not any(line.startswith(("mlflow==", "torch==2.2.2 ")) for line in lines)
    assert result.base_text.splitlines().count("--extra-index-url https://download.pytorch.org/whl/cpu") == 1
    assert "#   mlflow==2.12.1 -> mlflow-skinny==2.12.1  −578.4 MB" in result.base_text
    only_one = select_swaps(REPORT, ids=["mlflow"])
    assert [f.id for f in only_one] == ["swap:mlflow-skinny"]
    with pytest.raises(InputError, match="no swap finding 'opencv'"):
        select_swaps(REPORT, ids=["opencv"])


def test_idempotent_and_order_independent() -> None:
    first = plan_split(REPORT, DECLARED, select_swaps(REPORT, apply_all=True))
    shuffled_dists = list(DISTS)
    random.Random(7).shuffle(shuffled_dists)
    shuffled_reqs = list(DECLARED.requirements)
    random.Random(3).shuffle(shuffled_reqs)
    report = replace(REPORT, distributions=tuple(shuffled_dists), findings=tuple(reversed(FINDINGS)))
    declared = replace(DECLARED, requirements=tuple(shuffled_reqs))
    second = plan_split(report, declared, select_swaps(report, apply_all=True))
    assert (first.base_text, first.dev_text, first.cuts_text) == (second.base_text, second.dev_text, second.cuts_text)
    assert all(is_intact(t) for t in (first.base_text, first.dev_text, first.cuts_text))


def test_hand_edit_and_foreign_files_are_refused_without_force(tmp_path: Path) -> None:
    result = plan_split(REPORT, DECLARED)
    base = tmp_path / "requirements-base.txt"
    atomic_write(base, result.base_text)
    check_overwrite(base, result.base_text, force=False)  # same content: fine
    check_overwrite(base, result.base_text + "x\n", force=False)  # intact stamp: depslim may replace it
    base.write_text(result.base_text.replace("pandas==2.2.1", "pandas==2.2.2"))
    with pytest.raises(WriteRefused, match="edited by hand"):
        check_overwrite(base, result.base_text, force=False)
    check_overwrite(base, result.base_text, force=True)
    foreign = tmp_path / "requirements-dev.txt"
    foreign.write_text("pytest\n")
    with pytest.raises(WriteRefused, match="not written by depslim"):
        check_overwrite(foreign, result.dev_text, force=False)


PYPROJECT = """\
# Project metadata (kept as written)
[project]
name = "churn"  # the service
version = "0.3.0"
dependencies = [
    "pandas",  # data frames
    "jupyter",
]

[tool.ruff]
line-length = 100  # keep
"""


def test_to_pyproject_edits_arrays_in_place_keeping_the_rest() -> None:
    result = plan_split(REPORT, DECLARED)
    edited = edit_pyproject(PYPROJECT, result.base, result.dev)
    assert edited.startswith('# Project metadata (kept as written)\n[project]\nname = "churn"  # the service\n')
    assert "[tool.ruff]\nline-length = 100  # keep\n" in edited
    data = tomllib.loads(edited)
    assert "jupyter==1.0.0" not in data["project"]["dependencies"]
    assert "pandas==2.2.1" in data["project"]["dependencies"]
    assert data["dependency-groups"]["dev"] == ["black==24.3.0", "pytest==8.1.1", "types-requests==2.31.0"]
    assert '"pyarrow==15.0.2", # implicit: pandas.read_parquet in src/churn/features.py:14' in edited
    assert edit_pyproject(edited, result.base, result.dev) == edited
    with pytest.raises(InputError, match="dynamic"):
        edit_pyproject('[project]\nname = "x"\ndynamic = ["dependencies"]\n', result.base, result.dev)


def test_base_header_says_pins_come_from_the_target_only_when_installed() -> None:
    """With nothing installed the header said "Pins are the versions installed in the target"
    above unpinned lines."""
    from test_diff_factory import dist, report

    from depslim.generate.split import Line, _pins_phrase

    lines = [Line("pandas", "pandas>=2.2", "declared"), Line("numpy", "numpy==2.2.6", "needed by pandas")]
    bare = report([dist("pandas", None, installed=False), dist("numpy", None, installed=False)])
    assert "Nothing here is installed in the target" in _pins_phrase(bare, lines)
    half = report([dist("pandas", None, installed=False), dist("numpy", "2.2.6", 70)])
    assert "1 of 2 lines are pinned" in _pins_phrase(half, lines)
    full = report([dist("pandas", "2.2.3", 60), dist("numpy", "2.2.6", 70)])
    assert _pins_phrase(full, lines).startswith("# Pins are the versions installed in the target")
