"""Declaration sources real projects use: requirement files in sub-folders (and never in a venv, a
vendored tree or depslim's own outputs), optional requirement files, conda's environment.yml,
pixi.toml, and wrong-shaped files as one clear error line.

Every test writes the files on disk; the CLI ones run `python -m depslim` as a user would.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from helpers import write_dedented as write

from depslim.declared import detect_sources, read_declared, read_declared_with_warnings
from depslim.declared.detect import explicit_sources
from depslim.errors import InputError
from depslim.model import DeclaredSet


def rows(declared: DeclaredSet) -> list[tuple[str, int, str | None, str, bool, str]]:
    return [(r.location.path, r.location.line, r.name, r.group, r.dev, r.source) for r in declared.requirements]


def depslim(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "depslim", *args], capture_output=True, text=True, cwd=cwd)


# --------------------------------------------------------------------------- sub-folders

TREE = {
    "requirements.txt": "numpy\n",
    "services/api/requirements.txt": "fastapi\n",
    "app/requirements.txt": "flask\n",
    "deploy/requirements-prod.txt": "gunicorn\n",
    "services/worker/requirements/base.in": "celery\n",
    "examples/dreambooth/requirements.txt": "accelerate\n",
    "tests/requirements.txt": "pytest\n",
    "a/b/c/d/requirements.txt": "at_depth_four\n",
    "a/b/c/d/e/requirements.txt": "too_deep\n",
    # vendored, environments, tool folders, ignored: never declarations of the project
    "__pypackages__/3.11/lib/pkg/requirements.txt": "pep582_vendored\n",
    "lib/site-packages/pkg/requirements.txt": "site_vendored\n",
    "web/node_modules/pkg/requirements.txt": "node_vendored\n",
    "dist-packages/pkg/requirements.txt": "dist_vendored\n",
    "venv/pyvenv.cfg": "home = /usr/bin\n",
    "venv/lib/requirements.txt": "in_a_venv\n",
    "condaenv/conda-meta/history": "\n",
    "condaenv/requirements.txt": "in_a_conda_env\n",
    ".tox/py311/requirements.txt": "in_tox\n",
    ".gitignore": "scratch/\n",
    "scratch/requirements.txt": "ignored_by_git\n",
    "services/api/notes.txt": "not a requirements file\n",
}


def test_requirement_files_in_sub_folders_are_read_and_listed(tmp_path: Path) -> None:
    """services/api/requirements.txt and friends are declarations; a sub-folder file counts as a root
    one does: runtime unless its path says dev (examples/ and tests/ are the scan's dev folders)."""
    declared = read_declared(write(tmp_path, TREE))
    assert declared.files == (
        "a/b/c/d/requirements.txt", "app/requirements.txt", "deploy/requirements-prod.txt",
        "examples/dreambooth/requirements.txt", "requirements.txt", "services/api/requirements.txt",
        "services/worker/requirements/base.in", "tests/requirements.txt",
    )
    got = {(r.name, r.location.path, r.group, r.dev) for r in declared.requirements}
    assert got == {
        ("at-depth-four", "a/b/c/d/requirements.txt", "main", False),
        ("flask", "app/requirements.txt", "main", False),
        ("gunicorn", "deploy/requirements-prod.txt", "main", False),
        ("accelerate", "examples/dreambooth/requirements.txt", "dev", True),
        ("numpy", "requirements.txt", "main", False),
        ("fastapi", "services/api/requirements.txt", "main", False),
        ("celery", "services/worker/requirements/base.in", "main", False),
        ("pytest", "tests/requirements.txt", "dev", True),
    }


def test_vendored_folders_and_environments_are_not_project_code(tmp_path: Path) -> None:
    """__pypackages__, site-packages, dist-packages, node_modules, virtualenvs and conda envs inside
    the project hold other people's code: no import, Dockerfile or model file there is the project's."""
    from depslim.imports import scan_project

    vendored = ("__pypackages__/3.11/lib/pkg", "lib/site-packages/pkg", "web/node_modules/pkg",
                "dist-packages/pkg", "venv/lib", "condaenv/lib")
    files = dict(TREE)
    for folder in vendored:
        files[f"{folder}/mod.py"] = "import vendored_only\n"
        files[f"{folder}/Dockerfile"] = "FROM python:3.11\nCMD python mod.py\n"
    files["app/main.py"] = "import flask\n"
    root = write(tmp_path, files)
    result = scan_project(root)
    assert [(r.module, r.location.path) for r in result.imports] == [("flask", "app/main.py")]
    assert result.files_scanned == 1 and result.entrypoints == ()


def test_depslim_outputs_in_a_sub_folder_are_never_read_back(tmp_path: Path) -> None:
    """`depslim split --output-dir services/api` writes there; the next run must not read its own
    requirements-base.txt as the project's declarations (every run would drift)."""
    root = write(tmp_path, {"services/api/requirements.txt": "click\n", "services/api/app.py": "import click\n"})
    first = depslim("split", str(root), "--output-dir", str(root / "services/api"))
    assert first.returncode == 0, first.stderr
    assert (root / "services/api/requirements-base.txt").is_file()
    assert [s.path.relative_to(root).as_posix() for s in detect_sources(root)] == ["services/api/requirements.txt"]
    before = (root / "services/api/requirements-base.txt").read_bytes()
    second = depslim("split", str(root), "--output-dir", str(root / "services/api"))
    assert second.returncode == 0, second.stderr
    assert (root / "services/api/requirements-base.txt").read_bytes() == before


# --------------------------------------------------------------------------- optional files


@pytest.mark.parametrize(
    ("rel", "text", "group", "dev"),
    [
        ("requirements-optional.txt", "cupy\n", "optional:requirements-optional.txt", False),
        ("requirements_additional.txt", "cupy\n", "optional:requirements_additional.txt", False),
        ("requirements-extra-gpu.txt", "cupy\n", "optional:requirements-extra-gpu.txt", False),
        ("services/api/requirements-extras.txt", "cupy\n", "optional:services/api/requirements-extras.txt", False),
        ("requirements-gpu.txt", "# Optional: GPU inference\ncupy\n", "optional:requirements-gpu.txt", False),
        ("requirements-gpu.txt", "# additional packages for the GPU image\ncupy\n", "optional:requirements-gpu.txt",
         False),
        # a header that only mentions optional packages, and a name without the token: runtime
        ("requirements.txt", "# Core runtime; optional ones live in requirements-optional.txt\ncupy\n", "main", False),
        ("requirements-gpu.txt", "cupy\n", "main", False),
        # dev wins over optional
        ("requirements-dev-extra.txt", "cupy\n", "dev", True),
    ],
)
def test_optional_requirement_files_are_optional_groups(tmp_path: Path, rel: str, text: str, group: str,
                                                        dev: bool) -> None:
    declared = read_declared(write(tmp_path, {rel: text}))
    assert [(r.name, r.group, r.dev) for r in declared.requirements] == [("cupy", group, dev)]


# --------------------------------------------------------------------------- environment.yml

ENVIRONMENT = """
    # the training environment
    name: churn
    channels:
      - pytorch
      - conda-forge
    dependencies:
      - python=3.11
      - pytorch::pytorch=2.1   # the model
      - py-xgboost>=1.7
      - "pandas 2.1.* py311_0"
      - scikit-learn[version='>=1.3']
      - numpy=1.26|1.25
      - libgcc-ng
      - cudatoolkit=11.8
      - pip
      - pip:
        - transformers==4.40  # pinned
        - -r requirements/serve.txt
        - --extra-index-url https://download.pytorch.org/whl/cpu
        - 'fastapi[standard]>=0.110 ; python_version >= "3.9"'
    variables:
      MODEL_PATH: /models/churn.joblib
"""


def test_environment_yml_conda_and_pip_sections(tmp_path: Path) -> None:
    root = write(tmp_path, {"environment.yml": ENVIRONMENT, "requirements/serve.txt": "uvicorn\n"})
    declared, warnings = read_declared_with_warnings(root)
    assert declared.files == ("environment.yml", "requirements/serve.txt")
    assert [(r.location.line, r.name, r.requirement, r.source) for r in declared.requirements
            if r.location.path == "environment.yml"] == [
        (8, "torch", "torch==2.1.*", "conda"),
        (9, "xgboost", "xgboost>=1.7", "conda"),
        (10, "pandas", "pandas==2.1.*", "conda"),
        (11, "scikit-learn", "scikit-learn>=1.3", "conda"),
        (12, "numpy", "numpy", "conda"),
        (17, "transformers", "transformers==4.40", "conda-pip"),
        (20, "fastapi", 'fastapi[standard]>=0.110; python_version >= "3.9"', "conda-pip"),
    ]
    assert all(r.group == "main" and not r.dev for r in declared.requirements)
    assert rows(read_declared(root))[-1] == ("requirements/serve.txt", 1, "uvicorn", "main", False, "requirements")
    assert declared.index.extra_index_urls == ("https://download.pytorch.org/whl/cpu",)
    assert warnings == ["environment.yml:12: numpy: conda version spec PEP 440 cannot say; declared without a version"]


def test_environment_yml_compact_lists_flow_lists_and_dev_names(tmp_path: Path) -> None:
    """Lists at the key's own column, `[a, b]` lists, and a dev file by its name."""
    text = "name: x\nchannels: [conda-forge, defaults]\ndependencies:\n- numpy\n- pip:\n  - pytest\n"
    declared = read_declared(write(tmp_path, {"environment-dev.yml": text}), [Path("environment-dev.yml")])
    assert rows(declared) == [
        ("environment-dev.yml", 4, "numpy", "dev", True, "conda"),
        ("environment-dev.yml", 6, "pytest", "dev", True, "conda-pip"),
    ]


HOSTILE_ENVIRONMENTS = [
    ("dependencies:\n\t- numpy\n", 2, "a tab in the indentation"),
    ("dependencies: &deps\n  - numpy\n", 1, "an anchor (&)"),
    ("dependencies:\n  - |\n    numpy\n", 2, "a block scalar (|)"),
    ("dependencies:\n  - {pip: [a]}\n", 2, "a flow mapping"),
    ("dependencies: numpy\n", 1, "dependencies: expected a list"),
    ("- numpy\n- pandas\n", 1, "expected a mapping"),
    ("dependencies:\n  - pip:\n      torch: 2\n", 2, "pip: expected a list of requirements"),
    ('dependencies:\n  - "numpy\n', 2, "a quoted value not closed"),
    ("name: a\n---\nname: b\n", 2, "several YAML documents"),
    ("dependencies:\n  - numpy\n    - pandas\n", 3, "unexpected indentation"),
    ("dependencies:\n  -\n", 2, "an empty list item"),
    ("dependencies:\n  - pip:\n    - 'torch[cuda'\n", 3, "invalid requirement"),
    ("dependencies:\n  - !!str numpy\n", 2, "a tag (!)"),
    ("dependencies:\n  - name: numpy\n", 2, "expected a package or `- pip:`"),
    ("a:\n" + "".join("  " * i + f"k{i}:\n" for i in range(1, 12)), 9, "nested deeper than 8 levels"),
]


@pytest.mark.parametrize(("text", "line", "problem"), HOSTILE_ENVIRONMENTS)
def test_malformed_environment_yml_is_one_input_error_at_its_line(tmp_path: Path, text: str, line: int,
                                                                 problem: str) -> None:
    (tmp_path / "environment.yml").write_text(text)
    with pytest.raises(InputError) as caught:
        read_declared(tmp_path)
    assert caught.value.path == "environment.yml" and caught.value.line == line
    assert problem in caught.value.problem


@pytest.mark.parametrize("data", [b"name: x\0\n", b"dependencies:\n  - caf\xe9\n"])
def test_binary_environment_yml_is_one_clear_error(tmp_path: Path, data: bytes) -> None:
    (tmp_path / "environment.yml").write_bytes(data)
    with pytest.raises(InputError, match=r"^environment\.yml: "):
        read_declared(tmp_path)


def test_cli_reports_a_malformed_environment_yml_in_one_line(tmp_path: Path) -> None:
    (tmp_path / "environment.yml").write_text("name: x\ndependencies:\n  - numpy\n\t- pandas\n")
    result = depslim("analyze", str(tmp_path), "--no-cache")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "error: environment.yml:4: a tab in the indentation (YAML indents with spaces only)"
    ]


