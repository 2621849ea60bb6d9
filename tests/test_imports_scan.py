"""Static import scan: every import form, flags with exact lines, contexts, signals, bad files.

Every test writes a real project into a tmp dir and calls `scan_project` on it. Each case is
also checked against the whole-file parse (`full=True`): the fragment scanner must give the
same answer as parsing everything.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from depslim.imports import scan_project
from depslim.imports.scan import compile_patterns, scan_bytes
from depslim.model import Context, ImportRef, ScanResult, SignalPatterns

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "example"


def write(root: Path, files: dict[str, str | bytes]) -> Path:
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(textwrap.dedent(content).lstrip("\n"), encoding="utf-8")
    return root


def refs(result: ScanResult, module: str) -> list[ImportRef]:
    return [r for r in result.imports if r.module == module]


def one(result: ScanResult, module: str) -> ImportRef:
    found = refs(result, module)
    assert len(found) == 1, (module, found)
    return found[0]


def flags(ref: ImportRef) -> set[str]:
    names = ("optional", "typing_only", "deferred", "dynamic", "notebook", "first_party")
    return {name for name in names if getattr(ref, name)}


ALL_FORMS = """
    \"\"\"Module docstring that says import fake_in_docstring.\"\"\"
    from __future__ import annotations

    import os, sys as system
    import a.b.c
    from x.y import z as zz, w
    import typing
    from typing import TYPE_CHECKING
    import importlib
    from importlib import import_module
    import importlib as il

    # import fake_in_comment
    text = "import fake_in_string"

    try:
        import ujson as json
    except ImportError:
        import json

    try:
        import orjson
    except (ValueError, ModuleNotFoundError):
        orjson = None

    try:
        import notoptional
    except ValueError:
        pass

    if TYPE_CHECKING:
        from pydantic import BaseModel

    if typing.TYPE_CHECKING:
        import numpy.typing

    if not TYPE_CHECKING:
        import runtime_branch
    else:
        import typing_branch

    if sys.platform == "win32":
        import winreg


    def load():
        import deferred_mod
        mod = importlib.import_module("assigned_dynamic")
        return mod


    class Loader:
        def run(self):
            return il.import_module("aliased_dynamic")

        plugin = import_module("class_level_dynamic")


    handlers = [__import__("in_list_dynamic")]
    print(importlib.import_module("as_argument"))
    lazy = lambda: __import__("lambda_dynamic")
    nonliteral = importlib.import_module(os.environ["X"])
    """


def scan_src(tmp_path: Path, source: str, name: str = "pkg/mod.py", **kwargs) -> ScanResult:
    write(tmp_path, {"pkg/__init__.py": "", name: source})
    return scan_project(tmp_path, **kwargs)


def test_every_import_form_with_flags_and_lines(tmp_path: Path) -> None:
    result = scan_src(tmp_path, ALL_FORMS)
    expected = {
        "__future__": (2, set()),
        "os": (4, set()),
        "sys": (4, set()),
        "a.b.c": (5, set()),
        "x.y": (6, set()),
        "ujson": (17, {"optional"}),
        "json": (19, set()),
        "orjson": (22, {"optional"}),
        "notoptional": (27, set()),
        "pydantic": (32, {"typing_only"}),
        "numpy.typing": (35, {"typing_only"}),
        "runtime_branch": (38, set()),
        "typing_branch": (40, {"typing_only"}),
        "winreg": (43, set()),
        "deferred_mod": (47, {"deferred"}),
        "assigned_dynamic": (48, {"deferred", "dynamic"}),
        "aliased_dynamic": (54, {"deferred", "dynamic"}),
        "class_level_dynamic": (56, {"dynamic"}),
        "in_list_dynamic": (59, {"dynamic"}),
        "as_argument": (60, {"dynamic"}),
        "lambda_dynamic": (61, {"deferred", "dynamic"}),
    }
    for module, (line, want) in expected.items():
        ref = one(result, module)
        assert ref.location.line == line, module
        assert ref.location.path == "pkg/mod.py"
        assert flags(ref) == want, module
        assert ref.context is Context.RUNTIME
    seen = {r.module for r in result.imports}
    assert not {m for m in seen if m.startswith("fake_")}, "imports in strings/comments are not imports"
    assert "os.environ" not in seen and len(refs(result, "importlib")) == 3


def test_fragment_scan_equals_full_parse() -> None:
    patterns = compile_patterns(
        SignalPatterns(attributes=frozenset({"pandas.read_parquet", ".cuda"}), strings=("^s3://",))
    )
    source = textwrap.dedent(ALL_FORMS).encode()
    big_class = "class Big:\n" + "".join(f"    def m{i}(self):\n        return {i}\n" for i in range(200))
    big_class += "    def late(self):\n        import late_mod\n        x = pd.read_parquet('s3://b/k')\n"
    big_class += "        return x.cuda()\n"
    samples = [source, (big_class + "import pandas as pd\n").encode()]
    for data in samples:
        assert scan_bytes(data, patterns) == scan_bytes(data, patterns, full=True)
    imports, signals, _ = scan_bytes(samples[1], patterns)
    assert ("late_mod", 0, 403, 4, ()) in imports
    assert {s[0] for s in signals} == {"pandas.read_parquet", "^s3://", ".cuda"}


def test_relative_imports_resolve_to_first_party(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "src/shop/__init__.py": "from . import cart\n",
            "src/shop/cart.py": "from .pricing import total\nfrom ..outside import thing\n",
            "src/shop/pricing.py": "",
            "src/shop/sub/__init__.py": "",
            "src/shop/sub/deep.py": "from .. import cart\nfrom ...shop import pricing\nfrom .sibling import x\n",
        },
    )
    result = scan_project(tmp_path)
    by_loc = {(r.location.path, r.location.line): r for r in result.imports}
    assert by_loc[("src/shop/__init__.py", 1)].module == "shop"
    assert by_loc[("src/shop/cart.py", 1)].module == "shop.pricing"
    assert by_loc[("src/shop/sub/deep.py", 1)].module == "shop"
    assert by_loc[("src/shop/sub/deep.py", 2)].module == "shop"
    assert by_loc[("src/shop/sub/deep.py", 3)].module == "shop.sub.sibling"
    assert all(r.first_party for r in result.imports)
    assert "shop" in result.first_party


def test_contexts_default_and_configured(tmp_path: Path) -> None:
    files = {
        "src/app/__init__.py": "import runtime_dep\n",
        "src/app/tools/helper.py": "import pkg_tools_dep\n",
        "tests/test_app.py": "import pytest\n",
        "tests/conftest.py": "import hypothesis\n",
        "src/app/test_inline.py": "import inline_test_dep\n",
        "src/app/thing_test.py": "import suffix_test_dep\n",
        "docs/conf.py": "import sphinx\n",
        "benchmarks/bench.py": "import asv\n",
        "examples/demo.py": "import demo_dep\n",
        "scripts/release.py": "import twine\n",
        "tools/lint.py": "import ruff_api\n",
        "bin/run.py": "import bin_dep\n",
        "ops/deploy.py": "import fabric\n",
        "experiments/try.py": "import experiment_dep\n",
    }
    write(tmp_path, files)
    result = scan_project(tmp_path)
    context = {r.module: r.context for r in result.imports}
    assert context["runtime_dep"] is Context.RUNTIME
    assert context["pkg_tools_dep"] is Context.RUNTIME  # tools/ inside a package is package code
    for dev in ("pytest", "hypothesis", "inline_test_dep", "suffix_test_dep", "sphinx", "asv", "demo_dep"):
        assert context[dev] is Context.DEV, dev
    for script in ("twine", "ruff_api", "bin_dep"):
        assert context[script] is Context.SCRIPT, script
    assert context["fabric"] is Context.RUNTIME and context["experiment_dep"] is Context.RUNTIME

    configured = scan_project(tmp_path, dev_paths=["experiments", "tests"], script_paths=["ops/*"])
    context = {r.module: r.context for r in configured.imports}
    assert context["experiment_dep"] is Context.DEV
    assert context["fabric"] is Context.SCRIPT
    assert context["sphinx"] is Context.RUNTIME  # docs/ is no longer in the replaced dev list
    assert context["twine"] is Context.RUNTIME
    assert context["pytest"] is Context.DEV


def test_unparsable_files_warn_and_scan_goes_on(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "legacy.py": "import os\n\n\ndef main():\n    print 'hello'\n",
            "broken.py": "import json\nfrom x import (\n",
            "nulls.py": b"import a\n\x00\x00",
            "latin.py": b"# -*- coding: latin-1 -*-\nimport caf\xe9\n",
            "badutf.py": b"import ok\ns = '\xff\xfe'\n",
            "badcookie.py": b"# coding: nonsense-codec\nimport x\n",
            "good.py": "import requests\n",
        },
    )
    result = scan_project(tmp_path)
    warnings = "\n".join(result.warnings)
    assert "legacy.py:5: does not parse" in warnings and "Python 2" in warnings
    assert "broken.py:2: does not parse" in warnings
    assert "nulls.py:2: contains null bytes" in warnings
    assert "badutf.py:2: cannot decode" in warnings
    assert "badcookie.py:1:" in warnings
    assert one(result, "requests").location.path == "good.py"
    assert one(result, "café").location.line == 2  # a declared encoding is honoured
    assert result.files_scanned == 7


def test_python2_file_detected_even_far_from_imports(tmp_path: Path) -> None:
    body = "import os\n" + "x = 1\n" * 300 + "def f():\n    print 'x'\n"
    result = scan_project(write(tmp_path, {"old.py": body}))
    assert len(result.warnings) == 1
    assert result.warnings[0].startswith("old.py:303: does not parse: Missing parentheses")
    assert result.warnings[0].endswith("(Python 2 code?)")
    assert result.imports == ()


def test_syntax_error_far_from_imports_is_not_parsed(tmp_path: Path) -> None:
    """The documented trade-off: statements without imports or signals are never parsed."""
    body = "import os\n\n\ndef f():\n    return [1, 2\n"
    result = scan_project(write(tmp_path, {"m.py": body}))
    assert one(result, "os").location.line == 1


def test_gitignore_venv_build_and_exclude(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            ".gitignore": "generated/\n*.gen.py\n/rootonly.py\n!keep.gen.py\nsub/**/deep.py\n",
            "app.py": "import kept\n",
            "generated/out.py": "import ignored_dir\n",
            "x.gen.py": "import ignored_glob\n",
            "keep.gen.py": "import reincluded\n",
            "rootonly.py": "import ignored_anchored\n",
            "nested/rootonly.py": "import not_anchored_here\n",
            "sub/a/b/deep.py": "import ignored_doublestar\n",
            "nested/.gitignore": "local.py\n",
            "nested/local.py": "import ignored_nested\n",
            ".venv/lib/thing.py": "import in_venv\n",
            ".venv/pyvenv.cfg": "home = /usr\n",
            "env2/pyvenv.cfg": "home = /usr\n",
            "env2/lib/site.py": "import in_named_venv\n",
            "build/lib/pkg.py": "import in_build\n",
            "dist/x.py": "import in_dist\n",
            "node_modules/m/x.py": "import in_node\n",
            "lib/site-packages/y.py": "import in_site\n",
            "pkg/build/__init__.py": "import build_is_a_package\n",
            "vendor/third.py": "import vendored\n",
        },
    )
    result = scan_project(tmp_path, exclude=["vendor/"])
    seen = {r.module for r in result.imports}
    assert seen == {"kept", "reincluded", "not_anchored_here", "build_is_a_package"}


def test_a_project_that_is_itself_a_venv_scans_its_code_not_the_envs_folders(tmp_path: Path) -> None:
    """FawltyDeps' top_level_venv: pyvenv.cfg beside the project's code; bin/ and lib/ are the env's."""
    write(tmp_path, {
        "pyvenv.cfg": "home = /usr\n",
        "code.py": "import numpy\nimport pandas\n",
        "bin/some_tool.py": "import some_installed_tool\n",
        "lib/python3.10/site-packages/dummy_package/code.py": "import dummy_dep\n",
        "include/x.py": "import in_include\n",
        "scripts/run.py": "import in_scripts\n",
    })
    seen = {r.module for r in scan_project(tmp_path).imports}
    assert seen == {"numpy", "pandas", "in_scripts"}


