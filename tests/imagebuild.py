"""Write real image archives in Python for unit tests: docker-archive (legacy and Docker 25
OCI-inside-tar), OCI layout dirs and oci-archive tars, with plain, gzip or zstd layers.

Layers are real tars made with `tarfile` (names written verbatim, so hostile names are
possible); blobs are content-addressed by their real sha256.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import posixpath
import tarfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import zstandard

MEDIA = {
    None: "application/vnd.oci.image.layer.v1.tar",
    "gzip": "application/vnd.oci.image.layer.v1.tar+gzip",
    "zstd": "application/vnd.oci.image.layer.v1.tar+zstd",
}


@dataclass(frozen=True)
class File:
    path: str
    data: bytes | str = b""
    mode: int = 0o644


@dataclass(frozen=True)
class Dir:
    path: str


@dataclass(frozen=True)
class Symlink:
    path: str
    target: str


@dataclass(frozen=True)
class Hardlink:
    path: str
    target: str


@dataclass(frozen=True)
class Whiteout:
    path: str  # the path to delete from lower layers


@dataclass(frozen=True)
class Opaque:
    path: str  # the directory whose lower-layer children are hidden


@dataclass(frozen=True)
class RawMember:
    """A member written exactly as given (hostile names, odd types)."""

    name: str
    type: bytes = tarfile.REGTYPE
    data: bytes = b""
    linkname: str = ""


Entry = File | Dir | Symlink | Hardlink | Whiteout | Opaque | RawMember


def _name(path: str) -> str:
    return path.lstrip("/")


def layer_tar(entries: Iterable[Entry]) -> bytes:
    """An uncompressed layer tar (PAX format, like docker writes)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for entry in entries:
            if isinstance(entry, File):
                data = entry.data.encode() if isinstance(entry.data, str) else entry.data
                info = tarfile.TarInfo(_name(entry.path))
                info.size, info.mode = len(data), entry.mode
                tar.addfile(info, io.BytesIO(data))
            elif isinstance(entry, Dir):
                info = tarfile.TarInfo(_name(entry.path))
                info.type, info.mode = tarfile.DIRTYPE, 0o755
                tar.addfile(info)
            elif isinstance(entry, Symlink):
                info = tarfile.TarInfo(_name(entry.path))
                info.type, info.linkname = tarfile.SYMTYPE, entry.target
                tar.addfile(info)
            elif isinstance(entry, Hardlink):
                info = tarfile.TarInfo(_name(entry.path))
                info.type, info.linkname = tarfile.LNKTYPE, _name(entry.target)
                tar.addfile(info)
            elif isinstance(entry, Whiteout):
                parent, base = posixpath.split(_name(entry.path))
                tar.addfile(tarfile.TarInfo(posixpath.join(parent, ".wh." + base)), io.BytesIO(b""))
            elif isinstance(entry, Opaque):
                tar.addfile(tarfile.TarInfo(posixpath.join(_name(entry.path), ".wh..wh..opq")), io.BytesIO(b""))
            elif isinstance(entry, RawMember):
                info = tarfile.TarInfo(entry.name)
                info.type, info.linkname, info.size = entry.type, entry.linkname, len(entry.data)
                tar.addfile(info, io.BytesIO(entry.data) if entry.data else None)
    return buf.getvalue()


def compress(data: bytes, kind: str | None) -> bytes:
    if kind == "gzip":
        return gzip.compress(data, compresslevel=6, mtime=0)
    if kind == "zstd":
        return zstandard.ZstdCompressor(level=3).compress(data)
    return data


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def dist_entries(
    site: str,
    name: str,
    version: str = "1.0",
    files: Mapping[str, bytes | str] | None = None,
    requires: Sequence[str] = (),
    top_level: Sequence[str] | None = None,
    console_scripts: Mapping[str, str] | None = None,
    record: bool = True,
) -> list[Entry]:
    """An installed distribution's files and dist-info (paths in `files` are site-relative)."""
    dist = name.replace("-", "_")
    files = dict(files if files is not None else {f"{dist}/__init__.py": f"NAME = {name!r}\n"})
    info = f"{dist}-{version}.dist-info"
    meta = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
    meta += "".join(f"Requires-Dist: {r}\n" for r in requires)
    files[f"{info}/METADATA"] = meta
    files[f"{info}/INSTALLER"] = "pip\n"
    if top_level is not None:
        files[f"{info}/top_level.txt"] = "".join(f"{t}\n" for t in top_level)
    if console_scripts:
        files[f"{info}/entry_points.txt"] = "[console_scripts]\n" + "".join(
            f"{k} = {v}\n" for k, v in console_scripts.items()
        )
    entries: list[Entry] = []
    lines = []
    for rel, data in files.items():
        raw = data.encode() if isinstance(data, str) else data
        full = posixpath.normpath(posixpath.join(site, rel))
        entries.append(File(full, raw))
        lines.append(f"{rel},sha256=x,{len(raw)}")
    if record:
        lines.append(f"{info}/RECORD,,")
        entries.append(File(f"{site}/{info}/RECORD", "\n".join(lines) + "\n"))
    return entries


