"""Model files as evidence: the modules a pickle names, read from its opcodes, never unpickled.

The files are real: written by joblib (plain and every compression it offers), pickle (protocols
0-5), dill, cloudpickle and torch.save's two formats (with a stand-in `torch` package, the way
torch's serialization writes them), holding objects of classes from a package the test writes on
disk. Each file is checked against what the library's own unpickler looks up in it (`find_class`,
recorded in the writing subprocess: `tests/pickle_writers.py`). Then the hostile side: bombs,
truncations, garbage and a property test, and the whole path through `depslim analyze` and `split`.
"""

from __future__ import annotations

import bz2
import dataclasses
import gzip
import io
import json
import os
import random
import struct
import subprocess
import sys
import tarfile
import time
import tracemalloc
import zipfile
import zlib
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from depslim.imports import scan_project
from depslim.imports.contexts import ContextRules
from depslim.imports.pickles import (
    Limits,
    find_model_files,
    is_model_candidate,
    needed_modules,
    scan_model_bytes,
    scan_model_file,
    scan_model_stream,
    scan_models,
    sniff,
)
from depslim.model import Context, Location

HERE = Path(__file__).resolve().parent

PACKAGES = {
    "acme_models/__init__.py": "",
    "acme_models/estimators.py": '''
import numpy as np

SCALE = 2.0


class Leaf:
    """Only inside an object array: found only if joblib's nested pickle is read."""


class Tree:
    class Node:
        pass

    def __init__(self, depth):
        self.depth = depth
        self.values = np.full(depth + 1, depth, dtype=np.int32)


class Forest:
    def __init__(self):
        self.trees = [Tree(i) for i in range(3)]
        self.weights = np.arange(12.0).reshape(3, 4)


class Tail:
    """Pickled last: found only if every array's bytes were passed exactly."""


def make():
    return Forest()
''',
    "ghostlib/__init__.py": "class Model:\n    pass\n",
    "devonly_lib/__init__.py": "class Fixture:\n    pass\n",
    # torch.save pickles these two by reference; the stand-in keeps torch out of the test extra.
    "torch/__init__.py": "class FloatStorage:\n    pass\n",
    "torch/_utils.py": (
        "def _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, backward_hooks):\n"
        "    return storage, size\n"
    ),
}

JOBLIB = ["plain.joblib", "zlib.joblib", "gzip.joblib.gz", "bz2.joblib", "xz.joblib", "lzma.joblib",
          "proto2.joblib", "proto0.jbl", "level9.pkl.z"]
PICKLES = [f"proto{p}.pkl" for p in range(6)] + ["two-in-a-row.pickle"]
OTHERS = ["rule.cloudpickle", "forest.dill", "pytorch_model.bin", "legacy.pt"]
ALL = JOBLIB + PICKLES + OTHERS
FORMATS = {
    "plain.joblib": "pickle", "zlib.joblib": "zlib+pickle", "gzip.joblib.gz": "gzip+pickle",
    "bz2.joblib": "bz2+pickle", "xz.joblib": "xz+pickle", "lzma.joblib": "lzma+pickle",
    "proto2.joblib": "pickle", "proto0.jbl": "pickle", "level9.pkl.z": "zlib+pickle",
    "pytorch_model.bin": "zip", "legacy.pt": "torch-legacy",
}


