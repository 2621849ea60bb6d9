"""Input generators for the fuzz suite: near-valid documents first, random bytes last.

Random text almost never gets past a parser's first check, so every format here has a
grammar-ish generator that writes documents a real user (or attacker) could write — the
constructs the parser knows, the ones it deliberately skips, wrong JSON/TOML types where a
reader expects others — and a mutation layer (`mutate_text`, `mutate_bytes`, `mutate_json`) that
bends them: flipped, inserted, deleted and duplicated bytes, values of the wrong type, cut files.
Real inputs under fixtures/example seed the mutations too.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from hypothesis import strategies as st

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "example"

# --- generic mutations ------------------------------------------------------------------

# Bytes that mean something to one of the formats: quotes, brackets, escapes, NUL, BOM, CR,
# non-UTF-8, line continuations, tar/gzip/zstd magic.
INTERESTING = (
    b"\x00", b"\xff", b"\xfe\xff", b"\xef\xbb\xbf", b"\r", b"\n", b"\\\n", b"\\", b'"', b"'", b"[", b"]",
    b"{", b"}", b"#", b"=", b";", b"@", b":", b",", b"${", b"$(", b"%", b"\t", b"\xc3", b"\xe2\x80",
    b"\x1f\x8b", b"\x28\xb5\x2f\xfd", b"\x7fELF", b"9" * 20, b"-1", b"[" * 40, b"(" * 40, "\u00b2".encode(),
    b"\xf0\x9f\x98\x80", b"\x85", b"\x0c", b"\x0b",
)
INTERESTING_TEXT = (*(piece.decode("utf-8", "replace") for piece in INTERESTING), "\u2028", "\u00b2", "\u0660", "ǅ")


def _apply(data: Any, op: str, pos: int, length: int, piece: Any) -> Any:
    """One edit of a bytes or str value (positions wrap so any draw is valid)."""
    size = len(data)
    pos = pos % (size + 1)
    if op == "insert":
        return data[:pos] + piece + data[pos:]
    if op == "delete":
        return data[:pos] + data[pos + length :]
    if op == "duplicate":
        return data[:pos] + data[pos : pos + length] * 2 + data[pos + length :]
    if op == "replace":
        return data[:pos] + piece + data[pos + len(piece) :]
    if op == "truncate":
        return data[:pos]
    if op == "flip" and size:
        index = pos % size
        if isinstance(data, bytes):
            return data[:index] + bytes([data[index] ^ (1 << (length % 8))]) + data[index + 1 :]
        return data[:index] + chr((ord(data[index]) ^ (1 << (length % 7))) or 1) + data[index + 1 :]
    return data


OPS = ("insert", "delete", "duplicate", "replace", "truncate", "flip")


@st.composite
def _mutated(draw: st.DrawFn, data: Any, pieces: st.SearchStrategy[Any], max_ops: int) -> Any:
    for _ in range(draw(st.integers(0, max_ops))):
        op = draw(st.sampled_from(OPS))
        pos = draw(st.integers(0, 1 << 20))
        length = draw(st.integers(1, 64))
        data = _apply(data, op, pos, length, draw(pieces))
    return data


def mutate_bytes(data: bytes, max_ops: int = 4) -> st.SearchStrategy[bytes]:
    return _mutated(data, st.one_of(st.sampled_from(INTERESTING), st.binary(max_size=8)), max_ops)


def mutate_text(text: str, max_ops: int = 4) -> st.SearchStrategy[str]:
    return _mutated(text, st.one_of(st.sampled_from(INTERESTING_TEXT), st.text(max_size=6)), max_ops)


def bytes_of(texts: st.SearchStrategy[str], max_ops: int = 3) -> st.SearchStrategy[bytes]:
    """A text document as bytes, then mutated at the byte level (invalid UTF-8, BOMs, NULs)."""
    return texts.map(lambda t: t.encode("utf-8", "surrogatepass")).flatmap(lambda b: mutate_bytes(b, max_ops))


def fixture_bytes(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


# JSON values of every type, small; used where a reader expects some other type.
JSON_SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(allow_nan=False), st.text(max_size=12),
    st.sampled_from(["", "sha256:", "sha256:" + "0" * 64, "../../etc/passwd", "/", "a" * 300]),
)
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=8), inner, max_size=3)),
    max_leaves=6,
)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path (keys and indexes) to a node of a JSON document, the root included."""
    out = [prefix]
    if isinstance(value, dict):
        for key, item in value.items():
            out += _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            out += _paths(item, (*prefix, index))
    return out


