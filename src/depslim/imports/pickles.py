"""Model and data files as evidence: loading a pickle imports every module its opcodes name.

A service that does `model = joblib.load("models/churn.joblib")` needs scikit-learn without a line
that imports it, and an image slimmed by the imports alone fails at start-up. The names are read
from the opcodes with `pickletools.genops` and a small simulation of the unpickler's stack and memo
(protocol 4 names a class with two strings on the stack, often fetched back from the memo).
Nothing is unpickled and nothing the file names is imported.

The content decides the format, never the suffix (`data/model_files.toml`): pickles of any
protocol, several in a row; joblib files, whose raw numpy array bytes sit inside the pickle stream
after each `NumpyArrayWrapper` and are skipped by the wrapper's own shape and dtype; zlib, gzip,
bz2, xz, lzma and zstd compression as `joblib.dump(..., compress=...)` writes it; torch.save's zip
format (`<name>/data.pkl`) and its legacy format (five pickles, then raw storages); dill and
cloudpickle pickles, which name `dill._dill` / `cloudpickle.cloudpickle` and the modules they
re-import by name.

Every read is bounded by `[model_files.limits]`: bytes read or decompressed per file, opcodes,
argument sizes, simulated stack and memo, zip directories. The bytes are untrusted, so a hostile,
truncated or garbage file ends as a warning naming it (or nothing, when it was never a pickle);
whatever it names before the problem is kept, as it is still evidence.
"""

from __future__ import annotations

import _compat_pickle
import bz2
import dataclasses
import gzip
import io
import lzma
import math
import pickletools
import struct
import sys
import zipfile
import zlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import IO, Any, BinaryIO, NamedTuple, Protocol, cast

from depslim.imports.contexts import ContextRules
from depslim.imports.walk import WalkedFile, walk_project
from depslim.knowledge import check_keys, load_data
from depslim.model import Context, Location, PickledFile, SignalPatterns

__all__ = [
    "Limits",
    "candidate_suffixes",
    "find_model_files",
    "is_model_candidate",
    "needed_modules",
    "scan_model_bytes",
    "scan_model_file",
    "scan_model_stream",
    "scan_models",
    "sniff",
]

_WHERE = "depslim/data/model_files.toml"
_Names = tuple[tuple[str, str], ...]  # (module, attribute) pairs, in the order first named
_CHUNK = 256 * 1024  # bytes pulled from a stream at a time
_STDLIB = frozenset(sys.stdlib_module_names)


# --------------------------------------------------------------------------- knowledge


@dataclass(frozen=True)
class Limits:
    """Per-file bounds (`[model_files.limits]`); tests and image scans may pass tighter ones."""

    max_files: int
    max_read_bytes: int
    max_arg_bytes: int
    max_line_bytes: int
    max_opcodes: int
    max_pickles: int
    max_stack: int
    max_memo: int
    max_names: int
    max_zip_entries: int
    max_zip_members: int
    max_string_chars: int
    max_container_items: int


class _Magic(NamedTuple):
    format: str
    prefixes: tuple[bytes, ...]
    unsupported: str


class _Knowledge(NamedTuple):
    suffixes: tuple[str, ...]  # every model suffix, alone and followed by a compression suffix
    pickle0_first: frozenset[int]
    zip_member_suffixes: tuple[str, ...]
    magic: tuple[_Magic, ...]
    ignored_modules: frozenset[str]
    importers: frozenset[str]
    constructors: frozenset[str]
    array_wrappers: frozenset[str]
    dtype_factors: Mapping[str, int]
    dtype_object: frozenset[str]
    dtype_object_flag: int
    torch_legacy_magic: int
    torch_legacy_pickles: int
    limits: Limits


@cache
def _knowledge() -> _Knowledge:
    """model_files.toml, validated once per process."""
    data = load_data("model_files").get("model_files", {})
    check_keys(
        data,
        required=("suffixes", "compressed", "pickle0_first_bytes", "zip_member_suffixes", "magic", "pickle", "limits"),
        where=f"{_WHERE} [model_files]",
    )
    pickle_keys = (
        "ignored_modules", "importers", "constructors", "array_wrappers", "dtype_factors", "dtype_object",
        "dtype_object_flag", "torch_legacy_magic", "torch_legacy_pickles",
    )
    check_keys(data["pickle"], required=pickle_keys, where=f"{_WHERE} [model_files.pickle]")
    limit_names = [f.name for f in dataclasses.fields(Limits)]
    check_keys(data["limits"], required=limit_names, where=f"{_WHERE} [model_files.limits]")
    magic = []
    for i, raw in enumerate(data["magic"]):
        check_keys(raw, required=("format", "prefixes"), optional=("unsupported",), where=f"{_WHERE} magic #{i + 1}")
        prefixes = tuple(bytes.fromhex(p) for p in raw["prefixes"])
        magic.append(_Magic(raw["format"], prefixes, raw.get("unsupported", "")))
    base = tuple(s.lower() for s in data["suffixes"])
    pickle = data["pickle"]
    return _Knowledge(
        suffixes=base + tuple(s + c.lower() for s in base for c in data["compressed"]),
        pickle0_first=frozenset(data["pickle0_first_bytes"].encode("latin-1")),
        zip_member_suffixes=tuple(data["zip_member_suffixes"]),
        magic=tuple(magic),
        ignored_modules=frozenset(pickle["ignored_modules"]),
        importers=frozenset(pickle["importers"]),
        constructors=frozenset(pickle["constructors"]),
        array_wrappers=frozenset(pickle["array_wrappers"]),
        dtype_factors=dict(pickle["dtype_factors"]),
        dtype_object=frozenset(pickle["dtype_object"]),
        dtype_object_flag=int(pickle["dtype_object_flag"]),
        torch_legacy_magic=int(pickle["torch_legacy_magic"], 0),
        torch_legacy_pickles=int(pickle["torch_legacy_pickles"]),
        limits=Limits(**{name: int(data["limits"][name]) for name in limit_names}),
    )


