"""Dockerfile findings for `depslim analyze` / `audit`: the project's Dockerfile and .dockerignore.

GPU-base advice needs to know whether runtime code uses a GPU; that comes from the same
evidence groups the CPU swaps use (torch.cuda, tf GPU devices, CUDA execution providers…).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from depslim.dockerfile.audit import audit_dockerfile
from depslim.findings.base import AnalysisContext
from depslim.model import Finding
from depslim.swaps.conditions import check_groups
from depslim.swaps.rules import RuleSet, config_values, packaged_rules

GPU_GROUPS = ("torch-gpu", "tensorflow-gpu", "jax-gpu", "onnxruntime-gpu", "xgboost-gpu", "faiss-gpu")

__all__ = ["DockerfileFinder", "audit_dockerfile", "runtime_gpu_use"]


def runtime_gpu_use(ctx: AnalysisContext, rules: RuleSet | None = None) -> bool | None:
    """True/False from the scan's runtime evidence; None without a scan."""
    if ctx.scan is None:
        return None
    rules = rules or packaged_rules()
    result = check_groups(ctx.scan, [rules.evidence[g] for g in GPU_GROUPS if g in rules.evidence])
    return not result.clear


@dataclass
class DockerfileFinder:
    """Audits `<project_root>/Dockerfile` (or `dockerfile` from config) when present."""

    filename: str = "Dockerfile"

    def find(self, ctx: AnalysisContext) -> list[Finding]:
        if ctx.project_root is None:
            return []
        name = str(config_values(ctx.config).get("dockerfile") or self.filename)
        path = Path(name) if Path(name).is_absolute() else ctx.project_root / name
        if not path.is_file():
            return []
        return audit_dockerfile(path, gpu_use=runtime_gpu_use(ctx), root=ctx.project_root)