def _set(doc: Any, path: tuple[Any, ...], value: Any, delete: bool) -> Any:
    if not path:
        return value
    parent = doc
    for key in path[:-1]:
        parent = parent[key]
    if delete:
        del parent[path[-1]]
    else:
        parent[path[-1]] = value
    return doc


@st.composite
def mutate_json(draw: st.DrawFn, doc: Any, max_ops: int = 3) -> Any:
    """The document with a few nodes replaced by values of any type, deleted, or given new keys."""
    doc = json.loads(json.dumps(doc))
    for _ in range(draw(st.integers(0, max_ops))):
        paths = _paths(doc)
        path = draw(st.sampled_from(paths))
        action = draw(st.sampled_from(("replace", "replace", "delete", "add", "wrap")))
        if action == "delete" and path:
            doc = _set(doc, path, None, True)
        elif action == "add":
            node = doc
            for key in path:
                node = node[key]
            if isinstance(node, dict):
                node[draw(st.text(max_size=10))] = draw(JSON_VALUES)
            elif isinstance(node, list):
                node.append(draw(JSON_VALUES))
        elif action == "wrap":
            node = doc
            for key in path:
                node = node[key]
            doc = _set(doc, path, draw(st.sampled_from(([node], {"x": node}))), False)
        else:
            doc = _set(doc, path, draw(JSON_VALUES), False)
    return doc


def one_of_weighted(*pairs: tuple[int, st.SearchStrategy[Any]]) -> st.SearchStrategy[Any]:
    """`st.one_of` where a strategy listed n times is n times as likely."""
    return st.one_of([strategy for weight, strategy in pairs for _ in range(weight)])


# --- requirement strings (shared by every declaration format) ------------------------------

NAMES = ("numpy", "torch", "Scikit_Learn", "pandas", "requests", "a", "x-y.z", "pkg1", "données", "1bad", "-x", "")
EXTRAS = ("", "[cuda]", "[a,b]", "[ ]", "[", "[x]]")
SPECS = ("", "==1.0", ">=1,<2", "~=2.1", "===weird", "==1.*", "!=3", ">= 1.0 , < 2", "==", "~=1", "<<1", "==1.0+local",
         "(>=1)", ">=1.0a1.post2.dev3")
MARKERS = ("", "; python_version < '3.12'", "; sys_platform == 'win32'", "; extra == 'gpu'", ";", "; junk ==",
           "; python_version >= '3' and (os_name == 'nt' or platform_machine == 'x86_64')")
URLS = ("https://files.example/x-1.0-py3-none-any.whl", "https://[oops]/x.whl", "git+https://github.com/o/r@v1#egg=r",
        "file:///tmp/x", "http://user:secret@host/simple", "https://h:99999/x", "./local/dir", "../sibling",
        "https://h/x.whl#sha256=abc", "hg+http://h/r", "svn+ssh://h/r", "https://h/%zz", "https:///x", "C:\\x\\y.whl")


@st.composite
def requirement_text(draw: st.DrawFn) -> str:
    """A PEP 508 requirement, valid or nearly so."""
    name = draw(st.sampled_from(NAMES))
    if draw(st.integers(0, 5)) == 0:
        return f"{name} @ {draw(st.sampled_from(URLS))}{draw(st.sampled_from(MARKERS))}"
    text = name + draw(st.sampled_from(EXTRAS)) + draw(st.sampled_from(SPECS)) + draw(st.sampled_from(MARKERS))
    return text


# --- requirements files --------------------------------------------------------------------

REQ_FILES = ("requirements.txt", "base.in", "sub/dev-requirements.txt", "constraints.txt", "sub/deeper/x.txt")
INCLUDE_TARGETS = (*REQ_FILES, "missing.txt", "../outside.txt", "/dev/null", "sub", "https://h/r.txt",
                   "file:///dev/null", "", "~/nothing.txt", "sub/../base.in", "x\x00y.txt")
OPTIONS = ("-i https://pypi.org/simple", "--index-url=https://u:p@h/simple", "--extra-index-url https://h/s",
           "-f ./wheels", "--find-links https://h/links", "--trusted-host h:8080", "--pre", "--no-binary :all:",
           "--only-binary=numpy", "--prefer-binary", "--require-hashes", "--no-index", "-i", "--index-url",
           "--use-feature=x", "--unknown-option", "-Z", "-e", "--editable", "--hash", "-r", "-c",
           "--config-settings=a=b", "--global-option=x")


