"""First-party detection: src/flat layouts, namespace folders, packaging config, project name, siblings."""

from __future__ import annotations

from pathlib import Path

from helpers import write_dedented as write

from depslim.imports import scan_project
from depslim.model import ScanResult


def first_party(result: ScanResult) -> dict[str, bool]:
    return {r.module: r.first_party for r in result.imports}


def test_src_layout_with_namespace_folder(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "src/acme/__init__.py": "",
            "src/acme/core.py": "import requests\n",
            "src/acme_ns/plugins/extra.py": "",  # PEP 420: no __init__.py anywhere
            "src/single.py": "",
            "tests/test_core.py": "import acme.core\nimport acme_ns.plugins.extra\nimport single\nimport requests\n",
        },
    )
    result = scan_project(tmp_path)
    assert {"acme", "acme_ns", "single"} <= result.first_party
    assert first_party(result) == {
        "requests": False, "acme.core": True, "acme_ns.plugins.extra": True, "single": True,
    }


def test_flat_layout_and_project_name(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "pyproject.toml": '[project]\nname = "My-Tool"\nversion = "1"\n',
            "mytool_helpers/__init__.py": "",
            "app.py": "import mytool_helpers\nimport my_tool\nimport docker\nimport helpers_ns.build\n",
            "docker/compose_helper.py": "",  # a folder without __init__.py that nobody reaches into
            "helpers_ns/build.py": "",  # ... and one that an import does reach into
        },
    )
    result = scan_project(tmp_path)
    assert first_party(result) == {
        "mytool_helpers": True, "my_tool": True, "docker": False, "helpers_ns.build": True,
    }
    assert {"app", "mytool_helpers", "my_tool", "helpers_ns"} <= result.first_party
    assert "docker" not in result.first_party


def test_setuptools_package_dir_and_packages(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "pyproject.toml": """
                [project]
                name = "x"
                [tool.setuptools]
                packages = ["engine", "engine.parts"]
                py-modules = ["standalone"]
                [tool.setuptools.package-dir]
                engine = "lib/engine_src"
                """,
            "lib/engine_src/__init__.py": "from .parts import gear\n",
            "lib/engine_src/parts/__init__.py": "",
            "lib/engine_src/parts/gear.py": "import numpy\n",
            "run.py": "import engine.parts.gear\nimport standalone\n",
        },
    )
    result = scan_project(tmp_path)
    assert {"engine", "standalone"} <= result.first_party
    refs = {(r.location.path, r.module): r.first_party for r in result.imports}
    assert refs[("lib/engine_src/__init__.py", "engine.parts")] is True
    assert refs[("run.py", "engine.parts.gear")] is True
    assert refs[("lib/engine_src/parts/gear.py", "numpy")] is False


def test_find_where_and_hatch_packages(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "pyproject.toml": '[tool.setuptools.packages.find]\nwhere = ["python"]\n',
            "python/alpha/__init__.py": "from . import beta\n",
            "python/alpha/beta.py": "",
            "user.py": "import alpha.beta\n",
        },
    )
    result = scan_project(tmp_path)
    assert "alpha" in result.first_party
    assert all(r.first_party for r in result.imports)
    assert [r.module for r in result.imports if r.location.path == "python/alpha/__init__.py"] == ["alpha"]

    hatch = tmp_path / "hatch"
    write(
        hatch,
        {
            "pyproject.toml": '[tool.hatch.build.targets.wheel]\npackages = ["code/gamma"]\n',
            "code/gamma/__init__.py": "",
            "code/gamma/mod.py": "from gamma import other\n",
            "code/gamma/other.py": "",
        },
    )
    result = scan_project(hatch)
    assert "gamma" in result.first_party
    assert all(r.first_party for r in result.imports)


def test_sibling_modules_of_scripts_and_tests_are_local(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "tests/helpers.py": "",
            "tests/test_a.py": "from helpers import build\nimport yaml\n",
            "scripts/common/__init__.py": "",
            "scripts/run.py": "import common\n",
            "src/pkg/__init__.py": "import helpers\n",  # not next to tests/helpers.py: third-party
        },
    )
    result = scan_project(tmp_path)
    refs = {(r.location.path, r.module): r.first_party for r in result.imports}
    assert refs == {
        ("tests/test_a.py", "helpers"): True,
        ("tests/test_a.py", "yaml"): False,
        ("scripts/run.py", "common"): True,
        ("src/pkg/__init__.py", "helpers"): False,
    }
    assert "helpers" not in result.first_party
