"""One dependency graph (issue 14): the swaps' graph is a view of the core's, edge for edge.

`depslim.graph.build_graph` (the core: verdicts, sizes, `required_by`) and
`depslim.swaps.graph.build_graph` (retained sets of swaps and removals) are built here over the
same installed distributions — hand-made records (tests/test_swaps.py's `dist()`) and real wheels in
a real venv (tests/test_implicit_extras.py's ray[serve] family) — with extras requested by parents,
nested extras, extras a package asks of itself, declared extras and target markers.

`depslim.graph` is the only place requirements become edges; `depslim.swaps.graph.build_graph` reads
the core's graph (the one in `AnalysisContext.graph`, or built by `depslim.graph.build_graph`) and
adds the swap's own edges. Where the two differed before (each a bug in one of them):
  * self-edges: `ray[serve]` asks for `ray[default]`; the core recorded ray → ray, so ray was
    "required by" itself (never a root in sizes, "pulled in" by itself in import findings). The
    swaps' graph dropped it.
  * declared extras: a declared `uvicorn[standard]` is followed by the core; the swaps' graph, built
    without the core's reports, ignored declarations and left uvloop outside uvicorn's closure.
    The converse hurt in production: handed the core's edges (declared `pandas[all]` followed),
    the pandas-extras swap kept pyarrow in pandas' closure and measured 0 bytes retained; the view
    now rebuilds the core's graph without the source's declared extras for that swap.
  * the swap finder read extras and "who requires the source" from Requires-Dist lines itself: an
    extra that is another extra (`pandas[all]` = `pandas[perf]`) freed nothing, and a parent asking
    for `kit[cv]` did not hold opencv-python's swap back. Both now come from `depslim.graph`.
Markers name the target's environment in both; a name the target does not report
(`implementation_name` for a hand-made TargetInfo) falls back, in both, to packaging's default
environment (the interpreter running depslim).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from helpers import build_wheel, make_venv, pip_install
from test_swaps import MB, TARGET, declared, dist, make_ctx, offline

import depslim.graph as core_graph
import depslim.swaps.graph as swaps_graph
from depslim.findings.base import AnalysisContext
from depslim.findings.swaps import SwapFinder
from depslim.model import DeclaredSet, InstalledDistribution, TargetInfo, Verdict
from depslim.targets.environment import EnvironmentTarget


def _both(dists: Sequence[InstalledDistribution], target: TargetInfo = TARGET,
          decl: DeclaredSet | None = None) -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    requested = [r.requirement for r in decl.requirements] if decl else []
    core = core_graph.build_graph(list(dists), target.markers, requested)
    ctx = AnalysisContext(None, None, decl, target, {d.name: d for d in dists}, {})
    swaps = swaps_graph.build_graph(ctx)
    return ({n: set(v) for n, v in core.requires.items()}, {n: set(v) for n, v in swaps.items()})


def test_parent_requested_extras() -> None:
    """torch → cuda-toolkit[cublas] → nvidia-cublas; [all] is asked by nobody."""
    dists = [
        dist("torch", requires=('cuda-toolkit[cublas]==13.0.3; platform_system == "Linux"',)),
        dist("cuda-toolkit", requires=("nvidia-cublas; extra == 'cublas'", "nvidia-other; extra == 'all'")),
        dist("nvidia-cublas"), dist("nvidia-other"),
    ]
    core, swaps = _both(dists)
    assert core == swaps
    assert core["torch"] == {"cuda-toolkit"} and core["cuda-toolkit"] == {"nvidia-cublas"}


def test_nested_extras_and_markers() -> None:
    """app → ray[serve] → uvicorn[standard] → uvloop; ray[serve] → ray[default] → aiohttp (a self
    extra); markers for another platform or Python, and an extra nobody asks for, stay out."""
    dists = [
        dist("app", requires=("ray[serve]", "winonly; sys_platform == 'win32'", "old; python_version < '3'")),
        dist("ray", requires=("click", "fastapi; extra == 'serve'", "uvicorn[standard]; extra == 'serve'",
                              "ray[default]; extra == 'serve'", "aiohttp; extra == 'default'",
                              "gpu; extra == 'gpu' and sys_platform == 'linux'")),
        dist("uvicorn", requires=("h11", "uvloop; extra == 'standard' and sys_platform != 'win32'")),
        *(dist(n) for n in ("click", "fastapi", "uvloop", "h11", "aiohttp", "gpu", "winonly", "old")),
    ]
    core, swaps = _both(dists)
    assert core == swaps
    assert core["app"] == {"ray"}
    assert core["ray"] == {"click", "fastapi", "uvicorn", "aiohttp"}
    assert core["uvicorn"] == {"h11", "uvloop"}


def test_declared_extras_are_followed() -> None:
    dists = [dist("uvicorn", requires=("h11", "uvloop; extra == 'standard'")), dist("h11"), dist("uvloop")]
    core, swaps = _both(dists, TARGET, declared("uvicorn[standard]"))
    assert core == swaps
    assert core["uvicorn"] == {"h11", "uvloop"}


def test_markers_the_target_does_not_report() -> None:
    dists = [dist("app", requires=("cy; implementation_name == 'no-such'", "plain")), dist("cy"), dist("plain")]
    core, swaps = _both(dists)
    assert core == swaps
    assert core["app"] == {"plain"}


@pytest.fixture(scope="module")
def venv_python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("onegraph")
    wheels = root / "wheels"
    build_wheel(wheels, "app", requires=["ray[serve]", "lib; sys_platform == 'win32'"])
    build_wheel(wheels, "ray", "2.9.0", extras=["serve", "default"],
                requires=["click", 'fastapi ; extra == "serve"', 'uvicorn[standard] ; extra == "serve"',
                          'ray[default] ; extra == "serve"', 'aiohttp ; extra == "default"'])
    build_wheel(wheels, "fastapi", "0.110.0", requires=["starlette"])
    build_wheel(wheels, "uvicorn", "0.29.0", extras=["standard"], requires=['uvloop ; extra == "standard"'])
    for name in ("starlette", "uvloop", "click", "aiohttp", "lib"):
        build_wheel(wheels, name)
    python = make_venv(root / "venv")
    pip_install(python, wheels, "app", "lib")
    return python


def test_real_venv(venv_python: Path) -> None:
    target = EnvironmentTarget(venv_python)
    dists = [d for d in target.distributions() if d.name not in {"pip", "setuptools", "wheel"}]
    core, swaps = _both(dists, target.info())
    assert core == swaps
    assert core["app"] == {"ray"}
    assert core["ray"] == {"click", "fastapi", "uvicorn", "aiohttp"}
    assert core["uvicorn"] == {"uvloop"} and core["fastapi"] == {"starlette"}


def test_the_swaps_graph_reads_the_core_graph(monkeypatch: pytest.MonkeyPatch) -> None:
    """The single source: swaps build no edges of their own; handed the core's graph, they use it."""
    assert swaps_graph.core is core_graph
    assert not hasattr(swaps_graph, "requested_extras") and "read_requirement" not in vars(swaps_graph)
    dists = [dist("a", requires=("b",)), dist("b"), dist("c")]
    handed = core_graph.build_graph(dists, TARGET.markers)
    handed = core_graph.Graph({**handed.requires, "c": frozenset({"a"})}, handed.required_by, handed.missing)
    ctx = AnalysisContext(None, None, None, TARGET, {d.name: d for d in dists}, {}, graph=handed)
    assert swaps_graph.build_graph(ctx) == {"a": {"b"}, "b": set(), "c": {"a"}}
    calls: list[object] = []
    real = core_graph.build_graph

    def counted(*args: Any) -> core_graph.Graph:
        calls.append(args)
        return real(*args)

    monkeypatch.setattr(core_graph, "build_graph", counted)
    swaps_graph.build_graph(AnalysisContext(None, None, None, TARGET, {d.name: d for d in dists}, {}))
    assert len(calls) == 1


