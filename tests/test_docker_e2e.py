"""Real engine end to end: build an image, read it three ways, compare with a running container.

The image is built once per session (legacy builder) from the local Debian base that
`.ci/docker-setup` makes. depslim never runs image content; the test itself runs a container of
its own image to take the ground truth (lstat sums of RECORD files, pip cache size).
Under CI=true a missing engine is a failure, never a skip.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest

from depslim.imagedoc import image_finders
from depslim.targets.image import open_image
from tests.helpers import build_wheel

pytestmark = pytest.mark.docker

BASE = os.environ.get("DEPSLIM_TEST_BASE", "depslim-test-base:bookworm")
TAG = "depslim-e2e:latest"
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")

DOCKERFILE = f"""\
FROM {BASE}
COPY wheels /tmp/wheels
RUN pip install --no-index --no-cache-dir --break-system-packages --find-links /tmp/wheels \\
    alpha mlcore mlcore-skinny gamma && echo junk-junk-junk > /junk.txt
COPY delta-1.0.tar.gz /tmp/delta-1.0.tar.gz
RUN pip install --no-index --break-system-packages --no-build-isolation /tmp/delta-1.0.tar.gz \\
 && find /root/.cache/pip -type f -printf '%s\\n' | awk '{{s+=$1}} END {{print s+0}}' > /pipcache.bytes
ENV APP_MODE=test
RUN rm -rf /root/.cache/pip /junk.txt /tmp/wheels
"""

MEASURE = r"""
import importlib.metadata as md, json, os
out = {}
for dist in md.distributions():
    total, seen = 0, set()
    for f in dist.files or []:
        path = os.path.normpath(str(dist.locate_file(f)))
        if path in seen:
            continue
        seen.add(path)
        try:
            total += os.lstat(path).st_size
        except FileNotFoundError:
            pass
    out[dist.metadata["Name"].lower() + "==" + dist.version] = total