@st.composite
def requirements_line(draw: st.DrawFn) -> str:
    kind = draw(st.integers(0, 9))
    if kind <= 3:
        line = draw(requirement_text())
        if draw(st.booleans()):
            line += " --hash=sha256:" + draw(st.sampled_from(("0" * 64, "x", "")))
    elif kind == 4:
        line = draw(st.sampled_from(("-r ", "-c ", "--requirement ", "--constraint=", "-r", "-c\t")))
        line += draw(st.sampled_from(INCLUDE_TARGETS))
    elif kind == 5:
        line = draw(st.sampled_from(OPTIONS))
    elif kind == 6:
        line = draw(st.sampled_from(("-e ", "--editable ", "", "-e"))) + draw(st.sampled_from(URLS))
    elif kind == 7:
        line = draw(st.sampled_from(("# comment", "", "   ", "\\", "numpy \\", "pkg==1.0 # trailing", "${VAR}",
                                     "pkg==${VERSION}", "-r ${HOME}/x.txt")))
    elif kind == 8:
        line = draw(st.text(max_size=20))
    else:
        line = draw(requirement_text()) + draw(st.sampled_from((" \\", " ; \\", " #", "\t")))
    return line


@st.composite
def requirements_project(draw: st.DrawFn) -> dict[str, bytes]:
    """A few requirements files that include one another (cycles, missing files and all)."""
    files: dict[str, bytes] = {}
    for name in REQ_FILES[: draw(st.integers(1, len(REQ_FILES)))]:
        lines = draw(st.lists(requirements_line(), max_size=8))
        files[name] = "\n".join(lines).encode("utf-8", "surrogatepass")
    files["requirements.txt"] = draw(mutate_bytes(files["requirements.txt"], 2))
    if draw(st.integers(0, 4)) == 0:
        files["requirements.txt"] = draw(mutate_bytes(fixture_bytes("requirements.txt")))
    return files


# --- pyproject.toml ------------------------------------------------------------------------

TOML_SCALARS = st.one_of(st.text(max_size=10), st.integers(-5, 5), st.booleans(), st.just(1.5))
REQ_LISTS = st.lists(st.one_of(requirement_text(), requirement_text(), TOML_SCALARS), max_size=4)
POETRY_CONSTRAINTS = ("^1.2", "~1.2.3", "*", ">=1,<2", "1.2.*", "^0.0.1", "~=1", "^", "~", ">=1 || <0.5", "==1.0",
                      "1.2.3", "^1.2.3.4.5", "^a", ">=1,", "!=1.*", "<2.0.0-beta", "", "~0", "^999999999999999999999")


@st.composite
def poetry_spec(draw: st.DrawFn) -> Any:
    kind = draw(st.integers(0, 4))
    if kind <= 1:
        return draw(st.sampled_from(POETRY_CONSTRAINTS))
    table: dict[str, Any] = {}
    for key, values in (
        ("version", st.sampled_from(POETRY_CONSTRAINTS)), ("extras", st.lists(st.sampled_from(("gpu", "", "a b")))),
        ("markers", st.sampled_from(MARKERS).map(lambda m: m.lstrip("; "))), ("optional", st.booleans()),
        ("python", st.sampled_from(("^3.8", ">=3.9,<4", "3.*", "~2.7", "bad"))),
        ("git", st.sampled_from(URLS)), ("branch", st.text(max_size=5)), ("path", st.sampled_from(URLS)),
        ("url", st.sampled_from(URLS)), ("develop", st.booleans()), ("platform", st.sampled_from(("linux", "win32"))),
        ("source", st.text(max_size=5)), ("tag", st.text(max_size=5)),
    ):
        if draw(st.integers(0, 3)) == 0:
            table[key] = draw(st.one_of(values, TOML_SCALARS) if draw(st.integers(0, 5)) == 0 else values)
    if kind == 4:
        return [table, {"version": draw(st.sampled_from(POETRY_CONSTRAINTS))}]
    return table


def _table_of(values: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[str, Any]]:
    return st.dictionaries(st.sampled_from((*NAMES, "python", "Python")), values, max_size=4)


