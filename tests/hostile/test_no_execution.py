"""depslim never runs what it analyses (only `depslim verify`, inside its sandbox, does).

Every input here carries a payload that, if anything ran it, would write a marker file and open a
TCP connection to a socket this test listens on: the project (setup.py, an in-tree build backend,
conftest.py, package code, a notebook, a pickled model whose loading execs), a venv whose
pyvenv.cfg points `home` at an attacker's standard library (its `json` is the payload: the old
`-I -S` probe imported it), with `.pth` files, `sitecustomize`/`usercustomize`
and a payload package, a venv whose `python` is itself the payload, a local sdist and a git
repository whose setup.py is the payload, and an image archive whose interpreter, `.pth` file,
sitecustomize and command are the payload. Every command but `verify` runs over them as a real
process: afterwards the marker folder is empty and nothing ever connected to the socket.
"""

from __future__ import annotations

import contextlib
import io
import os
import socket
import subprocess
import sys
import sysconfig
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from helpers import build_wheel, make_venv, pip_install, write_tree
from imagebuild import File, Image, dist_entries, image_config, layer_tar, write_docker_archive
from pyindex import Index, serve_index

pytestmark = pytest.mark.index

SITE = "/usr/local/lib/python3.11/site-packages"


def payload(who: str, markers: Path, port: int) -> str:
    """Python that proves it ran: a marker file named after `who`, and a connection to `port`."""
    return (
        "import os as _o, socket as _s\n"
        f"open(_o.path.join({str(markers)!r}, {who!r} + '-' + str(_o.getpid())), 'w').write('ran')\n"
        "try:\n"
        f"    _s.create_connection(('127.0.0.1', {port}), timeout=3).sendall({who.encode()!r})\n"
        "except OSError:\n"
        "    pass\n"
    )


def shell_payload(who: str, markers: Path, port: int) -> str:
    """A `#!/bin/sh` program doing the same (an interpreter or entrypoint that is itself the payload)."""
    code = payload(who, markers, port).replace("'", "'\"'\"'")
    return f"#!/bin/sh\nexec {sys.executable} -I -S -c '{code}'\n"


def pickle_payload(code: str) -> bytes:
    """A protocol-0 pickle whose loading runs `exec(code)`."""
    return b"cbuiltins\nexec\n(V" + code.replace("\\", "\\u005c").replace("\n", "\\u000a").encode() + b"\ntR."


@dataclass
class World:
    root: Path
    markers: Path
    listener: socket.socket
    port: int
    project: Path
    venv: Path  # hostile pyvenv.cfg home
    fake_venv: Path  # its python is the payload
    archive: Path
    index: Index
    env: dict[str, str]
    runs: dict[str, subprocess.CompletedProcess[bytes]] = field(default_factory=dict)


def _project(root: Path, p: object) -> Path:
    code = p  # type: ignore[assignment]
    write_tree(root, {
        "setup.py": code("project-setup.py") + "from setuptools import setup\nsetup(name='app', version='1')\n",
        "pyproject.toml": '[build-system]\nrequires = []\nbuild-backend = "evil_backend"\nbackend-path = ["."]\n'
                          '[project]\nname = "app"\nversion = "1"\ndependencies = ["alpha"]\n',
        "evil_backend.py": code("project-build-backend"),
        "conftest.py": code("project-conftest"),
        "app/__init__.py": code("project-package"),
        "app/serve.py": "import alpha\nimport pickle\n\nMODEL = pickle.load(open('models/m.pkl', 'rb'))\n",
        "requirements.txt": "alpha\n",
        "Dockerfile": "FROM python:3.11-slim\nWORKDIR /srv\nCOPY . /srv\nRUN python setup.py install\n"
                      'CMD ["python", "-m", "app.serve"]\n',
        "notebooks/n.ipynb": '{"cells": [{"cell_type": "code", "metadata": {}, "outputs": [], "source": '
                             + repr(code("project-notebook")).replace("'", '"') + '}], "metadata": {}, '
                             '"nbformat": 4, "nbformat_minor": 5}',
    })
    (root / "models").mkdir()
    (root / "models" / "m.pkl").write_bytes(pickle_payload(code("project-pickle")))
    return root


