"""Compose services' `entrypoint:`/`command:` are entrypoints: a server or worker started only from
docker-compose.yml is reached, its program's distribution is kept, and under `--scope serving` what
a service runs is never cut as unreachable (Compose's command overrides the image's CMD)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import write_tree

from depslim.imports import scan_project
from depslim.imports.compose import is_compose_file, service_commands

COMPOSE = """\
version: "3.9"
x-common: &common
  restart: always
services:
  api:
    <<: *common
    build: .
    command: ["uvicorn", 'app.serve:app',
              "--host", "0.0.0.0"]  # a flow sequence over two lines
    environment:
      command: not-a-command
  worker:
    image: app
    entrypoint:
    - celery
    - -A
    - app.worker
    command: worker --loglevel=info
  trainer:
    image: app
    command: >
      python
      -m app.train
  db:
    image: postgres:16
    command: postgres -c 'max_connections=$$MAX'   # $$ is Compose's escape for $
  bare:
    command: |
      sh -c "python scripts/load.py && echo done"
volumes:
  data:
    command: not-a-service
"""


def test_service_commands_read_every_form() -> None:
    got = [(c.service, c.line, list(c.words)) for c in service_commands(COMPOSE)]
    assert got == [
        ("api", 8, ["uvicorn", "app.serve:app", "--host", "0.0.0.0"]),
        ("worker", 18, ["celery", "-A", "app.worker", "worker", "--loglevel=info"]),
        ("trainer", 21, ["python", "-m", "app.train"]),
        ("db", 26, ["postgres", "-c", "max_connections=$MAX"]),
        ("bare", 28, ["sh", "-c", "python scripts/load.py && echo done"]),
    ]


@pytest.mark.parametrize(("name", "expected"), [
    ("docker-compose.yml", True), ("compose.yaml", True), ("docker-compose.prod.yml", True),
    ("Compose.YML", True), ("compose.json", False), ("composer.yml", False), ("my-compose.yml", False),
])
def test_compose_file_names(name: str, expected: bool) -> None:
    assert is_compose_file(name) is expected


def test_unreadable_shapes_are_no_command() -> None:
    assert service_commands("services:\n  api:\n    command: {a: 1}\n") == []
    assert service_commands("services:\n  api:\n    command: *cmd\n") == []
    assert service_commands("services:\n  api:\n    command:\n      key: value\n") == []
    assert service_commands("services: {}\n") == []
    assert service_commands("x" * 2_000_000) == []


def _project(root: Path) -> Path:
    return write_tree(root, {
        "requirements.txt": "fastapi\nuvicorn\ncelery\ntrain-lib\nloader-lib\nunused-lib\n",
        "Dockerfile": 'FROM python:3.11-slim\nCOPY . /app\nCMD ["python", "-c", "print(1)"]\n',
        "docker-compose.yml": COMPOSE,
        "app/__init__.py": "",
        "app/serve.py": "import fastapi\n",
        "app/worker.py": "import celery\n",
        "app/train.py": "import train_lib\n",
        "app/orphan.py": "import unused_lib\n",
        "scripts/load.py": "import loader_lib\n",
    })


def test_compose_commands_are_entrypoints_and_reach_their_modules(tmp_path: Path) -> None:
    result = scan_project(_project(tmp_path))
    compose = [e for e in result.entrypoints if e.path == "docker-compose.yml"]
    assert [e.line for e in compose] == [8, 18, 21, 26, 28]
    assert compose[0].detail.startswith("api: uvicorn app.serve:app")
    reach = result.reachable_modules
    assert reach is not None
    assert {"app.serve", "app.worker", "app.train"} <= reach
    assert "app.orphan" not in reach


def test_serving_scope_keeps_what_compose_services_run(tmp_path: Path) -> None:
    root = _project(tmp_path)
    out = root / "report.json"
    result = subprocess.run([sys.executable, "-m", "depslim", "analyze", str(root), "--scope", "serving",
                             "-f", "json", "-o", str(out), "--no-cache"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    report = json.loads(out.read_text())
    verdicts = {d["name"]: d["verdict"] for d in report["distributions"] if d["declared"]}
    # the Dockerfile's CMD runs no project code; the services' commands are what ships
    assert verdicts["fastapi"] == "runtime" and verdicts["celery"] == "runtime"
    assert verdicts["train-lib"] == "runtime" and verdicts["loader-lib"] == "runtime"
    assert verdicts["unused-lib"] != "runtime"  # imported only by a module nothing starts
    assert verdicts["uvicorn"] != "unused"  # the api service runs it: an implicit need, not a cut
