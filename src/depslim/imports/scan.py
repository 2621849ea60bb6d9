"""Static import and signal extraction from one Python source, without running it.

Why fragments: parsing every byte of a large tree with CPython's `ast` costs about 0.3 CPU-s
per MB (10 s for the diffusers sdist), several times what deptry's Rust parser needs. Imports
and signals live in a small part of a file, so the scanner finds the top-level statements
that contain the word `import` (or a signal token) in code — an f-string's replacement fields
included, not in other strings or comments — and parses only those statements with `ast`. A
top-level statement is complete Python, so the flags (deferred, optional, typing-only) come
from the real syntax tree, not from guessing. Big compound statements are hollowed to the
members that hold a hit (blank lines keep line numbers), and plain top-level imports are read by
one regex. A statement starts at column 0 only outside brackets, outside a literal spanning lines
and not after a backslash continuation (see `_Source`), so a fragment never begins mid-statement.
Whenever a fragment does not parse, the file looks like Python 2, or a triple-quoted string is
unterminated, the whole file is parsed instead, which gives the exact `line: problem`. The price: a syntax error in a
statement holding no import and no signal goes unreported (it cannot change the result).
`full=True` is the whole-file reference the tests and the benchmark compare against.

A result is plain tuples (marshal-friendly, path-independent) so the cache can store it
keyed by content and the process pool can return it cheaply.
"""

from __future__ import annotations

import ast
import hashlib
import io
import re
import tokenize
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from depslim.model import SignalPatterns

try:  # the stdlib's regex parser: private, so guarded; without it every string is examined
    # private modules typeshed does not describe: hence the two ignores
    from re import _constants as _C  # type: ignore[attr-defined]
    from re._parser import parse as _sre_parse  # type: ignore[import-not-found]
except ImportError:  # pragma: no cover - other Python versions
    _C = None

    def _sre_parse(regex: str) -> Any:
        raise re.error("no regex parser")

SCANNER_VERSION = "2"  # 2: re-raising ImportError handlers; backslash and bracket layouts

# Import flags (bit set in RawImport.flags).
OPTIONAL = 1
TYPING = 2
DEFERRED = 4
DYNAMIC = 8
FROM = 16

# RawImport: (module, level, line, flags, names) — `names` are the from-imported names.
RawImport = tuple[str, int, int, int, tuple[str, ...]]
# RawSignal: (pattern, value, line, kind)
RawSignal = tuple[str, str, int, str]
# FileScan: (imports, signals, error) — error is (line, problem) or None.
FileScan = tuple[tuple[RawImport, ...], tuple[RawSignal, ...], "tuple[int, str] | None"]

_IMPORT_ERRORS = frozenset({"ImportError", "ModuleNotFoundError"})
# Calls that end the process: an ImportError handler ending with one re-raises in effect
# (`sys.exit`, `os._exit`, the site builtins `exit`/`quit`). Python semantics, not project knowledge.
_EXIT_CALLS = frozenset({"exit", "_exit", "quit"})
_IMPORT_MODULE = "importlib.import_module"
_MAX_STRING = 300


@dataclass(frozen=True)
class CompiledPatterns:
    """`SignalPatterns` prepared once per scan: regexes compiled, prefilter tokens derived."""

    qualified: tuple[str, ...]  # "pandas.read_parquet", "torch.cuda"
    by_root: dict[str, tuple[str, ...]]  # "torch" -> ("torch.cuda", ...): only imported roots matter
    attr_names: frozenset[str]  # ".cuda" -> "cuda"
    strings: tuple[tuple[str, re.Pattern[str]], ...]
    string_literals: tuple[str, ...]  # literal prefixes every match must start with
    string_needles: tuple[re.Pattern[str], ...]  # a quote then one of the literals
    all_strings: bool  # some regex has no literal prefix: every string must be looked at
    key: str  # stable hash: part of the cache key

    @property
    def empty(self) -> bool:
        return not (self.qualified or self.attr_names or self.strings)


_MAX_PREFIXES = 64


def _extend(items: Sequence[tuple[Any, Any]], current: set[str]) -> tuple[set[str], bool]:
    """Literal prefixes after `items` (parsed regex); False when it had to stop early."""
    for op, arg in items:
        if op is _C.LITERAL:
            current = {prefix + chr(arg) for prefix in current}
        elif op is _C.AT and arg is _C.AT_BEGINNING:
            continue
        elif op is _C.SUBPATTERN:
            if arg[1] & re.IGNORECASE:
                return current, False
            current, done = _extend(arg[3], current)
            if not done:
                return current, False
        elif op is _C.BRANCH:
            union: set[str] = set()
            complete = True
            for branch in arg[1]:
                found, done = _extend(branch, set(current))
                union |= found
                complete &= done
            current = union
            if not complete:
                return current, False
        elif op in (_C.MAX_REPEAT, _C.MIN_REPEAT) and arg[0] == 0 and arg[1] == 1:
            found, done = _extend(arg[2], set(current))
            current = found | current
            if not done:
                return current, False
        elif op in (_C.MAX_REPEAT, _C.MIN_REPEAT) and arg[0] >= 1:
            return _extend(arg[2], current)[0], False
        elif op is _C.IN and len(arg) <= 4 and all(kind is _C.LITERAL for kind, _ in arg):
            current = {prefix + chr(char) for prefix in current for _, char in arg}
        else:
            return current, False
        if len(current) > _MAX_PREFIXES:
            return current, False
    return current, True


def literal_prefixes(regex: str) -> frozenset[str] | None:
    """Literal texts one of which every `re.match` of `regex` starts with; None when unknown.

    Lets the scanner search source text for "s3://" or "abfss://" instead of parsing every
    string. Alternations and optional parts are expanded (`(az|abfss?)://`).
    """
    try:
        parsed = _sre_parse(regex)
    except re.error:
        return None
    if parsed.state.flags & re.IGNORECASE:
        return None
    found, _ = _extend(list(parsed), {""})
    if not found or "" in found or len(found) > _MAX_PREFIXES:
        return None
    return frozenset(found)


def _minimal(prefixes: set[str]) -> tuple[str, ...]:
    """Drop prefixes that a shorter one already covers ("cuda:" when "cuda" is searched)."""
    kept: list[str] = []
    for prefix in sorted(prefixes, key=len):
        if not any(prefix.startswith(shorter) for shorter in kept):
            kept.append(prefix)
    return tuple(sorted(kept))


def _needles(prefixes: Sequence[str]) -> tuple[re.Pattern[str], ...]:
    """One regex per quote character: starting with a literal lets `re` skip ahead fast."""
    if not prefixes:
        return ()
    alternatives = "|".join(re.escape(p) for p in sorted(prefixes, key=len, reverse=True))
    return tuple(re.compile(f"{quote}(?:{alternatives})") for quote in ("\"", "'"))


