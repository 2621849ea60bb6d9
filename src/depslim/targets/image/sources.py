"""Where an image comes from: docker-archive / oci-archive tars, OCI layout dirs, a Docker engine.

Every source ends in the same `ResolvedImage`: the config JSON plus the layers in stack order,
each either openable on demand (files on disk: read in parallel) or already scanned (an
engine save is one stream, so its layers are scanned as they pass by and ordered afterwards).
Resolution follows the OCI rules (index -> index* -> manifest for the platform -> config +
layers) and falls back to docker's `manifest.json`. Every archive path goes through
`layers.normalize_member`; blob digests are validated before becoming file names.
"""

from __future__ import annotations

import http.client
import json
import os
import platform as host_platform
import re
import socket
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

from depslim.errors import ImageFormatError, TargetError
from depslim.targets.image.layers import (
    DEFAULT_LIMITS,
    BoundedStream,
    ByteSource,
    LayerScan,
    Limits,
    RegionFile,
    TarWalker,
    _Prefixed,
    normalize_member,
    resolve_link_target,
    scan_layer,
)

INDEX_TYPES = {
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
}
MANIFEST_TYPES = {
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
}
DIGEST_RE = re.compile(r"^(?P<alg>[a-z0-9]+(?:[+._-][a-z0-9]+)*):(?P<hex>[a-zA-Z0-9=_-]+)$")
ARCH_ALIASES = {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "i686": "386", "i386": "386"}
DOCKER_SOCKET = "/var/run/docker.sock"


@dataclass
class LayerRef:
    """One layer in stack order: how to read it (or its scan) and what the manifest says."""

    digest: str
    media_type: str = ""
    size: int | None = None
    opener: Callable[[], ByteSource] | None = None
    scan: LayerScan | None = None


@dataclass
class ResolvedImage:
    archive: str  # what error messages name
    ref: str
    config: dict[str, Any]
    layers: list[LayerRef]
    platform: str
    tags: tuple[str, ...] = ()
    warnings: list[str] = field(default_factory=list)


# --- references -------------------------------------------------------------------------


def parse_ref(ref: str) -> tuple[str, str]:
    """Split a reference into (kind, value): kind is "path" or "engine".

    Accepts skopeo-style prefixes (`docker-archive:`, `oci-archive:`, `oci:`, `docker:`,
    `docker-daemon:`); a bare string is a path when it exists, otherwise an engine name.
    """
    for prefix in ("docker-archive:", "oci-archive:", "oci:"):
        if ref.startswith(prefix):
            value = ref[len(prefix) :]
            if prefix == "oci:" and ":" in value and not Path(value).exists():
                value = value.rsplit(":", 1)[0]  # oci:dir:tag
            return "path", value
    for prefix in ("docker-daemon:", "docker:"):
        if ref.startswith(prefix):
            return "engine", ref[len(prefix) :].removeprefix("//")
    if Path(ref).exists():
        return "path", ref
    return "engine", ref


def parse_platform(text: str) -> tuple[str, str, str]:
    """`linux/amd64[/v8]` -> (os, arch, variant), with common arch aliases folded."""
    parts = text.strip().split("/")
    if len(parts) < 2 or not all(parts[:2]):
        raise TargetError(f"--platform {text!r}: expected OS/ARCH[/VARIANT], e.g. linux/amd64")
    os_name, arch = parts[0], ARCH_ALIASES.get(parts[1], parts[1])
    variant = parts[2] if len(parts) > 2 else ""
    return os_name, arch, variant


def host_platform_tuple() -> tuple[str, str, str]:
    machine = host_platform.machine().lower()
    return "linux", ARCH_ALIASES.get(machine, machine), ""


def platform_string(config: Mapping[str, Any]) -> str:
    os_name = str(config.get("os") or "linux")
    arch = str(config.get("architecture") or "")
    variant = str(config.get("variant") or "")
    return "/".join(p for p in (os_name, arch, variant) if p)


# --- catalogs: what the resolution reads ------------------------------------------------


