"""Read an image straight from the local engine's layer store: no `docker save`, no tar.

`docker:NAME` used to stream `docker save` through the Engine API: the engine reassembles every
byte of every layer and depslim reads tar headers and a few small files out of them (2 min on a
10 GB image, where the same image as a docker-archive on disk takes 2 s). When the engine's store
is on this machine and readable, the layers are already there as directories: overlay2 keeps each
layer's files in `<root>/overlay2/<id>/diff` (the containerd image store's overlayfs snapshotter in
`snapshots/<n>/fs`, see `depslim.targets.image.snapshots`), so walking them, lowest layer first,
gives the same merged view for the cost of a `find`.

The walk reproduces what the archive path reads from the same layer, entry for entry, because
that is how the engine exports a layer directory (moby `pkg/archive`: `filepath.WalkDir`, lexical
and depth first): an overlay whiteout (a 0/0 character device) is the member `.wh.NAME`; an opaque
directory (xattr `trusted.overlay.opaque` or `user.overlay.opaque` = "y") is followed by
`.wh..wh..opq`; the second and later names of an inode with several links are hardlinks to the
first name walked; sizes are `lstat`'s. Each entry then takes the steps a tar member takes in
`layers._scan`: the same captured files (through the same `_capture`, with its caps), the same ELF
dynamic sections, the same name limits and the same Budget, so the merged filesystem, the findings
and the report are the archive's.

Never outside a layer directory, never a write: every directory is opened relative to its parent's
descriptor with O_NOFOLLOW|O_DIRECTORY, every file read with O_NOFOLLOW and checked to be the
regular file that was listed, symlinks are read with readlink and never followed.

When the store cannot be read here (a remote or rootless engine, another storage driver, no read
access, the engine in another VM or container) `StoreUnavailable` says why in one line and the
caller falls back to the save stream. Layer contents are not hashed against their diff_ids (that
would need the tar the engine would write); the engine verified them when it pulled or built them.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import re
import stat
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, cast
from urllib.parse import quote

from depslim.errors import ImageFormatError, TargetError
from depslim.native.elf import read_elf_stream
from depslim.targets.image import layers as _layers
from depslim.targets.image.layers import (
    DIR,
    ELF_MIN_SIZE,
    FILE,
    HARDLINK,
    OPAQUE_MARKER,
    OTHER,
    SYMLINK,
    WHITEOUT_PREFIX,
    Budget,
    LayerScan,
    Limits,
    native_candidate,
    normalize_member,
    path_cost,
    resolve_link_target,
    wanted,
)
from depslim.targets.image.sources import Catalog, LayerRef, ResolvedImage, engine_connection, resolve

OVERLAY2 = "overlay2"
SNAPSHOTTER = "containerd-snapshotter"
SNAPSHOTTER_DRIVER_TYPE = "io.containerd.snapshotter.v1"
OPAQUE_XATTRS = ("trusted.overlay.opaque", "user.overlay.opaque")
ENGINE_READS = ("auto", "store", "save")

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_FILE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC
_CHARGE_EVERY = 8192  # entries between two charges to the shared Budget (as layers._scan)
_SMALL = 4096  # a layerdb text file (cache-id, diff, size) or an overlay2 link file
_LAYER_ID = re.compile(r"[0-9a-f]{64}")
_SHORT_LINK = re.compile(r"[A-Z0-9]{26}")


class StoreUnavailable(Exception):
    """Why the engine's layer store cannot be read here, in one line; the caller falls back."""


@dataclass(frozen=True)
class StorePlan:
    """Which layer store an engine image lives in, and where the engine keeps its data."""

    kind: str  # OVERLAY2 | SNAPSHOTTER
    root: str  # the engine's DockerRootDir
    snapshotter: str = ""  # the containerd snapshotter (SNAPSHOTTER)
    namespace: str = "moby"  # the engine's containerd namespace (SNAPSHOTTER)


def fallback_note(name: str, reason: str) -> str:
    """The one line a report carries when the fast path was not taken (said once per image)."""
    return (f"docker:{name}: read through the engine's save stream (every layer byte exported), "
            f"not its layer store: {reason}")


# --- which store, or why not: pure, from what the engine says about itself ----------------------