@cache
def loader_patterns() -> SignalPatterns:
    """What the scan must report to tell a model load of known origin from an unknown one:
    the loading calls, and string literals that name model files (`[loaders]`)."""
    data = load_data("model_files").get("loaders", {})
    check_keys(data, required=("attributes", "string"), where=f"{_WHERE} [loaders]")
    return SignalPatterns(attributes=frozenset(data["attributes"]), strings=(data["string"],))


def model_call_patterns() -> SignalPatterns:
    """Loaders and writers together: what the scan reports for `core` to weigh a model's origin."""
    loaders = loader_patterns()
    return SignalPatterns(attributes=loaders.attributes | writer_patterns().attributes, strings=loaders.strings)


@dataclass(frozen=True)
class Writers:
    """Calls that write a pickled model, and the libraries such a model's objects come from."""

    attributes: frozenset[str]
    libraries: frozenset[str]


@cache
def writer_patterns() -> Writers:
    """`[writers]`: what tells which model libraries an unshipped model may hold (see core.model_writer_needs)."""
    data = load_data("model_files").get("writers", {})
    check_keys(data, required=("attributes", "libraries"), where=f"{_WHERE} [writers]")
    return Writers(frozenset(data["attributes"]), frozenset(data["libraries"]))


def candidate_suffixes() -> tuple[str, ...]:
    """Lower-cased name endings that make a file worth sniffing (`churn.pkl`, `model.joblib.gz`)."""
    return _knowledge().suffixes


def is_model_candidate(name: str) -> bool:
    """Is a file of this name worth sniffing? (Its content decides whether it is read.)"""
    return name.lower().endswith(_knowledge().suffixes)


def sniff(head: bytes) -> str:
    """The format a file's first bytes announce: a `magic` format, "pickle0" for a protocol 0/1
    opener (a guess, confirmed only by reading), or "" for anything else."""
    for magic in _knowledge().magic:
        if head.startswith(magic.prefixes):
            return magic.format
    return "pickle0" if head[:1] and head[0] in _knowledge().pickle0_first else ""


def needed_modules(names: Iterable[tuple[str, str]]) -> tuple[str, ...]:
    """Top-level modules a loader must import that the standard library does not provide."""
    ignored = _knowledge().ignored_modules
    tops = {module.partition(".")[0] for module, _ in names}
    return tuple(sorted(t for t in tops if t not in _STDLIB and t not in ignored))


# --------------------------------------------------------------------------- bounded reading


class _Stop(Exception):
    """The file cannot be read further; the message says why (it becomes the warning)."""


class _LimitReached(_Stop):
    """A per-file bound was hit."""


class _Readable(Protocol):
    def read(self, size: int, /) -> bytes: ...


class _Skipped(bytes):
    """An opcode argument too long to hold: `pickletools` only checks its length, and its content
    is empty, so a skipped string decodes to "" and skipped bytes are never kept in memory."""

    length: int

    def __new__(cls, length: int) -> _Skipped:
        self = super().__new__(cls)
        self.length = length
        return self

    def __len__(self) -> int:
        return self.length


class _Budget:
    """What one file may still cost: bytes pulled by all its readers together (the file, its
    decompressed stream, its zip members), and opcodes."""

    __slots__ = ("bytes_left", "limits", "opcodes_left")

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.bytes_left = limits.max_read_bytes
        self.opcodes_left = limits.max_opcodes