class Catalog:
    """Named blobs of one image source; names are archive-relative POSIX paths."""

    archive: str

    def exists(self, name: str) -> bool:
        raise NotImplementedError

    def read(self, name: str, limit: int) -> bytes:
        raise NotImplementedError

    def layer(self, name: str) -> LayerRef:
        raise NotImplementedError

    def read_json(self, name: str, limits: Limits) -> Any:
        data = self.read(name, limits.max_json)
        try:
            return json.loads(data)
        except (ValueError, UnicodeDecodeError) as exc:
            raise ImageFormatError(self.archive, f"{name} is not valid JSON: {exc}") from None


def _link_member(name: str, typeflag: str, link: str, archive: str) -> str:
    """Where a link member of an outer archive points (docker save symlinks repeated layers)."""
    if typeflag == "1":
        return normalize_member(link, archive).lstrip("/")
    return resolve_link_target("/" + name, link, archive).lstrip("/")


class TarCatalog(Catalog):
    """A docker-archive or oci-archive tar on disk, indexed by headers only."""

    def __init__(self, path: Path, limits: Limits) -> None:
        self.archive = str(path)
        self.path = path
        self.members: dict[str, tuple[int, int]] = {}
        self.links: dict[str, str] = {}
        total = path.stat().st_size
        region = RegionFile(str(path), 0, total)
        try:
            walker = TarWalker(region, self.archive, limits)
            for raw_name, typeflag, size, link in walker:
                name = normalize_member(raw_name, self.archive).lstrip("/")
                if typeflag in "07":
                    if walker.offset + size > total:
                        raise ImageFormatError(self.archive, f"truncated tar: member {name} runs past the end")
                    self.members[name] = (walker.offset, size)
                elif typeflag in "12":
                    self.links[name] = _link_member(name, typeflag, link, self.archive)
        finally:
            region.close()

    def _real(self, name: str) -> str:
        seen = 0
        while name in self.links and seen < 40:
            name, seen = self.links[name], seen + 1
        return name

    def exists(self, name: str) -> bool:
        return self._real(name) in self.members

    def read(self, name: str, limit: int) -> bytes:
        real = self._real(name)
        if real not in self.members:
            raise ImageFormatError(self.archive, f"missing {name}")
        offset, size = self.members[real]
        if size > limit:
            raise ImageFormatError(self.archive, f"{name} is {size} bytes, too large for metadata")
        region = RegionFile(str(self.path), offset, size)
        try:
            return region.read(size)
        finally:
            region.close()

    def layer(self, name: str) -> LayerRef:
        real = self._real(name)
        if real not in self.members:
            raise ImageFormatError(self.archive, f"missing layer blob {name}")
        offset, size = self.members[real]
        path = str(self.path)
        return LayerRef(digest=name, size=size, opener=lambda: RegionFile(path, offset, size))


class DirCatalog(Catalog):
    """An OCI image-layout directory; nothing outside it is ever opened."""

    def __init__(self, root: Path) -> None:
        self.archive = str(root)
        self.root = root.resolve()

    def _path(self, name: str) -> Path:
        rel = normalize_member(name, self.archive).lstrip("/")
        path = (self.root / rel).resolve()
        if self.root not in path.parents:
            raise ImageFormatError(self.archive, f"{name} points outside the layout")
        return path

    def exists(self, name: str) -> bool:
        return self._path(name).is_file()

    def read(self, name: str, limit: int) -> bytes:
        path = self._path(name)
        try:
            size = path.stat().st_size
            if size > limit:
                raise ImageFormatError(self.archive, f"{name} is {size} bytes, too large for metadata")
            return path.read_bytes()
        except FileNotFoundError:
            raise ImageFormatError(self.archive, f"missing {name}") from None
        except OSError as exc:
            raise ImageFormatError(self.archive, f"cannot read {name}: {exc.strerror}") from None

    def layer(self, name: str) -> LayerRef:
        path = self._path(name)
        if not path.is_file():
            raise ImageFormatError(self.archive, f"missing layer blob {name}")
        size = path.stat().st_size
        return LayerRef(digest=name, size=size, opener=lambda: RegionFile(str(path), 0, size))


