"""`depslim slim`: from the evidence to the files of a slim image, computed before anything is written.

The steps reuse what the other commands do, with the scope the image serves (`--scope serving`
by default: only what the image's command reaches ships):
1. analyze the project against the target (the current image or an environment);
2. split: what the served code needs, pinned to the target's versions, each line with its reason
   (`requirements-slim.txt`), with the accepted swaps applied;
3. lock it with hashes for the target's Python and platform (`requirements-slim.lock.txt`);
4. decide the base, the OS libraries the wheels need, the files to copy, and what the original
   image's start-up carried;
5. render `Dockerfile.depslim`, `depslim-slim.md` and the merged `.dockerignore`.

Pure over its inputs except for the analysis, the resolver and the index lookups; it never
writes into the project (the lock runs in a private temporary folder) and never prints.
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from depslim.core import Analysis, AnalyzeOptions, Reach, analyze_fully
from depslim.errors import InputError, LockError
from depslim.generate.lock import LockOptions, LockResult, Pin, compute_lock, running_platform, running_python
from depslim.generate.split import SplitOptions, SplitResult, plan_split, select_swaps
from depslim.generate.stamp import stamp
from depslim.imports.contexts import ContextRules
from depslim.model import Context, Evidence, Report, Scope
from depslim.progress import NULL_PROGRESS, Progress
from depslim.slim.base import BaseChoice, choose_base
from depslim.slim.carry import Carried, from_dockerfile, from_image_config
from depslim.slim.copies import CopyPlan, merge_dockerignore, plan_copies
from depslim.slim.dockerfile import DockerfileSpec, render_dockerfile
from depslim.slim.native import NativeNeeds, native_needs
from depslim.slim.projection import Projection, project_size
from depslim.slim.wheels import WheelCheck, check_wheels
from depslim.targets.spec import TargetSpec

DOCKERFILE = "Dockerfile.depslim"
REQUIREMENTS = "requirements-slim.txt"
LOCK = "requirements-slim.lock.txt"
EXPLAIN = "depslim-slim.md"
DOCKERIGNORE = ".dockerignore"


@dataclass(frozen=True)
class SlimOptions:
    """What to slim and how. `dockerfile` is the original (project-relative), read for its command."""

    project: Path
    output_dir: Path | None = None
    target: TargetSpec = field(default_factory=TargetSpec)
    base: str | None = None
    dockerfile: str = "Dockerfile"
    scope: Scope = Scope.SERVING
    apply_swaps: bool = False
    swap_ids: tuple[str, ...] = ()
    requirements: tuple[Path, ...] = ()
    backend: str | None = None
    lock_env: Mapping[str, str] | None = None
    dev_paths: tuple[str, ...] | None = None
    script_paths: tuple[str, ...] | None = None
    exclude: tuple[str, ...] = ()
    cache_dir: Path | None = None
    config: Mapping[str, object] = field(default_factory=dict)
    check_index: bool = True  # look up wheels for the target on the lock's index (network)
    allow_build: bool = False  # let the lock's resolver build VCS / sdist requirements (depslim.builds)

    @property
    def image(self) -> str | None:
        """The image slimmed (read-only view of `target`)."""
        return self.target.image


@dataclass(frozen=True)
class SlimPlan:
    """Every choice with its evidence, and the texts to write (path -> text), nothing written yet."""

    analysis: Analysis
    split: SplitResult
    lock: LockResult
    base: BaseChoice
    carried: Carried
    copies: CopyPlan
    native: NativeNeeds
    wheels: WheelCheck
    projection: Projection
    reach: Reach
    files: tuple[tuple[Path, str], ...]
    notes: tuple[str, ...] = ()

    @property
    def report(self) -> Report:
        return self.analysis.report


def _python_xy(version: str) -> str:
    parts = version.split(".")
    return ".".join(parts[:2]) if len(parts) >= 2 else running_python()


def _lock_backend(options: SlimOptions, python: str, platform: str) -> str:
    if options.backend:
        return options.backend
    return "pip-tools" if (python, platform) == (running_python(), running_platform()) else "uv"


def _lock(options: SlimOptions, split: SplitResult, output: Path, python: str, platform: str,
          progress: Progress, current: Sequence[Pin] = ()) -> tuple[LockResult, str]:
    """Lock requirements-slim.txt in a private folder (nothing in the project is touched), with the
    previous lock's pins as preferences so a rerun on the same inputs changes nothing.

    The current target's versions are constraints on the first try: the slim image keeps the versions
    the image it replaces ran with, so a swapped-in twin or a newer release on the index does not move
    a shared dependency (mlflow-skinny dropped mlflow's pyarrow cap on a real project). When the inputs
    cannot be met that way (a swap needs a newer release), the lock is resolved freely and the note
    says so."""
    with tempfile.TemporaryDirectory(prefix="depslim-slim-") as tmp:
        source = Path(tmp) / REQUIREMENTS
        source.write_text(split.base_text, encoding="utf-8")
        lock_options = LockOptions(backend=_lock_backend(options, python, platform), python_version=python,
                                   platform=platform, env=options.lock_env, allow_build=options.allow_build)
        try:
            return compute_lock(source, output, lock_options, progress, constraints=current), ""
        except LockError as exc:
            if not current:
                raise
            note = (f"the lock could not keep every version the target has ({exc.message}); "
                    "resolved without them")
            return compute_lock(source, output, lock_options, progress), note


def _gpu_use(analysis: Analysis, reach: Reach) -> tuple[Evidence, ...]:
    """Runtime GPU evidence (torch.cuda, device="cuda", …) in code the served entrypoint reaches."""
    from depslim.swaps.conditions import check_groups
    from depslim.swaps.rules import packaged_rules

    rules = packaged_rules()
    groups = [g for name, g in rules.evidence.items() if name.endswith("-gpu")]
    holding = check_groups(analysis.scan, groups).holding if analysis.scan is not None else ()
    return tuple(e for e in holding if e.kind == "entrypoint" or reach.reached_path(e.path))


def _cuda_builds(analysis: Analysis, names: set[str]) -> list[tuple[str, str, str]]:
    from depslim.swaps.gpu import detect_cuda_build
    from depslim.swaps.rules import packaged_rules

    gpu = packaged_rules().gpu
    installed = {d.name: d for d in analysis.target.distributions()}
    builds = []
    for name in sorted(names):
        dist = installed.get(name)
        if dist is None:
            continue
        build = detect_cuda_build(dist, installed, gpu, analysis.report.target.markers)
        if build is not None:
            builds.append((build.name, build.version, build.cuda))
    return builds


def _carried(options: SlimOptions, analysis: Analysis) -> Carried:
    original = options.project / options.dockerfile
    if original.is_file():
        return from_dockerfile(original, options.dockerfile)
    config = getattr(getattr(analysis.target, "analysis", None), "config", None)
    if isinstance(config, Mapping) and options.image:
        return from_image_config(config, options.image)
    return Carried(source="")


def open_base(ref: str, progress: Progress) -> Any:
    """The base image when it is available here (an archive, a layout, the local engine), read once for
    what it provides and what it weighs; None otherwise (no registry is asked)."""
    from depslim.errors import TargetError
    from depslim.targets.image import open_image
    from depslim.targets.image.sources import engine_has

    if not Path(ref).exists() and not engine_has(ref.removeprefix("docker:")):
        return None
    try:
        return open_image(ref, progress=progress)
    except TargetError:
        return None


def _runtime_rule(options: SlimOptions) -> ContextRules:
    return ContextRules.build(options.dev_paths, options.script_paths)


def plan_slim(options: SlimOptions, progress: Progress = NULL_PROGRESS) -> SlimPlan:
    """Compute the slim image's files (nothing is written; see `depslim.cli.slim`)."""
    root = options.project
    if not root.is_dir():
        raise InputError(root, "no such project directory")
    out_dir = options.output_dir or root
    analysis = analyze_fully(
        AnalyzeOptions(project=root, target=options.target,
                       requirements=options.requirements, dev_paths=options.dev_paths,
                       script_paths=options.script_paths, exclude=options.exclude, cache_dir=options.cache_dir,
                       config=options.config, scope=options.scope, serving_dockerfile=options.dockerfile),
        progress,
    )
    report = analysis.report
    if analysis.declared is None or analysis.scan is None:
        raise InputError(root, "no project to slim (nothing scanned)")
    reach = analysis.reach
    swaps = select_swaps(report, apply_all=options.apply_swaps, ids=options.swap_ids)
    split = plan_split(report, analysis.declared, swaps,
                       SplitOptions(base_name=REQUIREMENTS, dev_name="requirements-dev.txt", cuts_name=EXPLAIN,
                                    keep_local_project=False, command="depslim slim"))
    if not split.base:
        raise InputError(root, "nothing to install: no runtime requirement was found for the served code",
                         hint="check the entrypoint (Dockerfile CMD) or pass --scope all")
    python = _python_xy(report.target.python_version or running_python())
    platform = report.target.platform or running_platform()
    current = [Pin(d.name, f"{d.name}=={d.version}", d.version, ()) for d in analysis.target.distributions()
               if d.version and "+" not in d.version and not d.editable]
    lock, lock_note = _lock(options, split, out_dir / LOCK, python, platform, progress, current)
    wheels = check_wheels(lock.pins, lock.text, python, platform, options.lock_env, enabled=options.check_index)
    shipped = {p.name for p in lock.pins}
    base = choose_base(python, _gpu_use(analysis, reach), _cuda_builds(analysis, shipped), options.base)
    base_image = open_base(base.image, progress)
    native = native_needs(analysis, shipped, base.image, base_image)
    carried = _carried(options, analysis)
    rules = _runtime_rule(options)
    dockerfile = root / options.dockerfile
    named = [(value, ev) for _name, value, ev in carried.env]
    named += [(ins.value, ins.evidence) for ins in (carried.cmd, carried.entrypoint) if ins is not None]
    copies = plan_copies(root, analysis.scan, reach.modules, carried.workdir,
                         dockerfile if dockerfile.is_file() else None,
                         lambda rel: rules.context_of(rel) is Context.RUNTIME, named=named)
    spec = DockerfileSpec(base=base, lock_name=LOCK, carried=carried, copies=copies.items,
                          python_path=copies.python_path, os_packages=native.packages,
                          compile_pins=wheels.without_wheel, project=root.resolve().name, pinned=frozenset(shipped))
    dockerfile_text = stamp(render_dockerfile(spec))
    base_bytes = base_image.info().totals.get("image_bytes") if base_image is not None else None
    projection = project_size(analysis, lock.pins, wheels, copies, native, base, base_bytes)
    existing = out_dir / DOCKERIGNORE
    try:
        ignored = existing.read_text(encoding="utf-8") if existing.is_file() else None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(existing, f"cannot read: {exc}") from None
    ignore_text = merge_dockerignore(ignored, copies.items, [LOCK, REQUIREMENTS, DOCKERFILE])
    notes = (*split.notes, *([lock_note] if lock_note else []), *copies.notes, *native.notes, *base.notes,
             *wheels.notes)
    from depslim.slim.explain import render_explanation

    plan = SlimPlan(analysis, split, lock, base, carried, copies, native, wheels, projection, reach, (), notes)
    explain = stamp(render_explanation(plan), comment="<!--")
    files = (
        (out_dir / REQUIREMENTS, split.base_text),
        (out_dir / LOCK, lock.text),
        (out_dir / DOCKERFILE, dockerfile_text),
        (out_dir / EXPLAIN, explain),
        (existing, ignore_text),
    )
    return SlimPlan(analysis, split, lock, base, carried, copies, native, wheels, projection, reach, files, notes)