def test_signals_alias_resolution_attributes_and_strings(tmp_path: Path) -> None:
    source = """
        import pandas as pd
        import torch
        from torch import cuda
        from cv2 import imshow
        from sqlalchemy import create_engine

        URL = "postgresql+psycopg2://u@h/db"


        def run(model, df):
            frame = pd.read_parquet("s3://bucket/key.parquet")
            ok = cuda.is_available()
            torch.cuda.synchronize
            model.cuda()
            df.to_parquet(f"gs://b/{model}")
            imshow("w", frame)
            engine = create_engine(URL)
            device = "cuda:0"
            return pd.DataFrame, engine, ok, device
        """
    patterns = SignalPatterns(
        attributes=frozenset({"pandas.read_parquet", "torch.cuda", ".cuda", ".to_parquet", "cv2.imshow"}),
        strings=(r"^s3://", r"^postgresql\+psycopg2://", r"^gs://", r"^cuda(:\d+)?$"),
    )
    result = scan_src(tmp_path, source, patterns=patterns)
    got = {(s.pattern, s.value, s.location.line, s.kind) for s in result.signals}
    assert got == {
        (r"^postgresql\+psycopg2://", "postgresql+psycopg2://***@h/db", 7, "string"),
        ("pandas.read_parquet", "pandas.read_parquet", 11, "call"),
        ("^s3://", "s3://bucket/key.parquet", 11, "string"),
        ("torch.cuda", "torch.cuda.is_available", 12, "call"),
        ("torch.cuda", "torch.cuda.synchronize", 13, "attribute"),
        (".cuda", "torch.cuda", 13, "attribute"),
        (".cuda", "model.cuda", 14, "call"),
        (".to_parquet", "df.to_parquet", 15, "call"),
        ("^gs://", "gs://b/", 15, "string"),
        ("cv2.imshow", "cv2.imshow", 16, "call"),
        (r"^cuda(:\d+)?$", "cuda:0", 18, "string"),
    }
    assert all(s.context is Context.RUNTIME for s in result.signals)
    dev = scan_project(write(tmp_path, {"tests/test_x.py": "import torch\ntorch.cuda.empty_cache()\n"}),
                       patterns=patterns)
    assert {s.context for s in dev.signals if s.location.path == "tests/test_x.py"} == {Context.DEV}