class StreamCatalog(Catalog):
    """An engine save read once as a stream: JSON kept, layers scanned as they pass."""

    def __init__(self, archive: str) -> None:
        self.archive = archive
        self.json: dict[str, bytes] = {}
        self.scans: dict[str, LayerScan] = {}
        self.links: dict[str, str] = {}

    def _real(self, name: str) -> str:
        seen = 0
        while name in self.links and seen < 40:
            name, seen = self.links[name], seen + 1
        return name

    def exists(self, name: str) -> bool:
        real = self._real(name)
        return real in self.json or real in self.scans

    def read(self, name: str, limit: int) -> bytes:
        real = self._real(name)
        if real not in self.json:
            raise ImageFormatError(self.archive, f"missing {name}")
        return self.json[real]

    def layer(self, name: str) -> LayerRef:
        real = self._real(name)
        if real not in self.scans:
            raise ImageFormatError(self.archive, f"missing layer blob {name}")
        return LayerRef(digest=name, scan=self.scans[real])

    def consume(
        self, stream: ByteSource, limits: Limits, on_layer: Callable[[str], None] | None = None,
        on_read: Callable[[int], None] | None = None,
    ) -> None:
        """Walk the outer tar: JSON members are kept, layer members are scanned in passing."""
        walker = TarWalker(stream, self.archive, limits)
        for raw_name, typeflag, size, link in walker:
            name = normalize_member(raw_name, self.archive).lstrip("/")
            if typeflag in "12":
                self.links[name] = _link_member(name, typeflag, link, self.archive)
                continue
            if typeflag not in "07":
                continue
            member = BoundedStream(_WalkerBody(walker), size)
            head = member.read(1)
            if head == b"{" or name.endswith((".json", "oci-layout", "repositories")):
                if size > limits.max_json:
                    raise ImageFormatError(self.archive, f"{name} is {size} bytes, too large for metadata")
                body = head + member.read(size)
                self.json[name] = body
            elif head and (name.endswith("layer.tar") or name.startswith("blobs/")):
                self.scans[name] = scan_layer(
                    _Prefixed(head, member), f"{self.archive}: {name}", limits, on_read
                )
                member.drain()
                if on_layer is not None:
                    on_layer(name)


class _WalkerBody:
    """Reads the current member's content from a TarWalker's stream (for nested tars)."""

    def __init__(self, walker: TarWalker) -> None:
        self._walker = walker

    def read(self, n: int) -> bytes:
        return self._walker.read_raw(n)


# --- resolution ---------------------------------------------------------------------------


def _blob_name(descriptor: Mapping[str, Any], archive: str) -> str:
    digest = descriptor.get("digest") if isinstance(descriptor, Mapping) else None
    match = DIGEST_RE.match(digest) if isinstance(digest, str) else None
    if match is None:
        raise ImageFormatError(archive, f"bad or missing digest in descriptor: {digest!r}")
    return f"blobs/{match['alg']}/{match['hex']}"


def _is_attestation(descriptor: Mapping[str, Any]) -> bool:
    plat = descriptor.get("platform") or {}
    annotations = descriptor.get("annotations") or {}
    return plat.get("os") == "unknown" or "vnd.docker.reference.type" in annotations


def _platform_of(descriptor: Mapping[str, Any]) -> tuple[str, str, str] | None:
    plat = descriptor.get("platform")
    if not isinstance(plat, Mapping):
        return None
    return (str(plat.get("os", "")), str(plat.get("architecture", "")), str(plat.get("variant", "")))


def _pick(
    candidates: list[Mapping[str, Any]], wanted: tuple[str, str, str] | None, archive: str
) -> Mapping[str, Any]:
    """Choose a manifest by platform; without --platform take the only one or the host's."""
    usable = [d for d in candidates if not _is_attestation(d)]
    if not usable:
        raise ImageFormatError(archive, "no image manifest in the index")
    if wanted is not None:
        for descriptor in usable:
            plat = _platform_of(descriptor)
            if plat is None:
                continue
            if plat[:2] == wanted[:2] and (not wanted[2] or plat[2] == wanted[2]):
                return descriptor
        if len(usable) == 1 and _platform_of(usable[0]) is None:
            return usable[0]
        have = ", ".join("/".join(p for p in (_platform_of(d) or ("?",)) if p) for d in usable)
        raise TargetError(f"{archive}: no manifest for platform {'/'.join(p for p in wanted if p)} "
                          f"(has: {have})")
    if len(usable) == 1:
        return usable[0]
    host = host_platform_tuple()
    for descriptor in usable:
        plat = _platform_of(descriptor)
        if plat is not None and plat[:2] == host[:2]:
            return descriptor
    return usable[0]


