"""Benchmark: is a requirements file safe to rebuild an image from? depslim's against pipreqs'.

For every project folder given on the command line (generic: nothing project-specific here):

1. ORIG: the project's own Dockerfile built on a local base, exactly as `benchmarks/slim.py` builds it
   (its functions are reused; the images are shared, so a run after slim.py starts from the cache).
2. Requirement files to compare:
   - depslim: `depslim split PROJECT --image ORIG` -> requirements-base.txt (every runtime need, pinned
     to what ORIG has);
   - depslim+swaps: the same with `--apply-swaps` (the proven swaps applied);
   - pipreqs: `pipreqs PROJECT` (the tool data scientists reach for), as written: it pins the newest
     release on PyPI, which may not install on the project's Python;
   - pipreqs-unpinned: the same names without pins (pip picks what installs), so its breakages can be
     told from its pins.
3. For each file, a rebuilt image, built the same way for all three: the local slim base of the
   project's Python, the project copied to ORIG's WORKDIR, `pip install --no-cache-dir -r FILE`, and
   ORIG's own ENV, EXPOSE, ENTRYPOINT and CMD.
4. `depslim verify --image REBUILT --baseline ORIG`: breakages (what the rebuilt image lacks that the
   original had), bytes, cold start. A file that does not even install counts as a failed rebuild.

Writes WORK/safety-results.md and .json; removes the rebuilt images unless --keep-images.

    python benchmarks/safety.py PROJECT_DIR[::DOCKERFILE] ... --work DIR [--pipreqs CMD]
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import slim as harness  # the sibling benchmark: ORIG builds, local bases, pipreqs

REBUILT_REPO = "depslim-bench-rebuilt"
VARIANTS = ("depslim", "depslim+swaps", "pipreqs", "pipreqs-unpinned")


@dataclass
class Rebuild:
    variant: str
    requirements: str | None = None
    status: str = "not run"
    bytes: int | None = None
    breakages: list[str] = field(default_factory=list)
    other_errors: int = 0
    cold_start_s: float | None = None


@dataclass
class Row:
    name: str
    folder: str
    commit: str | None
    orig_bytes: int | None = None
    orig_cold_start_s: float | None = None
    rebuilds: list[Rebuild] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def orig_config(tag: str) -> dict[str, Any]:
    code, out, _ = harness.run(["docker", "image", "inspect", "-f", "{{json .Config}}", tag], timeout=60)
    return json.loads(out) if code == 0 else {}


def rebuild_dockerfile(base: str, config: dict[str, Any], requirements_name: str) -> str:
    """The same recipe for every variant: only the requirements file differs."""
    workdir = config.get("WorkingDir") or "/app"
    lines = [f"FROM {base}", f"WORKDIR {workdir}", f"COPY . {workdir}",
             f"RUN pip install --no-cache-dir -r {requirements_name}"]
    for item in config.get("Env") or []:
        key, _, value = str(item).partition("=")
        if key and key != "PATH":
            lines.append(f"ENV {key}={json.dumps(value)}")
    for port in sorted(config.get("ExposedPorts") or {}):
        lines.append(f"EXPOSE {port}")
    if config.get("Entrypoint"):
        lines.append("ENTRYPOINT " + json.dumps(config["Entrypoint"]))
    if config.get("Cmd"):
        lines.append("CMD " + json.dumps(config["Cmd"]))
    return "\n".join(lines) + "\n"


def split_requirements(folder: Path, orig: str, out: Path, swaps: bool, timeout: float) -> Path | None:
    args = ["--apply-swaps"] if swaps else []
    log = out.parent / f"split{'-swaps' if swaps else ''}.log"
    code, _text, _ = harness.run([*harness.DEPSLIM, "split", str(folder), "--image", orig, "--output-dir", str(out),
                                  "--force", *args], timeout=timeout, log=log)
    target = out / "requirements-base.txt"
    return target if code == 0 and target.is_file() else None


def unpinned(requirements: Path) -> Path:
    """pipreqs' names without their `==` pins, beside the original."""
    out = requirements.with_name(requirements.stem + "-unpinned.txt")
    lines = [line.split("==", 1)[0].strip() for line in requirements.read_text(encoding="utf-8").splitlines()]
    out.write_text("".join(f"{line}\n" for line in lines if line and not line.startswith("#")), encoding="utf-8")
    return out


