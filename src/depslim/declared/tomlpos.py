"""Line numbers for keys and string values of an already-validated TOML document.

`tomllib` returns values without positions, but every declared requirement must keep its line.
This is a small lexer over a document that `tomllib` has already accepted: it records the line
of each key definition and of each string literal inside that key's value. String and key
literals are decoded by `tomllib` itself, so escapes are never interpreted here. The result is
only used for positions; the values always come from `tomllib`.
"""

from __future__ import annotations

import contextlib
import tomllib
from collections.abc import Sequence

_BARE = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")

Path_ = tuple[str, ...]


def _decode_string(raw: str) -> str:
    value = tomllib.loads(f"x = {raw}")["x"]
    return value if isinstance(value, str) else raw


class _Lexer:
    def __init__(self, text: str) -> None:
        self.text = text
        self.i = 0
        self.line = 1
        self.keys: dict[Path_, int] = {}
        self.strings: dict[Path_, list[tuple[int, str]]] = {}

    def peek(self, n: int = 0) -> str:
        j = self.i + n
        return self.text[j] if j < len(self.text) else ""

    def advance(self, n: int = 1) -> None:
        for _ in range(n):
            if self.peek() == "\n":
                self.line += 1
            self.i += 1

    def skip_ws(self) -> None:
        while self.peek() in (" ", "\t"):
            self.advance()

    def skip_to_eol(self) -> None:
        while self.peek() not in ("\n", ""):
            self.advance()

    def read_string(self) -> str:
        """Consume one string literal and return its raw text (quotes included)."""
        start = self.i
        quote = self.peek()
        triple = self.peek(1) == quote and self.peek(2) == quote
        if triple:
            self.advance(3)
            while self.peek():
                if quote == '"' and self.peek() == "\\":
                    self.advance(2)
                    continue
                if self.peek() == quote and self.peek(1) == quote and self.peek(2) == quote:
                    self.advance(3)
                    while self.peek() == quote:  # up to two quotes may end the content
                        self.advance()
                    break
                self.advance()
        else:
            self.advance()
            while self.peek() and self.peek() != quote and self.peek() != "\n":
                if quote == '"' and self.peek() == "\\":
                    self.advance()
                self.advance()
            self.advance()
        return self.text[start : self.i]

    def read_key(self, stop: str) -> Path_:
        """A dotted key up to `stop` ('=' or ']'), each part bare or quoted."""
        parts: list[str] = []
        while self.peek() and self.peek() != stop:
            self.skip_ws()
            char = self.peek()
            if char == stop:
                break
            if char in ('"', "'"):
                parts.append(_decode_string(self.read_string()))
            elif char in _BARE:
                start = self.i
                while self.peek() in _BARE and self.peek():
                    self.advance()
                parts.append(self.text[start : self.i])
            elif char == ".":
                self.advance()
            elif char in ("\n", ""):
                break
            else:
                self.advance()
        return tuple(parts)

    def read_value(self, path: Path_) -> None:
        depth = 0
        bucket = self.strings.setdefault(path, [])
        while self.peek():
            char = self.peek()
            if char in ('"', "'"):
                line = self.line
                bucket.append((line, _decode_string(self.read_string())))
                continue
            if char in "[{":
                depth += 1
            elif char in "]}":
                depth -= 1
            elif char == "#":
                self.skip_to_eol()
                continue
            elif char == "\n" and depth <= 0:
                return
            self.advance()

    def run(self) -> None:
        table: Path_ = ()
        while self.peek():
            self.skip_ws()
            char = self.peek()
            if char in ("\n", "\r"):
                self.advance()
            elif char == "#":
                self.skip_to_eol()
            elif char == "[":
                while self.peek() == "[":
                    self.advance()
                line = self.line
                table = self.read_key("]")
                self.keys.setdefault(table, line)
                self.skip_to_eol()
            elif char:
                line = self.line
                path = table + self.read_key("=")
                self.keys.setdefault(path, line)
                self.advance()  # '='
                self.read_value(path)


class TomlPositions:
    """Where keys and string values sit in one TOML file (1-based lines; 0 when unknown)."""

    def __init__(self, text: str) -> None:
        lexer = _Lexer(text)
        # Defensive: positions are best effort (the document already passed tomllib).
        with contextlib.suppress(tomllib.TOMLDecodeError):
            lexer.run()
        self._keys = lexer.keys
        self._strings = lexer.strings
        self._used: set[tuple[Path_, int, int]] = set()

    def key_line(self, path: Sequence[str]) -> int:
        """Line of the longest defined prefix of `path` (a table header or a key)."""
        for n in range(len(path), 0, -1):
            line = self._keys.get(tuple(path[:n]))
            if line:
                return line
        return 0

    def value_line(self, path: Sequence[str], value: str) -> int:
        """Line of the next not yet claimed string literal equal to `value` under `path`."""
        for n in range(len(path), 0, -1):
            prefix = tuple(path[:n])
            for index, (line, text) in enumerate(self._strings.get(prefix, ())):
                if text == value and (prefix, index, line) not in self._used:
                    self._used.add((prefix, index, line))
                    return line
        return self.key_line(path)
