"""Every parser depslim has, as a fuzz target: a strategy for its input and a function that runs it.

The property every target shares: for any input, the parser returns a result or raises
`InputError` (exit 2, one line naming the file) — never any other exception. Image targets also
accept `TargetError` for `--platform` asking for a platform the image does not have (exit 2 too).
The tests in this folder and `benchmarks/fuzz.py` (long campaigns) run the same targets.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from depslim.errors import InputError, TargetError
from depslim.imagedoc import image_finders
from tests.fuzz import images
from tests.fuzz import strategies as fz

PROFILES = {
    # the whole folder in well under a minute on a shared 2-core machine
    "ci": {"max_examples": 120},
    "dev": {"max_examples": 20},
    "long": {"max_examples": 5000},
}
_QUIET = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much,
          HealthCheck.large_base_example]


def register_profiles() -> None:
    for name, values in PROFILES.items():
        settings.register_profile(f"depslim-fuzz-{name}", deadline=None, database=None,
                                  suppress_health_check=_QUIET, **values)


def fuzz_settings(scale: float = 1.0) -> settings:
    """The chosen profile (DEPSLIM_FUZZ_PROFILE, default ci); `scale` trims a slow target's share."""
    register_profiles()
    profile = settings.get_profile(f"depslim-fuzz-{os.environ.get('DEPSLIM_FUZZ_PROFILE', 'ci')}")
    return settings(profile, max_examples=max(1, int(profile.max_examples * scale)))


# --- runners ----------------------------------------------------------------------------------


def write_tree(root: Path, files: Mapping[str, bytes]) -> None:
    for name, data in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


def in_project(files: Mapping[str, bytes], run: Callable[[Path], Any]) -> Any:
    """Run `run(root)` over `files` written to a fresh folder (removed afterwards)."""
    with tempfile.TemporaryDirectory(prefix="depslim-fuzz-") as tmp:
        root = Path(tmp) / "project"
        root.mkdir()
        write_tree(root, files)
        return run(root)


def run_requirements(files: Mapping[str, bytes]) -> Any:
    from depslim.declared import parse_requirements_file

    return in_project(files, lambda root: parse_requirements_file(root / "requirements.txt", root))


def _declared(name: str) -> Callable[[Mapping[str, bytes]], Any]:
    def run(files: Mapping[str, bytes]) -> Any:
        from depslim.declared import read_declared_with_warnings

        return in_project(files, lambda root: read_declared_with_warnings(root, [root / name]))

    return run


def run_notebook(data: bytes) -> Any:
    from depslim.imports.notebook import scan_notebook

    return scan_notebook(data, PATTERNS)


def run_imports(data: bytes) -> Any:
    """Both scanners; where the whole file parses, the fast path must give exactly its result."""
    from depslim.imports.scan import scan_bytes

    full = scan_bytes(data, PATTERNS, full=True)
    fast = scan_bytes(data, PATTERNS)
    if full[2] is None:
        assert fast == full, "fragment scan differs from the whole-file parse"
    return fast


def run_dockerfile(files: Mapping[str, bytes]) -> Any:
    from depslim.dockerfile.audit import audit_dockerfile
    from depslim.dockerfile.parse import parse_dockerfile, run_commands

    def run(root: Path) -> Any:
        parsed = parse_dockerfile(root / "Dockerfile")
        for stage in parsed.stages:
            for ins in stage.instructions:
                if ins.keyword == "RUN":
                    run_commands(ins)
        return audit_dockerfile(root / "Dockerfile")

    return in_project(files, run)


def run_layer(case: tuple[bytes, bool]) -> Any:
    """One layer blob, streamed (as from an engine) or read from a file (seekable, pooled inflate)."""
    from depslim.targets.image.layers import RegionFile, scan_layer

    blob, on_disk = case
    if not on_disk:
        return scan_layer(images._Reader(blob), "fuzz-layer")
    with tempfile.NamedTemporaryFile(prefix="depslim-fuzz-") as tmp:
        tmp.write(blob)
        tmp.flush()
        region = RegionFile(tmp.name, 0, len(blob))
        try:
            return scan_layer(region, "fuzz-layer")
        finally:
            region.close()


def run_image_sources(case: images.ImageCase) -> Any:
    from depslim.targets.image.sources import resolve

    return resolve(images.MemCatalog(dict(case.blobs)), case.limits, case.platform, "fuzz-image")


def run_image(case: images.ImageCase) -> Any:
    """Resolve, then scan, merge and read the Python inside (target.py, python.py, fs.py)."""
    from depslim.progress import NULL_PROGRESS
    from depslim.targets.image.target import analyze_resolved

    target = analyze_resolved(run_image_sources(case), case.limits, NULL_PROGRESS)
    return target.info(), target.distributions(), image_finders(target).findings


def _patterns() -> Any:
    from tests.test_imports_scan_layouts import PATTERNS as patterns

    return patterns


PATTERNS = _patterns()

# --- registry ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    name: str
    strategy: st.SearchStrategy[Any]
    run: Callable[[Any], Any]
    allowed: tuple[type[BaseException], ...] = (InputError,)
    scale: float = 1.0  # share of the profile's examples (slow targets get fewer in CI)


def _files(key: str, texts: st.SearchStrategy[str]) -> st.SearchStrategy[dict[str, bytes]]:
    return fz.bytes_of(texts, 2).map(lambda data: {key: data})


TARGETS: dict[str, Target] = {
    t.name: t
    for t in (
        Target("requirements", fz.requirements_project(), run_requirements),
        Target("pyproject", fz.pyproject_project(), _declared("pyproject.toml")),
        Target("setup_cfg", _files("setup.cfg", fz.setup_cfg_text()), _declared("setup.cfg")),
        Target("setup_py", _files("setup.py", fz.setup_py_text()), _declared("setup.py")),
        Target("environment_yml", _files("environment.yml", fz.environment_yml_text()), _declared("environment.yml")),
        Target("pipfile", _files("Pipfile", fz.pipfile_text()), _declared("Pipfile")),
        Target("pixi", _files("pixi.toml", fz.pixi_text()), _declared("pixi.toml")),
        Target("notebook", fz.notebook_bytes(), run_notebook),
        Target("imports", fz.bytes_of(fz.python_source(), 2), run_imports, scale=0.5),
        Target("dockerfile", fz.dockerfile_project(), run_dockerfile),
        Target("image_sources", images.image_case(), run_image_sources, (InputError, TargetError)),
        Target("image", images.image_case(), run_image, (InputError, TargetError), scale=0.5),
        Target("layers", st.tuples(images.layer_blob(), st.booleans()), run_layer),
    )
}


def check(target: Target, value: Any) -> bool:
    """Run one input; True when it was accepted, False when rejected with an allowed error."""
    try:
        target.run(value)
    except target.allowed:
        return False
    return True