@st.composite
def pyproject_document(draw: st.DrawFn) -> dict[str, Any]:
    doc: dict[str, Any] = {}
    project: dict[str, Any] = {"name": draw(st.sampled_from(("demo", "", "x y")))}
    if draw(st.booleans()):
        project["dependencies"] = draw(REQ_LISTS)
    if draw(st.booleans()):
        project["optional-dependencies"] = draw(st.dictionaries(st.sampled_from(("gpu", "dev", "test", "a b", "")),
                                                                REQ_LISTS, max_size=3))
    if draw(st.booleans()):
        project["dynamic"] = draw(st.lists(st.sampled_from(("dependencies", "optional-dependencies", "version"))))
        dynamic = {"dependencies": {"file": draw(st.lists(st.sampled_from(INCLUDE_TARGETS), max_size=2))},
                   "optional-dependencies": {"gpu": {"file": draw(st.sampled_from(INCLUDE_TARGETS))}}}
        doc.setdefault("tool", {})["setuptools"] = {"dynamic": dynamic}
    doc["project"] = project
    if draw(st.booleans()):
        groups: dict[str, Any] = {}
        for group in draw(st.lists(st.sampled_from(("dev", "test", "docs", "all")), max_size=3, unique=True)):
            items: list[Any] = draw(REQ_LISTS)
            if draw(st.booleans()):
                items.append({"include-group": draw(st.sampled_from(("dev", "test", "docs", "all", "nope")))})
            groups[group] = items
        doc["dependency-groups"] = groups
    if draw(st.booleans()):
        poetry: dict[str, Any] = {"dependencies": draw(_table_of(poetry_spec()))}
        if draw(st.booleans()):
            poetry["group"] = {g: {"dependencies": draw(_table_of(poetry_spec())), "optional": draw(st.booleans())}
                               for g in draw(st.lists(st.sampled_from(("dev", "test", "docs")), max_size=2))}
        if draw(st.booleans()):
            poetry["dev-dependencies"] = draw(_table_of(poetry_spec()))
        if draw(st.booleans()):
            poetry["extras"] = {"gpu": draw(st.lists(st.sampled_from(NAMES), max_size=2))}
        doc.setdefault("tool", {})["poetry"] = poetry
    if draw(st.booleans()):
        tool = doc.setdefault("tool", {})
        tool["uv"] = {"dev-dependencies": draw(REQ_LISTS)}
        tool["pdm"] = {"dev-dependencies": {"lint": draw(REQ_LISTS)}}
    if draw(st.integers(0, 3)) == 0:
        doc.setdefault("tool", {})["pixi"] = {"dependencies": draw(_table_of(st.one_of(st.sampled_from(
            POETRY_CONSTRAINTS), poetry_spec()))), "pypi-dependencies": draw(_table_of(poetry_spec()))}
    return draw(mutate_json(doc, 2))