# --------------------------------------------------------------------------- pixi.toml

PIXI = """
    [workspace]
    name = "churn"
    channels = ["conda-forge"]
    platforms = ["linux-64", "osx-arm64"]

    [dependencies]
    python = "3.11.*"
    pandas = ">=2.1"
    pytorch = { version = "2.1.*", channel = "pytorch" }

    [pypi-dependencies]
    httpx = "*"
    rich = { version = ">=13", extras = ["jupyter"] }
    churn = { path = ".", editable = true }
    wheel-dep = { url = "https://example.com/wheel_dep-1.0-py3-none-any.whl" }

    [target.linux-64.pypi-dependencies]
    uvloop = ">=0.19"

    [feature.test.pypi-dependencies]
    hypothesis = "*"

    [feature.gpu.target.linux-64.dependencies]
    cupy = "*"

    [feature.serve.dependencies]
    uvicorn = "0.30.*"

    [environments]
    default = { features = ["serve"], solve-group = "main" }
    gpu = ["gpu"]
    test = ["test"]
"""


def test_pixi_toml_pypi_and_conda_tables_with_features(tmp_path: Path) -> None:
    """Top level and per-platform tables are the runtime, a dev-named feature is dev, a feature the
    default environment installs is runtime, any other feature is optional."""
    declared, warnings = read_declared_with_warnings(write(tmp_path, {"pixi.toml": PIXI}))
    assert declared.files == ("pixi.toml",)
    assert [(r.location.line, r.name, r.requirement, r.group, r.dev, r.source) for r in declared.requirements] == [
        (8, "pandas", "pandas>=2.1", "main", False, "pixi-conda"),
        (9, "torch", "torch==2.1.*", "main", False, "pixi-conda"),
        (12, "httpx", "httpx", "main", False, "pixi"),
        (13, "rich", "rich[jupyter]>=13", "main", False, "pixi"),
        (15, "wheel-dep", "wheel-dep @ https://example.com/wheel_dep-1.0-py3-none-any.whl", "main", False, "pixi"),
        (18, "uvloop", "uvloop>=0.19", "main", False, "pixi"),
        (21, "hypothesis", "hypothesis", "dev", True, "pixi"),
        (24, "cupy", "cupy", "optional:gpu", False, "pixi-conda"),
        (27, "uvicorn", "uvicorn==0.30.*", "main", False, "pixi-conda"),
    ]
    assert warnings == ["pixi.toml:14: churn: the project itself is not read"]