def _hostile_stdlib(home: Path, p: object) -> None:
    """An attacker's prefix: the real standard library linked in, but its `json` replaced by the payload
    (the venv's pyvenv.cfg sends the interpreter here for its stdlib; the old probe imported json)."""
    code = p  # type: ignore[assignment]
    real = Path(sysconfig.get_paths()["stdlib"])
    xy = f"python{sys.version_info[0]}.{sys.version_info[1]}"
    lib = home / "lib" / xy
    lib.mkdir(parents=True)
    for entry in real.iterdir():
        if entry.name not in ("json", "site-packages", "__pycache__"):
            (lib / entry.name).symlink_to(entry)
    (lib / "json").mkdir()
    (lib / "json" / "__init__.py").write_text(code("venv-home-json") + "def dumps(*a, **k):\n    return '{}'\n")
    (home / "bin").mkdir()
    (home / "bin" / "python3").symlink_to(sys.executable)


def _venv(root: Path, wheels: Path, p: object, sh: object) -> tuple[Path, Path]:
    code, shell = p, sh  # type: ignore[assignment]
    python = make_venv(root / "venv")
    pip_install(python, wheels, "alpha")
    site = next((root / "venv" / "lib").glob("python3*/site-packages"))
    (site / "evil.pth").write_text("import evil_on_start\n")
    (site / "evil_on_start.py").write_text(code("venv-pth"))
    (site / "sitecustomize.py").write_text(code("venv-sitecustomize"))
    (site / "usercustomize.py").write_text(code("venv-usercustomize"))
    (site / "alpha" / "__init__.py").write_text(code("venv-package"))
    home = root / "attacker"
    _hostile_stdlib(home, code)
    cfg = root / "venv" / "pyvenv.cfg"
    cfg.write_text(cfg.read_text().replace("home = ", f"home = {home / 'bin'}\n#was ", 1))
    fake = root / "fake-venv"
    (fake / "bin").mkdir(parents=True)
    (fake / "bin" / "python").write_text(shell("fake-venv-python"))
    (fake / "bin" / "python").chmod(0o755)
    return python, fake / "bin" / "python"


def _sdist(folder: Path, p: object) -> Path:
    """A real sdist whose setup.py is the payload."""
    code = p  # type: ignore[assignment]
    folder.mkdir(parents=True, exist_ok=True)
    files = {"evil-1.0/setup.py": code("sdist-setup.py") + "from setuptools import setup\n"
                                                          "setup(name='evil', version='1.0')\n",
             "evil-1.0/PKG-INFO": "Metadata-Version: 2.1\nName: evil\nVersion: 1.0\n"}
    path = folder / "evil-1.0.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        for name, text in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(text.encode())
            tar.addfile(info, io.BytesIO(text.encode()))
    return path


def _git_repo(folder: Path, p: object) -> Path:
    code = p  # type: ignore[assignment]
    write_tree(folder, {"setup.py": code("vcs-setup.py") + "from setuptools import setup\n"
                                                             "setup(name='evil', version='1.0')\n"})
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@t"}
    for args in (["init", "-q"], ["add", "."], ["commit", "-qm", "x"]):
        subprocess.run(["git", "-C", str(folder), *args], check=True, env=env)
    return folder


