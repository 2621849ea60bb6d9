"""Hostile archives too big for `tarfile` to write in a test's time: tar headers laid out by hand.

`tests.imagebuild` writes real layers with `tarfile`, one member at a time; a million-file layer
takes it ~30 s. Here the same ustar bytes are produced directly: `header` formats one member
(pax records for names ustar cannot hold), `million_file_layer` builds a million members with numpy
(every header a row of one array, checksums summed per row) and streams them through zstd, so a
real million-file layer is a few MB on disk and a couple of seconds to make. The archives that
carry these layers are still written by `tests.imagebuild` (real OCI layouts and docker-archives,
content-addressed by their real digests).
"""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import zstandard

BLOCK = 512


def _octal(value: int, width: int) -> bytes:
    return b"%0*o\x00" % (width - 1, value)


def header(name: bytes, size: int = 0, typeflag: bytes = b"0", linkname: bytes = b"") -> bytes:
    """One ustar header (512 bytes) for `name`; longer names get a pax `path` record first."""
    out = b""
    if len(name) > 100:
        record = b"path=" + name + b"\n"
        length = len(record) + 1
        length += len(str(length + len(str(length))))
        while len(b"%d %s" % (length, record)) != length:
            length += 1
        body = b"%d %s" % (length, record)
        out += header(b"PaxHeaders/x", len(body), b"x") + pad(body)
        name = name[-100:].lstrip(b"/") or b"x"
    h = bytearray(BLOCK)
    h[0 : len(name)] = name
    h[100:108] = _octal(0o644, 8)
    h[108:116] = _octal(0, 8)
    h[116:124] = _octal(0, 8)
    h[124:136] = _octal(size, 12)
    h[136:148] = _octal(0, 12)
    h[148:156] = b" " * 8
    h[156:157] = typeflag
    h[157 : 157 + len(linkname)] = linkname
    h[257:263] = b"ustar\x00"
    h[263:265] = b"00"
    h[148:156] = b"%06o\x00 " % sum(h)
    return out + bytes(h)


def pad(data: bytes) -> bytes:
    return data + b"\x00" * (-len(data) % BLOCK)


def member(name: str, data: bytes = b"", typeflag: bytes = b"0", linkname: str = "") -> bytes:
    """A whole member: header (plus pax record when needed) and padded data."""
    return header(name.encode(), len(data), typeflag, linkname.encode()) + pad(data)


def end() -> bytes:
    return b"\x00" * (2 * BLOCK)


def layer(members: Iterable[bytes]) -> bytes:
    return b"".join(members) + end()