@pytest.mark.parametrize(
    ("text", "line", "problem"),
    [
        ('pypi-dependencies = ["torch"]\n', 1, "[pypi-dependencies] expected a table"),
        ("[pypi-dependencies]\ntorch = 2\n", 2, "torch: expected a version string or a table"),
        ('[pypi-dependencies]\ntorch = {version = ">=2", extras = "cuda"}\n', 2, "extras as a list of strings"),
        ('[dependencies]\nnumpy = [">=1"]\n', 2, "numpy: expected a version string"),
        ('feature = "x"\n', 1, "[feature] expected tables"),
        ("[feature]\ntest = 3\n", 2, "[feature.test] expected a table"),
        ("[target]\nlinux-64 = 1\n", 2, "[target.linux-64] expected a table"),
        ('[environments]\ndefault = "gpu"\n', 2, "default: expected a list of feature names"),
        ('[pypi-dependencies]\ntorch = ">>=2"\n', 2, "invalid requirement"),
    ],
)
def test_pixi_toml_of_the_wrong_shape_is_one_input_error(tmp_path: Path, text: str, line: int, problem: str) -> None:
    (tmp_path / "pixi.toml").write_text(text)
    with pytest.raises(InputError) as caught:
        read_declared(tmp_path)
    assert caught.value.path == "pixi.toml" and caught.value.line == line
    assert problem in caught.value.problem