def _image(path: Path, p: object, sh: object) -> Path:
    code, shell = p, sh  # type: ignore[assignment]
    layers = [
        layer_tar([File("/usr/local/bin/python3.11", shell("image-python"), 0o755),
                   File("/usr/local/lib/python3.11/os.py", "# stdlib\n"),
                   File("/app/entrypoint.sh", shell("image-entrypoint"), 0o755)]),
        layer_tar([*dist_entries(SITE, "alpha", "1.0", {"alpha/__init__.py": code("image-package")}),
                   File(f"{SITE}/evil.pth", "import evil_on_start\n"),
                   File(f"{SITE}/evil_on_start.py", code("image-pth")),
                   File(f"{SITE}/sitecustomize.py", code("image-sitecustomize")),
                   File("/app/setup.py", code("image-setup.py"))]),
    ]
    config = image_config(layers, history=["/bin/sh -c #(nop) ADD file:x in /", "/bin/sh -c pip install alpha"])
    config["config"]["Entrypoint"] = ["/app/entrypoint.sh"]  # type: ignore[index]
    config["config"]["Cmd"] = ["python3.11", "-m", "alpha"]  # type: ignore[index]
    return write_docker_archive(path, Image(layers, config))


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    root = tmp_path_factory.mktemp("noexec")
    markers = root / "markers"
    markers.mkdir()
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    port = listener.getsockname()[1]

    def code(who: str) -> str:
        return payload(who, markers, port)

    def shell(who: str) -> str:
        return shell_payload(who, markers, port)

    wheels = root / "wheels"
    build_wheel(wheels, "alpha", "1.0", top_level=["alpha"])
    project = _project(root / "work" / "project", code)
    venv, fake = _venv(root / "envs", wheels, code, shell)
    archive = _image(root / "work" / "image.tar", code, shell)
    sdists = root / "work" / "dist"
    _sdist(sdists, code)
    repo = _git_repo(root / "work" / "repo", code)
    inputs = root / "work" / "inputs"
    write_tree(inputs, {
        "local-sdist.txt": "./../dist/evil-1.0.tar.gz\n",
        "bare-sdist.txt": "evil-1.0.tar.gz\n",
        "file-url.txt": f"evil @ file://{sdists / 'evil-1.0.tar.gz'}\n",
        "vcs.txt": f"evil @ git+file://{repo}\n",
        "find-links.txt": "--find-links ../dist\nevil\n",
        "local-folder.txt": "../project\n",
        "editable.txt": "-e ../project\n",
        "includes.txt": "alpha\n-r vcs.txt\n",
    })
    (inputs / "evil-1.0.tar.gz").write_bytes((sdists / "evil-1.0.tar.gz").read_bytes())
    with serve_index(wheels) as index:
        env = {"PATH": os.environ["PATH"], "HOME": str(root / "home"), "DEPSLIM_CACHE_DIR": str(root / "cache"),
               "PIP_CONFIG_FILE": os.devnull, "PIP_INDEX_URL": index.url, "PIP_DISABLE_PIP_VERSION_CHECK": "1",
               "PIP_NO_BUILD_ISOLATION": "0", "PIP_CACHE_DIR": str(root / "pipcache"), "PIP_RETRIES": "0",
               "PYTHONPATH": os.environ.get("PYTHONPATH", "")}
        world = World(root, markers, listener, port, project, venv, fake, archive, index, env)
        _run_everything(world)
        yield world
    listener.close()


def _run(world: World, name: str, *args: str, cwd: Path | None = None, ok: tuple[int, ...] = (0, 1)) -> None:
    done = subprocess.run([sys.executable, "-m", "depslim", *args], cwd=cwd or world.root / "work",
                          env=world.env, capture_output=True, timeout=600, check=False)
    world.runs[name] = done
    assert done.returncode in ok, f"{name}: exit {done.returncode}\n{done.stderr.decode(errors='replace')[-3000:]}"
    assert b"Traceback" not in done.stderr, name