class _Reader:
    """An untrusted stream read forward under the file's budget, never holding more than a chunk.

    `seek` passes over array bytes only for plain files and memory (`seekable=True`): a
    decompressing stream that claims to seek would inflate everything behind the budget's back.
    """

    def __init__(self, raw: _Readable, budget: _Budget, seekable: bool = False) -> None:
        self._raw = raw
        self._budget = budget
        self._limits = budget.limits
        self._buf = b""
        self._off = 0
        self._pos = 0  # stream position of _buf[0], from where reading started
        self._end: int | None = None  # stream length from there, when seeking is allowed
        if seekable and isinstance(raw, io.IOBase):
            start = raw.tell()
            self._end = raw.seek(0, io.SEEK_END) - start
            raw.seek(start)

    def tell(self) -> int:
        return self._pos + self._off

    def _pull(self, size: int) -> bytes:
        budget = self._budget
        if budget.bytes_left <= 0:
            if self._raw.read(1):
                raise _LimitReached(f"stopped after reading {self._limits.max_read_bytes} bytes (limit)")
            return b""
        data = self._raw.read(min(size, budget.bytes_left))
        budget.bytes_left -= len(data)
        return data

    def _fill(self, size: int) -> int:
        """Make `size` bytes available from the current position if the stream has them."""
        have = len(self._buf) - self._off
        if have >= size:
            return have
        parts = [self._buf[self._off :]] if have else []
        self._pos += self._off
        self._off = 0
        while have < size:
            chunk = self._pull(max(size - have, _CHUNK))
            if not chunk:
                break
            parts.append(chunk)
            have += len(chunk)
        self._buf = b"".join(parts)
        return have

    def peek(self, size: int) -> bytes:
        self._fill(size)
        return self._buf[self._off : self._off + size]

    def read(self, size: int, /) -> bytes:
        """What `pickletools.genops` reads through: an opcode or its argument. One longer than
        `max_arg_bytes` (array and tensor bytes, long strings) is skipped, never held whole."""
        start = self._off
        end = start + size
        if size >= 0 and end <= len(self._buf):  # the common case: already buffered
            self._off = end
            return self._buf[start:end]
        if size > self._limits.max_arg_bytes:
            return _Skipped(self.skip(size))
        return self.chunk(size)

    def chunk(self, size: int, /) -> bytes:
        """At most `size` bytes (fewer at the end): what a decompressor reads its input with."""
        size = min(max(size, 0), 4 * _CHUNK)
        self._fill(size)
        start = self._off
        self._off = min(start + size, len(self._buf))
        return self._buf[start : self._off]

    def readline(self) -> bytes:
        """One protocol-0 text argument, refused past `max_line_bytes` instead of buffered."""
        limit = self._limits.max_line_bytes
        while True:
            end = self._buf.find(b"\n", self._off, self._off + limit)
            if end >= 0:
                line = self._buf[self._off : end + 1]
                self._off = end + 1
                return line
            have = len(self._buf) - self._off
            if have >= limit:
                raise _Stop(f"a text argument at byte {self.tell()} is longer than {limit} bytes")
            if self._fill(have + 1) == have:
                return self.chunk(have)

    def skip(self, size: int) -> int:
        """Pass over `size` bytes without keeping them; returns how many the stream had."""
        have = len(self._buf) - self._off
        if size <= have:
            self._off += size
            return size
        self._pos += len(self._buf)
        self._buf, self._off = b"", 0
        rest = size - have
        if self._end is not None and isinstance(self._raw, io.IOBase):
            step = max(0, min(rest, self._end - self._pos))
            self._raw.seek(step, io.SEEK_CUR)
            self._pos += step
            return have + step
        done = have
        while rest > 0:
            chunk = self._pull(min(rest, _CHUNK))
            if not chunk:
                break
            done += len(chunk)
            rest -= len(chunk)
            self._pos += len(chunk)
        return done


class _Source:
    """A reader as a decompressor's input file: plain chunks, no argument skipping."""

    def __init__(self, reader: _Reader) -> None:
        self.read = reader.chunk


class _Inflate:
    """A zlib stream (joblib's compress="zlib") as a file, inflating at most `size` bytes per read."""

    def __init__(self, source: _Reader) -> None:
        self._source = source
        self._inflater = zlib.decompressobj()

    def read(self, size: int, /) -> bytes:
        while not self._inflater.eof:
            data = self._inflater.unconsumed_tail or self._source.chunk(_CHUNK)
            if not data:
                raise EOFError("the compressed stream ends early")
            out = self._inflater.decompress(data, max(1, size))
            if out:
                return out
        return b""


def _as_file(stream: _Reader | _Source) -> IO[bytes]:
    """Our readers where a binary file is expected: the decompressors and `genops` only read
    forward (read, readline, tell), which is all these offer."""
    return cast("IO[bytes]", stream)


def _zstd(source: _Reader) -> _Readable:
    import zstandard  # a dependency already (image layers); loaded only for a zstd file

    reader: _Readable = zstandard.ZstdDecompressor().stream_reader(_as_file(_Source(source)), read_across_frames=True)
    return reader


def _lzma(source: _Reader) -> _Readable:
    return lzma.LZMAFile(_as_file(_Source(source)), format=lzma.FORMAT_AUTO)  # .xz and joblib's .lzma


# Each wraps the file's reader; none is closed explicitly: closing them never closes the source.
_DECOMPRESSORS: dict[str, Callable[[_Reader], _Readable]] = {
    "zlib": _Inflate,
    "gzip": lambda source: gzip.GzipFile(fileobj=_as_file(_Source(source)), mode="rb"),
    "bz2": lambda source: bz2.BZ2File(_as_file(_Source(source))),
    "xz": _lzma,
    "lzma": _lzma,
    "zstd": _zstd,
}


