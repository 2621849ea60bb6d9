"""No secret is ever written out: unique tokens planted in every kind of input, every command and
format run over them as real processes, and every byte depslim printed, wrote or cached searched.

The inputs carry credentials where real projects and images carry them: an index URL with a
password in requirements.txt and pyproject.toml, a direct-URL requirement with userinfo, database
passwords in connection strings and DSNs in code and in a notebook (also in a `!pip install`
line), `ENV`/`ARG`/`RUN` lines of the Dockerfile, an image's config `Env` and history, files inside
the image (dist-info metadata, direct_url.json, a `.env` file), and the process environment
(a secret-named variable and a plainly named one, which only the memo's key ever looked at).
`lock` and `estimate` resolve against a real index on 127.0.0.1 that demands basic auth with one of
the tokens, so the credential is used — and still never written.

The search is byte-wise over stdout, stderr, every file under the work folder (the project, the
outputs, the generated files) and the cache folder (`DEPSLIM_CACHE_DIR`: scan cache and memo), for
each token's first and last ten characters, so a truncated secret counts as a leak too.
"""

from __future__ import annotations

import json
import marshal
import os
import secrets
import shutil
import stat
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from helpers import age, build_wheel, make_venv, pip_install, write_tree
from imagebuild import File, Image, dist_entries, image_config, layer_tar, write_docker_archive
from pyindex import Index, serve_index

pytestmark = pytest.mark.index

SITE = "/usr/local/lib/python3.11/site-packages"


def _token(kind: str) -> str:
    """A unique secret of the shape its place calls for (a token shape, or any password)."""
    core = secrets.token_hex(10)
    if kind == "github":
        return "ghp_" + (core + secrets.token_hex(8))[:36]
    if kind == "aws-id":
        return "AKIA" + secrets.token_hex(8).upper()[:16]
    if kind == "hf":
        return "hf_" + core + secrets.token_hex(6)
    return "pw" + core


# Where each token is planted (the name says where; the value is unique to that place).
PLACES = {
    "req-index": "password",  # requirements.txt --index-url userinfo (the authenticated index's password)
    "req-url": "password",  # a direct-URL requirement's userinfo
    "pep621-url": "password",  # pyproject.toml dependency with userinfo
    "code-dsn": "password",  # sqlalchemy URL in code
    "code-kv": "password",  # libpq key=value DSN in code
    "code-github": "github",  # a GitHub token literal in code
    "code-aws": "aws-id",  # an AWS key id literal in code
    "nb-pip": "password",  # notebook `!pip install --index-url` userinfo
    "nb-dsn": "password",  # notebook connection string
    "docker-arg": "password",  # Dockerfile ARG NPM_TOKEN=
    "docker-env": "password",  # Dockerfile ENV AWS_SECRET_ACCESS_KEY=
    "docker-run": "password",  # Dockerfile RUN pip install --index-url userinfo
    "img-env": "password",  # image config Env AWS_SECRET_ACCESS_KEY
    "img-env-url": "password",  # image config Env PIP_INDEX_URL userinfo
    "img-env-hf": "hf",  # image config Env HF_TOKEN
    "img-hist": "password",  # image history RUN line userinfo
    "img-hist-env": "password",  # image history ENV DB_PASSWORD=
    "img-meta": "password",  # METADATA Home-page userinfo
    "img-direct-url": "password",  # direct_url.json url userinfo
    "img-file": "password",  # /app/.env PASSWORD=
    "proc-secret": "password",  # AWS_SECRET_ACCESS_KEY in depslim's own environment
    "proc-plain": "password",  # a plainly named variable in depslim's own environment
    "proc-url": "password",  # GITHUB_SERVER_URL with userinfo (Markdown links are made from it)
    "bad-req": "password",  # an invalid requirement line whose URL has userinfo (echoed in the error)
    "lock-literal": "password",  # lock input with a literal credential (the index's second user)
    "lock-env": "password",  # lock input with ${VAR}: the variable's value
    "lock-dead": "password",  # lock input naming an unreachable index with userinfo (error path)
    "slim-index": "password",  # PIP_INDEX_URL for slim's resolver
}


