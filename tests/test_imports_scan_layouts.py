"""The fragment scanner against the whole-file parse, on generated modules in every layout.

The fast path parses only the statements that hold an import or a signal, so every way Python lets
a statement span lines, hide inside brackets or strings, or change meaning with its context is a
way for the two to disagree. Hypothesis writes modules from the pieces below (import forms, layouts
and wrappers) and the reference comparison the scanner has always used must hold:
`scan_bytes(data, patterns) == scan_bytes(data, patterns, full=True)`: the same imports with the
same lines and flags, the same signals, the same error.
"""

from __future__ import annotations

import io
import tokenize
from pathlib import Path

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from depslim.imports import scan_project
from depslim.imports.scan import compile_patterns, scan_bytes
from depslim.model import SignalPatterns

PATTERNS = compile_patterns(
    SignalPatterns(
        attributes=frozenset({".cuda", "torch.cuda", "pandas.read_parquet"}), strings=("^s3://", r"^cuda(:\d+)?$")
    )
)
# Names: plain, private, with digits, and unicode identifiers (PEP 3131).
NAMES = ("torch", "nn", "np", "pandas", "_priv", "x1", "données", "модуль", "μ", "pkg", "ŝtato")
MODULES = ("torch", "torch.nn", "numpy", "pandas", "données.sub", "a.b.c", "модуль", "sklearn.linear_model")
# Between two tokens of a simple statement: a space, or a backslash continuation in any form.
GAPS = (" ", " ", " ", " \\\n", "\\\n", " \\\n    ", " \\\n\t", " \\\n        ")
# Between two names inside parentheses: anything, a column-0 line and a comment included.
PAREN_GAPS = (", ", ",\n", ",\n    ", ",\n", ",  # why\n    ", ", \\\n", ",\n\n")


def _join(draw: st.DrawFn, tokens: list[str]) -> str:
    out = tokens[0]
    for token in tokens[1:]:
        out += draw(st.sampled_from(GAPS)) + token
    return out


@st.composite
def names_list(draw: st.DrawFn, *, dotted: bool) -> list[str]:
    pool = MODULES if dotted else NAMES
    items = draw(st.lists(st.sampled_from(pool), min_size=1, max_size=3))
    return [f"{item} as {draw(st.sampled_from(NAMES))}" if draw(st.booleans()) else item for item in items]


@st.composite
def import_statement(draw: st.DrawFn) -> str:
    """One import statement in one of its layouts."""
    kind = draw(st.sampled_from(("import", "from", "relative", "star")))
    if kind == "import":
        items = draw(names_list(dotted=True))
        return _join(draw, ["import", *_commas(items)])
    module = draw(st.sampled_from(MODULES))
    if kind == "relative":
        dots = draw(st.sampled_from((".", "..", "...")))
        module = draw(st.sampled_from(("", "sibling", "pkg.mod")))
        module = dots + module if module else dots
    if kind == "star":
        return _join(draw, ["from", module, "import", "*"])
    items = draw(names_list(dotted=False))
    layout = draw(st.sampled_from(("plain", "paren", "paren-lines")))
    if layout == "plain":
        return _join(draw, ["from", module, "import", *_commas(items)])
    if layout == "paren":
        return _join(draw, ["from", module, "import", "(" + ", ".join(items) + ")"])
    body = items[0]
    for item in items[1:]:
        body += draw(st.sampled_from(PAREN_GAPS)) + item
    trailing = draw(st.sampled_from(("", ",", ",\n", "\n")))
    first = draw(st.sampled_from(("", "    ", "\t")))
    return _join(draw, ["from", module, "import", "(\n" + first + body + trailing + ")"])


def _commas(items: list[str]) -> list[str]:
    return [item + ("," if i < len(items) - 1 else "") for i, item in enumerate(items)]


# Statements that hold the word `import` or a signal without importing, or import dynamically.
NOISE = (
    "# import fake_in_comment",
    "x = 1  # import fake_after_code",
    's = "import fake_in_string"',
    "s = 'import fake' 'import also_fake'",
    's = "a long message \\\nimport fake_continued"',
    "s = 'cut \\\n    here'; import after_continued_string",
    'f = f"{x} import fake_in_fstring"',
    "f = f\"{importlib.import_module('in_fstring')}\"",
    "f = f'{__import__(\"in_fstring_builtin\")}'",
    '"""Docstring with code in it.\n\n    >>> import fake_doctest\n    from fake import thing\n"""',
    "t = '''\nimport fake_triple\n'''",
    'm = importlib.import_module("dyn.mod")',
    'm = import_module(".rel", package="pkg")',
    'b = __import__("builtin_dyn")',
    'lazy = lambda: __import__("lambda_dyn")',
    'eager = [\n__import__("col0_in_list"),\n0,\n]',
    'late = (lambda: [\n__import__("col0_in_lambda"),\n0,\n])',
    'urls = [\n"s3://bucket/a"\n"b",\n"s3://c",\n]',
    'p = "s3://bucket/key"',
    'd = "cuda:0" if t else "cpu"',
    "y = model.cuda()",
    "z = torch.cuda.is_available()",
    "df = pandas.read_parquet(path)",
    "total = 1 + \\\n    2",
    "x = 1; y = 2",
    'w = "é" ; v = "s3://é"',
    "assert x, \\\n    'import fake_in_assert'",
)