def _toml_safe(value: Any) -> Any:
    """TOML has no null and no big integers; replace them so tomli_w can write anything drawn."""
    if isinstance(value, dict):
        return {str(k): _toml_safe(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_toml_safe(v) for v in value if v is not None]
    if isinstance(value, int) and not isinstance(value, bool) and not -(2**63) <= value < 2**63:
        return str(value)
    return value


def dump_toml(doc: Any) -> str:
    import tomli_w

    if not isinstance(doc, dict):
        doc = {"project": doc}
    return tomli_w.dumps(_toml_safe(doc))


@st.composite
def pyproject_project(draw: st.DrawFn) -> dict[str, bytes]:
    """A pyproject.toml (near-valid, then byte-mutated) and the requirements files it may name."""
    if draw(st.integers(0, 5)) == 0:
        text = fixture_bytes("pyproject.toml")
    else:
        text = dump_toml(draw(pyproject_document())).encode("utf-8", "surrogatepass")
    files = {"pyproject.toml": draw(mutate_bytes(text, 2))}
    files.update(draw(requirements_project()))
    return files


# --- setup.cfg / setup.py --------------------------------------------------------------------

CFG_KEYS = ("install_requires", "tests_require", "setup_requires", "python_requires")


@st.composite
def setup_cfg_text(draw: st.DrawFn) -> str:
    out = []
    for section in draw(st.lists(st.sampled_from(("options", "options.extras_require", "metadata", "options", "x",
                                                  "options.packages.find", "")), max_size=4)):
        out.append(f"[{section}]")
        keys = ("gpu", "dev", "a b", "test") if section == "options.extras_require" else CFG_KEYS
        for key in draw(st.lists(st.sampled_from(keys), max_size=3)):
            items = draw(st.lists(requirement_text(), max_size=3))
            sep = draw(st.sampled_from(("\n    ", ";", "\n", "\n\t")))
            out.append(f"{key} ={sep.join(['', *items]) if sep.startswith(chr(10)) else ' ' + sep.join(items)}")
        out += draw(st.lists(st.sampled_from(("# c", "; c", "  continued", "key", "= v", "%(x)s", "[", "k: v")),
                             max_size=2))
    return draw(mutate_text("\n".join(out), 3))


SETUP_KWARGS = ("install_requires", "extras_require", "tests_require", "setup_requires", "python_requires", "name")


@st.composite
def py_value(draw: st.DrawFn, depth: int = 0) -> str:
    """A Python expression a setup.py might pass: literals, names, concatenation, calls."""
    kind = draw(st.integers(0, 9 if depth < 2 else 3))
    if kind <= 1:
        return repr(draw(requirement_text()))
    if kind == 2:
        return draw(st.sampled_from(("REQS", "deps", "None", "1", "f'{x}'", "b'x'", "...", "open('r').read()")))
    if kind == 3:
        return "[" + ", ".join(repr(r) for r in draw(st.lists(requirement_text(), max_size=3))) + "]"
    if kind <= 5:
        return draw(py_value(depth + 1)) + draw(st.sampled_from((" + ", " * ", ", "))) + draw(py_value(depth + 1))
    if kind == 6:
        inner = ", ".join(f"{draw(st.sampled_from((repr('gpu'), repr('dev'), 'K', '1')))}: {draw(py_value(depth + 1))}"
                          for _ in range(draw(st.integers(0, 2))))
        return "{" + inner + "}"
    if kind == 7:
        return f"dict({draw(st.sampled_from(('gpu', 'dev')))}={draw(py_value(depth + 1))})"
    if kind == 8:
        return f"({draw(py_value(depth + 1))},)"
    return f"[{draw(py_value(depth + 1))} for x in y]"


@st.composite
def setup_py_text(draw: st.DrawFn) -> str:
    lines = ["from setuptools import setup, find_packages"]
    for name in draw(st.lists(st.sampled_from(("REQS", "deps", "K")), max_size=3)):
        lines.append(f"{name} {draw(st.sampled_from(('=', '+=', ': list =')))} {draw(py_value())}")
    kwargs = [f"{key}={draw(py_value())}" for key in draw(st.lists(st.sampled_from(SETUP_KWARGS), max_size=4))]
    if draw(st.integers(0, 5)) == 0:
        kwargs.append("**extra")
    call = draw(st.sampled_from(("setup", "setuptools.setup", "s.setup", "setup2")))
    lines.append(f"{call}({', '.join(kwargs)})")
    if draw(st.integers(0, 9)) == 0:  # nesting bombs: the parser's and the resolver's recursion
        depth = draw(st.sampled_from((50, 200, 1000, 5000)))
        lines.append(f"REQS = {'[' * depth}{']' * depth}")
    if draw(st.integers(0, 9)) == 0:
        lines.insert(0, "REQS = REQS\ndeps = REQS")
    return draw(mutate_text("\n".join(lines), 3))


# --- notebooks ------------------------------------------------------------------------------

CELL_LINES = ("import numpy as np", "from torch import nn", "%matplotlib inline", "!pip install plotly torch==2",
              "%pip install -r req.txt -e . seaborn", "x = %time f()", "%%bash", "%%time", "def f(:", "print 'py2'",
              "import importlib; importlib.import_module('plugin')", "df.to_parquet('s3://b/k')", "", "    ",
              "torch.cuda.is_available()", "!{sys.executable} -m pip install x", "%%writefile a.py")


@st.composite
def notebook_cell(draw: st.DrawFn) -> dict[str, Any]:
    lines = draw(st.lists(st.sampled_from(CELL_LINES), max_size=5))
    source: Any = [line + "\n" for line in lines] if draw(st.booleans()) else "\n".join(lines)
    cell_type = draw(st.sampled_from(("code", "code", "markdown", "raw")))
    return {"cell_type": cell_type, "metadata": {}, "source": source, "outputs": [], "execution_count": None}


@st.composite
def notebook_document(draw: st.DrawFn) -> Any:
    cells = draw(st.lists(notebook_cell(), max_size=4))
    language = draw(st.sampled_from(("python", "python3", "Python", "R", "julia", None)))
    meta: dict[str, Any] = {"kernelspec": {"name": "k", **({"language": language} if language else {})}}
    if draw(st.booleans()):
        meta["language_info"] = {"name": draw(st.sampled_from(("python", "r")))}
    if draw(st.integers(0, 3)) == 0:  # nbformat 3: worksheets of cells, `input` instead of `source`
        for cell in cells:
            cell["input"] = cell.pop("source")
        doc: Any = {"worksheets": [{"cells": cells}], "metadata": meta, "nbformat": 3}
    else:
        doc = {"cells": cells, "metadata": meta, "nbformat": 4, "nbformat_minor": 5}
    if draw(st.integers(0, 5)) == 0:
        doc = json.loads(fixture_bytes("notebooks/explore.ipynb"))
    return draw(mutate_json(doc, 3))


def notebook_bytes() -> st.SearchStrategy[bytes]:
    return notebook_document().map(lambda d: json.dumps(d).encode()).flatmap(lambda b: mutate_bytes(b, 2))


# --- Python sources for the import scanner ---------------------------------------------------

EXTRA_SNIPPETS = ("print 'x'", "exec 'code'", "import os, sys", "from . import x", "from .. import (a,\n b)",
                  "__import__('m')", "x = f'{__import__(\"n\")}'", "s = '''\nimport fake\n'''", "if x:\n  import y",
                  "try:\n    import a\nexcept ImportError:\n    a = None", "async def f():\n    import q",
                  "lambda: __import__('lam')", "# import commented", "r'\\\\' ; import z", "import torch.cuda",
                  "match x:\n    case 1:\n        import m", "type X = int", "def f[T](x: T): import g")


@st.composite
def python_source(draw: st.DrawFn) -> str:
    """A module from the layout generator of tests/test_imports_scan_layouts, plus bent snippets."""
    from tests.test_imports_scan_layouts import module

    parts = [draw(module())]
    parts += draw(st.lists(st.sampled_from(EXTRA_SNIPPETS), max_size=3))
    text = "\n".join(draw(st.permutations(parts)))
    if draw(st.integers(0, 4)) == 0:
        text = fixture_bytes(draw(st.sampled_from(("src/churn/train.py", "src/churn/serve.py", "src/churn/db.py",
                                                   "scripts/make_model.py")))).decode()
    return text


# --- Dockerfiles -----------------------------------------------------------------------------

IMAGES = ("python:3.11-slim", "nvidia/cuda:12.1.0-devel-ubuntu22.04", "ubuntu", "builder", "0", "1", "scratch",
          "²", "${BASE}", "registry:5000/x/y@sha256:" + "a" * 64, "python:latest", "")
RUNS = ("pip install torch numpy==1.26", "apt-get update && apt-get install -y build-essential gcc",
        "rm -rf /var/lib/apt/lists/*", "pip install --no-cache-dir -r requirements.txt",
        "pip install -e . && pip install 'x[y]>=1'", "curl -fsSL https://u:p@h/x | sh", "echo $((1+1))",
        "conda install -y pytorch", "python -m pip install --upgrade pip", "set -e; cd /x && make",
        "pip install --index-url https://tok@h/simple x", "\"unterminated", "a && || b", "cat <<EOF\nx\nEOF")


@st.composite
def exec_form_text(draw: st.DrawFn) -> str:
    kind = draw(st.integers(0, 3))
    if kind == 0:
        return json.dumps(draw(st.lists(st.text(max_size=8), max_size=4)))
    if kind == 1:
        depth = draw(st.sampled_from((3, 100, 5000, 50000)))
        return "[" * depth + "]" * draw(st.integers(0, depth))
    if kind == 2:
        return draw(st.sampled_from(('["a", 1]', '["a",', "[]", '["a"] b', "[ 'single' ]", '["\\u0000"]', '[{"a":1}]')))
    return json.dumps(["python", "-m", draw(st.sampled_from(("uvicorn", "pip", "churn.serve")))])


@st.composite
def dockerfile_line(draw: st.DrawFn) -> str:
    kind = draw(st.integers(0, 12))
    if kind <= 1:
        line = "FROM " + draw(st.sampled_from(("", "--platform=linux/amd64 ", "--platform=$BUILDPLATFORM ")))
        line += draw(st.sampled_from(IMAGES))
        if draw(st.booleans()):
            line += " " + draw(st.sampled_from(("AS builder", "as final", "AS", "AS a b", "as ²")))
        return line
    if kind <= 4:
        flags = draw(st.sampled_from(("", "--mount=type=cache,target=/root/.cache/pip ", "--network=none ",
                                      "--mount=type=secret,id=x ", "--mount=")))
        body = draw(exec_form_text()) if draw(st.integers(0, 3)) == 0 else " && ".join(
            draw(st.lists(st.sampled_from(RUNS), min_size=1, max_size=3)))
        return f"RUN {flags}{body}"
    if kind == 5:
        return draw(st.sampled_from(("COPY", "ADD"))) + " " + draw(st.sampled_from((
            ". /app", "--from=builder /x /y", "--from=0 /a /b", "--chown=1:1 a b", "models/big.pt /m/",
            '["a", "b"]', "--from= x y", "x")))
    if kind == 6:
        return draw(st.sampled_from(("ENV", "ARG", "LABEL"))) + " " + draw(st.sampled_from((
            "A=1", "A 1 2", "A=\"x y\" B=2", "AWS_SECRET_ACCESS_KEY=abc", "A=", "=x", "PATH=/a:$PATH", "A=b\\\n C=d",
            "BASE=python:3.11", "")))
    if kind == 7:
        return draw(st.sampled_from(("CMD", "ENTRYPOINT"))) + " " + draw(st.one_of(exec_form_text(),
                                                                                   st.sampled_from(RUNS)))
    if kind == 8:
        return draw(st.sampled_from(("USER root", "USER 1000:1000", "WORKDIR /app", "EXPOSE 8080", "HEALTHCHECK NONE",
                                     "SHELL [\"/bin/bash\", \"-c\"]", "ONBUILD RUN x", "STOPSIGNAL 9", "VOLUME /d",
                                     "MAINTAINER me", "USER")))
    if kind == 9:
        return draw(st.sampled_from(("# syntax=docker/dockerfile:1", "# escape=`", "# comment", "", "  ",
                                     "RUN echo a \\", "  && echo b", "RUN <<EOF", "pip install x", "EOF")))
    if kind == 10:
        return draw(st.sampled_from(("BOGUS x", "run lower", "FROM", "RUN", "COPY", "\\", "ENV")))
    return draw(st.text(max_size=16))


@st.composite
def dockerfile_project(draw: st.DrawFn) -> dict[str, bytes]:
    lines = draw(st.lists(dockerfile_line(), min_size=1, max_size=12))
    if draw(st.booleans()):
        lines.insert(0, "FROM " + draw(st.sampled_from(IMAGES)))
    text = "\n".join(lines)
    if draw(st.integers(0, 5)) == 0:
        text = fixture_bytes("Dockerfile").decode()
    files = {"Dockerfile": draw(mutate_bytes(text.encode("utf-8", "surrogatepass"), 2))}
    if draw(st.booleans()):
        ignore = draw(st.lists(st.sampled_from(("*", "!src", ".git", "[z-a]", "\\", "**/*.pt", "models/", "#", "!",
                                                "[", "a[!b]c", "/abs")), max_size=5))
        files[".dockerignore"] = "\n".join(ignore).encode()
    return files


# --- image JSON (indexes, manifests, configs) -------------------------------------------------

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
LAYER_MEDIA = ("application/vnd.oci.image.layer.v1.tar", "application/vnd.oci.image.layer.v1.tar+gzip",
               "application/vnd.oci.image.layer.v1.tar+zstd", "application/vnd.docker.image.rootfs.diff.tar.gzip", "")


ENV_ITEMS = ("PATH=/usr/local/bin:/usr/bin", "A=1", "NOEQ", "=x", "PYTHONPATH=/app/src", "VIRTUAL_ENV=/opt/venv")


@st.composite
def image_config_document(draw: st.DrawFn, layers: int) -> dict[str, Any]:
    history = []
    for index in range(layers + draw(st.integers(0, 2))):
        history.append({"created_by": draw(st.sampled_from((
            f"/bin/sh -c #(nop) COPY layer{index} /", "RUN pip install torch # buildkit", "/bin/sh -c pip install x",
            "ENV A=1", "RUN |2 TOKEN=abc /bin/sh -c make", ""))), "empty_layer": draw(st.booleans())})
    return {
        "architecture": draw(st.sampled_from(("amd64", "arm64", "riscv64", ""))),
        "os": draw(st.sampled_from(("linux", "windows", ""))),
        "config": {"Env": draw(st.lists(st.sampled_from(ENV_ITEMS), max_size=3)),
                   "User": draw(st.sampled_from(("", "root", "1000", "app:app"))),
                   "WorkingDir": "/app", "Cmd": draw(st.sampled_from((["python", "-m", "app"], "python x.py", []))),
                   "Labels": {"a": "b"}},
        "rootfs": {"type": "layers", "diff_ids": []},  # filled in by the builder from the real layers
        "history": history,
    }


# --- conda environment.yml (depslim's own YAML subset reader), Pipfile, pixi.toml -------------

CONDA_SPECS = ("python=3.11", "numpy>=1.26", "pytorch::pytorch=2.1=*cuda*", "conda-forge::pandas", "cudatoolkit",
               "pip", "scipy 1.11.*", "libgcc-ng", "r-base", "numpy[version='>=1.2']", "-x", "a b", "=1", "python>=")
YAML_PIECES = ("  # comment", "- &anchor x", "- *alias", "- !tag x", "- |", "- {a: 1}", "- 'quoted'", '- "dq\\n"',
               "\t- tab", "---", "...", "- [a, b]", "  -", "-", ":", "- pip: x", "    - pip:")


@st.composite
def environment_yml_text(draw: st.DrawFn) -> str:
    lines = ["name: " + draw(st.sampled_from(("env", "", "a b", '"q"')))]
    if draw(st.booleans()):
        lines += ["channels:", *(f"  - {c}" for c in draw(st.lists(st.sampled_from(("conda-forge", "pytorch",
                                                                                    "nvidia")), max_size=2)))]
    indent = draw(st.sampled_from(("  ", "", "    ")))
    lines.append("dependencies:")
    for spec in draw(st.lists(st.sampled_from(CONDA_SPECS), max_size=5)):
        lines.append(f"{indent}- {spec}")
    if draw(st.booleans()):
        lines.append(f"{indent}- pip:")
        lines += [f"{indent}    - {line}" for line in draw(st.lists(requirements_line(), max_size=4))]
    lines += draw(st.lists(st.sampled_from(YAML_PIECES), max_size=2))
    if draw(st.booleans()):
        lines += ["variables:", "  A: 1", "  TOKEN: 'secret'"]
    return draw(mutate_text("\n".join(draw(st.permutations(lines)) if draw(st.integers(0, 5)) == 0 else lines), 3))


@st.composite
def pipfile_text(draw: st.DrawFn) -> str:
    doc: dict[str, Any] = {}
    for section in draw(st.lists(st.sampled_from(("packages", "dev-packages")), max_size=2, unique=True)):
        doc[section] = draw(_table_of(st.one_of(st.sampled_from(("*", "==1.0", ">=1", "", "~=1", "bad")),
                                                poetry_spec())))
    if draw(st.booleans()):
        doc["source"] = [{"url": draw(st.sampled_from(URLS)), "name": "pypi", "verify_ssl": draw(st.booleans())}]
    if draw(st.booleans()):
        doc["requires"] = {"python_version": draw(st.sampled_from(("3.11", "3", "x")))}
    return dump_toml(draw(mutate_json(doc, 2)))


@st.composite
def pixi_text(draw: st.DrawFn) -> str:
    deps = _table_of(st.one_of(st.sampled_from(POETRY_CONSTRAINTS), st.sampled_from(CONDA_SPECS), poetry_spec()))
    doc: dict[str, Any] = {"project": {"name": "p", "channels": ["conda-forge"], "platforms": ["linux-64"]},
                           "dependencies": draw(deps), "pypi-dependencies": draw(_table_of(poetry_spec()))}
    if draw(st.booleans()):
        doc["feature"] = {"test": {"dependencies": draw(deps), "pypi-dependencies": draw(_table_of(poetry_spec()))}}
        doc["environments"] = {"test": draw(st.sampled_from((["test"], {"features": ["test"]}, "test")))}
    if draw(st.booleans()):
        doc["target"] = {"linux-64": {"dependencies": draw(deps)}}
    return dump_toml(draw(mutate_json(doc, 2)))