def compile_patterns(patterns: SignalPatterns) -> CompiledPatterns:
    qualified = tuple(sorted(p for p in patterns.attributes if p and not p.startswith(".")))
    attr_names = frozenset(p[1:] for p in patterns.attributes if p.startswith(".") and len(p) > 1)
    strings = tuple((p, re.compile(p)) for p in patterns.strings)
    literals = [literal_prefixes(p) for p in patterns.strings]
    prefixes = _minimal({prefix for found in literals if found for prefix in found})
    digest = hashlib.sha256(
        repr((sorted(patterns.attributes), list(patterns.strings))).encode("utf-8")
    ).hexdigest()[:16]
    by_root: dict[str, list[str]] = {}
    for pattern in qualified:
        by_root.setdefault(pattern.split(".", 1)[0], []).append(pattern)
    return CompiledPatterns(
        qualified=qualified,
        by_root={root: tuple(found) for root, found in by_root.items()},
        attr_names=attr_names,
        strings=strings,
        string_literals=prefixes,
        string_needles=_needles(prefixes),
        all_strings=any(found is None for found in literals),
        key=digest,
    )


# --------------------------------------------------------------------------- visitors


def _dotted(node: ast.expr) -> tuple[str, tuple[str, ...]] | None:
    """`a.b.c` -> ("a", ("b", "c")); None when the chain does not start at a name."""
    attrs: list[str] = []
    while isinstance(node, ast.Attribute):
        attrs.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        attrs.reverse()
        return node.id, tuple(attrs)
    return None


def _is_type_checking(test: ast.expr) -> bool:
    if isinstance(test, ast.Name):
        return test.id == "TYPE_CHECKING"
    return isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"


def _catches_import_error(handler: ast.ExceptHandler) -> bool:
    kind = handler.type
    names = kind.elts if isinstance(kind, ast.Tuple) else [kind] if kind is not None else []
    for item in names:
        name = item.id if isinstance(item, ast.Name) else getattr(item, "attr", None)
        if name in _IMPORT_ERRORS:
            return True
    return False


def _ends_by_raising(body: Sequence[ast.stmt]) -> bool:
    """Does a handler's body always leave by raising or exiting (`raise`, `raise X(...) from e`,
    `sys.exit(...)`, `os._exit`, `exit()`, `quit()`)?

    Only the body's own statements count, in order: a `raise` inside an `if` may not run, and a
    `return`/`break`/`continue` before it is a fallback path.
    """
    for stmt in body:
        kind = type(stmt)
        if kind is ast.Raise:
            return True
        if kind in (ast.Return, ast.Break, ast.Continue):
            return False
        if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call):
            func = stmt.value.func
            name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
            if name in _EXIT_CALLS:
                return True
    return False


def _import_error_falls_back(handlers: Sequence[ast.ExceptHandler]) -> bool:
    """Are the imports of this `try` optional? Only when the handler a missing package reaches (the
    first one naming ImportError or ModuleNotFoundError: both catch ModuleNotFoundError) carries on
    without the module. A handler that re-raises, whatever it raises, or exits makes the import a
    hard need that merely fails with a friendlier message."""
    for handler in handlers:
        if _catches_import_error(handler):
            return not _ends_by_raising(handler.body)
    return False


def _suppresses_import_error(items: Sequence[ast.withitem]) -> bool:
    """`with contextlib.suppress(ImportError):` makes its imports optional too."""
    for item in items:
        call = item.context_expr
        if isinstance(call, ast.Call):
            func = call.func
            name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
            if name == "suppress":
                for arg in call.args:
                    arg_name = arg.id if isinstance(arg, ast.Name) else getattr(arg, "attr", None)
                    if arg_name in _IMPORT_ERRORS:
                        return True
    return False


_FUNCS = (ast.FunctionDef, ast.AsyncFunctionDef)
_TRIES = (ast.Try, ast.TryStar)
_WITHS = (ast.With, ast.AsyncWith)
_LOOPS = (ast.For, ast.AsyncFor, ast.While)
_DYNAMIC_WORDS = ("import_module", "__import__")


