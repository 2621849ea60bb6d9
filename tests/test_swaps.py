"""Swap and removal rules: every condition fires and is held back by runtime evidence.

Contexts are plain frozen records built by hand (what the core would hand over); incoming sizes
come from real wheels built here and read by the real range reader (file:// find-links).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import build_wheel

from depslim.errors import InputError
from depslim.findings.base import AnalysisContext
from depslim.findings.swaps import SwapFinder, decide_swap, signal_patterns
from depslim.model import (
    Context,
    DeclaredRequirement,
    DeclaredSet,
    DistributionReport,
    ImportRef,
    InstalledDistribution,
    InstalledFile,
    Location,
    ScanResult,
    Signal,
    TargetInfo,
    Verdict,
)
from depslim.swaps.graph import build_graph, retained_set
from depslim.swaps.rules import load_rules, packaged_rules
from depslim.swaps.savings import IndexSizer

MB = 1_000_000
SITE = "/usr/local/lib/python3.11/site-packages"
TARGET = TargetInfo(kind="image", ref="test:1", python_version="3.11.9", platform="linux/amd64",
                    markers={"sys_platform": "linux", "platform_system": "Linux",
                             "platform_machine": "x86_64", "python_version": "3.11"})


def dist(name: str, version: str = "1.0", size: int = MB, requires: tuple[str, ...] = (),
         files: tuple[str, ...] = ()) -> InstalledDistribution:
    paths = files or (f"{SITE}/{name.replace('-', '_')}/data.bin",)
    each = size // len(paths)
    return InstalledDistribution(
        name=name, display_name=name, version=version, site=SITE,
        dist_info=f"{SITE}/{name.replace('-', '_')}-{version}.dist-info", requires=requires,
        files=tuple(InstalledFile(p, each) for p in paths),
    )


def declared(*reqs: str, dev: bool = False) -> DeclaredSet:
    items = []
    for line, req in enumerate(reqs, start=1):
        name = req.split("[")[0].split("=")[0].split(">")[0].strip().lower()
        items.append(DeclaredRequirement(name=name, requirement=req,
                                         location=Location("requirements.txt", line), dev=dev))
    return DeclaredSet(requirements=tuple(items), files=("requirements.txt",))


def make_ctx(installed: list[InstalledDistribution], *, scan: ScanResult | None = None,
             decl: DeclaredSet | None = None, verdicts: dict[str, Verdict] | None = None,
             config: dict | None = None) -> AnalysisContext:
    inst = {d.name: d for d in installed}
    verdicts = verdicts or {}
    tmp_ctx = AnalysisContext(None, scan, decl, TARGET, inst, {})
    graph = build_graph(tmp_ctx)
    reports = {}
    for d in installed:
        retained = retained_set({d.name}, graph, {n for n, v in verdicts.items() if v == Verdict.RUNTIME} - {d.name})
        reports[d.name] = DistributionReport(
            name=d.name, version=d.version, size_bytes=d.size_bytes, shared_bytes=0,
            retained_bytes=sum(inst[n].size_bytes for n in retained), verdict=verdicts.get(d.name),
            declared=d.name in verdicts, installed=True, requires=tuple(sorted(graph[d.name])),
        )
    if decl is None:
        decl = declared(*[n for n in verdicts])
    return AnalysisContext(None, scan if scan is not None else empty_scan(), decl, TARGET, inst, reports,
                           config=config or {"offline": True})


def empty_scan(imports: tuple[ImportRef, ...] = (), signals: tuple[Signal, ...] = ()) -> ScanResult:
    return ScanResult(imports=imports, first_party=frozenset({"app"}), files_scanned=7, signals=signals)


def sig(value: str, kind: str = "attribute", context: Context = Context.RUNTIME, pattern: str = "") -> Signal:
    return Signal(pattern=pattern or value, value=value, location=Location("src/app/main.py", 12),
                  context=context, kind=kind)


def imp(module: str, context: Context = Context.RUNTIME) -> ImportRef:
    return ImportRef(module=module, location=Location("src/app/main.py", 3), context=context)


def offline() -> IndexSizer:
    return IndexSizer(index_urls=(), offline=True)


# ---------------------------------------------------------------------------- mlflow


def mlflow_installed() -> list[InstalledDistribution]:
    return [
        dist("mlflow", "3.17.2", 46 * MB, ("mlflow-skinny==3.17.2", "pyarrow", "scipy", "sqlalchemy")),
        dist("mlflow-skinny", "3.17.2", 17 * MB, ("requests", "protobuf")),
        dist("pyarrow", "15", 157 * MB), dist("scipy", "1.13", 114 * MB), dist("sqlalchemy", "2", 10 * MB),
        dist("requests", "2.31", 1 * MB), dist("protobuf", "4", 3 * MB), dist("fastapi", "0.110", 2 * MB,
                                                                                ("requests",)),
    ]


def test_mlflow_skinny_fires_with_measured_saving_when_only_tracking_is_used() -> None:
    scan = empty_scan(imports=(imp("mlflow"),), signals=(sig("mlflow.start_run"), sig("mlflow.log_metric")))
    ctx = make_ctx(mlflow_installed(), scan=scan,
                   verdicts={"mlflow": Verdict.RUNTIME, "fastapi": Verdict.RUNTIME})
    findings = SwapFinder(sizer=offline()).find(ctx)
    swap = next(f for f in findings if f.id == "swap:mlflow-skinny")
    # goes: mlflow + skinny + pyarrow + scipy + sqlalchemy + protobuf (requests stays for fastapi)
    retained = (46 + 17 + 157 + 114 + 10 + 3) * MB
    incoming = (17 + 3) * MB  # mlflow-skinny's closure inside what goes, measured in the target
    assert swap.savings_bytes == retained - incoming
    assert swap.estimate is False
    assert swap.data["from"] == "mlflow==3.17.2"
    assert swap.data["to"] == "mlflow-skinny==3.17.2"
    assert any("checked: no" in e.detail and "7 files" in e.detail for e in swap.evidence)
    assert any(e.kind == "declared" and e.path == "requirements.txt" for e in swap.evidence)


@pytest.mark.parametrize(
    ("imports", "signals"),
    [
        ((imp("mlflow.sklearn"),), ()),
        ((imp("mlflow.server"),), ()),
        ((), (sig("mlflow.pyfunc.load_model"),)),
        ((), (sig("sqlite:///mlruns.db", kind="string", pattern="^sqlite:///"),)),
    ],
)
def test_mlflow_skinny_held_back_by_runtime_full_mlflow_use(imports: tuple, signals: tuple) -> None:
    ctx = make_ctx(mlflow_installed(), scan=empty_scan(imports, signals), verdicts={"mlflow": Verdict.RUNTIME})
    finder = SwapFinder(sizer=offline())
    assert not [f for f in finder.find(ctx) if f.id == "swap:mlflow-skinny"]
    decision = next(d for d in finder.decisions if d.rule.id == "mlflow-skinny")
    assert decision.applies and not decision.fired
    assert decision.condition.holding[0].path == "src/app/main.py"


def test_non_runtime_evidence_never_holds_a_swap_back() -> None:
    scan = empty_scan(imports=(imp("mlflow.sklearn", Context.DEV),),
                      signals=(sig("mlflow.server", context=Context.SCRIPT),))
    ctx = make_ctx(mlflow_installed(), scan=scan, verdicts={"mlflow": Verdict.RUNTIME})
    swap = next(f for f in SwapFinder(sizer=offline()).find(ctx) if f.id == "swap:mlflow-skinny")
    assert any("ignored (not runtime)" in e.detail for e in swap.evidence)


def test_no_scan_means_no_swap_is_cleared() -> None:
    ctx = make_ctx(mlflow_installed(), verdicts={"mlflow": Verdict.RUNTIME})
    ctx = AnalysisContext(None, None, ctx.declared, ctx.target, ctx.installed, ctx.distributions)
    finder = SwapFinder(sizer=offline())
    assert not [f for f in finder.find(ctx) if f.code == "swap"]


# ---------------------------------------------------------------------------- torch


def torch_cuda_installed() -> list[InstalledDistribution]:
    return [
        dist("torch", "2.2.2", 1500 * MB, ("filelock", 'nvidia-cublas-cu12==12.1.3.1; platform_system == "Linux"',
                                           "triton==2.2.0; platform_system == 'Linux'")),
        dist("nvidia-cublas-cu12", "12.1.3.1", 700 * MB), dist("triton", "2.2.0", 400 * MB),
        dist("filelock", "3.13", 1 * MB),
    ]


def cpu_torch_links(tmp_path: Path, version: str = "2.2.2+cpu") -> Path:
    links = tmp_path / "links"
    build_wheel(links, "torch", version, files={"torch/__init__.py": "x = 1\n", "torch/lib.so": b"\0" * 300_000},
                requires=["filelock"], tag="cp311-cp311-manylinux_2_28_x86_64")
    build_wheel(links, "torch", "2.2.2", files={"torch/__init__.py": "y\n"}, requires=["nvidia-cublas-cu12"],
                tag="cp311-cp311-manylinux_2_28_x86_64")
    return links


def test_torch_cpu_fires_and_sizes_the_cpu_wheel_by_range_read(tmp_path: Path) -> None:
    links = cpu_torch_links(tmp_path)
    ctx = make_ctx(torch_cuda_installed(), scan=empty_scan(imports=(imp("torch"),), signals=(sig("torch.tensor"),)),
                   verdicts={"torch": Verdict.RUNTIME})
    sizer = IndexSizer(index_urls=(), find_links=(links,))
    swap = next(f for f in SwapFinder(sizer=sizer).find(ctx) if f.id == "swap:torch-cpu")
    incoming = 300_000 + len("x = 1\n")
    metadata_files = 0
    import zipfile

    with zipfile.ZipFile(next(links.glob("*+cpu*.whl"))) as zf:
        metadata_files = sum(i.file_size for i in zf.infolist()) - incoming
    # goes: torch + nvidia + triton + filelock; comes: the +cpu wheel, and filelock stays (it requires it)
    assert swap.savings_bytes == (1500 + 700 + 400 + 1) * MB - (incoming + metadata_files + 1 * MB)
    assert swap.estimate is False
    assert swap.data["to"] == "torch==2.2.2+cpu"
    assert swap.data["index_lines"] == ["--extra-index-url https://download.pytorch.org/whl/cpu"]
    assert swap.data["index_url"] == "https://download.pytorch.org/whl/cpu"
    assert any("CUDA build" in e.detail for e in swap.evidence)


@pytest.mark.parametrize(
    "signal",
    [sig("torch.cuda.is_available"), sig("model.cuda", pattern=".cuda"),
     sig("cuda:0", kind="string", pattern="^cuda(:\\d+)?$"), sig("cuda", kind="string")],
)
def test_torch_cpu_held_back_by_runtime_cuda_use(signal: Signal) -> None:
    ctx = make_ctx(torch_cuda_installed(), scan=empty_scan(signals=(signal,)), verdicts={"torch": Verdict.RUNTIME})
    assert not [f for f in SwapFinder(sizer=offline()).find(ctx) if f.id == "swap:torch-cpu"]


def test_torch_cpu_does_not_fire_on_a_cpu_build() -> None:
    installed = [dist("torch", "2.2.2+cpu", 700 * MB, ("filelock",)), dist("filelock", "3.13", MB)]
    finder = SwapFinder(sizer=offline())
    assert not [f for f in finder.find(make_ctx(installed, verdicts={"torch": Verdict.RUNTIME}))
                if f.id == "swap:torch-cpu"]
    decision = next(d for d in finder.decisions if d.rule.id == "torch-cpu")
    assert not decision.applies and "not a CUDA build" in decision.reasons[0]


def test_torch_cpu_declared_only_uses_recorded_closures_as_estimate() -> None:
    ctx = make_ctx([], decl=declared("torch==2.2.2"))
    swap = next(f for f in SwapFinder(sizer=offline()).find(ctx) if f.id == "swap:torch-cpu")
    assert swap.estimate is True
    assert swap.savings_bytes == round((4764.3 - 740.8) * MB)
    assert not [f for f in SwapFinder(sizer=offline()).find(make_ctx([], decl=declared("torch==2.2.2+cpu")))
                if f.id == "swap:torch-cpu"]


def test_offline_incoming_falls_back_to_recorded_figure_as_estimate() -> None:
    ctx = make_ctx(torch_cuda_installed(), verdicts={"torch": Verdict.RUNTIME})
    swap = next(f for f in SwapFinder(sizer=offline()).find(ctx) if f.id == "swap:torch-cpu")
    assert swap.estimate is True
    assert swap.savings_bytes == (1500 + 700 + 400 + 1) * MB - round((1500 + 700 + 400 + 1) * MB * 740.8 / 4764.3)


# ---------------------------------------------------------------------------- every rule, both ways

_STRING_SAMPLES = {
    "^cuda(:\\d+)?$": "cuda:0", "^/?(device:)?GPU(:\\d+)?$": "/GPU:0", "^(gpu|cuda)$": "gpu",
    "^(CUDA|Tensorrt)ExecutionProvider$": "CUDAExecutionProvider", "^sqlite:///": "sqlite:///x.db",
}


def _holding_evidence(group) -> tuple[tuple[ImportRef, ...], tuple[Signal, ...]]:
    if group.attributes:
        attr = sorted(group.attributes)[0]
        value = "obj" + attr if attr.startswith(".") else attr + ".call"
        return (), (sig(value, pattern=attr),)
    if group.imports:
        return (imp(group.imports[0]),), ()
    pattern = group.strings[0]
    return (), (sig(_STRING_SAMPLES[pattern], kind="string", pattern=pattern),)


def _heavy_side(rule) -> tuple[list[InstalledDistribution], DeclaredSet]:
    requires: tuple[str, ...] = ()
    req = rule.source
    if rule.build == "cuda":
        requires = ("nvidia-cublas-cu12",)
    if rule.extra:
        extra = {"cuda\\d*": "cuda12"}.get(rule.extra, rule.extra)
        req = f"{rule.source}[{extra}]"
        requires = (f'big-extra-dep; extra == "{extra}"',)
    installed = [dist(rule.source, "1.0", 500 * MB, requires), dist("nvidia-cublas-cu12", "12.1", 300 * MB),
                 dist("big-extra-dep", "1.0", 200 * MB)]
    return installed, declared(req)


GATED_RULES = [r for r in packaged_rules().swaps if r.held_back_by and not r.unless_installed]


@pytest.mark.parametrize("rule", GATED_RULES, ids=[r.id for r in GATED_RULES])
def test_every_gated_swap_fires_without_evidence_and_is_held_back_with_it(rule) -> None:
    rules = packaged_rules()
    installed, decl = _heavy_side(rule)
    clear = make_ctx(installed, decl=decl, verdicts={rule.source: Verdict.RUNTIME})
    clear = AnalysisContext(None, empty_scan(), decl, clear.target, clear.installed, clear.distributions)
    fired = decide_swap(rule, clear, rules, offline())
    assert fired.fired, fired.reasons
    assert fired.finding is not None and fired.finding.data["from"] and fired.finding.data["to"]
    assert fired.finding.savings_bytes is not None
    for group_name in rule.held_back_by:
        imports, signals = _holding_evidence(rules.evidence[group_name])
        held_ctx = AnalysisContext(None, empty_scan(imports, signals), decl, clear.target, clear.installed,
                                   clear.distributions)
        held = decide_swap(rule, held_ctx, rules, offline())
        assert held.applies and not held.fired, (group_name, held.reasons)


def test_opencv_headless_held_back_when_another_package_requires_opencv_python() -> None:
    installed = [dist("opencv-python", "4.9", 200 * MB), dist("albumentations", "1.4", MB, ("opencv-python",))]
    ctx = make_ctx(installed, verdicts={"opencv-python": Verdict.RUNTIME, "albumentations": Verdict.RUNTIME})
    finder = SwapFinder(sizer=offline())
    assert not [f for f in finder.find(ctx) if f.id == "swap:opencv-headless"]
    decision = next(d for d in finder.decisions if d.rule.id == "opencv-headless")
    assert "albumentations requires opencv-python" in decision.condition.holding[0].detail


def test_extra_swap_measures_only_what_the_extra_pulls() -> None:
    installed = [dist("pandas", "3.1", 44 * MB, ('pyarrow; extra == "all"', 'numba; extra == "all"', "numpy")),
                 dist("pyarrow", "15", 157 * MB), dist("numba", "0.6", 60 * MB), dist("numpy", "2", 57 * MB)]
    ctx = make_ctx(installed, decl=declared("pandas[all]==3.1"), verdicts={"pandas": Verdict.RUNTIME})
    swap = next(f for f in SwapFinder(sizer=offline()).find(ctx) if f.id == "swap:pandas-extras")
    assert swap.savings_bytes == (157 + 60) * MB and swap.estimate is False


# ---------------------------------------------------------------------------- removals


def test_removal_fires_for_dev_only_jupyter_with_retained_bytes() -> None:
    installed = [dist("jupyter", "1.0", 1000, ("notebook", "ipykernel")), dist("notebook", "7", 50 * MB),
                 dist("ipykernel", "6", 10 * MB, ("ipython",)), dist("ipython", "8", 20 * MB)]
    ctx = make_ctx(installed, verdicts={"jupyter": Verdict.DEV_ONLY, "ipykernel": Verdict.RUNTIME})
    findings = {f.id: f for f in SwapFinder(sizer=offline()).find(ctx)}
    jup = findings["remove-from-runtime:jupyter"]
    assert jup.savings_bytes == 1000 + 50 * MB  # ipykernel stays: it is a runtime verdict here
    assert jup.estimate is False and jup.data["from"] == "jupyter"
    assert "remove-from-runtime:ipykernel" not in findings


def test_removal_not_installed_uses_recorded_estimate_and_skips_runtime_verdicts() -> None:
    ctx = make_ctx([], decl=declared("jupyter==1.0.0", "pytest==8"))
    reports = {
        "jupyter": DistributionReport("jupyter", None, 0, 0, 0, Verdict.DEV_ONLY, True, False),
        "pytest": DistributionReport("pytest", None, 0, 0, 0, Verdict.RUNTIME, True, False),
    }
    ctx = AnalysisContext(None, empty_scan(), ctx.declared, TARGET, {}, reports)
    findings = {f.id: f for f in SwapFinder(sizer=offline()).find(ctx)}
    assert findings["remove-from-runtime:jupyter"].estimate is True
    assert findings["remove-from-runtime:jupyter"].savings_bytes == 170 * MB
    assert "remove-from-runtime:pytest" not in findings


# ---------------------------------------------------------------------------- rules as data


def test_signal_patterns_cover_every_condition() -> None:
    patterns = signal_patterns()
    for name in ("torch.cuda", ".cuda", "cv2.imshow", "cv2.waitKey", "tensorflow.config.list_physical_devices"):
        assert name in patterns.attributes
    assert "^cuda(:\\d+)?$" in patterns.strings


def test_project_rules_extend_override_and_disable(tmp_path: Path) -> None:
    (tmp_path / "swaps.toml").write_text(
        '[[swap]]\nid = "boto3-lite"\nfrom = "boto3"\nto = "botocore"\nowner = "ML Engineer"\n'
        'reason = "only low-level calls"\nheld_back_by = []\n'
        '[[removal]]\nname = "rich"\nowner = "ML Engineer"\n'
    )
    rules = load_rules({"swaps-file": "swaps.toml", "disable-swaps": ["torch-cpu"],
                        "swaps": [{"id": "mlflow-skinny", "from": "mlflow", "to": "mlflow-skinny",
                                   "owner": "DevOps", "reason": "team rule"}]}, tmp_path)
    ids = {r.id: r for r in rules.swaps}
    assert "boto3-lite" in ids and "torch-cpu" not in ids
    assert ids["mlflow-skinny"].owner.value == "DevOps"
    assert "rich" in {r.name for r in rules.removals}


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ('[[swap]]\nid = "x"\nfrom = "a"\nto = "b"\nowner = "DevOps"\nreason = "r"\ntypo = 1\n', "unknown key"),
        ('[[swap]]\nid = "x"\nfrom = "a"\nto = "b"\nowner = "Nobody"\nreason = "r"\n', "owner"),
        ('[[swap]]\nid = "x"\nfrom = "a"\nto = "b"\nowner = "DevOps"\nreason = "r"\nheld_back_by = ["nope"]\n',
         "unknown evidence"),
        ('[evidence.g]\ndescription = "d"\nstrings = ["(unclosed"]\n', "regular expression"),
        ("not toml [", "not valid TOML"),
    ],
)
def test_bad_project_rules_name_the_file(tmp_path: Path, text: str, problem: str) -> None:
    (tmp_path / "rules.toml").write_text(text)
    with pytest.raises(InputError) as info:
        load_rules({"swaps-file": "rules.toml"}, tmp_path)
    assert "rules.toml" in str(info.value) and problem in str(info.value)


def test_extras_requested_by_a_parent_join_the_retained_set() -> None:
    """torch → cuda-toolkit[cublas] → nvidia-cublas (only under the extra): all of it goes."""
    installed = [
        dist("torch", "2.14.1", 1000 * MB, ('cuda-toolkit[cublas]==13.0.3; platform_system == "Linux"',)),
        dist("cuda-toolkit", "13.0.3", MB, ("nvidia-cublas; extra == 'cublas'", "nvidia-other; extra == 'all'")),
        dist("nvidia-cublas", "13.1", 500 * MB), dist("nvidia-other", "13", 300 * MB),
    ]
    graph = build_graph(AnalysisContext(None, None, None, TARGET, {d.name: d for d in installed}, {}))
    assert retained_set({"torch"}, graph) == {"torch", "cuda-toolkit", "nvidia-cublas"}


@pytest.mark.parametrize(("installed", "fires"), [("2.0.3", False), ("3.2.0", True)])
def test_a_same_version_twin_of_another_release_is_no_swap(tmp_path: Path, installed: str, fires: bool) -> None:
    """xgboost-cpu begins at 2.1.1: an image with xgboost 2.0.3 would get another release under its
    pickled model. The index decides; the decision says why."""
    links = tmp_path / "links"
    for version in ("2.1.1", "3.2.0"):
        build_wheel(links, "xgboost-cpu", version, tag="py3-none-manylinux_2_28_x86_64")
    ctx = make_ctx([dist("xgboost", installed, 400 * MB, ("numpy",)), dist("numpy", "2", 30 * MB)],
                   scan=empty_scan(imports=(imp("xgboost"),)), verdicts={"xgboost": Verdict.RUNTIME})
    finder = SwapFinder(sizer=IndexSizer(index_urls=(), find_links=(links,)))
    swaps = [f for f in finder.find(ctx) if f.id == "swap:xgboost-cpu"]
    assert bool(swaps) is fires
    if fires:
        assert swaps[0].data["to"] == "xgboost-cpu==3.2.0"
    else:
        rules = packaged_rules()
        rule = next(r for r in rules.swaps if r.id == "xgboost-cpu")
        decision = decide_swap(rule, ctx, rules, IndexSizer(index_urls=(), find_links=(links,)))
        assert not decision.fired and any("no 2.0.3" in r and "3.2.0" in r for r in decision.reasons)
