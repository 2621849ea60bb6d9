"""The commands a Compose file starts: each service's `entrypoint:` and `command:`.

A Compose service's `command:` overrides the image's CMD, so a server started only from
`docker-compose.yml` (`command: uvicorn app.main:app`) is an entrypoint like a Dockerfile's CMD.
Only those two keys are read, so this is a line reader for the shapes they take, not a YAML
parser: a plain or quoted scalar (possibly continued on more-indented lines), a folded or
literal block scalar (`>`, `|`), a flow sequence (`["uvicorn", "app:app"]`, possibly over several
lines) and a block sequence (`- uvicorn`). Anything else under a service (anchors, `<<:` merges,
environment maps) is skipped, never guessed at: a command that cannot be read is simply not an
entrypoint, and reachability then rests on the other entrypoints.

Compose itself splits a string command into words (no shell), and `$$` is its escape for `$`.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterator
from dataclasses import dataclass

MAX_BYTES = 1_000_000  # a Compose file is a few KB; a larger one is not read
MAX_VALUE_LINES = 200  # one command's lines

_KEY = re.compile(r"([A-Za-z0-9_.\-]+)[ \t]*:(?:[ \t]+|$)(.*)$")
_COMPOSE_NAMES = ("docker-compose", "compose")


@dataclass(frozen=True)
class ServiceCommand:
    """One service's start command: entrypoint words + command words, at the key's line."""

    service: str
    line: int  # 1-based line of `command:` (or `entrypoint:` when there is no command)
    words: tuple[str, ...]


def is_compose_file(name: str) -> bool:
    """`docker-compose.yml`, `compose.yaml`, `docker-compose.prod.yml`…"""
    lower = name.lower()
    if not lower.endswith((".yml", ".yaml")):
        return False
    stem = lower.rsplit(".", 1)[0]
    return stem in _COMPOSE_NAMES or stem.startswith(tuple(f"{n}." for n in _COMPOSE_NAMES))


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _strip_comment(text: str) -> str:
    """Drops a ` #` comment outside quotes."""
    quote = ""
    for i, ch in enumerate(text):
        if quote:
            if ch == quote:
                quote = ""
        elif ch in "'\"":
            quote = ch
        elif ch == "#" and (i == 0 or text[i - 1] in " \t"):
            return text[:i].rstrip()
    return text.rstrip()


def _unquote(text: str) -> str:
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        inner = text[1:-1]
        return inner.replace("''", "'") if text[0] == "'" else inner.replace('\\"', '"')
    return text


def _flow_items(text: str) -> list[str]:
    """`["a", 'b', c]` -> ["a", "b", "c"]: commas outside quotes separate items."""
    inner = text.strip()[1:-1]
    items: list[str] = []
    current: list[str] = []
    quote = ""
    for ch in inner:
        if quote:
            current.append(ch)
            if ch == quote:
                quote = ""
        elif ch in "'\"":
            quote = ch
            current.append(ch)
        elif ch == ",":
            items.append("".join(current))
            current = []
        else:
            current.append(ch)
    items.append("".join(current))
    return [_unquote(i) for i in items if i.strip()]


def _string_words(text: str) -> list[str]:
    try:
        return shlex.split(text)
    except ValueError:
        return text.split()


def _value(first: str, rest: list[str], key_indent: int) -> list[str] | None:
    """The words of a key whose inline text is `first` and whose following lines are `rest`."""
    first = _strip_comment(first)
    def ends(line: str) -> bool:  # a block sequence may sit at its key's own indent (`- uvicorn`)
        sequence_item = not first and _indent(line) == key_indent and line.lstrip().startswith("-")
        return bool(line.strip()) and _indent(line) <= key_indent and not sequence_item

    if first[:1] in ("{", "*", "&", "!"):  # a flow mapping, alias, anchor or tag: not a command we can read
        return None
    cut = next((i for i, line in enumerate(rest) if ends(line)), len(rest))
    more = rest[:cut][:MAX_VALUE_LINES]
    if first.startswith("["):
        text = " ".join([first, *(_strip_comment(m.strip()) for m in more)])
        end = text.rfind("]")
        return _flow_items(text[: end + 1]) if end > 0 else None
    if first[:1] in ("|", ">"):
        lines = [m.strip() for m in more if m.strip()]
        return _string_words(" ".join(lines))
    if first:
        continued = [_strip_comment(m.strip()) for m in more if m.strip()]
        return _string_words(_unquote(" ".join([first, *continued])))
    items = [_strip_comment(m.strip()) for m in more if m.strip() and not m.strip().startswith("#")]
    if items and all(i.startswith("- ") or i == "-" for i in items):
        return [_unquote(i[1:]) for i in items]
    return None


def _services(lines: list[str]) -> Iterator[tuple[str, int, int, int]]:
    """(service name, its line index, first child index, end index) under top-level `services:`."""
    in_services = False
    current: tuple[str, int, int] | None = None  # name, index, indent
    for i, line in enumerate(lines):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        indent = _indent(line)
        if indent == 0:
            if current is not None:
                yield current[0], current[1], current[1] + 1, i
                current = None
            in_services = line.startswith("services:")
            continue
        if not in_services:
            continue
        match = _KEY.match(line.strip())
        if match and (current is None or indent <= current[2]):
            if current is not None:
                yield current[0], current[1], current[1] + 1, i
            current = (match.group(1), i, indent)
    if current is not None:
        yield current[0], current[1], current[1] + 1, len(lines)


def service_commands(text: str) -> list[ServiceCommand]:
    """Every service's start command, in file order. Services with neither key are left out."""
    if len(text) > MAX_BYTES:
        return []
    lines = text.replace("\t", " ").splitlines()
    found: list[ServiceCommand] = []
    for name, _at, start, end in _services(lines):
        body = lines[start:end]
        child = min((_indent(b) for b in body if b.strip() and not b.lstrip().startswith("#")), default=0)
        keys: dict[str, tuple[int, list[str]]] = {}
        for j, line in enumerate(body):
            if _indent(line) != child or not line.strip():
                continue
            match = _KEY.match(line.strip())
            if match and match.group(1) in ("command", "entrypoint"):
                words = _value(match.group(2), body[j + 1:], child)
                if words:
                    keys[match.group(1)] = (start + j + 1, [w.replace("$$", "$") for w in words])
        if not keys:
            continue
        line_no = keys.get("command", keys.get("entrypoint", (0, [])))[0]
        words = [*keys.get("entrypoint", (0, []))[1], *keys.get("command", (0, []))[1]]
        found.append(ServiceCommand(name, line_no, tuple(words)))
    return found
