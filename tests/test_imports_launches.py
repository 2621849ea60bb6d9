"""Reachability follows what served code launches: subprocess/os.system/runpy with literal targets are
followed into the scripts and modules they start; a launch or import computed at run time makes
reachability incomplete, and then nothing is called unreachable (a cut is a promise)."""

from __future__ import annotations

import json
import pickle
import subprocess
import sys
from pathlib import Path

from helpers import write_tree

from depslim.imports.launches import launches


def _serving(root: Path) -> dict:
    out = root / "report.json"
    result = subprocess.run([sys.executable, "-m", "depslim", "analyze", str(root), "--scope", "serving",
                             "-f", "json", "-o", str(out), "--no-cache"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    return json.loads(out.read_text())


def _verdicts(report: dict) -> dict[str, str]:
    return {d["name"]: d["verdict"] for d in report["distributions"] if d["declared"]}


def _project(root: Path, serve: str, extra: dict[str, str] | None = None) -> Path:
    return write_tree(root, {
        "requirements.txt": "fastapi\nloader-lib\ntrain-lib\nworker-lib\n",
        "Dockerfile": 'FROM python:3.11-slim\nCMD ["uvicorn", "app.serve:app"]\n',
        "pyproject.toml": '[project]\nname = "app"\nversion = "1"\n[project.scripts]\ntrain = "app.train:main"\n',
        "app/__init__.py": "",
        "app/serve.py": serve,
        "app/train.py": "import train_lib\n",
        "app/worker.py": "import worker_lib\n",
        "scripts/load.py": "import loader_lib\n",
        **(extra or {}),
    })


def test_launched_scripts_and_modules_are_reached(tmp_path: Path) -> None:
    serve = ("import subprocess, sys, os\nimport fastapi\n"
             "subprocess.run([sys.executable, 'scripts/load.py'], check=True)\n"
             "os.system('python -m app.worker &')\n"
             "subprocess.run(['aws', 's3', 'cp', 's3://b/k', '/tmp/k'])\n")
    report = _serving(_project(tmp_path, serve))
    got = _verdicts(report)
    assert got["loader-lib"] == "runtime" and got["worker-lib"] == "runtime"  # followed, not cut
    assert got["train-lib"] == "unreachable"  # only the train entrypoint reaches it
    assert not any("incomplete" in w for w in report["warnings"])
    # `aws s3 cp s3://…` runs a program: the AWS CLI is the need, not fsspec's S3 backend
    needs = {f["subject"]: f for f in report["findings"] if f["code"] in ("missing-implicit", "undeclared-implicit")}
    assert "awscli" in needs and "s3fs" not in needs
    assert needs["awscli"]["evidence"][0]["path"] == "app/serve.py" and needs["awscli"]["evidence"][0]["line"] == 5


def test_a_computed_launch_makes_reachability_incomplete_and_cuts_nothing(tmp_path: Path) -> None:
    serve = ("import importlib, os\nimport fastapi\n"
             "handler = importlib.import_module(os.environ['HANDLER'])\n")
    report = _serving(_project(tmp_path, serve))
    got = _verdicts(report)
    assert "unreachable" not in got.values()
    assert got["train-lib"] == "runtime"
    assert any("reachability is incomplete" in w and "app/serve.py:3" in w for w in report["warnings"])


def test_python_dash_m_runner_is_the_runner() -> None:
    from depslim.imports.entrypoints import command_start_modules

    files = {"app": "app/__init__.py", "app.main": "app/main.py", "dash": "dash.py"}
    assert command_start_modules(["python", "-m", "streamlit", "run", "dash.py"], files) == {"dash"}
    assert command_start_modules(["python3", "-m", "uvicorn", "app.main:app"], files) == {"app", "app.main"}


def test_launch_shapes() -> None:
    source = (
        "import subprocess, os, sys, runpy, importlib\n"
        "subprocess.Popen(['python', '-m', 'pkg.job'])\n"
        "subprocess.check_output('python tools/x.py --fast', shell=True)\n"
        "os.execv(sys.executable, [sys.executable, 'run.py'])\n"
        "runpy.run_path('scripts/a.py')\n"
        "importlib.import_module('pkg.plugins.csv')\n"
        "subprocess.run(cmd)\n"
        "subprocess.run([sys.executable, script])\n"
        "run(['not', 'subprocess'])\n"
    )
    got = [(x.line, x.kind, x.words, x.pythonic) for x in launches(source)]
    assert got == [
        (2, "command", ("python", "-m", "pkg.job"), True),
        (3, "command", ("python", "tools/x.py", "--fast"), True),
        (4, "command", ("python3", "run.py"), True),
        (5, "file", ("scripts/a.py",), False),
        (6, "module", ("pkg.plugins.csv",), False),
        (7, "command", None, False),  # computed, but nothing says it starts Python
        (8, "command", None, True),  # computed Python: reachability cannot follow it
    ]
    assert launches(b"def broken(:\n") == []


def test_an_entrypoint_script_is_read_for_what_it_starts(tmp_path: Path) -> None:
    """CMD runs ./entrypoint.sh; the script starts a cluster, then the server: the server's imports are
    runtime, and only what no command reaches is unreachable."""
    root = write_tree(tmp_path, {
        "requirements.txt": "serve-lib\ntrain-lib\n",
        "Dockerfile": 'FROM python:3.11-slim\nCOPY . /app\nCMD ["./docker/entrypoint.sh"]\n',
        "docker/entrypoint.sh": "#!/bin/sh\nset -e\n# start the cluster first\nray start --head\n"
                                "exec python serve_app.py --port 8000\n",
        "serve_app.py": "import serve_lib\n",
        "train.py": "import train_lib\n",
    })
    report = _serving(root)
    got = _verdicts(report)
    assert got["serve-lib"] == "runtime" and got["train-lib"] == "unreachable"
    entry = report["entrypoints"][0]
    assert entry["path"] == "Dockerfile" and "python serve_app.py --port 8000" in entry["detail"]


def test_a_model_loaded_from_outside_the_project_cuts_nothing(tmp_path: Path) -> None:
    """The served code loads a model from a registry: what it needs cannot be seen, so the packages
    only training imports stay (reachability incomplete); a model the project ships is no doubt."""
    remote = ("import fastapi\nimport mlflow.pyfunc\n"
              "model = mlflow.pyfunc.load_model('models:/churn/1')\n")
    report = _serving(_project(tmp_path / "remote", remote))
    assert "unreachable" not in _verdicts(report).values()
    assert any("mlflow.pyfunc.load_model loads a model the project does not ship" in w for w in report["warnings"])
    local = ("import fastapi\nimport joblib\nimport os\n"
             "model = joblib.load(os.environ.get('MODEL', 'models/m.joblib'))\n")
    root = _project(tmp_path / "local", local)
    (root / "models").mkdir()
    (root / "models" / "m.joblib").write_bytes(pickle.dumps({"weights": [0.5, 0.25]}, protocol=4))
    got = _verdicts(_serving(root))
    assert got["train-lib"] == "unreachable"


def test_a_model_from_outside_keeps_what_the_projects_model_writers_use(tmp_path: Path) -> None:
    """Served code unpickles a model the project does not ship; the training script that writes such
    models imports sklearn: unpickling its output needs sklearn, so it is no dev-only cut. What the
    writer imports for plotting is no model library and stays dev-only."""
    serve = "import os\nimport fastapi\nimport joblib\nmodel = joblib.load(os.environ['MODEL_PATH'])\n"
    train = ("import joblib\nimport matplotlib.pyplot as plt\nfrom sklearn.linear_model import LogisticRegression\n"
             "model = LogisticRegression().fit([[0], [1]], [0, 1])\njoblib.dump(model, 'artifacts/model.joblib')\n")
    root = _project(tmp_path, serve, {"scripts/train_model.py": train,
                                      "requirements.txt": "fastapi\njoblib\nscikit-learn\nmatplotlib\n"})
    report = _serving(root)
    got = _verdicts(report)
    assert got["scikit-learn"] == "implicit" and got["matplotlib"] == "dev-only"
    sklearn = next(d for d in report["distributions"] if d["name"] == "scikit-learn")
    detail = " ".join(e["detail"] for e in sklearn["evidence"])
    assert "app/serve.py:4 joblib.load loads a model the project does not ship" in detail
    assert "scripts/train_model.py writes models with sklearn" in detail


def test_scope_serving_follows_the_dockerfile_named_with_dockerfile(tmp_path: Path) -> None:
    """A project whose image is built from `app.Dockerfile`: `--dockerfile` names it, as `slim` does."""
    root = _project(tmp_path, "import fastapi\n")
    (root / "Dockerfile").rename(root / "app.Dockerfile")
    out = root / "report.json"
    for extra, expected in (([], "runtime"), (["--dockerfile", "app.Dockerfile"], "unreachable")):
        result = subprocess.run([sys.executable, "-m", "depslim", "analyze", str(root), "--scope", "serving",
                                 *extra, "-f", "json", "-o", str(out), "--no-cache", "--force"],
                                capture_output=True, text=True)
        assert result.returncode == 0, result.stderr
        assert _verdicts(json.loads(out.read_text()))["train-lib"] == expected, extra
