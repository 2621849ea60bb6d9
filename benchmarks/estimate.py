"""`depslim estimate` vs a real install: torch + mlflow, within 5%, fetching < 1% of the bytes.

1. `estimate_requirements` resolves for linux/amd64, Python 3.11 (pip --dry-run --report, with this
   machine's pip configuration: PyPI plus the local indexes) and range-reads every wheel's central
   directory, counting every byte read (HTTP bodies and local file reads).
2. The same requirements are really installed with `pip install --target <tmp> --no-compile`
   (no .pyc, like the central-directory sum) and every installed file is lstat-summed.
3. A second install with .pyc compilation is compared with the estimate's total, which adds the
   bytecode pip writes (ratio x .py bytes, `depslim.bytecode`): the default `depslim estimate`.

    python benchmarks/estimate.py      # results: benchmarks/results/estimate.md
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from depslim.estimate import estimate_requirements

RESULTS = Path(__file__).parent / "results" / "estimate.md"
REQUIREMENTS = "torch==2.14.1\nmlflow==3.17.2\n"


def tree_bytes(root: Path) -> tuple[int, int]:
    total = files = 0
    for dirpath, _dirs, names in os.walk(root):
        for name in names:
            total += os.lstat(os.path.join(dirpath, name)).st_size
            files += 1
    return total, files


def install(req: Path, target: Path, compile_pyc: bool) -> float:
    t0 = time.perf_counter()
    cmd = [sys.executable, "-m", "pip", "install", "-q", "--disable-pip-version-check", "--no-cache-dir",
           "--only-binary=:all:", "--target", str(target), "-r", str(req)]
    if not compile_pyc:
        cmd.insert(4, "--no-compile")
    subprocess.run(cmd, check=True)
    return time.perf_counter() - t0


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="depslim-bench-estimate-") as tmp:
        req = Path(tmp) / "requirements.txt"
        req.write_text(REQUIREMENTS)
        t0 = time.perf_counter()
        est = estimate_requirements(req, platform="linux/amd64", python="3.11")
        est_s = time.perf_counter() - t0
        target = Path(tmp) / "target"
        inst_s = install(req, target, compile_pyc=False)
        real, files = tree_bytes(target)
        target_pyc = Path(tmp) / "target-pyc"
        install(req, target_pyc, compile_pyc=True)
        real_pyc, _ = tree_bytes(target_pyc)
    ratio = est.installed_bytes / real_pyc
    files_ratio = est.files_bytes / real
    fetched = est.fetched_bytes / est.wheel_bytes
    lines = [
        "# depslim estimate vs a real install (torch + mlflow)",
        "",
        f"Requirements: `{REQUIREMENTS.strip().replace(chr(10), ', ')}`; target linux/amd64, CPython 3.11; "
        "this machine's pip configuration (PyPI + local indexes). 1 MB = 10^6 bytes.",
        "",
        "| measure | value |",
        "|---|---:|",
        f"| packages resolved | {len(est.packages)} |",
        f"| depslim estimate, files (sum of central-directory file sizes) | {est.files_bytes/1e6:,.1f} MB |",
        f"| real `pip install --target --no-compile` (lstat sum, {files} files) | {real/1e6:,.1f} MB |",
        f"| files / real --no-compile | {files_ratio:.4f} ({(files_ratio-1)*100:+.2f}%) |",
        f"| depslim estimate, total (files + {est.bytecode_bytes/1e6:,.1f} MB bytecode, est.) "
        f"| {est.installed_bytes/1e6:,.1f} MB |",
        f"| real install with .pyc compiled | {real_pyc/1e6:,.1f} MB |",
        f"| **estimate / real** | **{ratio:.4f}** ({(ratio-1)*100:+.2f}%) |",
        f"| wheel bytes (download size) | {est.wheel_bytes/1e6:,.1f} MB |",
        f"| bytes read by depslim to measure | {est.fetched_bytes/1e6:,.2f} MB |",
        f"| **fetched / wheel bytes** | **{fetched*100:.3f}%** |",
        f"| estimate wall time (resolve + range reads) | {est_s:.1f} s |",
        f"| real install wall time | {inst_s:.1f} s |",
        f"| estimated (not measured) packages | {len(est.estimated)} |",
        "",
        f"Goals: within 5% -> {'met' if max(abs(ratio-1), abs(files_ratio-1)) <= 0.05 else 'NOT met'}; "
        f"under 1% of bytes -> {'met' if fetched < 0.01 else 'NOT met'}.",
        "",
        "Largest packages (estimate):",
        "",
        "| package | version | installed MB | wheel MB | read kB |",
        "|---|---|---:|---:|---:|",
    ]
    for p in est.packages[:12]:
        lines.append(f"| {p.name} | {p.version} | {p.installed_bytes/1e6:,.1f} | {p.wheel_bytes/1e6:,.1f} "
                     f"| {p.fetched_bytes/1e3:,.1f} |")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0 if max(abs(ratio - 1), abs(files_ratio - 1)) <= 0.05 and fetched < 0.01 else 1


if __name__ == "__main__":
    raise SystemExit(main())