def test_bundled_example_key_facts() -> None:
    patterns = SignalPatterns(attributes=frozenset({"pandas.read_parquet"}), strings=("^s3://",))
    result = scan_project(FIXTURE, patterns=patterns)

    def where(module: str) -> set[tuple[str, Context]]:
        return {(r.location.path, r.context) for r in result.imports if r.top_level == module}

    assert where("mlflow") == {("src/churn/train.py", Context.RUNTIME)}
    assert where("sklearn") == {("src/churn/train.py", Context.RUNTIME), ("scripts/make_model.py", Context.SCRIPT)}
    assert where("fastapi") == {("src/churn/serve.py", Context.RUNTIME), ("tests/test_serve.py", Context.DEV)}
    assert where("pytest") == {("tests/conftest.py", Context.DEV)}
    assert ("tests/conftest.py", Context.DEV) in where("matplotlib")
    assert where("seaborn") == {("scripts/plot_metrics.py", Context.SCRIPT), ("notebooks/explore.ipynb", Context.DEV)}
    cv2 = one(result, "cv2")
    assert cv2.notebook and cv2.context is Context.DEV
    assert flags(one(result, "ujson")) == {"optional"}
    tqdm = one(result, "tqdm")
    assert tqdm.dynamic and tqdm.location == tqdm.location.__class__("src/churn/train.py", 39)
    assert "churn" in result.first_party
    assert all(r.first_party for r in result.imports if r.top_level == "churn")
    details = {(e.path, e.detail) for e in result.entrypoints}
    assert details == {
        ("pyproject.toml", "churn.train:main"),
        ("Dockerfile", "churn.serve:app"),
        ("Procfile", "churn.serve:app"),
    }
    assert {e.path: e.line for e in result.entrypoints} == {"pyproject.toml": 13, "Dockerfile": 15, "Procfile": 1}
    assert result.reachable_modules is not None and "churn.serve" in result.reachable_modules
    serving = result.reachable_from([e for e in result.entrypoints if e.path == "Dockerfile"])
    assert serving == {"churn", "churn.serve", "churn.features", "churn.schema"}
    assert [(i.requirement, i.location.line) for i in result.notebook_installs] == [("plotly", 2)]
    assert {s.pattern for s in result.signals} == {"pandas.read_parquet", "^s3://"}
    assert result.warnings == ()