class _ImportCollector:
    """Collects imports with their flags, the file's alias table and dynamic-import candidates.

    Walks statements only (imports are statements); expressions are searched for
    `import_module(...)`/`__import__(...)` calls only when `dynamic` is set, i.e. when the
    source mentions one of them — which keeps the common case cheap.
    """

    def __init__(self, dynamic: bool) -> None:
        self.dynamic = dynamic
        self.offset = 0
        self.imports: list[tuple[int, int, RawImport]] = []  # (line, col, raw) for sorting
        self.aliases: dict[str, str] = {}
        # (line, col, flags, func, arg, package) — resolved once all aliases are known
        self.calls: list[tuple[int, int, int, tuple[str, tuple[str, ...]], str, str | None]] = []

    def run(self, tree: ast.Module, offset: int) -> None:
        self.offset = offset
        self._body(tree.body, 0)

    def _body(self, stmts: Sequence[ast.stmt], flags: int) -> None:
        # Dispatch on `type(node)` once (hot path; cheaper than isinstance chains): mypy does not
        # narrow through `kind is X` / `kind in (...)`, hence the attr-defined/arg-type ignores below.
        dynamic = self.dynamic
        for node in stmts:
            kind = type(node)
            if kind is ast.Import:
                self._import(node, flags)  # type: ignore[arg-type]
            elif kind is ast.ImportFrom:
                self._import_from(node, flags)  # type: ignore[arg-type]
            elif kind is ast.If:
                self._if(node, flags)  # type: ignore[arg-type]
            elif kind in _FUNCS:
                if dynamic:
                    self._exprs((*node.decorator_list, node.args, node.returns), flags)  # type: ignore[attr-defined]
                self._body(node.body, flags | DEFERRED)  # type: ignore[attr-defined]
            elif kind is ast.ClassDef:
                if dynamic:
                    self._exprs((*node.decorator_list, *node.bases, *node.keywords), flags)  # type: ignore[attr-defined]
                self._body(node.body, flags)  # type: ignore[attr-defined]
            elif kind in _TRIES:
                extra = OPTIONAL if _import_error_falls_back(node.handlers) else 0  # type: ignore[attr-defined]
                self._body(node.body, flags | extra)  # type: ignore[attr-defined]
                for handler in node.handlers:  # type: ignore[attr-defined]
                    self._body(handler.body, flags)
                self._body(node.orelse, flags)  # type: ignore[attr-defined]
                self._body(node.finalbody, flags)  # type: ignore[attr-defined]
            elif kind in _WITHS:
                if dynamic:
                    self._exprs(node.items, flags)  # type: ignore[attr-defined]
                extra = OPTIONAL if _suppresses_import_error(node.items) else 0  # type: ignore[attr-defined]
                self._body(node.body, flags | extra)  # type: ignore[attr-defined]
            elif kind in _LOOPS:
                if dynamic:
                    self._exprs((getattr(node, "iter", None), getattr(node, "test", None)), flags)
                self._body(node.body, flags)  # type: ignore[attr-defined]
                self._body(node.orelse, flags)  # type: ignore[attr-defined]
            elif kind is ast.Match:
                if dynamic:
                    self._exprs((node.subject,), flags)  # type: ignore[attr-defined]
                for case in node.cases:  # type: ignore[attr-defined]
                    if dynamic and case.guard is not None:
                        self._exprs((case.guard,), flags)
                    self._body(case.body, flags)
            elif dynamic:
                self._exprs((node,), flags)

    def _import(self, node: ast.Import, flags: int) -> None:
        line = node.lineno + self.offset
        for alias in node.names:
            self.imports.append((line, node.col_offset, (alias.name, 0, line, flags, ())))
            if alias.asname:
                self.aliases[alias.asname] = alias.name
            else:
                top = alias.name.split(".", 1)[0]
                self.aliases[top] = top

    def _import_from(self, node: ast.ImportFrom, flags: int) -> None:
        line = node.lineno + self.offset
        module = node.module or ""
        names = tuple(a.name for a in node.names if a.name != "*")
        self.imports.append((line, node.col_offset, (module, node.level, line, flags | FROM, names)))
        if node.level == 0 and module:
            for alias in node.names:
                if alias.name != "*":
                    self.aliases[alias.asname or alias.name] = f"{module}.{alias.name}"

    def add_simple(self, statement: tuple[Any, ...], line: int) -> None:
        """Record a top-level import read by `_simple_imports` exactly as `_import*` would."""
        module, level, names = statement
        if module is None:
            for name, asname in names:
                self.imports.append((line, 0, (name, 0, line, 0, ())))
                top = name.split(".", 1)[0]
                self.aliases[asname or top] = name if asname else top
            return
        self.imports.append((line, 0, (module, level, line, FROM, tuple(n for n, _ in names))))
        if level == 0 and module:
            for name, asname in names:
                self.aliases[asname or name] = f"{module}.{name}"

    def _if(self, node: ast.If, flags: int) -> None:
        if self.dynamic:
            self._exprs((node.test,), flags)
        test = node.test
        body, orelse = 0, 0
        if _is_type_checking(test):
            body = TYPING
        elif isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not) and _is_type_checking(test.operand):
            orelse = TYPING
        self._body(node.body, flags | body)
        self._body(node.orelse, flags | orelse)

    def _exprs(self, nodes: Iterable[ast.AST | None], flags: int) -> None:
        """Find literal dynamic imports in expressions; a lambda body runs later (deferred)."""
        stack = [(node, flags) for node in nodes if node is not None]
        # `kind is X` dispatch (hot path) does not narrow for mypy: hence the ignores below
        while stack:
            node, node_flags = stack.pop()
            kind = type(node)
            if kind is ast.Call:
                self._call(node, node_flags)  # type: ignore[arg-type]
            elif kind is ast.Lambda:
                node_flags |= DEFERRED
            stack.extend((child, node_flags) for child in ast.iter_child_nodes(node))

    def _call(self, node: ast.Call, flags: int) -> None:
        target = _dotted(node.func)
        if target is None or not node.args:
            return
        base, attrs = target
        if (attrs[-1] if attrs else base) not in _DYNAMIC_WORDS:
            return
        arg = node.args[0]
        if not (isinstance(arg, ast.Constant) and isinstance(arg.value, str) and arg.value):
            return
        pkg_node = node.args[1] if len(node.args) > 1 else None
        for kw in node.keywords:
            if kw.arg == "package":
                pkg_node = kw.value
        package = None
        if isinstance(pkg_node, ast.Constant) and isinstance(pkg_node.value, str):
            package = pkg_node.value
        self.calls.append((node.lineno + self.offset, node.col_offset, flags, target, arg.value, package))

    def finish(self) -> list[RawImport]:
        """Resolve dynamic-import candidates against the complete alias table."""
        found = list(self.imports)
        for line, col, flags, (base, attrs), arg, package in self.calls:
            resolved = ".".join((self.aliases.get(base, base), *attrs))
            builtin = resolved in ("__import__", "builtins.__import__") and base not in self.aliases
            if not (builtin or resolved == _IMPORT_MODULE):
                continue
            level = len(arg) - len(arg.lstrip("."))
            module = arg[level:]
            if level and package:
                parts = package.split(".")
                parts = parts[: len(parts) - (level - 1)] if level > 1 else parts
                module, level = ".".join(p for p in (*parts, module) if p), 0
            if module or level:
                found.append((line, col, (module, level, line, flags | DYNAMIC, ())))
        found.sort(key=lambda item: (item[0], item[1]))
        return [raw for _, _, raw in found]


class _SignalVisitor:
    """Reports pattern hits for attribute chains, bare from-imported names and strings.

    Iterative (an explicit stack), not `ast.NodeVisitor`: a long `"a" + "b" + ...` chain is
    a deep tree that would exhaust Python's recursion limit.
    """

    def __init__(self, patterns: CompiledPatterns, aliases: dict[str, str]) -> None:
        self.patterns = patterns
        self.aliases = aliases
        self.offset = 0
        self.found: list[tuple[int, int, RawSignal]] = []

    def _add(self, node: ast.AST, pattern: str, value: str, kind: str) -> None:
        # every caller's node is an expression (it has a position); the stack it comes from is ast.AST
        line = node.lineno + self.offset  # type: ignore[attr-defined]
        self.found.append((line, node.col_offset, (pattern, value, line, kind)))  # type: ignore[attr-defined]

    def _qualified(self, node: ast.AST, value: str, kind: str) -> None:
        for pattern in self.patterns.qualified:
            if value == pattern or value.startswith(pattern + "."):
                self._add(node, pattern, value, kind)

    def _chain(self, node: ast.Attribute | ast.Name, called: bool, stack: list[ast.AST]) -> None:
        attrs: list[str] = []
        inner: ast.expr = node
        while isinstance(inner, ast.Attribute):
            attrs.append(inner.attr)
            inner = inner.value
        attrs.reverse()
        kind = "call" if called else "attribute"
        names = self.patterns.attr_names
        last = len(attrs) - 1
        if isinstance(inner, ast.Name):
            qual = self.aliases.get(inner.id)
            if qual is not None:
                self._qualified(node, ".".join((qual, *attrs)), kind)
            text = inner.id
            for i, attr in enumerate(attrs):
                text = f"{text}.{attr}"
                if attr in names:
                    self._add(node, "." + attr, text, kind if i == last else "attribute")
        else:
            for i, attr in enumerate(attrs):
                if attr in names:
                    value = "." + ".".join(attrs[: i + 1])
                    self._add(node, "." + attr, value, kind if i == last else "attribute")
            stack.append(inner)

    def visit(self, tree: ast.AST) -> None:
        stack: list[ast.AST] = [tree]
        strings = self.patterns.strings
        while stack:
            node = stack.pop()
            kind = type(node)  # `kind is X` dispatch (hot path) does not narrow for mypy: hence the ignores
            if kind is ast.Call:
                func = node.func  # type: ignore[attr-defined]
                if isinstance(func, (ast.Attribute, ast.Name)):
                    self._chain(func, True, stack)
                else:
                    stack.append(func)
                stack.extend(node.args)  # type: ignore[attr-defined]
                stack.extend(kw.value for kw in node.keywords)  # type: ignore[attr-defined]
            elif kind is ast.Attribute:
                self._chain(node, False, stack)  # type: ignore[arg-type]
            elif kind is ast.Name:
                if node.id in self.aliases:  # type: ignore[attr-defined]
                    self._chain(node, False, stack)  # type: ignore[arg-type]
            elif kind is ast.Constant:
                value = node.value  # type: ignore[attr-defined]
                if isinstance(value, str) and len(value) < _MAX_STRING:
                    for pattern, regex in strings:
                        if regex.match(value):
                            self._add(node, pattern, value, "string")
            elif kind is not ast.Import and kind is not ast.ImportFrom:  # imports bind, they do not use
                stack.extend(ast.iter_child_nodes(node))