def _write(root: Path, files: dict[str, str | bytes]) -> Path:
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content.lstrip("\n"), encoding="utf-8")
    return root


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, set[tuple[str, str]]]]:
    """The real files and, per file, the names the real unpickler looked up."""
    base = tmp_path_factory.mktemp("pickles")
    packages = _write(base / "packages", dict(PACKAGES))
    out = base / "out"
    extra = (
        "import pickle, sys\n"
        "from ghostlib import Model\n"
        "from devonly_lib import Fixture\n"
        "out = sys.argv[1]\n"
        "open(out + '/ghost.pkl', 'wb').write(pickle.dumps([Model()], protocol=4))\n"
        "open(out + '/fixture.pkl', 'wb').write(pickle.dumps(Fixture(), protocol=4))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(packages)}
    for command in ([str(HERE / "pickle_writers.py"), str(out)], ["-c", extra, str(out)]):
        result = subprocess.run([sys.executable, *command], env=env, capture_output=True, text=True)
        assert result.returncode == 0, result.stderr
    oracle = json.loads((out / "oracle.json").read_text())
    return out, {name: {tuple(pair) for pair in pairs} for name, pairs in oracle.items()}


# --------------------------------------------------------------------------- real files


@pytest.mark.parametrize("name", ALL)
def test_names_are_what_the_real_unpickler_looks_up(written: tuple[Path, dict], name: str) -> None:
    out, oracle = written
    result, warnings = scan_model_file(out / name, f"models/{name}")
    assert warnings == ()
    assert result.location == Location(f"models/{name}", 0)
    found = set(result.names)
    assert oracle[name] <= found
    # Beyond find_class: only the modules cloudpickle and dill import by name (`subimport`).
    assert found - oracle[name] <= {("numpy", ""), ("acme_models.estimators", "")}
    assert result.format == FORMATS.get(name, "pickle")


@pytest.mark.parametrize("name", JOBLIB)
def test_joblib_array_bytes_are_passed_by_the_wrappers_layout(written: tuple[Path, dict], name: str) -> None:
    """Raw array bytes (random, and some that look like opcodes) sit inside the stream; `Tail`,
    pickled after all of them, and `Leaf`, inside an object array's nested pickle, prove each
    array was passed exactly, for every dtype, order and compression."""
    out, _ = written
    result, warnings = scan_model_file(out / name, name)
    assert warnings == ()
    assert {("acme_models.estimators", "Tail"), ("acme_models.estimators", "Leaf")} <= set(result.names)
    assert ("joblib.numpy_pickle", "NumpyArrayWrapper") in result.names
    assert result.modules == ("acme_models", "joblib", "numpy")


def test_pickle_protocols_resolve_memo_fetches_and_python2_names(written: tuple[Path, dict]) -> None:
    out, _ = written
    for proto in range(6):
        result, _ = scan_model_file(out / f"proto{proto}.pkl", "m.pkl")
        assert result.modules == ("acme_models", "numpy")  # builtins, copyreg, _codecs: stdlib
        assert ("acme_models.estimators", "make") in result.names
        assert not any(module in ("__builtin__", "copy_reg") for module, _ in result.names)
    nested = scan_model_file(out / "proto4.pkl", "m.pkl")[0]
    assert ("acme_models.estimators", "Tree.Node") in nested.names


def test_dill_and_cloudpickle_need_themselves_and_what_they_reimport(written: tuple[Path, dict]) -> None:
    out, _ = written
    cloud = scan_model_file(out / "rule.cloudpickle", "r")[0]
    assert cloud.modules == ("acme_models", "cloudpickle", "numpy")
    assert ("numpy", "") in cloud.names  # cloudpickle.subimport("numpy"): a REDUCE, not a global
    assert scan_model_file(out / "forest.dill", "f")[0].modules == ("acme_models", "dill", "numpy")


def test_torch_legacy_storage_bytes_are_not_read_as_a_sixth_pickle(written: tuple[Path, dict]) -> None:
    """Its first storage's element count (640) starts b"\\x80\\x02", a protocol 2 PROTO."""
    out, _ = written
    data = (out / "legacy.pt").read_bytes()
    assert b"\x80\x02\x00\x00\x00\x00\x00\x00" in data
    result, warnings = scan_model_bytes(data, "legacy.pt")
    assert warnings == () and result.format == "torch-legacy"
    assert result.modules == ("acme_models", "torch")


def test_the_image_entry_points_read_bytes_and_forward_only_streams(written: tuple[Path, dict]) -> None:
    out, _ = written

    class ForwardOnly(io.RawIOBase):
        """A tar member without seeking: array bytes are read through instead of seeked over."""

        def __init__(self, data: bytes) -> None:
            self._inner = io.BytesIO(data)

        def readable(self) -> bool:
            return True

        def readinto(self, buffer: bytearray) -> int:  # type: ignore[override]
            return self._inner.readinto(buffer)

    for name in ("plain.joblib", "gzip.joblib.gz", "proto5.pkl", "legacy.pt"):
        data = (out / name).read_bytes()
        from_file = scan_model_file(out / name, name)[0]
        assert scan_model_bytes(data, name)[0] == from_file
        assert scan_model_stream(ForwardOnly(data), name)[0] == from_file  # type: ignore[arg-type]
    layer = io.BytesIO()
    with tarfile.open(fileobj=layer, mode="w") as tar:  # an image layer: members read in place
        for name in ("plain.joblib", "pytorch_model.bin"):
            tar.add(out / name, arcname=f"app/models/{name}")
    layer.seek(0)
    with tarfile.open(fileobj=layer) as tar:
        for member in tar.getmembers():
            stream = tar.extractfile(member)
            assert stream is not None
            result, warnings = scan_model_stream(stream, f"/{member.name}", seekable=True)
            assert warnings == () and result.names == scan_model_file(out / Path(member.name).name, "x")[0].names
    zipped = (out / "pytorch_model.bin").read_bytes()
    result, warnings = scan_model_stream(ForwardOnly(zipped), "app/model.bin")  # type: ignore[arg-type]
    assert result.names == () and warnings == ("app/model.bin: a zip archive needs a seekable stream; not read",)


def test_content_decides_not_the_suffix(written: tuple[Path, dict], tmp_path: Path) -> None:
    out, _ = written
    assert is_model_candidate("models/Churn.PKL.GZ") and is_model_candidate("pytorch_model.bin")
    assert not is_model_candidate("train.py") and not is_model_candidate("data.csv.gz")
    (tmp_path / "weights.bin").write_bytes((out / "gzip.joblib.gz").read_bytes())
    assert scan_model_file(tmp_path / "weights.bin", "weights.bin")[0].modules == ("acme_models", "joblib", "numpy")
    quiet = {
        "notes.pkl": b"(this is not a pickle, just text)\n",
        "vectors.bin": bytes(range(256)) * 4,
        "table.pkl.gz": gzip.compress(b"a,b\n1,2\n"),
        "archive.pt": _zip({"readme.txt": b"no pickle here"}),
        "empty.pkl": b"",
    }
    for name, data in quiet.items():
        result, warnings = scan_model_bytes(data, name)
        assert result.names == () and warnings == (), name
    assert sniff(bz2.compress(b"x")) == "bz2" and sniff(b"\x80\x05") == "pickle" and sniff(b"x") == ""


def _zip(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


# --------------------------------------------------------------------------- hostile files


def test_unknown_compressions_are_named_in_a_warning() -> None:
    lz4 = bytes.fromhex("04224d18") + os.urandom(64)
    assert scan_model_bytes(lz4, "m.joblib")[1] == (
        "m.joblib: lz4-compressed (joblib compress='lz4'): depslim does not decode lz4, modules it names were not read",
    )
    assert "joblib < 0.10" in scan_model_bytes(b"ZF0x1a" + bytes(30), "old.pkl")[1][0]


def test_truncated_files_keep_what_they_named_before_the_cut(written: tuple[Path, dict]) -> None:
    out, _ = written
    data = (out / "plain.joblib").read_bytes()
    result, warnings = scan_model_bytes(data[: len(data) // 2], "models/churn.joblib")
    assert ("acme_models.estimators", "Forest") in result.names
    assert ("acme_models.estimators", "Tail") not in result.names
    assert len(warnings) == 1 and warnings[0].startswith("models/churn.joblib: ")
    assert "joblib array data" in warnings[0]


def _limits(**changes: int) -> Limits:
    from depslim.imports.pickles import _knowledge

    return dataclasses.replace(_knowledge().limits, **changes)


def _peak(work: object) -> int:
    tracemalloc.start()
    try:
        work()  # type: ignore[operator]
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def _gzip_bomb(size: int) -> bytes:
    """A gzip of a PROTO, then a BINBYTES8 argument of `size` zeros (about size/1000 compressed)."""
    packer = zlib.compressobj(1, zlib.DEFLATED, 31)
    parts = [packer.compress(b"\x80\x04\x8e" + struct.pack("<Q", size))]
    zeros = bytes(1 << 20)
    parts += [packer.compress(zeros) for _ in range(size >> 20)]
    return b"".join([*parts, packer.flush()])


def test_decompression_bombs_stop_at_the_byte_budget() -> None:
    bomb = _gzip_bomb(256 << 20)
    started = time.perf_counter()
    result, warnings = scan_model_bytes(bomb, "bomb.pkl.gz", _limits(max_read_bytes=8 << 20))
    assert time.perf_counter() - started < 2
    assert result.names == () and "stopped after reading 8388608 bytes (limit)" in warnings[0]
    peak = _peak(lambda: scan_model_bytes(bomb, "bomb.pkl.gz", _limits(max_read_bytes=64 << 20)))
    assert peak < 8 << 20  # chunks, never the argument


def test_hostile_opcode_streams_are_bounded() -> None:
    cases = {
        # An argument that claims 2**62 bytes: skipped, never allocated.
        "claim.pkl": b"\x80\x04\x8e" + struct.pack("<Q", 1 << 62) + bytes(1000),
        # A text (protocol 0 style) argument that never ends.
        "line.pkl": b"\x80\x02cacme\n" + b"A" * 200_000,
        # A stack 60,000 deep.
        "deep.pkl": b"\x80\x04" + b"N" * 60_000 + b".",
        # Opcodes past the limit.
        "long.pkl": b"\x80\x04" + b"N0" * 60_000 + b"N.",
        # STACK_GLOBAL with operands that are not strings.
        "ints.pkl": b"\x80\x04K\x01K\x02\x93.",
        # MARK-less TUPLE, POP on an empty stack, GET of an unset memo slot.
        "nomark.pkl": b"\x80\x04t.",
        "pop.pkl": b"\x80\x040.",
        "get.pkl": b"\x80\x04h\x05.",
    }
    limits = _limits(max_opcodes=100_000, max_stack=50_000)
    expected = {
        "claim.pkl": "unreadable pickle", "line.pkl": "longer than 65536 bytes",
        "deep.pkl": "stack deeper than 50000", "long.pkl": "stopped after 100000 opcodes",
        "ints.pkl": "could not be followed", "nomark.pkl": "MARK", "pop.pkl": "MARK", "get.pkl": "no such memo entry",
    }
    for name, data in cases.items():
        peak = _peak(lambda data=data, name=name: scan_model_bytes(data, name, limits))
        result, warnings = scan_model_bytes(data, name, limits)
        assert result.names == ()
        assert any(expected[name] in w for w in warnings), (name, warnings)
        assert peak < 64 << 20, (name, peak)


def test_forgotten_memo_entries_are_counted_not_guessed() -> None:
    strings = b"".join(b"\x8c\x03m%02d\x94" % (i % 100) for i in range(50))
    data = b"\x80\x04" + strings + b"h\x00h\x01\x93."  # STACK_GLOBAL from memo slots 0 and 1
    assert scan_model_bytes(data, "m.pkl")[0].names == (("m00", "m01"),)
    result, warnings = scan_model_bytes(data, "m.pkl", _limits(max_memo=1))
    assert result.names == () and "1 class reference(s) whose names could not be followed" in warnings[0]


def test_zip_directories_and_members_are_bounded(written: tuple[Path, dict]) -> None:
    out, _ = written
    data_pkl = zipfile.ZipFile(out / "pytorch_model.bin").read("archive/data.pkl")
    many = _zip({f"a/{i}.pkl": data_pkl for i in range(30)})
    result, warnings = scan_model_bytes(many, "many.pt", _limits(max_zip_members=3))
    assert result.modules == ("acme_models", "torch") and "30 pickle members, only 3 read" in warnings[0]
    assert "zip directory of 30 entries" in scan_model_bytes(many, "many.pt", _limits(max_zip_entries=10))[1][0]
    deflated = io.BytesIO()
    with zipfile.ZipFile(deflated, "w", zipfile.ZIP_DEFLATED) as archive:  # a zip bomb member
        archive.writestr("a/data.pkl", b"\x80\x04\x8e" + struct.pack("<Q", 16 << 20) + bytes(16 << 20))
    result, warnings = scan_model_bytes(deflated.getvalue(), "bomb.pt", _limits(max_read_bytes=1 << 20))
    assert "stopped after reading" in warnings[0]
    nameless = io.BytesIO()
    with zipfile.ZipFile(nameless, "w") as archive:  # found by fuzzing: zipfile's is_dir() raises on it
        archive.writestr(zipfile.ZipInfo(""), b"x")
    result, warnings = scan_model_bytes(nameless.getvalue(), "e.pt")
    assert (result.format, result.names, warnings) == ("zip", (), ())


# Exceptions that would be depslim's own mistakes, not the file's (the file's are ValueError,
# EOFError, zlib/lzma/zip errors...): a warning naming one of these fails the property tests.
OWN_BUGS = ("TypeError", "AttributeError", "IndexError", "KeyError", "AssertionError", "RecursionError",
            "MemoryError", "NameError", "UnboundLocalError", "ZeroDivisionError")


def _no_bug(warnings: tuple[str, ...]) -> bool:
    return not any(f"{bug}" in w for w in warnings for bug in OWN_BUGS)


REAL_SMALL = ["proto0.pkl", "proto2.pkl", "proto4.pkl", "proto5.pkl", "two-in-a-row.pickle", "rule.cloudpickle",
              "forest.dill", "pytorch_model.bin", "legacy.pt", "zlib.joblib", "plain.joblib"]


@settings(max_examples=400, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    prefix=st.sampled_from([b"", b"\x80\x04", b"\x80\x02", b"PK\x03\x04", b"\x78\x9c", b"\x1f\x8b\x08", b"BZh",
                            b"\xfd7zXZ\x00", b"\x5d\x00", b"(c", b"\x28\xb5\x2f\xfd"]),
    body=st.binary(max_size=512),
)
def test_random_bytes_never_raise(prefix: bytes, body: bytes) -> None:
    result, warnings = scan_model_bytes(prefix + body, "fuzz.pkl", _limits(max_read_bytes=1 << 20))
    assert isinstance(result.names, tuple) and all(isinstance(w, str) for w in warnings)
    assert _no_bug(warnings), warnings


def test_mutated_real_files_never_raise(written: tuple[Path, dict]) -> None:
    """Seeded: flips, truncations, insertions and deletions over every kind of real file."""
    out, _ = written
    rng = random.Random(20261206)
    originals = {name: (out / name).read_bytes() for name in REAL_SMALL}
    limits = _limits(max_read_bytes=4 << 20)
    for _ in range(600):
        name = rng.choice(REAL_SMALL)
        data = bytearray(originals[name])
        for _ in range(rng.randint(1, 4)):
            at = rng.randrange(min(len(data), 4096))  # where the opcodes and headers are
            action = rng.choice(("flip", "cut", "insert", "delete"))
            if action == "flip":
                data[at] = rng.randrange(256)
            elif action == "cut":
                del data[at:]
                break
            elif action == "insert":
                data[at:at] = rng.randbytes(rng.randint(1, 8))
            else:
                del data[at : at + rng.randint(1, 8)]
        _, warnings = scan_model_bytes(bytes(data), name, limits)
        assert all(w.startswith(f"{name}: ") for w in warnings)
        assert _no_bug(warnings), warnings


# --------------------------------------------------------------------------- the project


def _project(root: Path, out: Path, files: dict[str, str]) -> Path:
    _write(root, dict(files))
    for rel, source in {
        "models/churn.joblib": "plain.joblib",
        "models/extra.pkl": "ghost.pkl",
        "tests/fixtures/old.pkl": "fixture.pkl",
        "scripts/cache/features.pkl": "fixture.pkl",
        ".venv/lib/model.pkl": "ghost.pkl",
        "node_modules/x/model.pkl": "ghost.pkl",
        "__pypackages__/3.11/lib/model.pkl": "ghost.pkl",
        "build/model.pkl": "ghost.pkl",
        "ignored/model.pkl": "ghost.pkl",
    }.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes((out / source).read_bytes())
    (root / ".venv/pyvenv.cfg").write_text("home = /usr\n")
    (root / ".gitignore").write_text("ignored/\n")
    return root


APP = {
    "app/__init__.py": "",
    "app/serve.py": 'import joblib\n\nMODEL = joblib.load("models/churn.joblib")\n',
    "requirements.txt": "joblib\nnumpy\nacme-models\nrequests\n",
}


def test_the_walk_finds_model_files_with_the_source_walks_exclusions(
    written: tuple[Path, dict], tmp_path: Path
) -> None:
    out, _ = written
    root = _project(tmp_path, out, APP)
    found = [f.rel for f in find_model_files(root)]
    assert found == ["models/churn.joblib", "models/extra.pkl", "scripts/cache/features.pkl", "tests/fixtures/old.pkl"]
    files, warnings = scan_models(find_model_files(root), ContextRules.build(None, None))
    assert warnings == ()
    contexts = {f.location.path: f.context for f in files}
    assert contexts == {
        "models/churn.joblib": Context.RUNTIME, "models/extra.pkl": Context.RUNTIME,
        "scripts/cache/features.pkl": Context.SCRIPT, "tests/fixtures/old.pkl": Context.DEV,
    }
    scan = scan_project(root)
    assert scan.pickled == files
    assert needed_modules([("sklearn.tree._tree", "Tree"), ("builtins", "set"), ("__main__", "F")]) == ("sklearn",)


def test_analyze_and_split_keep_what_a_runtime_pickle_needs(written: tuple[Path, dict], tmp_path: Path) -> None:
    out, _ = written
    root = _project(tmp_path / "svc", out, APP)
    (root / "models/fast.joblib").write_bytes(bytes.fromhex("04224d18") + bytes(32))  # compress="lz4"
    report_file = tmp_path / "report.json"
    command = [sys.executable, "-m", "depslim", "analyze", str(root), "--format", "json", "-o", str(report_file),
               "--no-cache"]
    result = subprocess.run(command, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    report = json.loads(report_file.read_text())
    dists = {d["name"]: d for d in report["distributions"] if d["declared"]}
    assert {n: d["verdict"] for n, d in dists.items()} == {
        # acme-models is needed but not installed here: whether it requires requests cannot be read
        "joblib": "runtime", "numpy": "implicit", "acme-models": "implicit", "requests": "implicit",
    }
    assert "acme-models" in dists["requests"]["evidence"][0]["detail"]
    churn = "models/churn.joblib"
    numpy_evidence = {(e["path"], e["line"], e["kind"], e["detail"]) for e in dists["numpy"]["evidence"]}
    assert (churn, 0, "implicit", f"numpy.ndarray (pickled in {churn})") in numpy_evidence
    assert {e["path"] for e in dists["acme-models"]["evidence"]} == {churn}
    findings = {f["id"]: f for f in report["findings"]}
    missing = findings["missing-implicit:ghostlib"]
    assert [e["path"] for e in missing["evidence"]] == ["models/extra.pkl"]
    assert not any("devonly" in key for key in findings)  # a test fixture and a script cache need nothing
    assert "cut:requests" not in findings
    assert any(w.startswith("models/fast.joblib:0: lz4-compressed") for w in report["warnings"])

    split = subprocess.run([sys.executable, "-m", "depslim", "split", str(root)], capture_output=True, text=True)
    assert split.returncode == 0, split.stderr
    base = [ln.split()[0] for ln in (root / "requirements-base.txt").read_text().splitlines()
            if ln and not ln.startswith(("#", "-"))]
    assert {"numpy", "acme-models", "joblib"} <= {ln.split("=")[0] for ln in base}
    assert any(ln.startswith("requests") for ln in base)  # kept until a target shows nothing requires it


def test_a_pickle_of_the_projects_own_classes_needs_no_distribution(written: tuple[Path, dict], tmp_path: Path) -> None:
    out, _ = written
    own = {**APP, "acme_models/__init__.py": "", "acme_models/estimators.py": PACKAGES["acme_models/estimators.py"],
           "requirements.txt": "joblib\nnumpy\n"}
    root = _project(tmp_path / "own", out, own)
    report_file = tmp_path / "own.json"
    command = [sys.executable, "-m", "depslim", "analyze", str(root), "--format", "json", "-o", str(report_file),
               "--no-cache"]
    assert subprocess.run(command, capture_output=True, text=True).returncode == 0
    report = json.loads(report_file.read_text())
    assert not any("acme" in f["id"] for f in report["findings"])
    numpy = next(d for d in report["distributions"] if d["name"] == "numpy")
    assert numpy["verdict"] == "runtime"  # the project's own estimators import it