@pytest.mark.parametrize(
    "deferred_in", ["async def f():\n    import x\n", "def f():\n    def g():\n        import x\n"]
)
def test_deferred_in_async_and_nested_functions(tmp_path: Path, deferred_in: str) -> None:
    result = scan_project(write(tmp_path, {"m.py": deferred_in}))
    assert flags(one(result, "x")) == {"deferred"}


def test_suppress_import_error_is_optional(tmp_path: Path) -> None:
    source = "import contextlib\nwith contextlib.suppress(ImportError):\n    import fast_thing\n"
    result = scan_project(write(tmp_path, {"m.py": source}))
    assert flags(one(result, "fast_thing")) == {"optional"}


def _guarded(handlers: str, indent: str = "") -> str:
    body = f"{indent}try:\n{indent}    import fast_thing\n"
    return body + textwrap.indent(textwrap.dedent(handlers).strip("\n") + "\n", indent)


RERAISING = [
    "except ImportError:\n    raise\n",
    "except ImportError as exc:\n    raise ImportError('pip install fast_thing') from exc\n",
    "except ModuleNotFoundError:\n    raise RuntimeError('fast_thing is required')\n",
    "except (ImportError, ValueError):\n    sys.exit('install fast_thing')\n",
    "except ImportError:\n    logger.error('fast_thing is missing')\n    raise SystemExit(1)\n",
    "except ImportError:\n    os._exit(2)\n",
    "except ValueError:\n    pass\nexcept ImportError:\n    exit(1)\n",
    # a missing module meets the first handler that catches it: this one re-raises
    "except ModuleNotFoundError:\n    raise\nexcept ImportError:\n    fast_thing = None\n",
]
FALLING_BACK = [
    "except ImportError:\n    pass\n",
    "except ImportError:\n    fast_thing = None\n",
    "except ModuleNotFoundError:\n    import slow_thing as fast_thing\n",
    "except ImportError:\n    warnings.warn('using the slow path')\n",
    "except ImportError:\n    if strict:\n        raise\n    fast_thing = None\n",  # raises only sometimes
    "except ImportError:\n    fast_thing = None\nexcept ModuleNotFoundError:\n    raise\n",  # never reached
]


