"""CUDA match: the CUDA build of torch / tensorflow / jax / onnxruntime vs the image's CUDA runtime.

The image's CUDA comes from its config (`CUDA_VERSION`, `NV_CUDA_CUDART_VERSION` set by the
nvidia/cuda bases) or from a `libcudart.so.X.Y` shipped by an installed `nvidia-cuda-runtime*`
wheel. Two findings: a framework built for another CUDA major than the image provides (the fix is
the pairing that matches), and a CUDA base image whose toolkit nothing uses because the wheels
bundle their own CUDA libraries (or are CPU builds).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from depslim.findings.base import AnalysisContext
from depslim.model import Evidence, Finding, Owner
from depslim.swaps.gpu import CudaBuild, detect_cuda_build
from depslim.swaps.rules import packaged_rules

FRAMEWORKS = ("torch", "tensorflow", "jax", "jaxlib", "onnxruntime-gpu", "cupy-cuda12x", "cupy-cuda11x")
CUDA_ENV = ("CUDA_VERSION", "NV_CUDA_CUDART_VERSION")


def image_cuda(ctx: AnalysisContext) -> tuple[str, Evidence] | None:
    """The CUDA runtime version the image provides, with where it was read."""
    for key in CUDA_ENV:
        value = ctx.target.env.get(key, "")
        match = re.match(r"(\d+)\.(\d+)", value)
        if match:
            return f"{match.group(1)}.{match.group(2)}", Evidence("", 0, "layer", f"image config ENV {key}={value}")
    return None


def wheel_cudart(ctx: AnalysisContext) -> list[tuple[str, str]]:
    """(dist, version) of libcudart shipped by installed wheels (file names say the major)."""
    found = []
    for name, dist in ctx.installed.items():
        for file in dist.files:
            match = re.search(r"libcudart\.so\.(\d+)(?:\.(\d+))?", file.path)
            if match:
                found.append((name, match.group(1) + (f".{match.group(2)}" if match.group(2) else "")))
                break
    return found


def _pairing(build: CudaBuild, cuda: str) -> str:
    major, _, minor = cuda.partition(".")
    if build.name == "torch":
        tag = f"cu{major}{minor or '0'}"
        return (f"install torch from https://download.pytorch.org/whl/{tag} (+{tag}) to match CUDA {cuda}, "
                f"or use a base image with CUDA {build.cuda}")
    if build.name in ("jax", "jaxlib"):
        return f"install jax[cuda{major}] to match CUDA {cuda}, or use a base image with CUDA {build.cuda}"
    if build.name == "tensorflow":
        return f"use tensorflow[and-cuda] built for CUDA {major}, or a base image with CUDA {build.cuda}"
    return f"use a {build.name} build for CUDA {major}, or a base image with CUDA {build.cuda}"


@dataclass
class CudaMatchFinder:
    """`cuda-mismatch:<dist>` and `cuda-base-unused` findings."""

    def find(self, ctx: AnalysisContext) -> list[Finding]:
        gpu = packaged_rules().gpu
        builds = []
        for name in FRAMEWORKS:
            dist = ctx.installed.get(name)
            if dist is not None:
                build = detect_cuda_build(dist, ctx.installed, gpu, ctx.target.markers)
                if build is not None:
                    builds.append(build)
        provided = image_cuda(ctx)
        findings: list[Finding] = []
        if provided is not None:
            cuda, where = provided
            for build in builds:
                if build.cuda and build.cuda.split(".")[0] != cuda.split(".")[0]:
                    findings.append(self._mismatch(build, cuda, where))
            findings += self._unused_base(ctx, builds, cuda, where)
        majors = {b.cuda.split(".")[0] for b in builds if b.cuda}
        if len(majors) > 1:
            findings.append(Finding(
                id="cuda-mixed", code="cuda-mixed",
                title=f"frameworks built for different CUDA majors: {', '.join(sorted(majors))}",
                owner=Owner.ML_ENGINEER, fix="install every framework for the same CUDA major",
                evidence=tuple(Evidence("", 0, "metadata", f"{b.name} {b.version}: CUDA {b.cuda} ({b.how})")
                               for b in builds), data={"builds": {b.name: b.cuda for b in builds}},
            ))
        return findings

    def _mismatch(self, build: CudaBuild, cuda: str, where: Evidence) -> Finding:
        return Finding(
            id=f"cuda-mismatch:{build.name}", code="cuda-mismatch",
            title=f"{build.name} {build.version} is built for CUDA {build.cuda}, the image provides CUDA {cuda}",
            owner=Owner.ML_ENGINEER, fix=_pairing(build, cuda), subject=build.name, severity="error",
            evidence=(where, Evidence("", 0, "metadata", f"{build.name} {build.version}: CUDA {build.cuda} "
                                                       f"({build.how})")),
            data={"from": f"{build.name}=={build.version}", "framework_cuda": build.cuda, "image_cuda": cuda},
        )

    def _unused_base(self, ctx: AnalysisContext, builds: list[CudaBuild], cuda: str,
                     where: Evidence) -> list[Finding]:
        """A CUDA base whose runtime nothing links: CPU builds, or wheels bundling their own CUDA."""
        bundled = wheel_cudart(ctx)
        frameworks = [n for n in FRAMEWORKS if n in ctx.installed]
        if builds and not bundled:
            return []
        if not frameworks and not bundled:
            return []
        if builds:
            detail = ", ".join(f"{n} ships libcudart {v}" for n, v in bundled)
            title = f"the CUDA {cuda} base is not used: the wheels bundle their own CUDA libraries"
        else:
            detail = ", ".join(f"{n} {ctx.installed[n].version} is a CPU build" for n in frameworks)
            title = f"CUDA {cuda} base image with CPU-only frameworks"
        return [Finding(
            id="cuda-base-unused", code="cuda-base-unused", title=title, owner=Owner.DEVOPS,
            fix="use a plain base such as python:3.11-slim (the wheels carry what they need)",
            subject="base-image", severity="warning",
            evidence=(where, Evidence("", 0, "metadata", detail)),
            data={"image_cuda": cuda},
        )]
