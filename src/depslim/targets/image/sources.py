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
import stat
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

from depslim import jsonshape
from depslim.errors import ImageFormatError, TargetError
from depslim.inputfile import FileTooLarge, NotRegularFile, open_regular, read_bytes
from depslim.jsonshape import JObject, Where, expect_object
from depslim.platforms import docker_arch
from depslim.targets.image.digests import (
    ALGORITHMS,
    Digest,
    HashingSource,
    check_bytes,
    digest_of_blob_name,
    parse_digest,
)
from depslim.targets.image.layers import (
    DEFAULT_LIMITS,
    BlobSource,
    BoundedStream,
    Budget,
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
DOCKER_SOCKET = "/var/run/docker.sock"


@dataclass
class LayerRef:
    """One layer in stack order: how to read it (or its scan), what the manifest says, and the
    digests its bytes must match (checked while they are read: depslim.targets.image.digests)."""

    digest: str
    media_type: str = ""
    size: int | None = None
    opener: Callable[[], BlobSource] | None = None
    scan: LayerScan | None = None
    name: str = ""  # the blob or member name, for messages
    region: tuple[str, int, int] | None = None  # (file, offset, length) of the blob on disk
    expected: Digest | None = None  # what the blob's bytes hash to (its descriptor, its name)
    diff_id: Digest | None = None  # what the uncompressed tar hashes to (the config's rootfs)
    actual: str | None = None  # hex digest computed while a stream was scanned


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
    os_name, arch = parts[0], docker_arch(parts[1])
    variant = parts[2] if len(parts) > 2 else ""
    return os_name, arch, variant


def host_platform_tuple() -> tuple[str, str, str]:
    machine = host_platform.machine().lower()
    return "linux", docker_arch(machine), ""


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

    def read_json(self, name: str, limits: Limits, what: str, expected: Digest | None = None) -> Any:
        """A JSON member, its bytes checked against `expected` (the descriptor's digest) first."""
        data = self.read(name, limits.max_json)
        check_bytes(data, expected, self.archive, name)
        return jsonshape.loads(data, _where(self.archive, name, what))


def _where(archive: str, name: str, what: str) -> Where:
    """Errors about one JSON document of an image name the archive, the member and what it is."""
    return Where(archive, f"{name} ({what})", ImageFormatError)


def _link_member(name: str, typeflag: str, link: str, archive: str, limits: Limits) -> str:
    """Where a link member of an outer archive points (docker save symlinks repeated layers)."""
    if typeflag == "1":
        return normalize_member(link, archive, limits).lstrip("/")
    return resolve_link_target("/" + name, link, archive, limits).lstrip("/")


def _count_member(count: int, archive: str, limits: Limits) -> int:
    if count >= limits.max_archive_members:
        raise ImageFormatError(archive, f"more than {limits.max_archive_members} members: not an image archive")
    return count + 1


class TarCatalog(Catalog):
    """A docker-archive or oci-archive tar on disk, indexed by headers only."""

    def __init__(self, path: Path, limits: Limits) -> None:
        self.archive = str(path)
        self.path = path
        self.members: dict[str, tuple[int, int]] = {}
        self.links: dict[str, str] = {}
        try:
            handle = open_regular(path)
        except OSError as exc:
            raise ImageFormatError(self.archive, f"cannot read: {exc.strerror or exc}") from None
        handle.close()
        total = path.stat().st_size
        region = RegionFile(str(path), 0, total)
        count = 0
        try:
            walker = TarWalker(region, self.archive, limits)
            for raw_name, typeflag, size, link in walker:
                count = _count_member(count, self.archive, limits)
                name = normalize_member(raw_name, self.archive, limits).lstrip("/")
                if typeflag in "07":
                    if walker.offset + size > total:
                        raise ImageFormatError(self.archive, f"truncated tar: member {name} runs past the end")
                    self.members[name] = (walker.offset, size)
                elif typeflag in "12":
                    self.links[name] = _link_member(name, typeflag, link, self.archive, limits)
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
        return LayerRef(digest=name, size=size, opener=lambda: RegionFile(path, offset, size),
                        region=(path, offset, size), name=name)


class DirCatalog(Catalog):
    """An OCI image-layout directory; nothing outside it is ever opened, nothing but files read."""

    def __init__(self, root: Path, limits: Limits = DEFAULT_LIMITS) -> None:
        self.archive = str(root)
        self.root = root.resolve()
        self.limits = limits

    def _path(self, name: str) -> Path:
        rel = normalize_member(name, self.archive, self.limits).lstrip("/")
        path = (self.root / rel).resolve()
        if self.root not in path.parents:
            raise ImageFormatError(self.archive, f"{name} points outside the layout")
        return path

    def exists(self, name: str) -> bool:
        return self._path(name).exists()

    def read(self, name: str, limit: int) -> bytes:
        path = self._path(name)
        try:
            return read_bytes(path, limit)
        except FileNotFoundError:
            raise ImageFormatError(self.archive, f"missing {name}") from None
        except FileTooLarge as exc:
            raise ImageFormatError(self.archive, f"{name} is {exc.strerror}, too large for metadata") from None
        except OSError as exc:
            raise ImageFormatError(self.archive, f"cannot read {name}: {exc.strerror or exc}") from None

    def layer(self, name: str) -> LayerRef:
        path = self._path(name)
        try:
            mode_size = os.stat(path)
        except OSError:
            raise ImageFormatError(self.archive, f"missing layer blob {name}") from None
        if not stat.S_ISREG(mode_size.st_mode):
            kind = NotRegularFile(path, mode_size.st_mode).strerror
            raise ImageFormatError(self.archive, f"layer blob {name}: {kind}")
        size = mode_size.st_size
        return LayerRef(digest=name, size=size, opener=lambda: RegionFile(str(path), 0, size),
                        region=(str(path), 0, size), name=name)


class StreamCatalog(Catalog):
    """An engine save read once as a stream: JSON kept, layers scanned (and hashed) as they pass."""

    def __init__(self, archive: str) -> None:
        self.archive = archive
        self.json: dict[str, bytes] = {}
        self.scans: dict[str, LayerScan] = {}
        self.digests: dict[str, str] = {}  # layer member -> hex digest of its bytes as streamed
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
        return LayerRef(digest=name, scan=self.scans[real], name=name, actual=self.digests.get(real))

    def consume(
        self, stream: ByteSource, limits: Limits, on_layer: Callable[[str], None] | None = None,
        on_read: Callable[[int], None] | None = None, budget: Budget | None = None,
    ) -> None:
        """Walk the outer tar: JSON members are kept, layer members are scanned in passing."""
        walker = TarWalker(stream, self.archive, limits)
        budget = budget if budget is not None else Budget(limits)
        kept_json = 0
        count = 0
        for raw_name, typeflag, size, link in walker:
            count = _count_member(count, self.archive, limits)
            name = normalize_member(raw_name, self.archive, limits).lstrip("/")
            if typeflag in "12":
                self.links[name] = _link_member(name, typeflag, link, self.archive, limits)
                continue
            if typeflag not in "07":
                continue
            member = BoundedStream(_WalkerBody(walker), size)
            head = member.read(1)
            if head == b"{" or name.endswith((".json", "oci-layout", "repositories")):
                kept_json += size
                if size > limits.max_json or kept_json > 4 * limits.max_json:
                    raise ImageFormatError(self.archive, f"{name} is {size} bytes, too large for metadata")
                body = head + member.read(size)
                self.json[name] = body
            elif head and (name.endswith("layer.tar") or name.startswith("blobs/")):
                promised = digest_of_blob_name(name)
                hashed = HashingSource(_Prefixed(head, member), promised.algorithm if promised else "sha256")
                self.scans[name] = scan_layer(hashed, f"{self.archive}: {name}", limits, on_read, budget)
                hashed.drain()
                self.digests[name] = hashed.hexdigest()
                if on_layer is not None:
                    on_layer(name)


class _WalkerBody:
    """Reads the current member's content from a TarWalker's stream (for nested tars)."""

    def __init__(self, walker: TarWalker) -> None:
        self._walker = walker

    def read(self, n: int) -> bytes:
        return self._walker.read_raw(n)


# --- resolution ---------------------------------------------------------------------------


def _digest(descriptor: JObject) -> Digest:
    """The descriptor's content digest: a supported algorithm and a well-formed value, or an error."""
    text = descriptor.get("digest")
    digest = parse_digest(text)
    if digest is None:
        algorithm = text.partition(":")[0] if isinstance(text, str) else ""
        if isinstance(text, str) and DIGEST_RE.match(text) and algorithm not in ALGORITHMS:
            descriptor.fail(f"digest algorithm {algorithm!r} is not supported (sha256, sha512): "
                            "its blob cannot be checked", "digest")
        descriptor.fail(f"bad or missing digest in descriptor: {text!r}", "digest")
    return digest


def _is_attestation(descriptor: JObject) -> bool:
    plat = descriptor.obj("platform")
    annotations = descriptor.text_map("annotations")
    return plat.text("os") == "unknown" or "vnd.docker.reference.type" in annotations


def _platform_of(descriptor: JObject) -> tuple[str, str, str] | None:
    plat = descriptor.opt_obj("platform")
    if plat is None:
        return None
    return plat.text("os"), plat.text("architecture"), plat.text("variant")


def _pick(candidates: list[JObject], wanted: tuple[str, str, str] | None, archive: str) -> JObject:
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
    name, what = "index.json", "image index"
    document = expect_object(catalog.read_json(name, limits, what), _where(archive, name, what))
    tags: list[str] = []
    for _depth in range(8):
        media = document.text("mediaType")
        manifests = document.opt_array("manifests")
        if manifests is not None and (media in INDEX_TYPES or "layers" not in document):
            descriptors = document.objects("manifests")
            present = [d for d in descriptors
                       if d.text("mediaType") in INDEX_TYPES | MANIFEST_TYPES or "mediaType" not in d]
            present = [d for d in present if catalog.exists(_digest(d).blob_name)] or present
            chosen = _pick(present, wanted, archive)
            tag = chosen.text_map("annotations").get("org.opencontainers.image.ref.name")
            if tag:
                tags.append(tag)
            digest = _digest(chosen)
            name, what = digest.blob_name, "image index or manifest"
            document = expect_object(catalog.read_json(name, limits, what, digest), _where(archive, name, what))
            continue
        break
    else:
        raise ImageFormatError(archive, "index nesting too deep")
    if document.opt_array("layers") is None:
        raise ImageFormatError(archive, f"{name}: image manifest has no layers list")
    config_desc = document.opt_obj("config")
    if config_desc is None:
        raise ImageFormatError(archive, f"{name}: image manifest has no config")
    config_digest = _digest(config_desc)
    config = catalog.read_json(config_digest.blob_name, limits, "image config", config_digest)
    layers = []
    for descriptor in document.objects("layers"):
        digest = _digest(descriptor)
        layer = catalog.layer(digest.blob_name)
        layer.digest = str(digest)
        layer.expected = digest
        layer.media_type = descriptor.text("mediaType")
        layers.append(layer)
    return _finish(catalog, config, layers, ref, tags, _where(archive, config_digest.blob_name, "image config"))


def _resolve_docker(
    catalog: Catalog, limits: Limits, wanted: tuple[str, str, str] | None, ref: str
) -> ResolvedImage:
    archive = catalog.archive
    where = _where(archive, "manifest.json", "docker-archive manifest")
    entries = jsonshape.expect_array(catalog.read_json("manifest.json", limits, "docker-archive manifest"), where)
    if not entries:
        raise ImageFormatError(archive, "manifest.json is not a list of images")
    configs = []
    for index, item in enumerate(entries):
        entry = expect_object(item, where, f"[{index}]")
        config_name = entry.text("Config")
        if not config_name:
            raise ImageFormatError(archive, "manifest.json entry has no Config")
        member = normalize_member(config_name, archive, limits).lstrip("/")
        config = catalog.read_json(member, limits, "image config", digest_of_blob_name(member))
        configs.append((entry, config, member))
    chosen, config, config_member = configs[0]
    if wanted is not None:
        for entry, cfg, member in configs:
            if isinstance(cfg, Mapping) and cfg.get("architecture") == wanted[1]:
                chosen, config, config_member = entry, cfg, member
                break
        else:
            raise TargetError(f"{archive}: no image for platform {'/'.join(p for p in wanted if p)}")
    if chosen.opt_array("Layers") is None:
        raise ImageFormatError(archive, "manifest.json entry has no Layers list")
    layers = []
    for raw in chosen.texts("Layers"):
        name = normalize_member(raw, archive, limits).lstrip("/")
        layer = catalog.layer(name)
        layer.expected = digest_of_blob_name(name)
        layers.append(layer)
    tags = chosen.texts("RepoTags")
    return _finish(catalog, config, layers, ref, tags, _where(archive, config_member, "image config"))


# The image-config fields depslim (and what it hands the config to) reads, with their types; checked
# once here so no reader downstream meets an `Env` that is an int or a `rootfs` that is a list.
def check_config(value: Any, where: Where) -> dict[str, Any]:
    """The image config, every field depslim reads of the type the image spec gives it, or an error."""
    config = expect_object(value, where)
    for key in ("architecture", "os", "variant", "created", "author"):
        config.text(key)
    inner = config.obj("config")
    inner.texts("Env")
    for key in ("User", "WorkingDir", "StopSignal"):
        inner.text(key)
    for key in ("Cmd", "Entrypoint"):  # docker's StrSlice: an array of strings, or one string
        if not isinstance(inner.get(key), str):
            inner.texts(key)
    inner.obj("ExposedPorts")
    inner.obj("Volumes")
    inner.text_map("Labels")
    rootfs = config.obj("rootfs")
    rootfs.text("type")
    rootfs.texts("diff_ids")
    for entry in config.objects("history"):
        for key in ("created_by", "comment", "created", "author"):
            entry.text(key)
        entry.flag("empty_layer")
    return dict(config.data)


def _finish(
    catalog: Catalog, config: Any, layers: list[LayerRef], ref: str, tags: list[str], where: Where
) -> ResolvedImage:
    if not isinstance(config, Mapping):
        where.fail("image config is not a JSON object")
    checked = check_config(config, where)
    diff_ids = expect_object(checked, where).obj("rootfs").texts("diff_ids")
    if len(diff_ids) == len(layers):
        for index, (layer, diff_id) in enumerate(zip(layers, diff_ids, strict=True)):
            parsed = parse_digest(diff_id)
            if parsed is None:
                where.fail(f"not a digest: {diff_id[:80]!r}", f"rootfs.diff_ids[{index}]")
            layer.diff_id = parsed
            if not layer.digest.startswith("sha256:"):
                layer.digest = diff_id
    return ResolvedImage(
        archive=catalog.archive, ref=ref, config=checked, layers=layers,
        platform=platform_string(checked), tags=tuple(tags),
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
    """A catalog for an archive tar or an OCI layout directory (nothing else: not a FIFO)."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        raise ImageFormatError(str(path), "no such file or directory") from None
    if stat.S_ISDIR(mode):
        if not (path / "index.json").exists() and not (path / "manifest.json").exists():
            raise ImageFormatError(str(path), "directory is not an OCI image layout (no index.json)")
        return DirCatalog(path, limits)
    if not stat.S_ISREG(mode):
        raise ImageFormatError(str(path), NotRegularFile(path, mode).strerror or "not a regular file")
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
    """Where the engine listens, for messages: the unix socket path or DOCKER_HOST's tcp:// address."""
    host = os.environ.get("DOCKER_HOST", "")
    if host.startswith("unix://"):
        return host[len("unix://") :]
    if host.startswith("tcp://"):
        return host
    if host:
        raise TargetError(f"DOCKER_HOST={host}: only unix:// sockets and plain tcp:// are supported")
    return DOCKER_SOCKET


def engine_connection(timeout: float = 300.0) -> http.client.HTTPConnection:
    """A connection to the engine DOCKER_HOST names: a unix socket (the default), or plain tcp://
    (a remote engine, e.g. CI's docker:dind service; TLS is not supported: one clear error)."""
    where = engine_socket()
    if not where.startswith("tcp://"):
        return _UnixConnection(where, timeout=timeout)
    if os.environ.get("DOCKER_TLS_VERIFY"):
        raise TargetError(f"DOCKER_HOST={where} with DOCKER_TLS_VERIFY: TLS to the engine is not supported")
    address = urlsplit(where)
    if not address.hostname:
        raise TargetError(f"DOCKER_HOST={where}: no host")
    return http.client.HTTPConnection(address.hostname, address.port or 2375, timeout=timeout)


def engine_inspect(name: str) -> dict[str, Any] | None:
    """The engine's `image inspect` document for `name`; None when it has no such image or there
    is no engine (the caller decides whether that is an error)."""
    try:
        conn = engine_connection(timeout=10)
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
    budget: Budget | None = None,
) -> StreamCatalog:
    """Stream `GET /images/{name}/get` and scan it in one pass (no temp copy on disk)."""
    sock_path = engine_socket()
    archive = f"docker:{name}"
    try:
        conn = engine_connection()
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
        catalog.consume(response, limits, on_layer, on_read, budget)
        conn.close()
        return catalog
    except (FileNotFoundError, ConnectionRefusedError, PermissionError) as exc:
        raise TargetError(f"{archive}: cannot reach the Docker engine at {sock_path}: {exc.strerror}") from None
    except (OSError, http.client.HTTPException) as exc:
        raise TargetError(f"{archive}: engine stream failed: {exc}") from None
