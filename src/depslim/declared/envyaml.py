"""The YAML that conda environment files are written in, read without a YAML library.

`environment.yml` is a top-level mapping (`name`, `channels`, `dependencies`, `variables`, ...)
whose values are plain or quoted scalars, block lists and block mappings (`- pip:` holding a list),
with comments. That subset is read here, every node keeping its line, in about 200 lines: a
dependency on PyYAML for one file format is not worth it, and a full YAML parser would accept
far more than a conda file ever holds. Everything outside the subset — anchors and aliases, tags,
block scalars (`|`, `>`), flow mappings, several documents, tabs in the indentation — is an
`InputError` naming the file and line, never a guess: conda itself would read such a file
differently from what a small reader guesses.

Bounded: at most `MAX_BYTES` of text and `MAX_DEPTH` levels of nesting.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from depslim.errors import InputError

MAX_BYTES = 1_000_000
MAX_DEPTH = 8

# A mapping key: a plain word (conda files use `name`, `pip`, environment variable names), then
# ":" and a space or the line end. A colon inside a URL or `channel::name` is no key separator.
_KEY = re.compile(r"([A-Za-z0-9_][A-Za-z0-9_.\-/]*)[ \t]*:(?:[ \t]+|$)")
_UNSUPPORTED = {
    "&": "an anchor (&)",
    "*": "an alias (*)",
    "!": "a tag (!)",
    "|": "a block scalar (|)",
    ">": "a block scalar (>)",
    "{": "a flow mapping ({...})",
    "%": "a directive (%)",
    "@": "a reserved character (@)",
    "`": "a reserved character (`)",
}


@dataclass(frozen=True)
class Scalar:
    value: str
    line: int


@dataclass(frozen=True)
class Seq:
    items: tuple[Node, ...]
    line: int


@dataclass(frozen=True)
class Map:
    entries: tuple[tuple[str, int, Node], ...]  # (key, its line, value)
    line: int


Node = Scalar | Seq | Map | None  # None: a key with no value (`name:`)


@dataclass(frozen=True)
class _Line:
    number: int
    indent: int
    text: str  # without the indentation; comments still in (a `#` may belong to a quoted value)


class _Reader:
    def __init__(self, text: str, where: str) -> None:
        self.where = where
        self.lines = self._lines(text)
        self.i = 0

    def fail(self, line: int, problem: str) -> InputError:
        return InputError(self.where, problem, line)

    def _lines(self, text: str) -> list[_Line]:
        out: list[_Line] = []
        started = ended = False
        for number, raw in enumerate(text.split("\n"), start=1):
            raw = raw.rstrip("\r")
            body = raw.lstrip(" ")
            stripped = body.strip()
            if not stripped or stripped.startswith("#"):
                continue
            if body[0].isspace():
                raise self.fail(number, "a tab in the indentation (YAML indents with spaces only)")
            if ended:
                raise self.fail(number, "text after the end of the document (...)")
            if body.rstrip() == "---":
                if started or out:
                    raise self.fail(number, "several YAML documents in one file")
                started = True
                continue
            if body.rstrip() == "...":
                ended = True
                continue
            out.append(_Line(number, len(raw) - len(body), body.rstrip()))
        return out

    # -- structure

    def document(self) -> Node:
        if not self.lines:
            return None
        node = self.block(self.lines[0].indent, 1)
        if self.i < len(self.lines):
            line = self.lines[self.i]
            raise self.fail(line.number, "unexpected indentation")
        return node

    def block(self, indent: int, depth: int) -> Node:
        if depth > MAX_DEPTH:
            raise self.fail(self.lines[self.i].number, f"nested deeper than {MAX_DEPTH} levels")
        line = self.lines[self.i]
        if _is_item(line.text):
            return self.sequence(indent, depth)
        if _KEY.match(line.text):
            return self.mapping(indent, depth, line.text, line.indent)
        raise self.fail(line.number, "expected `key: value` or `- item`")

    def sequence(self, indent: int, depth: int) -> Seq:
        first = self.lines[self.i].number
        items: list[Node] = []
        while self.i < len(self.lines):
            line = self.lines[self.i]
            if line.indent < indent:
                break
            if line.indent > indent:
                raise self.fail(line.number, "unexpected indentation")
            if not _is_item(line.text):
                break  # the mapping key after a compact list (`dependencies:` then `- a` at its column)
            rest = line.text[1:].lstrip(" ")
            column = line.indent + len(line.text) - len(rest)
            if not _strip_comment(rest):
                raise self.fail(line.number, "an empty list item")
            if _KEY.match(rest):
                items.append(self.mapping(column, depth + 1, rest, column))
            else:
                items.append(self.scalar(rest, line.number))
                self.i += 1
        return Seq(tuple(items), first)

    def mapping(self, indent: int, depth: int, text: str, column: int) -> Map:
        """Entries at `indent`; the first one's text may sit after a list dash (`- pip:`)."""
        first = self.lines[self.i].number
        entries: list[tuple[str, int, Node]] = []
        seen: set[str] = set()
        while True:
            number = self.lines[self.i].number
            key = _KEY.match(text)
            if key is None:
                raise self.fail(number, "expected `key: value`")
            name = key.group(1)
            if name in seen:
                raise self.fail(number, f"duplicate key {name!r}")
            seen.add(name)
            value = _strip_comment(text[key.end():])
            self.i += 1
            if value:
                node: Node = self.scalar(value, number)
            else:
                node = self.nested(column, depth, number)
            entries.append((name, number, node))
            if self.i >= len(self.lines):
                break
            line = self.lines[self.i]
            if line.indent != indent or _is_item(line.text):
                if line.indent > indent:
                    raise self.fail(line.number, "unexpected indentation")
                break
            text, column = line.text, line.indent
        return Map(tuple(entries), first)

    def nested(self, column: int, depth: int, number: int) -> Node:
        """The block value of a key at `column`: more indented, or a list at the key's own column."""
        if self.i >= len(self.lines):
            return None
        line = self.lines[self.i]
        if line.indent > column or (line.indent == column and _is_item(line.text)):
            return self.block(line.indent, depth + 1)
        return None

    # -- scalars

    def scalar(self, text: str, number: int) -> Scalar | Seq:
        head = text[0]
        if head in _UNSUPPORTED:
            raise self.fail(number, f"{_UNSUPPORTED[head]} is not supported in an environment file")
        if head == "[":
            return Seq(tuple(Scalar(v, number) for v in self._flow(text, number)), number)
        if head in "\"'":
            value, rest = self._quoted(text, number)
            if _strip_comment(rest):
                raise self.fail(number, f"text after the quoted value: {rest.strip()!r}")
            return Scalar(value, number)
        return Scalar(_strip_comment(text), number)

    def _quoted(self, text: str, number: int) -> tuple[str, str]:
        quote = text[0]
        i = 1
        while i < len(text):
            char = text[i]
            if quote == '"' and char == "\\":
                i += 2
                continue
            if char == quote:
                if quote == "'" and text[i + 1 : i + 2] == "'":
                    i += 2
                    continue
                raw = text[: i + 1]
                if quote == "'":
                    return raw[1:-1].replace("''", "'"), text[i + 1 :]
                try:
                    return str(json.loads(raw)), text[i + 1 :]
                except ValueError:
                    raise self.fail(number, f"an escape JSON does not know in {raw}") from None
            i += 1
        raise self.fail(number, "a quoted value not closed on its line")

    def _flow(self, text: str, number: int) -> list[str]:
        """`[a, "b", c]` on one line: plain or quoted scalars only."""
        body = _strip_comment(text)
        if not body.endswith("]"):
            raise self.fail(number, "a flow list ([...]) not closed on its line")
        values: list[str] = []
        rest = body[1:-1].strip()
        while rest:
            if rest[0] in "\"'":
                value, rest = self._quoted(rest, number)
                rest = rest.strip()
            else:
                value, _, rest = rest.partition(",")
                value = value.strip()
                rest = "," + rest if _ else ""
                if not value or value[0] in _UNSUPPORTED or value[0] == "[":
                    raise self.fail(number, "only plain or quoted values inside a flow list")
            values.append(value)
            if rest and not rest.startswith(","):
                raise self.fail(number, "expected `,` between the values of a flow list")
            rest = rest[1:].strip()
        return values


def _is_item(text: str) -> bool:
    return text == "-" or text.startswith("- ")


def _strip_comment(text: str) -> str:
    """A plain value without its trailing comment (` #` starts one; `#` inside a word does not)."""
    for i, char in enumerate(text):
        if char == "#" and (i == 0 or text[i - 1] in " \t"):
            return text[:i].strip()
    return text.strip()


def parse(text: str, where: str) -> Node:
    """The document of an environment file; `InputError` (file and line) for anything else."""
    if len(text) > MAX_BYTES:
        raise InputError(where, f"larger than {MAX_BYTES} bytes: not an environment file")
    if "\0" in text:
        raise InputError(where, "contains null bytes: not an environment file")
    return _Reader(text, where).document()