# --------------------------------------------------------------------------- opcode simulation


class _Unknown:
    """A value the simulation does not follow (floats, bytes, lists, anything built by a call)."""

    def __repr__(self) -> str:
        return "?"


_UNKNOWN: Any = _Unknown()


class _Global:
    """A class or function the pickle names (not a tuple: tuples on the stack are data)."""

    __slots__ = ("dotted", "module", "name")

    def __init__(self, module: str, name: str) -> None:
        self.module, self.name, self.dotted = module, name, f"{module}.{name}"


class _Object:
    """What REDUCE/NEWOBJ/INST/OBJ build: the callable or class, its arguments, then BUILD's state."""

    __slots__ = ("args", "kind", "state")

    def __init__(self, kind: Any, args: Any) -> None:
        self.kind, self.args, self.state = kind, args, _UNKNOWN


class _ArrayLayout(NamedTuple):
    """What joblib wrote after a NumpyArrayWrapper's BUILD."""

    nbytes: int  # raw array bytes
    padded: bool  # a padding-length byte and that much padding come first
    nested: bool  # an object array: a whole nested pickle instead of raw bytes


def _dotted_name(text: str) -> bool:
    return bool(text) and all(part.isidentifier() for part in text.split("."))


class _Found:
    """What one file's pickles named so far, shared by every pickle read from it."""

    __slots__ = ("budget", "dropped", "names", "unresolved")

    def __init__(self, budget: _Budget) -> None:
        self.budget = budget
        self.names: dict[tuple[str, str], None] = {}
        self.unresolved = 0
        self.dropped = 0

    def add(self, module: str, name: str) -> None:
        """Record a name the unpickler would import; garbage that cannot be a module is dropped."""
        if not _dotted_name(module):
            return
        key = (module, name if _dotted_name(name) else "")
        if key in self.names:
            return
        if len(self.names) >= self.budget.limits.max_names:
            self.dropped += 1
            return
        self.names[key] = None


class _Machine:
    """The unpickler's stack and memo, holding only what a module name or a joblib array layout
    can come from (short strings, ints, tuples, string-keyed dicts, globals, built objects)."""

    def __init__(self, knows: _Knowledge, found: _Found, arrays: bool) -> None:
        self.knows = knows
        self.limits = found.budget.limits
        self.found = found
        self.arrays = arrays  # follow joblib's arrays (off in the nested pickle of an object array)
        self.stack: list[Any] = []
        self.marks: list[int] = []
        self.memo: dict[int, Any] = {}
        self.memo_len = 0
        self.proto = 0
        self.result: Any = _UNKNOWN
        self.pending: _ArrayLayout | str | None = None

    # --- the loop

    def run(self, reader: _Reader) -> None:
        """Read one pickle, up to and including its STOP."""
        limits, budget = self.limits, self.found.budget
        for op, arg, _pos in pickletools.genops(_as_file(reader)):
            budget.opcodes_left -= 1
            if budget.opcodes_left < 0:
                raise _LimitReached(f"stopped after {limits.max_opcodes} opcodes (limit)")
            self.step(op.name, arg)
            if len(self.stack) > limits.max_stack:
                raise _LimitReached(f"stack deeper than {limits.max_stack} (limit)")
            if self.pending is not None:
                self._pass_array(reader)

    def step(self, name: str, arg: Any) -> None:
        to_mark, n_pop, handler = _OPS[name]
        items = self._pop_mark() if to_mark else _NOTHING
        popped = self._pop(n_pop, name) if n_pop else _NOTHING
        handler(self, arg, popped, items)

    def _pop(self, count: int, name: str) -> list[Any]:
        stack = self.stack
        if len(stack) - (self.marks[-1] if self.marks else 0) < count:
            raise _Stop(f"{name} needs {count} stack item(s) that are not there")
        popped = stack[-count:]
        del stack[-count:]
        return popped

    def _pop_mark(self) -> list[Any]:
        if not self.marks:
            raise _Stop("an opcode needs a MARK that is not there")
        start = self.marks.pop()
        items = self.stack[start:]
        del self.stack[start:]
        return items

    def _put(self, index: int, value: Any) -> None:
        """Memoize the values a later opcode may fetch back; past `max_memo` stop remembering
        (a name resolved from a forgotten entry is then counted as unresolved, not guessed)."""
        self.memo_len = max(self.memo_len, index + 1)
        if value is not _UNKNOWN and len(self.memo) < self.limits.max_memo:
            self.memo[index] = value

    # --- names

    def name(self, module: Any, name: Any) -> Any:
        """A global as the unpickler resolves it (Python 2 names renamed under protocol < 3)."""
        if not isinstance(module, str) or not isinstance(name, str):
            self.found.unresolved += 1
            return _UNKNOWN
        if self.proto < 3:
            if (module, name) in _compat_pickle.NAME_MAPPING:
                module, name = _compat_pickle.NAME_MAPPING[(module, name)]
            elif module in _compat_pickle.IMPORT_MAPPING:
                module = _compat_pickle.IMPORT_MAPPING[module]
        self.found.add(module, name)
        return _Global(module, name)

    def call(self, kind: Any, args: Any) -> _Object:
        """REDUCE: a call of a known importer (cloudpickle's `subimport`) imports its argument."""
        importer = isinstance(kind, _Global) and kind.dotted in self.knows.importers
        if importer and isinstance(args, tuple) and args and isinstance(args[0], str):
            self.found.add(args[0], "")
        return _Object(kind, args)

    # --- joblib arrays

    def built(self, obj: Any) -> None:
        """After BUILD: is this joblib's array wrapper, with the array's bytes right behind it?"""
        if not self.arrays or not isinstance(obj, _Object):
            return
        kind = obj.kind
        if isinstance(kind, _Global) and kind.dotted in self.knows.constructors:
            kind = obj.args[0] if isinstance(obj.args, tuple) and obj.args else _UNKNOWN
        if isinstance(kind, _Global) and kind.dotted in self.knows.array_wrappers:
            self.pending = _array_layout(obj.state, self.knows)

    def _pass_array(self, reader: _Reader) -> None:
        layout, self.pending = self.pending, None
        if isinstance(layout, str):
            raise _Stop(f"joblib array of unknown size at byte {reader.tell()} ({layout})")
        assert layout is not None
        if layout.nested:
            _Machine(self.knows, self.found, arrays=False).run(reader)
            return
        if layout.padded:
            pad = reader.read(1)
            if not pad or reader.skip(pad[0]) < pad[0]:
                raise _Stop("the file ends inside joblib array padding")
        if reader.skip(layout.nbytes) < layout.nbytes:
            raise _Stop(f"the file ends inside joblib array data ({layout.nbytes} bytes announced)")