def _resolve_oci(
    catalog: Catalog, limits: Limits, wanted: tuple[str, str, str] | None, ref: str
) -> ResolvedImage:
    archive = catalog.archive
    document = catalog.read_json("index.json", limits)
    tags: list[str] = []
    for _depth in range(8):
        if not isinstance(document, Mapping):
            raise ImageFormatError(archive, "index is not a JSON object")
        media = document.get("mediaType", "")
        manifests = document.get("manifests")
        if isinstance(manifests, list) and (media in INDEX_TYPES or "layers" not in document):
            present = [d for d in manifests if isinstance(d, Mapping) and
                       (d.get("mediaType") in INDEX_TYPES | MANIFEST_TYPES or "mediaType" not in d)]
            present = [d for d in present if catalog.exists(_blob_name(d, archive))] or present
            chosen = _pick(present, wanted, archive)
            tag = (chosen.get("annotations") or {}).get("org.opencontainers.image.ref.name")
            if tag:
                tags.append(str(tag))
            document = catalog.read_json(_blob_name(chosen, archive), limits)
            continue
        break
    else:
        raise ImageFormatError(archive, "index nesting too deep")
    if not isinstance(document, Mapping) or not isinstance(document.get("layers"), list):
        raise ImageFormatError(archive, "image manifest has no layers list")
    config_desc = document.get("config")
    if not isinstance(config_desc, Mapping):
        raise ImageFormatError(archive, "image manifest has no config")
    config = catalog.read_json(_blob_name(config_desc, archive), limits)
    layers = []
    for descriptor in document["layers"]:
        name = _blob_name(descriptor, archive)
        layer = catalog.layer(name)
        layer.digest = str(descriptor.get("digest"))
        layer.media_type = str(descriptor.get("mediaType", ""))
        layers.append(layer)
    return _finish(catalog, config, layers, ref, tags)


def _resolve_docker(
    catalog: Catalog, limits: Limits, wanted: tuple[str, str, str] | None, ref: str
) -> ResolvedImage:
    archive = catalog.archive
    manifest = catalog.read_json("manifest.json", limits)
    if not isinstance(manifest, list) or not manifest or not all(isinstance(m, Mapping) for m in manifest):
        raise ImageFormatError(archive, "manifest.json is not a list of images")
    chosen = manifest[0]
    configs = []
    for entry in manifest:
        config_name = entry.get("Config")
        if not isinstance(config_name, str):
            raise ImageFormatError(archive, "manifest.json entry has no Config")
        config = catalog.read_json(normalize_member(config_name, archive).lstrip("/"), limits)
        configs.append((entry, config))
    chosen, config = configs[0]
    if wanted is not None:
        for entry, cfg in configs:
            if isinstance(cfg, Mapping) and cfg.get("architecture") == wanted[1]:
                chosen, config = entry, cfg
                break
        else:
            raise TargetError(f"{archive}: no image for platform {'/'.join(p for p in wanted if p)}")
    names = chosen.get("Layers")
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise ImageFormatError(archive, "manifest.json entry has no Layers list")
    layers = [catalog.layer(normalize_member(n, archive).lstrip("/")) for n in names]
    tags = [str(t) for t in chosen.get("RepoTags") or []]
    return _finish(catalog, config, layers, ref, tags)


def _finish(
    catalog: Catalog, config: Any, layers: list[LayerRef], ref: str, tags: list[str]
) -> ResolvedImage:
    if not isinstance(config, dict):
        raise ImageFormatError(catalog.archive, "image config is not a JSON object")
    diff_ids = (config.get("rootfs") or {}).get("diff_ids") or []
    if isinstance(diff_ids, list) and len(diff_ids) == len(layers):
        for layer, diff_id in zip(layers, diff_ids, strict=True):
            if isinstance(diff_id, str) and not layer.digest.startswith("sha256:"):
                layer.digest = diff_id
    return ResolvedImage(
        archive=catalog.archive, ref=ref, config=config, layers=layers,
        platform=platform_string(config), tags=tuple(tags),
    )