@pytest.mark.parametrize("handlers", RERAISING)
def test_import_error_handler_that_reraises_makes_a_hard_import(tmp_path: Path, handlers: str) -> None:
    """A handler that re-raises (whatever it raises) or exits only words the failure better: the
    import is a hard need, a normal runtime import, not an optional one."""
    source = "import sys\n" + _guarded(handlers)
    result = scan_project(write(tmp_path, {"m.py": source}))
    assert flags(one(result, "fast_thing")) == set()
    patterns = compile_patterns(SignalPatterns())
    assert scan_bytes(source.encode(), patterns) == scan_bytes(source.encode(), patterns, full=True)


@pytest.mark.parametrize("handlers", FALLING_BACK)
def test_import_error_handler_that_falls_back_stays_optional(tmp_path: Path, handlers: str) -> None:
    source = "import sys\n" + _guarded(handlers)
    result = scan_project(write(tmp_path, {"m.py": source}))
    assert flags(one(result, "fast_thing")) == {"optional"}
    patterns = compile_patterns(SignalPatterns())
    assert scan_bytes(source.encode(), patterns) == scan_bytes(source.encode(), patterns, full=True)


def test_import_error_handler_returning_in_a_function_falls_back(tmp_path: Path) -> None:
    source = "def load():\n" + _guarded("except ImportError:\n    return None\n    raise\n", "    ")
    source += "    return fast_thing\n"
    result = scan_project(write(tmp_path, {"m.py": source}))
    assert flags(one(result, "fast_thing")) == {"optional", "deferred"}


def test_reraising_handler_of_a_big_try_is_read_by_the_fast_path(tmp_path: Path) -> None:
    """A `try` over the hollowing threshold: its handler holds no import, yet it decides the flag,
    so the fast path keeps it whole."""
    filler = "".join(f"    value_{i} = compute({i}, 'filler that makes the statement long')\n" for i in range(60))
    source = "try:\n    import fast_thing\n" + filler + "except ImportError as exc:\n" + filler
    source += "    raise RuntimeError('install fast_thing') from exc\n"
    patterns = compile_patterns(SignalPatterns())
    fast = scan_bytes(source.encode(), patterns)
    assert fast == scan_bytes(source.encode(), patterns, full=True)
    assert fast[0] == (("fast_thing", 0, 2, 0, ()),)