@pytest.mark.parametrize(
    ("text", "line", "problem"),
    [
        ('packages = ["requests"]\n', 1, "[packages] expected a table"),
        ("[packages]\nrequests = 2\n", 2, "requests: expected a version string or a table"),
        ('[packages]\nrequests = {version = "*", extras = "socks"}\n', 2, "extras as a list of strings"),
        ("[dev-packages]\npytest = {version = 8}\n", 2, "version as a string"),
        ('source = "https://pypi.org/simple"\n', 1, "[[source]] expected tables"),
    ],
)
def test_pipfile_of_the_wrong_shape_is_one_input_error(tmp_path: Path, text: str, line: int, problem: str) -> None:
    (tmp_path / "Pipfile").write_text(text)
    with pytest.raises(InputError) as caught:
        read_declared(tmp_path)
    assert caught.value.path == "Pipfile" and caught.value.line == line
    assert problem in caught.value.problem


def test_cli_reports_a_wrong_shaped_pixi_toml_and_pipfile_in_one_line(tmp_path: Path) -> None:
    pixi = write(tmp_path / "pixi", {"pixi.toml": "[pypi-dependencies]\ntorch = [2]\n"})
    result = depslim("split", str(pixi))
    assert (result.returncode, result.stderr.strip().splitlines()) == (
        2, ["error: pixi.toml:2: [pypi-dependencies] torch: expected a version string or a table"])
    pipfile = write(tmp_path / "pipenv", {"Pipfile": "[packages]\nrequests = 2\n"})
    result = depslim("analyze", str(pipfile), "--no-cache")
    assert (result.returncode, result.stderr.strip().splitlines()) == (
        2, ["error: Pipfile:2: [packages] requests: expected a version string or a table"])