@st.composite
def simple_statement(draw: st.DrawFn) -> str:
    """A simple statement: an import, noise, or several joined with `;`."""
    parts = draw(st.lists(st.one_of(import_statement(), st.sampled_from(NOISE)), min_size=1, max_size=2))
    if len(parts) == 2 and "\n" not in parts[0] and "#" not in parts[0] and not parts[0].startswith(('"""', "'''")):
        return parts[0] + draw(st.sampled_from(("; ", ";", " ; "))) + parts[1]
    return "\n".join(parts)


HANDLERS = (
    ("ImportError", "pass"),
    ("ImportError", "torch = None"),
    ("ModuleNotFoundError", "import fallback_mod"),
    ("(ImportError, ValueError)", "HAVE_X = False"),
    ("ImportError", "raise"),
    ("ImportError as e", 'raise ImportError("pip install it") from e'),
    ("ModuleNotFoundError as exc", 'raise RuntimeError("needed") from exc'),
    ("ImportError", "sys.exit(1)"),
    ("ImportError", 'logger.error("install it")\nraise SystemExit(2)'),
    ("ImportError", "if strict:\n    raise\nX = None"),
    ("builtins.ImportError", "os._exit(3)"),
    ("ValueError", "raise"),
    ("Exception", "pass"),
)


def _indent(text: str, unit: str) -> str:
    """Indent the lines of `text` that start a logical line (or hold only a comment) by `unit`;
    the others (inside brackets or strings, after a backslash) keep their column, 0 included:
    Python allows it there, so the scanner must cope."""
    starts: set[int] = set()
    depth, fresh = 0, True
    for tok in tokenize.generate_tokens(io.StringIO(text + "\n").readline):
        if tok.type == tokenize.NEWLINE or (tok.type == tokenize.NL and depth == 0):
            fresh = True
            continue
        if tok.type in (tokenize.NL, tokenize.INDENT, tokenize.DEDENT, tokenize.ENDMARKER):
            continue
        if fresh:
            starts.add(tok.start[0])
            fresh = False
        if tok.type == tokenize.OP:
            depth += (tok.string in "([{") - (tok.string in ")]}")
    lines = text.split("\n")
    return "\n".join(unit + line if number in starts else line for number, line in enumerate(lines, start=1))


@st.composite
def statement(draw: st.DrawFn, depth: int, unit: str, in_function: bool) -> str:
    """A statement, maybe a compound one wrapping others (try, if TYPE_CHECKING, def, class,
    decorators, match, with suppress, loops)."""
    wrappers = ["simple"] * 3
    if depth < 3:
        wrappers += ["try", "typing", "def", "class", "match", "suppress", "loop", "if", "big"]
    kind = draw(st.sampled_from(wrappers))
    if kind == "simple":
        return draw(simple_statement())

    def body(function: bool = in_function) -> str:
        stmts = draw(st.lists(statement(depth + 1, unit, function), min_size=1, max_size=3))
        if all(s.startswith("#") for s in stmts):
            stmts.append("pass")  # a block needs a statement, a comment is none
        return _indent("\n".join(stmts), unit)

    if kind == "try":
        text = "try:\n" + body()
        for _ in range(draw(st.integers(1, 2))):
            caught, handler = draw(st.sampled_from(HANDLERS))
            if in_function and draw(st.booleans()):
                handler = draw(st.sampled_from(("return None", "logger.info('x')\nreturn")))
            text += f"\nexcept {caught}:\n" + _indent(handler, unit)
        if draw(st.booleans()):
            text += "\nelse:\n" + body()
        if draw(st.booleans()):
            text += "\nfinally:\n" + body()
        return text
    if kind == "typing":
        test = draw(st.sampled_from(("TYPE_CHECKING", "typing.TYPE_CHECKING", "not TYPE_CHECKING")))
        text = f"if {test}:\n" + body()
        return text + ("\nelse:\n" + body() if draw(st.booleans()) else "")
    if kind == "def":
        decorators = draw(st.lists(st.sampled_from(("@decorator", '@register(import_module("deco"))',
                                                    "@functools.lru_cache(\nmaxsize=None)", "@x.cuda")), max_size=2))
        head = draw(st.sampled_from(("def f():", "async def g(a,\n        b=1):", "def h(x=\"import fake\") -> None:")))
        return "\n".join([*decorators, head]) + "\n" + body(True)
    if kind == "class":
        return draw(st.sampled_from(("class C:", "class D(Base, \\\n        metaclass=M):"))) + "\n" + body()
    if kind == "match":
        return "match command:\n" + _indent("case 1:\n" + body() + "\ncase _:\n" + body(), unit)
    if kind == "suppress":
        return "with contextlib.suppress(ImportError):\n" + body()
    if kind == "loop":
        head = draw(st.sampled_from(("for item in items:", "while running:", "async_ok = True\nif x:")))
        return head + "\n" + body()
    if kind == "if":
        return "if sys.platform == 'win32':\n" + body() + "\nelif x:\n" + body() + "\nelse:\n" + body()
    # big: a compound statement over the scanner's hollowing threshold, its hits among filler
    filler = "\n".join(f"value_{i} = compute({i}, 'padding text to make the statement long')" for i in range(40))
    head = draw(st.sampled_from(("def big():", "class Big:", "try:", "if TYPE_CHECKING:")))
    inner = _indent(filler + "\n" + draw(statement(depth + 1, unit, head == "def big():")) + "\n" + filler, unit)
    text = head + "\n" + inner
    if head == "try:":
        caught, handler = draw(st.sampled_from(HANDLERS))
        text += f"\nexcept {caught}:\n" + _indent(filler + "\n" + handler, unit)
    return text