def _tuple(machine: _Machine, values: Sequence[Any]) -> Any:
    return tuple(values) if len(values) <= machine.limits.max_container_items else _UNKNOWN


def _set_items(machine: _Machine, target: Any, values: Sequence[Any]) -> None:
    if len(values) % 2:
        raise _Stop("SETITEMS with an odd number of items")
    if isinstance(target, dict):
        for key, value in zip(values[::2], values[1::2], strict=True):
            if isinstance(key, str) and len(target) < machine.limits.max_container_items:
                target[key] = value
    machine.stack.append(target)


def _op_global(m: _Machine, arg: Any, popped: list[Any], items: list[Any]) -> None:
    module, _, name = str(arg).partition(" ")
    m.stack.append(m.name(module, name))


def _op_inst(m: _Machine, arg: Any, popped: list[Any], items: list[Any]) -> None:
    module, _, name = str(arg).partition(" ")
    m.stack.append(_Object(m.name(module, name), _tuple(m, items)))


def _op_obj(m: _Machine, arg: Any, popped: list[Any], items: list[Any]) -> None:
    if not items:
        raise _Stop("OBJ without a class")
    m.stack.append(_Object(items[0], _tuple(m, items[1:])))


def _op_stop(m: _Machine, arg: Any, popped: list[Any], items: list[Any]) -> None:
    m.result = popped[0]


def _op_pop(m: _Machine) -> None:
    """POP drops the top item, or the MARK itself when nothing is above it (as the unpickler)."""
    if len(m.stack) > (m.marks[-1] if m.marks else 0):
        m.stack.pop()
    else:
        m._pop_mark()


def _op_string(m: _Machine, arg: Any, popped: list[Any], items: list[Any]) -> None:
    m.stack.append(arg if len(arg) <= m.limits.max_string_chars else _UNKNOWN)


def _op_memoize(m: _Machine, arg: Any, popped: list[Any], items: list[Any]) -> None:
    m._put(m.memo_len, popped[0])
    m.stack.append(popped[0])


def _op_put(m: _Machine, arg: Any, popped: list[Any], items: list[Any]) -> None:
    if len(m.stack) <= (m.marks[-1] if m.marks else 0):
        raise _Stop("PUT on an empty stack")
    m._put(arg, m.stack[-1])


def _op_get(m: _Machine, arg: Any, popped: list[Any], items: list[Any]) -> None:
    if not 0 <= arg < m.memo_len:
        raise _Stop(f"GET {arg}: no such memo entry")
    m.stack.append(m.memo.get(arg, _UNKNOWN))


