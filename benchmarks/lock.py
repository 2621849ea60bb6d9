"""Benchmark: `depslim lock` vs the backend it drives, on an ML stack against real PyPI.

Locks the same requirements (scikit-learn, pandas, numpy, mlflow-skinny, boto3, pandera,
fastapi, uvicorn[standard]) with plain `pip-compile --generate-hashes`, plain
`uv pip compile --generate-hashes`, and `depslim lock` with each backend, cold (empty caches)
and warm (caches from the previous run of the same variant). pip config is isolated
(PIP_CONFIG_FILE=/dev/null, UV_NO_CONFIG=1) and the index is https://pypi.org/simple.
Goal: depslim adds at most 10% wall time over its backend. Run by hand:

    python benchmarks/lock.py [--runs-pip 1] [--runs-uv 3]

Prints a table and writes benchmarks/results/lock.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REQUIREMENTS = ["scikit-learn", "pandas", "numpy", "mlflow-skinny", "boto3", "pandera", "fastapi",
                "uvicorn[standard]"]
INDEX = "https://pypi.org/simple"
RESULTS = Path(__file__).parent / "results" / "lock.md"


def _env(cache: Path) -> dict[str, str]:
    # no PYTHONDONTWRITEBYTECODE: an installed depslim has its .pyc files, like pip-tools does
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "UV_", "PYTHONDONTWRITEBYTECODE"))}
    env.update({
        "PIP_CONFIG_FILE": "/dev/null", "UV_NO_CONFIG": "1", "PIP_DISABLE_PIP_VERSION_CHECK": "1",
        "PIP_CACHE_DIR": str(cache / "pip"), "XDG_CACHE_HOME": str(cache / "xdg"),
        "UV_CACHE_DIR": str(cache / "uv"),
    })
    return env


def _command(variant: str, work: Path) -> list[str]:
    uv = shutil.which("uv") or "uv"
    if variant == "pip-compile":
        return [sys.executable, "-m", "piptools", "compile", "--quiet", "--generate-hashes", "--allow-unsafe",
                "--strip-extras", "--output-file", str(work / "out.txt"), "requirements-base.txt"]
    if variant == "uv":
        return [uv, "pip", "compile", "--quiet", "--generate-hashes", "--python-version", "3.11",
                "--python-platform", "x86_64-manylinux_2_28", "--output-file", str(work / "out.txt"),
                "requirements-base.txt"]
    backend = variant.split(":", 1)[1]
    return [sys.executable, "-m", "depslim", "lock", "--backend", backend, "--python", "3.11",
            "--platform", "linux/amd64", "requirements-base.txt"]


def _pins(path: Path) -> set[str]:
    return {line.split(" ")[0] for line in path.read_text().splitlines()
            if line and line[0] not in "# -" and "==" in line}


def run_once(variant: str, cache: Path, root: Path) -> tuple[float, float, set[str]]:
    work = Path(tempfile.mkdtemp(dir=root))
    (work / "requirements-base.txt").write_text(f"--index-url {INDEX}\n" + "\n".join(REQUIREMENTS) + "\n")
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(_command(variant, work), cwd=work, env=_env(cache), capture_output=True, text=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if done.returncode != 0:
        raise SystemExit(f"{variant} failed: {done.stderr[-2000:]}")
    out = work / ("out.txt" if variant in ("pip-compile", "uv") else "requirements-base.lock.txt")
    return wall, cpu, _pins(out)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs-pip", type=int, default=1)
    parser.add_argument("--runs-uv", type=int, default=3)
    parser.add_argument("--output", type=Path, default=RESULTS,
                        help="results file (e.g. a second file for a pip-tools-only run)")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="depslim-bench-lock-"))
    # byte-compile once (as `pip install` does) so no timed run pays for compiling sources
    warm_env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    subprocess.run([sys.executable, "-c", "import depslim.cli.lock, depslim.generate.lock, piptools.scripts.compile"],
                   env=warm_env, check=True)
    timings: dict[tuple[str, str], list[float]] = {}
    cpus: dict[tuple[str, str], list[float]] = {}
    pinsets: dict[str, set[str]] = {}
    plan = [("uv", "depslim:uv", args.runs_uv), ("pip-compile", "depslim:pip-tools", args.runs_pip)]
    plan = [step for step in plan if step[2] > 0]
    for plain, ours, runs in plan:
        for i in range(runs):
            for variant in (plain, ours):  # interleaved so load noise hits both alike
                cache = root / f"cache-{variant.replace(':', '-')}"
                shutil.rmtree(cache, ignore_errors=True)
                for mode in ("cold", "warm"):
                    wall, cpu, pins = run_once(variant, cache, root)
                    timings.setdefault((variant, mode), []).append(wall)
                    cpus.setdefault((variant, mode), []).append(cpu)
                    pinsets[variant] = pins
                    print(f"run {i + 1} {variant:18} {mode}: {wall:7.2f} s wall, {cpu:6.2f} s CPU, "
                          f"{len(pins)} pins, load {os.getloadavg()[0]:.1f}", flush=True)
        # after each backend, so a long pip-tools run keeps uv's rows
        write_results(plan, timings, cpus, pinsets, args.output)
    shutil.rmtree(root, ignore_errors=True)


def write_results(plan: list[tuple[str, str, int]], timings: dict[tuple[str, str], list[float]],
                  cpus: dict[tuple[str, str], list[float]], pinsets: dict[str, set[str]],
                  output: Path = RESULTS) -> None:
    rows = []
    for plain, ours, _ in plan:
        for mode in ("cold", "warm"):
            if (ours, mode) not in timings:
                continue
            base = statistics.median(timings[(plain, mode)])
            mine = statistics.median(timings[(ours, mode)])
            cpu_base = statistics.median(cpus[(plain, mode)])
            cpu_mine = statistics.median(cpus[(ours, mode)])
            rows.append((ours, plain, mode, base, mine, mine / base, timings[(plain, mode)], timings[(ours, mode)],
                         cpu_base, cpu_mine))
    sets = list(pinsets.values())
    same = all(s == sets[0] for s in sets)
    header = ("| depslim variant | backend run plain | cache | plain wall s | depslim wall s | wall ratio "
              "| plain CPU s | depslim CPU s | CPU ratio | wall runs (plain / depslim) |")
    lines = [header, "|---|---|---|---|---|---|---|---|---|---|"]
    for ours, plain, mode, base, mine, ratio, a, b, cpu_base, cpu_mine in rows:
        lines.append(f"| {ours} | {plain} | {mode} | {base:.2f} | {mine:.2f} | **{ratio:.2f}×** | "
                     f"{cpu_base:.2f} | {cpu_mine:.2f} | {cpu_mine / cpu_base:.2f}× | "
                     f"{', '.join(f'{x:.2f}' for x in a)} / {', '.join(f'{x:.2f}' for x in b)} |")
    table = "\n".join(lines)
    print(table)
    tools = subprocess.run([sys.executable, "-m", "piptools", "compile", "--version"],
                           capture_output=True, text=True).stdout
    uv_v = subprocess.run([shutil.which("uv") or "uv", "--version"], capture_output=True, text=True).stdout
    load = os.getloadavg()
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(
        "# depslim lock vs the backend it drives\n\n"
        f"Inputs: `{' '.join(REQUIREMENTS)}` from `{INDEX}`, hashes on, pip config isolated. "
        f"Machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}; "
        f"{tools.strip()}; {uv_v.strip()}; 1-min load average when written {load[0]:.1f}.\n"
        "Medians; CPU = user+sys of the process tree. "
        "Cold = empty pip/pip-tools/uv caches, warm = caches of the previous run of the same variant. "
        "depslim runs are the full CLI (`python -m depslim lock ...`, interpreter start-up included).\n\n"
        f"{table}\n\n"
        f"Pin sets identical across the variants run ({', '.join(pinsets)}): **{same}** "
        f"({len(sets[0]) if sets else 0} pins).\n\n"
        "Note: pip-tools 7.6.2 asks `https://pypi.org/<name>/json` for hashes, which is 404, so it falls back to "
        "downloading and hashing every file of every pinned version (reference note gotcha 2); that dominates "
        "its times for both the plain and the depslim run.\n"
    )
    print(f"wrote {output}")


if __name__ == "__main__":
    main()
