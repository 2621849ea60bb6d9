"""Entrypoints from pyproject, Dockerfile (exec/shell form, wrappers) and Procfile, and reachability."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import write_dedented as write

from depslim.imports import scan_project
from depslim.imports.entrypoints import Target, command_targets

PACKAGE = {
    "src/svc/__init__.py": "",
    "src/svc/__main__.py": "from .cli import run\n",
    "src/svc/cli.py": "import click\nfrom svc import core\n",
    "src/svc/core.py": "import numpy\nfrom . import util\n",
    "src/svc/util.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from svc import typed_only\n",
    "src/svc/typed_only.py": "import pandas\n",
    "src/svc/api.py": "import fastapi\nfrom svc.core import thing\n",
    "src/svc/worker.py": "import celery\n",
    "src/svc/unused.py": "import heavy_unused\n",
    "src/svc/lazy.py": "def f():\n    from svc import late\n",
    "src/svc/late.py": "import late_dep\n",
    "app.py": "import streamlit\nimport svc.lazy\n",
}


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        (["python", "-m", "svc"], [Target("module", "svc")]),
        (["python3.11", "-u", "-X", "dev", "app.py"], [Target("file", "app.py")]),
        (["/usr/local/bin/python3", "-m", "svc.cli"], [Target("module", "svc.cli")]),
        (["uvicorn", "--host", "0.0.0.0", "svc.api:app", "--port", "80"], [Target("module", "svc.api")]),
        (["gunicorn", "-b", "localhost:8000", "-k", "uvicorn.workers.UvicornWorker", "svc.api:create()"],
         [Target("module", "svc.api")]),
        (["celery", "-A", "svc.worker", "worker"], [Target("module", "svc.worker")]),
        (["celery", "--app=svc.worker:app", "worker"], [Target("module", "svc.worker")]),
        (["streamlit", "run", "app.py"], [Target("file", "app.py"), Target("glob", "pages/*.py")]),
        (["tini", "--", "poetry", "run", "python", "-m", "svc"], [Target("module", "svc")]),
        (["gosu", "app", "env", "A=1", "uvicorn", "svc.api:app"], [Target("module", "svc.api")]),
        (["sh", "-c", "alembic upgrade head && exec gunicorn svc.api:app"], [Target("module", "svc.api")]),
        (["svc-cli", "serve"], [Target("module", "svc.cli")]),
        (["mlflow", "server"], []),
    ],
)
def test_command_targets(command: list[str], expected: list[Target]) -> None:
    got = [t for t, _ in command_targets(command, {"svc-cli": "svc.cli:main"})]
    assert got == expected


def test_pyproject_dockerfile_procfile_and_reachability(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            **PACKAGE,
            "pyproject.toml": """
                [project]
                name = "svc"

                [project.scripts]
                svc-cli = "svc.cli:main"

                [project.gui-scripts]
                "svc-gui" = "svc.core:gui"
                """,
            "Dockerfile": """
                FROM python:3.11 AS build
                RUN pip wheel .
                CMD ["echo", "builder"]

                FROM python:3.11-slim
                COPY . /app
                ENTRYPOINT ["tini", "--"]
                CMD ["python", "-m", "svc"]
                """,
            "deploy/worker.Dockerfile": "FROM python:3.11\nCMD celery -A svc.worker worker --loglevel=info\n",
            "Procfile": "web: gunicorn svc.api:app\nui: streamlit run app.py\n",
        },
    )
    result = scan_project(tmp_path)
    got = {(e.path, e.line, e.kind, e.detail) for e in result.entrypoints}
    assert got == {
        ("pyproject.toml", 5, "entrypoint", "svc.cli:main"),
        ("pyproject.toml", 8, "entrypoint", "svc.core:gui"),
        ("Dockerfile", 3, "entrypoint", '["echo", "builder"]'),  # names no project code: raw command
        ("Dockerfile", 8, "entrypoint", "svc"),
        ("deploy/worker.Dockerfile", 2, "entrypoint", "svc.worker"),
        ("Procfile", 1, "entrypoint", "svc.api:app"),
        ("Procfile", 2, "entrypoint", "app.py"),
    }
    reach = result.reachable_modules
    assert reach is not None
    assert {"svc", "svc.__main__", "svc.cli", "svc.core", "svc.util", "svc.api", "svc.worker", "app",
            "svc.lazy", "svc.late"} <= reach
    assert "svc.unused" not in reach  # never imported from an entrypoint
    assert "svc.typed_only" not in reach  # reached only under TYPE_CHECKING


def test_dockerfile_only_reachability_excludes_unreached(tmp_path: Path) -> None:
    write(tmp_path, {**PACKAGE, "Dockerfile": 'FROM x\nCMD ["uvicorn", "svc.api:app"]\n'})
    result = scan_project(tmp_path)
    assert result.reachable_modules == frozenset({"svc", "svc.api", "svc.core", "svc.util"})
    assert [(e.path, e.line, e.detail) for e in result.entrypoints] == [("Dockerfile", 2, "svc.api:app")]


def test_no_entrypoint_means_unknown_reachability(tmp_path: Path) -> None:
    result = scan_project(write(tmp_path, PACKAGE))
    assert result.reachable_modules is None
    assert result.entrypoints == ()


def test_flask_run_takes_its_app_from_flask_app_and_ray_serve_from_its_import_path(tmp_path: Path) -> None:
    from depslim.imports.entrypoints import dockerfile_entrypoints

    text = b'FROM python:3.11\nENV FLASK_APP=svc/web.py\nCMD ["flask", "run", "--host", "0.0.0.0"]\n'
    (flask,) = dockerfile_entrypoints("Dockerfile", text, {})
    assert flask.targets == (Target("file", "svc/web.py"),) and flask.evidence.detail == "svc/web.py"
    serve = b'FROM python:3.11\nCMD serve run svc.deploy:app --port 8000\n'
    (ray,) = dockerfile_entrypoints("Dockerfile", serve, {})
    assert ray.targets == (Target("module", "svc.deploy"),)