_Handler = Callable[[_Machine, Any, list[Any], list[Any]], None]
_HANDLERS: dict[str, _Handler] = {
    **dict.fromkeys(
        ("SHORT_BINUNICODE", "BINUNICODE", "BINUNICODE8", "UNICODE", "STRING", "BINSTRING", "SHORT_BINSTRING"),
        _op_string,
    ),
    **dict.fromkeys(
        ("INT", "BININT", "BININT1", "BININT2", "LONG", "LONG1", "LONG4"),
        lambda m, arg, popped, items: m.stack.append(arg),
    ),
    "NONE": lambda m, arg, popped, items: m.stack.append(None),
    "NEWTRUE": lambda m, arg, popped, items: m.stack.append(True),
    "NEWFALSE": lambda m, arg, popped, items: m.stack.append(False),
    "EMPTY_TUPLE": lambda m, arg, popped, items: m.stack.append(()),
    "MEMOIZE": _op_memoize,
    **dict.fromkeys(("PUT", "BINPUT", "LONG_BINPUT"), _op_put),
    **dict.fromkeys(("GET", "BINGET", "LONG_BINGET"), _op_get),
    "PROTO": lambda m, arg, popped, items: setattr(m, "proto", int(arg)),
    "MARK": lambda m, arg, popped, items: m.marks.append(len(m.stack)),
    "POP": lambda m, arg, popped, items: _op_pop(m),
    "DUP": lambda m, arg, popped, items: m.stack.extend(popped * 2),
    "TUPLE": lambda m, arg, popped, items: m.stack.append(_tuple(m, items)),
    "TUPLE1": lambda m, arg, popped, items: m.stack.append(tuple(popped)),
    "TUPLE2": lambda m, arg, popped, items: m.stack.append(tuple(popped)),
    "TUPLE3": lambda m, arg, popped, items: m.stack.append(tuple(popped)),
    "EMPTY_DICT": lambda m, arg, popped, items: m.stack.append({}),
    "DICT": lambda m, arg, popped, items: _set_items(m, {}, items),
    "SETITEM": lambda m, arg, popped, items: _set_items(m, popped[0], popped[1:]),
    "SETITEMS": lambda m, arg, popped, items: _set_items(m, popped[0], items),
    "GLOBAL": _op_global,
    "STACK_GLOBAL": lambda m, arg, popped, items: m.stack.append(m.name(popped[0], popped[1])),
    "INST": _op_inst,
    "OBJ": _op_obj,
    "REDUCE": lambda m, arg, popped, items: m.stack.append(m.call(popped[0], popped[1])),
    "NEWOBJ": lambda m, arg, popped, items: m.stack.append(_Object(popped[0], popped[1])),
    "NEWOBJ_EX": lambda m, arg, popped, items: m.stack.append(_Object(popped[0], popped[1])),
    "BUILD": lambda m, arg, popped, items: _op_build(m, popped[0], popped[1]),
    "STOP": _op_stop,
}


def _unknowns(count: int) -> _Handler:
    """Any other opcode: what it pushes is not followed (floats, bytes, lists, sets, buffers...)."""
    pushed = [_UNKNOWN] * count
    return lambda m, arg, popped, items: m.stack.extend(pushed)


def _opcode_table() -> dict[str, tuple[bool, int, _Handler]]:
    """Per opcode: pops to a MARK first, items popped after that (from pickletools' own stack
    descriptions, read as `pickletools.dis` reads them), and what it does."""
    table = {}
    for op in pickletools.opcodes:
        before = op.stack_before
        to_mark = pickletools.markobject in before
        popped = before.index(pickletools.markobject) if to_mark else len(before)
        table[op.name] = (to_mark, popped, _HANDLERS.get(op.name) or _unknowns(len(op.stack_after)))
    for name in ("MARK", "POP"):  # marks are kept as indices, as the unpickler's metastack
        table[name] = (False, 0, _HANDLERS[name])
    return table


_OPS = _opcode_table()
_NOTHING: list[Any] = []


def _op_build(m: _Machine, obj: Any, state: Any) -> None:
    if isinstance(obj, _Object):
        obj.state = state
        m.built(obj)
    m.stack.append(obj)


def _itemsize(dtype: Any, knows: _Knowledge) -> tuple[int, bool] | str:
    """(bytes per item, holds Python objects) of a pickled numpy dtype: `numpy.dtype('f8', ...)`
    then BUILD with `(version, endian, subarray, names, fields, elsize, alignment, flags, ...)`."""
    if not isinstance(dtype, _Object) or not isinstance(dtype.args, tuple) or not dtype.args:
        return "dtype not read"
    code = dtype.args[0]
    if not isinstance(code, str):
        return "dtype code not read"
    code = code.lstrip("<>|=")
    state = dtype.state
    elsize, flags = -1, 0
    if isinstance(state, tuple) and len(state) >= 8:
        elsize = state[5] if isinstance(state[5], int) else -1
        flags = state[7] if isinstance(state[7], int) else 0
    kind, digits = code[:1], code[1:]
    if kind in knows.dtype_object or flags & knows.dtype_object_flag:
        return 0, True
    if elsize > 0:
        return elsize, False
    factor = knows.dtype_factors.get(kind)
    if factor is None or not digits.isdigit():
        return f"dtype {code!r}"
    return int(digits) * factor, False