def _driver_status(info: Mapping[str, Any]) -> dict[str, str]:
    """`docker info`'s DriverStatus pairs ([["Native Overlay Diff", "true"], …]) as a dict."""
    out: dict[str, str] = {}
    for pair in info.get("DriverStatus") or []:
        if isinstance(pair, list | tuple) and len(pair) == 2:
            out[str(pair[0])] = str(pair[1])
    return out


def store_plan(
    docker_host: str, system: str, info: Mapping[str, Any], inspect: Mapping[str, Any], privileged: bool = True
) -> StorePlan:
    """The layer store to read `inspect`'s image from, or StoreUnavailable saying why not.

    `docker_host` is $DOCKER_HOST, `system` is `sys.platform`, `info` and `inspect` the engine's
    `GET /info` and `GET /images/{name}/json` documents, `privileged` whether this process has
    CAP_SYS_ADMIN (only then does the kernel show it `trusted.*` xattrs, which mark overlay's opaque
    directories: without it an opaque directory would read as an ordinary one, silently). No I/O
    here: whether the files are readable is for the reader to find out.
    """
    if docker_host and not docker_host.startswith("unix://"):
        raise StoreUnavailable(f"DOCKER_HOST={docker_host} is not a local socket: the engine's layer store "
                               "is not on this machine")
    if not system.startswith("linux"):
        raise StoreUnavailable(f"depslim runs on {system}: the engine's layer store is inside its Linux VM")
    if str(info.get("OSType") or "linux") != "linux":
        raise StoreUnavailable(f"the engine runs {info.get('OSType')} containers")
    if any("name=rootless" in str(option) for option in info.get("SecurityOptions") or []):
        raise StoreUnavailable("the engine runs rootless: its layer store belongs to a user namespace "
                               "(files owned by subordinate ids)")
    root = info.get("DockerRootDir")
    if not isinstance(root, str) or not root.startswith("/"):
        raise StoreUnavailable("the engine does not say where its data root is")
    raw_graph = inspect.get("GraphDriver")
    graph: Mapping[str, Any] = raw_graph if isinstance(raw_graph, Mapping) else {}
    driver = str(graph.get("Name") or info.get("Driver") or "")
    status = _driver_status(info)
    snapshotter = status.get("driver-type") == SNAPSHOTTER_DRIVER_TYPE
    if snapshotter and driver != "overlayfs":
        raise StoreUnavailable(f"the containerd image store uses the {driver!r} snapshotter; only overlayfs "
                               "keeps layers as directories depslim can read")
    if not snapshotter and driver != OVERLAY2:
        raise StoreUnavailable(f"the engine's storage driver is {driver!r}; depslim reads layers directly only "
                               "from overlay2 and the containerd overlayfs snapshotter")
    if not privileged and status.get("userxattr", "false").lower() != "true":
        raise StoreUnavailable("not root: overlay marks opaque directories with trusted.* xattrs, which only "
                               "root (CAP_SYS_ADMIN) can read")
    if snapshotter:
        containerd = info.get("Containerd")
        spaces = containerd.get("Namespaces") if isinstance(containerd, Mapping) else None
        space = spaces.get("Containers") if isinstance(spaces, Mapping) else None
        namespace = space if isinstance(space, str) and space else "moby"
        return StorePlan(SNAPSHOTTER, root.rstrip("/") or "/", driver, namespace)
    if status.get("Native Overlay Diff", "true").lower() != "true":
        raise StoreUnavailable("overlay2 runs without native diff (redirect_dir or metacopy on): its layer "
                               "directories are not the layer tars")
    data = graph.get("Data")
    if not isinstance(data, Mapping) or not isinstance(data.get("UpperDir"), str):
        raise StoreUnavailable("the engine's image inspect names no layer directories")
    return StorePlan(OVERLAY2, root.rstrip("/") or "/")


# --- the engine's API ------------------------------------------------------------------------------


def engine_json(path: str, archive: str) -> Any:
    """`GET path` from the engine as JSON; TargetError for a missing image, StoreUnavailable otherwise."""
    try:
        conn = engine_connection(timeout=30)
        try:
            conn.request("GET", path)
            response = conn.getresponse()
            body = response.read(8 * 1024 * 1024)
        finally:
            conn.close()
    except (OSError, http.client.HTTPException, TargetError) as exc:
        raise StoreUnavailable(f"the engine did not answer {path}: {exc}") from None
    if response.status == 404:
        raise TargetError(f"{archive}: no such image in the Docker engine")
    if response.status != 200:
        raise StoreUnavailable(f"the engine answered {response.status} to {path}")
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise StoreUnavailable(f"the engine's answer to {path} is not JSON") from None