def test_a_self_extra_is_no_parent() -> None:
    """`ray[serve]` asks for `ray[default]`: ray is not required by ray (it stays a root)."""
    dists = [dist("ray", requires=("ray[default]; extra == 'serve'", "aiohttp; extra == 'default'")),
             dist("aiohttp")]
    graph = core_graph.build_graph(dists, TARGET.markers, ["ray[serve]"])
    assert graph.requires["ray"] == {"aiohttp"} and graph.required_by["ray"] == frozenset()


def test_dropping_declared_extras_with_the_core_graph() -> None:
    """As in production: the core's graph (declared `pandas[all]` followed) is handed over; dropping
    the extra still frees pyarrow and numba."""
    installed = [dist("pandas", "3.1", 44 * MB, ('pyarrow; extra == "all"', 'numba; extra == "all"', "numpy")),
                 dist("pyarrow", "15", 157 * MB), dist("numba", "0.6", 60 * MB), dist("numpy", "2", 57 * MB)]
    decl = declared("pandas[all]==3.1")
    ctx = make_ctx(installed, decl=decl, verdicts={"pandas": Verdict.RUNTIME})
    handed = core_graph.build_graph(installed, TARGET.markers, ["pandas[all]==3.1"])
    assert handed.requires["pandas"] == {"pyarrow", "numba", "numpy"}
    reports = {n: dataclasses.replace(r, requires=tuple(sorted(handed.requires[n])))
               for n, r in ctx.distributions.items()}  # the core's reports carry the same edges
    ctx = dataclasses.replace(ctx, graph=handed, distributions=reports)
    swap = next(f for f in SwapFinder(sizer=offline()).find(ctx) if f.id == "swap:pandas-extras")
    assert swap.savings_bytes == (157 + 60) * MB


def test_dropping_an_extra_frees_its_nested_extras() -> None:
    """pandas[all] is pandas[perf] (a self extra) → numba: the extras a swap drops come from the same
    graph code, nested extras followed (reading only `all`'s own lines freed nothing)."""
    installed = [dist("pandas", "3.1", 44 * MB, ('pandas[perf]; extra == "all"', 'numba; extra == "perf"', "numpy")),
                 dist("numba", "0.6", 60 * MB), dist("numpy", "2", 57 * MB)]
    ctx = make_ctx(installed, decl=declared("pandas[all]==3.1"), verdicts={"pandas": Verdict.RUNTIME})
    swap = next(f for f in SwapFinder(sizer=offline()).find(ctx) if f.id == "swap:pandas-extras")
    assert swap.savings_bytes == 60 * MB


def test_a_parent_asking_for_an_extra_blocks_like_a_plain_requirement() -> None:
    """Who requires the source is read from the same graph: `app` asks for `kit[cv]`, which requires
    opencv-python, so kit holds the headless swap back as a plain requirement would."""
    installed = [dist("opencv-python", "4.9", 200 * MB), dist("app", requires=("kit[cv]",)),
                 dist("kit", requires=("opencv-python; extra == 'cv'",))]
    ctx = make_ctx(installed, verdicts={"opencv-python": Verdict.RUNTIME, "app": Verdict.RUNTIME})
    finder = SwapFinder(sizer=offline())
    assert not [f for f in finder.find(ctx) if f.id == "swap:opencv-headless"]
    decision = next(d for d in finder.decisions if d.rule.id == "opencv-headless")
    assert "kit requires opencv-python" in decision.condition.holding[0].detail