@dataclass
class World:
    root: Path  # everything written lives under here
    project: Path
    archive: Path
    venv: Path
    cache: Path
    tokens: dict[str, str]
    env: dict[str, str]
    outputs: dict[str, bytes] = field(default_factory=dict)  # "command | stream" -> bytes
    planted: dict[Path, bytes] = field(default_factory=dict)  # every input file before any command ran
    exit_codes: dict[str, int] = field(default_factory=dict)


def _notebook(tokens: dict[str, str]) -> str:
    cells = [
        f"!pip install --index-url https://ci:{tokens['nb-pip']}@pypi.internal/simple alpha\n",
        f"import sqlalchemy\nENGINE = sqlalchemy.create_engine('postgresql://nb:{tokens['nb-dsn']}@db/nb')\n",
    ]
    return json.dumps({"cells": [{"cell_type": "code", "source": c, "metadata": {}, "outputs": []} for c in cells],
                       "metadata": {"kernelspec": {"language": "python"}}, "nbformat": 4, "nbformat_minor": 5})


def _project(root: Path, tokens: dict[str, str], index: Index) -> Path:
    authed = index.url.replace("http://", f"http://user:{tokens['req-index']}@", 1)
    write_tree(root, {
        "requirements.txt": f"--index-url {authed}\nalpha\nsqlalchemy\npsycopg2-binary\nrequests\n"
                            f"svc @ http://deploy:{tokens['req-url']}@127.0.0.1:9/svc-1.0-py3-none-any.whl\n",
        "pyproject.toml": '[project]\nname = "app"\nversion = "1"\n'
                          f'dependencies = ["gadget @ https://bot:{tokens["pep621-url"]}@files.internal/gadget-1.0.tar.gz"]\n',
        "app/__init__.py": "",
        "app/serve.py": "import alpha\nimport requests\nfrom app import db\n\n\ndef main():\n    return db.ENGINE\n",
        "app/db.py": "import sqlalchemy\n\n"
                     f"ENGINE = sqlalchemy.create_engine(\"postgresql://scott:{tokens['code-dsn']}@db.internal/app\")\n"
                     f"LIBPQ = \"dbname=app user=scott password={tokens['code-kv']} host=db\"\n"
                     f"GITHUB = \"{tokens['code-github']}\"\n"
                     f"AWS_KEY_ID = \"{tokens['code-aws']}\"\n",
        "notebooks/explore.ipynb": _notebook(tokens),
        "Dockerfile": "FROM python:3.11-slim\n"
                      f"ARG NPM_TOKEN={tokens['docker-arg']}\n"
                      f"ENV AWS_SECRET_ACCESS_KEY={tokens['docker-env']} APP_MODE=prod\n"
                      "WORKDIR /srv\nCOPY . /srv\n"
                      f"RUN pip install --index-url https://ci:{tokens['docker-run']}@pypi.internal/simple "
                      "-r requirements.txt\n"
                      'CMD ["python", "-m", "app.serve"]\n',
    })
    return root


def _image(path: Path, tokens: dict[str, str]) -> Path:
    direct = json.dumps({"url": f"https://ci:{tokens['img-direct-url']}@files.internal/alpha-1.0-py3-none-any.whl",
                         "archive_info": {}})
    alpha = dist_entries(SITE, "alpha", "1.0", {"alpha/__init__.py": "A = 1\n" * 50,
                                                "alpha-1.0.dist-info/direct_url.json": direct})
    for i, entry in enumerate(alpha):
        if isinstance(entry, File) and entry.path.endswith("METADATA"):
            meta = (entry.data if isinstance(entry.data, str) else entry.data.decode())
            meta += f"Home-page: https://ci:{tokens['img-meta']}@git.internal/alpha\n"
            alpha[i] = File(entry.path, meta)
    layers = [
        layer_tar([File("/usr/local/bin/python3.11", b"\x7fELF" + b"\0" * 60, 0o755),
                   File("/usr/local/lib/python3.11/os.py", "# stdlib\n")]),
        layer_tar([*alpha, File("/root/.cache/pip/http/blob", b"p" * 4000)]),
        layer_tar([File("/app/.env", f"PASSWORD={tokens['img-file']}\n"), File("/app/app/__init__.py", "")]),
    ]
    history = [
        "/bin/sh -c #(nop) ADD file:abc in /",
        f"/bin/sh -c pip install --index-url https://ci:{tokens['img-hist']}@pypi.internal/simple alpha",
        "/bin/sh -c #(nop) COPY dir:app in /app",
    ]
    config = image_config(layers, history=history, env=(
        "PATH=/usr/local/bin:/usr/bin:/bin",
        f"AWS_SECRET_ACCESS_KEY={tokens['img-env']}",
        f"PIP_INDEX_URL=https://ci:{tokens['img-env-url']}@pypi.internal/simple",
        f"HF_TOKEN={tokens['img-env-hf']}",
    ))
    config["history"].insert(1, {  # type: ignore[attr-defined]
        "created_by": f"/bin/sh -c #(nop)  ENV DB_PASSWORD={tokens['img-hist-env']}", "empty_layer": True})
    config["config"]["Cmd"] = ["python", "-m", "app.serve"]  # type: ignore[index]
    return write_docker_archive(path, Image(layers, config))


