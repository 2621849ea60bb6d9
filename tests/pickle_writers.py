"""Writes real model files with the real libraries, and what the real unpicklers look up in them.

Run as `python pickle_writers.py OUT_DIR` with PYTHONPATH holding the test's on-disk packages:
`acme_models` (classes a project defines) and a stand-in `torch` (the two names torch.save pickles
by reference). A subprocess keeps both out of the test process.

Every file is then loaded back by the library's own unpickler with `find_class` recorded: that list
(`oracle.json`, file -> [[module, name], ...]) is what depslim must find without unpickling.
"""

from __future__ import annotations

import _compat_pickle
import collections
import io
import json
import pickle
import struct
import sys
import zipfile
from pathlib import Path
from typing import Any, ClassVar

import joblib
import joblib.numpy_pickle
import numpy as np
import torch  # the stand-in
import torch._utils
from acme_models import estimators

Names = list[tuple[str, str]]


def fixed(proto: int, module: str, name: str) -> tuple[str, str]:
    """What the unpickler resolves a raw name to (its Python 2 renames under protocol < 3)."""
    if proto < 3:
        if (module, name) in _compat_pickle.NAME_MAPPING:
            return _compat_pickle.NAME_MAPPING[(module, name)]
        module = _compat_pickle.IMPORT_MAPPING.get(module, module)
    return module, name


def recording(base: type, proto: int) -> Any:
    """`base` with every find_class call recorded in `seen` (as resolved, see `fixed`)."""

    class Recording(base):  # type: ignore[misc, valid-type]
        seen: ClassVar[Names] = []

        def find_class(self, module: str, name: str) -> Any:
            Recording.seen.append(fixed(proto, module, name))
            return super().find_class(module, name)

        def persistent_load(self, pid: Any) -> Any:
            return None  # torch's storages: not needed to learn the names

    return Recording


def load_all(data: bytes, base: type, count: int = 1) -> Names:
    proto = data[1] if data[:1] == b"\x80" else 0  # the C unpickler does not say
    unpickler = recording(base, proto)
    stream = io.BytesIO(data)
    for _ in range(count):
        unpickler(stream).load()
    return unpickler.seen


def joblib_names(path: Path) -> Names:
    seen: Names = []
    original = joblib.numpy_pickle.NumpyUnpickler.find_class

    def find_class(self: Any, module: str, name: str) -> Any:
        seen.append(fixed(self.proto, module, name))
        return original(self, module, name)

    joblib.numpy_pickle.NumpyUnpickler.find_class = find_class  # type: ignore[method-assign]
    try:
        joblib.load(path)
    finally:
        joblib.numpy_pickle.NumpyUnpickler.find_class = original  # type: ignore[method-assign]
    return seen


def payload() -> dict[str, Any]:
    """Arrays of every layout joblib writes inline, between objects whose names prove the array
    bytes were passed exactly (`Tail` comes last; random bytes defeat any guessing)."""
    rng = np.random.default_rng(7)
    arrays = [(np.arange(10) % 3).astype(code) for code in ("f8", "i4", "u1", "?", "c16", "f2", ">i8")]
    arrays += [
        np.array(["ab", "cdefg"]),
        np.zeros(3, dtype=[("a", "i4"), ("b", "f8", (2,))]),
        np.array(["2020-01-01"], dtype="M8[ns]"),
        np.asfortranarray(np.arange(6.0).reshape(2, 3)),
        np.ones(()),
        np.empty((0, 3)),
        np.array([estimators.Leaf(), 1], dtype=object),  # a nested pickle inside the stream
        np.array([(1, estimators.Leaf())], dtype=[("n", "i4"), ("o", "O")]),  # object field: nested too
        np.frombuffer(b"\x80\x04\x95" * 64 + b"\x8c\x05numpy", dtype=np.uint8),  # looks like opcodes
        rng.random(200_000),  # 1.6 MB: passed by seeking, or by inflating under the budget
    ]
    return {"forest": estimators.Forest(), "arrays": arrays, "tail": estimators.Tail()}


def write_joblib(out: Path, oracle: dict[str, Names]) -> None:
    data = payload()
    variants: dict[str, dict[str, Any]] = {
        "plain.joblib": {},
        "zlib.joblib": {"compress": ("zlib", 3)},
        "gzip.joblib.gz": {"compress": ("gzip", 3)},
        "bz2.joblib": {"compress": ("bz2", 3)},
        "xz.joblib": {"compress": ("xz", 3)},
        "lzma.joblib": {"compress": ("lzma", 3)},
        "proto2.joblib": {"protocol": 2},
        "proto0.jbl": {"protocol": 0},
        "level9.pkl.z": {"compress": 9},
    }
    for name, options in variants.items():
        joblib.dump(data, out / name, **options)
        oracle[name] = joblib_names(out / name)