def read_small(path: str, limit: int = _SMALL) -> bytes:
    """A small regular file of the engine's store, symlinks not followed; StoreUnavailable when absent."""
    try:
        fd = os.open(path, _FILE_FLAGS)
    except PermissionError as exc:
        raise StoreUnavailable(_no_access(path, exc)) from None
    except OSError as exc:
        raise StoreUnavailable(f"{path}: {exc.strerror or exc}") from None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise StoreUnavailable(f"{path} is not a regular file")
        chunks, got = [], 0
        while got <= limit:
            chunk = os.read(fd, limit + 1 - got)
            if not chunk:
                break
            chunks.append(chunk)
            got += len(chunk)
        if got > limit:
            raise StoreUnavailable(f"{path} is larger than {limit} bytes")
        return b"".join(chunks)
    finally:
        os.close(fd)


def has_cap_sys_admin() -> bool:
    """Whether this process holds CAP_SYS_ADMIN in the initial user namespace (bit 21 of CapEff in
    /proc/self/status, and an identity uid_map): root inside a user namespace (a rootless container,
    `unshare -r`) has the bit but the kernel still hides `trusted.*` xattrs from it."""
    try:
        with open("/proc/self/uid_map", "rb") as handle:
            if handle.read().split() != [b"0", b"0", b"4294967295"]:
                return False
        with open("/proc/self/status", "rb") as handle:
            for line in handle:
                if line.startswith(b"CapEff:"):
                    return bool(int(line.split()[1], 16) >> 21 & 1)
    except (OSError, ValueError, IndexError):
        pass
    return False


def _no_access(path: str, exc: OSError) -> str:
    who = "" if os.geteuid() == 0 else " (run depslim as root to read layers directly)"
    return f"no read access to the engine's layer store ({path}: {exc.strerror or exc}){who}"


def chain_ids(diff_ids: list[str]) -> list[str]:
    """The layer chain ids (OCI image spec): how layer stores name a layer together with those below it."""
    out: list[str] = []
    for diff_id in diff_ids:
        out.append(diff_id if not out else "sha256:" + hashlib.sha256(f"{out[-1]} {diff_id}".encode()).hexdigest())
    return out


# --- a layer directory walked as the engine would export it ------------------------------------------


class _FileReader:
    """One regular file of a layer directory, read the way `TarWalker` hands a member to the capture
    and ELF readers (`read_raw`, `skip_raw`, `read_data`), opened only when first read."""

    def __init__(self, dir_fd: int, name: str, ino: int, size: int, archive: str, where: str) -> None:
        self._dir_fd, self._name, self._ino = dir_fd, name, ino
        self._left = size
        self._archive = archive
        self._where = where
        self._fd = -1

    @property
    def archive(self) -> str:
        return self._archive

    def _open(self) -> int:
        if self._fd < 0:
            try:
                fd = os.open(self._name, _FILE_FLAGS, dir_fd=self._dir_fd)
            except PermissionError as exc:
                raise StoreUnavailable(_no_access(self._where, exc)) from None
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode) or info.st_ino != self._ino:
                os.close(fd)
                raise StoreUnavailable(f"{self._where} changed while it was read")
            self._fd = fd
        return self._fd

    def read_raw(self, n: int) -> bytes:
        n = min(n, self._left)
        if n <= 0:
            return b""
        fd = self._open()
        parts, got = [], 0
        while got < n:
            chunk = os.read(fd, n - got)
            if not chunk:
                break
            parts.append(chunk)
            got += len(chunk)
        self._left -= got
        return parts[0] if len(parts) == 1 else b"".join(parts)

    def skip_raw(self, n: int) -> int:
        n = min(n, self._left)
        if n <= 0:
            return 0
        os.lseek(self._open(), n, os.SEEK_CUR)
        self._left -= n
        return n

    def read_data(self, size: int) -> bytes:
        data = self.read_raw(size)
        if len(data) < size:
            raise StoreUnavailable(f"{self._where} is shorter than its lstat size (changed while read)")
        return data

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