def _run(world: World, name: str, *args: str, cwd: Path | None = None, env: dict[str, str] | None = None,
         ok: tuple[int, ...] = (0, 1)) -> subprocess.CompletedProcess[bytes]:
    """Run `depslim ARGS` as a real process; keep its stdout and stderr for the search."""
    done = subprocess.run([sys.executable, "-m", "depslim", *args], cwd=cwd or world.root, env=env or world.env,
                          capture_output=True, timeout=600, check=False)
    world.outputs[f"{name} | stdout"] = done.stdout
    world.outputs[f"{name} | stderr"] = done.stderr
    world.exit_codes[name] = done.returncode
    assert done.returncode in ok, f"{name}: exit {done.returncode}\n{done.stderr.decode(errors='replace')[-2000:]}"
    return done


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    tokens = {place: _token(kind) for place, kind in PLACES.items()}
    root = tmp_path_factory.mktemp("secrets")
    wheels = root / "wheels"
    build_wheel(wheels, "alpha", "1.0", top_level=["alpha"])
    build_wheel(wheels, "requests", "2.0", top_level=["requests"])
    build_wheel(wheels, "sqlalchemy", "2.0", top_level=["sqlalchemy"])
    build_wheel(wheels, "psycopg2", "2.9", top_level=["psycopg2"])  # the driver the URL in code implies
    venv = make_venv(root / "venv" / "env")
    pip_install(venv, wheels, "alpha", "requests", "sqlalchemy")
    cache = root / "cache"
    with serve_index(wheels, auth=("user", tokens["req-index"])) as index:
        project = _project(root / "work" / "project", tokens, index)
        archive = _image(root / "work" / "image.tar", tokens)
        age(root / "work")
        env = {
            "PATH": os.environ["PATH"], "HOME": str(root / "home"), "LANG": "C.UTF-8",
            "DEPSLIM_CACHE_DIR": str(cache), "PIP_CONFIG_FILE": os.devnull,
            "PIP_CACHE_DIR": str(root / "pipcache"), "PIP_DISABLE_PIP_VERSION_CHECK": "1", "PIP_RETRIES": "0",
            "AWS_SECRET_ACCESS_KEY": tokens["proc-secret"], "DEPSLIM_TEST_PLAIN": tokens["proc-plain"],
            "GITHUB_SERVER_URL": f"https://ci:{tokens['proc-url']}@github.internal", "GITHUB_REPOSITORY": "o/r",
            "GITHUB_SHA": "0" * 40,
            "PYTHONPATH": os.environ.get("PYTHONPATH", ""),
        }
        world = World(root, project, archive, venv, cache, tokens, env)
        _prepare_inputs(world, index)
        world.planted = _snapshot(root / "work")
        _run_everything(world, index)
        yield world