@pytest.mark.parametrize(
    "source",
    [
        "import a.b as c, d\nfrom . import (x, y,)\nfrom .m import y as z\n"
        "from ..p.q import (\n    r,\n    s as t,\n)\n",
        "import os  # comment\nfrom x import *\nimport a; import b\nimport c, \\\n    d\n",
        "from x import (a,  # why\n    b)\n# trailing comment\n\nimport e as f\n",
        "import if\n",
        "x = '''\nimport not_real\n'''\ny = \"import also_not\"  # import nope\n",
        "@decorator(import_module('deco'))\n@other\ndef f():\n    import inner\n",
        "if x:\n    pass\nelif y:\n    import in_elif\nelse:\n    import in_else\n",
    ],
)
def test_fragment_scan_equals_full_parse_on_edge_forms(source: str) -> None:
    patterns = compile_patterns(SignalPatterns(attributes=frozenset({".cuda"}), strings=("^s3://",)))
    data = source.encode()
    assert scan_bytes(data, patterns) == scan_bytes(data, patterns, full=True)


def test_deeply_nested_expression_does_not_crash(tmp_path: Path) -> None:
    """A 900-term string concatenation is a deep tree: the signal walk must not recurse."""
    source = "import os\nx = " + " + ".join(['"s3://a"'] * 900) + "\n"
    result = scan_project(write(tmp_path, {"m.py": source}), patterns=SignalPatterns(strings=("^s3://",)))
    assert [r.module for r in result.imports] == ["os"]
    assert len(result.signals) == 900 and result.warnings == ()


@pytest.mark.parametrize(
    "source",
    [
        'import torch\nx = "cuda"\ny = torch.ones(1).to("cuda:0")\n',
        'x = "a" "cuda"\ny = "cuda" "b"\nz = "cuda"  # "s3://c"\n',
        'x = ("cuda"\n     "suffix")\ny = ("prefix"\n     "cuda")\n',
        'x = f"cuda:{i}"\ny = r"cuda"\nz = b"cuda"\nw = u"cuda"\nv = rb"s3://x"\n',
        '# device = "cuda"\nx = 1  # "cuda"\n',
        'x = "é" ; y = "cuda"\nz = {"gpu": "cuda", \'cuda\': 1}\n',
        '"""cuda"""\nx = """\n"cuda"\n"""\nw = "cu\\"da" + "cuda\\n"\n',
        'devices = [\n    "cuda",\n    "cuda:1",\n]\nif d == "cuda" or d == \'s3://b\':\n    pass\n',
        'def f():\n    """Run on "cuda"."""\n    return x.cuda() if "cuda" in y else "s3://k"\n',
        'match d:\n    case "cuda":\n        pass\n',
        'x = f"{y!r}" "cuda"\n',
    ],
)
def test_strings_read_from_the_text_equal_the_full_parse(source: str) -> None:
    """String signals read without `ast` must be exactly what the parse gives: value, line,
    order, and each literal once (also when its statement is parsed for another hit)."""
    patterns = compile_patterns(
        SignalPatterns(attributes=frozenset({".cuda"}), strings=(r"^cuda(:\d+)?$", "^s3://", "^gpu"))
    )
    data = source.encode()
    assert scan_bytes(data, patterns) == scan_bytes(data, patterns, full=True)


def test_attribute_uses_inside_fstrings_are_signals() -> None:
    """`f"{torch.cuda.current_device()}"` uses CUDA as much as the same call outside a string."""
    source = (
        "import torch\nfrom torch import cuda\n"
        'print(f"{torch.cuda.current_device()} of {cuda.device_count()}")\n'
        'note = f"call .cuda() yourself"\n'
        "doc = rf'''{model.cuda()}'''\n"
        'plain = "{torch.cuda}"\n'
    )
    patterns = compile_patterns(SignalPatterns(attributes=frozenset({".cuda", "torch.cuda"})))
    fast = scan_bytes(source.encode(), patterns)
    assert fast == scan_bytes(source.encode(), patterns, full=True)
    lines = sorted({line for _, _, line, _ in fast[1]})
    assert lines == [3, 5], fast[1]