def _image_name(name: str) -> str:
    """A directory entry's name as the archive path sees it: the tar name decoded as UTF-8 with
    replacement (what `TarWalker` does), so a non-UTF-8 name compares and sizes alike."""
    if name.isascii():
        return name
    return os.fsencode(name).decode("utf-8", "replace")


def _byte_order(entry: os.DirEntry[str]) -> bytes:
    """Sort key of `filepath.WalkDir` (names as bytes), which is also the exported tar's order."""
    return os.fsencode(entry.name)


class _LayerWalk:
    """Walks one layer directory into a LayerScan, as `layers._scan` reads the tar of the same layer."""

    def __init__(self, top: str, label: str, limits: Limits, on_read: Callable[[int], None] | None,
                 budget: Budget) -> None:
        self.top = top
        self.label = label
        self.limits = limits
        self.on_read = on_read
        self.budget = budget
        self.scan = LayerScan()
        self.seen: dict[int, str] = {}  # inode -> first path walked (for files with several links)
        self.name_bytes = self.charged_entries = self.charged_bytes = 0
        self.unreported = 0

    def run(self) -> LayerScan:
        try:
            fd = os.open(self.top, _DIR_FLAGS)
        except PermissionError as exc:
            raise StoreUnavailable(_no_access(self.top, exc)) from None
        except OSError as exc:
            raise StoreUnavailable(f"cannot open layer directory {self.top}: {exc.strerror or exc}") from None
        try:
            self._walk(fd, "", 1)
        except PermissionError as exc:
            raise StoreUnavailable(_no_access(exc.filename or self.top, exc)) from None
        except FileNotFoundError:
            raise StoreUnavailable(f"layer directory {self.top} changed while read (image removed?)") from None
        except OSError as exc:
            raise StoreUnavailable(f"cannot read layer directory {self.top}: {exc.strerror or exc}") from None
        finally:
            os.close(fd)
        scan = self.scan
        self.budget.charge(len(scan.paths) - self.charged_entries, self.name_bytes - self.charged_bytes, self.label)
        scan.name_bytes = self.name_bytes
        if self.on_read is not None and self.unreported:
            self.on_read(self.unreported)
        return scan

    # -- entries, in the order and with the meaning `layers._scan` gives the tar members ----------

    def _add(self, path: str, kind: str, size: int, link: str | None = None) -> None:
        scan = self.scan
        if link is not None:
            scan.links[len(scan.paths)] = link
        scan.paths.append(path)
        scan.kinds.append(kind)
        scan.sizes.append(size)
        self.name_bytes += path_cost(path)
        if len(scan.paths) - self.charged_entries >= _CHARGE_EVERY:
            self.budget.charge(len(scan.paths) - self.charged_entries, self.name_bytes - self.charged_bytes,
                               self.label)
            self.charged_entries, self.charged_bytes = len(scan.paths), self.name_bytes
            if self.on_read is not None and self.unreported:
                self.on_read(self.unreported)
                self.unreported = 0

    def _whiteout_member(self, parent: str, base: str) -> None:
        """A member named `.wh.…` (what `_scan` does with it: hide a lower path, or the opaque marker)."""
        if base == OPAQUE_MARKER:
            self.scan.opaques.append(parent or "/")
        elif base == WHITEOUT_PREFIX:
            raise ImageFormatError(self.label, f"invalid bare whiteout {parent}/{base}")
        else:
            self.scan.whiteouts.append(f"{parent}/{base[len(WHITEOUT_PREFIX):]}")

    def _check_name(self, path: str, depth: int, is_dir: bool) -> None:
        """The archive's name limits (PATH_MAX, depth), with its message: `normalize_member` of the
        tar name the engine would write (directories end in "/")."""
        if depth > self.limits.max_depth or len(path) > self.limits.max_name_bytes:
            normalize_member(path[1:] + ("/" if is_dir else ""), self.label, self.limits)

    def _walk(self, dir_fd: int, parent: str, depth: int) -> None:
        with os.scandir(dir_fd) as listing:
            entries = sorted(listing, key=_byte_order)
        for entry in entries:
            base = _image_name(entry.name)
            path = f"{parent}/{base}"
            if entry.is_dir(follow_symlinks=False):
                self._check_name(path, depth, True)
                self._directory(dir_fd, entry.name, path, base, depth)
                continue
            info = entry.stat(follow_symlinks=False)
            mode = info.st_mode
            if stat.S_ISSOCK(mode):
                continue  # a tar cannot hold a socket: the engine leaves it out
            self._check_name(path, depth, False)
            if info.st_nlink > 1:
                first = self.seen.get(info.st_ino)
                if first is None:
                    self.seen[info.st_ino] = path
                elif not (stat.S_ISCHR(mode) and info.st_rdev == 0):
                    if base.startswith(WHITEOUT_PREFIX):
                        self._whiteout_member(parent, base)
                    else:
                        self._add(path, HARDLINK, 0, first)
                    continue
            if stat.S_ISCHR(mode) and info.st_rdev == 0:  # overlay whiteout: exported as .wh.NAME
                self._whiteout_member(parent, WHITEOUT_PREFIX + base)
            elif base.startswith(WHITEOUT_PREFIX):
                self._whiteout_member(parent, base)
            elif stat.S_ISREG(mode):
                self._file(dir_fd, entry.name, path, base, info)
            elif stat.S_ISLNK(mode):
                self._symlink(dir_fd, entry.name, path)
            else:
                self._add(path, OTHER, 0)

    def _directory(self, dir_fd: int, name: str, path: str, base: str, depth: int) -> None:
        if base.startswith(WHITEOUT_PREFIX):
            self._whiteout_member(path.rpartition("/")[0], base)
        else:
            self._add(path, DIR, 0)
        child = os.open(name, _DIR_FLAGS, dir_fd=dir_fd)
        try:
            if _opaque(child):
                self.scan.opaques.append(path)
            self._walk(child, path, depth + 1)
        finally:
            os.close(child)

    def _file(self, dir_fd: int, name: str, path: str, base: str, info: os.stat_result) -> None:
        size = info.st_size
        scan = self.scan
        scan.content_bytes += size
        self.unreported += size
        if wanted(path):
            reader = _FileReader(dir_fd, name, info.st_ino, size, self.label, f"{self.top}{path}")
            try:
                _layers._capture(cast(Any, reader), scan, path, base, size, self.limits, self.budget)
            finally:
                reader.close()
        elif size >= ELF_MIN_SIZE and native_candidate(path, base):
            reader = _FileReader(dir_fd, name, info.st_ino, size, self.label, f"{self.top}{path}")
            try:
                elf = read_elf_stream(reader.read_raw, reader.skip_raw, size, self.limits.max_elf_prefix)
            finally:
                reader.close()
            if elf is not None:
                scan.elf[path] = elf
        self._add(path, FILE, size)

    def _symlink(self, dir_fd: int, name: str, path: str) -> None:
        target = _image_name(os.readlink(name, dir_fd=dir_fd))
        resolve_link_target(path, target, self.label, self.limits)
        size = len(target.encode("utf-8", "replace"))
        self.scan.content_bytes += size
        self._add(path, SYMLINK, size, target)