def _array_layout(state: Any, knows: _Knowledge) -> _ArrayLayout | str:
    """Where the array behind a NumpyArrayWrapper ends, from the wrapper's state (a reason when
    it cannot be told: the rest of the stream is then not read rather than misread)."""
    if not isinstance(state, dict):
        return "wrapper state not read"
    shape = state.get("shape")
    if not isinstance(shape, tuple) or not all(type(d) is int and d >= 0 for d in shape):
        return "shape not read"
    size = _itemsize(state.get("dtype"), knows)
    if isinstance(size, str):
        return size
    itemsize, has_object = size
    alignment = state.get("numpy_array_alignment_bytes")
    if alignment is _UNKNOWN:
        return "alignment not read"
    return _ArrayLayout(math.prod(shape) * itemsize, padded=alignment is not None, nested=has_object)


# --------------------------------------------------------------------------- formats


def _read_pickles(reader: _Reader, found: _Found, where: str, announced: bool, problems: list[str]) -> str:
    """Every pickle in a row from `reader`; returns the format read ("" when it was no pickle).

    `announced` is False for a protocol 0/1 guess: a failure before it names anything means it
    was never a pickle, which is not worth a warning. `where` prefixes problems (a zip member).
    """
    knows = _knowledge()
    limits = found.budget.limits
    fmt, most = "pickle", limits.max_pickles
    for count in range(1, limits.max_pickles + 1):
        before = len(found.names)
        machine = _Machine(knows, found, arrays=True)
        try:
            machine.run(reader)
        except _LimitReached as exc:
            problems.append(f"{where}{exc}; modules named after byte {reader.tell()} were not read")
            return fmt
        except Exception as exc:  # untrusted bytes: whatever stops the reading is the file's doing
            if count == 1 and not announced and len(found.names) == before:
                return ""
            problems.append(f"{where}unreadable pickle at byte {reader.tell()}: {_reason(exc)}")
            return fmt
        if count == 1 and type(machine.result) is int and machine.result == knows.torch_legacy_magic:
            fmt, most = "torch-legacy", knows.torch_legacy_pickles
        if count >= most or sniff(reader.peek(8)) != "pickle":
            return fmt
    problems.append(f"{where}more than {limits.max_pickles} pickles in a row (limit); the rest were not read")
    return fmt


def _reason(exc: BaseException) -> str:
    """The exception, named: a `ValueError` from pickletools is the file's; a `TypeError` would
    be ours, and the property tests look for such names."""
    text = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    return text if len(text) <= 200 else text[:197] + "..."


def _zip_directory(stream: BinaryIO) -> tuple[int, int] | None:
    """(entries, central directory bytes) from the end records, before zipfile reads them all."""
    end = stream.seek(0, io.SEEK_END)
    tail_len = min(end, 22 + 65535)
    stream.seek(end - tail_len)
    tail = stream.read(tail_len)
    at = tail.rfind(b"PK\x05\x06")
    if at < 0 or len(tail) - at < 22:
        return None
    entries, size = struct.unpack_from("<HI", tail, at + 10)
    if (entries == 0xFFFF or size == 0xFFFFFFFF) and at >= 20 and tail[at - 20 : at - 16] == b"PK\x06\x07":
        (offset,) = struct.unpack_from("<Q", tail, at - 12)
        if 0 <= offset <= end - 56:
            stream.seek(offset)
            record = stream.read(56)
            if record[:4] == b"PK\x06\x06":
                entries, size = struct.unpack_from("<QQ", record, 32)
    return entries, size


def _read_zip(stream: BinaryIO, found: _Found, problems: list[str]) -> str:
    """torch.save's zip: its pickle members, each read as a stream (never extracted whole)."""
    limits = found.budget.limits
    directory = _zip_directory(stream)
    if directory is not None and (directory[0] > limits.max_zip_entries or directory[1] > 512 * limits.max_zip_entries):
        problems.append(f"zip directory of {directory[0]} entries (limit {limits.max_zip_entries}); not read")
        return "zip"
    stream.seek(0)
    suffixes = _knowledge().zip_member_suffixes
    with zipfile.ZipFile(stream) as archive:
        # (Not ZipInfo.is_dir: it raises on a hostile empty name; a "/"-ended name never ends in .pkl.)
        members = [i for i in archive.infolist() if i.filename.lower().endswith(suffixes)]
        if len(members) > limits.max_zip_members:
            problems.append(f"{len(members)} pickle members, only {limits.max_zip_members} read (limit)")
        for info in members[: limits.max_zip_members]:
            with archive.open(info) as member:
                reader = _Reader(member, found.budget)
                kind = sniff(reader.peek(8))
                if kind in ("pickle", "pickle0"):
                    _read_pickles(reader, found, f"{info.filename}: ", kind == "pickle", problems)
    return "zip"