def _prepare_inputs(world: World, index: Index) -> None:
    """Every input of the later commands, written before anything runs (so written files are told apart)."""
    work = world.root / "work"
    (work / "out").mkdir()
    other = work / "other"
    other.mkdir()
    (other / "requirements.txt").write_text(f"--index-url https://ci:{world.tokens['req-url']}@pypi.internal/x\n"
                                            "alpha==2\n")
    authed = index.url.replace("http://", f"http://user:{world.tokens['req-index']}@", 1)
    lock = work / "lock"
    lock.mkdir()
    (lock / "literal.txt").write_text(f"--index-url {authed}\nalpha\n")
    (lock / "ref.txt").write_text("--index-url ${DEPSLIM_TEST_INDEX}\nalpha\n")
    (lock / "dead.txt").write_text(f"--index-url http://user:{world.tokens['lock-dead']}@127.0.0.1:9/simple\n"
                                   "alpha\n")
    estimate = work / "estimate"
    estimate.mkdir()
    (estimate / "requirements.txt").write_text("alpha\nrequests\n")
    bad = work / "bad"
    bad.mkdir()
    (bad / "requirements.txt").write_text(
        f'alpha @ https://ci:{world.tokens["bad-req"]}@files.internal/alpha.whl ; python_version >>= "3"\n')
    shutil.copytree(world.project, work / "slim")
    (work / "slim" / "requirements.txt").write_text("alpha\nrequests\nsqlalchemy\n")
    age(work)


