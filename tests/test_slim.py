"""`depslim slim` without an engine: the plan from real evidence (a venv with real wheels, a real
PEP 503 index on 127.0.0.1, real pip-compile), and its parts (base, carry, copies, .dockerignore).

The image build itself is proven in tests/test_slim_verify_e2e.py with the real engine.
"""

from __future__ import annotations

import io
import os
import pickle
import re
import subprocess
import sys
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from elfbuild import gcc_lib
from helpers import build_wheel, make_venv, pip_install, write_tree
from pyindex import Index, serve_index

from depslim.model import Evidence
from depslim.slim.base import choose_base
from depslim.slim.carry import from_dockerfile
from depslim.slim.copies import BLOCK_START, CopyItem, merge_dockerignore

pytestmark = pytest.mark.index

SECRET = "tok-4f9a8b7c6d5e"

MODEL_CLASS = "class Model:\n    def __init__(self):\n        self.weights = [0.5, 0.25]\n"


def _sdist(out: Path, name: str, version: str) -> Path:
    """A real sdist pip can build (setuptools, no isolation)."""
    files = {
        f"{name}-{version}/setup.py": f"from setuptools import setup\nsetup(name={name!r}, version={version!r}, "
                                      f"py_modules=[{name!r}])\n",
        f"{name}-{version}/{name}.py": "VALUE = 1\n",
        f"{name}-{version}/PKG-INFO": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
    }
    path = out / f"{name}-{version}.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        for member, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(member)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, object]]:
    """Wheels on an index, a venv that has them installed, and a project using them."""
    wheels = tmp_path_factory.mktemp("slim-index")
    build_wheel(wheels, "svc-web", "1.0", files={"svcweb/__init__.py": "def serve():\n    return 1\n"},
                top_level=["svcweb"], requires=["shared>=1"])
    build_wheel(wheels, "shared", "1.0")  # the image has 1.0; the index also offers 2.0
    build_wheel(wheels, "shared", "2.0")
    build_wheel(wheels, "mlthing", "2.0", files={"mlthing/__init__.py": "", "mlthing/model.py": MODEL_CLASS},
                top_level=["mlthing"])
    build_wheel(wheels, "trainlib", "1.0", files={"trainlib/__init__.py": "FIT = 1\n"}, top_level=["trainlib"])
    # a real shared library that links OpenMP, as lightgbm's does: the OS must provide libgomp.so.1
    native = gcc_lib(tmp_path_factory.mktemp("native") / "_native.so", None, ["-lgomp"])
    # the GUI build of OpenCV and its headless twin: the swap's two sides
    gui = "cv2/__init__.py"
    build_wheel(wheels, "opencv-python", "4.10.0.84", files={gui: "def imread(p):\n    return p\n" + "#" * 9000},
                top_level=["cv2"])
    build_wheel(wheels, "opencv-python-headless", "4.10.0.84", files={gui: "def imread(p):\n    return p\n"},
                top_level=["cv2"])
    extension = "fastlib/_native.cpython-311-x86_64-linux-gnu.so"
    build_wheel(wheels, "fastlib", "1.0", files={"fastlib/__init__.py": "", extension: native.read_bytes()},
                top_level=["fastlib"])
    _sdist(wheels, "nowheel", "1.0")  # the index has only its sdist: a pin with no wheel for any target
    built = tmp_path_factory.mktemp("slim-built")
    build_wheel(built, "nowheel", "1.0", files={"nowheel.py": "VALUE = 1\n"}, top_level=["nowheel"])
    venv = make_venv(tmp_path_factory.mktemp("slim-venv") / "venv")
    pip_install(venv, wheels, "shared==1.0", "svc-web", "mlthing", "trainlib", "fastlib", "opencv-python")
    pip_install(venv, built, "nowheel")  # as if compiled on the machine the environment came from
    # a real pickle of mlthing.model.Model, written the way the training job would write it
    sys.path.insert(0, str(next((venv.parent.parent / "lib").glob("python3*/site-packages"))))
    try:
        from mlthing.model import Model  # type: ignore[import-not-found]

        model_bytes = pickle.dumps(Model(), protocol=4)
    finally:
        sys.path.pop(0)
        for name in [m for m in sys.modules if m.startswith("mlthing")]:
            del sys.modules[name]
    with serve_index(wheels) as index:
        yield {"venv": venv, "index": index, "model": model_bytes}


