"""`depslim check` end to end: an image archive built here, real venvs, and a real git repository.

The image is a docker-archive tar written with tarfile (manifest.json + config + one layer with
site-packages dist-infos), so the budgets are checked against sizes the image target measured.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import shlex
import tarfile
from pathlib import Path

import pytest
from click.testing import CliRunner
from test_diff_git import checkout, shared_ml_venv, shared_repo

from depslim.cli import cli

SITE = "usr/local/lib/python3.11/site-packages"


def _record_line(path: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{path},sha256={digest},{len(data)}"


def dist_files(name: str, version: str, files: dict[str, bytes], requires: tuple[str, ...] = ()) -> dict[str, bytes]:
    info = f"{name.replace('-', '_')}-{version}.dist-info"
    meta = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
    meta += "".join(f"Requires-Dist: {r}\n" for r in requires)
    out = dict(files)
    out[f"{info}/METADATA"] = meta.encode()
    out[f"{info}/INSTALLER"] = b"pip\n"
    record = [_record_line(p, d) for p, d in out.items()] + [f"{info}/RECORD,,"]
    out[f"{info}/RECORD"] = ("\n".join(record) + "\n").encode()
    return out


def default_dists() -> dict[str, dict[str, bytes]]:
    return {
        "torch": dist_files("torch", "2.2.2", {"torch/__init__.py": b"t" * 10, "torch/lib.so": b"\0" * 3_000_000},
                             ("nvidia-cublas-cu12",)),
        "nvidia-cublas-cu12": dist_files("nvidia-cublas-cu12", "12.1.3.1",
                                          {"nvidia/cublas/lib.so": b"\1" * 2_000_000}),
        "numpy": dist_files("numpy", "1.26.4", {"numpy/__init__.py": b"n" * 500_000}),
    }


def build_docker_archive(path: Path, dists: dict[str, dict[str, bytes]] | None = None) -> dict[str, int]:
    """A one-layer docker-archive of site-packages distributions; returns their RECORD byte sums."""
    dists = default_dists() if dists is None else dists
    layer = io.BytesIO()
    with tarfile.open(fileobj=layer, mode="w") as tar:
        dirs: set[str] = set()
        for files in dists.values():
            for rel, data in files.items():
                full = f"{SITE}/{rel}"
                parts = full.split("/")
                for i in range(1, len(parts)):
                    d = "/".join(parts[:i])
                    if d not in dirs:
                        dirs.add(d)
                        info = tarfile.TarInfo(d)
                        info.type, info.mode = tarfile.DIRTYPE, 0o755
                        tar.addfile(info)
                info = tarfile.TarInfo(full)
                info.size, info.mode = len(data), 0o644
                tar.addfile(info, io.BytesIO(data))
    layer_bytes = layer.getvalue()
    diff_id = "sha256:" + hashlib.sha256(layer_bytes).hexdigest()
    config = {
        "architecture": "amd64", "os": "linux",
        "config": {"Env": ["PATH=/usr/local/bin:/usr/bin", "PYTHON_VERSION=3.11.9"], "User": "app"},
        "rootfs": {"type": "layers", "diff_ids": [diff_id]},
        "history": [{"created_by": "/bin/sh -c pip install torch numpy"}],
    }
    config_bytes = json.dumps(config).encode()
    config_name = hashlib.sha256(config_bytes).hexdigest() + ".json"
    manifest = [{"Config": config_name, "RepoTags": ["app:test"], "Layers": ["layer0/layer.tar"]}]
    with tarfile.open(path, "w") as out:
        for name, data in ((config_name, config_bytes), ("layer0/layer.tar", layer_bytes),
                           ("manifest.json", json.dumps(manifest).encode())):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            out.addfile(info, io.BytesIO(data))
    return {name: sum(len(d) for d in files.values()) for name, files in dists.items()}


@pytest.fixture(scope="module")
def image(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, int]]:
    path = tmp_path_factory.mktemp("img") / "app.tar"
    return path, build_docker_archive(path)


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result.exit_code, result.output


def test_check_image_budget_over_passes_under_fails(image: tuple[Path, dict[str, int]]) -> None:
    archive, sizes = image
    code, out = run("check", "--image", str(archive), "--max-image-bytes", "50MB", "-f", "json")
    assert code == 0, out
    measured = {c["name"].split()[0]: c["size_bytes"] for c in json.loads(out)["results"][0]["contributors"]}
    assert {k: measured[k] for k in sizes} == sizes  # the image target's bytes are the RECORD sums
    code, out = run("check", "--image", str(archive), "--max-image-bytes", "50MB")
    assert code == 0, out
    assert out.startswith("PASS image size: limit 50.0 MB, actual ")
    code, out = run("check", "--image", str(archive), "--max-image-bytes", "1MB")
    assert code == 1, out
    line = next(line for line in out.splitlines() if line.startswith("FAIL image size"))
    assert "limit 1.00 MB" in line
    # top contributors, biggest first, with the sizes the image target measured
    assert line.index("torch 2.2.2 3.00 MB") < line.index("nvidia-cublas-cu12") < line.index("numpy 1.26.4")
    assert "layer 0" in line and "pip install torch numpy" in line
    assert "depslim check: 1 of 1 budgets failed" in out


def test_check_image_forbidden_and_formats(image: tuple[Path, dict[str, int]], tmp_path: Path) -> None:
    archive, _ = image
    code, out = run("check", "--image", str(archive), "--forbid", "nvidia-*", "--format", "github")
    assert code == 1
    assert out.splitlines()[0].startswith("::error title=depslim forbid::FAIL forbidden package nvidia-*")
    out_file = tmp_path / "check.json"
    code, _ = run("check", "--image", str(archive), "--forbid", "jupyter*", "-f", "json", "-o", str(out_file))
    data = json.loads(out_file.read_text())
    assert code == 0 and data["passed"] is True and data["results"][0]["status"] == "pass"
    # depslim's own JSON is replaced (the suffix picks json); a user's JSON file needs --force
    code, out = run("check", "--image", str(archive), "--forbid", "jupyter*", "-o", str(out_file))
    assert code == 0 and json.loads(out_file.read_text())["kind"] == "check"
    users = tmp_path / "package.json"
    users.write_text('{"name": "web"}\n')
    code, out = run("check", "--image", str(archive), "--forbid", "jupyter*", "-o", str(users))
    assert code == 2 and "--force" in out and users.read_text() == '{"name": "web"}\n'


def test_check_bad_input_exits_2(tmp_path: Path) -> None:
    code, out = run("check", str(tmp_path / "missing"), "--max-python-bytes", "1MB")
    assert code == 2 and "no such project directory" in out
    code, out = run("check", str(tmp_path), "--max-python-bytes", "lots")
    assert code == 2 and "max-python-bytes" in out
    broken = tmp_path / "broken.tar"
    broken.write_bytes(b"not a tar at all" * 10)
    code, out = run("check", "--image", str(broken), "--max-image-bytes", "1MB")
    assert code == 2 and "Traceback" not in out


# --------------------------------------------------------------------------- git repository


@pytest.fixture(scope="module")
def ml_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return shared_ml_venv(tmp_path_factory)


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, str]:
    return shared_repo(tmp_path_factory)


def test_check_fails_on_head_passes_on_base(repo: tuple[Path, str, str], ml_venv: Path, tmp_path: Path) -> None:
    root, base, _ = repo
    budgets = ["--python", str(ml_venv), "--max-python-bytes", "1MB", "--forbid", "jupyter*",
               "--forbid", "nvidia-*"]
    code, out = run("check", str(checkout(root, base, tmp_path / "base")), *budgets)
    assert code == 0, out
    assert "PASS forbidden package jupyter*" in out and "PASS Python bytes" in out
    code, out = run("check", str(root), *budgets)
    assert code == 1, out
    lines = out.splitlines()
    python_line = next(line for line in lines if line.startswith("FAIL Python bytes"))
    assert "limit 1.00 MB" in python_line and "torch 2.2.2 2.00 MB" in python_line
    assert "nvidia-cublas-cu12 12.1.3.1 2.00 MB" in python_line
    jupyter_line = next(line for line in lines if line.startswith("FAIL forbidden package jupyter*"))
    assert "jupyter 1.0.0" in jupyter_line and "declared at requirements.txt:3" in jupyter_line
    nvidia_line = next(line for line in lines if line.startswith("FAIL forbidden package nvidia-*"))
    assert "required by torch" in nvidia_line
    assert "depslim check: 3 of 3 budgets failed" in out


def test_check_reads_budgets_from_pyproject(repo: tuple[Path, str, str], ml_venv: Path, tmp_path: Path) -> None:
    root, _, head = repo
    project = checkout(root, head, tmp_path / "head")
    with (project / "pyproject.toml").open("a") as fh:
        fh.write('[tool.depslim]\nforbid = ["jupyter*"]\nmax-python-bytes = "100MB"\n')
    code, out = run("check", str(project), "--python", str(ml_venv))
    assert code == 1, out
    assert "FAIL forbidden package jupyter*" in out and "PASS Python bytes: limit 100.0 MB" in out
    # a flag wins over the file
    code, out = run("check", str(project), "--python", str(ml_venv), "--max-python-bytes", "1MB")
    assert "FAIL Python bytes: limit 1.00 MB" in out


# --------------------------------------------------------------------------- integration examples

ROOT = Path(__file__).resolve().parent.parent


def _commands(text: str) -> list[list[str]]:
    """Every `depslim …` invocation in a workflow or hook file, continuations joined."""
    joined = text.replace("\\\n", " ")
    out = []
    for raw in joined.splitlines():
        line = raw.strip().lstrip("-").strip()
        if line.startswith("entry:"):
            line = line.split(":", 1)[1].strip()
        if line.startswith("depslim "):
            out.append(shlex.split(line.split(" #", 1)[0]))
    return out


@pytest.mark.parametrize("name", ["examples/github-actions/depslim.yml", ".pre-commit-hooks.yaml"])
def test_integration_examples_use_real_commands_and_options(name: str) -> None:
    text = (ROOT / name).read_text()
    commands = _commands(text)
    used = {argv[1] for argv in commands}
    expected = {"analyze", "check", "diff"} if name.endswith(".yml") else {"lock", "check"}
    assert expected <= used
    for argv in commands:
        command = cli.get_command(None, argv[1])  # type: ignore[arg-type]
        assert command is not None, argv
        known = {opt for param in command.params for opt in getattr(param, "opts", [])}
        flags = [a for a in argv[2:] if a.startswith("-") and not a.startswith("--python=")]
        assert set(flags) <= known, (argv, set(flags) - known)
    if name.endswith(".yml"):
        assert "<!-- depslim -->" in text and "updateComment" in text and "createComment" in text