def rebuild_and_verify(folder: Path, row: Row, rebuild: Rebuild, requirements: Path, base: str, orig: str,
                       work: Path, args: argparse.Namespace) -> None:
    context = work / row.name / f"context-{harness.slug(rebuild.variant)}"
    shutil.rmtree(context, ignore_errors=True)
    shutil.copytree(folder, context, symlinks=True, ignore=shutil.ignore_patterns(".git"))
    name = "requirements-rebuilt.txt"
    shutil.copyfile(requirements, context / name)
    (context / "Dockerfile.rebuilt").write_text(rebuild_dockerfile(base, orig_config(orig), name), encoding="utf-8")
    tag = f"{REBUILT_REPO}:{row.name}-{harness.slug(rebuild.variant)}"
    log = work / row.name / f"rebuild-{harness.slug(rebuild.variant)}.log"
    code, out, _ = harness.run(["docker", "build", "--network", "host", "--force-rm", "-f",
                                str(context / "Dockerfile.rebuilt"), "-t", tag, str(context)],
                               timeout=args.timeout, log=log)
    shutil.rmtree(context, ignore_errors=True)
    if code != 0:
        rebuild.status = "does not install"
        rebuild.breakages = [harness.tail(out, 1)[:160]]
        return
    rebuild.bytes = harness.image_bytes(tag)
    report = work / row.name / f"verify-{harness.slug(rebuild.variant)}.json"
    harness.run([*harness.DEPSLIM, "verify", str(folder), "--image", tag, "--baseline", orig, "--runs", str(args.runs),
                 "--format", "json", "-o", str(report), "--force"], timeout=args.timeout,
                log=work / row.name / f"verify-{harness.slug(rebuild.variant)}.log")
    try:
        doc = json.loads(report.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        rebuild.status = "verify wrote no report"
        return
    checks = doc.get("checks") or []
    rebuild.breakages = sorted({str(c.get("missing") or c.get("target")) for c in checks if c.get("breakage")})
    rebuild.other_errors = sum(1 for c in checks if not c.get("ok") and not c.get("breakage"))
    rebuild.cold_start_s = harness._median_start(doc.get("image"))
    row.orig_cold_start_s = row.orig_cold_start_s or harness._median_start(doc.get("baseline"))
    rebuild.status = "verified"
    if not args.keep_images:
        harness.rmi(tag)


def markdown(rows: list[Row]) -> str:
    head = "| project | commit | ORIG | " + " | ".join(f"{v} bytes | {v} breakages" for v in VARIANTS) + " |"
    out = [head, "|" + "---|" * (3 + 2 * len(VARIANTS))]
    for row in rows:
        cells = [row.name, f"`{row.commit[:10]}`" if row.commit else "–", harness.human(row.orig_bytes)]
        by = {r.variant: r for r in row.rebuilds}
        for variant in VARIANTS:
            r = by.get(variant)
            if r is None:
                cells += ["–", "–"]
                continue
            cells.append(harness.human(r.bytes))
            if r.status == "verified":
                cells.append(", ".join(f"`{b}`" for b in r.breakages) or "0")
            else:
                cells.append(f"{r.status}" + (f": {r.breakages[0]}" if r.breakages else ""))
        out.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("projects", nargs="+", metavar="FOLDER[::DOCKERFILE]")
    parser.add_argument("--work", type=Path, default=Path("/var/tmp/depslim-safety"))
    parser.add_argument("--pipreqs", metavar="CMD", help="pipreqs command (default: on PATH; none: skip)")
    parser.add_argument("--runs", type=int, default=3, help="cold-start runs per verify (default %(default)s)")
    parser.add_argument("--timeout", type=float, default=3600)
    parser.add_argument("--keep-images", action="store_true")
    parser.add_argument("--base-for", type=harness.parse_mapping, action="append", default=[], metavar="X.Y=IMAGE")
    parser.add_argument("--dockerfile")
    parser.add_argument("--no-cache", action="store_true")
    parser.add_argument("--variants", default=",".join(VARIANTS),
                        help="comma-separated subset of: " + ", ".join(VARIANTS))
    args = parser.parse_args(argv)
    work: Path = args.work.resolve()
    work.mkdir(parents=True, exist_ok=True)
    rows: list[Row] = []
    for spec in args.projects:
        folder_text, _, dockerfile_name = spec.partition("::")
        folder = Path(folder_text).resolve()
        commit, top = harness.git_info(folder)
        result = harness.Result(name=harness.project_name(folder, top), folder=str(folder), commit=commit)
        row = Row(result.name, str(folder), commit)
        rows.append(row)
        print(f"== {row.name}", flush=True)
        harness.build_orig(folder, result, work, args, dockerfile_name or None)
        row.orig_bytes, row.notes = result.orig_bytes, list(result.notes)
        if not result.orig_ok or result.orig_tag is None or result.python is None:
            continue
        base = harness.ensure_base(result.python, False, work / "bases")
        for variant in [v for v in VARIANTS if v in args.variants.split(",")]:
            rebuild = Rebuild(variant)
            row.rebuilds.append(rebuild)
            if variant.startswith("pipreqs"):
                harness.pipreqs_stage(folder, result, work, args.pipreqs)
                requirements = work / result.pipreqs if result.pipreqs else None
                if requirements is not None and variant == "pipreqs-unpinned":
                    requirements = unpinned(requirements)
            else:
                requirements = split_requirements(folder, result.orig_tag, work / row.name / harness.slug(variant),
                                                  variant.endswith("swaps"), args.timeout)
            if requirements is None:
                rebuild.status = "no requirements file"
                continue
            rebuild.requirements = str(requirements)
            rebuild_and_verify(folder, row, rebuild, requirements, base, result.orig_tag, work, args)
            print(f"   {variant}: {rebuild.status}, {harness.human(rebuild.bytes)}, breakages "
                  f"{', '.join(rebuild.breakages) or 'none'}", flush=True)
    table = markdown(rows)
    (work / "safety-results.md").write_text(table, encoding="utf-8")
    (work / "safety-results.json").write_text(json.dumps([asdict(r) for r in rows], indent=2), encoding="utf-8")
    print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
