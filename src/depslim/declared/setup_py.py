"""setup.py read statically with `ast`; it is never imported or executed.

Only literals are understood: strings, lists/tuples of them, `+` between them, dicts for
`extras_require`, and module-level names assigned once to such a literal (`REQS = [...]`,
`install_requires=REQS`). Anything computed (reading a file, a comprehension, a function call)
is skipped with a warning naming the line, because guessing would be silently wrong and running
the file would execute project code.
"""

from __future__ import annotations

import ast
from collections.abc import Mapping
from pathlib import Path

from depslim.declared.base import Collector, declared_from, parse_requirement
from depslim.declared.classify import is_dev_extra
from depslim.errors import InputError
from depslim.inputfile import read_bytes
from depslim.model import Location

_KEYWORDS = {"install_requires": ("main", False), "tests_require": ("dev", True)}
_MAX_DEPTH = 20


class NotStatic(Exception):
    """The value is computed at run time; `node` says where."""

    def __init__(self, node: ast.AST) -> None:
        super().__init__(type(node).__name__)
        self.node = node


class StaticValues:
    """Evaluates literal expressions, resolving module-level names bound exactly once."""

    def __init__(self, tree: ast.Module) -> None:
        counts: dict[str, int] = {}
        self.names: dict[str, ast.expr] = {}
        for stmt in tree.body:
            targets: list[ast.expr] = []
            value: ast.expr | None = None
            if isinstance(stmt, ast.Assign):
                targets, value = stmt.targets, stmt.value
            elif isinstance(stmt, ast.AnnAssign) and stmt.value is not None:
                targets, value = [stmt.target], stmt.value
            elif isinstance(stmt, ast.AugAssign):
                targets = [stmt.target]
            for target in targets:
                if isinstance(target, ast.Name):
                    counts[target.id] = counts.get(target.id, 0) + 1
                    if value is not None:
                        self.names[target.id] = value
        # A name rebound or augmented (`REQS += [...]`) has no single static value.
        self.names = {k: v for k, v in self.names.items() if counts[k] == 1}

    def _resolve(self, node: ast.expr, depth: int) -> ast.expr:
        while isinstance(node, ast.Name):
            if node.id not in self.names or depth > _MAX_DEPTH:
                raise NotStatic(node)
            node, depth = self.names[node.id], depth + 1
        return node

    def strings(self, node: ast.expr, depth: int = 0) -> list[tuple[str, int]]:
        """A string or a list/tuple of strings as [(text, line)], each with its own line."""
        node = self._resolve(node, depth)
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            # setuptools accepts one string of newline-separated requirements.
            return [
                (text.strip(), node.lineno + offset)
                for offset, text in enumerate(node.value.splitlines())
                if text.strip() and not text.strip().startswith("#")
            ]
        if isinstance(node, ast.List | ast.Tuple):
            return [item for element in node.elts for item in self.strings(element, depth + 1)]
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
            return self.strings(node.left, depth + 1) + self.strings(node.right, depth + 1)
        raise NotStatic(node)

    def mapping(self, node: ast.expr, depth: int = 0) -> Mapping[str, ast.expr]:
        """A dict literal (or `dict(k=...)`) with string keys."""
        node = self._resolve(node, depth)
        if isinstance(node, ast.Dict):
            result: dict[str, ast.expr] = {}
            for key, value in zip(node.keys, node.values, strict=True):
                if not (isinstance(key, ast.Constant) and isinstance(key.value, str)):
                    raise NotStatic(key if key is not None else node)
                result[key.value] = value
            return result
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id == "dict"
            and not node.args
            and all(k.arg for k in node.keywords)
        ):
            return {str(k.arg): k.value for k in node.keywords}
        raise NotStatic(node)


def _setup_call(tree: ast.Module) -> ast.Call | None:
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
            if name == "setup":
                return node
    return None


class SetupPyReader:
    def __init__(self, collector: Collector, path: Path) -> None:
        self.collector = collector
        self.rel = collector.rel(path)
        try:
            source = read_bytes(path)
        except OSError as exc:
            raise InputError(self.rel, f"cannot read: {exc}") from None
        try:
            self.tree = ast.parse(source, filename=self.rel)
        except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:  # deep nesting: the parser's limit
            line = getattr(exc, "lineno", None)
            problem = getattr(exc, "msg", str(exc)) or "nested too deeply"
            raise InputError(self.rel, f"cannot parse setup.py (read statically, never run): {problem}", line) from None
        self.values = StaticValues(self.tree)

    def warn(self, node: ast.AST, what: str) -> None:
        line = getattr(node, "lineno", 0)
        self.collector.warnings.append(
            f"{self.rel}:{line}: {what} is not a literal; skipped (setup.py is read statically, never run)"
        )

    def read(self) -> None:
        self.collector.files.add(self.rel)
        call = _setup_call(self.tree)
        if call is None:
            return
        keywords = {k.arg: k.value for k in call.keywords if k.arg}
        if any(k.arg is None for k in call.keywords) and not keywords.keys() & {*_KEYWORDS, "extras_require"}:
            self.warn(call, "setup(**kwargs)")
        for key, (group, dev) in _KEYWORDS.items():
            if key in keywords:
                try:
                    items = self.values.strings(keywords[key])
                except NotStatic as exc:
                    self.warn(exc.node, key)
                    continue
                self._add(items, group=group, dev=dev)
        if "extras_require" in keywords:
            self._extras(keywords["extras_require"])

    def _extras(self, node: ast.expr) -> None:
        try:
            extras = self.values.mapping(node)
        except NotStatic as exc:
            self.warn(exc.node, "extras_require")
            return
        for key, value in extras.items():
            # setuptools allows "extra:marker" keys; the marker applies to every item.
            extra, _, marker = key.partition(":")
            try:
                items = self.values.strings(value)
            except NotStatic as exc:
                self.warn(exc.node, f"extras_require[{key!r}]")
                continue
            self._add(items, group=f"optional:{extra.strip()}", dev=is_dev_extra(extra), marker=marker.strip())

    def _add(self, items: list[tuple[str, int]], *, group: str, dev: bool, marker: str = "") -> None:
        for text, line in items:
            req = parse_requirement(text, self.rel, line)
            if marker:
                combined = f"({req.marker}) and ({marker})" if req.marker else marker
                req.marker = None
                req = parse_requirement(f"{req} ; {combined}", self.rel, line)
            self.collector.add(
                declared_from(req, Location(self.rel, line), group=group, source="setup.py", dev=dev)
            )


def read_setup_py(collector: Collector, path: Path) -> None:
    """Read one setup.py into `collector` (statically)."""
    SetupPyReader(collector, path).read()