def _opaque(dir_fd: int) -> bool:
    """Whether an overlay directory hides what lower layers have under it (docker: exactly "y")."""
    try:
        names = os.listxattr(dir_fd)
    except OSError:
        return False
    for key in OPAQUE_XATTRS:
        if key in names:
            try:
                if os.getxattr(dir_fd, key) == b"y":
                    return True
            except OSError:
                continue
    return False


def scan_layer_dir(
    top: str, label: str, limits: Limits, on_read: Callable[[int], None] | None = None, budget: Budget | None = None
) -> LayerScan:
    """One layer directory (overlay2 `diff`, snapshotter `fs`) as the LayerScan of its exported tar."""
    return _LayerWalk(top, label, limits, on_read, budget if budget is not None else Budget(limits)).run()


@dataclass
class StoreLayer(LayerRef):
    """A layer that is a directory of the engine's store (scanned by walking it, not as a tar)."""

    directory: str = ""

    def scan_dir(self, label: str, limits: Limits, on_read: Callable[[int], None] | None,
                 budget: Budget) -> LayerScan:
        return scan_layer_dir(self.directory, label, limits, on_read, budget)


# --- overlay2 ------------------------------------------------------------------------------------------


class StoreCatalog(Catalog):
    """An engine image seen as the archive `docker save` would write (a docker-archive: manifest.json,
    `<id>.json`, one entry per layer; or an OCI layout), so `sources.resolve` reads its config and
    pairs its layers exactly as it does for the archive; the layers are StoreLayers."""

    def __init__(self, archive: str, members: dict[str, bytes], layers: dict[str, StoreLayer]) -> None:
        self.archive = archive
        self._members = members
        self._layers = layers

    def exists(self, name: str) -> bool:
        return name in self._members or name in self._layers

    def read(self, name: str, limit: int) -> bytes:
        data = self._members.get(name)
        if data is None:
            raise ImageFormatError(self.archive, f"missing {name}")
        if len(data) > limit:
            raise ImageFormatError(self.archive, f"{name} is {len(data)} bytes, too large for metadata")
        return data

    def layer(self, name: str) -> LayerRef:
        layer = self._layers.get(name)
        if layer is None:
            raise ImageFormatError(self.archive, f"missing layer blob {name}")
        return layer

    def bind(self, image: ResolvedImage) -> None:
        """Give the resolved layers their directories (overlay2's are known before resolution)."""