def _snapshot(folder: Path) -> dict[Path, bytes]:
    return {p: p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def _run_everything(world: World, index: Index) -> None:
    project, archive, work = world.project, world.archive, world.root / "work"
    out = work / "out"
    for fmt in ("terminal", "json", "markdown", "sarif", "github"):
        _run(world, f"analyze {fmt}", "analyze", str(project), "--format", fmt)
        _run(world, f"analyze {fmt} -o", "analyze", str(project), "--format", fmt, "-o", str(out / f"a.{fmt}"))
        _run(world, f"analyze --image {fmt}", "analyze", str(project), "--image", str(archive), "--format", fmt)
    _run(world, "analyze --python", "analyze", str(project), "--python", str(world.venv), "--format", "json")
    for fmt in ("terminal", "json", "markdown"):
        _run(world, f"image {fmt}", "image", str(archive), "--format", fmt)
        _run(world, f"image {fmt} -o", "image", str(archive), "--format", fmt, "-o", str(out / f"i.{fmt}"))
    for fmt in ("terminal", "json", "markdown", "sarif"):
        _run(world, f"audit {fmt}", "audit", str(project), "--image", str(archive), "--format", fmt)
    _run(world, "audit dockerfile", "audit", str(project), "--dockerfile-only")
    for fmt in ("terminal", "json", "markdown", "github"):
        _run(world, f"check {fmt}", "check", str(project), "--image", str(archive), "--max-image-bytes", "1",
             "--forbid", "alpha", "--format", fmt)
    _run(world, "check --report", "check", "--report", str(out / "a.json"), "--forbid", "alpha")
    other = work / "other" / "requirements.txt"
    for fmt in ("terminal", "json", "markdown", "github"):
        _run(world, f"diff reports {fmt}", "diff", str(out / "a.json"), str(out / "a.json"), "--format", fmt)
        _run(world, f"diff pins {fmt}", "diff", str(project / "requirements.txt"), str(other), "--format", fmt)
    _run(world, "diff images", "diff", str(archive), str(archive), "--format", "json")
    _run(world, "diff projects", "diff", str(project), str(project), "--format", "markdown")
    _run(world, "split", "split", str(project))
    _run(world, "split --image", "split", str(project), "--image", str(archive), "--output-dir", str(out / "split"))
    authed = index.url.replace("http://", f"http://user:{world.tokens['req-index']}@", 1)
    lock = work / "lock"
    env = {**world.env, "DEPSLIM_TEST_INDEX": authed}
    _run(world, "lock literal", "lock", "literal.txt", cwd=lock, env=env, ok=(0,))
    _run(world, "lock ref", "lock", "ref.txt", cwd=lock, env=env, ok=(0,))
    _run(world, "lock dead", "lock", "dead.txt", cwd=lock, env=env, ok=(2,))
    _run(world, "lock --check", "lock", "--check", "literal.txt", cwd=lock, env=env, ok=(0,))
    for fmt in ("terminal", "json", "markdown"):
        _run(world, f"estimate {fmt}", "estimate", "requirements.txt", "--index-url", authed, "--isolated",
             "--format", fmt, cwd=work / "estimate", ok=(0,))
    bad = work / "bad"
    _run(world, "analyze bad requirement", "analyze", str(bad), ok=(2,))
    _run(world, "split bad requirement", "split", str(bad), ok=(2,))
    _run(world, "lock bad requirement", "lock", "requirements.txt", cwd=bad, ok=(2,))
    _run(world, "estimate bad requirement", "estimate", "requirements.txt", "--index-url", authed, cwd=bad, ok=(2,))
    slim_env = {**world.env, "PIP_INDEX_URL": authed, "PIP_EXTRA_INDEX_URL": "", "PIP_FIND_LINKS": ""}
    _run(world, "slim", "slim", str(work / "slim"), "--python", str(world.venv), "--no-index-check", env=slim_env,
         ok=(0,))


def _hits(data: bytes, tokens: dict[str, str]) -> list[str]:
    found = []
    for place, token in tokens.items():
        raw = token.encode()
        if raw[:10] in data or raw[-10:] in data:
            found.append(place)
    return found


def _listing(leaks: dict[str, list[str]]) -> str:
    """One line per output that leaked, naming the planted places found in it."""
    return "\n".join(f"{where}: {', '.join(places)}" for where, places in sorted(leaks.items()) if places)


def test_no_token_in_stdout_or_stderr_of_any_command(world: World) -> None:
    leaks = {name: _hits(data, world.tokens) for name, data in world.outputs.items()}
    listing = _listing(leaks)
    assert not listing, "secrets written out:\n" + listing


def test_no_token_in_any_file_written_or_cached(world: World) -> None:
    leaks = {}
    written = [p for p in (world.root / "work").rglob("*")
               if p.is_file() and world.planted.get(p) != p.read_bytes()]
    assert written, "the commands wrote nothing: the search would prove nothing"
    cached = [p for p in world.cache.rglob("*") if p.is_file()]
    assert any(p.parent.name == "memo" for p in cached) and any(p.parent.name == "scan" for p in cached)
    for path in written + cached:
        found = _hits(path.read_bytes(), world.tokens)
        if found:
            leaks[str(path.relative_to(world.root))] = found
    listing = _listing(leaks)
    assert not listing, "secrets written out:\n" + listing


def test_a_literal_credential_is_masked_and_the_user_told_to_use_a_reference(world: World) -> None:
    """Generated files never carry a literal credential; `${VAR}` references are kept as written."""
    lock = world.root / "work" / "lock"
    literal = (lock / "literal.lock.txt").read_text()
    assert "--index-url http://***@127.0.0.1:" in literal and "alpha==1.0" in literal
    assert "--index-url ${DEPSLIM_TEST_INDEX}" in (lock / "ref.lock.txt").read_text()
    note = world.outputs["lock literal | stderr"].decode()
    assert "literal.txt:1" in note and "environment variable" in note and "${" in note
    assert "environment variable" not in world.outputs["lock ref | stderr"].decode()
    base = (world.project / "requirements-base.txt").read_text()
    assert "--index-url http://***@127.0.0.1:" in base
    split_notes = world.outputs["split | stderr"].decode()
    assert "requirements.txt:6" in split_notes and "environment variable" in split_notes
    assert world.exit_codes["lock dead"] == 2
    assert "dead.txt" in world.outputs["lock dead | stderr"].decode()


def test_caches_are_private_and_the_memo_keys_on_a_hash(world: World) -> None:
    folders = [p for p in world.cache.rglob("*") if p.is_dir()]
    files = [p for p in world.cache.rglob("*") if p.is_file()]
    assert folders and files
    for folder in folders:
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700, folder
    for file in files:
        assert stat.S_IMODE(file.stat().st_mode) == 0o600, file
    for memo in (world.cache / "memo").glob("*.marshal"):
        key = marshal.loads(memo.read_bytes())["key"]
        assert len(key) == 64 and set(key) <= set("0123456789abcdef")
