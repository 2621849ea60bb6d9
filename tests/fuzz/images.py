"""Layer and image generators: tar members laid out by hand, and whole images held in memory.

Layers are written with tests/hostile/rawtar.py (ustar headers formatted directly, pax records
for long names), so any name, type flag or size field can be written, then compressed with
gzip or zstd and optionally bent at the byte level. Images are an OCI index, a manifest and a
config (or a docker-archive manifest.json) whose digests are recomputed after a mutation, so a
changed field reaches the shape checks instead of stopping at the digest check.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import zstandard
from hypothesis import strategies as st

from depslim.targets.image.layers import DEFAULT_LIMITS, Limits
from depslim.targets.image.sources import Catalog, LayerRef
from tests.fuzz.strategies import (
    LAYER_MEDIA,
    OCI_INDEX,
    OCI_MANIFEST,
    image_config_document,
    mutate_bytes,
    mutate_json,
)
from tests.hostile.rawtar import end, header, pad

SITE = "usr/local/lib/python3.11/site-packages"
# A real shared library to seed the ELF reader (the interpreter's own _json extension).
_ELF_SEED = Path(sys.modules["_json"].__file__ or "").read_bytes()[:8192] if hasattr(
    sys.modules.get("_json"), "__file__") else b"\x7fELF" + b"\x00" * 60

METADATA = (b"Metadata-Version: 2.1\nName: alpha\nVersion: 1.0\nRequires-Dist: numpy>=1\n"
            b"Requires-Dist: torch ; extra == 'gpu'\nProvides-Extra: gpu\n\nA README body\n")
RECORD = b"alpha/__init__.py,sha256=abc,12\nalpha-1.0.dist-info/METADATA,,\n\"bad,row\n,,,,,\n"
CONTENTS = {
    "METADATA": METADATA,
    "RECORD": RECORD,
    "INSTALLER": b"pip\n",
    "top_level.txt": b"alpha\n",
    "direct_url.json": b'{"url": "file:///src", "dir_info": {"editable": true}}',
    "entry_points.txt": b"[console_scripts]\nalpha = alpha:main\n",
    "status": b"Package: python3\nStatus: install ok installed\nVersion: 3.11\n\n",
    "os-release": b'ID=debian\nVERSION_ID="12"\n',
    "x.list": b"/usr/lib/x86_64-linux-gnu/libz.so.1\n/.\n",
}
NAMES = (
    f"{SITE}/alpha-1.0.dist-info/METADATA", f"{SITE}/alpha-1.0.dist-info/RECORD",
    f"{SITE}/alpha-1.0.dist-info/INSTALLER", f"{SITE}/alpha-1.0.dist-info/top_level.txt",
    f"{SITE}/alpha-1.0.dist-info/direct_url.json", f"{SITE}/alpha-1.0.dist-info/entry_points.txt",
    f"{SITE}/alpha/__init__.py", f"{SITE}/alpha/_c.cpython-311-x86_64-linux-gnu.so", f"{SITE}/alpha",
    f"{SITE}/beta.egg-info/PKG-INFO", "var/lib/dpkg/status", "var/lib/dpkg/info/x.list", "etc/os-release",
    "usr/lib/x86_64-linux-gnu/libz.so.1", "usr/local/bin/python3.11", "usr/local/bin/python3", "root/.cache/pip/x",
    "usr/local/lib/python3.11/os.py", "./", "", "/", "../escape", "/abs/file", "a/../../b", "a/./b//c", "a" * 300,
    "/".join(["d"] * 600), ".wh.gone", f"{SITE}/.wh..wh..opq", "x/.wh.", "données/é.py", "a\\b", "a\x00b",
    "usr/lib/python3/dist-packages/gamma-2.0.dist-info/METADATA", "opt/venv/pyvenv.cfg",
)
TYPEFLAGS = (b"0", b"0", b"0", b"5", b"2", b"1", b"3", b"4", b"6", b"7", b"\x00", b"x", b"g", b"L", b"K", b"S", b"Z")
LINKS = ("", "../../..", "/etc/passwd", f"{SITE}/alpha/__init__.py", "alpha", "a" * 200, "/", "x/../../../y")


def _content(name: str) -> st.SearchStrategy[bytes]:
    base = name.rsplit("/", 1)[-1]
    seed = _ELF_SEED if ".so" in base or base.startswith("python") else CONTENTS.get(base, b"print('x')\n")
    return st.one_of(mutate_bytes(seed, 2), st.binary(max_size=64))


@st.composite
def tar_member(draw: st.DrawFn) -> bytes:
    name = draw(st.one_of(st.sampled_from(NAMES), st.text(max_size=20)))
    typeflag = draw(st.sampled_from(TYPEFLAGS))
    data = draw(_content(name)) if typeflag in (b"0", b"7", b"\x00", b"x", b"g", b"L", b"K") else b""
    if typeflag in (b"x", b"g") and draw(st.booleans()):
        record = draw(st.sampled_from((b"path", b"linkpath", b"size", b"junk"))) + b"=" + draw(st.binary(max_size=12))
        data = b"%d %s\n" % (len(record) + 4, record)
    link = draw(st.sampled_from(LINKS)).encode() if typeflag in (b"1", b"2") else b""
    raw_name = name.encode("utf-8", "surrogatepass")
    out = header(raw_name, len(data), typeflag, link[:100]) + pad(data)
    if draw(st.integers(0, 9)) == 0:  # a size field that lies about the data that follows
        lie = draw(st.sampled_from((b"77777777777\x00", b"\x80" + b"\xff" * 11, b"-1\x00", b"zz")))
        out = out[:124] + lie + out[136:]
    return out


def compress(tar: bytes, kind: str) -> bytes:
    if kind == "gzip":
        return gzip.compress(tar, compresslevel=1, mtime=0)
    if kind == "zstd":
        return zstandard.ZstdCompressor(level=1).compress(tar)
    return tar


@st.composite
def layer_blob(draw: st.DrawFn) -> bytes:
    """A layer as stored in an image: a tar of generated members, compressed, then maybe bent."""
    members = draw(st.lists(tar_member(), max_size=8))
    tar = b"".join(members) + (end() if draw(st.integers(0, 5)) else b"")
    if draw(st.integers(0, 4)) == 0:
        tar = draw(mutate_bytes(tar, 3))
    blob = compress(tar, draw(st.sampled_from(("tar", "gzip", "zstd"))))
    if draw(st.integers(0, 4)) == 0:
        blob = draw(mutate_bytes(blob, 2))
    return blob


# --- well-formed layers (round trip) ------------------------------------------------------------

SAFE_PARTS = ("app", "lib", "données", "x.py", "a b", "z" * 40, ".hidden", "__init__.py")


@st.composite
def clean_layer(draw: st.DrawFn) -> list[tuple[str, bytes, bytes]]:
    """(path, typeflag, data) of distinct regular files and directories with ordinary names."""
    paths = draw(st.lists(st.lists(st.sampled_from(SAFE_PARTS), min_size=1, max_size=5).map("/".join),
                          max_size=8, unique=True))
    out = []
    for path in paths:
        if draw(st.booleans()):
            out.append((path, b"0", draw(st.binary(max_size=700))))
        else:
            out.append((path, b"5", b""))
    return out


def clean_tar(entries: list[tuple[str, bytes, bytes]]) -> bytes:
    return b"".join(header(p.encode(), len(d), t) + pad(d) for p, t, d in entries) + end()


# --- images in memory -------------------------------------------------------------------------


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


class _Reader:
    """A read-only, non-seekable view of a blob (so the layer reader streams it, as from a pipe)."""

    def __init__(self, data: bytes) -> None:
        self._io = io.BytesIO(data)

    def read(self, n: int = -1) -> bytes:
        return self._io.read(n)

    def close(self) -> None:
        self._io.close()


@dataclass
class MemCatalog(Catalog):
    """An OCI layout or docker-archive held in a dict of member names to bytes."""

    blobs: dict[str, bytes] = field(default_factory=dict)
    archive: str = "fuzz-image"

    def exists(self, name: str) -> bool:
        return name in self.blobs

    def read(self, name: str, limit: int) -> bytes:
        from depslim.errors import ImageFormatError

        if name not in self.blobs:
            raise ImageFormatError(self.archive, f"missing {name}")
        data = self.blobs[name]
        if len(data) > limit:
            raise ImageFormatError(self.archive, f"{name} too large")
        return data

    def layer(self, name: str) -> LayerRef:
        from depslim.errors import ImageFormatError

        if name not in self.blobs:
            raise ImageFormatError(self.archive, f"missing layer blob {name}")
        data = self.blobs[name]
        return LayerRef(digest=name, size=len(data), opener=lambda: _Reader(data), name=name)


@dataclass
class ImageCase:
    blobs: dict[str, bytes]
    platform: str | None
    limits: Limits = DEFAULT_LIMITS


def _blob_name(digest: str) -> str:
    algorithm, _, hexpart = digest.partition(":")
    return f"blobs/{algorithm}/{hexpart}"


def _put(blobs: dict[str, bytes], data: bytes) -> str:
    digest = sha256(data)
    blobs[_blob_name(digest)] = data
    return digest


@st.composite
def image_case(draw: st.DrawFn) -> ImageCase:
    """An OCI layout (index -> maybe nested index -> manifest -> config + layers) or a docker-archive,
    one document of which is mutated before the digests above it are computed."""
    blobs: dict[str, bytes] = {}
    layers = draw(st.lists(st.one_of(layer_blob(), st.just(clean_tar([]))), max_size=3))
    config = draw(image_config_document(len(layers)))
    config["rootfs"]["diff_ids"] = [sha256(layer) for layer in layers]
    target = draw(st.sampled_from(("none", "config", "manifest", "index", "docker")))
    if target == "config":
        config = draw(mutate_json(config))
    config_bytes = json.dumps(config).encode()
    if draw(st.integers(0, 9)) == 0:
        config_bytes = draw(mutate_bytes(config_bytes, 2))
    platform = draw(st.sampled_from((None, None, "linux/amd64", "linux/arm64/v8", "windows/amd64")))
    if draw(st.booleans()) or target == "docker":
        names = []
        for layer in layers:
            names.append(f"{hashlib.sha256(layer).hexdigest()[:12]}/layer.tar")
            blobs[names[-1]] = layer
        config_name = f"{sha256(config_bytes)[7:]}.json"
        blobs[config_name] = config_bytes
        manifest: Any = [{"Config": config_name, "RepoTags": ["fuzz:latest"], "Layers": names}]
        if target == "docker":
            manifest = draw(mutate_json(manifest))
        blobs["manifest.json"] = json.dumps(manifest).encode()
        return ImageCase(blobs, platform)
    config_digest = _put(blobs, config_bytes)
    layer_descs = [{"mediaType": draw(st.sampled_from(LAYER_MEDIA)), "digest": _put(blobs, layer), "size": len(layer)}
                   for layer in layers]
    manifest = {"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest,
                           "size": len(config_bytes)}, "layers": layer_descs}
    if target == "manifest":
        manifest = draw(mutate_json(manifest))
    manifest_bytes = json.dumps(manifest).encode()
    plat = {"os": "linux", "architecture": draw(st.sampled_from(("amd64", "arm64"))), "variant": "v8"}
    descriptors = [{"mediaType": OCI_MANIFEST, "digest": _put(blobs, manifest_bytes), "size": len(manifest_bytes),
                    "platform": plat, "annotations": {"org.opencontainers.image.ref.name": "latest"}}]
    if draw(st.booleans()):  # a buildkit attestation beside the image
        descriptors.append({"mediaType": OCI_MANIFEST, "digest": descriptors[0]["digest"], "size": 1,
                            "platform": {"os": "unknown", "architecture": "unknown"},
                            "annotations": {"vnd.docker.reference.type": "attestation-manifest"}})
    index: Any = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": descriptors}
    if draw(st.booleans()):  # nested index, as `docker save` of a multi-platform image writes
        inner = json.dumps(index).encode()
        index = {"schemaVersion": 2, "mediaType": OCI_INDEX,
                 "manifests": [{"mediaType": OCI_INDEX, "digest": _put(blobs, inner), "size": len(inner)}]}
    if target == "index":
        index = draw(mutate_json(index))
    blobs["index.json"] = json.dumps(index).encode()
    return ImageCase(blobs, platform)