def _overlay2_dirs(plan: StorePlan, inspect: Mapping[str, Any]) -> list[str]:
    """The image's layer directories, lowest first, from inspect's GraphDriver data (LowerDir is the
    lower layers top-most first), each checked to be `<root>/overlay2/<id>/diff`."""
    data = inspect["GraphDriver"]["Data"]
    lower = data.get("LowerDir")
    dirs = list(reversed(lower.split(":"))) if isinstance(lower, str) and lower else []
    dirs.append(data["UpperDir"])
    for path in dirs:
        head, _, tail = path.rpartition("/")
        store, _, layer_id = head.rpartition("/")
        if tail != "diff" or store != f"{plan.root}/overlay2" or not _LAYER_ID.fullmatch(layer_id):
            raise StoreUnavailable(f"unexpected overlay2 layer directory {path!r}")
    return dirs


def _overlay2_check(plan: StorePlan, dirs: list[str], diff_ids: list[str]) -> list[int]:
    """Cross-check inspect's layer directories with the layer store's own records (layerdb: chain id
    -> cache-id and diff id; overlay2: each layer's `link` and the top layer's `lower` list), so a
    directory is read only as the layer the config names. Returns each layer's content size."""
    if len(dirs) != len(diff_ids):
        raise StoreUnavailable(f"inspect names {len(dirs)} layer directories for {len(diff_ids)} layers")
    layerdb = f"{plan.root}/image/{OVERLAY2}/layerdb/sha256"
    sizes = []
    links = []
    for index, (chain, diff_id, path) in enumerate(zip(chain_ids(diff_ids), diff_ids, dirs, strict=True)):
        record = f"{layerdb}/{chain.removeprefix('sha256:')}"
        layer_id = path.rsplit("/", 2)[-2]
        if read_small(f"{record}/cache-id").decode("ascii", "replace").strip() != layer_id:
            raise StoreUnavailable(f"layer {index}: the layer store's cache-id for {chain[:19]}… "
                                   f"is not {layer_id[:12]}…")
        if read_small(f"{record}/diff").decode("ascii", "replace").strip() != diff_id:
            raise StoreUnavailable(f"layer {index}: the layer store's diff id differs from the image config's")
        text = read_small(f"{record}/size").decode("ascii", "replace").strip()
        sizes.append(int(text) if text.isdigit() else 0)
        link = read_small(f"{plan.root}/overlay2/{layer_id}/link").decode("ascii", "replace").strip()
        if not _SHORT_LINK.fullmatch(link):
            raise StoreUnavailable(f"layer {index}: unexpected overlay2 link {link!r}")
        links.append(link)
    if len(dirs) > 1:
        top = dirs[-1].rsplit("/", 2)[-2]
        lower = read_small(f"{plan.root}/overlay2/{top}/lower", 64 * 1024).decode("ascii", "replace").strip()
        if lower != ":".join(f"l/{link}" for link in reversed(links[:-1])):
            raise StoreUnavailable("the top layer's lower list does not name the image's layers in order")
    return sizes