def million_file_layer(path: Path, files: int = 1_000_000, per_dir: int = 1000) -> str:
    """A zstd layer of `files` regular files, `per_dir` to a directory, named like the inside of
    site-packages (~70 characters), sizes 0..2047 bytes (2,048 distinct sizes, zeros for data).

    Written with numpy: every member of a size class is one row (header then data blocks), its
    name digits and size and checksum filled per column; the rows stream through zstd. Returns
    the uncompressed tar's digest (the config's diff_id).
    """
    dirs = -(-files // per_dir)
    template = b"usr/local/lib/python3.11/site-packages/pkg%05d/sub/module_%07d.py"
    name_len = len(template % (0, 0))
    d_digits = [template.index(b"%05d") + k for k in range(5)]
    f_start = len(template[: template.index(b"%07d")].replace(b"%05d", b"00000"))
    f_digits = [f_start + k for k in range(7)]
    sizes = (np.arange(files, dtype=np.int64) * 7919) % 2048
    cctx = zstandard.ZstdCompressor(level=1, threads=2)
    with open(path, "wb") as out, cctx.stream_writer(out, closefd=False) as compressor:
        writer = _Hashing(compressor)
        for d in range(dirs):  # the directories first, as docker writes them
            writer.write(header(b"usr/local/lib/python3.11/site-packages/pkg%05d/sub/" % d, 0, b"5"))
        index = np.arange(files, dtype=np.int64)
        for blocks in range(5):  # members grouped by how many data blocks follow their header
            chosen = index[-(-sizes // BLOCK) == blocks]
            for start in range(0, len(chosen), 100_000):
                part = chosen[start : start + 100_000]
                rows = np.zeros((len(part), BLOCK * (1 + blocks)), dtype=np.uint8)
                base = np.frombuffer(header(b"x" * name_len, 0), dtype=np.uint8)
                rows[:, :BLOCK] = base
                rows[:, :name_len] = np.frombuffer(template % (0, 0), dtype=np.uint8)
                for k, column in enumerate(d_digits):
                    rows[:, column] = 48 + (part // per_dir) // 10 ** (4 - k) % 10
                for k, column in enumerate(f_digits):
                    rows[:, column] = 48 + part // 10 ** (6 - k) % 10
                size = sizes[part]
                for k in range(11):
                    rows[:, 124 + k] = 48 + (size >> (3 * (10 - k))) % 8
                rows[:, 148:156] = 32
                total = rows[:, :BLOCK].sum(axis=1, dtype=np.int64)
                for k in range(6):
                    rows[:, 148 + k] = 48 + (total >> (3 * (5 - k))) % 8
                rows[:, 154] = 0
                rows[:, 155] = 32
                writer.write(rows.tobytes())
        writer.write(end())
    return "sha256:" + writer.hash.hexdigest()


class _Hashing:
    """Writes through to `inner`, hashing what passes (the uncompressed tar's diff_id)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.hash = hashlib.sha256()

    def write(self, data: bytes) -> None:
        self.hash.update(data)
        self.inner.write(data)


def oci_layout(root: Path, blobs: list[tuple[bytes | Path, str, str]], config: dict[str, Any] | None = None) -> Path:
    """An OCI image layout whose layers are the given blobs as they are: (bytes or a file, media
    type, diff_id). The layout is real (every blob named by its sha256), written by hand so a
    multi-hundred-MB layer is never held in memory."""
    blob_dir = root / "blobs" / "sha256"
    blob_dir.mkdir(parents=True, exist_ok=True)

    def put(data: bytes | Path) -> tuple[str, int]:
        digest = hashlib.sha256()
        if isinstance(data, Path):
            with open(data, "rb") as handle:
                while chunk := handle.read(1 << 20):
                    digest.update(chunk)
            name = digest.hexdigest()
            data.replace(blob_dir / name)
            return "sha256:" + name, (blob_dir / name).stat().st_size
        digest.update(data)
        (blob_dir / digest.hexdigest()).write_bytes(data)
        return "sha256:" + digest.hexdigest(), len(data)

    layers = []
    for data, media, _diff_id in blobs:
        digest, size = put(data)
        layers.append({"mediaType": media, "digest": digest, "size": size})
    config = config if config is not None else {
        "architecture": "amd64", "os": "linux", "config": {"Env": ["PATH=/usr/local/bin:/usr/bin:/bin"]},
        "rootfs": {"type": "layers", "diff_ids": [diff for _d, _m, diff in blobs]},
        "history": [{"created_by": f"/bin/sh -c #(nop) COPY layer{i} /"} for i in range(len(blobs))],
    }
    config_digest, config_size = put(json.dumps(config).encode())
    manifest = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest,
                           "size": config_size},
                "layers": layers}
    manifest_digest, manifest_size = put(json.dumps(manifest).encode())
    index = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
             "manifests": [{"mediaType": manifest["mediaType"], "digest": manifest_digest, "size": manifest_size,
                            "platform": {"os": "linux", "architecture": "amd64"}}]}
    (root / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
    (root / "index.json").write_text(json.dumps(index))
    return root


def diff_id(layer_tar: bytes) -> str:
    return "sha256:" + hashlib.sha256(layer_tar).hexdigest()


ZSTD = "application/vnd.oci.image.layer.v1.tar+zstd"
GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
TAR = "application/vnd.oci.image.layer.v1.tar"


def zstd(data: bytes) -> bytes:
    return zstandard.ZstdCompressor(level=3).compress(data)


def gzip_stream(chunks: Iterable[bytes]) -> bytes:
    """gzip of the concatenated chunks, without holding the uncompressed whole."""
    import gzip

    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb", compresslevel=6, mtime=0) as gz:
        for chunk in chunks:
            gz.write(chunk)
    return buf.getvalue()