def _project(root: Path, model: bytes) -> Path:
    write_tree(root, {
        "pyproject.toml": '[project]\nname = "app"\nversion = "1"\ndependencies = ["svc-web", "mlthing", '
                          '"trainlib", "nowheel", "fastlib"]\n[project.scripts]\napp-train = "app.train:main"\n',
        "app/__init__.py": "",
        "app/serve.py": "import pickle\nimport os\nimport svcweb\nimport nowheel\nimport fastlib\n\n"
                        "MODEL = pickle.load(open(os.environ.get('MODEL', 'models/m.pkl'), 'rb'))\n",
        "app/train.py": "import trainlib\n\n\ndef main():\n    return trainlib.FIT\n",
        "app/templates/page.html": "<p>hi</p>\n",
        "Dockerfile": "FROM python:3.11\nWORKDIR /srv\nCOPY . /srv\nRUN pip install .\n"
                      f"ENV API_TOKEN={SECRET} MODEL=models/m.pkl\nEXPOSE 9000\n"
                      'CMD ["python", "-m", "app.serve"]\n',
        ".dockerignore": "models/\n.git\n",
    })
    (root / "models").mkdir()
    (root / "models" / "m.pkl").write_bytes(model)
    return root


def _env(index: Index) -> dict[str, str]:
    # pip-compile reads the sdist's metadata with this interpreter's setuptools (no isolated build
    # environment to download: the index holds only the test's own packages)
    return {**os.environ, "PIP_INDEX_URL": index.url, "PIP_CONFIG_FILE": os.devnull, "PIP_EXTRA_INDEX_URL": "",
            "PIP_FIND_LINKS": "", "PIP_CONSTRAINT": "", "PIP_DISABLE_PIP_VERSION_CHECK": "1",
            "PIP_NO_BUILD_ISOLATION": "0"}


def _slim(root: Path, world: dict[str, object], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "depslim", "slim", str(root), "--python", str(world["venv"]),
                           "--no-cache", *args], capture_output=True, text=True, env=_env(world["index"]))  # type: ignore[arg-type]


def test_slim_plans_the_image_from_the_evidence(tmp_path: Path, world: dict[str, object]) -> None:
    root = _project(tmp_path / "proj", world["model"])  # type: ignore[arg-type]
    result = _slim(root, world)
    assert result.returncode == 0, result.stderr
    requirements = (root / "requirements-slim.txt").read_text()
    body = [ln for ln in requirements.splitlines() if ln and not ln.startswith("#")]
    assert [ln.split("  #")[0] for ln in body] == ["fastlib==1.0", "mlthing==2.0", "nowheel==1.0", "svc-web==1.0"]
    assert "pickled in models/m.pkl" in next(ln for ln in body if ln.startswith("mlthing"))
    assert "trainlib" in requirements and "unreachable" in requirements  # the training job's, cut
    lock = (root / "requirements-slim.lock.txt").read_text()
    assert set(re.findall(r"^([a-z-]+)==", lock, re.M)) == {"fastlib", "mlthing", "nowheel", "svc-web", "shared"}
    # a dependency keeps the version the environment it replaces had, though the index has a newer one
    assert re.search(r"^shared==1\.0 ", lock, re.M)
    dockerfile = (root / "Dockerfile.depslim").read_text()
    builder, final = dockerfile.split("\nFROM python:3.11-slim-bookworm\n")
    # nowheel has only an sdist on the index: the builder compiles it, the final stage has no compiler
    assert "build-essential" in builder and "nowheel" in builder and "--only-binary" not in builder
    assert "build-essential" not in final
    # the OS library fastlib's ELF file needs, read from its DT_NEEDED, mapped to its Debian package
    assert "apt-get install -y --no-install-recommends libgomp1" in final
    assert "rm -rf /var/lib/apt/lists/*" in final.split("libgomp1", 1)[1].split("\n", 2)[1]
    assert "WORKDIR /srv" in final and "USER app" in final and "EXPOSE 9000" in final
    assert 'CMD ["python", "-m", "app.serve"]' in final
    assert "COPY app /srv/app" in final and "COPY models/m.pkl /srv/models/m.pkl" in final
    assert 'MODEL="models/m.pkl"' in final
    # a secret in the original's ENV is never written into anything slim produces
    for name in ("Dockerfile.depslim", "requirements-slim.txt", "requirements-slim.lock.txt", "depslim-slim.md"):
        assert SECRET not in (root / name).read_text(), name
    explained = (root / "depslim-slim.md").read_text()
    assert "not carried: `API_TOKEN` (secret-looking value" in explained
    assert "`app.train`" in explained  # the first-party module left out, named
    assert "| `libgomp.so.1` | libgomp1 | fastlib (`_native.cpython-311-x86_64-linux-gnu.so`) |" in explained
    # the user ignores models/: the copied model gets an exception, the user's lines stay first
    ignore = (root / ".dockerignore").read_text().splitlines()
    assert ignore[:2] == ["models/", ".git"] and "!models/m.pkl" in ignore