@st.composite
def module(draw: st.DrawFn) -> str:
    unit = draw(st.sampled_from(("    ", "  ", "\t")))
    stmts = draw(st.lists(statement(0, unit, False), min_size=1, max_size=6))
    seps = [draw(st.sampled_from(("\n", "\n\n", "\n\n\n", "\n# comment\n"))) for _ in stmts]
    text = "".join(s + sep for s, sep in zip(stmts, seps, strict=True))
    if draw(st.booleans()):
        text = '"""Module docstring: import fake_module_doc."""\n' + text
    return text


def _same(source: str) -> None:
    data = source.encode("utf-8")
    full = scan_bytes(data, PATTERNS, full=True)
    assert full[2] is None, (full[2], source)  # the generator writes valid Python
    assert scan_bytes(data, PATTERNS) == full, source


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(module())
@example("from torch \\\nimport nn\n")
@example("s = 'abc\\\n'; import q\n")
@example('f = (lambda: [\n__import__("a"),\n0,\n])\n')
@example('x = [\n"s3://a"\n"b",\n]\n')
@example("import torch\nclass C:\n    import \\\ntorch\n    from torch import torch\n    z = torch.cuda.is_available()")
def test_fragment_scan_equals_full_parse_in_every_layout(source: str) -> None:
    _same(source)


def test_backslash_continued_from_import_reads_the_module(tmp_path: Path) -> None:
    """`from torch \\` + `import nn` imports from torch; nn is a name, not a module."""
    (tmp_path / "app.py").write_text("import os\nfrom torch \\\nimport nn\nfrom \\\n  numpy \\\n  import array\n")
    result = scan_project(tmp_path)
    assert [(r.module, r.location.line) for r in result.imports] == [("os", 1), ("torch", 2), ("numpy", 4)]


def test_backslash_continued_string_keeps_statement_boundaries(tmp_path: Path) -> None:
    """A string continued by a backslash is one literal: what its second line says is text, and
    code after it on that line is code."""
    source = (
        'MESSAGE = "install the backend \\\n    import fake_in_string"\n'
        "s = 'abc\\\n'; import after_string\n"
        "def f():\n    warn('deprecated \\\n        import fake_again')\n    import deferred_one\n"
    )
    (tmp_path / "app.py").write_text(source)
    result = scan_project(tmp_path)
    got = [(r.module, r.location.line, r.deferred) for r in result.imports]
    assert got == [("after_string", 4, False), ("deferred_one", 8, True)]


def test_column_zero_lines_inside_brackets_are_not_statements() -> None:
    """A list written without indentation: its lines are not statements, so a lambda's body stays
    deferred and implicitly concatenated strings stay one value."""
    source = 'late = (lambda: [\n__import__("plugin"),\n0,\n])\nurls = [\n"s3://bucket/"\n"key",\n]\n'
    imports, signals, error = scan_bytes(source.encode(), PATTERNS)
    assert error is None
    assert [(m, flags) for m, _, _, flags, _ in imports] == [("plugin", 4 | 8)]  # DEFERRED | DYNAMIC
    assert [(value, line) for _, value, line, _ in signals] == [("s3://bucket/key", 6)]
    assert (imports, signals, error) == scan_bytes(source.encode(), PATTERNS, full=True)


def test_dynamic_import_inside_an_fstring_is_found() -> None:
    source = "import importlib\nprint(f\"{importlib.import_module('plugin_x')}\")\n"
    imports, _, _ = scan_bytes(source.encode(), PATTERNS)
    assert ("plugin_x", 0, 2, 8, ()) in imports


def test_a_later_binding_wins_the_alias_table_as_at_run_time() -> None:
    """`import torch` then, further down, `from torch import torch`: the name now means torch.torch,
    so `torch.cuda` is no use of torch.cuda. The fast path reads the first import without `ast`
    and the class with it; both must apply in file order."""
    source = "import torch\nclass C:\n    from torch import torch\nz = torch.cuda.is_available()\n"
    fast = scan_bytes(source.encode(), PATTERNS)
    assert fast == scan_bytes(source.encode(), PATTERNS, full=True)
    assert not any(pattern == "torch.cuda" for pattern, *_ in fast[1])