def _diff_ids(inspect: Mapping[str, Any]) -> list[str]:
    rootfs = inspect.get("RootFS")
    layers = rootfs.get("Layers") if isinstance(rootfs, Mapping) else None
    if not isinstance(layers, list) or not layers or not all(isinstance(x, str) for x in layers):
        raise StoreUnavailable("the engine's image inspect lists no layers")
    return cast(list[str], layers)


def overlay2_catalog(plan: StorePlan, inspect: Mapping[str, Any], archive: str, limits: Limits) -> StoreCatalog:
    """The docker-archive `docker save` would write for an overlay2 image, from the store itself."""
    image_id = str(inspect.get("Id") or "")
    if not re.fullmatch(r"sha256:[0-9a-f]{64}", image_id):
        raise StoreUnavailable(f"unexpected image id {image_id[:80]!r}")
    diff_ids = _diff_ids(inspect)
    dirs = _overlay2_dirs(plan, inspect)
    sizes = _overlay2_check(plan, dirs, diff_ids)
    config_name = f"{image_id.removeprefix('sha256:')}.json"
    config = read_small(f"{plan.root}/image/{OVERLAY2}/imagedb/content/sha256/{config_name[:-5]}", limits.max_json)
    layers: dict[str, StoreLayer] = {}
    for path, size in zip(dirs, sizes, strict=True):
        name = f"{OVERLAY2}/{path.rsplit('/', 2)[-2]}/diff"
        layers[name] = StoreLayer(digest=name, name=name, size=size, directory=path)
    tags = [t for t in inspect.get("RepoTags") or [] if isinstance(t, str)]
    manifest = [{"Config": config_name, "RepoTags": tags, "Layers": list(layers)}]
    return StoreCatalog(archive, {"manifest.json": json.dumps(manifest).encode(), config_name: config}, layers)


def _check_bound(image: ResolvedImage, diff_ids: list[str]) -> None:
    """The resolved layers are the ones the store records were checked for, in the same order."""
    resolved = [str(layer.diff_id) for layer in image.layers]
    if resolved != diff_ids or not all(isinstance(layer, StoreLayer) for layer in image.layers):
        raise StoreUnavailable("the image config's layers differ from the engine's layer list")


def open_store_image(name: str, ref: str, limits: Limits, platform: str | None) -> ResolvedImage:
    """The engine image `name` resolved from the layer store, its layers StoreLayers to walk;
    StoreUnavailable (with the reason) when the store cannot be read from here."""
    archive = f"docker:{name}"
    info = engine_json("/info", archive)
    inspect = engine_json(f"/images/{quote(name, safe='')}/json", archive)
    if not isinstance(info, Mapping) or not isinstance(inspect, Mapping):
        raise StoreUnavailable("the engine's answers are not JSON objects")
    plan = store_plan(os.environ.get("DOCKER_HOST", ""), sys.platform, info, inspect, has_cap_sys_admin())
    try:
        os.stat(plan.root)
    except PermissionError as exc:
        raise StoreUnavailable(_no_access(plan.root, exc)) from None
    except OSError:
        raise StoreUnavailable(f"the engine's data root {plan.root} is not on this machine (the engine runs in "
                               "another container or VM)") from None
    return store_image(plan, inspect, archive, ref, limits, platform)


def store_image(
    plan: StorePlan, inspect: Mapping[str, Any], archive: str, ref: str, limits: Limits, platform: str | None
) -> ResolvedImage:
    """Resolve `inspect`'s image from the store `plan` names, each layer bound to its directory."""
    diff_ids = _diff_ids(inspect)
    if plan.kind == SNAPSHOTTER:
        from depslim.targets.image.snapshots import snapshotter_catalog

        catalog: StoreCatalog = snapshotter_catalog(plan, inspect, archive, limits, platform)
    else:
        catalog = overlay2_catalog(plan, inspect, archive, limits)
    image = resolve(catalog, limits, platform, ref)
    catalog.bind(image)
    _check_bound(image, diff_ids)
    return image


__all__ = [
    "ENGINE_READS",
    "StoreLayer",
    "StorePlan",
    "StoreUnavailable",
    "chain_ids",
    "fallback_note",
    "open_store_image",
    "scan_layer_dir",
    "store_image",
    "store_plan",
]