def test_slim_is_idempotent_and_never_overwrites_a_hand_edit(tmp_path: Path, world: dict[str, object]) -> None:
    root = _project(tmp_path / "proj", world["model"])  # type: ignore[arg-type]
    assert _slim(root, world).returncode == 0
    names = ("Dockerfile.depslim", "requirements-slim.txt", "requirements-slim.lock.txt", "depslim-slim.md",
             ".dockerignore")
    before = {n: (root / n).read_bytes() for n in names}
    again = _slim(root, world)
    assert again.returncode == 0, again.stderr
    assert {n: (root / n).read_bytes() for n in names} == before
    assert again.stderr.count("unchanged") == len(names)
    dockerfile = root / "Dockerfile.depslim"
    dockerfile.write_text(dockerfile.read_text().replace("USER app", "USER root"))
    refused = _slim(root, world)
    assert refused.returncode == 2 and "edited by hand" in refused.stderr
    assert "Traceback" not in refused.stderr
    assert (root / "requirements-slim.txt").read_bytes() == before["requirements-slim.txt"]
    assert _slim(root, world, "--force").returncode == 0
    assert dockerfile.read_bytes() == before["Dockerfile.depslim"]


def test_scope_all_keeps_what_only_the_training_job_needs(tmp_path: Path, world: dict[str, object]) -> None:
    root = _project(tmp_path / "proj", world["model"])  # type: ignore[arg-type]
    assert _slim(root, world, "--scope", "all").returncode == 0
    requirements = (root / "requirements-slim.txt").read_text()
    assert re.search(r"^trainlib==1.0  # import: app/train.py:1", requirements, re.M)


# --------------------------------------------------------------------------- parts


def test_base_from_the_evidence() -> None:
    gpu = (Evidence("app/serve.py", 3, "signal", "torch.cuda.is_available (runtime)"),)
    cpu = choose_base("3.11", (), ())
    assert cpu.image == "python:3.11-slim-bookworm" and cpu.kind == "python-slim"
    cuda = choose_base("3.11", gpu, [("torch", "2.5.1+cu121", "12.1")])
    assert cuda.kind == "cuda-runtime" and "-runtime-" in cuda.image and "-devel" not in cuda.image
    assert cuda.image.startswith("nvidia/cuda:12.1") and cuda.python_packages == ("python3.11", "python3.11-venv")
    assert cuda.python_command == "python3.11"
    # the code asks for CUDA but the wheels are CPU builds: no CUDA base, and a note says why
    asks = choose_base("3.11", gpu, ())
    assert asks.kind == "python-slim" and asks.notes
    # a CUDA build the served code never uses: the CPU base, and a note pointing at the swap
    unused = choose_base("3.12", (), [("torch", "2.5.1+cu124", "12.4")])
    assert unused.image == "python:3.12-slim-bookworm" and "CUDA build" in unused.notes[0]
    assert choose_base("3.11", gpu, [("torch", "2.5.1+cu121", "12.1")], given="my/base:1").image == "my/base:1"


def test_carry_keeps_the_start_up_and_drops_secrets(tmp_path: Path) -> None:
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text(
        "FROM python:3.11 AS base\nENV LOG_LEVEL=info\nFROM base\nWORKDIR /app\nWORKDIR svc\n"
        "ENV DATABASE_URL=postgresql://u:hunter2@db/x AWS_SECRET_ACCESS_KEY=abc PATH=/x:$PATH\n"
        "CMD python -m svc\nENTRYPOINT [\"tini\", \"--\"]\n"
    )
    carried = from_dockerfile(dockerfile, "Dockerfile")
    assert carried.workdir == "/app/svc"
    assert [name for name, _v, _e in carried.env] == ["LOG_LEVEL"]
    dropped = {name: why for name, why, _e in carried.dropped_env}
    assert set(dropped) == {"DATABASE_URL", "AWS_SECRET_ACCESS_KEY", "PATH"}
    assert "run time" in dropped["DATABASE_URL"] and "slim image itself" in dropped["PATH"]
    assert carried.cmd is None  # a later ENTRYPOINT resets CMD, as docker does
    assert carried.entrypoint is not None and carried.command_words() == ["tini", "--"]