# --------------------------------------------------------------------------- decoding


_COOKIE = re.compile(rb"^[ \t\f]*#.*?coding[:=]", re.M)
# One regex per statement kind: each starts with a literal, which `re` searches for quickly.
# print statements and `except X, e:` mark nearly every Python 2 file; a Python 2 construct
# next to an import also fails the fragment parse, which then parses the whole file.
_PY2_STATEMENTS = tuple(
    re.compile(rx)
    for rx in (
        r"print[ \t]+(?:[\"'\w]|>>)",
        r"except[ \t]+[\w.]+[ \t]*,[ \t]*\w+[ \t]*:",
    )
)


def _py2_markers(text: str) -> list[int]:
    """Offsets of Python 2-only statements (print/exec statements, `except X, e:`)."""
    found = []
    for regex in _PY2_STATEMENTS:
        for match in regex.finditer(text):
            pos = match.start()
            line_start = text.rfind("\n", 0, pos) + 1
            if not text[line_start:pos].strip(" \t"):
                found.append(pos)
    return sorted(found)


def _line_of(data: bytes | str, offset: int) -> int:
    if isinstance(data, bytes):
        return data.count(b"\n", 0, offset) + 1
    return data.count("\n", 0, offset) + 1


def decode_source(data: bytes) -> tuple[str | None, tuple[int, str] | None]:
    """Bytes -> text honouring a BOM and a PEP 263 cookie; or (None, (line, problem))."""
    zero = data.find(b"\0")
    if zero >= 0:
        return None, (_line_of(data, zero), "contains null bytes (not a Python source file)")
    first = data.find(b"\n")
    second = data.find(b"\n", first + 1) if first >= 0 else -1
    head = data if second < 0 else data[:second]
    encoding = "utf-8-sig"
    if b"coding" in head and _COOKIE.search(head):
        try:
            encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
        except SyntaxError as exc:
            return None, (exc.lineno or 1, f"bad encoding declaration: {exc.msg}")
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as exc:
        return None, (_line_of(data, exc.start), f"cannot decode as {encoding}: {exc.reason}")
    except LookupError:
        return None, (1, f"unknown encoding {encoding!r}")
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text, None


# --------------------------------------------------------------------------- fragments

_LINE_TOKENS = re.compile(r"""#|"(?:[^"\\\n]|\\.)*(")?|'(?:[^'\\\n]|\\.)*(')?""")
_COL0 = re.compile(r"\n(?=[^\s#)\]}])")
_LINE = re.compile(r"\n([ \t]*)(?=[^\s#)\]}])")
_CONTINUATION = re.compile(r"[ \t]*(?:else|elif|except|finally)\b")
_COMPOUND = re.compile(r"([ \t]*)(?:@|(?:async[ \t]+)?(?:def|for|with)\b|class\b|if\b|try\b|while\b|match\b)")
_FSTRING_PREFIXES = frozenset({"f", "fr", "rf"})
_CODE, _COMMENT = -1, -2  # what `_Source.locate` answers besides a literal's opening offset
_HOLLOW_MIN = 1500  # smaller statements are parsed whole: hollowing them saves nothing
_TRIPLES = ('"""', "'''")


class _Fallback(Exception):
    """The fragment path cannot be trusted for this file: parse it whole."""


def _escaped(text: str, pos: int) -> bool:
    count = 0
    while pos > 0 and text[pos - 1] == "\\":
        count += 1
        pos -= 1
    return count % 2 == 1


# Strings and comments on one line (literals spanning lines are recorded spans, skipped before):
# what `_Source.code_depth` removes before counting brackets.
_NOT_CODE = re.compile(r"""#[^\n]*|"(?:[^"\\\n]|\\.)*"?|'(?:[^'\\\n]|\\.)*'?""")
# Keywords that only ever start a statement: a line opening with one is never inside brackets,
# so the bracket depth there is 0 without counting the lines before it.
_STATEMENT_ONLY = re.compile(
    r"[ \t]*(?:async[ \t]+)?(?:def|class|import|try|while|with|return|raise|pass|break|continue|global|nonlocal"
    r"|del|assert)\b"
)
_JOIN = "\\\n"  # a backslash at a line end
_SINGLE_TRIPLE = re.compile("'''")
_STOPS = {quote: re.compile(rf"[{quote}\\\n]") for quote in "\"'"}  # what ends or escapes in a literal


def _find(text: str, delim: str, pos: int) -> int:
    """`text.find(delim, pos)`, faster for what `_Source._find_spans` looks for: `str.find`
    skips poorly over a pattern ending with a common character (a newline, a quote), so a
    backslash-newline is found from its rare backslash, and three single quotes by `re`."""
    if delim == _JOIN:
        pos = text.find("\\", pos)
        while pos >= 0 and not text.startswith("\n", pos + 1):
            pos = text.find("\\", pos + 1)
        return pos
    if delim == "'''":
        found = _SINGLE_TRIPLE.search(text, pos)
        return -1 if found is None else found.start()
    return text.find(delim, pos)


def _continued_end(text: str, opening: int, join: int) -> int:
    """End of the single-quoted literal opening at `opening` that a backslash at `join` continues
    over the next line (and maybe more); unterminated ones go to the full parse."""
    stops = _STOPS[text[opening]]
    pos = join + 2
    while True:
        found = stops.search(text, pos)
        if found is None or found.group() == "\n":
            raise _Fallback  # unterminated: the full parse names the line
        if found.group() == "\\":
            pos = found.end() + 1  # an escape, a newline included (another continuation)
            continue
        return found.end()


def _piece_depth(text: str, start: int, end: int) -> int:
    """Net bracket depth of `start..end`, which holds no spanning literal."""
    piece = text[start:end]
    if "#" in piece or '"' in piece or "'" in piece:
        piece = _NOT_CODE.sub("", piece)
    opened = piece.count("(") + piece.count("[") + piece.count("{")
    return opened - piece.count(")") - piece.count("]") - piece.count("}")