def image_config(
    layers: Sequence[bytes],
    history: Sequence[str] | None = None,
    env: Sequence[str] = ("PATH=/usr/local/bin:/usr/bin:/bin",),
    user: str = "",
    arch: str = "amd64",
    empty_history: Sequence[int] = (),
) -> dict[str, object]:
    """An image config whose diff_ids match `layers` (uncompressed tars).

    `history` has one instruction per layer; `empty_history` inserts empty_layer entries
    (ENV/CMD) before those layer positions, to test pairing.
    """
    hist: list[dict[str, object]] = []
    for index in range(len(layers)):
        if index in empty_history:
            hist.append({"created_by": "/bin/sh -c #(nop)  ENV X=1", "empty_layer": True})
        text = history[index] if history else f"/bin/sh -c #(nop) COPY layer{index} /"
        hist.append({"created_by": text})
    return {
        "architecture": arch,
        "os": "linux",
        "config": {"Env": list(env), "User": user},
        "rootfs": {"type": "layers", "diff_ids": [sha256(layer) for layer in layers]},
        "history": hist,
    }


@dataclass
class Image:
    layers: list[bytes]  # uncompressed tars
    config: dict[str, object] = field(default_factory=dict)
    compression: str | None = None
    platform: tuple[str, str, str] = ("linux", "amd64", "")

    def __post_init__(self) -> None:
        if not self.config:
            self.config = image_config(self.layers, arch=self.platform[1])


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))


def write_docker_archive(path: Path, image: Image, *, oci: bool = False, tag: str = "test:latest") -> Path:
    """`docker save` output: legacy (<id>/layer.tar) or Docker 25 (blobs + index.json too)."""
    blobs: dict[str, bytes] = {}
    config_bytes = json.dumps(image.config).encode()
    with tarfile.open(path, "w", format=tarfile.PAX_FORMAT) as tar:
        layer_names = []
        layer_descs = []
        for layer in image.layers:
            blob = compress(layer, image.compression)
            digest = sha256(blob)
            if oci:
                name = f"blobs/sha256/{digest.split(':')[1]}"
                blobs[name] = blob
            else:
                name = f"{hashlib.sha256(blob).hexdigest()[:12]}/layer.tar"
                _add_bytes(tar, name, blob)
            layer_names.append(name)
            layer_descs.append({"mediaType": MEDIA[image.compression], "digest": digest, "size": len(blob)})
        config_digest = sha256(config_bytes)
        config_name = f"blobs/sha256/{config_digest.split(':')[1]}" if oci else f"{config_digest[7:]}.json"
        if oci:
            manifest = {
                "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest,
                           "size": len(config_bytes)},
                "layers": layer_descs,
            }
            manifest_bytes = json.dumps(manifest).encode()
            manifest_digest = sha256(manifest_bytes)
            blobs[f"blobs/sha256/{manifest_digest[7:]}"] = manifest_bytes
            blobs[config_name] = config_bytes
            for name, data in blobs.items():
                _add_bytes(tar, name, data)
            _add_bytes(tar, "oci-layout", b'{"imageLayoutVersion":"1.0.0"}')
            index = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": [
                {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": manifest_digest,
                 "size": len(manifest_bytes), "annotations": {"io.containerd.image.name": tag}}]}
            _add_bytes(tar, "index.json", json.dumps(index).encode())
        else:
            _add_bytes(tar, config_name, config_bytes)
        docker_manifest = [{"Config": config_name, "RepoTags": [tag], "Layers": layer_names}]
        _add_bytes(tar, "manifest.json", json.dumps(docker_manifest).encode())
    return path


def write_oci_layout(root: Path, images: Sequence[Image], *, nested: bool = False) -> Path:
    """An OCI image-layout dir; several images become a multi-platform index."""
    blob_dir = root / "blobs" / "sha256"
    blob_dir.mkdir(parents=True, exist_ok=True)

    def put(data: bytes) -> str:
        digest = sha256(data)
        (blob_dir / digest[7:]).write_bytes(data)
        return digest

    descriptors = []
    for image in images:
        layers = []
        for layer in image.layers:
            blob = compress(layer, image.compression)
            layers.append({"mediaType": MEDIA[image.compression], "digest": put(blob), "size": len(blob)})
        config_bytes = json.dumps(image.config).encode()
        manifest = {
            "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": put(config_bytes),
                       "size": len(config_bytes)},
            "layers": layers,
        }
        manifest_bytes = json.dumps(manifest).encode()
        os_name, arch, variant = image.platform
        plat = {"os": os_name, "architecture": arch, **({"variant": variant} if variant else {})}
        descriptors.append({"mediaType": manifest["mediaType"], "digest": put(manifest_bytes),
                            "size": len(manifest_bytes), "platform": plat})
    index: dict[str, object] = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
                                "manifests": descriptors}
    if nested:
        inner = json.dumps(index).encode()
        index = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
                 "manifests": [{"mediaType": "application/vnd.oci.image.index.v1+json", "digest": put(inner),
                                "size": len(inner),
                                "annotations": {"org.opencontainers.image.ref.name": "latest"}}]}
    (root / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
    (root / "index.json").write_text(json.dumps(index))
    return root


def write_oci_archive(path: Path, layout: Path) -> Path:
    """An oci-archive: the layout dir's contents as a tar."""
    with tarfile.open(path, "w", format=tarfile.PAX_FORMAT) as tar:
        for item in sorted(layout.rglob("*")):
            if item.is_file():
                tar.add(item, arcname=str(item.relative_to(layout)))
    return path