def _run_everything(world: World) -> None:
    project, archive, venv, fake = str(world.project), str(world.archive), str(world.venv), str(world.fake_venv)
    inputs = world.root / "work" / "inputs"
    for fmt in ("terminal", "json", "markdown", "sarif", "github"):
        _run(world, f"analyze {fmt}", "analyze", project, "--format", fmt)
    _run(world, "analyze --python hostile venv", "analyze", project, "--python", venv, "--format", "json")
    _run(world, "analyze --python payload python", "analyze", project, "--python", fake, ok=(0, 1, 2))
    _run(world, "analyze --image", "analyze", project, "--image", archive, "--format", "json")
    _run(world, "analyze --scope serving", "analyze", project, "--scope", "serving", "--python", venv)
    for fmt in ("terminal", "json", "markdown"):
        _run(world, f"image {fmt}", "image", archive, "--format", fmt)
    _run(world, "audit", "audit", project, "--image", archive)
    _run(world, "audit dockerfile", "audit", project, "--dockerfile-only")
    _run(world, "check", "check", project, "--python", venv, "--max-python-bytes", "1", "--forbid", "alpha",
         "--fail-on-unused")
    _run(world, "check --image", "check", "--image", archive, "--max-image-bytes", "1")
    _run(world, "diff projects", "diff", project, project, "--python", venv)
    _run(world, "diff images", "diff", archive, archive)
    _run(world, "split", "split", project, "--python", venv, "--output-dir", str(world.root / "work" / "split"))
    for name in ("local-sdist", "bare-sdist", "file-url", "vcs", "find-links", "local-folder", "editable",
                 "includes"):
        _run(world, f"lock {name}", "lock", f"{name}.txt", cwd=inputs, ok=(2,))
        _run(world, f"lock --backend uv {name}", "lock", "--backend", "uv", f"{name}.txt", cwd=inputs, ok=(2,))
        _run(world, f"estimate {name}", "estimate", f"{name}.txt", "--index-url", world.index.url, cwd=inputs,
             ok=(0, 2))
    _run(world, "slim", "slim", project, "--python", venv, "--no-index-check", "--no-cache",
         "--output-dir", str(world.root / "work" / "slim"), ok=(0, 2))


def test_nothing_ran(world: World) -> None:
    ran = sorted(p.name for p in world.markers.iterdir())
    assert not ran, f"payloads ran: {ran}"


def test_nothing_connected(world: World) -> None:
    world.listener.setblocking(False)
    try:
        conn, _ = world.listener.accept()
    except BlockingIOError:
        return
    with conn:
        conn.settimeout(2)
        who = conn.recv(100)
    pytest.fail(f"a payload connected to the test's socket: {who!r}")


def test_builds_are_refused_with_the_reason(world: World) -> None:
    for name in ("bare-sdist", "vcs", "find-links", "includes"):
        err = world.runs[f"lock {name}"].stderr.decode()
        assert "--allow-build" in err and len([ln for ln in err.splitlines() if ln.startswith("error:")]) == 1, err
    for name in ("local-sdist", "file-url", "local-folder", "editable"):  # never lockable: a path is not portable
        err = world.runs[f"lock {name}"].stderr.decode()
        assert "cannot" in err and ("local path" in err or "editable" in err), err
    for name in ("local-sdist", "bare-sdist", "file-url", "vcs", "local-folder", "editable", "includes"):
        run = world.runs[f"estimate {name}"]
        assert run.returncode == 2 and "--allow-build" in run.stderr.decode(), name


def test_the_hostile_venv_is_read_without_running_it(world: World) -> None:
    """Its packages are measured from its files (and its pyvenv.cfg's `home` is never an interpreter)."""
    import json

    report = json.loads(world.runs["analyze --python hostile venv"].stdout)
    assert report["target"]["python_version"].startswith(f"{sys.version_info[0]}.{sys.version_info[1]}")
    assert any(d["name"] == "alpha" and d["installed"] for d in report["distributions"])


def test_the_payloads_are_live(world: World) -> None:
    """The control: each payload does fire when its input is run the ordinary way, so the two tests
    above prove something. Its markers and connections are removed again."""
    before = set(world.markers.iterdir())
    starts = [
        [str(world.venv), "-I", "-S", "-c", "import json"],  # what the old `--python` probe ran
        [str(world.venv), "-c", "pass"],  # a normal start: .pth files, sitecustomize
        [str(world.fake_venv), "-c", "pass"],
        [sys.executable, "-c", f"import pickle; pickle.load(open({str(world.project / 'models' / 'm.pkl')!r}, 'rb'))"],
    ]
    for argv in starts:
        subprocess.run(argv, capture_output=True, timeout=60, check=False, env={"PATH": os.environ["PATH"]})
    fired = {p.name.rsplit("-", 1)[0] for p in set(world.markers.iterdir()) - before}
    for path in set(world.markers.iterdir()) - before:
        path.unlink()
    world.listener.settimeout(1)
    connected = 0
    with contextlib.suppress(OSError):
        while True:
            world.listener.accept()[0].close()
            connected += 1
    assert {"venv-home-json", "venv-pth", "venv-sitecustomize", "fake-venv-python", "project-pickle"} <= fired
    assert connected >= 5