class _Source:
    """One file's text plus what the fragment path needs: the spans of literals over several lines
    (triple-quoted, or continued by a backslash), backslash-joined lines, statement starts."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.starts: list[int] = []
        self.ends: list[int] = []
        self._boundaries: list[int] | None = None
        self._depths: dict[int, int] = {0: 0}  # boundary index -> bracket depth there
        self._last_line = (0, 1)
        self.joined = self._find_spans()

    # -- strings and comments

    def _prefix_token(self, start: int, pos: int) -> int:
        """Where `pos` is, given that `start..pos` lies on one line outside spanning literals:
        `_CODE`, `_COMMENT`, or the offset of the quote opening the literal it is in."""
        text = self.text
        prefix = text[start:pos]
        if "#" not in prefix and '"' not in prefix and "'" not in prefix:
            return _CODE
        for match in _LINE_TOKENS.finditer(text, start, pos):
            if match.group() == "#":
                return _COMMENT
            if match.group(1) is None and match.group(2) is None:
                return match.start()  # an unterminated quote: pos is inside this literal
        return _CODE

    def _find_spans(self) -> frozenset[int]:
        """Record the literals that span lines, in one ordered pass; return the line starts that
        continue a line through a backslash in code (never a statement start: `from torch \\`
        + `import nn` is one import of torch).

        Spanning literals are triple-quoted ones and single-quoted ones continued by a backslash
        at a line end (`"a long message \\`): a line inside either starts in a string. A
        backslash ending a comment continues nothing; one inside a recorded span is its text.
        """
        text = self.text
        nxt = {delim: _find(text, delim, 0) for delim in (*_TRIPLES, _JOIN)}
        joined: set[int] = set()
        while True:
            live = [(pos, delim) for delim, pos in nxt.items() if pos >= 0]
            if not live:
                return frozenset(joined)
            pos, delim = min(live)
            line_start = text.rfind("\n", 0, pos) + 1
            if self.ends and line_start < self.ends[-1] <= pos:
                line_start = self.ends[-1]
            where = self._prefix_token(line_start, pos)
            if delim == _JOIN:
                nxt[delim] = _find(text, delim, pos + 2)
                if where != _COMMENT and _escaped(text, pos):
                    raise _Fallback  # `"a\\` at a line end: unterminated, the full parse names the line
                if where == _CODE:
                    joined.add(pos + 2)
                elif where >= 0:  # a single-quoted literal goes on over the next line
                    self._add_span(nxt, where, _continued_end(text, where, pos))
                continue
            if where != _CODE:
                nxt[delim] = _find(text, delim, pos + 1)
                continue
            end = text.find(delim, pos + 3)
            while end >= 0 and _escaped(text, end):
                end = text.find(delim, end + 1)
            if end < 0:
                raise _Fallback  # unterminated: the full parse names the line
            self._add_span(nxt, pos, end + 3)

    def _add_span(self, nxt: dict[str, int], start: int, end: int) -> None:
        """Record the literal `start..end` and move every search past it."""
        self.starts.append(start)
        self.ends.append(end)
        for other, other_pos in nxt.items():
            if 0 <= other_pos < end:
                nxt[other] = _find(self.text, other, end)

    def code_depth(self, start: int, end: int) -> int:
        """Net bracket depth of the code in `start..end` (`start` outside any literal): what is
        in strings and comments does not count."""
        starts, ends = self.starts, self.ends
        i = bisect_right(ends, start)  # the first spanning literal ending after `start`
        depth, pos = 0, start
        while pos < end:
            if i < len(starts) and starts[i] < end:
                depth += _piece_depth(self.text, pos, starts[i])
                pos = ends[i]
                i += 1
            else:
                depth += _piece_depth(self.text, pos, end)
                break
        return depth

    def depth_at(self, index: int) -> int:
        """Bracket depth where top-level statement `index` starts: 0 for a real statement; else
        the column-0 line continues an open bracket (a list written without indentation) and is
        no statement of its own. Counted forward from the nearest known depth, lazily."""
        memo = self._depths
        if index in memo:
            return memo[index]
        bounds = self.boundaries()
        known = index
        while known not in memo:
            if _STATEMENT_ONLY.match(self.text, bounds[known]):
                memo[known] = 0
                break
            known -= 1
        memo[index] = memo[known] + self.code_depth(bounds[known], bounds[index])
        return memo[index]

    def line_of(self, pos: int) -> int:
        """1-based line of offset `pos`; counts on from the last answer (callers go forward)."""
        last_pos, last_line = self._last_line
        if pos < last_pos:
            last_pos, last_line = 0, 1
        line = last_line + self.text.count("\n", last_pos, pos)
        self._last_line = (pos, line)
        return line

    def in_span(self, pos: int) -> bool:
        i = bisect_right(self.starts, pos) - 1
        return i >= 0 and pos < self.ends[i]

    def opens_span(self, pos: int) -> bool:
        """Does a spanning literal (a docstring, say) open at `pos`?"""
        i = bisect_left(self.starts, pos)
        return i < len(self.starts) and self.starts[i] == pos

    def locate(self, pos: int) -> int:
        """`_CODE`, `_COMMENT`, or where the literal holding `pos` opens (its first quote; for a
        triple-quoted one, the first of the three). The one place that tells code from text."""
        i = bisect_right(self.starts, pos) - 1
        if i >= 0 and pos < self.ends[i]:
            return self.starts[i]
        start = self.text.rfind("\n", 0, pos) + 1
        if i >= 0 and start < self.ends[i] <= pos:
            start = self.ends[i]
        return self._prefix_token(start, pos)

    def in_code(self, pos: int) -> bool:
        return self.locate(pos) == _CODE

    def in_string(self, pos: int) -> bool:
        return self.in_span(pos) or not self.in_code(pos)

    def in_code_or_fstring(self, pos: int) -> bool:
        """In code, or inside an f-string, whose replacement fields are code (`f"{x.cuda}"`)."""
        where = self.locate(pos)
        return where == _CODE or (where >= 0 and self.is_fstring(where))

    def is_fstring(self, opening: int) -> bool:
        """Is the literal whose first quote is at `opening` an f-string (`f"…"`, `rf"…"`, `Fr"…"`)?"""
        text = self.text
        start = opening
        while start > 0 and opening - start < 3 and text[start - 1].isalpha():
            start -= 1
        if start > 0 and (text[start - 1].isalnum() or text[start - 1] == "_"):
            return False  # letters of a longer name, not a prefix
        return text[start:opening].lower() in _FSTRING_PREFIXES

    # -- statements

    def boundaries(self) -> list[int]:
        """Offsets where top-level statements start, plus 0 and len(text)."""
        if self._boundaries is None:
            text = self.text
            lines = [m.end() for m in _COL0.finditer(text)]
            # Drop line starts inside spanning literals (spans and lines are both sorted).
            kept: list[int] = []
            prev = 0
            for start, end in zip(self.starts, self.ends, strict=True):
                i = bisect_left(lines, start, prev)
                kept.extend(lines[prev:i])
                prev = bisect_left(lines, end, i)
            kept.extend(lines[prev:])
            found = [0]
            # A decorated statement runs from its first `@` line to the end of its body;
            # `else:`/`except:`/`finally:` lines continue the statement before them.
            after_decorator = text.startswith("@")
            joined = self.joined
            for pos in kept:
                if pos in joined:
                    continue  # continues the line before (backslash)
                first = text[pos]
                if first in "ef" and _CONTINUATION.match(text, pos):
                    continue
                if not after_decorator:
                    found.append(pos)
                after_decorator = first == "@"
            found.append(len(text))
            self._boundaries = found
        return self._boundaries

    def chunk_of(self, pos: int) -> int:
        """Index `i` such that boundaries[i] <= pos < boundaries[i+1]."""
        return bisect_right(self.boundaries(), pos) - 1

    def hollow(self, start: int, end: int, hits: Sequence[int]) -> str:
        """The statement `start..end`, keeping only the parts of a big compound statement that hold hits.

        A block may lose statements without changing what the kept ones mean: their flags
        come from the enclosing headers (def, try/except, if TYPE_CHECKING), which are all
        kept, and from what an `except` clause does (re-raise or fall back), whose statements
        are all kept too. Dropped statements become blank lines so line numbers stay exact; a
        clause left empty gets `pass`. A line at the body's indent inside brackets is no member: it
        stays with the member before it. A wrong cut leaves unbalanced brackets or a bad indent,
        which `ast.parse` rejects; the caller then parses the statement whole.
        """
        text = self.text
        compound = _COMPOUND.match(text, start)
        if end - start < _HOLLOW_MIN or compound is None:
            return text[start:end]
        own_indent = compound.group(1)
        # clauses: [header_start, [member line starts...]]
        clauses: list[tuple[int, list[int]]] = [(start, [])]
        body_indent: str | None = None
        in_header, depth, last = True, 0, start
        after_decorator = False
        joined = self.joined
        for match in _LINE.finditer(text, start, end):
            pos = match.end()
            if self.in_span(pos) and not self.opens_span(pos):
                continue  # a line inside a spanning literal (one opening there is a member)
            if match.start() + 1 in joined:
                continue  # continues the line before (backslash)
            indent = match.group(1)
            if in_header:
                # A header (decorators, signature, condition) ends where its brackets balance.
                depth += self.code_depth(last, pos)
                last = pos
                if depth > 0:
                    continue
                in_header = False
                if body_indent is None:
                    if len(indent) <= len(own_indent):
                        return text[start:end]  # a one-line body: nothing to hollow
                    body_indent = indent
            if indent == own_indent:
                if not _CONTINUATION.match(text, pos):
                    return text[start:end]  # not the shape we understand: keep it whole
                clauses.append((match.start() + 1, []))
                in_header, depth, last = True, 0, pos
                after_decorator = False
                continue
            if indent != body_indent or _CONTINUATION.match(text, pos):
                continue
            if not after_decorator:
                clauses[-1][1].append(match.start() + 1)
            after_decorator = text.startswith("@", pos)
        if body_indent is None or not all(members for _, members in clauses):
            return text[start:end]
        parts: list[str] = []
        bounds = [header for header, _ in clauses[1:]] + [end]
        # Bracket depth (from `start`, outside brackets) is known at `known`: a line at the body's
        # indent inside brackets is no member. Checked where it matters: a kept member must start
        # outside brackets and ends where its brackets close (swallowing such lines), and a clause
        # header must be outside them; what lies between dropped members is never looked at.
        known, depth = start, 0
        for index, ((header, members), clause_end) in enumerate(zip(clauses, bounds, strict=True)):
            if index:
                depth, known = depth + self.code_depth(known, header), header
                if depth:
                    return text[start:end]  # an `else` inside brackets: no clause
            parts.append(text[header : members[0]])
            keep_all = text.startswith("except", header + len(own_indent))
            kept_any = False
            stops = [*members[1:], clause_end]
            i = 0
            while i < len(members):
                first, stop = members[i], stops[i]
                lo = bisect_right(hits, first - 1)
                if not keep_all and not (lo < len(hits) and hits[lo] < stop):
                    blank = "\n" * text.count("\n", first, stop)
                    if not kept_any and stop == clause_end:
                        blank = f"{body_indent}pass{blank or chr(10)}"
                    parts.append(blank)
                    i += 1
                    continue
                if _STATEMENT_ONLY.match(text, first):
                    depth, known = 0, first
                else:
                    depth, known = depth + self.code_depth(known, first), first
                    if depth:
                        return text[start:end]  # the member before, dropped, leaves a bracket open
                while True:
                    depth, known = depth + self.code_depth(known, stop), stop
                    if not depth or stop == clause_end:
                        break
                    i += 1  # the next "member" is inside this one's brackets
                    stop = stops[i]
                if depth:
                    return text[start:end]
                inside = [h for h in hits[lo:] if h < stop]
                parts.append(text[first:stop] if keep_all else self.hollow(first, stop, inside))
                kept_any = True
                i += 1
        return "".join(parts)


def _is_word(text: str, start: int, end: int) -> bool:
    before = text[start - 1] if start else " "
    after = text[end] if end < len(text) else " "
    return not (before.isalnum() or before == "_" or after.isalnum() or after == "_")


def _is_import_word(text: str, start: int, end: int) -> bool:
    """`import` as a keyword, or inside `__import__` / `import_module` (not `_import_structure`)."""
    return (
        _is_word(text, start, end)
        or text.startswith("__import__", start - 2)
        or text.startswith("import_module", start)
    )


def _hits(
    source: _Source,
    words: Iterable[str],
    keep: Callable[[str, int, int], bool] = _is_word,
    *,
    fstrings: bool = False,
) -> list[int]:
    """Offsets of `words` in code (not in a string or comment) that `keep` accepts; with
    `fstrings`, also inside f-strings (their replacement fields are code).

    `str.find` loops, not a regex: `re` has no fast scan for alternations of words.
    """
    text = source.text
    in_code = source.in_code_or_fstring if fstrings else source.in_code
    found = []
    for word in words:
        size = len(word)
        pos = text.find(word)
        while pos >= 0:
            if keep(text, pos, pos + size) and in_code(pos):
                found.append(pos)
            pos = text.find(word, pos + size)
    return found


def _string_hits(source: _Source, needles: Sequence[re.Pattern[str]]) -> list[int]:
    """Offsets of string literals that start with one of the searched literal prefixes."""
    found = []
    for needle in needles:
        for match in needle.finditer(source.text):
            pos = match.start() + 1
            if source.in_string(pos):
                found.append(pos)
    return found


_PREFIXED_QUOTE = re.compile(r"[rRbBuUfF]{1,2}[\"']")


def _after_string(text: str, pos: int) -> int:
    """Offset of the next token after a string literal ending before `pos`: spaces, comments,
    backslash continuations and newlines skipped (conservative: a newline may end the statement)."""
    size = len(text)
    while pos < size:
        char = text[pos]
        if char in " \t\f\n\\":
            pos += 1
        elif char == "#":
            end = text.find("\n", pos)
            if end < 0:
                return size
            pos = end
        else:
            break
    return pos


def _literal_string(source: _Source, quote_pos: int) -> tuple[int, int, str] | None:
    """(line, byte column, value) of the plain one-line string literal opening at `quote_pos`
    (a quote in code), exactly as `ast` gives it as a Constant; None when `ast` must decide.

    Only the simplest literal is read here: no prefix (f, r, b, u), no escape, closed on its
    own line, not glued to a neighbouring literal (implicit concatenation), not the first
    token of a line (which may continue a literal from the line before). Everything else —
    and every attribute hit — is parsed as before.
    """
    text = source.text
    quote = text[quote_pos]
    line_start = text.rfind("\n", 0, quote_pos) + 1
    before = text[line_start:quote_pos].rstrip(" \t")
    if not before or before[-1] in "\"'_\\" or before[-1].isalnum():
        return None
    if line_start >= 2 and text[line_start - 2] == "\\":
        return None  # the line continues a backslash-joined one (maybe inside a string)
    end = text.find(quote, quote_pos + 1)
    newline = text.find("\n", quote_pos + 1)
    if end < 0 or 0 <= newline < end or "\\" in text[quote_pos + 1 : end]:
        return None
    nxt = _after_string(text, end + 1)
    if nxt < len(text) and (text[nxt] in "\"'" or _PREFIXED_QUOTE.match(text, nxt)):
        return None
    column = len(text[line_start:quote_pos].encode("utf-8"))
    return source.line_of(quote_pos), column, text[quote_pos + 1 : end]


def _string_signals(
    source: _Source, hits: list[int], patterns: CompiledPatterns
) -> tuple[list[tuple[int, int, RawSignal]], list[int]]:
    """String hits read straight from the text where that is exact, and those `ast` must read.

    Most string signals ("cuda", "s3://…") sit in statements that hold no other hit; reading
    them here spares parsing those statements (about a fifth of the scan's time on diffusers).
    """
    found: list[tuple[int, int, RawSignal]] = []
    rest: list[int] = []
    for pos in sorted(hits):
        quote = pos - 1
        where = source.locate(quote)
        if where == _COMMENT:
            continue
        if where == quote:  # a single-quoted literal opening here goes on over the next line
            rest.append(pos)
            continue
        if where >= 0 and where != quote - 2:
            # The quote is inside another literal ("… 'cuda' …", a docstring's `pipe.to("cuda")`).
            # That literal's value starts elsewhere, so the hit cannot match (a match must
            # start with the searched text) — unless it is an f-string, whose replacement
            # fields hold real literals.
            if source.is_fstring(where):
                rest.append(pos)
            continue
        literal = _literal_string(source, quote) if where == _CODE else None  # else a triple string opens here
        if literal is None:
            rest.append(pos)
            continue
        line, column, value = literal
        if len(value) < _MAX_STRING:
            for pattern, regex in patterns.strings:
                if regex.match(value):
                    found.append((line, column, (pattern, value, line, "string")))
    return found, rest


@lru_cache(maxsize=256)
def _dotted_needle(words: tuple[str, ...]) -> re.Pattern[str]:
    return re.compile(r"\.(?:" + "|".join(re.escape(w) for w in words) + r")\b")


def _dotted_hits(source: _Source, words: Sequence[str]) -> list[int]:
    """Offsets of `.word` attribute accesses in code, f-strings included (one regex pass: it
    starts with a literal)."""
    found = []
    for match in _dotted_needle(tuple(sorted(words))).finditer(source.text):
        pos = match.start()
        if source.in_code_or_fstring(pos):
            found.append(pos)
    return found


def _parse_hits(source: _Source, hits: Iterable[int]) -> list[tuple[ast.Module, int]]:
    """Parse the statements holding `hits`: adjacent statements together, big ones hollowed."""
    bounds = source.boundaries()
    text = source.text
    by_chunk: dict[int, list[int]] = {}
    for pos in sorted(set(hits)):
        by_chunk.setdefault(source.chunk_of(pos), []).append(pos)
    # Runs of adjacent chunks, each widened until it starts and ends outside brackets: a
    # column-0 line inside a list or call is no statement start, and a fragment cut there may
    # still parse, with another meaning (a lambda's body read as module code).
    runs: list[list[int]] = []
    last_chunk = len(bounds) - 2
    for index in sorted(by_chunk):
        first, final = index, index
        while first > 0 and source.depth_at(first):
            first -= 1
        while final < last_chunk and source.depth_at(final + 1):
            final += 1
        if runs and runs[-1][1] >= first - 1:
            runs[-1][1] = max(runs[-1][1], final)
        else:
            runs.append([first, final])
    trees = []
    for first, final in runs:
        start, stop = bounds[first], bounds[final + 1]
        hollowed = "".join(
            source.hollow(bounds[i], bounds[i + 1], by_chunk[i])
            if i in by_chunk and (i == first or not source.depth_at(i))
            else text[bounds[i] : bounds[i + 1]]
            for i in range(first, final + 1)
        )
        candidates = [hollowed] if len(hollowed) == stop - start else [hollowed, text[start:stop]]
        tree = None
        for candidate in candidates:
            try:
                tree = ast.parse(candidate)
                break
            except (SyntaxError, ValueError, RecursionError, MemoryError):  # deep nesting: the parser's own limit
                continue
        if tree is None:
            raise _Fallback
        trees.append((tree, source.line_of(start) - 1))
    return trees


_IMPORT_WORDS = ("import",)


_SIMPLE = re.compile(
    r"(?:import[ \t]+(?P<names>[\w. \t,]+?)"
    r"|from[ \t]+(?P<dots>\.*)[ \t]*(?P<module>[\w.]*)[ \t]+import[ \t]+"
    r"(?:(?P<list>[\w \t,]+?)|\((?P<plist>[\w\s,]*)\)))"
    r"[ \t]*(?:\n[ \t]*(?:#[^\n]*)?)*\Z"
)


# Words that cannot be imported names ("as" is handled by position), and malformed dotted
# names (a part starting with a digit, an empty part). Either sends the statement to `ast`.
_NOT_A_NAME = re.compile(
    r"\b(?:False|None|True|and|assert|async|await|break|class|continue|def|del|elif|else|except|finally|for"
    r"|from|global|if|import|in|is|lambda|nonlocal|not|or|pass|raise|return|try|while|with|yield)\b"
    r"|\b\d|\.\.|\.(?=[\s,]|$)|(?:^|[\s,])\."
)


def _parse_simple(match: re.Match[str]) -> tuple[Any, ...] | None:
    """A one-statement top-level import read without `ast` (None: let `ast` read it)."""
    names_text = match.group("names")
    if names_text is not None:
        module, level, parenthesised = None, 0, False
        checked = names_text
    else:
        plist = match.group("plist")
        parenthesised = plist is not None
        names_text = plist if parenthesised else match.group("list")
        module, level = match.group("module"), len(match.group("dots"))
        if not module and not level:
            return None
        checked = f"{names_text} {module}"
    if _NOT_A_NAME.search(checked):
        return None
    items = names_text.split(",")
    if parenthesised and len(items) > 1 and not items[-1].strip():
        items.pop()  # a trailing comma inside parentheses
    names: list[tuple[str, str | None]] = []
    for item in items:
        words = item.split()
        if len(words) == 1:
            names.append((words[0], None))
        elif len(words) == 3 and words[1] == "as" and "." not in words[2]:
            names.append((words[0], words[2]))
        else:
            return None
        if module is not None and "." in words[0]:
            return None
    return (module, level, tuple(names))


# Statement text -> its reading (or None): the same few import lines recur across a project's
# files (`import torch` in a thousand of them), so each is matched and split once per process.
_SIMPLE_SEEN: dict[str, Any] = {}
_SIMPLE_SEEN_MAX = 8192
_UNSEEN = object()


def _simple_imports(source: _Source, hits: list[int]) -> tuple[list[tuple[int, tuple[Any, ...]]], list[int]]:
    """Split off top-level statements that are one plain import: most imports, no `ast` needed.

    Anything unusual (comments inside, `;`, `\\`, `*`, keywords) goes to `ast` as before.
    """
    bounds = source.boundaries()
    text = source.text
    simple: list[tuple[int, tuple[Any, ...]]] = []
    rest: list[int] = []
    by_chunk: dict[int, list[int]] = {}
    for pos in hits:
        by_chunk.setdefault(source.chunk_of(pos), []).append(pos)
    for index, positions in by_chunk.items():
        start = bounds[index]
        statement = None
        if text.startswith(("import", "from"), start):
            chunk = text[start : bounds[index + 1]]
            statement = _SIMPLE_SEEN.get(chunk, _UNSEEN)
            if statement is _UNSEEN:
                match = _SIMPLE.match(chunk)
                statement = None if match is None else _parse_simple(match)
                if len(_SIMPLE_SEEN) >= _SIMPLE_SEEN_MAX:
                    _SIMPLE_SEEN.clear()
                _SIMPLE_SEEN[chunk] = statement
        if statement is None:
            rest.extend(positions)
        else:
            simple.append((source.line_of(start), statement))
    return simple, rest


def _signal_words(patterns: CompiledPatterns, aliases: dict[str, str]) -> tuple[set[str], set[str]]:
    """(attribute words, bare names) a statement must contain for an attribute pattern to match.

    A qualified pattern ("tensorflow.data") matches only through a name this file binds by
    importing a prefix or an extension of it, so files that never import tensorflow never
    look for ".data". When the bound name is a strict prefix ("torch" for "torch.cuda"), the
    chain must spell `.cuda`; when it is the pattern or below (`from torch import cuda`), the
    bound name itself is searched.
    """
    dotted = set(patterns.attr_names)
    bare: set[str] = set()
    by_root = patterns.by_root
    for name, qual in aliases.items():
        for pattern in by_root.get(qual.split(".", 1)[0], ()):
            if qual == pattern or qual.startswith(pattern + "."):
                bare.add(name)
            elif pattern.startswith(qual + "."):
                dotted.add(pattern.rsplit(".", 1)[-1])
    return dotted, bare


def _collect(
    trees: Sequence[tuple[ast.Module, int]], text: str, simple: Sequence[tuple[int, tuple[Any, ...]]] = ()
) -> _ImportCollector:
    """Imports of the parsed statements and of the plain ones `_simple_imports` read, taken in
    file order: a later binding of a name wins the alias table as it does at run time
    (`import torch` then `from torch import torch` leaves `torch` meaning torch.torch)."""
    collector = _ImportCollector(dynamic=any(word in text for word in _DYNAMIC_WORDS))
    if not trees or not simple or simple[-1][0] <= trees[0][1]:  # the common case: imports on top
        for line, statement in simple:
            collector.add_simple(statement, line)
        for tree, offset in trees:
            collector.run(tree, offset)
        return collector
    order = sorted([(offset + 1, index, True) for index, (_, offset) in enumerate(trees)]
                   + [(line, index, False) for index, (line, _) in enumerate(simple)])
    for _, index, parsed in order:
        if parsed:
            collector.run(*trees[index])
        else:
            collector.add_simple(simple[index][1], simple[index][0])
    return collector


def _signals(
    trees: Iterable[tuple[ast.Module, int]],
    patterns: CompiledPatterns,
    aliases: dict[str, str],
    direct: Sequence[tuple[int, int, RawSignal]] = (),
) -> tuple[RawSignal, ...]:
    """Signals from the parsed statements plus those read from the text (`direct`); a literal
    read both ways (its statement was parsed for another hit) counts once."""
    visitor = _SignalVisitor(patterns, aliases)
    for tree, offset in trees:
        visitor.offset = offset
        visitor.visit(tree)
    found = visitor.found
    if direct:
        read = {(line, column) for line, column, _ in direct}
        found = [f for f in found if f[2][3] != "string" or (f[0], f[1]) not in read]
        found += direct
    found.sort()
    return tuple(raw for _, _, raw in found)


def _scan_fragments(text: str, patterns: CompiledPatterns) -> FileScan:
    source = _Source(text)
    if any(source.in_code(pos) for pos in _py2_markers(text)):
        raise _Fallback
    # f-strings too: a replacement field is code (`f"{importlib.import_module('x')}"` imports x).
    hits = _hits(source, _IMPORT_WORDS, _is_import_word, fstrings=True)
    simple, hits = _simple_imports(source, hits)
    collector = _collect(_parse_hits(source, hits), text, simple)
    imports = tuple(collector.finish())
    if patterns.empty:
        return imports, (), None
    if patterns.all_strings:
        raise _Fallback  # a string regex without a literal prefix: every string matters
    hits = []
    dotted, bare = _signal_words(patterns, collector.aliases)
    if dotted:
        hits += _dotted_hits(source, sorted(dotted))
    if bare:
        hits += _hits(source, sorted(bare), fstrings=True)
    direct: list[tuple[int, int, RawSignal]] = []
    if patterns.string_needles:
        direct, parse = _string_signals(source, _string_hits(source, patterns.string_needles), patterns)
        hits += parse
    if not hits and not direct:
        return imports, (), None
    trees = _parse_hits(source, hits) if hits else []
    return imports, _signals(trees, patterns, collector.aliases, direct), None


def _scan_full(text: str, patterns: CompiledPatterns) -> FileScan:
    try:
        tree = ast.parse(text)
    except SyntaxError as exc:
        problem = exc.msg
        if _py2_markers(text):
            problem += " (Python 2 code?)"
        return (), (), (exc.lineno or 1, f"does not parse: {problem}")
    except (ValueError, RecursionError, MemoryError) as exc:
        return (), (), (1, f"does not parse: {exc}")
    collector = _collect([(tree, 0)], text)
    imports = tuple(collector.finish())
    if patterns.empty:
        return imports, (), None
    return imports, _signals([(tree, 0)], patterns, collector.aliases), None


def scan_text(text: str, patterns: CompiledPatterns, *, full: bool = False) -> FileScan:
    """Scan decoded source. `full=True` parses the whole file (the reference behaviour)."""
    if not full:
        try:
            return _scan_fragments(text, patterns)
        except (_Fallback, RecursionError):
            pass
    return _scan_full(text, patterns)


def scan_bytes(data: bytes, patterns: CompiledPatterns, *, full: bool = False) -> FileScan:
    """Scan raw file bytes: decoding problems become the file's error, never an exception."""
    text, error = decode_source(data)
    if text is None:
        return (), (), error
    return scan_text(text, patterns, full=full)