def test_dockerignore_merge_keeps_user_lines_and_unhides_what_is_copied() -> None:
    copies = [CopyItem("models/m.pkl", "/app/models/m.pkl", "model", "named"),
              CopyItem("src/pkg", "/app/src/pkg", "package", "reached", is_dir=True)]
    user = "# mine\nmodels\n*.pkl\n"
    merged = merge_dockerignore(user, copies, ["requirements-slim.lock.txt"])
    assert merged.startswith(user)
    block = merged[merged.index(BLOCK_START):]
    assert "!models/m.pkl" in block and "!src/pkg" not in block
    assert merge_dockerignore(merged, copies, ["requirements-slim.lock.txt"]) == merged  # one block, rewritten
    # depslim's own entries never hide what the image copies
    built = merge_dockerignore(None, [CopyItem("build/x.json", "/app/build/x.json", "data", "named")], [])
    assert "\nbuild\n" not in built and "!build/x.json" not in built


def test_verify_without_an_engine_is_one_clear_line(tmp_path: Path) -> None:
    root = write_tree(tmp_path / "proj", {"app.py": "import os\n", "Dockerfile.depslim": "FROM x\n"})
    env = {**os.environ, "DOCKER_HOST": f"unix://{tmp_path}/no-such.sock"}
    result = subprocess.run([sys.executable, "-m", "depslim", "verify", str(root), "--build"],
                            capture_output=True, text=True, env=env)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert "no Docker engine answers at unix://" in result.stderr
    bad = subprocess.run([sys.executable, "-m", "depslim", "verify", str(root), "--build", "--build-arg", "NOEQUALS"],
                         capture_output=True, text=True, env=env)
    assert bad.returncode == 2 and "--build-arg: expected KEY=VALUE" in bad.stderr
    neither = subprocess.run([sys.executable, "-m", "depslim", "verify", str(root)], capture_output=True, text=True)
    assert neither.returncode == 2 and "--image REF, or --build" in neither.stderr


def test_apply_swaps_installs_the_lean_twin_in_the_image(tmp_path: Path, world: dict[str, object]) -> None:
    """cv2 is used without any GUI call: `--apply-swaps` ships opencv-python-headless instead."""
    index: Index = world["index"]  # type: ignore[assignment]
    root = write_tree(tmp_path / "cv", {
        "requirements.txt": f"--index-url {index.url}\nopencv-python==4.10.0.84\n",
        "app/__init__.py": "",
        "app/serve.py": "import cv2\n\nIMAGE = cv2.imread('x.png')\n",
        "Dockerfile": 'FROM python:3.11\nCOPY . /app\nCMD ["python", "-m", "app.serve"]\n',
    })
    plain = _slim(root, world)
    assert plain.returncode == 0, plain.stderr
    assert "opencv-python==4.10.0.84" in (root / "requirements-slim.txt").read_text()
    swapped = _slim(root, world, "--apply-swaps", "--force")
    assert swapped.returncode == 0, swapped.stderr
    requirements = (root / "requirements-slim.txt").read_text()
    body = [ln for ln in requirements.splitlines() if ln and not ln.startswith("#")]
    assert body[0] == f"--index-url {index.url}"
    assert body[1].startswith("opencv-python-headless==4.10.0.84  # swapped from opencv-python")
    lock = (root / "requirements-slim.lock.txt").read_text()
    assert re.search(r"^opencv-python-headless==4.10.0.84 ", lock, re.M)
    assert not re.search(r"^opencv-python==", lock, re.M)


def test_projection_headline_says_it_excludes_a_base_image_it_could_not_measure() -> None:
    """`slim` printed "projected ~312.3 MB (est.)" for an image that measures 572.4 MB: without
    the base (no local copy) the total must say so; with it, the base's bytes are in it."""
    from depslim.slim.projection import Part, Projection

    python = Part("Python packages (measured)", 312_300_000, "measured", "")
    without = Projection((Part("base image", None, "unmeasured", "python:3.11-slim is not available here"), python))
    assert without.headline() == "~312.3 MB (est.), excluding base image (not measured)"
    with_base = Projection((Part("base image", 260_100_000, "measured", ""), python))
    assert with_base.headline() == "572.4 MB" and with_base.total == 572_400_000
