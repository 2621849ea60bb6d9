"""Environment target, mapping, graph, sizes and verdicts against a real venv of real wheels."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from helpers import build_wheel, make_venv, pip_install, site_packages

from depslim.core import AnalyzeOptions, build_report
from depslim.findings.cut import CutFinder
from depslim.findings.imports import ImportProblemFinder
from depslim.graph import build_graph
from depslim.mapping import Mapped, Mapper
from depslim.model import (
    Context,
    DeclaredRequirement,
    DeclaredSet,
    Evidence,
    ImportRef,
    InstalledDistribution,
    InstalledFile,
    Location,
    ScanResult,
    Signal,
    Verdict,
)
from depslim.sizes import DistSize, SizeTable
from depslim.targets.environment import EnvironmentTarget


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("env")
    wheels = root / "wheels"
    build_wheel(wheels, "alpha", "1.0", requires=["beta-dist", "gamma; extra == 'fast'", "delta; python_version < '3'"],
                extras=["fast"], files={"alpha/__init__.py": "x" * 1000, "alpha/core.py": "y" * 500})
    # Distribution name differs from its module and ships no top_level.txt: RECORD must map it.
    build_wheel(wheels, "beta-dist", "2.0", files={"betamod/__init__.py": "b" * 3000})
    build_wheel(wheels, "gamma", "1.0", files={"gamma.py": "g" * 200})
    build_wheel(wheels, "delta", "1.0", files={"delta.py": "d" * 200})
    # Two distributions listing the same file (like mlflow / mlflow-skinny).
    build_wheel(wheels, "full-pkg", "1.0", requires=["common"], files={"shared/__init__.py": "s" * 4000,
                                                                       "shared/server.py": "f" * 6000})
    build_wheel(wheels, "skinny-pkg", "1.0", requires=["common"], files={"shared/__init__.py": "s" * 4000})
    build_wheel(wheels, "common", "1.0", files={"common.py": "c" * 700})
    # PEP 420 namespace shared by two distributions.
    build_wheel(wheels, "nsco-storage", "1.0", files={"nsco/cloud/storage/__init__.py": "n" * 100})
    build_wheel(wheels, "nsco-bigquery", "1.0", files={"nsco/cloud/bigquery/__init__.py": "q" * 100})
    build_wheel(wheels, "parquet-engine", "1.0", files={"parquet_engine.py": "p" * 900})
    build_wheel(wheels, "pytest-like", "1.0", files={"pytest_like.py": "t" * 50}, top_level=["pytest_like"])
    python = make_venv(root / "venv")
    pip_install(python, wheels, "alpha[fast]", "full-pkg", "skinny-pkg", "nsco-storage", "nsco-bigquery",
                "parquet-engine", "pytest-like")
    return python


def lstat_sum(site: Path, dist_info: str) -> int:
    total = 0
    for line in (site / dist_info / "RECORD").read_text().splitlines():
        path = (site / line.split(",")[0]).resolve()
        if path.exists():
            total += os.lstat(path).st_size
    return total


def test_environment_reads_real_metadata_and_lstat_sizes(venv: Path) -> None:
    target = EnvironmentTarget(venv)
    dists = {d.name: d for d in target.distributions()}
    site = site_packages(venv)
    assert {"alpha", "beta-dist", "gamma", "full-pkg", "skinny-pkg", "nsco-storage"} <= dists.keys()
    assert dists["beta-dist"].top_level == ()  # no top_level.txt shipped
    assert dists["alpha"].size_bytes == lstat_sum(site, "alpha-1.0.dist-info")
    assert dists["alpha"].version == "1.0"
    assert target.info().markers["python_version"] == f"{os.sys.version_info[0]}.{os.sys.version_info[1]}"


def test_mapping_uses_record_namespaces_and_stdlib(venv: Path) -> None:
    dists = list(EnvironmentTarget(venv).distributions())
    mapper = Mapper(dists)
    assert mapper.map("betamod.sub").distributions == ("beta-dist",)
    assert mapper.map("betamod").how == "record"
    assert mapper.map("nsco.cloud.storage.blob").distributions == ("nsco-storage",)
    assert mapper.map("nsco.cloud.bigquery").distributions == ("nsco-bigquery",)
    assert mapper.map("json").how == "stdlib"
    # Nothing installed provides sklearn: the generated import-name index answers; a name the index
    # lacks comes from the hand-kept alias table.
    assert mapper.map("sklearn").distributions == ("scikit-learn",)
    assert mapper.map("sklearn").how == "index"
    assert mapper.map("MySQLdb") == Mapped(("mysqlclient",), "alias")
    # One module from two distributions: both are named.
    assert set(mapper.map("shared").distributions) == {"full-pkg", "skinny-pkg"}


def test_graph_follows_requested_extras_and_target_markers(venv: Path) -> None:
    target = EnvironmentTarget(venv)
    dists = list(target.distributions())
    graph = build_graph(dists, target.info().markers, requested=["alpha[fast]"])
    assert graph.requires["alpha"] == frozenset({"beta-dist", "gamma"})
    without_extra = build_graph(dists, target.info().markers)
    assert "gamma" not in without_extra.requires["alpha"]
    # python_version < '3' never holds for the target: delta is not an edge even though installed.
    assert "delta" not in graph.requires["alpha"]


def test_sizes_count_shared_files_once_and_retain_exclusive_closure(venv: Path) -> None:
    target = EnvironmentTarget(venv)
    dists = list(target.distributions())
    by_name = {d.name: d for d in dists}
    graph = build_graph(dists, target.info().markers, requested=["alpha[fast]"])
    table = SizeTable(dists, graph, roots=["alpha", "full-pkg", "skinny-pkg"])
    # pip byte-compiles too, so both RECORDs list shared/__init__.py and its .pyc.
    skinny_paths = {f.path for f in by_name["skinny-pkg"].files}
    shared = sum(f.size for f in by_name["full-pkg"].files if f.path in skinny_paths)
    assert any(p.endswith("shared/__init__.py") for p in skinny_paths) and shared >= 4000
    assert table.of("full-pkg").shared_bytes == shared
    # Each file once in the total.
    all_files = {f.path: f.size for d in dists for f in d.files}
    assert table.total_bytes == sum(all_files.values())
    # alpha alone frees alpha + beta-dist + gamma (nobody else needs them).
    assert table.freed(["alpha"]) == {"alpha", "beta-dist", "gamma"}
    assert table.retained(["alpha"]) == sum(by_name[n].size_bytes for n in ("alpha", "beta-dist", "gamma"))
    # Removing full-pkg keeps the shared file and common (skinny-pkg still needs them).
    assert table.freed(["full-pkg"]) == {"full-pkg"}
    assert table.retained(["full-pkg"]) == by_name["full-pkg"].size_bytes - shared
    # Removing both frees the shared file and common too.
    assert table.freed(["full-pkg", "skinny-pkg"]) == {"full-pkg", "skinny-pkg", "common"}


def test_sizes_three_owners_of_one_folder_like_mlflow() -> None:
    """mlflow, mlflow-skinny and mlflow-tracing all list mlflow/: freed only when all three go."""
    def dist(name: str, files: dict[str, int], requires: tuple[str, ...] = ()) -> InstalledDistribution:
        return InstalledDistribution(name, name, "1", "/sp", f"/sp/{name}-1.dist-info", requires=requires,
                                     files=tuple(InstalledFile(p, n) for p, n in files.items()))

    common = {"/sp/mlflow/__init__.py": 100, "/sp/mlflow/tracking.py": 1000}
    full = dist("mlflow", {**common, "/sp/mlflow/server/app.py": 5000}, ("mlflow-skinny",))
    skinny = dist("mlflow-skinny", {**common, "/sp/mlflow/skinny.txt": 7}, ("mlflow-tracing",))
    tracing = dist("mlflow-tracing", {**common, "/sp/mlflow/tracing.txt": 3})
    dists = [full, skinny, tracing]
    table = SizeTable(dists, build_graph(dists, {}), roots=["mlflow"])
    assert table.total_bytes == 100 + 1000 + 5000 + 7 + 3
    assert table.of("mlflow") == DistSize(6100, 1100)
    assert table.of("mlflow-tracing").shared_bytes == 1100
    # mlflow alone frees mlflow and what only it needs (its closure): all three, so everything.
    assert table.retained(["mlflow"]) == table.total_bytes
    # the shared folder stays while any owner stays
    assert table.bytes_of(["mlflow", "mlflow-skinny"]) == 5000 + 7
    assert table.bytes_of(["mlflow-tracing"]) == 3


def _ref(module: str, path: str, line: int, context: Context = Context.RUNTIME, **flags: bool) -> ImportRef:
    return ImportRef(module, Location(path, line), context, **flags)


def _declared(*names: str, dev: tuple[str, ...] = ()) -> DeclaredSet:
    reqs = [DeclaredRequirement(n, n, Location("requirements.txt", i + 1)) for i, n in enumerate(names)]
    reqs += [DeclaredRequirement(n, n, Location("requirements-dev.txt", i + 1), group="dev", dev=True)
             for i, n in enumerate(dev)]
    return DeclaredSet(tuple(reqs), ("requirements.txt",))


def test_verdicts_and_problems_from_evidence(venv: Path, tmp_path: Path) -> None:
    scan = ScanResult(
        imports=(
            _ref("alpha", "src/app/main.py", 3),
            _ref("betamod", "src/app/main.py", 4),  # declared? no: transitive via alpha
            _ref("shared", "tests/test_x.py", 1, Context.DEV),
            _ref("nsco.cloud.storage", "src/app/io.py", 2, typing_only=True),
            _ref("pytest_like", "src/app/main.py", 9),  # dev-declared but imported at runtime
            _ref("notinstalled_mod", "src/app/main.py", 10),
            _ref("maybe_fast", "src/app/main.py", 11, optional=True),
            _ref("app.util", "src/app/main.py", 12, first_party=True),
        ),
        first_party=frozenset({"app"}),
        files_scanned=4,
        signals=(Signal("pandas.read_parquet", "pandas.read_parquet", Location("src/app/io.py", 7),
                        Context.RUNTIME, "call"),),
    )
    declared = _declared("alpha", "full-pkg", "nsco-storage", "nsco-bigquery", "pyarrow", "common",
                         dev=("pytest-like",))
    report = build_report(AnalyzeOptions(project=tmp_path), EnvironmentTarget(venv), scan, declared,
                          finders=(CutFinder, ImportProblemFinder))
    verdicts = {d.name: d.verdict for d in report.distributions if d.declared}
    assert verdicts["alpha"] is Verdict.RUNTIME
    assert verdicts["full-pkg"] is Verdict.DEV_ONLY
    assert verdicts["nsco-storage"] is Verdict.TYPING_ONLY
    # pyarrow is kept (implicit) but not installed here, so whether it requires nsco-bigquery cannot be
    # read: no proof it is unused
    assert verdicts["nsco-bigquery"] is Verdict.IMPLICIT
    assert "pyarrow not installed in this target" in report.distribution("nsco-bigquery").evidence[0].detail
    assert verdicts["pyarrow"] is Verdict.IMPLICIT  # pandas.read_parquet → a parquet engine
    assert verdicts["common"] is Verdict.DEV_ONLY or verdicts["common"] is Verdict.IMPLICIT
    alpha = report.distribution("alpha")
    assert alpha is not None and Evidence("src/app/main.py", 3, "import", "alpha (runtime)") in alpha.evidence
    codes = {f.id for f in report.findings}
    assert "transitive:beta-dist" in codes
    assert "misplaced-dev:pytest-like" in codes
    assert "missing:notinstalled-mod" in codes
    assert "optional:maybe-fast" in codes
    assert "cut:nsco-bigquery" not in codes and "cut:full-pkg" in codes  # kept: no proof it is unused
    # The cut list's saving is measured: removing full-pkg frees only its unshared bytes.
    cut_full = next(f for f in report.findings if f.id == "cut:full-pkg")
    assert cut_full.savings_bytes == report.distribution("full-pkg").retained_bytes  # type: ignore[union-attr]
    assert not cut_full.estimate
    assert report.summary.cut_count >= 2


def test_dependency_of_runtime_package_is_kept(venv: Path, tmp_path: Path) -> None:
    # common is declared, never imported, but full-pkg (imported at runtime) needs it: cutting frees nothing.
    scan = ScanResult(imports=(_ref("shared", "src/app/main.py", 1),), first_party=frozenset({"app"}), files_scanned=1)
    report = build_report(AnalyzeOptions(project=tmp_path), EnvironmentTarget(venv), scan,
                          _declared("full-pkg", "common"), finders=(CutFinder, ImportProblemFinder))
    common = report.distribution("common")
    assert common is not None and common.verdict is Verdict.IMPLICIT
    assert "required by" in common.evidence[0].detail


def test_unused_needs_every_kept_packages_requirements_read(venv: Path, tmp_path: Path) -> None:
    """With every kept package installed, a declared package nothing imports or requires is `unused`;
    once a kept one is not installed (its requirements unreadable), it is kept, saying why."""
    scan = ScanResult(imports=(_ref("alpha", "src/app/main.py", 3),), first_party=frozenset({"app"}),
                      files_scanned=1)
    target = EnvironmentTarget(venv)
    read = build_report(AnalyzeOptions(project=tmp_path), target, scan, _declared("alpha", "nsco-bigquery"),
                        finders=(CutFinder,))
    assert read.distribution("nsco-bigquery").verdict is Verdict.UNUSED
    scan2 = ScanResult(imports=(*scan.imports, _ref("not_here", "src/app/main.py", 4)),
                       first_party=frozenset({"app"}), files_scanned=1)
    unread = build_report(AnalyzeOptions(project=tmp_path), target, scan2,
                          _declared("alpha", "not-here", "nsco-bigquery"), finders=(CutFinder,))
    kept = unread.distribution("nsco-bigquery")
    assert kept.verdict is Verdict.IMPLICIT and "not-here not installed in this target" in kept.evidence[0].detail