def _read_stream(reader: _Reader, stream: BinaryIO | None, found: _Found, problems: list[str]) -> str:
    """Dispatch on the first bytes; `stream` is the seekable original a zip needs (None: none)."""
    kind = sniff(reader.peek(8))
    magic = next((m for m in _knowledge().magic if m.format == kind), None)
    if magic is not None and magic.unsupported:
        problems.append(magic.unsupported)
        return kind
    if kind == "zip":
        if stream is None:
            problems.append("a zip archive needs a seekable stream; not read")
            return kind
        return _read_zip(stream, found, problems)
    if kind in _DECOMPRESSORS:
        inner = _Reader(_DECOMPRESSORS[kind](reader), found.budget)
        inner_kind = sniff(inner.peek(8))
        if inner_kind not in ("pickle", "pickle0"):
            return ""  # compressed, but not a pickle (a .csv.gz, a tarball)
        fmt = _read_pickles(inner, found, "", inner_kind == "pickle", problems)
        return f"{kind}+{fmt}" if fmt else ""
    if kind in ("pickle", "pickle0"):
        return _read_pickles(reader, found, "", kind == "pickle", problems)
    return ""


def _scan(stream: BinaryIO, limits: Limits | None, seekable: bool) -> tuple[str, _Names, list[str]]:
    """(format, names, problems) of one stream; never raises on its content."""
    found = _Found(_Budget(limits or _knowledge().limits))
    problems: list[str] = []
    fmt = ""
    try:
        reader = _Reader(stream, found.budget, seekable=seekable)
        fmt = _read_stream(reader, stream if seekable else None, found, problems)
    except _Stop as exc:
        problems.append(str(exc))
    except Exception as exc:  # untrusted bytes (and the containers around them): never a traceback
        problems.append(f"unreadable: {_reason(exc)}")
    if found.unresolved:
        problems.append(f"{found.unresolved} class reference(s) whose names could not be followed")
    if found.dropped:
        problems.append(f"more than {found.budget.limits.max_names} names (limit); {found.dropped} not kept")
    return fmt, tuple(found.names), problems


def _result(label: str, fmt: str, names: _Names) -> PickledFile:
    return PickledFile(Location(label, 0), Context.RUNTIME, fmt, names, needed_modules(names))


# --------------------------------------------------------------------------- entry points


def scan_model_stream(
    stream: BinaryIO, name: str, *, seekable: bool = False, limits: Limits | None = None
) -> tuple[PickledFile, tuple[str, ...]]:
    """The names one file's pickles hold, from an open binary stream (an image's tar member).

    `seekable=True` lets array bytes be passed by seeking and a zip be opened. Returns the file
    (labelled `name`, context runtime: the caller knows better) and warnings "name: problem".
    Never raises on the stream's content.
    """
    fmt, names, problems = _scan(stream, limits, seekable)
    return _result(name, fmt, names), tuple(f"{name}: {p}" for p in problems)


def scan_model_bytes(data: bytes, name: str, limits: Limits | None = None) -> tuple[PickledFile, tuple[str, ...]]:
    """`scan_model_stream` over bytes already in memory (a file read out of an image)."""
    return scan_model_stream(io.BytesIO(data), name, seekable=True, limits=limits)


def _scan_path(path: str, rel: str, limits: Limits | None) -> tuple[PickledFile, list[str]]:
    try:
        with open(path, "rb") as handle:
            fmt, names, problems = _scan(handle, limits, seekable=True)
    except OSError as exc:
        return _result(rel, "", ()), [f"cannot read: {exc.strerror or exc}"]
    return _result(rel, fmt, names), problems


def scan_model_file(path: str | Path, rel: str, limits: Limits | None = None) -> tuple[PickledFile, tuple[str, ...]]:
    """One project file, labelled `rel` in the result and in its warnings ("rel: problem")."""
    result, problems = _scan_path(str(path), rel, limits)
    return result, tuple(f"{rel}: {p}" for p in problems)


def find_model_files(root: Path, exclude: Sequence[str] = ()) -> list[WalkedFile]:
    """Candidate model files under `root`, with the source walk's exclusions (VCS folders, venvs,
    site-packages, node_modules, __pypackages__, .gitignore, `exclude`)."""
    return walk_project(root, exclude, candidate_suffixes()).models


def scan_models(
    files: Sequence[WalkedFile], rules: ContextRules, limits: Limits | None = None
) -> tuple[tuple[PickledFile, ...], tuple[str, ...]]:
    """The project's model files that name modules, each with its context, and the warnings
    ("rel:0: problem", as the scan's). Runtime files are read first, so the `max_files` bound
    never hides a runtime need behind test fixtures; files that name nothing are left out.
    """
    bound = (limits or _knowledge().limits).max_files
    ordered = sorted(files, key=lambda f: (rules.context_of(f.rel) is not Context.RUNTIME, f.rel))
    found: list[PickledFile] = []
    warnings: list[str] = []
    for walked in ordered[:bound]:
        result, problems = _scan_path(walked.path, walked.rel, limits)
        warnings += [f"{walked.rel}:0: {p}" for p in problems]
        if result.names:
            found.append(dataclasses.replace(result, context=rules.context_of(walked.rel)))
    if len(ordered) > bound:
        warnings.append(f"{ordered[bound].rel}:0: {len(ordered) - bound} more model files not read (limit {bound})")
    return tuple(sorted(found, key=lambda f: f.location)), tuple(warnings)