def resolve(catalog: Catalog, limits: Limits, platform: str | None, ref: str) -> ResolvedImage:
    """Pick the image in a catalog: OCI index first (typed, multi-platform), then docker's."""
    wanted = parse_platform(platform) if platform else None
    if catalog.exists("index.json"):
        return _resolve_oci(catalog, limits, wanted, ref)
    if catalog.exists("manifest.json"):
        return _resolve_docker(catalog, limits, wanted, ref)
    raise ImageFormatError(
        catalog.archive, "neither index.json nor manifest.json: not an OCI layout or docker-archive"
    )


# --- opening --------------------------------------------------------------------------------


def open_path(path: Path, limits: Limits = DEFAULT_LIMITS) -> Catalog:
    """A catalog for an archive tar or an OCI layout directory."""
    if path.is_dir():
        if not (path / "index.json").is_file() and not (path / "manifest.json").is_file():
            raise ImageFormatError(str(path), "directory is not an OCI image layout (no index.json)")
        return DirCatalog(path)
    if not path.is_file():
        raise ImageFormatError(str(path), "no such file or directory")
    return TarCatalog(path, limits)


class _UnixConnection(http.client.HTTPConnection):
    """HTTP over the engine's unix socket (stdlib only; no docker SDK needed)."""

    def __init__(self, socket_path: str, timeout: float = 300.0) -> None:
        super().__init__("localhost", timeout=timeout)
        self._socket_path = socket_path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        sock.connect(self._socket_path)
        self.sock = sock


def engine_socket() -> str:
    host = os.environ.get("DOCKER_HOST", "")
    if host.startswith("unix://"):
        return host[len("unix://") :]
    if host and not host.startswith("unix://"):
        raise TargetError(f"DOCKER_HOST={host}: only unix sockets are supported")
    return DOCKER_SOCKET


def engine_inspect(name: str) -> dict[str, Any] | None:
    """The engine's `image inspect` document for `name`; None when it has no such image or there
    is no engine (the caller decides whether that is an error)."""
    try:
        conn = _UnixConnection(engine_socket(), timeout=10)
        conn.request("GET", f"/images/{quote(name, safe='')}/json")
        response = conn.getresponse()
        body = response.read(4 * 1024 * 1024)
        conn.close()
    except (OSError, http.client.HTTPException, TargetError):
        return None
    if response.status != 200:
        return None
    try:
        doc = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None
    return doc if isinstance(doc, dict) else None


def engine_has(name: str) -> bool:
    """Whether the engine knows `name` (False when there is no engine)."""
    return engine_inspect(name) is not None


def stream_engine_image(
    name: str,
    limits: Limits = DEFAULT_LIMITS,
    on_layer: Callable[[str], None] | None = None,
    on_read: Callable[[int], None] | None = None,
) -> StreamCatalog:
    """Stream `GET /images/{name}/get` and scan it in one pass (no temp copy on disk)."""
    sock_path = engine_socket()
    archive = f"docker:{name}"
    try:
        conn = _UnixConnection(sock_path)
        conn.request("GET", f"/images/{quote(name, safe='')}/json")
        response = conn.getresponse()
        body = response.read()
        if response.status == 404:
            raise TargetError(f"{archive}: no such image in the Docker engine")
        if response.status != 200:
            raise TargetError(f"{archive}: engine answered {response.status}: {body[:200]!r}")
        conn.request("GET", f"/images/{quote(name, safe='')}/get")
        response = conn.getresponse()
        if response.status != 200:
            raise TargetError(f"{archive}: engine save failed ({response.status}): {response.read()[:200]!r}")
        catalog = StreamCatalog(archive)
        catalog.consume(response, limits, on_layer, on_read)
        conn.close()
        return catalog
    except (FileNotFoundError, ConnectionRefusedError, PermissionError) as exc:
        raise TargetError(f"{archive}: cannot reach the Docker engine at {sock_path}: {exc.strerror}") from None
    except (OSError, http.client.HTTPException) as exc:
        raise TargetError(f"{archive}: engine stream failed: {exc}") from None