def test_named_environment_files_are_read_by_the_right_reader(tmp_path: Path) -> None:
    root = write(tmp_path, {"pixi.toml": "[pypi-dependencies]\nhttpx = '*'\n",
                            "conda/env.yaml": "dependencies:\n- numpy\n",
                            "environment.yaml": "dependencies:\n- pandas\n"})
    found = [(s.kind, s.path.name) for s in detect_sources(root)]
    assert found == [("pixi", "pixi.toml"), ("conda", "environment.yaml")]
    assert [(s.kind, s.path.name) for s in explicit_sources(root, [Path("conda/env.yaml"), Path("pixi.toml")])] == [
        ("pixi", "pixi.toml"), ("conda", "env.yaml")]


def test_a_compiled_file_the_user_names_is_their_declaration(tmp_path: Path) -> None:
    """deptry's `--requirements-files requirements.txt` beside a requirements.in: the named pip-compile
    output is what the user declares; with its .in named too it stays the lock of that .in."""
    (tmp_path / "requirements.in").write_text("click\n")
    (tmp_path / "requirements.txt").write_text(
        "#\n# This file is autogenerated by pip-compile with Python 3.11\n# by the following command:\n#\n"
        "#    pip-compile --output-file=requirements.txt\n#\nclick==8.1.7\n    # via -r requirements.in\n"
        "isort==5.13.2\n    # via -r requirements.in\n")
    alone = explicit_sources(tmp_path, [Path("requirements.txt")])
    assert [(s.kind, s.path.name) for s in alone] == [("requirements", "requirements.txt")]
    assert {r.name for r in read_declared(tmp_path, [Path("requirements.txt")]).requirements} == {"click", "isort"}
    both = explicit_sources(tmp_path, [Path("requirements.in"), Path("requirements.txt")])
    assert {(s.kind, s.path.name) for s in both} == {("requirements", "requirements.in"),
                                                     ("compiled", "requirements.txt")}
