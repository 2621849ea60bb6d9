"""CUDA match: framework CUDA build vs the image's CUDA runtime (hand-built target records)."""

from __future__ import annotations

from test_swaps import dist

from depslim.findings.base import AnalysisContext
from depslim.findings.cuda import CudaMatchFinder
from depslim.model import TargetInfo

MARKERS = {"platform_system": "Linux", "sys_platform": "linux", "platform_machine": "x86_64"}


def ctx(installed, env):
    target = TargetInfo(kind="image", ref="x", platform="linux/amd64", markers=MARKERS, env=env)
    return AnalysisContext(None, None, None, target, {d.name: d for d in installed}, {})


def test_local_version_mismatch_gives_the_matching_pairing() -> None:
    found = CudaMatchFinder().find(ctx([dist("torch", "2.2.2+cu118")], {"CUDA_VERSION": "12.1.0"}))
    mismatch = next(f for f in found if f.code == "cuda-mismatch")
    assert "CUDA 11.8" in mismatch.title and "CUDA 12.1" in mismatch.title
    assert "download.pytorch.org/whl/cu121" in mismatch.fix
    assert mismatch.evidence[0].detail == "image config ENV CUDA_VERSION=12.1.0"


def test_matching_major_is_not_a_mismatch_but_bundled_cuda_makes_the_base_unused() -> None:
    torch = dist("torch", "2.2.2", requires=('nvidia-cuda-runtime-cu12==12.1.105; platform_system == "Linux"',))
    runtime = dist("nvidia-cuda-runtime-cu12", "12.1.105",
                   files=("/site/nvidia/cuda_runtime/lib/libcudart.so.12",))
    found = {f.code: f for f in CudaMatchFinder().find(ctx([torch, runtime], {"CUDA_VERSION": "12.1.1"}))}
    assert "cuda-mismatch" not in found
    assert "cuda-base-unused" in found and "libcudart 12" in found["cuda-base-unused"].evidence[1].detail


def test_requires_suffix_gives_the_major_and_mismatches() -> None:
    torch = dist("torch", "2.13.0", requires=("nvidia-cublas-cu13",))
    found = {f.code for f in CudaMatchFinder().find(ctx([torch], {"CUDA_VERSION": "12.1.0"}))}
    assert "cuda-mismatch" in found


def test_cpu_frameworks_on_a_cuda_base() -> None:
    found = {f.code: f for f in CudaMatchFinder().find(ctx([dist("torch", "2.2.2+cpu")], {"CUDA_VERSION": "12.1.0"}))}
    assert "CPU-only" in found["cuda-base-unused"].title


def test_no_cuda_base_and_no_frameworks_means_nothing() -> None:
    assert CudaMatchFinder().find(ctx([dist("torch", "2.2.2+cu121")], {})) == []
    assert CudaMatchFinder().find(ctx([dist("requests")], {"CUDA_VERSION": "12.1.0"})) == []


def test_mixed_cuda_majors() -> None:
    found = {f.code for f in CudaMatchFinder().find(ctx([dist("torch", "2.2.2+cu118"),
                                                         dist("jaxlib", "0.4", requires=("jax-cuda12-plugin",))],
                                                        {}))}
    assert found == {"cuda-mixed"}