def write_pickles(out: Path, oracle: dict[str, Names]) -> None:
    obj = {
        "forest": estimators.Forest(),
        "node": estimators.Tree.Node(),  # qualname Tree.Node
        "factory": estimators.make,
        "types": {frozenset({1}), bytes(3)},
        "tail": estimators.Tail(),
    }
    for proto in range(6):
        name = f"proto{proto}.pkl"
        (out / name).write_bytes(pickle.dumps(obj, protocol=proto))
        oracle[name] = load_all((out / name).read_bytes(), pickle.Unpickler)
    two = pickle.dumps(estimators.Forest(), protocol=4) + pickle.dumps(estimators.Tail(), protocol=5)
    (out / "two-in-a-row.pickle").write_bytes(two)
    oracle["two-in-a-row.pickle"] = load_all(two, pickle.Unpickler, count=2)


def write_dill_cloudpickle(out: Path, oracle: dict[str, Names]) -> None:
    """Last: importing dill changes how the pure-Python pickler (joblib's) saves some types."""
    import cloudpickle
    import dill

    def local_rule(values: Any) -> Any:  # pickled by value: names np only through the module it imports
        return np.sum(values) + estimators.SCALE

    (out / "rule.cloudpickle").write_bytes(cloudpickle.dumps(local_rule))
    oracle["rule.cloudpickle"] = load_all((out / "rule.cloudpickle").read_bytes(), pickle.Unpickler)
    (out / "forest.dill").write_bytes(dill.dumps({"forest": estimators.Forest(), "rule": local_rule}, recurse=True))
    oracle["forest.dill"] = load_all((out / "forest.dill").read_bytes(), dill.Unpickler)


class Storage:
    """A tensor's storage: torch.save pickles it as a persistent id and writes its bytes apart."""

    def __init__(self, key: str, data: bytes) -> None:
        self.key, self.data = key, data


class Tensor:
    """Pickled as torch.Tensor is: `torch._utils._rebuild_tensor_v2(storage, offset, size, ...)`."""

    def __init__(self, storage: Storage, size: int) -> None:
        self.storage, self.size = storage, size

    def __reduce_ex__(self, protocol: Any) -> Any:
        hooks: collections.OrderedDict[str, Any] = collections.OrderedDict()
        return torch._utils._rebuild_tensor_v2, (self.storage, 0, (self.size,), (1,), False, hooks)


def torch_pickle(obj: Any, stream: io.BytesIO, legacy: bool) -> None:
    """torch.serialization's pickler: protocol 2, storages as persistent ids."""

    class TorchPickler(pickle.Pickler):
        def persistent_id(self, obj: Any) -> Any:
            if not isinstance(obj, Storage):
                return None
            numel = len(obj.data) // 4
            if legacy:
                return ("storage", torch.FloatStorage, obj.key, "cpu", numel, None)
            return ("storage", torch.FloatStorage, obj.key, "cpu", numel)

    TorchPickler(stream, protocol=2).dump(obj)


def state_dict() -> collections.OrderedDict[str, Any]:
    weight = Storage("0", struct.pack("<12f", *range(12)))
    bias = Storage("1", struct.pack("<3f", 1, 2, 3))
    return collections.OrderedDict(
        [("layer.weight", Tensor(weight, 12)), ("layer.bias", Tensor(bias, 3)), ("head", estimators.Tail())]
    )


def write_torch(out: Path, oracle: dict[str, Names]) -> None:
    """torch.save's zip format (`_save`) and its legacy format (`_legacy_save`), record by record."""
    obj = state_dict()
    buf = io.BytesIO()
    torch_pickle(obj, buf, legacy=False)
    with zipfile.ZipFile(out / "pytorch_model.bin", "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("archive/data.pkl", buf.getvalue())
        archive.writestr("archive/.format_version", "1")
        archive.writestr("archive/.storage_alignment", "64")
        archive.writestr("archive/byteorder", sys.byteorder)
        for storage in (obj["layer.weight"].storage, obj["layer.bias"].storage):
            archive.writestr(f"archive/data/{storage.key}", storage.data)
        archive.writestr("archive/version", "3\n")
        archive.writestr("archive/.data/serialization_id", "0" * 40)
    oracle["pytorch_model.bin"] = load_all(buf.getvalue(), pickle.Unpickler)

    legacy = io.BytesIO()
    for header in (0x1950A86A20F9469CFC6C, 1001, {"protocol_version": 1001, "little_endian": True}):
        pickle.dump(header, legacy, protocol=2)
    torch_pickle(obj, legacy, legacy=True)
    pickle.dump(["0", "1"], legacy, protocol=2)
    # Storage bytes: an 8-byte element count, then the data. 640 elements start b"\x80\x02", which
    # reads as a protocol 2 PROTO: only knowing the format stops a reader taking it for a sixth pickle.
    legacy.write(struct.pack("<q", 640) + bytes(640 * 4))
    legacy.write(struct.pack("<q", 3) + obj["layer.bias"].storage.data)
    (out / "legacy.pt").write_bytes(legacy.getvalue())
    oracle["legacy.pt"] = load_all(legacy.getvalue(), pickle.Unpickler, count=5)


def main() -> None:
    out = Path(sys.argv[1])
    out.mkdir(parents=True, exist_ok=True)
    oracle: dict[str, Names] = {}
    write_joblib(out, oracle)
    write_pickles(out, oracle)
    write_torch(out, oracle)
    write_dill_cloudpickle(out, oracle)
    (out / "oracle.json").write_text(json.dumps(oracle, indent=1))


if __name__ == "__main__":
    main()