print(json.dumps(out))
"""


def _docker(*args: str, **kwargs: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["docker", *args], check=True, capture_output=True, text=True, **kwargs)  # type: ignore[call-overload]


def _engine_problem() -> str | None:
    if shutil.which("docker") is None:
        return "docker CLI not installed (run .ci/docker-setup)"
    probe = subprocess.run(["docker", "info"], capture_output=True, text=True)
    if probe.returncode != 0:
        return f"Docker engine not reachable: {probe.stderr.strip()[:200]}"
    if subprocess.run(["docker", "image", "inspect", BASE], capture_output=True).returncode != 0:
        return f"base image {BASE} missing (run .ci/docker-setup)"
    return None


def _sdist(out: Path) -> Path:
    files = {
        "delta-1.0/setup.py": "from setuptools import setup\nsetup(name='delta', version='1.0', packages=['delta'])\n",
        "delta-1.0/delta/__init__.py": "VALUE = " + repr("d" * 3000) + "\n",
        "delta-1.0/PKG-INFO": "Metadata-Version: 2.1\nName: delta\nVersion: 1.0\n",
    }
    path = out / "delta-1.0.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        for name, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


@pytest.fixture(scope="session")
def e2e_image(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    problem = _engine_problem()
    if problem:
        if IN_CI:
            pytest.fail(f"CI=true but {problem}")
        pytest.skip(problem)
    ctx = tmp_path_factory.mktemp("e2e-context")
    wheels = ctx / "wheels"
    build_wheel(wheels, "alpha", "1.0", files={"alpha/__init__.py": "def main():\n    return 0\n" + "#" * 5000},
                top_level=["alpha"], console_scripts={"alpha": "alpha:main", "alpha-tool": "alpha:main"})
    shared = "SHARED = True\n" + "s" * 7000
    build_wheel(wheels, "mlcore", "1.0", files={"mlcore/__init__.py": "X = 1\n", "mlcore/shared.py": shared})
    build_wheel(wheels, "mlcore-skinny", "1.0",
                files={"mlcore/shared.py": shared, "mlcore_skinny/__init__.py": "Y = 2\n"})
    build_wheel(wheels, "gamma", "1.0", files={"gamma/__init__.py": "G = 3\n",
                                               "gamma-1.0.data/data/share/gamma/model.txt": "m" * 12345},
                requires=["alpha>=1"])
    _sdist(ctx)
    (ctx / "Dockerfile").write_text(DOCKERFILE)
    env = {**os.environ, "DOCKER_BUILDKIT": "0"}
    subprocess.run(["docker", "build", "-q", "-t", TAG, str(ctx)], check=True, capture_output=True, env=env)
    work = tmp_path_factory.mktemp("e2e-out")
    archive = work / "image.tar"
    _docker("save", "-o", str(archive), TAG)
    layout = work / "layout"
    subprocess.run(["skopeo", "copy", "--quiet", f"docker-archive:{archive}", f"oci:{layout}:latest"],
                   check=True, capture_output=True)
    measured = json.loads(_docker("run", "--rm", TAG, "python3", "-c", MEASURE).stdout)
    pipcache = int(_docker("run", "--rm", TAG, "cat", "/pipcache.bytes").stdout.strip())
    return {"archive": archive, "layout": layout, "measured": measured, "pipcache": pipcache}


@pytest.fixture(scope="session", params=["engine", "engine-save-stream", "docker-archive", "oci-layout"])
def analyzed(request: pytest.FixtureRequest, e2e_image: dict[str, object]):  # type: ignore[no-untyped-def]
    ref = {"engine": f"docker:{TAG}", "engine-save-stream": f"docker:{TAG}",
           "docker-archive": str(e2e_image["archive"]), "oci-layout": str(e2e_image["layout"])}[request.param]
    # "engine" reads the engine's layer store (the fast path: root, overlay2 here); the save stream too
    return open_image(ref, engine_read="save" if request.param == "engine-save-stream" else "auto")


def test_every_distribution_matches_lstat_in_a_running_container(analyzed, e2e_image) -> None:  # type: ignore[no-untyped-def]
    ours = {f"{d.name}=={d.version}": d.size_bytes for d in analyzed.distributions()}
    measured = e2e_image["measured"]
    assert {"alpha==1.0", "mlcore==1.0", "mlcore-skinny==1.0", "gamma==1.0", "delta==1.0"} <= set(ours)
    assert ours == {k.replace("_", "-"): v for k, v in measured.items()}
    gamma = next(d for d in analyzed.distributions() if d.name == "gamma")
    assert any(f.path == "/usr/local/share/gamma/model.txt" and f.size == 12345 for f in gamma.files)
    alpha = next(d for d in analyzed.distributions() if d.name == "alpha")
    assert set(alpha.entry_points) == {"alpha", "alpha-tool"}
    assert "/usr/local/bin/alpha" in {f.path for f in alpha.files}
    skinny = next(d for d in analyzed.distributions() if d.name == "mlcore-skinny")
    core = next(d for d in analyzed.distributions() if d.name == "mlcore")
    shared = "/usr/local/lib/python3.11/dist-packages/mlcore/shared.py"
    assert shared in {f.path for f in skinny.files} and shared in {f.path for f in core.files}


def test_info_describes_the_debian_python(analyzed) -> None:  # type: ignore[no-untyped-def]
    info = analyzed.info()
    assert info.kind == "image"
    assert info.python_version.startswith("3.11.")
    assert "/usr/local/lib/python3.11/dist-packages" in info.site_dirs
    assert info.markers["platform_machine"] in ("x86_64", "aarch64")
    assert info.env.get("APP_MODE") == "test"
    instructions = [layer.instruction for layer in info.layers]
    assert any("rm -rf /root/.cache/pip" in text for text in instructions)
    assert not any("APP_MODE" in text for text in instructions)  # ENV makes no layer


def test_deleted_pip_cache_is_found_with_its_bytes(analyzed, e2e_image) -> None:  # type: ignore[no-untyped-def]
    deleted = {f.subject: f for f in image_finders(analyzed).findings if f.code == "deleted-in-later-layer"}
    cache = deleted["/root/.cache/pip"]
    assert e2e_image["pipcache"] > 0
    assert cache.savings_bytes == e2e_image["pipcache"]
    assert "rm -rf /root/.cache/pip" in cache.data["removed_by"]
    assert "pip install" in str(cache.data["instruction"])
    junk = [f for f in deleted.values() if "/junk.txt" in f.data["paths"]]
    assert junk and junk[0].savings_bytes >= len("junk-junk-junk\n")
    assert image_finders(analyzed).totals["waste_bytes"] >= cache.savings_bytes


def _image_json(ref: str) -> str:
    """`depslim image REF --format json`, as a user runs it."""
    from click.testing import CliRunner

    from depslim.cli import cli

    result = CliRunner().invoke(cli, ["image", ref, "--format", "json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def test_engine_fast_path_report_is_the_archives_byte_for_byte(e2e_image) -> None:  # type: ignore[no-untyped-def]
    """Read from the layer store (overlay2 directories), the JSON report is the docker-archive's, byte for
    byte, but for the source field; and it was the fast path (no save stream, no fallback note)."""
    archive = str(e2e_image["archive"])
    engine, saved = _image_json(f"docker:{TAG}"), _image_json(archive)
    assert json.loads(engine)["target"]["ref"] == f"docker:{TAG}"
    assert engine.replace(json.dumps(f"docker:{TAG}"), json.dumps(archive)) == saved
    assert "save stream" not in engine
    store = open_image(f"docker:{TAG}", engine_read="store")  # an error, not a fallback, if it could not
    assert not store.warnings and [layer.digest for layer in store.info().layers] == [
        layer["digest"] for layer in json.loads(saved)["layers"]]
